//! Jobs: a persistent background job queue — priorities, schedules, cron,
//! retries with backoff, dead letters, workers in any language.
//!
//! - [`writer`]: the group-commit thread that makes every change (enqueue,
//!   claim, heartbeat, complete, fail, cancel, retry, discard, queue
//!   settings, cron, and the scheduler's ticks) in one transaction per
//!   batch, and answers only after the commit;
//! - [`book`]: the writer's in-memory counts, queue settings and figures;
//! - [`schedule`]: cron expressions; [`backoff`]: the retry curve;
//! - [`convert`]: checks on what clients send, rows to wire types;
//! - [`builtin`]: the runner of the kinds the daemon runs itself (`noop`,
//!   `sleep`, `fail`).
//!
//! Reads (`jobs_get`, `jobs_list`, `jobs_cron_list`) go to SQLite's
//! read connections directly. Two tasks run beside the writer: the
//! scheduler, which sleeps until the next due time (a scheduled job's
//! `run_at`, a lease's end, a cron slot, pruning) and then sends the writer
//! a tick — no polling — and the built-in runner.
//!
//! Delivery is at least once: a worker that dies (or stops heartbeating)
//! loses its lease and the job runs again. Completion is idempotent.
//! Every state change is published on the `jobs` topic, in batches.

pub mod backoff;
pub mod book;
pub mod builtin;
pub mod convert;
pub mod fleet;
pub mod schedule;
pub mod writer;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use agora_db::jobs::Filter;
use agora_db::{Access, Storage};
use agora_wire::jobs::{
    Claimed, DEFAULT_LEASE_MS, Job, JobState, MAX_BATCH, MAX_LIST, MAX_WAIT_MS, NewJob, QueueInfo,
    StateCounts, validate_queue,
};
use agora_wire::{BaseReply, ErrorBody, ErrorCode, JobsOp, JobsReply, Reply};
use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::Hub;
use crate::service::{Routed, Service, signed_in};
use crate::session::Session;
use writer::{ClaimOutcome, Clock, Command, QueueChange, Signals, Target, Writer};

/// The jobs service's settings, from the daemon's configuration.
#[derive(Debug, Clone, Copy)]
pub struct JobsConfig {
    /// How long completed and cancelled jobs are kept.
    pub retention: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            retention: Duration::from_secs(24 * 3600),
        }
    }
}

/// The shortest and longest lease a claim or heartbeat may ask for.
const LEASE_RANGE: (u64, u64) = (1_000, 3_600_000);
/// The queue in front of the writer: bounded, so a stalled disk pushes
/// back on clients instead of growing.
const COMMAND_QUEUE: usize = 16_384;

/// The jobs service. Cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    signals: Arc<Signals>,
    storage: Storage,
    max_frame: usize,
    shutdown: CancellationToken,
    /// A fleet's listener, until `spawn` starts its thread.
    following: std::sync::Mutex<Option<fleet::Following>>,
}

impl Jobs {
    /// Loads the queue and starts the writer thread (blocking: call it off
    /// the async runtime).
    ///
    /// # Errors
    /// When the database cannot be read or the thread cannot start.
    pub fn open(
        storage: Storage,
        hub: Arc<Hub>,
        config: JobsConfig,
        max_frame: usize,
    ) -> anyhow::Result<Jobs> {
        Jobs::open_with_clock(storage, hub, config, max_frame, Arc::new(crate::now_ms))
    }

    /// As [`Jobs::open`], with the writer reading time from `clock`.
    ///
    /// # Errors
    /// As [`Jobs::open`].
    pub fn open_with_clock(
        storage: Storage,
        hub: Arc<Hub>,
        config: JobsConfig,
        max_frame: usize,
        clock: Clock,
    ) -> anyhow::Result<Jobs> {
        // Listen first: whatever commits while the counts load is heard
        // (and what they already saw is skipped: `Writer`'s snapshot).
        let following = match &storage {
            Storage::Postgres(pg) => Some(
                fleet::Following::start(pg).context("cannot listen to the fleet's job changes")?,
            ),
            Storage::Sqlite(_) => None,
        };
        let writer = Writer::open(
            storage.clone(),
            hub,
            clock,
            config.retention.as_millis() as u64,
        )
        .context("cannot load the job queue")?;
        let signals = writer.signals();
        let (commands, queue) = mpsc::channel(COMMAND_QUEUE);
        std::thread::Builder::new()
            .name("agora-jobs-writer".into())
            .spawn(move || writer.run(queue))
            .context("cannot start the jobs writer thread")?;
        Ok(Jobs {
            inner: Arc::new(Inner {
                commands,
                signals,
                storage,
                max_frame,
                shutdown: CancellationToken::new(),
                following: std::sync::Mutex::new(following),
            }),
        })
    }

