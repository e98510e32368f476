//! The jobs repository: jobs, queues and recurring schedules.
//!
//! Every method is one or two statements over the connection it is given;
//! the daemon's writer thread calls the mutating ones inside one
//! `BEGIN IMMEDIATE` transaction per batch, so a check and the write that
//! follows it (a unique key, a failed attempt's backoff) cannot be split by
//! another writer. The claim itself is a single statement: an `UPDATE … WHERE
//! id IN (SELECT … ORDER BY priority, run_at_ms, id LIMIT n) RETURNING …`,
//! never a SELECT and then an UPDATE.
//!
//! Mutations report each job's state change as a [`Change`] (from, to), so
//! the caller can keep counts and publish events without reading back.
//! Times are ms since the epoch and are always passed in: the repository
//! never reads a clock, so tests control time.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{Error, Result};

mod store;
pub use store::{Completed, JobStore, complete_each};

/// A job's state, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Waiting for `run_at_ms`.
    Scheduled,
    /// Ready to be claimed.
    Available,
    /// Claimed, under a lease.
    Running,
    /// Waiting for its backoff to end.
    Retryable,
    /// Done.
    Completed,
    /// Out of attempts (or discarded by its worker).
    Dead,
    /// Cancelled.
    Cancelled,
}

impl State {
    /// Every state.
    pub const ALL: [State; 7] = [
        State::Scheduled,
        State::Available,
        State::Running,
        State::Retryable,
        State::Completed,
        State::Dead,
        State::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Scheduled => "scheduled",
            State::Available => "available",
            State::Running => "running",
            State::Retryable => "retryable",
            State::Completed => "completed",
            State::Dead => "dead",
            State::Cancelled => "cancelled",
        }
    }

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether a job in this state is waiting or running (its unique key
    /// is taken).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            State::Scheduled | State::Available | State::Running | State::Retryable
        )
    }
}

fn state_of(row: &Row<'_>, column: &str) -> rusqlite::Result<State> {
    let text: String = row.get(column)?;
    State::parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown job state {text:?}").into(),
        )
    })
}

/// One job's state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The job.
    pub id: i64,
    /// Its queue.
    pub queue: String,
    /// Its kind.
    pub kind: String,
    /// Its state before (`None`: it is new).
    pub from: Option<State>,
    /// Its state after (`None`: it was deleted).
    pub to: Option<State>,
    /// Its attempt count after.
    pub attempt: i64,
}

/// A job to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRow {
    /// Queue (validated).
    pub queue: String,
    /// Kind (validated).
    pub kind: String,
    /// Whether the daemon runs it itself.
    pub builtin: bool,
    /// JSON text.
    pub args: String,
    /// 0..=9.
    pub priority: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Earliest start.
    pub run_at_ms: i64,
    /// Unique key.
    pub unique_key: Option<String>,
    /// Time limit per attempt.
    pub timeout_ms: Option<i64>,
    /// JSON array of strings.
    pub tags: String,
}

/// What an insert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new job, in this state.
    New(i64, State),
    /// A job with the same unique key is waiting or running.
    Existing(i64),
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Id.
    pub id: i64,
    /// Queue.
    pub queue: String,
    /// Kind.
    pub kind: String,
    /// JSON text.
    pub args: String,
    /// 0..=9.
    pub priority: i64,
    /// State.
    pub state: State,
    /// Attempts started.
    pub attempt: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Earliest (next) start.
    pub run_at_ms: i64,
    /// Enqueued.
    pub inserted_at_ms: i64,
    /// Scheduled (enqueued, retried or put back).
    pub scheduled_at_ms: i64,
    /// Last attempt started.
    pub attempted_at_ms: Option<i64>,
    /// Finished.
    pub finished_at_ms: Option<i64>,
    /// Lease end while running.
    pub lease_until_ms: Option<i64>,
    /// JSON array of `{attempt, at_ms, message}`.
    pub errors: String,
    /// JSON text.
    pub result: Option<String>,
    /// Unique key.
    pub unique_key: Option<String>,
    /// Time limit per attempt.
    pub timeout_ms: Option<i64>,
    /// JSON array of strings.
    pub tags: String,
}

