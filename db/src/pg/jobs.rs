//! The jobs repository on PostgreSQL: [`PgJobs`], the same [`JobStore`]
//! as SQLite's [`crate::jobs::Jobs`], tested by the same suite
//! (`jobs/suite.rs`); schema `postgres/0004_jobs.sql`. SQLite has one
//! writer; here a fleet's nodes share the rows, each batch in a READ
//! COMMITTED transaction of its own. What keeps them apart:
//!
//! - **SKIP LOCKED.** A claim is one `UPDATE … WHERE id IN (SELECT … ORDER
//!   BY priority, run_at_ms, id LIMIT n FOR UPDATE SKIP LOCKED) RETURNING
//!   …`: nodes claiming at once get different jobs, none waits. The sweeps
//!   (expired leases, built-in jobs left running, due jobs, pruning, due
//!   crons) lock their rows alike: a row another node holds is its own.
//!   Acting on one named job (fail, cancel, retry, discard) takes a plain
//!   `FOR UPDATE`: it waits for the answer instead.
//! - **ON CONFLICT on the partial unique index.** A keyed insert is
//!   `INSERT … ON CONFLICT (unique_key) WHERE <jobs_unique's predicate> DO
//!   NOTHING`: a second node inserting the key waits on the index for the
//!   first's commit, then inserts nothing and names the first's job.
//! - **Cron slots by primary key.** `take_cron_slot` inserts (name, slot)
//!   into `job_cron_runs` `ON CONFLICT DO NOTHING`: one node takes a slot.
//!
//! Conflicts are met with `ON CONFLICT`, or a savepoint (a retry taking
//! back a key), never a caught error: a failed statement aborts the
//! transaction, and a batch must outlive one refused request. `errors`
//! stays TEXT, appended to through `jsonb` (spaced as PostgreSQL prints).

use postgres::types::ToSql;
use postgres::{Row, Transaction};

use crate::jobs::{
    Acked, Change, ClaimedRow, Completed, CronRow, FailTo, Filter, Inserted, JobRow, JobStore,
    LeaseState, NewRow, Outcome, QueueRow, State,
};
use crate::{Error, Result};

/// The predicate of the partial unique index `jobs_unique`: what `ON
/// CONFLICT` names to use it, and what "the key is taken" means.
const ACTIVE_KEY: &str = "unique_key IS NOT NULL \
     AND state IN ('scheduled', 'available', 'running', 'retryable')";

const JOB_COLUMNS: &str = "id, queue, kind, args, priority, state, attempt, max_attempts, \
     run_at_ms, inserted_at_ms, scheduled_at_ms, attempted_at_ms, finished_at_ms, \
     lease_until_ms, errors, result, unique_key, timeout_ms, tags";

const CRON_COLUMNS: &str = "name, expr, kind, queue, args, priority, max_attempts, timeout_ms, \
     tags, catch_up, next_run_ms, last_run_ms, last_job";

const INSERT_JOB: &str = "INSERT INTO jobs (queue, kind, builtin, args, priority, state, \
     max_attempts, run_at_ms, inserted_at_ms, scheduled_at_ms, unique_key, timeout_ms, tags) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12)";

fn state(text: &str) -> Result<State> {
    State::parse(text).ok_or_else(|| Error::Schema(format!("unknown job state {text:?}")))
}

/// A struct from a row: each field listed from the like-named column,
/// then the fields given a value.
macro_rules! read {
    ($r:ident; $ty:ident { $($field:ident),* } $($name:ident: $value:expr),*) => {
        $ty { $($field: $r.get(stringify!($field)),)* $($name: $value),* }
    };
}

fn job_row(r: &Row) -> Result<JobRow> {
    Ok(read!(r; JobRow {
        id, queue, kind, args, priority, attempt, max_attempts, run_at_ms, inserted_at_ms,
        scheduled_at_ms, attempted_at_ms, finished_at_ms, lease_until_ms, errors, result,
        unique_key, timeout_ms, tags
    } state: state(r.get("state"))?))
}

fn cron_row(r: &Row) -> Result<CronRow> {
    Ok(read!(r; CronRow {
        name, expr, kind, queue, args, priority, max_attempts, timeout_ms, tags, catch_up,
        next_run_ms, last_run_ms, last_job
    }))
}

