//! Counters behind `/metrics`. Plain atomics: the hot path (every request)
//! pays one relaxed increment, and nothing here allocates. Requests are
//! counted per operation, by the index the wire enums give each one
//! ([`Op::index`]), so a new service's operations are counted under their
//! own names without a list to keep here.

use std::sync::atomic::{AtomicU64, Ordering};

use agora_wire::{ErrorCode, Op};

use crate::latency::{Histogram, HttpLatency};

/// Why a frame was refused.
#[derive(Debug, Clone, Copy)]
pub enum Rejected {
    /// Over the size limit (the connection was closed).
    TooLarge,
    /// Not a valid message (answered with `bad_request`).
    Malformed,
}

/// Daemon-wide counters.
pub struct Stats {
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Handshakes refused (bad hello, version, token, timeout).
    pub handshakes_failed: AtomicU64,
    /// Requests by op, indexed by [`Op::index`] (names: [`Op::names`]).
    pub requests: [AtomicU64; Op::COUNT],
    /// Error replies by code, indexed like [`ErrorCode::ALL`].
    pub errors: [AtomicU64; ErrorCode::ALL.len()],
    /// Frames over the size limit.
    pub frames_too_large: AtomicU64,
    /// Frames that were not valid messages.
    pub frames_malformed: AtomicU64,
    /// Panics caught while handling a request.
    pub handler_panics: AtomicU64,
    /// SSH sessions (channels running the TUI or a command) open now.
    pub ssh_sessions: AtomicU64,
    /// SSH authentications refused: passwords, unknown keys, rate limits.
    pub ssh_auth_failures: AtomicU64,
    /// How long requests took, by op, indexed by [`Op::index`].
    pub durations: Box<[Histogram]>,
    /// How long HTTP requests took, by method and route.
    pub http_durations: HttpLatency,
}

impl Default for Stats {
    fn default() -> Self {
        let zero = || AtomicU64::new(0);
        Stats {
            connections_total: zero(),
            connections_open: zero(),
            handshakes_failed: zero(),
            requests: std::array::from_fn(|_| zero()),
            errors: std::array::from_fn(|_| zero()),
            frames_too_large: zero(),
            frames_malformed: zero(),
            handler_panics: zero(),
            ssh_sessions: zero(),
            ssh_auth_failures: zero(),
            durations: (0..Op::COUNT).map(|_| Histogram::default()).collect(),
            http_durations: HttpLatency::default(),
        }
    }
}

impl Stats {
    /// Counts a request, under its operation's own name.
    pub fn count_request(&self, op: &Op) {
        self.requests[op.index()].fetch_add(1, Ordering::Relaxed);
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
