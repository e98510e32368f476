//! Every message that crosses the wire.
//!
//! Frames from a client: first one [`Hello`], then any number of
//! [`Request`]s. Frames from the server: one [`ServerFrame::Welcome`] (or an
//! error and a close), then replies, errors and pushes in any order.
//!
//! Enums are *internally tagged*: a MessagePack map whose `"type"` key names
//! the variant in snake_case, next to the variant's own fields. Unknown map
//! keys are ignored, so a newer peer may add fields freely.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::cache::CacheValue;
use crate::chat::{ChatMessage, DirectMessage, LeaveReason, Presence, RoomInfo};
use crate::error::ErrorBody;

/// The first frame a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol version the client speaks ([`crate::PROTOCOL_VERSION`]).
    pub protocol: u32,
    /// A short name for the client program, e.g. `"agora-cli/0.1.0"`; shown
    /// in session lists and logs.
    pub client: String,
    /// A token from `login` or `register`, to resume a signed-in session.
    /// A token that is invalid or expired makes the handshake fail with
    /// `unauthorized`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Hello {
    /// A hello for this crate's protocol version.
    pub fn new(client: impl Into<String>, token: Option<String>) -> Self {
        Hello {
            protocol: crate::PROTOCOL_VERSION,
            client: client.into(),
            token,
        }
    }
}

/// The server's answer to a successful [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The daemon's version, e.g. `"0.1.0"`.
    pub server_version: String,
    /// The protocol version the server will speak on this connection.
    pub protocol: u32,
    /// This connection's session id, unique while the daemon runs.
    pub session: u64,
    /// The signed-in user, when the hello carried a valid token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserInfo>,
    /// The largest frame (in bytes) the server accepts.
    pub max_frame: u64,
}

/// A user account as others may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The account's numeric id.
    pub id: i64,
    /// The account's unique name (see [`crate::names::validate_user_name`]).
    pub name: String,
}

/// One connection to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id from [`Welcome::session`].
    pub id: u64,
    /// The signed-in user's name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The client name from [`Hello::client`].
    pub client: String,
}

/// A request: an id chosen by the client and an operation.
///
/// The server answers every request exactly once, with a
/// [`ServerFrame::Reply`] or a [`ServerFrame::Error`] carrying the same id.
/// Replies may arrive in a different order than the requests were sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Echoed in the answer. Clients should not reuse an id while a request
    /// with it is outstanding; `0` is reserved for errors that cannot be tied
    /// to a request.
    pub id: u64,
    /// What to do.
    pub op: Op,
}

