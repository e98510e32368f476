//! Group commit: one thread makes every change to the job queue.
//!
//! Requests queue a [`Command`] and wait for its answer. The thread takes
//! whatever is queued (up to [`MAX_BATCH`] commands), runs them in order
//! inside one transaction (`Storage::jobs`: `BEGIN IMMEDIATE` on SQLite;
//! on a fleet's PostgreSQL claims skip rows other nodes hold and a cron
//! slot is taken by a primary key), commits, and only then answers
//! them, publishes the state changes on the `jobs` topic and wakes the
//! claims waiting for work. So an enqueue is acknowledged only once it is
//! on disk (it survives `kill -9`), and a burst of enqueues, claims and
//! acknowledgements costs one commit per batch rather than one per job.
//!
//! The thread owns the [`Book`] (counts, queue settings, rate buckets), so a
//! claim's concurrency and rate checks see every earlier command of its
//! batch; if a commit fails the book is reloaded from the database. Time
//! comes from the [`Clock`] it was given, read once per batch, so tests
//! drive scheduling, leases, backoff and cron with a fake one.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use agora_db::jobs::{
    Acked, Change, ClaimedRow, Completed, CronRow, FailTo, Inserted, JobStore, LeaseState, NewRow,
    Outcome, QueueRow, State,
};
use agora_db::{Access, Storage};
use agora_wire::jobs::{
    Claimed, Completion, Failure, JOBS_TOPIC, JobChange, Lease, QueueInfo, StateCounts, is_builtin,
};
use agora_wire::{ErrorBody, ErrorCode, JobsEvent};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::backoff::wait_ms;
use super::book::{Book, wire_state};
use super::schedule::Schedule;
use crate::hub::Hub;

/// The most commands run in one transaction.
pub const MAX_BATCH: usize = 512;
/// How many finished jobs one pruning pass deletes at most.
const PRUNE_BATCH: i64 = 10_000;
/// How often finished jobs are pruned.
const PRUNE_EVERY_MS: u64 = 60_000;
/// The most state changes in one `jobs_changed` event.
const CHANGES_PER_EVENT: usize = 1_000;

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
}

/// What the writer tells everyone else, shared with the handle.
pub struct Signals {
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    /// Wakes the built-in runner: built-in jobs became available.
    pub builtin: Notify,
    /// Every queue's name.
    pub queues: RwLock<BTreeSet<String>>,
    /// The earliest time something is due (`u64::MAX`: nothing).
    pub next_due: AtomicU64,
    /// Wakes the scheduler: `next_due` moved earlier.
    pub due_changed: Notify,
    /// Bumped after each commit that changed something (the web page's
    /// live updates wait on it).
    pub version: watch::Sender<u64>,
    /// Every queue's counts added up, as of the last commit (the metrics
    /// service's `agora.jobs.*` gauges read it).
    pub totals: Mutex<StateCounts>,
    /// Jobs completed since the daemon started (a counter: the metrics
    /// service turns it into `agora.jobs.completed_per_sec`).
    pub completed: AtomicU64,
}

impl Signals {
    fn new() -> Signals {
        Signals {
            waiters: Mutex::new(HashMap::new()),
            builtin: Notify::new(),
            queues: RwLock::new(BTreeSet::new()),
            next_due: AtomicU64::new(u64::MAX),
            due_changed: Notify::new(),
            version: watch::Sender::new(0),
            totals: Mutex::new(StateCounts::default()),
            completed: AtomicU64::new(0),
        }
    }

    /// The notification claims on `queue` wait for.
    pub fn waiter(&self, queue: &str) -> Arc<Notify> {
        let mut map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(queue.to_owned()).or_default().clone()
    }

    fn wake(&self, queue: &str) {
        let map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(notify) = map.get(queue) {
            notify.notify_waiters();
        }
    }

    /// Whether `queue` exists.
    pub fn has_queue(&self, queue: &str) -> bool {
        self.queues
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(queue)
    }

