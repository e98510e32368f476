//! The writer's work that no request asks for: what is due (scheduled
//! jobs, expired leases, cron slots, pruning) and what the fleet's other
//! nodes did (their notifications, a resync after missing some).

use std::collections::BTreeSet;

use agora_db::Access;
use agora_db::jobs::{CronRow, Inserted, JobStore, NewRow, State};
use agora_db::pg::jobs::notice::Snapshot;
use agora_wire::jobs::is_builtin;

use super::{Book, Command, Effects, PRUNE_BATCH, PRUNE_EVERY_MS, Schedule, Writer, retry_or_dead};

impl Writer {
    /// After a failed commit: the book from what is stored.
    pub(super) fn reload(&mut self) -> bool {
        match self.storage.jobs(Access::Read, load) {
            Ok((book, seen)) => {
                self.book = book;
                self.seen = seen;
                true
            }
            Err(err) => {
                tracing::error!(%err, "cannot reload the job counts");
                false
            }
        }
    }

    /// Takes the fleet's commands out of `batch` and follows them: other
    /// nodes' changes counted and published as if made here (no commit:
    /// they are committed), a resync reloading everything.
    pub(super) fn follow_fleet(&mut self, batch: &mut Vec<Command>, now: u64) {
        let mut effects = Effects {
            remote: true,
            ..Effects::default()
        };
        let (mut resync, mut queues) = (false, false);
        for command in std::mem::take(batch) {
            match command {
                Command::Remote(notice) => {
                    if self.seen.as_ref().is_some_and(|s| s.saw(notice.xid)) {
                        continue; // Counted when the book was loaded.
                    }
                    for change in notice.changes {
                        if change.to == Some(State::Completed) {
                            self.book.queue_mut(&change.queue).note_completed(now);
                        }
                        self.changed(change, &mut effects);
                    }
                    if let Some(at) = notice.due_ms {
                        effects.due(at.max(0) as u64);
                    }
                    if !notice.queues.is_empty() {
                        queues = true;
                        effects.new_queues.extend(notice.queues);
                    }
                }
                Command::Resync => resync = true,
                other => batch.push(other),
            }
        }
        if resync && self.reload() {
            // Whatever was missed: every queue's claims look again, the
            // scheduler ticks now.
            effects.wake.extend(self.book.names().map(str::to_owned));
            effects.builtin = true;
            effects.due(now);
            queues = true;
        }
        if queues {
            let named = std::mem::take(&mut effects.new_queues);
            let followed = self
                .storage
                .clone()
                .jobs(Access::Read, |repo| self.follow_queues(repo, &mut effects));
            if let Err(err) = followed {
                tracing::warn!(%err, "cannot read the queues another node changed");
            }
            for name in &named {
                if let Some(info) = self.book.info(name, now) {
                    effects.queue_events.push(info);
                }
            }
            effects.new_queues.extend(named);
        }
        // Queues this node hears of first here (counting a change puts a
        // queue in the book, not yet in the names claims and lists ask).
        let heard: BTreeSet<String> = effects
            .changes
            .iter()
            .map(|c| &c.queue)
            .chain(&effects.new_queues)
            .filter(|q| !self.signals.has_queue(q))
            .cloned()
            .collect();
        effects.new_queues = heard.into_iter().collect();
        self.publish(&effects);
        self.signal(effects);
    }

    /// In a fleet: the queues and settings other nodes made or changed,
    /// read from the table (after their notification named a queue, and
    /// on every tick as a backstop).
    pub(super) fn follow_queues(
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
    pub(super) fn tick(
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
    pub(super) fn run_cron(
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

/// The book from what is stored, and (in a fleet) the snapshot it was
/// read in: one read transaction, so the two agree.
pub(super) fn load(repo: &mut dyn JobStore) -> agora_db::Result<(Book, Option<Snapshot>)> {
    let seen = repo.snapshot()?;
    Ok((Book::load(repo.queues()?, repo.counts()?), seen))
}