const JOB_COLUMNS: &str = "id, queue, kind, args, priority, state, attempt, max_attempts, \
     run_at_ms, inserted_at_ms, scheduled_at_ms, attempted_at_ms, finished_at_ms, \
     lease_until_ms, errors, result, unique_key, timeout_ms, tags";

impl JobRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<JobRow> {
        Ok(JobRow {
            id: row.get("id")?,
            queue: row.get("queue")?,
            kind: row.get("kind")?,
            args: row.get("args")?,
            priority: row.get("priority")?,
            state: state_of(row, "state")?,
            attempt: row.get("attempt")?,
            max_attempts: row.get("max_attempts")?,
            run_at_ms: row.get("run_at_ms")?,
            inserted_at_ms: row.get("inserted_at_ms")?,
            scheduled_at_ms: row.get("scheduled_at_ms")?,
            attempted_at_ms: row.get("attempted_at_ms")?,
            finished_at_ms: row.get("finished_at_ms")?,
            lease_until_ms: row.get("lease_until_ms")?,
            errors: row.get("errors")?,
            result: row.get("result")?,
            unique_key: row.get("unique_key")?,
            timeout_ms: row.get("timeout_ms")?,
            tags: row.get("tags")?,
        })
    }
}

/// A job handed out by [`Jobs::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRow {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// JSON text.
    pub args: String,
    /// This attempt (1 for the first).
    pub attempt: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Time limit.
    pub timeout_ms: Option<i64>,
    /// Priority (for ordering).
    pub priority: i64,
    /// When it became due: the start of its wait.
    pub run_at_ms: i64,
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Extended.
    Extended,
    /// The job was cancelled: its worker should stop.
    Cancelled,
    /// The lease is gone (expired and handed on, or the job finished).
    Lost,
}

/// What an acknowledgement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acked {
    /// Recorded: the change, and when the attempt started.
    Done(Change, Option<i64>),
    /// Already recorded (the same attempt reported again), or the job was
    /// cancelled meanwhile: nothing to do.
    Already,
    /// Not this attempt's any more: ignored.
    Stale,
}

/// Where a failed attempt sends its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailTo {
    /// Try again at this time.
    RetryAt(i64),
    /// Into the dead letter queue.
    Dead,
}

/// What a cancel, retry or discard of one job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Done(Change),
    /// No such job.
    NotFound,
    /// The job is in a state that does not allow it.
    Refused(State),
    /// Its unique key is taken by another waiting or running job.
    KeyTaken,
}

/// Filters of [`Jobs::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// State.
    pub state: Option<State>,
    /// Queue.
    pub queue: Option<String>,
    /// Kind.
    pub kind: Option<String>,
    /// Only ids below.
    pub before: Option<i64>,
}

/// A queue's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueRow {
    /// Name.
    pub name: String,
    /// Held back.
    pub paused: bool,
    /// Running at once (0: unlimited).
    pub concurrency: i64,
    /// Starts per second (0: unlimited).
    pub rate: i64,
}

/// A recurring job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronRow {
    /// Name.
    pub name: String,
    /// Cron expression.
    pub expr: String,
    /// Kind of the jobs it enqueues.
    pub kind: String,
    /// Their queue.
    pub queue: String,
    /// Their args (JSON text).
    pub args: String,
    /// Their priority.
    pub priority: i64,
    /// Their attempts.
    pub max_attempts: i64,
    /// Their time limit.
    pub timeout_ms: Option<i64>,
    /// Their tags (JSON array).
    pub tags: String,
    /// Run every missed slot.
    pub catch_up: bool,
    /// The next slot.
    pub next_run_ms: i64,
    /// The last slot run.
    pub last_run_ms: Option<i64>,
    /// The job the last slot enqueued.
    pub last_job: Option<i64>,
}