/// The operations a client can request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// Liveness and latency check. Answered with [`Reply::Pong`].
    Ping,
    /// Create an account and sign this connection in. Answered with
    /// [`Reply::Session`]; `conflict` if the name is taken, `bad_request` if
    /// the name or password breaks the rules.
    Register {
        /// The new account's name.
        name: String,
        /// The password; at least 8 bytes, at most 1024.
        password: String,
    },
    /// Sign this connection in. Answered with [`Reply::Session`];
    /// `unauthorized` on a wrong name or password.
    Login {
        /// The account's name.
        name: String,
        /// The account's password.
        password: String,
    },
    /// Who is this connection? Answered with [`Reply::Whoami`].
    Whoami,
    /// Receive [`Push`]es for these topics (see [`crate::names::validate_topic`]).
    /// Subscribing twice is harmless. Answered with [`Reply::Subscribed`].
    Subscribe {
        /// The topics to add.
        topics: Vec<String>,
    },
    /// Stop receiving pushes for these topics. Answered with
    /// [`Reply::Subscribed`] listing what remains.
    Unsubscribe {
        /// The topics to drop.
        topics: Vec<String>,
    },
    /// Join a room, creating it if needed; the membership persists across
    /// reconnects and restarts. Answered with [`Reply::ChatRoom`].
    ChatJoin {
        /// The room (see [`crate::names::validate_room`]).
        room: String,
    },
    /// Leave a room. Answered with [`Reply::Done`].
    ChatLeave {
        /// The room.
        room: String,
    },
    /// List every room. Answered with [`Reply::ChatRooms`].
    ChatRooms,
    /// Set a room's topic (members only). Answered with [`Reply::Done`].
    ChatTopic {
        /// The room.
        room: String,
        /// The new topic; empty clears it.
        topic: String,
    },
    /// Send a message to a room (members only). Stored before it is
    /// acknowledged or delivered. Answered with [`Reply::ChatSent`].
    ChatSend {
        /// The room.
        room: String,
        /// The text, at most [`crate::chat::MAX_MESSAGE`] bytes.
        text: String,
        /// An action (`/me`).
        #[serde(default)]
        action: bool,
    },
    /// Send a private message. Answered with [`Reply::ChatSent`] (seq is
    /// the message id).
    ChatDm {
        /// The recipient's user name.
        to: String,
        /// The text.
        text: String,
        /// An action (`/me`).
        #[serde(default)]
        action: bool,
    },
    /// A room's history. With `since`, the messages after that sequence
    /// number, oldest first (to fill a gap after a reconnect); otherwise
    /// the newest messages before `before` (or the newest of all), oldest
    /// first. Answered with [`Reply::ChatHistory`].
    ChatHistory {
        /// The room.
        room: String,
        /// Only messages with a smaller sequence number.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        /// Only messages with a larger sequence number.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// At most this many (default 50, at most 500).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Private messages: the unread ones (and mark them read), or the
    /// conversation with one user. Answered with [`Reply::ChatDms`].
    ChatDms {
        /// Only the conversation with this user (read and unread).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        with: Option<String>,
        /// At most this many (default 50, at most 500).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Who is in a room, or every user seen online. Answered with
    /// [`Reply::ChatWho`].
    ChatWho {
        /// The room; everyone when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// Mark yourself away (with a message) or back. Answered with
    /// [`Reply::Done`].
    ChatAway {
        /// The away message; `None` means back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Run one cache command (an argument vector, as a Redis client sends
    /// it: `["SET", "k", "v"]`) through the same executor as the RESP
    /// listener. Needs a signed-in session. Answered with [`Reply::Cache`];
    /// keyspace errors (`WRONGTYPE`, syntax, arity) are a
    /// [`CacheValue::Error`] inside that reply, like Redis. The pub/sub
    /// commands SUBSCRIBE & co. are refused (`bad_request`): use
    /// [`Op::CacheSubscribe`].
    CacheCommand {
        /// The command name and its arguments, binary-safe.
        args: Vec<ByteBuf>,
    },
    /// Receive [`Event::CacheMessage`] pushes (topic `cache`) for these
    /// channels and glob patterns, shared with RESP's SUBSCRIBE/PSUBSCRIBE.
    /// Answered with [`Reply::CacheSubscribed`].
    CacheSubscribe {
        /// Exact channel names.
        #[serde(default)]
        channels: Vec<ByteBuf>,
        /// Glob patterns (Redis's PSUBSCRIBE syntax).
        #[serde(default)]
        patterns: Vec<ByteBuf>,
    },
    /// Stop receiving cache channels or patterns; both lists empty means
    /// all of them. Answered with [`Reply::CacheSubscribed`].
    CacheUnsubscribe {
        /// Exact channel names.
        #[serde(default)]
        channels: Vec<ByteBuf>,
        /// Glob patterns.
        #[serde(default)]
        patterns: Vec<ByteBuf>,
    },
    /// Publish on a cache channel (RESP and native subscribers alike).
    /// Answered with [`Reply::CachePublished`].
    CachePublish {
        /// The channel.
        channel: ByteBuf,
        /// The payload.
        message: ByteBuf,
    },
}

impl Op {
    /// The operation's wire name (the `type` tag), e.g. `"ping"`.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Ping => "ping",
            Op::Register { .. } => "register",
            Op::Login { .. } => "login",
            Op::Whoami => "whoami",
            Op::Subscribe { .. } => "subscribe",
            Op::Unsubscribe { .. } => "unsubscribe",
            Op::ChatJoin { .. } => "chat_join",
            Op::ChatLeave { .. } => "chat_leave",
            Op::ChatRooms => "chat_rooms",
            Op::ChatTopic { .. } => "chat_topic",
            Op::ChatSend { .. } => "chat_send",
            Op::ChatDm { .. } => "chat_dm",
            Op::ChatHistory { .. } => "chat_history",
            Op::ChatDms { .. } => "chat_dms",
            Op::ChatWho { .. } => "chat_who",
            Op::ChatAway { .. } => "chat_away",
            Op::CacheCommand { .. } => "cache_command",
            Op::CacheSubscribe { .. } => "cache_subscribe",
            Op::CacheUnsubscribe { .. } => "cache_unsubscribe",
            Op::CachePublish { .. } => "cache_publish",
        }
    }
}

/// A successful answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// Answer to [`Op::Ping`].
    Pong {
        /// The server's clock, milliseconds since the Unix epoch.
        server_time_ms: u64,
    },
    /// Answer to [`Op::Register`] and [`Op::Login`]: the connection is now
    /// signed in as `user`, and `token` signs in later connections.
    Session {
        /// The signed-in user.
        user: UserInfo,
        /// A bearer token (a JWT, HS256) for [`Hello::token`] and the HTTP API.
        token: String,
        /// When the token expires, milliseconds since the Unix epoch.
        expires_at_ms: u64,
    },
    /// Answer to [`Op::Whoami`].
    Whoami {
        /// The signed-in user, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserInfo>,
        /// This connection.
        session: SessionInfo,
    },
    /// Answer to [`Op::Subscribe`] and [`Op::Unsubscribe`].
    Subscribed {
        /// Every topic this connection is now subscribed to, sorted.
        topics: Vec<String>,
    },
    /// The operation succeeded and has nothing to report.
    Done,
    /// Answer to [`Op::ChatJoin`]: the room and who is in it.
    ChatRoom {
        /// The room.
        room: RoomInfo,
        /// Its members and their presence.
        members: Vec<Presence>,
    },
    /// Answer to [`Op::ChatRooms`].
    ChatRooms {
        /// Every room, by name.
        rooms: Vec<RoomInfo>,
    },
    /// Answer to [`Op::ChatSend`] and [`Op::ChatDm`]: stored.
    ChatSent {
        /// The room's sequence number, or the private message's id.
        seq: u64,
        /// Server time when stored.
        ts_ms: u64,
    },
    /// Answer to [`Op::ChatHistory`].
    ChatHistory {
        /// The room.
        room: String,
        /// The messages, oldest first.
        messages: Vec<ChatMessage>,
        /// Whether older messages exist before the first one returned.
        more: bool,
    },
    /// Answer to [`Op::ChatDms`].
    ChatDms {
        /// The messages, oldest first.
        messages: Vec<DirectMessage>,
        /// Unread private messages left after this answer.
        unread: u64,
    },
    /// Answer to [`Op::ChatWho`].
    ChatWho {
        /// The users, by name.
        users: Vec<Presence>,
    },
    /// Answer to [`Op::CacheCommand`]: what the command returned.
    Cache {
        /// The value (possibly a keyspace error).
        value: CacheValue,
    },
    /// Answer to [`Op::CacheSubscribe`] and [`Op::CacheUnsubscribe`].
    CacheSubscribed {
        /// Every cache channel the session now follows, sorted.
        channels: Vec<ByteBuf>,
        /// Every pattern the session now follows, sorted.
        patterns: Vec<ByteBuf>,
    },
    /// Answer to [`Op::CachePublish`].
    CachePublished {
        /// How many subscriptions (RESP and native) received it.
        receivers: u64,
    },
}