fn change(job: JobRow, to: Option<State>, attempt: i64) -> Change {
    let from = Some(job.state);
    let (id, queue, kind) = (job.id, job.queue, job.kind);
    Change {
        id,
        queue,
        kind,
        from,
        to,
        attempt,
    }
}

/// A change to `after` from a row of `id, queue, kind, attempt` and the
/// `state` before.
fn change_row(r: &Row, after: Option<State>) -> Result<Change> {
    let from = Some(state(r.get("state"))?);
    Ok(read!(r; Change { id, queue, kind, attempt } from: from, to: after))
}

/// Jobs queries inside one PostgreSQL transaction.
pub struct PgJobs<'a, 't> {
    tx: &'a mut Transaction<'t>,
}

impl<'a, 't> PgJobs<'a, 't> {
    /// The repository inside `tx`.
    pub fn new(tx: &'a mut Transaction<'t>) -> Self {
        PgJobs { tx }
    }

    /// Every row of `sql`, read by `f`.
    fn all<T>(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        f: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.tx.query(sql, params)?.iter().map(f).collect()
    }

    /// The id of the waiting or running job holding `key`.
    fn holder(&mut self, key: &str) -> Result<Option<i64>> {
        let sql = format!("SELECT id FROM jobs WHERE unique_key = $1 AND {ACTIVE_KEY}");
        Ok(self.tx.query_opt(&sql, &[&key])?.map(|r| r.get(0)))
    }

    /// One job; with `lock`, its row locked until the transaction ends
    /// (after another node's hold ends), so what cancel, retry and
    /// discard check stays true until they write.
    fn job(&mut self, id: i64, lock: bool) -> Result<Option<JobRow>> {
        let lock = if lock { " FOR UPDATE" } else { "" };
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1{lock}");
        let row = self.tx.query_opt(&sql, &[&id])?;
        row.as_ref().map(job_row).transpose()
    }

    fn state_and_attempt(&mut self, id: i64) -> Result<Option<(State, i64)>> {
        let row = self
            .tx
            .query_opt("SELECT state, attempt FROM jobs WHERE id = $1", &[&id])?;
        row.map(|r| Ok((state(r.get(0))?, r.get(1)))).transpose()
    }

    /// Why an acknowledgement found the job not running under `attempt`.
    fn not_running(&mut self, id: i64, attempt: i64) -> Result<Acked> {
        Ok(match self.state_and_attempt(id)? {
            Some((state, a)) if a == attempt && state != State::Running => Acked::Already,
            _ => Acked::Stale,
        })
    }

    fn set_failed(
        &mut self,
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
        let name = state.as_str();
        self.tx.execute(
            "UPDATE jobs SET state = $2, run_at_ms = coalesce($3, run_at_ms), \
             scheduled_at_ms = CASE WHEN $3::bigint IS NULL THEN scheduled_at_ms ELSE $5 END, \
             finished_at_ms = $4, lease_until_ms = NULL, \
             errors = (errors::jsonb || jsonb_build_array(jsonb_build_object( \
                 'attempt', $6::bigint, 'at_ms', $5::bigint, 'message', $7::text)))::text \
             WHERE id = $1",
            &[&id, &name, &run_at, &finished, &now_ms, &attempt, &message],
        )?;
        Ok(state)
    }

    /// Fails with `message` the attempt of each running job whose lease
    /// ended by `now_ms` and that matches `and`, locking them and
    /// skipping those another node holds.
    fn fail_running(
        &mut self,
        and: &str,
        message: &str,
        now_ms: i64,
        decide: &mut dyn FnMut(i64, i64) -> FailTo,
    ) -> Result<Vec<Change>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'running' AND lease_until_ms <= $1 \
             {and} ORDER BY lease_until_ms, id FOR UPDATE SKIP LOCKED"
        );
        let mut changes = Vec::new();
        for job in self.all(&sql, &[&now_ms], job_row)? {
            let (id, attempt, max) = (job.id, job.attempt, job.max_attempts);
            let to = self.set_failed(id, attempt, message, now_ms, decide(attempt, max))?;
            changes.push(change(job, Some(to), attempt));
        }
        Ok(changes)
    }
}