    /// Starts the scheduler and the built-in runner; both stop when
    /// `token` is cancelled (and so do claims waiting for work).
    pub fn spawn(&self, token: CancellationToken, tracker: &TaskTracker) {
        let inner = self.inner.shutdown.clone();
        let stop = token.clone();
        tracker.spawn(async move {
            stop.cancelled().await;
            inner.cancel();
        });
        let following = self
            .inner
            .following
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(following) = following {
            let (commands, stop) = (self.inner.commands.clone(), token.clone());
            let started = std::thread::Builder::new()
                .name("agora-jobs-fleet".into())
                .spawn(move || fleet::listen(following, commands, stop));
            if let Err(err) = started {
                tracing::error!(%err, "cannot start the jobs' fleet listener");
            }
        }
        tracker.spawn(schedule(self.clone(), token.clone()));
        tracker.spawn(builtin::run(self.clone(), token));
    }

    /// What the writer shares (waiters, queue names, the change counter).
    pub fn signals(&self) -> &Arc<Signals> {
        &self.inner.signals
    }

    /// Sends a command to the writer and waits for its answer.
    ///
    /// # Errors
    /// The command's own error; `unavailable` when the writer is gone;
    /// `internal` when its batch failed.
    pub async fn ask<T>(
        &self,
        make: impl FnOnce(writer::Reply<T>) -> Command,
    ) -> Result<T, ErrorBody> {
        let (reply, answer) = oneshot::channel();
        self.inner.commands.send(make(reply)).await.map_err(|_| {
            ErrorBody::new(ErrorCode::Unavailable, "the job queue is shutting down")
        })?;
        answer.await.map_err(|_| {
            ErrorBody::new(ErrorCode::Internal, "internal error; see the daemon's log")
        })?
    }

    /// Enqueues jobs from inside the daemon (the alerts' hook), as
    /// `jobs_enqueue` does: answered after the commit. Returns the ids.
    ///
    /// # Errors
    /// `bad_request` for a job the queue refuses; as [`Jobs::ask`].
    pub async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<u64>, ErrorBody> {
        check_batch(jobs.len())?;
        let now = crate::now_ms();
        let rows = jobs
            .into_iter()
            .map(|j| convert::new_row(j, now))
            .collect::<Result<Vec<_>, _>>()?;
        let (ids, _) = self
            .ask(|reply| Command::Enqueue { jobs: rows, reply })
            .await?;
        Ok(ids)
    }

    /// Counts by state and every queue.
    ///
    /// # Errors
    /// As [`Jobs::ask`].
    pub async fn stats(&self) -> Result<(StateCounts, Vec<QueueInfo>), ErrorBody> {
        self.ask(|reply| Command::Stats { reply }).await
    }

    /// One job.
    ///
    /// # Errors
    /// `not_found`; `internal` on a database error.
    pub async fn get(&self, id: u64) -> Result<Job, ErrorBody> {
        let row = crate::service::storage(&self.inner.storage, move |s| {
            s.jobs(Access::Read, |j| j.get(id.min(i64::MAX as u64) as i64))
        })
        .await?;
        row.map(convert::job)
            .ok_or_else(|| ErrorBody::new(ErrorCode::NotFound, format!("no job {id}")))
    }

