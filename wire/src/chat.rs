//! Chat data carried by [`crate::Op`], [`crate::Reply`] and
//! [`crate::Event`] variants whose names start with `chat_`.

use serde::{Deserialize, Serialize};

/// The largest message text, in bytes (UTF-8). Larger sends get
/// `too_large`.
pub const MAX_MESSAGE: usize = 4096;
/// The longest room topic, in bytes.
pub const MAX_TOPIC_TEXT: usize = 512;
/// The most messages one history request returns.
pub const MAX_HISTORY: u32 = 500;

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
    #[serde(default, skip_serializing_if = "is_false")]
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
    #[serde(default, skip_serializing_if = "is_false")]
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

fn is_false(b: &bool) -> bool {
    !*b
}
