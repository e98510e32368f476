//! What the daemon knows about one connection: who it is, what it listens
//! to, and how to close it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use agora_wire::{ErrorBody, SessionInfo, UserInfo};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One connection's state, shared between its task and the services.
pub struct Session {
    /// Unique while the daemon runs.
    pub id: u64,
    /// The client's name from its hello.
    pub client: String,
    user: Mutex<Option<UserInfo>>,
    topics: Mutex<BTreeSet<String>>,
    /// Encoded frames waiting for the writer.
    outbound: mpsc::Sender<Bytes>,
    closer: Closer,
}

impl Session {
    /// A session that writes through `outbound`.
    pub fn new(id: u64, client: String, outbound: mpsc::Sender<Bytes>) -> Self {
        Session {
            id,
            client,
            user: Mutex::new(None),
            topics: Mutex::new(BTreeSet::new()),
            outbound,
            closer: Closer::default(),
        }
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<UserInfo> {
        lock(&self.user).clone()
    }

    /// Signs the session in.
    pub fn set_user(&self, user: UserInfo) {
        *lock(&self.user) = Some(user);
    }

    /// The session as other clients may see it.
    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            id: self.id,
            user: self.user().map(|u| u.name),
            client: self.client.clone(),
        }
    }

    /// Records subscriptions; returns the full sorted set afterwards.
    pub fn add_topics<'a>(&self, topics: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let mut set = lock(&self.topics);
        set.extend(topics.into_iter().cloned());
        set.iter().cloned().collect()
    }

    /// Forgets subscriptions; returns the full sorted set afterwards.
    pub fn remove_topics<'a>(&self, topics: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let mut set = lock(&self.topics);
        for t in topics {
            set.remove(t);
        }
        set.iter().cloned().collect()
    }

    /// Every topic the session is subscribed to.
    pub fn topics(&self) -> Vec<String> {
        lock(&self.topics).iter().cloned().collect()
    }

    /// The queue to the connection's writer.
    pub fn outbound(&self) -> &mpsc::Sender<Bytes> {
        &self.outbound
    }

    /// Asks the connection to close, telling the client why. The first
    /// reason wins.
    pub fn close(&self, reason: ErrorBody) {
        self.closer.close(reason)
    }

    /// Asks the connection to close without a goodbye (the client left).
    pub fn close_quietly(&self) {
        self.closer.close_quietly()
    }

    /// The closer, for the connection task to wait on.
    pub fn closer(&self) -> &Closer {
        &self.closer
    }
}

/// A one-shot "close this connection, because …" signal.
#[derive(Default)]
pub struct Closer {
    token: CancellationToken,
    reason: Mutex<Option<ErrorBody>>,
}

impl Closer {
    /// Requests the close; keeps the first reason given.
    pub fn close(&self, reason: ErrorBody) {
        lock(&self.reason).get_or_insert(reason);
        self.token.cancel();
    }

    /// Requests a close with nothing to tell the client (it hung up).
    pub fn close_quietly(&self) {
        self.token.cancel();
    }

    /// Resolves once a close was requested.
    pub async fn requested(&self) {
        self.token.cancelled().await
    }

    /// Whether a close was requested.
    pub fn is_requested(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The reason, taken once.
    pub fn take_reason(&self) -> Option<ErrorBody> {
        lock(&self.reason).take()
    }
}

/// Std mutexes here guard tiny critical sections that never await, so a
/// tokio mutex would only add cost; poisoning cannot leave these values
/// half-updated, so a poisoned lock is simply taken over.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
