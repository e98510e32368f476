//! The jobs service: a persistent background job queue — its operations
//! ([`JobsOp`]), replies ([`JobsReply`]), events ([`JobsEvent`]) and the
//! data they carry. Every wire name starts with `jobs_`.
//!
//! A job's `args` and `result` are JSON documents carried as JSON text
//! (a string), so any language's MessagePack library can pass them through
//! to its JSON library unchanged. Workers speak the same operations as
//! everyone else: [`JobsOp::Claim`] takes jobs with a lease, kept alive by
//! [`JobsOp::Heartbeat`], and ended by [`JobsOp::Complete`] or
//! [`JobsOp::Fail`]. Delivery is at least once: a job whose lease expires
//! runs again, so handlers should be idempotent.
//!
//! With the `client` feature, [`Worker`] runs handlers by kind over a
//! [`crate::Client`].

use serde::{Deserialize, Serialize};

use crate::macros::nil_as_default;

#[cfg(feature = "client")]
mod worker;
#[cfg(feature = "client")]
pub use worker::{
    Handler, JobContext, JobFailure, Observer, Outcome, Summary, Worker, WorkerOptions,
};

/// The topic of every job state change ([`JobsEvent::Changed`]) and queue
/// setting ([`JobsEvent::Queue`]).
pub const JOBS_TOPIC: &str = "jobs";

/// The queue a job goes to when none is named.
pub const DEFAULT_QUEUE: &str = "default";
/// The priority of a job when none is given (0 is the highest, 9 the
/// lowest).
pub const DEFAULT_PRIORITY: u8 = 5;
/// The lowest priority (the largest number).
pub const LOWEST_PRIORITY: u8 = 9;
/// How many attempts a job gets when none is given.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 20;
/// The largest `args` (and `result`) document, in bytes of JSON text.
pub const MAX_ARGS: usize = 1 << 20;
/// The largest `result` document, in bytes of JSON text.
pub const MAX_RESULT: usize = 64 << 10;
/// The longest error message kept for one attempt, in bytes (longer ones
/// keep their end, where the cause usually is).
pub const MAX_ERROR: usize = 4096;
/// The most jobs one enqueue, claim, heartbeat or acknowledgement may
/// carry.
pub const MAX_BATCH: usize = 1000;
/// The most jobs one list returns.
pub const MAX_LIST: u32 = 1000;
/// The lease a claim gets when it does not ask for one, in ms.
pub const DEFAULT_LEASE_MS: u64 = 30_000;
/// The longest a claim may wait for a job, in ms.
pub const MAX_WAIT_MS: u64 = 60_000;
/// Kinds the daemon runs itself; jobs of these kinds are never handed to
/// external workers (tests and benchmarks use them).
pub const BUILTIN_KINDS: [&str; 3] = ["noop", "sleep", "fail"];

