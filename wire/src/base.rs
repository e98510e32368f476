//! The base service: what every connection has, whatever else the daemon
//! serves — a liveness check, accounts (register, log in, who am I) and
//! topic subscriptions, and the `sessions` topic's events.

use serde::{Deserialize, Serialize};

/// The topic of [`BaseEvent::SessionOpened`] and [`BaseEvent::SessionClosed`].
pub const SESSIONS_TOPIC: &str = "sessions";

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
    /// The session id from [`crate::Welcome::session`].
    pub id: u64,
    /// The signed-in user's name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The client name from [`crate::Hello::client`].
    pub client: String,
}

/// An organization the signed-in user belongs to (the multi-tenant
/// blog's, docs/BLOG.md), with their role in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRole {
    /// The organization's slug (its subdomain).
    pub slug: String,
    /// Its display name.
    pub name: String,
    /// The user's role: `owner`, `admin`, `author` or `viewer`.
    pub role: String,
}

/// An SSH public key bound to the signed-in account (the daemon's SSH
/// listener signs its holder in; docs/SSH.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKeyInfo {
    /// OpenSSH's `SHA256:…` fingerprint, the key's identity.
    pub fingerprint: String,
    /// The key type, e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// The comment of the line it was added from (often `user@host`).
    pub comment: String,
    /// When it was added, milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// When it last signed someone in over SSH, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_ms: Option<u64>,
}

crate::messages! {
    /// Operations every connection can request.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum BaseOp {
        /// Liveness and latency check. Answered with [`BaseReply::Pong`].
        Ping = "ping",
        /// Create an account and sign this connection in. Answered with
        /// [`BaseReply::Session`]; `conflict` if the name is taken,
        /// `bad_request` if the name or password breaks the rules.
        Register {
            /// The new account's name.
            name: String,
            /// The password; at least 8 bytes, at most 1024.
            password: String,
        } = "register",
        /// Sign this connection in. Answered with [`BaseReply::Session`];
        /// `unauthorized` on a wrong name or password.
        Login {
            /// The account's name.
            name: String,
            /// The account's password.
            password: String,
        } = "login",
        /// Who is this connection? Answered with [`BaseReply::Whoami`].
        Whoami = "whoami",
        /// The signed-in user's organizations, with their roles. Answered
        /// with [`BaseReply::Orgs`]; `unauthorized` when not signed in.
        Orgs = "orgs",
        /// Receive [`crate::Push`]es for these topics (see
        /// [`crate::names::validate_topic`]). Subscribing twice is harmless.
        /// Answered with [`BaseReply::Subscribed`].
        Subscribe {
            /// The topics to add.
            topics: Vec<String>,
        } = "subscribe",
        /// Stop receiving pushes for these topics. Answered with
        /// [`BaseReply::Subscribed`] listing what remains.
        Unsubscribe {
            /// The topics to drop.
            topics: Vec<String>,
        } = "unsubscribe",
        /// Bind an SSH public key (one line of an OpenSSH `.pub` file) to
        /// the signed-in account. Answered with [`BaseReply::SshKey`];
        /// `bad_request` when the line is not an ed25519 or ECDSA key,
        /// `conflict` when another account holds it, `unauthorized` when
        /// not signed in.
        SshKeyAdd {
            /// `ssh-ed25519 AAAA… comment`.
            key: String,
        } = "ssh_key_add",
        /// The signed-in account's SSH keys. Answered with
        /// [`BaseReply::SshKeys`].
        SshKeyList = "ssh_key_list",
        /// Unbind one of the signed-in account's SSH keys. Answered with
        /// [`BaseReply::Done`]; `not_found` when the account holds no key
        /// with that fingerprint.
        SshKeyRemove {
            /// The key's `SHA256:…` fingerprint.
            fingerprint: String,
        } = "ssh_key_remove",
    }
}

crate::messages! {
    /// Answers of the base service (and [`BaseReply::Done`], which any
    /// service may answer).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum BaseReply {
        /// Answer to [`BaseOp::Ping`].
        Pong {
            /// The server's clock, milliseconds since the Unix epoch.
            server_time_ms: u64,
        } = "pong",
        /// Answer to [`BaseOp::Register`] and [`BaseOp::Login`]: the
        /// connection is now signed in as `user`, and `token` signs in later
        /// connections.
        Session {
            /// The signed-in user.
            user: UserInfo,
            /// A bearer token (a JWT, HS256) for [`crate::Hello::token`] and
            /// the HTTP API.
            token: String,
            /// When the token expires, milliseconds since the Unix epoch.
            expires_at_ms: u64,
        } = "session",
        /// Answer to [`BaseOp::Whoami`].
        Whoami {
            /// The signed-in user, if any.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            user: Option<UserInfo>,
            /// This connection.
            session: SessionInfo,
        } = "whoami",
        /// Answer to [`BaseOp::Orgs`].
        Orgs {
            /// The user's organizations, by slug.
            orgs: Vec<OrgRole>,
        } = "orgs",
        /// Answer to [`BaseOp::Subscribe`] and [`BaseOp::Unsubscribe`].
        Subscribed {
            /// Every topic this connection is now subscribed to, sorted.
            topics: Vec<String>,
        } = "subscribed",
        /// Answer to [`BaseOp::SshKeyAdd`]: the key as stored.
        SshKey {
            /// The key.
            key: SshKeyInfo,
        } = "ssh_key",
        /// Answer to [`BaseOp::SshKeyList`].
        SshKeys {
            /// The account's keys, oldest first.
            keys: Vec<SshKeyInfo>,
        } = "ssh_keys",
        /// The operation succeeded and has nothing to report (any service).
        Done = "done",
    }
}

crate::messages! {
    /// Events on topic [`SESSIONS_TOPIC`].
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum BaseEvent {
        /// A connection completed its handshake or signed in.
        SessionOpened {
            /// The session.
            session: SessionInfo,
        } = "session_opened",
        /// A connection closed.
        SessionClosed {
            /// The session.
            session: SessionInfo,
        } = "session_closed",
    }
}
