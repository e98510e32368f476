//! Counters behind `/metrics`. Plain atomics: the hot path (every request)
//! pays one relaxed increment, and nothing here allocates.

use std::sync::atomic::{AtomicU64, Ordering};

use agora_wire::ErrorCode;

/// The operations counted individually, in the order of
/// [`Stats::requests`]. An op not listed is counted as `other`.
pub const OPS: [&str; 17] = [
    "ping",
    "register",
    "login",
    "whoami",
    "subscribe",
    "unsubscribe",
    "chat_join",
    "chat_leave",
    "chat_rooms",
    "chat_topic",
    "chat_send",
    "chat_dm",
    "chat_history",
    "chat_dms",
    "chat_who",
    "chat_away",
    "other",
];

/// Why a frame was refused.
#[derive(Debug, Clone, Copy)]
pub enum Rejected {
    /// Over the size limit (the connection was closed).
    TooLarge,
    /// Not a valid message (answered with `bad_request`).
    Malformed,
}

/// Daemon-wide counters.
#[derive(Default)]
pub struct Stats {
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Handshakes refused (bad hello, version, token, timeout).
    pub handshakes_failed: AtomicU64,
    /// Requests by op, indexed like [`OPS`].
    pub requests: [AtomicU64; OPS.len()],
    /// Error replies by code, indexed like [`ErrorCode::ALL`].
    pub errors: [AtomicU64; ErrorCode::ALL.len()],
    /// Frames over the size limit.
    pub frames_too_large: AtomicU64,
    /// Frames that were not valid messages.
    pub frames_malformed: AtomicU64,
    /// Panics caught while handling a request.
    pub handler_panics: AtomicU64,
}

impl Stats {
    /// Counts a request for the op named `name`.
    pub fn count_request(&self, name: &str) {
        let i = OPS
            .iter()
            .position(|op| *op == name)
            .unwrap_or(OPS.len() - 1);
        self.requests[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an error reply.
    pub fn count_error(&self, code: ErrorCode) {
        if let Some(i) = ErrorCode::ALL.iter().position(|c| *c == code) {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a refused frame.
    pub fn count_rejected(&self, why: Rejected) {
        match why {
            Rejected::TooLarge => &self.frames_too_large,
            Rejected::Malformed => &self.frames_malformed,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
}

/// Adds one to a counter.
pub fn incr(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Reads a counter.
pub fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
