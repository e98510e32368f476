//! The writer on a real SQLite file with a fake clock: batches are run by
//! calling `commit` directly, so nothing sleeps and time is whatever the
//! test says.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agora_db::Db;
use agora_db::jobs::{CronRow, Jobs as Repo, NewRow};
use agora_wire::jobs::{Completion, Failure, JobState, Lease};
use tokio::sync::oneshot;

use super::*;
use crate::jobs::backoff::JITTER_MS;

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;

struct Harness {
    dir: tempfile::TempDir,
    db: Db,
    now: Arc<AtomicU64>,
    writer: Writer,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("agora.db")).unwrap();
        let now = Arc::new(AtomicU64::new(T0));
        let writer = Harness::writer(&db, &now);
        Harness {
            dir,
            db,
            now,
            writer,
        }
    }

    fn writer(db: &Db, now: &Arc<AtomicU64>) -> Writer {
        let clock = now.clone();
        Writer::open(
            Storage::Sqlite(db.clone()),
            Arc::new(Hub::default()),
            Arc::new(move || clock.load(Ordering::SeqCst)),
            60_000,
        )
        .unwrap()
    }

    /// A restart: the writer is dropped and opened again on the same file.
    fn restart(&mut self) {
        self.db = Db::open(&self.dir.path().join("agora.db")).unwrap();
        self.writer = Harness::writer(&self.db, &self.now);
    }

    fn at(&self, ms: u64) {
        self.now.store(ms, Ordering::SeqCst);
    }

    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn run<T>(&mut self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ErrorBody> {
        let (reply, mut answer) = oneshot::channel();
        self.writer.commit(&mut vec![make(reply)]);
        answer.try_recv().expect("answered after the commit")
    }

    fn enqueue(&mut self, rows: Vec<NewRow>) -> Vec<u64> {
        self.run(|reply| Command::Enqueue { jobs: rows, reply })
            .unwrap()
            .0
    }

    fn claim(&mut self, queue: &str, limit: u32) -> ClaimOutcome {
        self.run(|reply| Command::Claim {
            queue: queue.into(),
            abandon: None,
            builtin: false,
            limit,
            lease_ms: 30_000,
            reply,
        })
        .unwrap()
    }

    fn complete(&mut self, id: u64, attempt: u32) -> AckOutcome {
        self.run(|reply| Command::Complete {
            jobs: vec![Completion {
                id,
                attempt,
                result: None,
            }],
            reply,
        })
        .unwrap()
    }

    fn fail(&mut self, id: u64, attempt: u32) -> AckOutcome {
        self.run(|reply| Command::Fail {
            jobs: vec![Failure {
                id,
                attempt,
                error: format!("boom {attempt}"),
                retry_in_ms: None,
                discard: false,
            }],
            reply,
        })
        .unwrap()
    }

    fn tick(&mut self) {
        self.run(|reply| Command::Tick { reply: Some(reply) })
            .unwrap();
    }

    fn stats(&mut self) -> StateCounts {
        self.run(|reply| Command::Stats { reply }).unwrap().0
    }

    fn job(&self, id: u64) -> agora_db::jobs::JobRow {
        self.db
            .read(|c| Repo::new(c).get(id as i64))
            .unwrap()
            .unwrap()
    }
}

fn row(queue: &str, kind: &str, priority: i64, run_at_ms: u64) -> NewRow {
    NewRow {
        queue: queue.into(),
        kind: kind.into(),
        builtin: is_builtin(kind),
        args: "{}".into(),
        priority,
        max_attempts: 3,
        run_at_ms: run_at_ms as i64,
        unique_key: None,
        timeout_ms: None,
        tags: "[]".into(),
    }
}

#[test]
fn counts_follow_every_change() {
    let mut h = Harness::new();
    let ids = h.enqueue(vec![
        row("q", "a", 5, T0),
        row("q", "a", 1, T0),
        row("q", "a", 5, T0 + 10_000),
    ]);
    let s = h.stats();
    assert_eq!((s.available, s.scheduled), (2, 1));
    let claimed = h.claim("q", 10).jobs;
    assert_eq!(
        claimed.iter().map(|c| c.id).collect::<Vec<_>>(),
        [ids[1], ids[0]],
        "priority first"
    );
    assert_eq!(h.complete(ids[1], 1), (vec![ids[1]], vec![]));
    assert_eq!(h.complete(ids[1], 1), (vec![ids[1]], vec![]), "idempotent");
    let s = h.stats();
    assert_eq!((s.running, s.completed, s.scheduled), (1, 1, 1));
    assert_eq!(
        h.writer.signals().next_due.load(Ordering::Relaxed),
        T0 + 10_000
    );
    // The counts survive a restart (loaded from the file).
    h.restart();
    assert_eq!(h.stats().running, 1);
}