    /// Jobs, newest first; `more` when more match. The list stops early
    /// (with `more`) before its answer would fill half a frame.
    ///
    /// # Errors
    /// `bad_request` for a bad limit or queue name, `not_found` for an
    /// unknown queue.
    pub async fn list(
        &self,
        state: Option<JobState>,
        queue: Option<String>,
        kind: Option<String>,
        before: Option<u64>,
        limit: Option<u32>,
    ) -> Result<(Vec<Job>, bool), ErrorBody> {
        let limit = limit.unwrap_or(50);
        if !(1..=MAX_LIST).contains(&limit) {
            return Err(ErrorBody::bad_request(format!(
                "limit {limit} is out of range: 1 to {MAX_LIST}"
            )));
        }
        let queue = match queue {
            Some(q) => Some(self.known_queue(&q)?),
            None => None,
        };
        let filter = Filter {
            state: state.map(book::stored_state),
            queue,
            kind,
            before: before.map(|b| b.min(i64::MAX as u64) as i64),
        };
        let rows = crate::service::storage(&self.inner.storage, move |s| {
            s.jobs(Access::Read, |j| j.list(&filter, i64::from(limit) + 1))
        })
        .await?;
        let budget = self.inner.max_frame / 2;
        let mut used = 0;
        let mut more = rows.len() > limit as usize;
        let mut jobs = Vec::with_capacity(rows.len().min(limit as usize));
        for row in rows.into_iter().take(limit as usize) {
            used += 256
                + row.args.len()
                + row.errors.len()
                + row.result.as_ref().map_or(0, String::len);
            if used > budget && !jobs.is_empty() {
                more = true;
                break;
            }
            jobs.push(convert::job(row));
        }
        Ok((jobs, more))
    }

    /// Retries one job, or every dead one (of a queue).
    ///
    /// # Errors
    /// As the writer's `Retry`.
    pub async fn retry(&self, target: Target) -> Result<u64, ErrorBody> {
        self.check_target(&target)?;
        self.ask(|reply| Command::Retry { target, reply }).await
    }

    /// Discards one job, or every dead one (of a queue).
    ///
    /// # Errors
    /// As the writer's `Discard`.
    pub async fn discard(&self, target: Target) -> Result<u64, ErrorBody> {
        self.check_target(&target)?;
        self.ask(|reply| Command::Discard { target, reply }).await
    }

    fn check_target(&self, target: &Target) -> Result<(), ErrorBody> {
        if let Target::AllDead(Some(queue)) = target {
            self.known_queue(queue)?;
        }
        Ok(())
    }

    /// A queue name checked and known.
    fn known_queue(&self, queue: &str) -> Result<String, ErrorBody> {
        let queue = validate_queue(queue).map_err(ErrorBody::bad_request)?;
        if !self.inner.signals.has_queue(&queue) {
            return Err(writer::unknown_queue(&queue));
        }
        Ok(queue)
    }