impl PgJobs<'_, '_> {
    /// Jobs without a unique key, in one statement. Identity values are
    /// drawn in the order the rows are inserted (`ORDER BY ord`), so the
    /// ids sorted ascending are the jobs' in order.
    fn insert_unkeyed(&mut self, jobs: &[NewRow], now_ms: i64) -> Result<Vec<Inserted>> {
        let states: Vec<State> = jobs
            .iter()
            .map(|j| {
                if j.run_at_ms <= now_ms {
                    State::Available
                } else {
                    State::Scheduled
                }
            })
            .collect();
        let queues: Vec<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
        let kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
        let builtins: Vec<bool> = jobs.iter().map(|j| j.builtin).collect();
        let args: Vec<&str> = jobs.iter().map(|j| j.args.as_str()).collect();
        let priorities: Vec<i64> = jobs.iter().map(|j| j.priority).collect();
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let attempts: Vec<i64> = jobs.iter().map(|j| j.max_attempts).collect();
        let run_at: Vec<i64> = jobs.iter().map(|j| j.run_at_ms).collect();
        let timeouts: Vec<Option<i64>> = jobs.iter().map(|j| j.timeout_ms).collect();
        let tags: Vec<&str> = jobs.iter().map(|j| j.tags.as_str()).collect();
        #[rustfmt::skip]
        let params: [&(dyn ToSql + Sync); 11] = [
            &queues, &kinds, &builtins, &args, &priorities, &names, &attempts, &run_at,
            &now_ms, &timeouts, &tags,
        ];
        let rows = self.tx.query(
            "INSERT INTO jobs (queue, kind, builtin, args, priority, state, max_attempts, \
             run_at_ms, inserted_at_ms, scheduled_at_ms, timeout_ms, tags) \
             SELECT u.queue, u.kind, u.builtin, u.args, u.priority, u.state, u.max_attempts, \
                    u.run_at_ms, $9, $9, u.timeout_ms, u.tags \
             FROM UNNEST($1::text[], $2::text[], $3::bool[], $4::text[], $5::bigint[], \
                         $6::text[], $7::bigint[], $8::bigint[], $10::bigint[], $11::text[]) \
                  WITH ORDINALITY AS u(queue, kind, builtin, args, priority, state, \
                                       max_attempts, run_at_ms, timeout_ms, tags, ord) \
             ORDER BY u.ord RETURNING id",
            &params,
        )?;
        let mut ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        ids.sort_unstable();
        if ids.len() != jobs.len() {
            return Err(Error::Schema(format!(
                "inserted {} jobs of {}",
                ids.len(),
                jobs.len()
            )));
        }
        Ok(ids
            .into_iter()
            .zip(states)
            .map(|(id, state)| Inserted::New(id, state))
            .collect())
    }
}

impl JobStore for PgJobs<'_, '_> {
    fn insert(&mut self, job: &NewRow, now_ms: i64) -> Result<Inserted> {
        let state = if job.run_at_ms <= now_ms {
            State::Available
        } else {
            State::Scheduled
        };
        let name = state.as_str();
        #[rustfmt::skip]
        let params: [&(dyn ToSql + Sync); 12] = [
            &job.queue, &job.kind, &job.builtin, &job.args, &job.priority, &name,
            &job.max_attempts, &job.run_at_ms, &now_ms, &job.unique_key, &job.timeout_ms,
            &job.tags,
        ];
        let Some(key) = &job.unique_key else {
            let row = self
                .tx
                .query_one(&format!("{INSERT_JOB} RETURNING id"), &params)?;
            return Ok(Inserted::New(row.get(0), state));
        };
        let sql = format!(
            "{INSERT_JOB} ON CONFLICT (unique_key) WHERE {ACTIVE_KEY} DO NOTHING RETURNING id"
        );
        // Twice at most: the holder the insert ran into may finish before
        // the SELECT looks for it, and then the key is free again.
        for _ in 0..2 {
            if let Some(row) = self.tx.query_opt(&sql, &params)? {
                return Ok(Inserted::New(row.get(0), state));
            }
            if let Some(id) = self.holder(key)? {
                return Ok(Inserted::Existing(id));
            }
        }
        Err(Error::Conflict(format!("job with unique key {key:?}")))
    }

