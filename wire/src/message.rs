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