    /// Every queue's name.
    pub fn queue_names(&self) -> Vec<String> {
        self.queues
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// What a batch did besides answering: published, woken, scheduled after
/// the commit.
#[derive(Default)]
struct Effects {
    changes: Vec<Change>,
    wake: BTreeSet<String>,
    builtin: bool,
    /// The earliest new due time.
    due: Option<u64>,
    /// `next_due` recomputed from the database (replaces it).
    recomputed: Option<u64>,
    queue_events: Vec<QueueInfo>,
    new_queues: Vec<String>,
}

impl Effects {
    fn due(&mut self, at: u64) {
        self.due = Some(self.due.map_or(at, |d| d.min(at)));
    }
}

/// An answer to send once the batch is committed (or failed).
type Done = Box<dyn FnOnce(Option<&ErrorBody>) + Send>;

fn done<T: Send + 'static>(reply: Reply<T>, value: Result<T, ErrorBody>) -> Done {
    Box::new(move |failed| {
        let _ = reply.send(match failed {
            Some(err) => Err(err.clone()),
            None => value,
        });
    })
}

/// The writer thread's state.
pub struct Writer {
    storage: Storage,
    hub: Arc<Hub>,
    clock: Clock,
    signals: Arc<Signals>,
    book: Book,
    retention_ms: u64,
    next_prune_ms: u64,
}

impl Writer {
    /// Loads the book, fails the built-in jobs a previous process left
    /// running, and computes when something is next due.
    ///
    /// # Errors
    /// When the database cannot be read or written.
    pub fn open(
        storage: Storage,
        hub: Arc<Hub>,
        clock: Clock,
        retention_ms: u64,
    ) -> agora_db::Result<Writer> {
        let signals = Arc::new(Signals::new());
        let now = clock();
        let released = storage.jobs(Access::Write, |repo| {
            repo.release_builtin(now as i64, &mut |attempt, max| {
                retry_or_dead(attempt, max, None, false, now)
            })
        })?;
        if !released.is_empty() {
            tracing::warn!(
                jobs = released.len(),
                "built-in jobs were running when the daemon stopped; they will be retried"
            );
        }
        let (book, due) = storage.jobs(Access::Read, |repo| {
            Ok((Book::load(repo.queues()?, repo.counts()?), repo.next_due()?))
        })?;
        *signals.queues.write().unwrap_or_else(|p| p.into_inner()) =
            book.names().map(str::to_owned).collect();
        *signals.totals.lock().unwrap_or_else(|p| p.into_inner()) = book.totals();
        let next_prune_ms = now + PRUNE_EVERY_MS;
        let due = due.map_or(u64::MAX, |d| d.max(0) as u64).min(next_prune_ms);
        signals.next_due.store(due, Ordering::Relaxed);
        Ok(Writer {
            storage,
            hub,
            clock,
            signals,
            book,
            retention_ms,
            next_prune_ms,
        })
    }

    /// What the writer shares with the handle.
    pub fn signals(&self) -> Arc<Signals> {
        self.signals.clone()
    }