crate::messages! {
    /// Jobs operations. Every one needs a signed-in connection.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum JobsOp {
        /// Enqueue 1 to [`MAX_BATCH`] jobs in one durable transaction.
        /// Answered with [`JobsReply::Enqueued`] once stored.
        Enqueue {
            /// The jobs.
            jobs: Vec<NewJob>,
        } = "jobs_enqueue",
        /// Claim up to `limit` available jobs of `queue` (highest priority,
        /// then oldest first), each leased for `lease_ms`. With `wait_ms`,
        /// waits that long for a job when none is available (a long poll).
        /// Answered with [`JobsReply::Claimed`] (possibly empty).
        Claim {
            /// The queue.
            queue: String,
            /// At most this many jobs (1 to [`MAX_BATCH`]).
            limit: u32,
            /// The lease, in ms (default [`DEFAULT_LEASE_MS`]).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            lease_ms: Option<u64>,
            /// How long to wait for a job, in ms (at most [`MAX_WAIT_MS`];
            /// default 0: answer at once).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            wait_ms: Option<u64>,
        } = "jobs_claim",
        /// Extend the leases of running jobs. Answered with
        /// [`JobsReply::Heartbeat`], which also says which jobs were
        /// cancelled (stop them) or lost (their lease expired).
        Heartbeat {
            /// The leases to extend.
            leases: Vec<Lease>,
            /// The new lease, in ms from now (default [`DEFAULT_LEASE_MS`]).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            lease_ms: Option<u64>,
        } = "jobs_heartbeat",
        /// Report jobs done. Idempotent: completing a job again is not an
        /// error. Answered with [`JobsReply::Acked`].
        Complete {
            /// The jobs and their results.
            jobs: Vec<Completion>,
        } = "jobs_complete",
        /// Report jobs failed: each is retried with backoff (or after its
        /// `retry_in_ms`), or dead after its last attempt (or at once with
        /// `discard`). Answered with [`JobsReply::Acked`].
        Fail {
            /// The jobs and their errors.
            jobs: Vec<Failure>,
        } = "jobs_fail",
        /// One job. Answered with [`JobsReply::Job`]; `not_found` when
        /// there is no such job.
        Get {
            /// The job's id.
            id: u64,
        } = "jobs_get",
        /// Jobs, newest first, filtered. Answered with [`JobsReply::List`].
        List {
            /// Only jobs in this state.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            state: Option<JobState>,
            /// Only jobs of this queue.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            queue: Option<String>,
            /// Only jobs of this kind.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            kind: Option<String>,
            /// Only jobs with a smaller id (to page backwards).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            before: Option<u64>,
            /// At most this many (default 50, at most [`MAX_LIST`]).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            limit: Option<u32>,
        } = "jobs_list",
        /// Cancel a scheduled, available, retryable or running job (a
        /// running job's worker learns it from its next heartbeat).
        /// Answered with [`JobsReply::Job`]; `not_found`, or `conflict` when
        /// it already finished.
        Cancel {
            /// The job's id.
            id: u64,
        } = "jobs_cancel",
        /// Run dead, cancelled or retryable jobs again now, with their
        /// attempts reset to 0 (their error history is kept): one by id, or
        /// every dead job (of `queue`, if given). Answered with
        /// [`JobsReply::Count`].
        Retry {
            /// The job; absent with `all_dead`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            id: Option<u64>,
            /// Every dead job instead of one.
            #[serde(default, deserialize_with = "nil_as_default")]
            all_dead: bool,
            /// With `all_dead`: only this queue's.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            queue: Option<String>,
        } = "jobs_retry",
        /// Delete finished jobs (dead, cancelled or completed): one by id,
        /// or every dead job (of `queue`, if given). Answered with
        /// [`JobsReply::Count`].
        Discard {
            /// The job; absent with `all_dead`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            id: Option<u64>,
            /// Every dead job instead of one.
            #[serde(default, deserialize_with = "nil_as_default")]
            all_dead: bool,
            /// With `all_dead`: only this queue's.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            queue: Option<String>,
        } = "jobs_discard",
        /// Counts by state and every queue with its settings and figures.
        /// Answered with [`JobsReply::Stats`].
        Stats = "jobs_stats",
        /// Change a queue's settings; only the fields given change.
        /// Answered with [`JobsReply::Queue`]; `not_found` for a queue that
        /// never had a job.
        QueueSet {
            /// The queue.
            queue: String,
            /// Stop (true) or resume (false) handing out its jobs.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            paused: Option<bool>,
            /// The most jobs running at once (0: no limit).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            concurrency: Option<u32>,
            /// The most jobs started per second (0: no limit).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            rate: Option<u32>,
        } = "jobs_queue_set",
        /// Add a recurring job. Answered with [`JobsReply::Cron`];
        /// `bad_request` for a bad expression, `conflict` for a taken name.
        CronAdd {
            /// The schedule.
            cron: NewCron,
        } = "jobs_cron_add",
        /// Every recurring job. Answered with [`JobsReply::Crons`].
        CronList = "jobs_cron_list",
        /// Remove a recurring job (jobs it already enqueued stay).
        /// Answered with [`crate::BaseReply::Done`]; `not_found`.
        CronRemove {
            /// Its name.
            name: String,
        } = "jobs_cron_remove",
    }
}