#[test]
fn claims_wait_for_scheduled_jobs_until_the_tick_at_their_time() {
    let mut h = Harness::new();
    let id = h.enqueue(vec![row("q", "a", 5, T0 + 5_000)])[0];
    assert!(h.claim("q", 1).jobs.is_empty());
    h.at(T0 + 4_999);
    h.tick();
    assert!(h.claim("q", 1).jobs.is_empty());
    h.at(T0 + 5_000);
    h.tick();
    let jobs = h.claim("q", 1).jobs;
    assert_eq!((jobs[0].id, jobs[0].attempt), (id, 1));
    assert_eq!(jobs[0].lease_until_ms, T0 + 35_000);
}

#[test]
fn unknown_queues_give_nothing_and_settings_refuse_them() {
    let mut h = Harness::new();
    assert!(h.claim("nobody", 5).jobs.is_empty());
    let err = h
        .run(|reply| Command::QueueSet {
            queue: "nobody".into(),
            change: QueueChange::default(),
            reply,
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(
        err.message.contains("no queue named \"nobody\""),
        "{}",
        err.message
    );
}

#[test]
fn concurrency_pause_and_rate_limits_hold() {
    let mut h = Harness::new();
    let ids = h.enqueue((0..10).map(|_| row("q", "a", 5, T0)).collect());
    let set = |h: &mut Harness, change: QueueChange| {
        h.run(|reply| Command::QueueSet {
            queue: "q".into(),
            change,
            reply,
        })
        .unwrap()
    };
    set(
        &mut h,
        QueueChange {
            concurrency: Some(2),
            ..QueueChange::default()
        },
    );
    assert_eq!(h.claim("q", 10).jobs.len(), 2);
    assert_eq!(h.claim("q", 10).jobs.len(), 0, "two running already");
    h.complete(ids[0], 1);
    assert_eq!(h.claim("q", 10).jobs.len(), 1, "one slot freed");
    let info = set(
        &mut h,
        QueueChange {
            paused: Some(true),
            concurrency: Some(0),
            ..QueueChange::default()
        },
    );
    assert!(info.paused);
    assert_eq!(info.states.running, 2);
    assert_eq!(h.claim("q", 10).jobs.len(), 0, "paused");
    set(
        &mut h,
        QueueChange {
            paused: Some(false),
            rate: Some(2),
            ..QueueChange::default()
        },
    );
    assert_eq!(h.claim("q", 10).jobs.len(), 2, "a second's worth");
    let held = h.claim("q", 10);
    assert_eq!((held.jobs.len(), held.retry_in_ms), (0, Some(500)));
    h.at(T0 + 500);
    assert_eq!(h.claim("q", 10).jobs.len(), 1);
}

#[test]
fn failures_follow_the_backoff_then_die_and_can_be_retried() {
    let mut h = Harness::new();
    let id = h.enqueue(vec![row("q", "a", 5, T0)])[0];
    for attempt in 1..=3u32 {
        let jobs = h.claim("q", 1).jobs;
        assert_eq!((jobs[0].id, jobs[0].attempt), (id, attempt));
        assert_eq!(h.fail(id, attempt), (vec![id], vec![]));
        let job = h.job(id);
        if attempt == 3 {
            assert_eq!(job.state, State::Dead);
            break;
        }
        assert_eq!(job.state, State::Retryable);
        let wait = job.run_at_ms as u64 - h.now();
        let base = (u64::from(attempt).pow(4) + 15) * 1000;
        assert!(
            (base..base + JITTER_MS).contains(&wait),
            "attempt {attempt}: waited {wait} ms"
        );
        h.at(job.run_at_ms as u64 - 1);
        h.tick();
        assert!(h.claim("q", 1).jobs.is_empty(), "not before its time");
        h.at(job.run_at_ms as u64);
        h.tick();
    }
    let s = h.stats();
    assert_eq!((s.dead, s.running, s.available), (1, 0, 0));
    let errors = h.job(id).errors;
    assert!(
        errors.contains("boom 1") && errors.contains("boom 3"),
        "{errors}"
    );
    // Back from the dead letter queue: attempts start again from 0.
    assert_eq!(
        h.run(|reply| Command::Retry {
            target: Target::AllDead(None),
            reply
        }),
        Ok(1)
    );
    let jobs = h.claim("q", 1).jobs;
    assert_eq!(jobs[0].attempt, 1);
    let err = h
        .run(|reply| Command::Retry {
            target: Target::One(id),
            reply,
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict, "running: {}", err.message);
}

#[test]
fn a_worker_may_ask_for_its_own_retry_time_or_give_up() {
    let mut h = Harness::new();
    let ids = h.enqueue(vec![row("q", "a", 5, T0), row("q", "a", 5, T0)]);
    h.claim("q", 2);
    let fail = |h: &mut Harness, id: u64, retry_in_ms: Option<u64>, discard: bool| {
        h.run(|reply| Command::Fail {
            jobs: vec![Failure {
                id,
                attempt: 1,
                error: "nope".into(),
                retry_in_ms,
                discard,
            }],
            reply,
        })
        .unwrap()
    };
    fail(&mut h, ids[0], Some(0), false);
    assert_eq!(h.job(ids[0]).state, State::Available, "retry at once");
    fail(&mut h, ids[1], None, true);
    assert_eq!(h.job(ids[1]).state, State::Dead, "discarded by its worker");
}

#[test]
fn an_expired_lease_hands_the_job_on_and_the_old_worker_is_stale() {
    let mut h = Harness::new();
    let id = h.enqueue(vec![row("q", "a", 5, T0)])[0];
    h.run(|reply| Command::Claim {
        queue: "q".into(),
        abandon: None,
        builtin: false,
        limit: 1,
        lease_ms: 1_000,
        reply,
    })
    .unwrap();
    assert_eq!(
        h.writer.signals().next_due.load(Ordering::Relaxed),
        T0 + 1_000
    );
    h.at(T0 + 1_000);
    h.tick();
    assert_eq!(h.job(id).state, State::Retryable);
    let beat = h
        .run(|reply| Command::Heartbeat {
            leases: vec![Lease { id, attempt: 1 }],
            lease_ms: 30_000,
            reply,
        })
        .unwrap();
    assert_eq!(beat.lost, [id]);
    h.at(h.job(id).run_at_ms as u64);
    h.tick();
    let jobs = h.claim("q", 1).jobs;
    assert_eq!(jobs[0].attempt, 2);
    assert_eq!(
        h.complete(id, 1),
        (vec![], vec![id]),
        "the old attempt is stale"
    );
    assert_eq!(h.complete(id, 2), (vec![id], vec![]));
}

#[test]
fn cancelling_a_running_job_reaches_its_heartbeat() {
    let mut h = Harness::new();
    let id = h.enqueue(vec![row("q", "a", 5, T0)])[0];
    h.claim("q", 1);
    let row = h.run(|reply| Command::Cancel { id, reply }).unwrap();
    assert_eq!(row.state, State::Cancelled);
    let beat = h
        .run(|reply| Command::Heartbeat {
            leases: vec![Lease { id, attempt: 1 }],
            lease_ms: 30_000,
            reply,
        })
        .unwrap();
    assert_eq!(beat.cancelled, [id]);
    let again = h.run(|reply| Command::Cancel { id, reply }).unwrap_err();
    assert_eq!(again.code, ErrorCode::Conflict);
    assert_eq!(h.stats().cancelled, 1);
}

#[test]
fn a_unique_key_in_one_batch_gives_one_job() {
    let mut h = Harness::new();
    let mut a = row("q", "a", 5, T0);
    a.unique_key = Some("k".into());
    let (one, mut first) = oneshot::channel();
    let (two, mut second) = oneshot::channel();
    h.writer.commit(&mut vec![
        Command::Enqueue {
            jobs: vec![a.clone(), a.clone()],
            reply: one,
        },
        Command::Enqueue {
            jobs: vec![a],
            reply: two,
        },
    ]);
    let (ids, existing) = first.try_recv().unwrap().unwrap();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(existing, [ids[0]]);
    let (ids2, existing2) = second.try_recv().unwrap().unwrap();
    assert_eq!((ids2, existing2), (vec![ids[0]], vec![ids[0]]));
    assert_eq!(h.stats().available, 1);
}

fn cron(name: &str, expr: &str, catch_up: bool) -> CronRow {
    CronRow {
        name: name.into(),
        expr: expr.into(),
        kind: "report".into(),
        queue: "reports".into(),
        args: "{}".into(),
        priority: 5,
        max_attempts: 3,
        timeout_ms: None,
        tags: "[]".into(),
        catch_up,
        next_run_ms: 0,
        last_run_ms: None,
        last_job: None,
    }
}

fn cron_jobs(h: &Harness) -> Vec<agora_db::jobs::JobRow> {
    let filter = agora_db::jobs::Filter {
        queue: Some("reports".into()),
        ..Default::default()
    };
    let mut jobs = h.db.read(|c| Repo::new(c).list(&filter, 1000)).unwrap();
    jobs.reverse();
    jobs
}

#[test]
fn a_cron_slot_runs_once_even_across_a_restart() {
    const MIN: u64 = 60_000;
    let mut h = Harness::new();
    let added = h
        .run(|reply| Command::CronAdd {
            cron: cron("minutely", "* * * * *", false),
            reply,
        })
        .unwrap();
    assert_eq!(added.next_run_ms as u64, T0 + MIN);
    assert_eq!(
        h.writer.signals().next_due.load(Ordering::Relaxed),
        T0 + MIN
    );
    h.at(T0 + MIN);
    h.tick();
    assert_eq!(cron_jobs(&h).len(), 1);
    assert_eq!(cron_jobs(&h)[0].run_at_ms as u64, T0 + MIN);
    // A restart within the same minute: the slot is not run again.
    h.restart();
    h.at(T0 + MIN + 500);
    h.tick();
    assert_eq!(cron_jobs(&h).len(), 1);
    // Down for three slots: one run for them, not a burst.
    h.restart();
    h.at(T0 + 4 * MIN + 10);
    h.tick();
    let jobs = cron_jobs(&h);
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].run_at_ms as u64, T0 + 4 * MIN);
    let duplicate = h
        .run(|reply| Command::CronAdd {
            cron: cron("minutely", "* * * * *", false),
            reply,
        })
        .unwrap_err();
    assert_eq!(duplicate.code, ErrorCode::Conflict);
}

#[test]
fn a_cron_with_catch_up_runs_every_missed_slot() {
    const MIN: u64 = 60_000;
    let mut h = Harness::new();
    h.run(|reply| Command::CronAdd {
        cron: cron("minutely", "* * * * *", true),
        reply,
    })
    .unwrap();
    h.restart();
    h.at(T0 + 3 * MIN);
    h.tick();
    let slots: Vec<u64> = cron_jobs(&h).iter().map(|j| j.run_at_ms as u64).collect();
    assert_eq!(slots, [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
    assert_eq!(
        h.run(|reply| Command::CronRemove {
            name: "minutely".into(),
            reply
        }),
        Ok(())
    );
    h.at(T0 + 10 * MIN);
    h.tick();
    assert_eq!(cron_jobs(&h).len(), 3, "removed: no more slots");
}

#[test]
fn finished_jobs_are_pruned_after_the_retention_and_dead_ones_kept() {
    let mut h = Harness::new();
    let ids = h.enqueue(vec![row("q", "a", 5, T0), row("q", "a", 5, T0)]);
    h.claim("q", 2);
    h.complete(ids[0], 1);
    h.run(|reply| Command::Fail {
        jobs: vec![Failure {
            id: ids[1],
            attempt: 1,
            error: "x".into(),
            retry_in_ms: None,
            discard: true,
        }],
        reply,
    })
    .unwrap();
    h.at(T0 + 61_000); // retention 60 s, pruning every 60 s
    h.tick();
    let s = h.stats();
    assert_eq!((s.completed, s.dead), (0, 1));
    assert!(
        h.db.read(|c| Repo::new(c).get(ids[0] as i64))
            .unwrap()
            .is_none()
    );
    assert_eq!(
        h.run(|reply| Command::Discard {
            target: Target::AllDead(Some("q".into())),
            reply
        }),
        Ok(1)
    );
    assert_eq!(h.stats().dead, 0);
    let _ = JobState::Dead;
}