    /// Runs until every sender is gone.
    pub fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = commands.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
        }
    }

    /// Runs one batch in one transaction, then answers and publishes.
    pub fn commit(&mut self, batch: &mut Vec<Command>) {
        let now = (self.clock)();
        let mut effects = Effects::default();
        let mut answers: Vec<Done> = Vec::with_capacity(batch.len());
        let storage = self.storage.clone();
        let result = storage.jobs(Access::Write, |repo| {
            for command in batch.drain(..) {
                answers.push(self.execute(repo, command, now, &mut effects)?);
            }
            Ok(())
        });
        if let Err(err) = result {
            // Commands not yet run were dropped with the drain: their
            // callers see the answer channel close (an internal error).
            let error = crate::service::stored(err);
            for answer in answers {
                answer(Some(&error));
            }
            self.reload();
            return;
        }
        self.publish(&effects);
        for answer in answers {
            answer(None);
        }
        self.signal(effects);
    }

    /// After a failed commit: the book from what is stored.
    fn reload(&mut self) {
        match self.storage.jobs(Access::Read, |repo| {
            Ok(Book::load(repo.queues()?, repo.counts()?))
        }) {
            Ok(book) => self.book = book,
            Err(err) => tracing::error!(%err, "cannot reload the job counts"),
        }
    }

    fn publish(&self, effects: &Effects) {
        if self.hub.subscribers(JOBS_TOPIC) == 0 {
            return;
        }
        for chunk in effects.changes.chunks(CHANGES_PER_EVENT) {
            let changes = chunk
                .iter()
                .map(|c| JobChange {
                    id: c.id as u64,
                    queue: c.queue.clone(),
                    kind: c.kind.clone(),
                    state: c.to.map(wire_state),
                    attempt: c.attempt.max(0) as u32,
                })
                .collect();
            self.hub.publish(JOBS_TOPIC, JobsEvent::Changed { changes });
        }
        for queue in &effects.queue_events {
            self.hub.publish(
                JOBS_TOPIC,
                JobsEvent::Queue {
                    queue: Box::new(queue.clone()),
                },
            );
        }
    }

    fn signal(&mut self, effects: Effects) {
        if !effects.new_queues.is_empty() {
            let mut names = self
                .signals
                .queues
                .write()
                .unwrap_or_else(|p| p.into_inner());
            names.extend(effects.new_queues.iter().cloned());
        }
        for queue in &effects.wake {
            self.signals.wake(queue);
        }
        if effects.builtin {
            self.signals.builtin.notify_one();
        }
        let current = self.signals.next_due.load(Ordering::Relaxed);
        let next = match (effects.recomputed, effects.due) {
            (Some(r), Some(d)) => r.min(d),
            (Some(r), None) => r,
            (None, Some(d)) => current.min(d),
            (None, None) => current,
        };
        if next != current {
            self.signals.next_due.store(next, Ordering::Relaxed);
            if next < current {
                self.signals.due_changed.notify_one();
            }
        }
        if !effects.changes.is_empty() {
            let completed = effects
                .changes
                .iter()
                .filter(|c| c.to == Some(State::Completed))
                .count();
            self.signals
                .completed
                .fetch_add(completed as u64, Ordering::Relaxed);
            *self
                .signals
                .totals
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = self.book.totals();
        }
        if !effects.changes.is_empty() || !effects.queue_events.is_empty() {
            self.signals.version.send_modify(|v| *v += 1);
        }
    }

    /// Counts a change and notes who must be woken.
    fn changed(&mut self, change: Change, effects: &mut Effects) {
        self.book.apply(&change);
        if change.to == Some(State::Available) {
            effects.wake.insert(change.queue.clone());
            effects.builtin |= is_builtin(&change.kind);
        }
        if change.from == Some(State::Running) {
            // A slot is free: claims held back by a concurrency limit may
            // go on.
            if self
                .book
                .get(&change.queue)
                .is_some_and(|q| q.concurrency > 0)
            {
                effects.wake.insert(change.queue.clone());
                effects.builtin = true;
            }
        }
        effects.changes.push(change);
    }

    fn ensure_queue(
        &mut self,
        repo: &mut dyn JobStore,
        queue: &str,
        now: u64,
        effects: &mut Effects,
    ) -> agora_db::Result<()> {
        if !self.book.has(queue) {
            repo.ensure_queue(queue, now as i64)?;
            self.book.queue_mut(queue);
            effects.new_queues.push(queue.to_owned());
        }
        Ok(())
    }

    fn insert(
        &mut self,
        repo: &mut dyn JobStore,
        row: &NewRow,
        now: u64,
        effects: &mut Effects,
    ) -> agora_db::Result<Inserted> {
        self.ensure_queue(repo, &row.queue, now, effects)?;
        let inserted = repo.insert(row, now as i64)?;
        if let Inserted::New(id, state) = inserted {
            self.inserted(row, id, state, effects);
        }
        Ok(inserted)
    }

    /// Counts a new job and notes when it is due.
    fn inserted(&mut self, row: &NewRow, id: i64, state: State, effects: &mut Effects) {
        if state == State::Scheduled {
            effects.due(row.run_at_ms.max(0) as u64);
        }
        self.changed(
            Change {
                id,
                queue: row.queue.clone(),
                kind: row.kind.clone(),
                from: None,
                to: Some(state),
                attempt: 0,
            },
            effects,
        );
    }

    fn execute(
        &mut self,
        repo: &mut dyn JobStore,
        command: Command,
        now: u64,
        effects: &mut Effects,
    ) -> agora_db::Result<Done> {
        Ok(match command {
            Command::Enqueue { jobs, reply } => {
                for row in &jobs {
                    self.ensure_queue(repo, &row.queue, now, effects)?;
                }
                // One call for the request's jobs: one statement per run
                // of unkeyed jobs on PostgreSQL.
                let inserted = repo.insert_batch(&jobs, now as i64)?;
                let mut ids = Vec::with_capacity(jobs.len());
                let mut existing = Vec::new();
                for (row, inserted) in jobs.iter().zip(inserted) {
                    match inserted {
                        Inserted::New(id, state) => {
                            self.inserted(row, id, state, effects);
                            ids.push(id as u64);
                        }
                        Inserted::Existing(id) => {
                            ids.push(id as u64);
                            existing.push(id as u64);
                        }
                    }
                }
                done(reply, Ok((ids, existing)))
            }
            Command::Claim {
                queue,
                builtin,
                limit,
                lease_ms,
                abandon,
                reply,
            } => {
                if self.storage.is_shared() && !self.book.has(&queue) {
                    // Made on another node of the fleet.
                    self.follow_queues(repo, effects)?;
                }
                let (allowed, retry_in_ms) = match self.book.get(&queue) {
                    None => (0, None),
                    Some(_)
                        if abandon
                            .as_ref()
                            .is_some_and(CancellationToken::is_cancelled) =>
                    {
                        (0, None)
                    }
                    Some(_) => self.book.queue_mut(&queue).allowance(limit, now),
                };
                if allowed == 0 {
                    return Ok(done(
                        reply,
                        Ok(ClaimOutcome {
                            jobs: Vec::new(),
                            retry_in_ms,
                        }),
                    ));
                }
                let lease_until = now + lease_ms;
                let rows: Vec<ClaimedRow> = repo.claim(
                    &queue,
                    builtin,
                    i64::from(allowed),
                    now as i64,
                    lease_until as i64,
                )?;
                let q = self.book.queue_mut(&queue);
                q.started(rows.len() as u32);
                for row in &rows {
                    q.note_wait(now.saturating_sub(row.run_at_ms.max(0) as u64));
                }
                if !rows.is_empty() {
                    effects.due(lease_until);
                }
                let mut jobs = Vec::with_capacity(rows.len());
                for row in rows {
                    self.changed(
                        Change {
                            id: row.id,
                            queue: queue.clone(),
                            kind: row.kind.clone(),
                            from: Some(State::Available),
                            to: Some(State::Running),
                            attempt: row.attempt,
                        },
                        effects,
                    );
                    jobs.push(Claimed {
                        id: row.id as u64,
                        queue: queue.clone(),
                        kind: row.kind,
                        args: row.args,
                        attempt: row.attempt.max(0) as u32,
                        max_attempts: row.max_attempts.max(0) as u32,
                        timeout_ms: row.timeout_ms.map(|t| t.max(0) as u64),
                        lease_until_ms: lease_until,
                    });
                }
                done(
                    reply,
                    Ok(ClaimOutcome {
                        jobs,
                        retry_in_ms: None,
                    }),
                )
            }
            Command::Heartbeat {
                leases,
                lease_ms,
                reply,
            } => {
                let lease_until = now + lease_ms;
                let mut outcome = HeartbeatOutcome {
                    lease_until_ms: lease_until,
                    ..HeartbeatOutcome::default()
                };
                for lease in leases {
                    match repo.heartbeat(
                        lease.id as i64,
                        i64::from(lease.attempt),
                        lease_until as i64,
                    )? {
                        LeaseState::Extended => {}
                        LeaseState::Cancelled => outcome.cancelled.push(lease.id),
                        LeaseState::Lost => outcome.lost.push(lease.id),
                    }
                }
                done(reply, Ok(outcome))
            }
            Command::Complete { jobs, reply } => {
                let (mut acked, mut stale) = (Vec::new(), Vec::new());
                let batch: Vec<Completed<'_>> = jobs
                    .iter()
                    .map(|j| (j.id as i64, i64::from(j.attempt), j.result.as_deref()))
                    .collect();
                // One call for the batch: one statement on PostgreSQL.
                let answers = repo.complete_batch(&batch, now as i64)?;
                for (job, answer) in jobs.iter().zip(answers) {
                    match answer {
                        Acked::Done(change, started) => {
                            let ran =
                                now.saturating_sub(started.unwrap_or(now as i64).max(0) as u64);
                            self.book.queue_mut(&change.queue).note_run(ran, true, now);
                            self.changed(change, effects);
                            acked.push(job.id);
                        }
                        Acked::Already => acked.push(job.id),
                        Acked::Stale => stale.push(job.id),
                    }
                }
                done(reply, Ok((acked, stale)))
            }
            Command::Fail { jobs, reply } => {
                let (mut acked, mut stale) = (Vec::new(), Vec::new());
                for job in jobs {
                    let mut retry_at = None;
                    let acked_now = repo.fail(
                        job.id as i64,
                        i64::from(job.attempt),
                        &job.error,
                        now as i64,
                        &mut |attempt, max| {
                            let to = retry_or_dead(attempt, max, job.retry_in_ms, job.discard, now);
                            if let FailTo::RetryAt(at) = to {
                                retry_at = Some(at.max(0) as u64);
                            }
                            to
                        },
                    )?;
                    match acked_now {
                        Acked::Done(change, started) => {
                            let ran =
                                now.saturating_sub(started.unwrap_or(now as i64).max(0) as u64);
                            self.book.queue_mut(&change.queue).note_run(ran, false, now);
                            if change.to == Some(State::Retryable)
                                && let Some(at) = retry_at
                            {
                                effects.due(at);
                            }
                            self.changed(change, effects);
                            acked.push(job.id);
                        }
                        Acked::Already => acked.push(job.id),
                        Acked::Stale => stale.push(job.id),
                    }
                }
                done(reply, Ok((acked, stale)))
            }
            Command::Cancel { id, reply } => {
                let value = match repo.cancel(id as i64, now as i64)? {
                    Outcome::Done(change) => {
                        self.changed(change, effects);
                        match repo.get(id as i64)? {
                            Some(row) => Ok(row),
                            None => Err(not_found(id)),
                        }
                    }
                    Outcome::NotFound => Err(not_found(id)),
                    Outcome::Refused(state) => Err(ErrorBody::new(
                        ErrorCode::Conflict,
                        format!(
                            "job {id} is already {}: only unfinished jobs can be cancelled",
                            state.as_str()
                        ),
                    )),
                    Outcome::KeyTaken => Err(not_found(id)),
                };
                done(reply, value)
            }
            Command::Retry { target, reply } => {
                let value = match target {
                    Target::One(id) => match repo.retry(id as i64, now as i64)? {
                        Outcome::Done(change) => {
                            self.changed(change, effects);
                            Ok(1)
                        }
                        Outcome::NotFound => Err(not_found(id)),
                        Outcome::Refused(state) => Err(ErrorBody::new(
                            ErrorCode::Conflict,
                            format!(
                                "job {id} is {}: only dead, cancelled and retryable jobs can be retried",
                                state.as_str()
                            ),
                        )),
                        Outcome::KeyTaken => Err(ErrorBody::new(
                            ErrorCode::Conflict,
                            format!(
                                "job {id}'s unique key is held by another waiting or running job"
                            ),
                        )),
                    },
                    Target::AllDead(queue) => {
                        let mut count = 0;
                        for id in repo.dead_ids(queue.as_deref())? {
                            if let Outcome::Done(change) = repo.retry(id, now as i64)? {
                                self.changed(change, effects);
                                count += 1;
                            }
                        }
                        Ok(count)
                    }
                };
                done(reply, value)
            }
            Command::Discard { target, reply } => {
                let value = match target {
                    Target::One(id) => match repo.discard(id as i64)? {
                        Outcome::Done(change) => {
                            self.changed(change, effects);
                            Ok(1)
                        }
                        Outcome::NotFound | Outcome::KeyTaken => Err(not_found(id)),
                        Outcome::Refused(state) => Err(ErrorBody::new(
                            ErrorCode::Conflict,
                            format!(
                                "job {id} is {}: cancel it first (only finished jobs can be discarded)",
                                state.as_str()
                            ),
                        )),
                    },
                    Target::AllDead(queue) => {
                        let changes = repo.discard_dead(queue.as_deref())?;
                        let count = changes.len() as u64;
                        for change in changes {
                            self.changed(change, effects);
                        }
                        Ok(count)
                    }
                };
                done(reply, value)
            }
            Command::QueueSet {
                queue,
                change,
                reply,
            } => {
                if !self.book.has(&queue) {
                    return Ok(done(reply, Err(unknown_queue(&queue))));
                }
                let q = self.book.queue_mut(&queue);
                if let Some(paused) = change.paused {
                    q.paused = paused;
                }
                if let Some(concurrency) = change.concurrency {
                    q.concurrency = concurrency;
                }
                if let Some(rate) = change.rate {
                    q.rate = rate;
                }
                repo.set_queue(&QueueRow {
                    name: queue.clone(),
                    paused: q.paused,
                    concurrency: i64::from(q.concurrency),
                    rate: i64::from(q.rate),
                })?;
                effects.wake.insert(queue.clone());
                effects.builtin = true;
                let info = self.book.info(&queue, now).unwrap_or_default();
                effects.queue_events.push(info.clone());
                done(reply, Ok(info))
            }
            Command::CronAdd { mut cron, reply } => {
                let value = match Schedule::parse(&cron.expr) {
                    Err(message) => Err(ErrorBody::bad_request(message)),
                    Ok(schedule) => match schedule.next_after(now) {
                        None => Err(ErrorBody::bad_request(format!(
                            "cron expression {:?} never fires",
                            cron.expr
                        ))),
                        Some(next) => {
                            cron.next_run_ms = next as i64;
                            match repo.add_cron(&cron, now as i64) {
                                Ok(()) => {
                                    effects.due(next);
                                    Ok(cron)
                                }
                                Err(agora_db::Error::Conflict(what)) => Err(ErrorBody::new(
                                    ErrorCode::Conflict,
                                    format!(
                                        "{what} already exists; remove it first (agora jobs cron rm {})",
                                        cron.name
                                    ),
                                )),
                                Err(err) => return Err(err),
                            }
                        }
                    },
                };
                done(reply, value)
            }
            Command::CronRemove { name, reply } => {
                let value = if repo.remove_cron(&name)? {
                    Ok(())
                } else {
                    Err(ErrorBody::new(
                        ErrorCode::NotFound,
                        format!("no recurring job named {name:?}"),
                    ))
                };
                done(reply, value)
            }
            Command::Stats { reply } => done(reply, Ok((self.book.totals(), self.book.infos(now)))),
            Command::Tick { reply } => {
                self.tick(repo, now, effects)?;
                match reply {
                    Some(reply) => done(reply, Ok(())),
                    None => Box::new(|_| {}),
                }
            }
        })
    }

    /// In a fleet: the queues and settings other nodes made or changed
    /// (the counts stay this node's own until the fleet's notifications
    /// carry them: docs/FLEET.md).
    fn follow_queues(
        &mut self,
        repo: &mut dyn JobStore,
        effects: &mut Effects,
    ) -> agora_db::Result<()> {
        for row in repo.queues()? {
            if !self.book.has(&row.name) {
                effects.new_queues.push(row.name.clone());
            }
            let q = self.book.queue_mut(&row.name);
            q.paused = row.paused;
            q.concurrency = row.concurrency.clamp(0, i64::from(u32::MAX)) as u32;
            q.rate = row.rate.clamp(0, i64::from(u32::MAX)) as u32;
        }
        Ok(())
    }

    /// Everything due at `now`.
    fn tick(
        &mut self,
        repo: &mut dyn JobStore,
        now: u64,
        effects: &mut Effects,
    ) -> agora_db::Result<()> {
        if self.storage.is_shared() {
            self.follow_queues(repo, effects)?;
        }
        for change in repo.promote_due(now as i64)? {
            self.changed(change, effects);
        }
        let expired = repo.expire_leases(now as i64, &mut |attempt, max| {
            retry_or_dead(attempt, max, None, false, now)
        })?;
        if !expired.is_empty() {
            tracing::info!(
                jobs = expired.len(),
                "leases expired; the jobs will be retried"
            );
        }
        for change in expired {
            self.changed(change, effects);
        }
        for cron in repo.due_crons(now as i64)? {
            self.run_cron(repo, &cron, now, effects)?;
        }
        if now >= self.next_prune_ms {
            let before = now.saturating_sub(self.retention_ms) as i64;
            let pruned = repo.prune(before, PRUNE_BATCH)?;
            self.next_prune_ms = if pruned.len() as i64 == PRUNE_BATCH {
                now + 1
            } else {
                now + PRUNE_EVERY_MS
            };
            for change in pruned {
                self.changed(change, effects);
            }
        }
        let next = repo.next_due()?.map_or(u64::MAX, |d| d.max(0) as u64);
        effects.recomputed = Some(next.min(self.next_prune_ms));
        Ok(())
    }

    /// Enqueues a recurring job's due slots and moves it past them, in the
    /// batch's transaction: a slot runs once, even across restarts.
    fn run_cron(
        &mut self,
        repo: &mut dyn JobStore,
        cron: &CronRow,
        now: u64,
        effects: &mut Effects,
    ) -> agora_db::Result<()> {
        let schedule = match Schedule::parse(&cron.expr) {
            Ok(s) => s,
            Err(err) => {
                tracing::error!(cron = %cron.name, %err, "stored cron expression no longer parses; it is parked");
                repo.advance_cron(&cron.name, i64::MAX, cron.next_run_ms, None)?;
                return Ok(());
            }
        };
        let (slots, next) = schedule.due(cron.next_run_ms.max(0) as u64, now, cron.catch_up);
        let mut last_job = None;
        for slot in &slots {
            // The slot's row is the constraint that makes it run once:
            // another node that read the same slot due finds it taken.
            if !repo.take_cron_slot(&cron.name, *slot as i64)? {
                continue;
            }
            let row = NewRow {
                queue: cron.queue.clone(),
                kind: cron.kind.clone(),
                builtin: is_builtin(&cron.kind),
                args: cron.args.clone(),
                priority: cron.priority,
                max_attempts: cron.max_attempts,
                run_at_ms: *slot as i64,
                unique_key: None,
                timeout_ms: cron.timeout_ms,
                tags: cron.tags.clone(),
            };
            if let Inserted::New(id, _) = self.insert(repo, &row, now, effects)? {
                last_job = Some(id);
            }
        }
        let last_run = slots.last().map_or(cron.next_run_ms, |s| *s as i64);
        let next = next.map_or(i64::MAX, |n| n as i64);
        repo.advance_cron(&cron.name, next, last_run, last_job)?;
        Ok(())
    }
}

/// Where a failed attempt goes: dead when discarded or out of attempts,
/// else retried after `retry_in_ms` or the backoff.
fn retry_or_dead(
    attempt: i64,
    max_attempts: i64,
    retry_in_ms: Option<u64>,
    discard: bool,
    now: u64,
) -> FailTo {
    if discard || attempt >= max_attempts {
        return FailTo::Dead;
    }
    let wait = retry_in_ms.unwrap_or_else(|| wait_ms(attempt.clamp(0, i64::from(u32::MAX)) as u32));
    FailTo::RetryAt(now.saturating_add(wait).min(i64::MAX as u64) as i64)
}

fn not_found(id: u64) -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, format!("no job {id}"))
}

/// The error for a queue that never had a job.
pub fn unknown_queue(queue: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::NotFound,
        format!("no queue named {queue:?} (a queue exists from its first job on)"),
    )
}

#[cfg(test)]
mod tests;