crate::messages! {
    /// Answers of the jobs service.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum JobsReply {
        /// Answer to [`JobsOp::Enqueue`]: each job's id, in order.
        Enqueued {
            /// The ids, one per job sent, in the order sent.
            ids: Vec<u64>,
            /// The ids among them that were not new: a job with the same
            /// unique key was already waiting or running.
            #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "nil_as_default")]
            existing: Vec<u64>,
        } = "jobs_enqueued",
        /// Answer to [`JobsOp::Claim`].
        Claimed {
            /// The jobs now leased to the caller, in priority order.
            jobs: Vec<Claimed>,
        } = "jobs_claimed",
        /// Answer to [`JobsOp::Heartbeat`].
        Heartbeat {
            /// Leases extended until this time (ms since the epoch).
            lease_until_ms: u64,
            /// Jobs cancelled meanwhile: stop them (no need to report).
            #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "nil_as_default")]
            cancelled: Vec<u64>,
            /// Jobs no longer leased to the caller (the lease expired and
            /// the job was handed on): stop them.
            #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "nil_as_default")]
            lost: Vec<u64>,
        } = "jobs_heartbeat",
        /// Answer to [`JobsOp::Complete`] and [`JobsOp::Fail`].
        Acked {
            /// Jobs whose outcome was recorded (or already was).
            acked: Vec<u64>,
            /// Jobs whose lease was lost: the outcome was ignored.
            #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "nil_as_default")]
            stale: Vec<u64>,
        } = "jobs_acked",
        /// Answer to [`JobsOp::Get`] and [`JobsOp::Cancel`].
        Job {
            /// The job.
            job: Box<Job>,
        } = "jobs_job",
        /// Answer to [`JobsOp::List`].
        List {
            /// The jobs, newest first.
            jobs: Vec<Job>,
            /// Whether more jobs match beyond the last one.
            more: bool,
        } = "jobs_list",
        /// Answer to [`JobsOp::Retry`] and [`JobsOp::Discard`].
        Count {
            /// How many jobs were affected.
            count: u64,
        } = "jobs_count",
        /// Answer to [`JobsOp::Stats`].
        Stats {
            /// Jobs by state, all queues together.
            states: StateCounts,
            /// Every queue, by name.
            queues: Vec<QueueInfo>,
        } = "jobs_stats",
        /// Answer to [`JobsOp::QueueSet`].
        Queue {
            /// The queue as it is now.
            queue: Box<QueueInfo>,
        } = "jobs_queue",
        /// Answer to [`JobsOp::CronAdd`].
        Cron {
            /// The schedule.
            cron: Box<CronInfo>,
        } = "jobs_cron",
        /// Answer to [`JobsOp::CronList`].
        Crons {
            /// Every schedule, by name.
            crons: Vec<CronInfo>,
        } = "jobs_crons",
    }
}

crate::messages! {
    /// Events of the jobs service, on [`JOBS_TOPIC`] (subscribe to it with
    /// `subscribe`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum JobsEvent {
        /// Jobs changed state, in the order the changes were stored; one
        /// event per stored batch.
        Changed {
            /// The changes.
            changes: Vec<JobChange>,
        } = "jobs_changed",
        /// A queue's settings changed.
        Queue {
            /// The queue as it is now.
            queue: Box<QueueInfo>,
        } = "jobs_queue",
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `run_at` time.
    Scheduled,
    /// Ready to be claimed.
    Available,
    /// Claimed by a worker, under a lease.
    Running,
    /// Failed (or its lease expired); waits for its backoff to end.
    Retryable,
    /// Done.
    Completed,
    /// Failed its last attempt (or was discarded by its worker): in the
    /// dead letter queue until retried or discarded.
    Dead,
    /// Cancelled before it finished.
    Cancelled,
}

impl JobState {
    /// Every state, in life order.
    pub const ALL: [JobState; 7] = [
        JobState::Scheduled,
        JobState::Available,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Dead,
        JobState::Cancelled,
    ];

    /// The state's name, e.g. `"available"`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Available => "available",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the job has finished (it will not run again unless retried).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Dead | JobState::Cancelled
        )
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewJob {
    /// What to run, e.g. `"email.send"` (see [`validate_kind`]).
    pub kind: String,
    /// The queue (default [`DEFAULT_QUEUE`]; see [`validate_queue`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The arguments, a JSON document (default `{}`), at most [`MAX_ARGS`]
    /// bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
    /// 0 (highest) to 9 (lowest); default [`DEFAULT_PRIORITY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Run no earlier than this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at_ms: Option<u64>,
    /// Run no earlier than this many ms from now (by the daemon's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Attempts before the job is dead (default [`DEFAULT_MAX_ATTEMPTS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// While a job with this key is waiting or running, enqueueing another
    /// returns that job's id instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    /// How long one attempt may run, in ms; the worker stops it after that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Free-form labels.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nil_as_default"
    )]
    pub tags: Vec<String>,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Unique, increasing in enqueue order.
    pub id: u64,
    /// The queue.
    pub queue: String,
    /// The kind.
    pub kind: String,
    /// The arguments (JSON text).
    pub args: String,
    /// 0 (highest) to 9 (lowest).
    pub priority: u8,
    /// Where it is.
    pub state: JobState,
    /// Attempts started so far.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// When it may run next (ms since the epoch).
    pub run_at_ms: u64,
    /// When it was enqueued.
    pub inserted_at_ms: u64,
    /// When it was scheduled: enqueued, retried, or put back.
    pub scheduled_at_ms: u64,
    /// When its last attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempted_at_ms: Option<u64>,
    /// When it finished (completed, dead or cancelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
    /// Errors of failed attempts, oldest first.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nil_as_default"
    )]
    pub errors: Vec<AttemptError>,
    /// The result of the attempt that completed it (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Its unique key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    /// Its time limit per attempt, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Its labels.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nil_as_default"
    )]
    pub tags: Vec<String>,
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    /// The attempt (1 for the first).
    pub attempt: u32,
    /// When it failed (ms since the epoch).
    pub at_ms: u64,
    /// What the worker said (or `lease expired`).
    pub message: String,
}