/// A server-initiated message on a subscribed topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// The topic the event was published on.
    pub topic: String,
    /// What happened.
    pub event: Event,
}

/// Events the server pushes. Each service adds its own variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// On topic `sessions`: a connection completed its handshake or signed in.
    SessionOpened {
        /// The session.
        session: SessionInfo,
    },
    /// On topic `sessions`: a connection closed.
    SessionClosed {
        /// The session.
        session: SessionInfo,
    },
    /// On `chat.room.NAME`: a new message.
    ChatMessage {
        /// The message.
        message: ChatMessage,
    },
    /// On `chat.room.NAME`: a user joined the room, or came online.
    ChatJoined {
        /// The room.
        room: String,
        /// The user and their presence.
        user: Presence,
    },
    /// On `chat.room.NAME`: a user left the room, or went offline.
    ChatLeft {
        /// The room.
        room: String,
        /// Who.
        user: String,
        /// Left the room, or quit (went offline).
        reason: LeaveReason,
    },
    /// On `chat.room.NAME`: the topic changed.
    ChatTopic {
        /// The room.
        room: String,
        /// The new topic.
        topic: String,
        /// Who changed it.
        by: String,
    },
    /// On `chat.room.NAME`: a member went away or came back.
    ChatPresence {
        /// The room.
        room: String,
        /// The user and their presence.
        user: Presence,
    },
    /// On `chat.user.NAME`: a private message to or from NAME.
    ChatDirect {
        /// The message.
        message: DirectMessage,
    },
    /// On `chat.user.NAME`, right after sign-in: what arrived while away.
    ChatUnread {
        /// Unread private messages (fetch them with `chat_dms`).
        dms: u64,
    },
    /// On topic `cache`: a message on a cache channel this session
    /// subscribed to with [`Op::CacheSubscribe`].
    CacheMessage {
        /// The channel it was published on.
        channel: ByteBuf,
        /// The pattern that matched, for pattern subscriptions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<ByteBuf>,
        /// The payload.
        payload: ByteBuf,
    },
}

/// Every frame the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The handshake succeeded.
    Welcome(Welcome),
    /// A request succeeded.
    Reply {
        /// The request's id.
        id: u64,
        /// The answer.
        body: Reply,
    },
    /// A request failed, or (with id 0) a frame could not be tied to a
    /// request. The connection stays open.
    Error {
        /// The request's id, or 0.
        id: u64,
        /// What went wrong.
        error: ErrorBody,
    },
    /// An event on a subscribed topic.
    Push(Push),
    /// The server is closing this connection, and says why: a broken or
    /// oversize frame (`too_large`, `bad_request`), a failed handshake, a
    /// client too slow to read its pushes, or shutdown (`unavailable`).
    Goodbye {
        /// Why.
        error: ErrorBody,
    },
}
