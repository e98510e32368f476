//! What the daemon knows about one connection: who it is, what it listens
//! to, and how to close it.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

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
    /// Encoded pushes waiting for the connection task.
    outbound: mpsc::UnboundedSender<Bytes>,
    /// Bytes in `outbound`, judged by the slow-reader limits.
    backlog: Backlog,
    closer: Closer,
}

/// Bytes waiting for one reader, judged by [`PushLimits`]: shared by
/// native sessions and RESP pub/sub subscribers, so both protocols treat a
/// slow reader alike.
#[derive(Debug)]
pub struct Backlog {
    queued: AtomicUsize,
    /// Since when (ms) `queued` has been over the soft limit; 0 if not.
    over_soft_since_ms: AtomicU64,
    limits: PushLimits,
}

impl Backlog {
    /// An empty backlog with these limits.
    pub fn new(limits: PushLimits) -> Backlog {
        Backlog {
            queued: AtomicUsize::new(0),
            over_soft_since_ms: AtomicU64::new(0),
            limits,
        }
    }

    /// Counts `len` more bytes. `Err` (with the bytes that would be
    /// waiting) when the reader is too slow; the bytes are then not counted.
    pub fn add(&self, len: usize, now_ms: u64) -> Result<(), usize> {
        let queued = self.queued.fetch_add(len, Ordering::Relaxed) + len;
        let too_slow = if queued > self.limits.hard {
            true
        } else if queued > self.limits.soft {
            let since = self.over_soft_since_ms.load(Ordering::Relaxed);
            if since == 0 {
                self.over_soft_since_ms
                    .store(now_ms.max(1), Ordering::Relaxed);
                false
            } else {
                now_ms.saturating_sub(since) >= self.limits.soft_ms
            }
        } else {
            self.over_soft_since_ms.store(0, Ordering::Relaxed);
            false
        };
        if too_slow {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            return Err(queued);
        }
        Ok(())
    }

    /// `len` bytes were delivered (or dropped).
    pub fn remove(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::Relaxed);
    }

    /// Bytes waiting now.
    pub fn bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// How much undelivered push data a connection may accumulate before it
/// counts as too slow, after Redis's `client-output-buffer-limit pubsub`:
/// over `hard` at any moment, or over `soft` for `soft_ms` straight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushLimits {
    /// Disconnect at once beyond this many queued bytes.
    pub hard: usize,
    /// Disconnect when over this many bytes for `soft_ms`.
    pub soft: usize,
    /// How long the soft limit may be exceeded.
    pub soft_ms: u64,
}

impl Default for PushLimits {
    fn default() -> Self {
        PushLimits {
            hard: 32 << 20,
            soft: 8 << 20,
            soft_ms: 60_000,
        }
    }
}

/// Why a push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushRefused {
    /// The client is too slow and is being disconnected.
    TooSlow,
    /// The connection is already closing.
    Closed,
}

impl Session {
    /// A session whose pushes go to `outbound`.
    pub fn new(
        id: u64,
        client: String,
        outbound: mpsc::UnboundedSender<Bytes>,
        limits: PushLimits,
    ) -> Self {
        Session {
            id,
            client,
            user: Mutex::new(None),
            topics: Mutex::new(BTreeSet::new()),
            outbound,
            backlog: Backlog::new(limits),
            closer: Closer::default(),
        }
    }

    /// Queues a push frame without ever waiting. Past the limits the
    /// session is closed with a reason and the push is refused.
    pub fn push(&self, frame: Bytes, now_ms: u64) -> Result<(), PushRefused> {
        if self.closer.is_requested() {
            return Err(PushRefused::Closed);
        }
        let len = frame.len();
        if let Err(queued) = self.backlog.add(len, now_ms) {
            self.close(ErrorBody::new(
                agora_wire::ErrorCode::Unavailable,
                format!("disconnected: too slow to read pushes ({queued} bytes waiting)"),
            ));
            return Err(PushRefused::TooSlow);
        }
        self.outbound.send(frame).map_err(|_| {
            self.backlog.remove(len);
            PushRefused::Closed
        })
    }

    /// The connection task took a frame of `len` bytes off the queue.
    pub fn dequeued(&self, len: usize) {
        self.backlog.remove(len);
    }

    /// Bytes of pushes waiting to be written.
    pub fn queued_bytes(&self) -> usize {
        self.backlog.bytes()
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