impl CronRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<CronRow> {
        Ok(CronRow {
            name: row.get("name")?,
            expr: row.get("expr")?,
            kind: row.get("kind")?,
            queue: row.get("queue")?,
            args: row.get("args")?,
            priority: row.get("priority")?,
            max_attempts: row.get("max_attempts")?,
            timeout_ms: row.get("timeout_ms")?,
            tags: row.get("tags")?,
            catch_up: row.get("catch_up")?,
            next_run_ms: row.get("next_run_ms")?,
            last_run_ms: row.get("last_run_ms")?,
            last_job: row.get("last_job")?,
        })
    }
}

/// Jobs queries over one connection.
pub struct Jobs<'c> {
    conn: &'c Connection,
}

impl<'c> Jobs<'c> {
    /// The repository over `conn`.
    pub fn new(conn: &'c Connection) -> Self {
        Jobs { conn }
    }

    /// Inserts a job, `available` when `run_at_ms <= now_ms`, else
    /// `scheduled`; with a unique key that a waiting or running job holds,
    /// inserts nothing and names that job.
    pub fn insert(&self, job: &NewRow, now_ms: i64) -> Result<Inserted> {
        if let Some(key) = &job.unique_key
            && let Some(id) = self
                .conn
                .prepare_cached(
                    "SELECT id FROM jobs WHERE unique_key = ?1 \
                     AND state IN ('scheduled', 'available', 'running', 'retryable')",
                )?
                .query_row([key], |r| r.get(0))
                .optional()?
        {
            return Ok(Inserted::Existing(id));
        }
        let state = if job.run_at_ms <= now_ms {
            State::Available
        } else {
            State::Scheduled
        };
        self.conn
            .prepare_cached(
                "INSERT INTO jobs (queue, kind, builtin, args, priority, state, max_attempts, \
                 run_at_ms, inserted_at_ms, scheduled_at_ms, unique_key, timeout_ms, tags) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                job.queue,
                job.kind,
                job.builtin,
                job.args,
                job.priority,
                state.as_str(),
                job.max_attempts,
                job.run_at_ms,
                now_ms,
                job.unique_key,
                job.timeout_ms,
                job.tags,
            ])?;
        Ok(Inserted::New(self.conn.last_insert_rowid(), state))
    }

    /// Creates a queue with default settings; `true` if it is new.
    pub fn ensure_queue(&self, name: &str, now_ms: i64) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO job_queues (name, created_at_ms) VALUES (?1, ?2)",
            )?
            .execute(params![name, now_ms])?
            == 1)
    }

    /// Claims up to `limit` available jobs of `queue` (built-in kinds or
    /// the others), highest priority first, then oldest, in one statement:
    /// each becomes `running` with its attempt counted and a lease until
    /// `lease_until_ms`. Returned in claim order.
    pub fn claim(
        &self,
        queue: &str,
        builtin: bool,
        limit: i64,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedRow>> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, \
             attempted_at_ms = ?4, lease_until_ms = ?5 \
             WHERE id IN (SELECT id FROM jobs WHERE state = 'available' AND queue = ?1 \
                          AND builtin = ?2 ORDER BY priority, run_at_ms, id LIMIT ?3) \
             RETURNING id, kind, args, attempt, max_attempts, timeout_ms, priority, run_at_ms",
        )?;
        let rows = stmt.query_map(
            params![queue, builtin, limit, now_ms, lease_until_ms],
            |r| {
                Ok(ClaimedRow {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    args: r.get(2)?,
                    attempt: r.get(3)?,
                    max_attempts: r.get(4)?,
                    timeout_ms: r.get(5)?,
                    priority: r.get(6)?,
                    run_at_ms: r.get(7)?,
                })
            },
        )?;
        let mut claimed = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        // RETURNING gives no order; the claim's is the promise.
        claimed.sort_by_key(|c| (c.priority, c.run_at_ms, c.id));
        Ok(claimed)
    }

    /// Extends a running job's lease if it is still this attempt's.
    pub fn heartbeat(&self, id: i64, attempt: i64, lease_until_ms: i64) -> Result<LeaseState> {
        let extended = self
            .conn
            .prepare_cached(
                "UPDATE jobs SET lease_until_ms = ?3 \
                 WHERE id = ?1 AND attempt = ?2 AND state = 'running'",
            )?
            .execute(params![id, attempt, lease_until_ms])?;
        if extended == 1 {
            return Ok(LeaseState::Extended);
        }
        Ok(match self.state_and_attempt(id)? {
            Some((State::Cancelled, a)) if a == attempt => LeaseState::Cancelled,
            _ => LeaseState::Lost,
        })
    }

    fn state_and_attempt(&self, id: i64) -> Result<Option<(State, i64)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT state, attempt FROM jobs WHERE id = ?1")?
            .query_row([id], |r| Ok((state_of(r, "state")?, r.get(1)?)))
            .optional()?)
    }

    /// Records that a running job's attempt completed.
    pub fn complete(
        &self,
        id: i64,
        attempt: i64,
        result: Option<&str>,
        now_ms: i64,
    ) -> Result<Acked> {
        let done = self
            .conn
            .prepare_cached(
                "UPDATE jobs SET state = 'completed', finished_at_ms = ?3, result = ?4, \
                 lease_until_ms = NULL \
                 WHERE id = ?1 AND attempt = ?2 AND state = 'running' \
                 RETURNING queue, kind, attempted_at_ms",
            )?
            .query_row(params![id, attempt, now_ms, result], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        if let Some((queue, kind, started)) = done {
            return Ok(Acked::Done(
                Change {
                    id,
                    queue,
                    kind,
                    from: Some(State::Running),
                    to: Some(State::Completed),
                    attempt,
                },
                started,
            ));
        }
        self.not_running(id, attempt)
    }

    /// Why an acknowledgement found the job not running under `attempt`.
    fn not_running(&self, id: i64, attempt: i64) -> Result<Acked> {
        Ok(match self.state_and_attempt(id)? {
            Some((state, a)) if a == attempt && state != State::Running => Acked::Already,
            _ => Acked::Stale,
        })
    }

    /// Records that a running job's attempt failed with `message`;
    /// `decide` gets (attempt, max_attempts) and says where it goes.
    pub fn fail(
        &self,
        id: i64,
        attempt: i64,
        message: &str,
        now_ms: i64,
        decide: impl FnOnce(i64, i64) -> FailTo,
    ) -> Result<Acked> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT state, attempt, max_attempts, queue, kind, attempted_at_ms \
                 FROM jobs WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok((
                    state_of(r, "state")?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })
            .optional()?;
        let Some((State::Running, a, max, queue, kind, started)) = row else {
            return self.not_running(id, attempt);
        };
        if a != attempt {
            return Ok(Acked::Stale);
        }
        let to = self.set_failed(id, attempt, message, now_ms, decide(attempt, max))?;
        Ok(Acked::Done(
            Change {
                id,
                queue,
                kind,
                from: Some(State::Running),
                to: Some(to),
                attempt,
            },
            started,
        ))
    }

    fn set_failed(
        &self,
        id: i64,
        attempt: i64,
        message: &str,
        now_ms: i64,
        to: FailTo,
    ) -> Result<State> {
        let (state, run_at, finished) = match to {
            FailTo::Dead => (State::Dead, None, Some(now_ms)),
            FailTo::RetryAt(at) if at <= now_ms => (State::Available, Some(now_ms), None),
            FailTo::RetryAt(at) => (State::Retryable, Some(at), None),
        };
        self.conn
            .prepare_cached(
                "UPDATE jobs SET state = ?2, run_at_ms = coalesce(?3, run_at_ms), \
                 scheduled_at_ms = CASE WHEN ?3 IS NULL THEN scheduled_at_ms ELSE ?5 END, \
                 finished_at_ms = ?4, lease_until_ms = NULL, \
                 errors = json_insert(errors, '$[#]', \
                     json_object('attempt', ?6, 'at_ms', ?5, 'message', ?7)) \
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                state.as_str(),
                run_at,
                finished,
                now_ms,
                attempt,
                message
            ])?;
        Ok(state)
    }

    /// Running jobs whose lease ended by `now_ms` fail their attempt
    /// ("lease expired"); `decide` as for [`Jobs::fail`].
    pub fn expire_leases(
        &self,
        now_ms: i64,
        decide: impl FnMut(i64, i64) -> FailTo,
    ) -> Result<Vec<Change>> {
        self.fail_running(
            "SELECT id, attempt, max_attempts, queue, kind FROM jobs \
             WHERE state = 'running' AND lease_until_ms <= ?1",
            "lease expired: the worker stopped sending heartbeats",
            now_ms,
            decide,
        )
    }

    /// Running jobs of the built-in kinds fail their attempt ("the daemon
    /// restarted"): called at start-up, when no built-in job can be running.
    pub fn release_builtin(
        &self,
        now_ms: i64,
        decide: impl FnMut(i64, i64) -> FailTo,
    ) -> Result<Vec<Change>> {
        self.fail_running(
            "SELECT id, attempt, max_attempts, queue, kind FROM jobs \
             WHERE state = 'running' AND builtin = 1 AND ?1 = ?1",
            "the daemon restarted while it ran",
            now_ms,
            decide,
        )
    }

    fn fail_running(
        &self,
        select: &str,
        message: &str,
        now_ms: i64,
        mut decide: impl FnMut(i64, i64) -> FailTo,
    ) -> Result<Vec<Change>> {
        let expired: Vec<(i64, i64, i64, String, String)> = self
            .conn
            .prepare_cached(select)?
            .query_map([now_ms], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut changes = Vec::with_capacity(expired.len());
        for (id, attempt, max, queue, kind) in expired {
            let to = self.set_failed(id, attempt, message, now_ms, decide(attempt, max))?;
            changes.push(Change {
                id,
                queue,
                kind,
                from: Some(State::Running),
                to: Some(to),
                attempt,
            });
        }
        Ok(changes)
    }

    /// Scheduled and retryable jobs due by `now_ms` become available.
    pub fn promote_due(&self, now_ms: i64) -> Result<Vec<Change>> {
        let due: Vec<Change> = self
            .conn
            .prepare_cached(
                "SELECT id, state, queue, kind, attempt FROM jobs \
                 WHERE state IN ('scheduled', 'retryable') AND run_at_ms <= ?1",
            )?
            .query_map([now_ms], |r| {
                Ok(Change {
                    id: r.get(0)?,
                    from: Some(state_of(r, "state")?),
                    queue: r.get(2)?,
                    kind: r.get(3)?,
                    attempt: r.get(4)?,
                    to: Some(State::Available),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        if !due.is_empty() {
            self.conn
                .prepare_cached(
                    "UPDATE jobs SET state = 'available' \
                     WHERE state IN ('scheduled', 'retryable') AND run_at_ms <= ?1",
                )?
                .execute([now_ms])?;
        }
        Ok(due)
    }

    /// The earliest time something is due: a scheduled or retryable job's
    /// `run_at_ms`, a lease's end, a recurring job's next slot.
    pub fn next_due(&self) -> Result<Option<i64>> {
        let min = |sql: &str| -> Result<Option<i64>> {
            Ok(self.conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?)
        };
        let times = [
            min("SELECT min(run_at_ms) FROM jobs WHERE state IN ('scheduled', 'retryable')")?,
            min("SELECT min(lease_until_ms) FROM jobs WHERE state = 'running'")?,
            min("SELECT min(next_run_ms) FROM job_crons")?,
        ];
        Ok(times.into_iter().flatten().min())
    }

    /// One job.
    pub fn get(&self, id: i64) -> Result<Option<JobRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))?
            .query_row([id], JobRow::from_row)
            .optional()?)
    }

    /// Jobs matching `filter`, newest first, at most `limit`.
    pub fn list(&self, filter: &Filter, limit: i64) -> Result<Vec<JobRow>> {
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1");
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(state) = filter.state {
            sql.push_str(" AND state = ?");
            values.push(state.as_str().to_owned().into());
        }
        if let Some(queue) = &filter.queue {
            sql.push_str(" AND queue = ?");
            values.push(queue.clone().into());
        }
        if let Some(kind) = &filter.kind {
            sql.push_str(" AND kind = ?");
            values.push(kind.clone().into());
        }
        if let Some(before) = filter.before {
            sql.push_str(" AND id < ?");
            values.push(before.into());
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        values.push(limit.into());
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values), JobRow::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Cancels a job that has not finished.
    pub fn cancel(&self, id: i64, now_ms: i64) -> Result<Outcome> {
        let Some(job) = self.get(id)? else {
            return Ok(Outcome::NotFound);
        };
        if !job.state.is_active() {
            return Ok(Outcome::Refused(job.state));
        }
        self.conn
            .prepare_cached(
                "UPDATE jobs SET state = 'cancelled', finished_at_ms = ?2, lease_until_ms = NULL \
                 WHERE id = ?1",
            )?
            .execute(params![id, now_ms])?;
        Ok(Outcome::Done(Change {
            id,
            queue: job.queue,
            kind: job.kind,
            from: Some(job.state),
            to: Some(State::Cancelled),
            attempt: job.attempt,
        }))
    }

    /// Makes a dead, cancelled or retryable job available now, with its
    /// attempts reset to 0 (its errors are kept).
    pub fn retry(&self, id: i64, now_ms: i64) -> Result<Outcome> {
        let Some(job) = self.get(id)? else {
            return Ok(Outcome::NotFound);
        };
        if !matches!(job.state, State::Dead | State::Cancelled | State::Retryable) {
            return Ok(Outcome::Refused(job.state));
        }
        if job.state != State::Retryable
            && let Some(key) = &job.unique_key
        {
            let taken: Option<i64> = self
                .conn
                .prepare_cached(
                    "SELECT id FROM jobs WHERE unique_key = ?1 \
                     AND state IN ('scheduled', 'available', 'running', 'retryable')",
                )?
                .query_row([key], |r| r.get(0))
                .optional()?;
            if taken.is_some() {
                return Ok(Outcome::KeyTaken);
            }
        }
        self.conn
            .prepare_cached(
                "UPDATE jobs SET state = 'available', attempt = 0, run_at_ms = ?2, \
                 scheduled_at_ms = ?2, finished_at_ms = NULL, lease_until_ms = NULL \
                 WHERE id = ?1",
            )?
            .execute(params![id, now_ms])?;
        Ok(Outcome::Done(Change {
            id,
            queue: job.queue,
            kind: job.kind,
            from: Some(job.state),
            to: Some(State::Available),
            attempt: 0,
        }))
    }

    /// Ids of the dead jobs (of `queue`, if given), oldest first.
    pub fn dead_ids(&self, queue: Option<&str>) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM jobs WHERE state = 'dead' AND (?1 IS NULL OR queue = ?1) ORDER BY id",
        )?;
        let ids = stmt.query_map([queue], |r| r.get(0))?;
        Ok(ids.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes a finished job (dead, cancelled or completed).
    pub fn discard(&self, id: i64) -> Result<Outcome> {
        let Some(job) = self.get(id)? else {
            return Ok(Outcome::NotFound);
        };
        if job.state.is_active() {
            return Ok(Outcome::Refused(job.state));
        }
        self.conn
            .prepare_cached("DELETE FROM jobs WHERE id = ?1")?
            .execute([id])?;
        Ok(Outcome::Done(Change {
            id,
            queue: job.queue,
            kind: job.kind,
            from: Some(job.state),
            to: None,
            attempt: job.attempt,
        }))
    }

    /// Deletes every dead job (of `queue`, if given).
    pub fn discard_dead(&self, queue: Option<&str>) -> Result<Vec<Change>> {
        let mut stmt = self.conn.prepare_cached(
            "DELETE FROM jobs WHERE state = 'dead' AND (?1 IS NULL OR queue = ?1) \
             RETURNING id, queue, kind, attempt",
        )?;
        let rows = stmt.query_map([queue], |r| {
            Ok(Change {
                id: r.get(0)?,
                queue: r.get(1)?,
                kind: r.get(2)?,
                from: Some(State::Dead),
                to: None,
                attempt: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes up to `limit` completed and cancelled jobs that finished
    /// before `before_ms`, and forgets the cron slots taken before then.
    pub fn prune(&self, before_ms: i64, limit: i64) -> Result<Vec<Change>> {
        self.conn
            .prepare_cached("DELETE FROM job_cron_runs WHERE slot_ms < ?1")?
            .execute([before_ms])?;
        let mut stmt = self.conn.prepare_cached(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
             WHERE state IN ('completed', 'cancelled') AND finished_at_ms < ?1 LIMIT ?2) \
             RETURNING id, queue, kind, attempt, state",
        )?;
        let rows = stmt.query_map(params![before_ms, limit], |r| {
            Ok(Change {
                id: r.get(0)?,
                queue: r.get(1)?,
                kind: r.get(2)?,
                attempt: r.get(3)?,
                from: Some(state_of(r, "state")?),
                to: None,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many jobs each queue has in each state.
    pub fn counts(&self) -> Result<Vec<(String, State, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, state_of(r, "state")?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every queue's settings, by name.
    pub fn queues(&self) -> Result<Vec<QueueRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, paused, concurrency, rate FROM job_queues ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(QueueRow {
                name: r.get(0)?,
                paused: r.get(1)?,
                concurrency: r.get(2)?,
                rate: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores a queue's settings; `false` when there is no such queue.
    pub fn set_queue(&self, queue: &QueueRow) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE job_queues SET paused = ?2, concurrency = ?3, rate = ?4 WHERE name = ?1",
            params![queue.name, queue.paused, queue.concurrency, queue.rate],
        )? == 1)
    }

    /// Adds a recurring job.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the name is taken.
    pub fn add_cron(&self, cron: &CronRow, now_ms: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO job_crons (name, expr, kind, queue, args, priority, max_attempts, \
                 timeout_ms, tags, catch_up, next_run_ms, last_run_ms, last_job, created_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    cron.name,
                    cron.expr,
                    cron.kind,
                    cron.queue,
                    cron.args,
                    cron.priority,
                    cron.max_attempts,
                    cron.timeout_ms,
                    cron.tags,
                    cron.catch_up,
                    cron.next_run_ms,
                    cron.last_run_ms,
                    cron.last_job,
                    now_ms
                ],
            )
            .map_err(|err| {
                if Error::is_unique_violation(&err) {
                    Error::Conflict(format!("recurring job {:?}", cron.name))
                } else {
                    err.into()
                }
            })?;
        Ok(())
    }

    /// Every recurring job, by name.
    pub fn crons(&self) -> Result<Vec<CronRow>> {
        let mut stmt = self.conn.prepare("SELECT * FROM job_crons ORDER BY name")?;
        let rows = stmt.query_map([], CronRow::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Recurring jobs with a slot due by `now_ms`.
    pub fn due_crons(&self, now_ms: i64) -> Result<Vec<CronRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT * FROM job_crons WHERE next_run_ms <= ?1 ORDER BY name")?;
        let rows = stmt.query_map([now_ms], CronRow::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Moves a recurring job past the slots it just ran.
    pub fn advance_cron(
        &self,
        name: &str,
        next_run_ms: i64,
        last_run_ms: i64,
        last_job: Option<i64>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE job_crons SET next_run_ms = ?2, last_run_ms = ?3, \
                 last_job = coalesce(?4, last_job) WHERE name = ?1",
            )?
            .execute(params![name, next_run_ms, last_run_ms, last_job])?;
        Ok(())
    }

    /// Takes cron `name`'s slot at `slot_ms`: `false` when it was taken
    /// already (see [`JobStore::take_cron_slot`]).
    pub fn take_cron_slot(&self, name: &str, slot_ms: i64) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO job_cron_runs (name, slot_ms) VALUES (?1, ?2)")?
            .execute(params![name, slot_ms])?
            == 1)
    }

    /// Removes a recurring job (and the record of its slots); `true` if
    /// there was one.
    pub fn remove_cron(&self, name: &str) -> Result<bool> {
        self.conn
            .execute("DELETE FROM job_cron_runs WHERE name = ?1", [name])?;
        Ok(self
            .conn
            .execute("DELETE FROM job_crons WHERE name = ?1", [name])?
            == 1)
    }

    /// How many of `queue`'s jobs are running.
    pub fn running(&self, queue: &str) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM jobs WHERE state = 'running' AND queue = ?1",
            [queue],
            |r| r.get(0),
        )?)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod suite;
