//! What every service needs, and nothing about any one of them.
//!
//! - [`Service`]: the shape of a service's request side — route one of its
//!   own operations, and say which of them are barriers;
//! - [`Routed`]: how a request is answered, at once or by a future;
//! - [`Lifecycle`] and [`Hooks`]: how services hear that a session opened,
//!   signed in or out, or closed, and that an account was created;
//! - [`signed_in`], [`blocking`] (and [`db`] for a database call),
//!   [`internal`]: the sign-in check, the blocking-pool helper and the
//!   internal-error mapping every service shares.
//!
//! The list of services itself lives in [`crate::services`].

use std::sync::Arc;

use agora_wire::{ErrorBody, ErrorCode, Reply, UserInfo};
use futures::FutureExt as _;
use futures::future::BoxFuture;

use crate::session::Session;

/// A service's request side. `Op` is the service's own operation enum
/// (e.g. `agora_wire::ChatOp`); [`crate::services::Services`] unwraps the
/// wire's [`agora_wire::Op`] and hands each service only its own.
pub trait Service {
    /// The service's operations.
    type Op;

    /// Starts answering `op` for `session`. Work that needs no I/O should
    /// answer [`Routed::Done`] so the connection task answers it inline.
    fn route(&self, op: Self::Op, session: &Arc<Session>) -> Routed;

    /// Whether `op` changes what later requests of the same session see
    /// (who it is, which rooms it is in). A barrier waits for the session's
    /// earlier requests and holds back later ones, so a pipelined `login`
    /// then `whoami` sees the login.
    fn is_barrier(_op: &Self::Op) -> bool {
        false
    }
}

/// How a request is answered: at once (most operations), or by a future
/// that waits for blocking work (password hashing, SQLite).
pub enum Routed {
    /// The answer is ready.
    Done(Result<Reply, ErrorBody>),
    /// The answer comes when this future finishes.
    Later(BoxFuture<'static, Result<Reply, ErrorBody>>),
}

impl Routed {
    /// An answer that is ready now.
    pub fn done<R: Into<Reply>>(result: Result<R, ErrorBody>) -> Routed {
        Routed::Done(result.map(Into::into))
    }

    /// An answer that comes when `future` finishes.
    pub fn later<R, F>(future: F) -> Routed
    where
        R: Into<Reply>,
        F: Future<Output = Result<R, ErrorBody>> + Send + 'static,
    {
        Routed::Later(future.map(|r| r.map(Into::into)).boxed())
    }
}

/// The session's user, or `unauthorized` with the one "sign in first"
/// message every service gives.
///
/// # Errors
/// `unauthorized` when the session is not signed in.
pub fn signed_in(session: &Session) -> Result<UserInfo, ErrorBody> {
    session
        .user()
        .ok_or_else(|| ErrorBody::new(ErrorCode::Unauthorized, "sign in first (agora login NAME)"))
}

/// Runs blocking work (SQLite, hashing) on tokio's blocking pool; a panic
/// there becomes an `internal` error for this request only.
///
/// # Errors
/// `internal` when the work panicked.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ErrorBody> {
    tokio::task::spawn_blocking(f).await.map_err(internal)
}

/// Runs a database call on the blocking pool; a database error or a panic
/// becomes an `internal` error (logged, never sent).
///
/// # Errors
/// `internal` when the call failed or panicked.
pub async fn db<T: Send + 'static>(
    db: &agora_db::Db,
    f: impl FnOnce(&agora_db::Db) -> agora_db::Result<T> + Send + 'static,
) -> Result<T, ErrorBody> {
    let db = db.clone();
    blocking(move || f(&db)).await?.map_err(internal)
}

/// [`db`] for a repository that may be on either backend
/// ([`agora_db::Storage`]).
///
/// # Errors
/// `internal` when the call failed or panicked.
pub async fn storage<T: Send + 'static>(
    storage: &agora_db::Storage,
    f: impl FnOnce(&agora_db::Storage) -> agora_db::Result<T> + Send + 'static,
) -> Result<T, ErrorBody> {
    let storage = storage.clone();
    blocking(move || f(&storage)).await?.map_err(stored)
}

/// A storage error for the client: the database out of reach (a fleet's
/// PostgreSQL restarting) is `unavailable`, with a retry hint, and logged
/// as a warning; anything else is [`internal`].
pub fn stored(err: agora_db::Error) -> ErrorBody {
    if err.is_unavailable() {
        tracing::warn!(%err, "the database is unavailable");
        return ErrorBody {
            code: ErrorCode::Unavailable,
            message: "the database is unavailable; retry shortly".into(),
            retry_after_ms: Some(1_000),
        };
    }
    internal(err)
}

/// Logs the real error and returns a generic one: internal details never
/// cross the wire.
pub fn internal(err: impl std::fmt::Display) -> ErrorBody {
    tracing::error!(%err, "internal error");
    ErrorBody::new(ErrorCode::Internal, "internal error; see the daemon's log")
}

/// What a service does as sessions come and go. Every method has a no-op
/// default; a service implements the ones it needs.
///
/// Order: [`Hooks`] calls `opened` and `signed_in` in the order services
/// are listed, `signing_out` and `closed` in reverse (last in, first out),
/// like constructors and destructors.
pub trait Lifecycle: Send + Sync {
    /// A connection finished its handshake; `session.user()` is set when
    /// its hello carried a valid token.
    fn opened<'a>(&'a self, _session: &'a Arc<Session>) -> BoxFuture<'a, ()> {
        futures::future::ready(()).boxed()
    }

    /// The session signed in (register or login) as a user it was not
    /// already signed in as.
    fn signed_in<'a>(&'a self, _session: &'a Arc<Session>) -> BoxFuture<'a, ()> {
        futures::future::ready(()).boxed()
    }

    /// The session is about to sign in as someone else; `session.user()`
    /// is still the previous user. Undo what `opened`/`signed_in` did for
    /// that user.
    fn signing_out(&self, _session: &Session) {}

    /// The connection ended, however it ended (also on a panic of its
    /// task): release everything held for it.
    fn closed(&self, _session: &Session) {}

    /// A new account exists.
    fn user_created(&self, _user: &UserInfo) {}
}

/// Every service's [`Lifecycle`], in the order of the services list.
/// Cheap to clone.
#[derive(Clone)]
pub struct Hooks(Arc<[Arc<dyn Lifecycle>]>);

impl Hooks {
    /// Hooks called in this order (and in reverse for endings).
    pub fn new(hooks: Vec<Arc<dyn Lifecycle>>) -> Hooks {
        Hooks(hooks.into())
    }

    /// See [`Lifecycle::opened`].
    pub async fn opened(&self, session: &Arc<Session>) {
        for hook in self.0.iter() {
            hook.opened(session).await;
        }
    }

    /// See [`Lifecycle::signed_in`].
    pub async fn signed_in(&self, session: &Arc<Session>) {
        for hook in self.0.iter() {
            hook.signed_in(session).await;
        }
    }

    /// See [`Lifecycle::signing_out`].
    pub fn signing_out(&self, session: &Session) {
        for hook in self.0.iter().rev() {
            hook.signing_out(session);
        }
    }

    /// See [`Lifecycle::closed`].
    pub fn closed(&self, session: &Session) {
        for hook in self.0.iter().rev() {
            hook.closed(session);
        }
    }

    /// See [`Lifecycle::user_created`].
    pub fn user_created(&self, user: &UserInfo) {
        for hook in self.0.iter() {
            hook.user_created(user);
        }
    }
}
