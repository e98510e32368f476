//! A blocking facade for scripts and programs without an async runtime:
//! the same [`crate::Session`], driven by a small runtime of its own (one
//! worker thread, which also reads pushes and reconnects).
//!
//! ```no_run
//! # fn demo() -> Result<(), agora_wire::Error> {
//! use agora_wire::blocking;
//! let session = blocking::Session::connect(
//!     agora_wire::Session::builder(["127.0.0.1:7070"]).login("alice", "correct horse battery"),
//! )?;
//! session.chat_send("ops", "backup finished")?;
//! let value = session.cache_command(["INCR", "backups"])?;
//! println!("{value:?}");
//! // Anything else: the async API, blocked on.
//! let rooms = session.block_on(session.session().chat().rooms())?;
//! println!("{} rooms", rooms.len());
//! # Ok(()) }
//! ```

use std::future::Future;
use std::time::Duration;

use crate::cache::CacheValue;
use crate::chat::ChatMessage;
use crate::error::Error;
use crate::message::{Op, Push, Reply};
use crate::session::SessionBuilder;

/// A [`crate::Session`] with blocking methods. Must not be used from
/// inside an async runtime (use the async session there).
#[derive(Debug)]
pub struct Session {
    runtime: tokio::runtime::Runtime,
    session: crate::Session,
}

impl Session {
    /// Connects as `builder` says (see [`SessionBuilder::connect`]).
    ///
    /// # Errors
    /// As [`SessionBuilder::connect`]; [`Error::Io`] when called inside an
    /// async runtime or when the runtime cannot start.
    pub fn connect(builder: SessionBuilder) -> Result<Session, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::Io(std::io::Error::other(
                "agora_wire::blocking cannot be used inside an async runtime: use agora_wire::Session",
            )));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("agora-wire")
            .enable_all()
            .build()?;
        let session = runtime.block_on(builder.connect())?;
        Ok(Session { runtime, session })
    }

    /// The async session underneath, for [`Session::block_on`].
    pub fn session(&self) -> &crate::Session {
        &self.session
    }

    /// Runs any future of the async API to completion.
    ///
    /// # Panics
    /// When called inside an async runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Runs `next` for at most `limit`: its item, or `None` on timeout.
    fn block_on_within<T>(
        &self,
        limit: Duration,
        next: impl Future<Output = Option<T>>,
    ) -> Option<T> {
        self.block_on(async { tokio::time::timeout(limit, next).await.ok().flatten() })
    }

    /// As [`crate::Session::request`].
    ///
    /// # Errors
    /// As [`crate::Session::request`].
    pub fn request(&self, op: impl Into<Op>) -> Result<Reply, Error> {
        self.block_on(self.session.request(op))
    }

    /// As [`crate::Session::ping`].
    ///
    /// # Errors
    /// As [`crate::Session::request`].
    pub fn ping(&self) -> Result<Duration, Error> {
        self.block_on(self.session.ping())
    }

    /// As [`crate::services::Chat::send`].
    ///
    /// # Errors
    /// As [`crate::services::Chat::send`].
    pub fn chat_send(&self, room: &str, text: &str) -> Result<u64, Error> {
        self.block_on(self.session.chat().send(room, text))
    }

    /// As [`crate::services::Chat::follow`], as a blocking iterator.
    ///
    /// # Errors
    /// As [`crate::services::Chat::follow`].
    pub fn chat_follow(&self, room: &str) -> Result<Subscription<'_>, Error> {
        let inner = self.block_on(self.session.chat().follow(room))?;
        Ok(Subscription { owner: self, inner })
    }

    /// As [`crate::services::Cache::command`].
    ///
    /// # Errors
    /// As [`crate::services::Cache::command`].
    pub fn cache_command<I, A>(&self, args: I) -> Result<CacheValue, Error>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        self.block_on(self.session.cache().command(args))
    }

    /// As [`crate::Session::subscribe`], as a blocking iterator.
    ///
    /// # Errors
    /// As [`crate::Session::subscribe`].
    pub fn subscribe(&self, topic: &str) -> Result<Subscription<'_>, Error> {
        let inner = self.block_on(self.session.subscribe(topic))?;
        Ok(Subscription { owner: self, inner })
    }
}

/// A [`crate::Subscription`] read by blocking; also an [`Iterator`] of
/// pushes (ending with the session).
#[derive(Debug)]
pub struct Subscription<'a> {
    owner: &'a Session,
    inner: crate::Subscription,
}

impl Subscription<'_> {
    /// The next push, waiting at most `limit`; `None` on timeout or once
    /// the session has ended.
    pub fn recv_timeout(&mut self, limit: Duration) -> Option<Push> {
        self.owner.block_on_within(limit, self.inner.recv())
    }

    /// The next chat message of the topic, waiting at most `limit`.
    pub fn next_message_timeout(&mut self, limit: Duration) -> Option<ChatMessage> {
        self.owner.block_on_within(limit, self.inner.next_message())
    }
}

impl Iterator for Subscription<'_> {
    type Item = Push;

    fn next(&mut self) -> Option<Push> {
        let inner = &mut self.inner;
        self.owner.block_on(inner.recv())
    }
}
