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
    /// Cancelled once the connection's input has ended (see
    /// [`Session::input_ended`]).
    input: CancellationToken,
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
            input: CancellationToken::new(),
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

    /// Cancelled once no more requests will come from this connection
    /// (its read side closed, or the connection is closing for any other
    /// reason), while the answers of requests already started may still
    /// be sent. A request that waits for something to happen on the
    /// client's behalf — a job claim's long poll — gives up when it fires
    /// rather than take what its client can no longer use.
    pub fn input_ended(&self) -> &CancellationToken {
        &self.input
    }

    /// Notes that no more requests will come (see
    /// [`Session::input_ended`]).
    pub fn end_input(&self) {
        self.input.cancel();
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

#[cfg(test)]
mod tests {
    use agora_wire::ErrorCode;
    use futures::FutureExt as _;

    use super::*;

    const LIMITS: PushLimits = PushLimits {
        hard: 1_000,
        soft: 100,
        soft_ms: 5_000,
    };

    fn session() -> (Session, mpsc::UnboundedReceiver<Bytes>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Session::new(7, "test".into(), tx, LIMITS), rx)
    }

    fn frame(len: usize) -> Bytes {
        Bytes::from(vec![0u8; len])
    }

    /// Takes every queued frame off the session as the connection task
    /// does; returns how many there were.
    fn drain(session: &Session, rx: &mut mpsc::UnboundedReceiver<Bytes>) -> usize {
        let mut n = 0;
        while let Ok(frame) = rx.try_recv() {
            session.dequeued(frame.len());
            n += 1;
        }
        n
    }

    #[test]
    fn under_the_soft_limit_nothing_happens_however_long_it_lasts() {
        let (s, mut rx) = session();
        assert_eq!(s.push(frame(50), 1_000), Ok(()));
        // Exactly at the soft limit is not over it.
        assert_eq!(s.push(frame(50), 50_000), Ok(()));
        let first = rx.try_recv().unwrap();
        s.dequeued(first.len());
        assert_eq!(s.push(frame(50), 1_000_000), Ok(()));
        assert_eq!(s.queued_bytes(), 100);
        assert!(!s.closer().is_requested());
        assert_eq!(drain(&s, &mut rx), 2);
        assert_eq!(s.queued_bytes(), 0);
        // No soft timer was running meanwhile: going over soft now starts
        // one, which tolerates the full soft_ms.
        assert_eq!(s.push(frame(101), 3_000_000), Ok(()));
        assert_eq!(s.push(frame(1), 3_000_000 + LIMITS.soft_ms - 1), Ok(()));
        assert!(!s.closer().is_requested());
    }

    #[test]
    fn over_the_hard_limit_at_once_is_refused_and_closes_with_the_byte_count() {
        let (s, mut rx) = session();
        assert_eq!(s.push(frame(400), 1_000), Ok(()));
        assert_eq!(s.push(frame(600), 1_000), Ok(()), "exactly hard is allowed");
        assert_eq!(s.push(frame(1), 1_000), Err(PushRefused::TooSlow));
        assert!(s.closer().is_requested());
        assert!(s.closer().requested().now_or_never().is_some());
        let reason = s.closer().take_reason().expect("a goodbye reason");
        assert_eq!(reason.code, ErrorCode::Unavailable);
        assert!(
            reason.message.contains("1001 bytes waiting"),
            "{}",
            reason.message
        );
        // The refused frame was neither queued nor counted.
        assert_eq!(s.queued_bytes(), 1_000);
        assert_eq!(drain(&s, &mut rx), 2);
        assert_eq!(s.queued_bytes(), 0);
    }

    #[test]
    fn one_frame_over_the_hard_limit_is_refused_even_on_an_empty_queue() {
        let (s, mut rx) = session();
        assert_eq!(s.push(frame(1_001), 1_000), Err(PushRefused::TooSlow));
        assert!(s.closer().is_requested());
        assert_eq!(s.queued_bytes(), 0);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn over_soft_is_tolerated_for_less_than_soft_ms_and_refused_from_then_on() {
        let (s, _rx) = session();
        assert_eq!(s.push(frame(101), 10_000), Ok(()), "the soft timer starts");
        assert_eq!(s.push(frame(1), 10_000 + LIMITS.soft_ms - 1), Ok(()));
        assert!(!s.closer().is_requested());
        assert_eq!(
            s.push(frame(1), 10_000 + LIMITS.soft_ms),
            Err(PushRefused::TooSlow)
        );
        assert!(s.closer().is_requested());
        let reason = s.closer().take_reason().expect("a goodbye reason");
        assert_eq!(reason.code, ErrorCode::Unavailable);
        assert!(
            reason.message.contains("103 bytes waiting"),
            "{}",
            reason.message
        );
        assert_eq!(s.queued_bytes(), 102);
    }

    #[test]
    fn a_push_back_under_soft_resets_the_soft_timer() {
        let (s, mut rx) = session();
        assert_eq!(s.push(frame(150), 1_000), Ok(()), "over soft since 1 s");
        assert_eq!(drain(&s, &mut rx), 1);
        assert_eq!(s.push(frame(10), 2_000), Ok(()), "under soft: reset");
        assert_eq!(s.push(frame(150), 4_000), Ok(()), "over soft since 4 s");
        // 5 s after the first excursion, but only 2 s into this one.
        assert_eq!(s.push(frame(1), 1_000 + LIMITS.soft_ms), Ok(()));
        assert_eq!(s.push(frame(1), 4_000 + LIMITS.soft_ms - 1), Ok(()));
        assert_eq!(
            s.push(frame(1), 4_000 + LIMITS.soft_ms),
            Err(PushRefused::TooSlow)
        );
    }

    #[test]
    fn dequeued_reduces_the_backlog() {
        let (s, mut rx) = session();
        for _ in 0..3 {
            s.push(frame(300), 1_000).unwrap();
        }
        assert_eq!(s.queued_bytes(), 900);
        let first = rx.try_recv().unwrap();
        s.dequeued(first.len());
        assert_eq!(s.queued_bytes(), 600);
        // Room freed under the hard limit is usable again.
        assert_eq!(s.push(frame(400), 1_000), Ok(()));
        assert_eq!(s.queued_bytes(), 1_000);
        assert_eq!(drain(&s, &mut rx), 3);
        assert_eq!(s.queued_bytes(), 0);
    }

    #[test]
    fn pushing_to_a_closed_session_is_refused_and_not_counted() {
        let (s, mut rx) = session();
        s.push(frame(10), 1_000).unwrap();
        s.close_quietly();
        assert_eq!(s.push(frame(10), 1_000), Err(PushRefused::Closed));
        assert_eq!(s.queued_bytes(), 10);
        assert_eq!(drain(&s, &mut rx), 1);
        assert_eq!(s.queued_bytes(), 0);
    }

    #[test]
    fn pushing_after_the_connection_task_is_gone_is_refused_and_not_counted() {
        let (s, rx) = session();
        drop(rx);
        assert_eq!(s.push(frame(10), 1_000), Err(PushRefused::Closed));
        assert_eq!(s.queued_bytes(), 0);
        assert!(!s.closer().is_requested());
    }

    #[test]
    fn after_a_too_slow_refusal_later_pushes_are_closed_not_counted_again() {
        let (s, _rx) = session();
        assert_eq!(s.push(frame(2_000), 1_000), Err(PushRefused::TooSlow));
        assert_eq!(s.push(frame(10), 1_000), Err(PushRefused::Closed));
        assert_eq!(s.queued_bytes(), 0);
    }

    #[test]
    fn the_first_close_reason_wins() {
        let (s, _rx) = session();
        assert!(!s.closer().is_requested());
        assert!(s.closer().requested().now_or_never().is_none());
        assert_eq!(s.push(frame(2_000), 1_000), Err(PushRefused::TooSlow));
        s.close(ErrorBody::new(ErrorCode::Unavailable, "shutting down"));
        s.close_quietly();
        let reason = s.closer().take_reason().expect("a reason");
        assert!(reason.message.contains("too slow"), "{}", reason.message);
        assert_eq!(s.closer().take_reason(), None, "the reason is taken once");
        assert!(s.closer().is_requested());
    }

    #[test]
    fn a_quiet_close_leaves_no_reason() {
        let closer = Closer::default();
        closer.close_quietly();
        assert!(closer.is_requested());
        assert!(closer.requested().now_or_never().is_some());
        assert_eq!(closer.take_reason(), None);
    }

    #[test]
    fn backlog_refusal_reports_the_bytes_and_counts_nothing() {
        let backlog = Backlog::new(LIMITS);
        assert_eq!(backlog.add(900, 1), Ok(()));
        assert_eq!(backlog.add(200, 1), Err(1_100));
        assert_eq!(backlog.bytes(), 900);
        backlog.remove(900);
        assert_eq!(backlog.bytes(), 0);
    }
}
