//! The chat service: rooms, messages, private messages and presence — its
//! operations ([`ChatOp`]), replies ([`ChatReply`]), events ([`ChatEvent`])
//! and the data they carry. Every wire name starts with `chat_`.

use serde::{Deserialize, Serialize};

use crate::macros::{is_false, nil_as_default};

/// The topic of a room's events: `chat.room.NAME`.
pub fn room_topic(room: &str) -> String {
    format!("chat.room.{room}")
}

/// The topic of a user's private messages: `chat.user.NAME`.
pub fn user_topic(user: &str) -> String {
    format!("chat.user.{user}")
}

crate::messages! {
    /// Chat operations. Every one needs a signed-in connection.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum ChatOp {
        /// Join a room, creating it if needed; the membership persists
        /// across reconnects and restarts. Answered with [`ChatReply::Room`].
        Join {
            /// The room (see [`crate::names::validate_room`]).
            room: String,
        } = "chat_join",
        /// Leave a room. Answered with [`crate::BaseReply::Done`].
        Leave {
            /// The room.
            room: String,
        } = "chat_leave",
        /// List every room. Answered with [`ChatReply::Rooms`].
        Rooms = "chat_rooms",
        /// Set a room's topic (members only). Answered with
        /// [`crate::BaseReply::Done`].
        Topic {
            /// The room.
            room: String,
            /// The new topic; empty clears it.
            topic: String,
        } = "chat_topic",
        /// Send a message to a room (members only). Stored before it is
        /// acknowledged or delivered. Answered with [`ChatReply::Sent`].
        Send {
            /// The room.
            room: String,
            /// The text, at most [`MAX_MESSAGE`] bytes.
            text: String,
            /// An action (`/me`).
            #[serde(default, deserialize_with = "nil_as_default")]
            action: bool,
        } = "chat_send",
        /// Send a private message. Answered with [`ChatReply::Sent`] (seq is
        /// the message id).
        Dm {
            /// The recipient's user name.
            to: String,
            /// The text.
            text: String,
            /// An action (`/me`).
            #[serde(default, deserialize_with = "nil_as_default")]
            action: bool,
        } = "chat_dm",
        /// A room's history. With `since`, the messages after that sequence
        /// number, oldest first (to fill a gap after a reconnect); otherwise
        /// the newest messages before `before` (or the newest of all),
        /// oldest first. Answered with [`ChatReply::History`].
        History {
            /// The room.
            room: String,
            /// Only messages with a smaller sequence number.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            before: Option<u64>,
            /// Only messages with a larger sequence number.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            since: Option<u64>,
            /// At most this many (default 50, at most [`MAX_HISTORY`]).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            limit: Option<u32>,
        } = "chat_history",
        /// Private messages: the unread ones (and mark them read), or the
        /// conversation with one user. Answered with [`ChatReply::Dms`].
        Dms {
            /// Only the conversation with this user (read and unread).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            with: Option<String>,
            /// At most this many (default 50, at most 500).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            limit: Option<u32>,
        } = "chat_dms",
        /// Who is in a room, or every user seen online. Answered with
        /// [`ChatReply::Who`].
        Who {
            /// The room; everyone when absent.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            room: Option<String>,
        } = "chat_who",
        /// Mark yourself away (with a message) or back. Answered with
        /// [`crate::BaseReply::Done`].
        Away {
            /// The away message; `None` means back.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            message: Option<String>,
        } = "chat_away",
    }
}

crate::messages! {
    /// Answers of the chat service.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum ChatReply {
        /// Answer to [`ChatOp::Join`]: the room and who is in it.
        Room {
            /// The room.
            room: RoomInfo,
            /// Its members and their presence.
            members: Vec<Presence>,
        } = "chat_room",
        /// Answer to [`ChatOp::Rooms`].
        Rooms {
            /// Every room, by name.
            rooms: Vec<RoomInfo>,
        } = "chat_rooms",
        /// Answer to [`ChatOp::Send`] and [`ChatOp::Dm`]: stored.
        Sent {
            /// The room's sequence number, or the private message's id.
            seq: u64,
            /// Server time when stored.
            ts_ms: u64,
        } = "chat_sent",
        /// Answer to [`ChatOp::History`].
        History {
            /// The room.
            room: String,
            /// The messages, oldest first.
            messages: Vec<ChatMessage>,
            /// Whether more messages exist beyond the ones returned: older
            /// ones before the first (without `since`), or newer ones after
            /// the last (with `since`: ask again from the last one).
            more: bool,
        } = "chat_history",
        /// Answer to [`ChatOp::Dms`].
        Dms {
            /// The messages, oldest first.
            messages: Vec<DirectMessage>,
            /// Unread private messages left after this answer.
            unread: u64,
        } = "chat_dms",
        /// Answer to [`ChatOp::Who`].
        Who {
            /// The users, by name.
            users: Vec<Presence>,
        } = "chat_who",
    }
}

