//! [`JobStore`]: what the jobs service needs of its storage, whichever
//! backend holds it — [`super::Jobs`] on SQLite, `pg::jobs::PgJobs` on a
//! fleet's PostgreSQL. One suite (`jobs/suite.rs`) runs on both.
//!
//! Every method runs inside the transaction [`crate::Storage::jobs`]
//! opens (on SQLite `BEGIN IMMEDIATE`, the single writer's lock; on
//! PostgreSQL a transaction whose claims skip rows other nodes hold:
//! `FOR UPDATE SKIP LOCKED`), so a check and the write that follows it
//! cannot be split by another writer. Times are passed in, never read.

use super::{
    Acked, Change, ClaimedRow, CronRow, FailTo, Filter, Inserted, JobRow, LeaseState, NewRow,
    Outcome, QueueRow, State,
};
use crate::Result;
use crate::pg::snapshot::Snapshot;

/// One acknowledged attempt: the job's id, the attempt, its result (JSON).
pub type Completed<'a> = (i64, i64, Option<&'a str>);

/// The jobs repository, on either backend. See [`super::Jobs`] for what
/// each method does; the differences on PostgreSQL are said here.
pub trait JobStore {
    /// [`super::Jobs::insert`]. On PostgreSQL the unique key is enforced
    /// by the partial unique index (`ON CONFLICT … DO NOTHING`): two
    /// nodes inserting one key at once make one job.
    fn insert(&mut self, job: &NewRow, now_ms: i64) -> Result<Inserted>;
    /// [`JobStore::insert`] for each of `jobs`, in order (a later job
    /// with the key of an earlier one names it). On PostgreSQL each run of
    /// jobs without a unique key is one multi-row statement: one round
    /// trip for a batch instead of one per job.
    fn insert_batch(&mut self, jobs: &[NewRow], now_ms: i64) -> Result<Vec<Inserted>> {
        jobs.iter().map(|job| self.insert(job, now_ms)).collect()
    }
    /// [`super::Jobs::ensure_queue`].
    fn ensure_queue(&mut self, name: &str, now_ms: i64) -> Result<bool>;
    /// [`super::Jobs::claim`]. On PostgreSQL `FOR UPDATE SKIP LOCKED`:
    /// nodes claiming at once get different jobs, none waits on another.
    fn claim(
        &mut self,
        queue: &str,
        builtin: bool,
        limit: i64,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedRow>>;
    /// [`super::Jobs::heartbeat`].
    fn heartbeat(&mut self, id: i64, attempt: i64, lease_until_ms: i64) -> Result<LeaseState>;
    /// [`super::Jobs::complete`].
    fn complete(
        &mut self,
        id: i64,
        attempt: i64,
        result: Option<&str>,
        now_ms: i64,
    ) -> Result<Acked>;
    /// [`JobStore::complete`] for each of `jobs` (id, attempt, result), in
    /// order: one answer per entry (a job named twice is `Already` the
    /// second time). On PostgreSQL one `UPDATE … FROM UNNEST(…)` for the
    /// batch (the ones it did not update looked at one by one): one round
    /// trip for a worker's batch instead of one per job.
    fn complete_batch(&mut self, jobs: &[Completed<'_>], now_ms: i64) -> Result<Vec<Acked>> {
        complete_each(self, jobs, now_ms)
    }
    /// [`super::Jobs::fail`].
    fn fail(
        &mut self,
        id: i64,
        attempt: i64,
        message: &str,
        now_ms: i64,
        decide: &mut dyn FnMut(i64, i64) -> FailTo,
    ) -> Result<Acked>;
    /// [`super::Jobs::expire_leases`]. On PostgreSQL the expired rows are
    /// locked (`SKIP LOCKED`): two nodes never fail one attempt twice.
    fn expire_leases(
        &mut self,
        now_ms: i64,
        decide: &mut dyn FnMut(i64, i64) -> FailTo,
    ) -> Result<Vec<Change>>;
    /// [`super::Jobs::release_builtin`]. In a fleet a node must release
    /// only its own: PostgreSQL's takes the built-in jobs whose lease has
    /// ended (another node's running ones keep theirs).
    fn release_builtin(
        &mut self,
        now_ms: i64,
        decide: &mut dyn FnMut(i64, i64) -> FailTo,
    ) -> Result<Vec<Change>>;
    /// [`super::Jobs::promote_due`].
    fn promote_due(&mut self, now_ms: i64) -> Result<Vec<Change>>;
    /// [`super::Jobs::next_due`].
    fn next_due(&mut self) -> Result<Option<i64>>;
    /// [`super::Jobs::get`].
    fn get(&mut self, id: i64) -> Result<Option<JobRow>>;
    /// [`super::Jobs::list`].
    fn list(&mut self, filter: &Filter, limit: i64) -> Result<Vec<JobRow>>;
    /// [`super::Jobs::cancel`].
    fn cancel(&mut self, id: i64, now_ms: i64) -> Result<Outcome>;
    /// [`super::Jobs::retry`].
    fn retry(&mut self, id: i64, now_ms: i64) -> Result<Outcome>;
    /// [`super::Jobs::dead_ids`].
    fn dead_ids(&mut self, queue: Option<&str>) -> Result<Vec<i64>>;
    /// [`super::Jobs::discard`].
    fn discard(&mut self, id: i64) -> Result<Outcome>;
    /// [`super::Jobs::discard_dead`].
    fn discard_dead(&mut self, queue: Option<&str>) -> Result<Vec<Change>>;
    /// [`super::Jobs::prune`]; also forgets the cron slots taken before
    /// `before_ms`.
    fn prune(&mut self, before_ms: i64, limit: i64) -> Result<Vec<Change>>;
    /// [`super::Jobs::counts`].
    fn counts(&mut self) -> Result<Vec<(String, State, i64)>>;
    /// [`super::Jobs::queues`].
    fn queues(&mut self) -> Result<Vec<QueueRow>>;
    /// [`super::Jobs::set_queue`].
    fn set_queue(&mut self, queue: &QueueRow) -> Result<bool>;
    /// [`super::Jobs::add_cron`].
    fn add_cron(&mut self, cron: &CronRow, now_ms: i64) -> Result<()>;
    /// [`super::Jobs::crons`].
    fn crons(&mut self) -> Result<Vec<CronRow>>;
    /// [`super::Jobs::due_crons`]. On PostgreSQL the due rows are locked
    /// (`FOR UPDATE SKIP LOCKED`) until the transaction ends: a node that
    /// finds one locked skips it.
    fn due_crons(&mut self, now_ms: i64) -> Result<Vec<CronRow>>;
    /// Takes cron `name`'s slot at `slot_ms` for the job `job_id` will
    /// be: `false` when it was taken already. The primary key of
    /// `job_cron_runs` (name, slot) is what makes a slot run once, on any
    /// number of nodes, even if two read it due.
    fn take_cron_slot(&mut self, name: &str, slot_ms: i64) -> Result<bool>;
    /// [`super::Jobs::advance_cron`].
    fn advance_cron(
        &mut self,
        name: &str,
        next_run_ms: i64,
        last_run_ms: i64,
        last_job: Option<i64>,
    ) -> Result<()>;
    /// [`super::Jobs::remove_cron`].
    fn remove_cron(&mut self, name: &str) -> Result<bool>;
    /// How many of `queue`'s jobs are running, fleet-wide. On PostgreSQL
    /// it locks the queue's row until the transaction ends, so a claim
    /// that follows it in the transaction is the only one on its queue:
    /// a concurrency limit holds across nodes.
    fn running(&mut self, queue: &str) -> Result<i64>;
    /// Tells the fleet's other nodes what this transaction did
    /// (`pg::jobs::notice`), delivered when it commits. Nothing on
    /// SQLite, which has one node.
    fn announce(
        &mut self,
        changes: &[Change],
        queues: &[String],
        due_ms: Option<i64>,
    ) -> Result<()> {
        let _ = (changes, queues, due_ms);
        Ok(())
    }
    /// The snapshot this transaction reads (PostgreSQL's, for a read:
    /// [`crate::Storage::jobs`] reads in one); `None` on SQLite.
    fn snapshot(&mut self) -> Result<Option<Snapshot>> {
        Ok(None)
    }
}

impl JobStore for super::Jobs<'_> {
    fn insert(&mut self, job: &NewRow, now_ms: i64) -> Result<Inserted> {
        super::Jobs::insert(self, job, now_ms)
    }
    fn ensure_queue(&mut self, name: &str, now_ms: i64) -> Result<bool> {
        super::Jobs::ensure_queue(self, name, now_ms)
    }
    fn claim(
        &mut self,
        queue: &str,
        builtin: bool,
        limit: i64,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedRow>> {
        super::Jobs::claim(self, queue, builtin, limit, now_ms, lease_until_ms)
    }
    fn heartbeat(&mut self, id: i64, attempt: i64, lease_until_ms: i64) -> Result<LeaseState> {
        super::Jobs::heartbeat(self, id, attempt, lease_until_ms)
    }
    fn complete(
        &mut self,
        id: i64,
        attempt: i64,
        result: Option<&str>,
        now_ms: i64,
    ) -> Result<Acked> {
        super::Jobs::complete(self, id, attempt, result, now_ms)
    }
    fn fail(
        &mut self,
        id: i64,
        attempt: i64,
        message: &str,
        now_ms: i64,
        decide: &mut dyn FnMut(i64, i64) -> FailTo,
    ) -> Result<Acked> {
        super::Jobs::fail(self, id, attempt, message, now_ms, decide)
    }
    fn expire_leases(
        &mut self,
        now_ms: i64,
        decide: &mut dyn FnMut(i64, i64) -> FailTo,
    ) -> Result<Vec<Change>> {
        super::Jobs::expire_leases(self, now_ms, decide)
    }
    fn release_builtin(
        &mut self,
        now_ms: i64,
        decide: &mut dyn FnMut(i64, i64) -> FailTo,
    ) -> Result<Vec<Change>> {
        super::Jobs::release_builtin(self, now_ms, decide)
    }
    fn promote_due(&mut self, now_ms: i64) -> Result<Vec<Change>> {
        super::Jobs::promote_due(self, now_ms)
    }
    fn next_due(&mut self) -> Result<Option<i64>> {
        super::Jobs::next_due(self)
    }
    fn get(&mut self, id: i64) -> Result<Option<JobRow>> {
        super::Jobs::get(self, id)
    }
    fn list(&mut self, filter: &Filter, limit: i64) -> Result<Vec<JobRow>> {
        super::Jobs::list(self, filter, limit)
    }
    fn cancel(&mut self, id: i64, now_ms: i64) -> Result<Outcome> {
        super::Jobs::cancel(self, id, now_ms)
    }
    fn retry(&mut self, id: i64, now_ms: i64) -> Result<Outcome> {
        super::Jobs::retry(self, id, now_ms)
    }
    fn dead_ids(&mut self, queue: Option<&str>) -> Result<Vec<i64>> {
        super::Jobs::dead_ids(self, queue)
    }
    fn discard(&mut self, id: i64) -> Result<Outcome> {
        super::Jobs::discard(self, id)
    }
    fn discard_dead(&mut self, queue: Option<&str>) -> Result<Vec<Change>> {
        super::Jobs::discard_dead(self, queue)
    }
    fn prune(&mut self, before_ms: i64, limit: i64) -> Result<Vec<Change>> {
        super::Jobs::prune(self, before_ms, limit)
    }
    fn counts(&mut self) -> Result<Vec<(String, State, i64)>> {
        super::Jobs::counts(self)
    }
    fn queues(&mut self) -> Result<Vec<QueueRow>> {
        super::Jobs::queues(self)
    }
    fn set_queue(&mut self, queue: &QueueRow) -> Result<bool> {
        super::Jobs::set_queue(self, queue)
    }
    fn add_cron(&mut self, cron: &CronRow, now_ms: i64) -> Result<()> {
        super::Jobs::add_cron(self, cron, now_ms)
    }
    fn crons(&mut self) -> Result<Vec<CronRow>> {
        super::Jobs::crons(self)
    }
    fn due_crons(&mut self, now_ms: i64) -> Result<Vec<CronRow>> {
        super::Jobs::due_crons(self, now_ms)
    }
    fn take_cron_slot(&mut self, name: &str, slot_ms: i64) -> Result<bool> {
        super::Jobs::take_cron_slot(self, name, slot_ms)
    }
    fn advance_cron(
        &mut self,
        name: &str,
        next_run_ms: i64,
        last_run_ms: i64,
        last_job: Option<i64>,
    ) -> Result<()> {
        super::Jobs::advance_cron(self, name, next_run_ms, last_run_ms, last_job)
    }
    fn remove_cron(&mut self, name: &str) -> Result<bool> {
        super::Jobs::remove_cron(self, name)
    }
    fn running(&mut self, queue: &str) -> Result<i64> {
        super::Jobs::running(self, queue)
    }
}

/// [`JobStore::complete`] for each of `jobs`, one call each: the default
/// [`JobStore::complete_batch`], and PostgreSQL's for a batch of one.
///
/// # Errors
/// The first database error.
pub fn complete_each<S: JobStore + ?Sized>(
    store: &mut S,
    jobs: &[Completed<'_>],
    now_ms: i64,
) -> Result<Vec<Acked>> {
    jobs.iter()
        .map(|&(id, attempt, result)| store.complete(id, attempt, result, now_ms))
        .collect()
}
