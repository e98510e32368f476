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

use agora_db::jobs::{Change, FailTo, Inserted, JobStore, NewRow, State};
use agora_db::pg::jobs::notice::Snapshot;
use agora_db::{Access, Storage};
use agora_wire::jobs::{JOBS_TOPIC, JobChange, QueueInfo, StateCounts, is_builtin};
use agora_wire::{ErrorBody, ErrorCode, JobsEvent};
use tokio::sync::{Notify, mpsc, watch};

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
    /// Other nodes' changes (not this node's completions to count).
    remote: bool,
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
    /// The snapshot the book's counts were read in (a fleet's): other
    /// nodes' notifications of what it saw are not counted again.
    seen: Option<Snapshot>,
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
        let (book, seen, due) = storage.jobs(Access::Read, |repo| {
            let (book, seen) = load(repo)?;
            Ok((book, seen, repo.next_due()?))
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
            seen,
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
        if batch
            .iter()
            .any(|c| matches!(c, Command::Remote(_) | Command::Resync))
        {
            self.follow_fleet(batch, now);
            if batch.is_empty() {
                return;
            }
        }
        let mut effects = Effects::default();
        let mut answers: Vec<Done> = Vec::with_capacity(batch.len());
        let storage = self.storage.clone();
        let result = storage.jobs(Access::Write, |repo| {
            for command in batch.drain(..) {
                answers.push(self.execute(repo, command, now, &mut effects)?);
            }
            if storage.is_shared() {
                // Delivered to the other nodes when this commits.
                let queues: Vec<String> = effects
                    .new_queues
                    .iter()
                    .cloned()
                    .chain(effects.queue_events.iter().map(|q| q.name.clone()))
                    .collect();
                let due = effects.due.map(|d| d.min(i64::MAX as u64) as i64);
                repo.announce(&effects.changes, &queues, due)?;
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
        // New queues are named before anyone hears of the commit: a caller
        // told its first job is in may set that queue's limits at once.
        self.name_queues(&effects);
        for answer in answers {
            answer(None);
        }
        self.signal(effects);
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

    fn name_queues(&self, effects: &Effects) {
        if !effects.new_queues.is_empty() {
            let mut names = self
                .signals
                .queues
                .write()
                .unwrap_or_else(|p| p.into_inner());
            names.extend(effects.new_queues.iter().cloned());
        }
    }

    fn signal(&mut self, effects: Effects) {
        self.name_queues(&effects);
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
            if !effects.remote {
                // This node's completions (each node counts its own).
                let completed = effects
                    .changes
                    .iter()
                    .filter(|c| c.to == Some(State::Completed))
                    .count();
                self.signals
                    .completed
                    .fetch_add(completed as u64, Ordering::Relaxed);
            }
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

mod command;
mod due;
mod execute;
#[cfg(test)]
mod tests;

pub use command::{
    AckOutcome, ClaimOutcome, Clock, Command, HeartbeatOutcome, QueueChange, Reply, Target,
};
use due::load;