    /// Claims jobs, waiting up to `wait_ms` for one (a long poll: woken
    /// when jobs become available, never polling). Once `abandon` is
    /// cancelled (the client's connection stopped reading) the claim
    /// answers empty and takes nothing, however long it had left.
    ///
    /// # Errors
    /// As [`Jobs::ask`].
    pub async fn claim(
        &self,
        queue: String,
        builtin: bool,
        limit: u32,
        lease_ms: u64,
        wait_ms: u64,
        abandon: Option<CancellationToken>,
    ) -> Result<Vec<Claimed>, ErrorBody> {
        let abandoned = async {
            match &abandon {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(abandoned);
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        let notify = self.inner.signals.waiter(&queue);
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            // Registered before asking, so a wake-up between the answer
            // and the wait is not lost.
            notified.as_mut().enable();
            let ClaimOutcome { jobs, retry_in_ms } = self
                .ask(|reply| Command::Claim {
                    queue: queue.clone(),
                    builtin,
                    limit,
                    lease_ms,
                    abandon: abandon.clone(),
                    reply,
                })
                .await?;
            let now = Instant::now();
            if !jobs.is_empty() || now >= deadline {
                return Ok(jobs);
            }
            let mut wait = deadline - now;
            if let Some(ms) = retry_in_ms {
                wait = wait.min(Duration::from_millis(ms));
            }
            if self.inner.storage.is_shared() {
                // Other nodes' jobs wake this claim through the fleet's
                // notifications; the poll is a backstop.
                wait = wait.min(fleet_poll());
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(wait) => {}
                () = self.inner.shutdown.cancelled() => return Ok(Vec::new()),
                () = &mut abandoned => return Ok(Vec::new()),
            }
        }
    }

    async fn answer(&self, op: JobsOp, input: CancellationToken) -> Result<Reply, ErrorBody> {
        let now = crate::now_ms();
        Ok(match op {
            JobsOp::Enqueue { jobs } => {
                check_batch(jobs.len())?;
                let rows = jobs
                    .into_iter()
                    .map(|j| convert::new_row(j, now))
                    .collect::<Result<Vec<_>, _>>()?;
                let (ids, existing) = self
                    .ask(|reply| Command::Enqueue { jobs: rows, reply })
                    .await?;
                JobsReply::Enqueued { ids, existing }.into()
            }
            JobsOp::Claim {
                queue,
                limit,
                lease_ms,
                wait_ms,
            } => {
                let queue = validate_queue(&queue).map_err(ErrorBody::bad_request)?;
                check_batch(limit as usize)?;
                let lease_ms = lease(lease_ms)?;
                let wait_ms = wait_ms.unwrap_or(0);
                if wait_ms > MAX_WAIT_MS {
                    return Err(ErrorBody::bad_request(format!(
                        "wait_ms {wait_ms} is out of range: 0 to {MAX_WAIT_MS}"
                    )));
                }
                let jobs = self
                    .claim(queue, false, limit, lease_ms, wait_ms, Some(input))
                    .await?;
                JobsReply::Claimed { jobs }.into()
            }
            JobsOp::Heartbeat { leases, lease_ms } => {
                check_batch(leases.len())?;
                let lease_ms = lease(lease_ms)?;
                let outcome = self
                    .ask(|reply| Command::Heartbeat {
                        leases,
                        lease_ms,
                        reply,
                    })
                    .await?;
                JobsReply::Heartbeat {
                    lease_until_ms: outcome.lease_until_ms,
                    cancelled: outcome.cancelled,
                    lost: outcome.lost,
                }
                .into()
            }
            JobsOp::Complete { jobs } => {
                check_batch(jobs.len())?;
                for job in &jobs {
                    convert::check_result(job.result.as_deref())?;
                }
                let (acked, stale) = self.ask(|reply| Command::Complete { jobs, reply }).await?;
                JobsReply::Acked { acked, stale }.into()
            }
            JobsOp::Fail { mut jobs } => {
                check_batch(jobs.len())?;
                for job in &mut jobs {
                    job.error = convert::trim_error(std::mem::take(&mut job.error));
                }
                let (acked, stale) = self.ask(|reply| Command::Fail { jobs, reply }).await?;
                JobsReply::Acked { acked, stale }.into()
            }
            JobsOp::Get { id } => JobsReply::Job {
                job: Box::new(self.get(id).await?),
            }
            .into(),
            JobsOp::List {
                state,
                queue,
                kind,
                before,
                limit,
            } => {
                let (jobs, more) = self.list(state, queue, kind, before, limit).await?;
                JobsReply::List { jobs, more }.into()
            }
            JobsOp::Cancel { id } => {
                let row = self.ask(|reply| Command::Cancel { id, reply }).await?;
                JobsReply::Job {
                    job: Box::new(convert::job(row)),
                }
                .into()
            }
            JobsOp::Retry {
                id,
                all_dead,
                queue,
            } => {
                let count = self.retry(target(id, all_dead, queue)?).await?;
                JobsReply::Count { count }.into()
            }
            JobsOp::Discard {
                id,
                all_dead,
                queue,
            } => {
                let count = self.discard(target(id, all_dead, queue)?).await?;
                JobsReply::Count { count }.into()
            }
            JobsOp::Stats => {
                let (states, queues) = self.stats().await?;
                JobsReply::Stats { states, queues }.into()
            }
            JobsOp::QueueSet {
                queue,
                paused,
                concurrency,
                rate,
            } => {
                let queue = self.known_queue(&queue)?;
                let change = QueueChange {
                    paused,
                    concurrency,
                    rate,
                };
                let queue = self
                    .ask(|reply| Command::QueueSet {
                        queue,
                        change,
                        reply,
                    })
                    .await?;
                JobsReply::Queue {
                    queue: Box::new(queue),
                }
                .into()
            }
            JobsOp::CronAdd { cron } => {
                let row = convert::cron_row(cron)?;
                let row = self
                    .ask(|reply| Command::CronAdd { cron: row, reply })
                    .await?;
                JobsReply::Cron {
                    cron: Box::new(convert::cron(row)),
                }
                .into()
            }
            JobsOp::CronList => {
                let rows = crate::service::storage(&self.inner.storage, |s| {
                    s.jobs(Access::Read, |j| j.crons())
                })
                .await?;
                JobsReply::Crons {
                    crons: rows.into_iter().map(convert::cron).collect(),
                }
                .into()
            }
            JobsOp::CronRemove { name } => {
                let name =
                    agora_wire::jobs::validate_cron_name(&name).map_err(ErrorBody::bad_request)?;
                self.ask(|reply| Command::CronRemove { name, reply })
                    .await?;
                BaseReply::Done.into()
            }
        })
    }
}

fn check_batch(n: usize) -> Result<(), ErrorBody> {
    if !(1..=MAX_BATCH).contains(&n) {
        return Err(ErrorBody::bad_request(format!(
            "{n} jobs in one request: send 1 to {MAX_BATCH}"
        )));
    }
    Ok(())
}

fn lease(lease_ms: Option<u64>) -> Result<u64, ErrorBody> {
    let lease = lease_ms.unwrap_or(DEFAULT_LEASE_MS);
    if !(LEASE_RANGE.0..=LEASE_RANGE.1).contains(&lease) {
        return Err(ErrorBody::bad_request(format!(
            "lease_ms {lease} is out of range: {} to {}",
            LEASE_RANGE.0, LEASE_RANGE.1
        )));
    }
    Ok(lease)
}

fn target(id: Option<u64>, all_dead: bool, queue: Option<String>) -> Result<Target, ErrorBody> {
    match (id, all_dead) {
        (Some(id), false) if queue.is_none() => Ok(Target::One(id)),
        (None, true) => Ok(Target::AllDead(queue)),
        (Some(_), false) => Err(ErrorBody::bad_request(
            "queue goes with all_dead, not with id",
        )),
        _ => Err(ErrorBody::bad_request("give either id or all_dead")),
    }
}

impl Service for Jobs {
    type Op = JobsOp;