crate::messages! {
    /// Events of the chat service, on `chat.room.NAME` ([`room_topic`]) and
    /// `chat.user.NAME` ([`user_topic`]).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum ChatEvent {
        /// On `chat.room.NAME`: a new message.
        Message {
            /// The message.
            message: ChatMessage,
        } = "chat_message",
        /// On `chat.room.NAME`: a user joined the room, or came online.
        Joined {
            /// The room.
            room: String,
            /// The user and their presence.
            user: Presence,
        } = "chat_joined",
        /// On `chat.room.NAME`: a user left the room, or went offline.
        Left {
            /// The room.
            room: String,
            /// Who.
            user: String,
            /// Left the room, or quit (went offline).
            reason: LeaveReason,
        } = "chat_left",
        /// On `chat.room.NAME`: the topic changed.
        Topic {
            /// The room.
            room: String,
            /// The new topic.
            topic: String,
            /// Who changed it.
            by: String,
        } = "chat_topic",
        /// On `chat.room.NAME`: a member went away or came back.
        Presence {
            /// The room.
            room: String,
            /// The user and their presence.
            user: Presence,
        } = "chat_presence",
        /// On `chat.room.NAME` of a room with more members than the
        /// daemon's presence threshold, instead of [`ChatEvent::Joined`],
        /// [`ChatEvent::Left`] and [`ChatEvent::Presence`]: at most one per
        /// presence interval, the room's counts and who joined or left
        /// since the previous one. `chat_who` gives the whole list.
        Members {
            /// The room.
            room: String,
            /// How many members it has now.
            members: u32,
            /// How many of them are connected (online or away) now.
            online: u32,
            /// Who joined since the previous `chat_members` (and is still
            /// a member), by name, at most [`MAX_MEMBER_NAMES`].
            #[serde(
                default,
                skip_serializing_if = "Vec::is_empty",
                deserialize_with = "nil_as_default"
            )]
            joined: Vec<String>,
            /// Who left since the previous one (and has not come back),
            /// by name, at most [`MAX_MEMBER_NAMES`].
            #[serde(
                default,
                skip_serializing_if = "Vec::is_empty",
                deserialize_with = "nil_as_default"
            )]
            left: Vec<String>,
            /// Whether `joined` or `left` was cut short: more changed than
            /// they list, so a client keeping a member list should fetch it
            /// again (`chat_who`).
            #[serde(
                default,
                skip_serializing_if = "is_false",
                deserialize_with = "nil_as_default"
            )]
            more: bool,
        } = "chat_members",
        /// On `chat.user.NAME`: a private message to or from NAME.
        Direct {
            /// The message.
            message: DirectMessage,
        } = "chat_direct",
        /// On `chat.user.NAME`, right after sign-in: what arrived while away.
        Unread {
            /// Unread private messages (fetch them with `chat_dms`).
            dms: u64,
        } = "chat_unread",
    }
}

/// The largest message text, in bytes (UTF-8). Larger sends get
/// `too_large`.
pub const MAX_MESSAGE: usize = 4096;
/// The longest room topic, in bytes.
pub const MAX_TOPIC_TEXT: usize = 512;
/// The most messages one history request returns.
pub const MAX_HISTORY: u32 = 500;
/// The most names each of `joined` and `left` of a `chat_members` event
/// lists.
pub const MAX_MEMBER_NAMES: usize = 20;

/// A room as listed by `chat_rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// The room's name (see [`crate::names::validate_room`]).
    pub name: String,
    /// The room's topic; empty when none was set.
    pub topic: String,
    /// How many users are members.
    pub members: u32,
    /// The sequence number of the newest message (0 when none).
    pub last_seq: u64,
    /// Whether the asking user is a member.
    pub joined: bool,
}

/// One message in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The room.
    pub room: String,
    /// Position in the room's history: 1, 2, 3, … with no gaps.
    pub seq: u64,
    /// The sender's user name.
    pub from: String,
    /// The text (at most [`MAX_MESSAGE`] bytes).
    pub text: String,
    /// Whether this is an action (`/me waves`): show as `* alice waves`.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nil_as_default"
    )]
    pub action: bool,
    /// Server time when stored, ms since the Unix epoch.
    pub ts_ms: u64,
}

/// A private message between two users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectMessage {
    /// Unique id, increasing in the order messages were stored.
    pub id: u64,
    /// The sender.
    pub from: String,
    /// The recipient.
    pub to: String,
    /// The text.
    pub text: String,
    /// Whether this is an action.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nil_as_default"
    )]
    pub action: bool,
    /// Server time when stored, ms since the Unix epoch.
    pub ts_ms: u64,
}

/// Whether a user is around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// At least one connection, not away.
    Online,
    /// Connected, but marked away.
    Away,
    /// No connection.
    Offline,
}

impl Status {
    /// The status as text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Away => "away",
            Status::Offline => "offline",
        }
    }
}

/// A user's presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The user name.
    pub user: String,
    /// Online, away or offline.
    pub status: Status,
    /// The away message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away_message: Option<String>,
    /// When the user was last connected (now, if online), ms since the
    /// epoch; 0 if never.
    pub last_seen_ms: u64,
}

/// Why a member left a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// They left the room.
    Left,
    /// Their last connection closed (they stay a member, but are offline).
    Quit,
}