/// A job handed to a worker by [`JobsOp::Claim`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimed {
    /// The job's id.
    pub id: u64,
    /// Its queue.
    pub queue: String,
    /// Its kind.
    pub kind: String,
    /// Its arguments (JSON text).
    pub args: String,
    /// This attempt (1 for the first): with the id, the lease's identity.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Its time limit, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The lease ends then unless extended (ms since the epoch).
    pub lease_until_ms: u64,
}

impl Claimed {
    /// This claim's lease.
    pub fn lease(&self) -> Lease {
        Lease {
            id: self.id,
            attempt: self.attempt,
        }
    }
}

/// A lease: a job and the attempt it was claimed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// The job's id.
    pub id: u64,
    /// The attempt.
    pub attempt: u32,
}

/// A job done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// The job's id.
    pub id: u64,
    /// The attempt that did it.
    pub attempt: u32,
    /// Its result, a JSON document of at most [`MAX_RESULT`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// A job failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The job's id.
    pub id: u64,
    /// The attempt that failed.
    pub attempt: u32,
    /// Why (at most [`MAX_ERROR`] bytes are kept).
    pub error: String,
    /// Retry after this many ms instead of the backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// Do not retry: the job is dead at once.
    #[serde(default, deserialize_with = "nil_as_default")]
    pub discard: bool,
}

/// A state change, as pushed in [`JobsEvent::Changed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobChange {
    /// The job's id.
    pub id: u64,
    /// Its queue.
    pub queue: String,
    /// Its kind.
    pub kind: String,
    /// Its new state; `None` when it was deleted (discarded or pruned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<JobState>,
    /// Its attempt count now.
    pub attempt: u32,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StateCounts {
    /// Waiting for their time.
    pub scheduled: u64,
    /// Ready to run.
    pub available: u64,
    /// Running.
    pub running: u64,
    /// Waiting to be retried.
    pub retryable: u64,
    /// Done (until pruned).
    pub completed: u64,
    /// In the dead letter queue.
    pub dead: u64,
    /// Cancelled (until pruned).
    pub cancelled: u64,
}

impl StateCounts {
    /// The count of one state.
    pub fn get(&self, state: JobState) -> u64 {
        match state {
            JobState::Scheduled => self.scheduled,
            JobState::Available => self.available,
            JobState::Running => self.running,
            JobState::Retryable => self.retryable,
            JobState::Completed => self.completed,
            JobState::Dead => self.dead,
            JobState::Cancelled => self.cancelled,
        }
    }

    /// The count of one state, to change.
    pub fn get_mut(&mut self, state: JobState) -> &mut u64 {
        match state {
            JobState::Scheduled => &mut self.scheduled,
            JobState::Available => &mut self.available,
            JobState::Running => &mut self.running,
            JobState::Retryable => &mut self.retryable,
            JobState::Completed => &mut self.completed,
            JobState::Dead => &mut self.dead,
            JobState::Cancelled => &mut self.cancelled,
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &StateCounts) {
        for s in JobState::ALL {
            *self.get_mut(s) += other.get(s);
        }
    }
}

/// A queue: its settings and figures.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueueInfo {
    /// Its name.
    pub name: String,
    /// Whether its jobs are held back.
    pub paused: bool,
    /// The most jobs running at once (0: no limit).
    pub concurrency: u32,
    /// The most jobs started per second (0: no limit).
    pub rate: u32,
    /// Its jobs by state.
    pub states: StateCounts,
    /// Jobs completed in each of the last 60 seconds, oldest first.
    pub throughput: Vec<u32>,
    /// Median wait of recently started jobs, from when they could run to
    /// when they started (ms).
    pub wait_p50_ms: u64,
    /// 99th percentile of that wait (ms).
    pub wait_p99_ms: u64,
    /// Median run time of recently finished attempts (ms).
    pub run_p50_ms: u64,
    /// 99th percentile of that run time (ms).
    pub run_p99_ms: u64,
}

