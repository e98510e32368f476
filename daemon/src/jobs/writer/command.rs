//! What the writer is asked ([`Command`]) and answers.

use agora_db::jobs::{CronRow, NewRow};
use agora_db::pg::jobs::notice::Notice;
use agora_wire::ErrorBody;
use agora_wire::jobs::{Claimed, Completion, Failure, Lease, QueueInfo, StateCounts};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// Milliseconds since the epoch: the real clock, or a test's.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;
/// Where a command's answer goes.
pub type Reply<T> = oneshot::Sender<Result<T, ErrorBody>>;

/// A claim's answer: the jobs, and (when a rate limit stopped it) how
/// long until one more may start.
#[derive(Debug, Default)]
pub struct ClaimOutcome {
    /// Jobs leased to the caller.
    pub jobs: Vec<Claimed>,
    /// Try again after this many ms (rate limit).
    pub retry_in_ms: Option<u64>,
}

/// A heartbeat's answer.
#[derive(Debug, Default)]
pub struct HeartbeatOutcome {
    /// The new lease end.
    pub lease_until_ms: u64,
    /// Jobs cancelled meanwhile.
    pub cancelled: Vec<u64>,
    /// Jobs whose lease is gone.
    pub lost: Vec<u64>,
}

/// An acknowledgement's answer: (acked, stale).
pub type AckOutcome = (Vec<u64>, Vec<u64>);

/// Which jobs a retry or discard is for.
#[derive(Debug, Clone)]
pub enum Target {
    /// One job.
    One(u64),
    /// Every dead job, of one queue or all.
    AllDead(Option<String>),
}

/// A queue settings change; `None` keeps a setting.
#[derive(Debug, Clone, Default)]
pub struct QueueChange {
    /// Pause or resume.
    pub paused: Option<bool>,
    /// Concurrency limit.
    pub concurrency: Option<u32>,
    /// Rate limit.
    pub rate: Option<u32>,
}

/// Everything the writer does.
pub enum Command {
    /// Store new jobs; answers each id and the ids that already existed.
    Enqueue {
        /// Validated jobs.
        jobs: Vec<NewRow>,
        /// Answer.
        reply: Reply<(Vec<u64>, Vec<u64>)>,
    },
    /// Lease available jobs.
    Claim {
        /// The queue.
        queue: String,
        /// Built-in kinds (the daemon's runner) or the others.
        builtin: bool,
        /// At most this many.
        limit: u32,
        /// The lease.
        lease_ms: u64,
        /// When cancelled, the claim takes nothing: its client's
        /// connection stopped reading (see `Session::input_ended`).
        abandon: Option<CancellationToken>,
        /// Answer.
        reply: Reply<ClaimOutcome>,
    },
    /// Extend leases.
    Heartbeat {
        /// The leases.
        leases: Vec<Lease>,
        /// For how long from now.
        lease_ms: u64,
        /// Answer.
        reply: Reply<HeartbeatOutcome>,
    },
    /// Attempts completed.
    Complete {
        /// Validated completions.
        jobs: Vec<Completion>,
        /// Answer.
        reply: Reply<AckOutcome>,
    },
    /// Attempts failed.
    Fail {
        /// Validated failures.
        jobs: Vec<Failure>,
        /// Answer.
        reply: Reply<AckOutcome>,
    },
    /// Cancel one job; answers it as it is now.
    Cancel {
        /// The job.
        id: u64,
        /// Answer.
        reply: Reply<agora_db::jobs::JobRow>,
    },
    /// Retry jobs; answers how many.
    Retry {
        /// Which.
        target: Target,
        /// Answer.
        reply: Reply<u64>,
    },
    /// Delete finished jobs; answers how many.
    Discard {
        /// Which.
        target: Target,
        /// Answer.
        reply: Reply<u64>,
    },
    /// Change a queue's settings.
    QueueSet {
        /// The queue.
        queue: String,
        /// What changes.
        change: QueueChange,
        /// Answer.
        reply: Reply<QueueInfo>,
    },
    /// Add a recurring job (its `next_run_ms` is computed here).
    CronAdd {
        /// Validated schedule.
        cron: CronRow,
        /// Answer.
        reply: Reply<CronRow>,
    },
    /// Remove a recurring job.
    CronRemove {
        /// Its name.
        name: String,
        /// Answer.
        reply: Reply<()>,
    },
    /// Counts and queues.
    Stats {
        /// Answer.
        reply: Reply<(StateCounts, Vec<QueueInfo>)>,
    },
    /// Do what is due: scheduled and retryable jobs whose time came,
    /// expired leases, cron slots, pruning.
    Tick {
        /// Answered once done (tests wait for it).
        reply: Option<Reply<()>>,
    },
    /// What another node of the fleet committed (its notification,
    /// `super::fleet`): counted, published, woken on, here too.
    Remote(Notice),
    /// The fleet's notifications were missed for a while (the listening
    /// connection broke): reload the counts and look at everything.
    Resync,
}