    fn insert_batch(&mut self, jobs: &[NewRow], now_ms: i64) -> Result<Vec<Inserted>> {
        let mut out = Vec::with_capacity(jobs.len());
        let mut rest = jobs;
        while let Some(first) = rest.first() {
            if first.unique_key.is_some() {
                out.push(self.insert(first, now_ms)?);
                rest = &rest[1..];
                continue;
            }
            let run = rest
                .iter()
                .position(|j| j.unique_key.is_some())
                .unwrap_or(rest.len());
            out.extend(self.insert_unkeyed(&rest[..run], now_ms)?);
            rest = &rest[run..];
        }
        Ok(out)
    }

    fn ensure_queue(&mut self, name: &str, now_ms: i64) -> Result<bool> {
        Ok(self.tx.execute(
            "INSERT INTO job_queues (name, created_at_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&name, &now_ms],
        )? == 1)
    }

    fn claim(
        &mut self,
        queue: &str,
        builtin: bool,
        limit: i64,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedRow>> {
        let mut claimed = self.all(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, \
             attempted_at_ms = $4, lease_until_ms = $5 \
             WHERE id IN (SELECT id FROM jobs WHERE state = 'available' AND queue = $1 \
                          AND builtin = $2 ORDER BY priority, run_at_ms, id LIMIT $3 \
                          FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, args, attempt, max_attempts, timeout_ms, priority, run_at_ms",
            &[&queue, &builtin, &limit, &now_ms, &lease_until_ms],
            |r| {
                Ok(read!(r; ClaimedRow {
                    id, kind, args, attempt, max_attempts, timeout_ms, priority, run_at_ms
                }))
            },
        )?;
        // RETURNING gives no order; the claim's is the promise.
        claimed.sort_by_key(|c| (c.priority, c.run_at_ms, c.id));
        Ok(claimed)
    }

    fn heartbeat(&mut self, id: i64, attempt: i64, lease_until_ms: i64) -> Result<LeaseState> {
        let extended = self.tx.execute(
            "UPDATE jobs SET lease_until_ms = $3 \
             WHERE id = $1 AND attempt = $2 AND state = 'running'",
            &[&id, &attempt, &lease_until_ms],
        )?;
        if extended == 1 {
            return Ok(LeaseState::Extended);
        }
        Ok(match self.state_and_attempt(id)? {
            Some((State::Cancelled, a)) if a == attempt => LeaseState::Cancelled,
            _ => LeaseState::Lost,
        })
    }

    fn complete(
        &mut self,
        id: i64,
        attempt: i64,
        result: Option<&str>,
        now_ms: i64,
    ) -> Result<Acked> {
        let done = self.tx.query_opt(
            "UPDATE jobs SET state = 'completed', finished_at_ms = $3, result = $4, \
             lease_until_ms = NULL WHERE id = $1 AND attempt = $2 AND state = 'running' \
             RETURNING id, queue, kind, attempt, 'running'::text AS state, attempted_at_ms",
            &[&id, &attempt, &now_ms, &result],
        )?;
        match done {
            Some(r) => Ok(Acked::Done(
                change_row(&r, Some(State::Completed))?,
                r.get(5),
            )),
            None => self.not_running(id, attempt),
        }
    }

    fn complete_batch(&mut self, jobs: &[Completed<'_>], now_ms: i64) -> Result<Vec<Acked>> {
        if jobs.len() < 2 {
            return crate::jobs::complete_each(self, jobs, now_ms);
        }
        let ids: Vec<i64> = jobs.iter().map(|j| j.0).collect();
        let attempts: Vec<i64> = jobs.iter().map(|j| j.1).collect();
        let results: Vec<Option<&str>> = jobs.iter().map(|j| j.2).collect();
        // A job named twice matches once (UPDATE … FROM changes a row at
        // most once); which entry's result it keeps is the first's below.
        let rows = self.tx.query(
            "UPDATE jobs j SET state = 'completed', finished_at_ms = $4, result = u.result, \
             lease_until_ms = NULL \
             FROM (SELECT DISTINCT ON (id, attempt) id, attempt, result \
                   FROM UNNEST($1::bigint[], $2::bigint[], $3::text[]) \
                        WITH ORDINALITY AS u(id, attempt, result, ord) \
                   ORDER BY id, attempt, ord) u \
             WHERE j.id = u.id AND j.attempt = u.attempt AND j.state = 'running' \
             RETURNING j.id, j.queue, j.kind, j.attempt, 'running'::text AS state, \
                       j.attempted_at_ms",
            &[&ids, &attempts, &results, &now_ms],
        )?;
        let mut done = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            let key: (i64, i64) = (r.get(0), r.get(3));
            done.insert(
                key,
                Acked::Done(change_row(r, Some(State::Completed))?, r.get(5)),
            );
        }
        jobs.iter()
            .map(|&(id, attempt, _)| match done.remove(&(id, attempt)) {
                Some(acked) => Ok(acked),
                // Not updated (or named before in this batch): why, as
                // `complete` says it.
                None => self.not_running(id, attempt),
            })
            .collect()
    }

    fn fail(
        &mut self,
        id: i64,
        attempt: i64,
        message: &str,
        now_ms: i64,
        decide: &mut dyn FnMut(i64, i64) -> FailTo,
    ) -> Result<Acked> {
        // Locked: another node's lease expiry cannot fail it in between.
        let job = match self.job(id, true)? {
            Some(job) if job.state == State::Running => job,
            _ => return self.not_running(id, attempt),
        };
        if job.attempt != attempt {
            return Ok(Acked::Stale);
        }
        let (max, started) = (job.max_attempts, job.attempted_at_ms);
        let to = self.set_failed(id, attempt, message, now_ms, decide(attempt, max))?;
        Ok(Acked::Done(change(job, Some(to), attempt), started))
    }

    fn expire_leases(
        &mut self,
        now_ms: i64,
        decide: &mut dyn FnMut(i64, i64) -> FailTo,
    ) -> Result<Vec<Change>> {
        self.fail_running(
            "",
            "lease expired: the worker stopped sending heartbeats",
            now_ms,
            decide,
        )
    }

    fn release_builtin(
        &mut self,
        now_ms: i64,
        decide: &mut dyn FnMut(i64, i64) -> FailTo,
    ) -> Result<Vec<Change>> {
        // Only ended leases: the others may be another node's, running.
        self.fail_running(
            "AND builtin",
            "the daemon restarted while it ran",
            now_ms,
            decide,
        )
    }

    fn promote_due(&mut self, now_ms: i64) -> Result<Vec<Change>> {
        // `due` locks the rows and keeps their old state, which RETURNING
        // cannot see.
        self.all(
            "WITH due AS (SELECT id, state FROM jobs \
                 WHERE state IN ('scheduled', 'retryable') AND run_at_ms <= $1 \
                 FOR UPDATE SKIP LOCKED), \
             moved AS (UPDATE jobs SET state = 'available' FROM due WHERE jobs.id = due.id \
                 RETURNING jobs.id, queue, kind, attempt, due.state, run_at_ms) \
             SELECT * FROM moved ORDER BY run_at_ms, id",
            &[&now_ms],
            |r| change_row(r, Some(State::Available)),
        )
    }

    fn next_due(&mut self) -> Result<Option<i64>> {
        // least() ignores NULLs: NULL only when all three are.
        let sql = "SELECT least( \
             (SELECT min(run_at_ms) FROM jobs WHERE state IN ('scheduled', 'retryable')), \
             (SELECT min(lease_until_ms) FROM jobs WHERE state = 'running'), \
             (SELECT min(next_run_ms) FROM job_crons))";
        Ok(self.tx.query_one(sql, &[])?.get(0))
    }

    fn get(&mut self, id: i64) -> Result<Option<JobRow>> {
        self.job(id, false)
    }

    fn list(&mut self, filter: &Filter, limit: i64) -> Result<Vec<JobRow>> {
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE TRUE");
        let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut and = |column: &str, op: &str, value: Box<dyn ToSql + Sync>| {
            values.push(value);
            sql.push_str(&format!(" AND {column} {op} ${}", values.len()));
        };
        if let Some(state) = filter.state {
            and("state", "=", Box::new(state.as_str()));
        }
        if let Some(queue) = &filter.queue {
            and("queue", "=", Box::new(queue.clone()));
        }
        if let Some(kind) = &filter.kind {
            and("kind", "=", Box::new(kind.clone()));
        }
        if let Some(before) = filter.before {
            and("id", "<", Box::new(before));
        }
        values.push(Box::new(limit));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", values.len()));
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        self.all(&sql, &params, job_row)
    }

    fn cancel(&mut self, id: i64, now_ms: i64) -> Result<Outcome> {
        let Some(job) = self.job(id, true)? else {
            return Ok(Outcome::NotFound);
        };
        if !job.state.is_active() {
            return Ok(Outcome::Refused(job.state));
        }
        self.tx.execute(
            "UPDATE jobs SET state = 'cancelled', finished_at_ms = $2, lease_until_ms = NULL \
             WHERE id = $1",
            &[&id, &now_ms],
        )?;
        let attempt = job.attempt;
        Ok(Outcome::Done(change(job, Some(State::Cancelled), attempt)))
    }

    fn retry(&mut self, id: i64, now_ms: i64) -> Result<Outcome> {
        let Some(job) = self.job(id, true)? else {
            return Ok(Outcome::NotFound);
        };
        if !matches!(job.state, State::Dead | State::Cancelled | State::Retryable) {
            return Ok(Outcome::Refused(job.state));
        }
        let sql = "UPDATE jobs SET state = 'available', attempt = 0, run_at_ms = $2, \
                   scheduled_at_ms = $2, finished_at_ms = NULL, lease_until_ms = NULL \
                   WHERE id = $1";
        // A finished job takes its key back: free now, but another node
        // may take it before our commit. The index decides, in a savepoint
        // (a failed statement would abort the whole transaction).
        let key = job
            .unique_key
            .clone()
            .filter(|_| job.state != State::Retryable);
        let Some(key) = key else {
            self.tx.execute(sql, &[&id, &now_ms])?;
            return Ok(Outcome::Done(change(job, Some(State::Available), 0)));
        };
        if self.holder(&key)?.is_some() {
            return Ok(Outcome::KeyTaken);
        }
        let mut savepoint = self.tx.transaction()?;
        match savepoint.execute(sql, &[&id, &now_ms]) {
            Ok(_) => savepoint.commit()?,
            Err(err) if Error::is_pg_unique_violation(&err) => {
                savepoint.rollback()?;
                return Ok(Outcome::KeyTaken);
            }
            Err(err) => return Err(err.into()),
        }
        Ok(Outcome::Done(change(job, Some(State::Available), 0)))
    }

    fn dead_ids(&mut self, queue: Option<&str>) -> Result<Vec<i64>> {
        self.all(
            "SELECT id FROM jobs WHERE state = 'dead' AND ($1::text IS NULL OR queue = $1) \
             ORDER BY id",
            &[&queue],
            |r| Ok(r.get(0)),
        )
    }

    fn discard(&mut self, id: i64) -> Result<Outcome> {
        let Some(job) = self.job(id, true)? else {
            return Ok(Outcome::NotFound);
        };
        if job.state.is_active() {
            return Ok(Outcome::Refused(job.state));
        }
        self.tx.execute("DELETE FROM jobs WHERE id = $1", &[&id])?;
        let attempt = job.attempt;
        Ok(Outcome::Done(change(job, None, attempt)))
    }

    fn discard_dead(&mut self, queue: Option<&str>) -> Result<Vec<Change>> {
        self.all(
            "WITH gone AS (DELETE FROM jobs \
                 WHERE state = 'dead' AND ($1::text IS NULL OR queue = $1) \
                 RETURNING id, queue, kind, attempt, state) \
             SELECT * FROM gone ORDER BY id",
            &[&queue],
            |r| change_row(r, None),
        )
    }

    fn prune(&mut self, before_ms: i64, limit: i64) -> Result<Vec<Change>> {
        self.all(
            "WITH runs AS (DELETE FROM job_cron_runs WHERE slot_ms < $1), \
             gone AS (DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                 WHERE state IN ('completed', 'cancelled') AND finished_at_ms < $1 LIMIT $2 \
                 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, queue, kind, attempt, state) \
             SELECT * FROM gone ORDER BY id",
            &[&before_ms, &limit],
            |r| change_row(r, None),
        )
    }

    fn counts(&mut self) -> Result<Vec<(String, State, i64)>> {
        self.all(
            "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state ORDER BY queue, state",
            &[],
            |r| Ok((r.get(0), state(r.get(1))?, r.get(2))),
        )
    }

    fn queues(&mut self) -> Result<Vec<QueueRow>> {
        self.all(
            "SELECT name, paused, concurrency, rate FROM job_queues ORDER BY name",
            &[],
            |r| Ok(read!(r; QueueRow { name, paused, concurrency, rate })),
        )
    }

    fn set_queue(&mut self, queue: &QueueRow) -> Result<bool> {
        Ok(self.tx.execute(
            "UPDATE job_queues SET paused = $2, concurrency = $3, rate = $4 WHERE name = $1",
            &[&queue.name, &queue.paused, &queue.concurrency, &queue.rate],
        )? == 1)
    }

    fn add_cron(&mut self, cron: &CronRow, now_ms: i64) -> Result<()> {
        #[rustfmt::skip]
        let params: [&(dyn ToSql + Sync); 14] = [
            &cron.name, &cron.expr, &cron.kind, &cron.queue, &cron.args, &cron.priority,
            &cron.max_attempts, &cron.timeout_ms, &cron.tags, &cron.catch_up, &cron.next_run_ms,
            &cron.last_run_ms, &cron.last_job, &now_ms,
        ];
        let added = self.tx.execute(
            "INSERT INTO job_crons (name, expr, kind, queue, args, priority, max_attempts, \
             timeout_ms, tags, catch_up, next_run_ms, last_run_ms, last_job, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (name) DO NOTHING",
            &params,
        )?;
        if added == 0 {
            return Err(Error::Conflict(format!("recurring job {:?}", cron.name)));
        }
        Ok(())
    }

    fn crons(&mut self) -> Result<Vec<CronRow>> {
        let sql = format!("SELECT {CRON_COLUMNS} FROM job_crons ORDER BY name");
        self.all(&sql, &[], cron_row)
    }

    fn due_crons(&mut self, now_ms: i64) -> Result<Vec<CronRow>> {
        let sql = format!(
            "SELECT {CRON_COLUMNS} FROM job_crons WHERE next_run_ms <= $1 \
             ORDER BY name FOR UPDATE SKIP LOCKED"
        );
        self.all(&sql, &[&now_ms], cron_row)
    }

    fn take_cron_slot(&mut self, name: &str, slot_ms: i64) -> Result<bool> {
        Ok(self.tx.execute(
            "INSERT INTO job_cron_runs (name, slot_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&name, &slot_ms],
        )? == 1)
    }

    fn advance_cron(
        &mut self,
        name: &str,
        next_run_ms: i64,
        last_run_ms: i64,
        last_job: Option<i64>,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE job_crons SET next_run_ms = $2, last_run_ms = $3, \
             last_job = coalesce($4, last_job) WHERE name = $1",
            &[&name, &next_run_ms, &last_run_ms, &last_job],
        )?;
        Ok(())
    }

    fn remove_cron(&mut self, name: &str) -> Result<bool> {
        // The count is the main statement's: job_crons rows.
        Ok(self.tx.execute(
            "WITH runs AS (DELETE FROM job_cron_runs WHERE name = $1) \
             DELETE FROM job_crons WHERE name = $1",
            &[&name],
        )? == 1)
    }

    fn running(&mut self, queue: &str) -> Result<i64> {
        // The queue's row first: claims on the queue line up behind it.
        self.tx.execute(
            "SELECT 1 FROM job_queues WHERE name = $1 FOR UPDATE",
            &[&queue],
        )?;
        let row = self.tx.query_one(
            "SELECT count(*) FROM jobs WHERE state = 'running' AND queue = $1",
            &[&queue],
        )?;
        Ok(row.get(0))
    }

    fn announce(
        &mut self,
        changes: &[Change],
        queues: &[String],
        due_ms: Option<i64>,
    ) -> Result<()> {
        let bodies = notice::encode(changes, queues, due_ms);
        if bodies.is_empty() {
            return Ok(());
        }
        // One statement for every notification; the prefix is what
        // `pg::notify::send` puts (the node), then the transaction's id.
        self.tx.execute(
            "SELECT pg_notify($1, coalesce(current_setting('agora.node', true), '') || '|' \
                    || pg_current_xact_id()::text || '|' || body) \
             FROM UNNEST($2::text[]) WITH ORDINALITY AS b(body, ord) ORDER BY ord",
            &[&notice::CHANNEL, &bodies],
        )?;
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Option<notice::Snapshot>> {
        let row = self
            .tx
            .query_one("SELECT pg_current_snapshot()::text", &[])?;
        let text: String = row.get(0);
        notice::Snapshot::parse(&text)
            .map(Some)
            .map_err(crate::Error::Schema)
    }
}

pub mod notice;
#[cfg(test)]
mod tests;