/// A recurring job to add.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewCron {
    /// Its name (the queue rule: see [`validate_queue`]).
    pub name: String,
    /// The schedule: a cron expression of 5 fields (minute hour day month
    /// weekday) or 6 (with seconds first), in UTC.
    pub expr: String,
    /// The job each slot enqueues (`kind`, `queue`, `args`, `priority`,
    /// `max_attempts`, `timeout_ms`, `tags`; `run_at_ms`, `delay_ms` and
    /// `unique_key` are ignored).
    pub job: NewJob,
    /// Run every slot missed while the daemon was down (at most 100),
    /// instead of one for all of them.
    #[serde(default, deserialize_with = "nil_as_default")]
    pub catch_up: bool,
}

/// A recurring job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronInfo {
    /// Its name.
    pub name: String,
    /// Its schedule.
    pub expr: String,
    /// The kind of job it enqueues.
    pub kind: String,
    /// The queue.
    pub queue: String,
    /// The arguments (JSON text).
    pub args: String,
    /// The priority.
    pub priority: u8,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Time limit per attempt, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Whether missed slots each run.
    pub catch_up: bool,
    /// The next slot (ms since the epoch).
    pub next_run_ms: u64,
    /// The last slot that enqueued a job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_ms: Option<u64>,
    /// The job the last slot enqueued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_job: Option<u64>,
}

/// The longest queue (and cron) name, in bytes.
pub const MAX_QUEUE: usize = 64;
/// The longest kind, in bytes.
pub const MAX_KIND: usize = 128;

/// Checks and normalises a queue name: 1 to 64 characters of `a-z`, `0-9`,
/// `.`, `_` and `-`, after folding ASCII upper case (like room names).
///
/// # Errors
/// A sentence naming the rule that was broken.
pub fn validate_queue(queue: &str) -> Result<String, String> {
    validate_name("queue", queue)
}

/// Checks and normalises a cron schedule's name (the queue rule).
///
/// # Errors
/// A sentence naming the rule that was broken.
pub fn validate_cron_name(name: &str) -> Result<String, String> {
    validate_name("cron name", name)
}

fn validate_name(what: &str, name: &str) -> Result<String, String> {
    let folded = name.to_ascii_lowercase();
    if folded.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if folded.len() > MAX_QUEUE {
        return Err(format!(
            "{what} is {} bytes long; the limit is {MAX_QUEUE}",
            folded.len()
        ));
    }
    if let Some(bad) = folded
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "{what} {name:?} contains {bad:?}; use 1-64 of a-z, 0-9, '.', '_' and '-'"
        ));
    }
    Ok(folded)
}

/// Checks a job kind: 1 to 128 characters of ASCII letters, digits and
/// `. _ - : /` (case is kept: `Reports::Daily` and `email.send` are fine).
///
/// # Errors
/// A sentence naming the rule that was broken.
pub fn validate_kind(kind: &str) -> Result<(), String> {
    if kind.is_empty() {
        return Err("job kind is empty".into());
    }
    if kind.len() > MAX_KIND {
        return Err(format!(
            "job kind is {} bytes long; the limit is {MAX_KIND}",
            kind.len()
        ));
    }
    if let Some(bad) = kind
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/')))
    {
        return Err(format!(
            "job kind {kind:?} contains {bad:?}; use letters, digits and '.', '_', '-', ':', '/'"
        ));
    }
    Ok(())
}

/// Whether the daemon runs jobs of `kind` itself.
pub fn is_builtin(kind: &str) -> bool {
    BUILTIN_KINDS.contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules() {
        assert_eq!(validate_queue("Mail").unwrap(), "mail");
        assert!(validate_queue("").is_err());
        assert!(validate_queue("a b").unwrap_err().contains("' '"));
        assert!(validate_queue(&"x".repeat(65)).is_err());
        assert!(validate_kind("Reports::Daily").is_ok());
        assert!(validate_kind("email.send/v2").is_ok());
        assert!(validate_kind("rm -rf").is_err());
        assert!(validate_kind("").is_err());
        assert!(is_builtin("noop") && !is_builtin("Noop"));
    }

    #[test]
    fn states_round_trip_by_name() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobState::parse("lost"), None);
        assert!(JobState::Dead.is_finished() && !JobState::Retryable.is_finished());
    }
}
