//! What each request's [`Command`] does, inside the batch's transaction.

use agora_db::jobs::{
    Acked, Change, ClaimedRow, Completed, FailTo, Inserted, JobStore, LeaseState, Outcome,
    QueueRow, State,
};
use agora_wire::jobs::Claimed;
use agora_wire::{ErrorBody, ErrorCode};
use tokio_util::sync::CancellationToken;

use super::{
    ClaimOutcome, Command, Done, Effects, HeartbeatOutcome, Schedule, Target, Writer, done,
    not_found, retry_or_dead, unknown_queue,
};

impl Writer {
    pub(super) fn execute(
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
                if self.storage.is_shared()
                    && self.book.get(&queue).is_some_and(|q| q.concurrency > 0)
                {
                    // Counted with the queue's row locked: the fleet's
                    // other claims on it wait for this batch's commit.
                    let running = repo.running(&queue)?;
                    self.book.queue_mut(&queue).counts.running = running.max(0) as u64;
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
            // Taken out of the batch before it (`follow_fleet`).
            Command::Remote(_) | Command::Resync => Box::new(|_| {}),
            Command::Tick { reply } => {
                self.tick(repo, now, effects)?;
                match reply {
                    Some(reply) => done(reply, Ok(())),
                    None => Box::new(|_| {}),
                }
            }
        })
    }
}