    fn route(&self, op: JobsOp, session: &Arc<Session>) -> Routed {
        if let Err(err) = signed_in(session) {
            return Routed::Done(Err(err));
        }
        let jobs = self.clone();
        let input = session.input_ended().clone();
        Routed::Later(Box::pin(async move { jobs.answer(op, input).await }))
    }
}

/// How often a node of a fleet ticks, and a waiting claim looks again,
/// whatever it heard: other nodes' changes arrive as notifications
/// (`fleet`) and wake both at once; this poll is the backstop for a node
/// that died before announcing what it made due. End-to-end tests that
/// prove the notifications do the waking set it far out
/// (`AGORA_TEST_JOBS_FLEET_POLL_MS`, read once).
fn fleet_poll() -> Duration {
    static POLL: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *POLL.get_or_init(|| {
        std::env::var("AGORA_TEST_JOBS_FLEET_POLL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(1), Duration::from_millis)
    })
}

/// The scheduler: sleeps until the next due time (or until the writer
/// says something is due sooner), then asks the writer to do what is due.
/// In a fleet it also ticks every [`fleet_poll`].
async fn schedule(jobs: Jobs, token: CancellationToken) {
    let signals = jobs.inner.signals.clone();
    let poll = jobs.inner.storage.is_shared().then(fleet_poll);
    let mut last_tick = Instant::now();
    loop {
        let changed = signals.due_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let due = signals.next_due.load(Ordering::Relaxed);
        let now = crate::now_ms();
        let polled = poll.is_some_and(|p| last_tick.elapsed() >= p);
        if due <= now || polled {
            last_tick = Instant::now();
            if let Err(err) = jobs.ask(|reply| Command::Tick { reply: Some(reply) }).await {
                tracing::warn!(message = %err.message, "job scheduler tick failed");
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            continue;
        }
        let wait = async {
            let until_due = (due != u64::MAX).then(|| Duration::from_millis(due - now));
            match (until_due, poll) {
                (None, None) => std::future::pending::<()>().await,
                (Some(d), None) => tokio::time::sleep(d).await,
                (None, Some(p)) => tokio::time::sleep(p).await,
                (Some(d), Some(p)) => tokio::time::sleep(d.min(p)).await,
            }
        };
        tokio::select! {
            () = token.cancelled() => return,
            () = &mut changed => {}
            () = wait => {}
        }
    }
}

#[cfg(test)]
mod tests;
