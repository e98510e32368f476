//! The jobs repository's suite ([`super::JobStore`]), run once per
//! backend: SQLite's `Jobs` and PostgreSQL's `PgJobs` must agree. Times
//! are explicit; each call is one transaction of its own, as the
//! daemon's writer makes one per batch.

use super::*;
use crate::{Access, Storage};

crate::on_both_backends!(
    claims_by_priority_then_run_at_then_id_and_never_twice,
    builtin_kinds_and_external_ones_are_claimed_apart,
    a_unique_key_holds_while_the_job_is_unfinished,
    completion_is_idempotent_and_a_stale_attempt_is_ignored,
    failures_retry_then_die_with_their_history,
    an_expired_lease_fails_the_attempt,
    cancel_retry_and_discard_follow_the_states,
    pruning_keeps_dead_jobs_and_recent_ones,
    lists_filter_and_page_newest_first,
    queues_and_crons_are_stored,
    a_cron_slot_is_taken_once_until_pruned,
    a_batch_inserts_in_order_and_keys_hold_within_it,
    a_batch_of_completions_answers_each_in_order,
);

fn job(kind: &str, priority: i64, run_at_ms: i64) -> NewRow {
    NewRow {
        queue: "default".into(),
        kind: kind.into(),
        builtin: false,
        args: "{}".into(),
        priority,
        max_attempts: 3,
        run_at_ms,
        unique_key: None,
        timeout_ms: None,
        tags: "[]".into(),
    }
}

fn insert(db: &Storage, row: &NewRow, now: i64) -> i64 {
    match db.jobs(Access::Write, |j| j.insert(row, now)).unwrap() {
        Inserted::New(id, _) => id,
        Inserted::Existing(id) => panic!("{id} existed"),
    }
}

fn claim(db: &Storage, n: i64, now: i64) -> Vec<ClaimedRow> {
    db.jobs(Access::Write, |j| {
        j.claim("default", false, n, now, now + 30_000)
    })
    .unwrap()
}

fn state(db: &Storage, id: i64) -> State {
    db.jobs(Access::Read, |j| j.get(id)).unwrap().unwrap().state
}

fn claims_by_priority_then_run_at_then_id_and_never_twice(db: &Storage) {
    let low = insert(db, &job("a", 9, 100), 1_000);
    let old = insert(db, &job("a", 5, 100), 1_000);
    let new = insert(db, &job("a", 5, 200), 1_000);
    let high = insert(db, &job("a", 0, 900), 1_000);
    let later = insert(db, &job("a", 0, 5_000), 1_000);
    assert_eq!(state(db, later), State::Scheduled);
    let got: Vec<i64> = claim(db, 3, 1_000).iter().map(|c| c.id).collect();
    assert_eq!(got, [high, old, new]);
    let got: Vec<i64> = claim(db, 10, 1_000).iter().map(|c| c.id).collect();
    assert_eq!(got, [low], "claimed jobs are not handed out again");
    assert!(claim(db, 10, 1_000).is_empty(), "not yet due");
    let due = db.jobs(Access::Write, |j| j.promote_due(5_000)).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].from, Some(State::Scheduled));
    let c = claim(db, 10, 5_000);
    assert_eq!((c[0].id, c[0].attempt), (later, 1));
}

fn builtin_kinds_and_external_ones_are_claimed_apart(db: &Storage) {
    let mut noop = job("noop", 5, 0);
    noop.builtin = true;
    let n = insert(db, &noop, 0);
    let e = insert(db, &job("email", 5, 0), 0);
    assert_eq!(
        claim(db, 10, 0).iter().map(|c| c.id).collect::<Vec<_>>(),
        [e]
    );
    let b = db
        .jobs(Access::Write, |j| j.claim("default", true, 10, 0, 30_000))
        .unwrap();
    assert_eq!(b.iter().map(|c| c.id).collect::<Vec<_>>(), [n]);
}

fn a_unique_key_holds_while_the_job_is_unfinished(db: &Storage) {
    let mut row = job("report", 5, 0);
    row.unique_key = Some("daily".into());
    let first = insert(db, &row, 0);
    let again = db.jobs(Access::Write, |j| j.insert(&row, 0)).unwrap();
    assert_eq!(again, Inserted::Existing(first));
    let c = claim(db, 1, 0);
    assert_eq!(
        db.jobs(Access::Write, |j| j.insert(&row, 1)).unwrap(),
        Inserted::Existing(first),
        "running holds the key too"
    );
    assert!(matches!(
        db.jobs(Access::Write, |j| j.complete(first, c[0].attempt, None, 2))
            .unwrap(),
        Acked::Done(..)
    ));
    let second = insert(db, &row, 3);
    assert_ne!(second, first, "a finished job frees the key");
}

fn completion_is_idempotent_and_a_stale_attempt_is_ignored(db: &Storage) {
    let id = insert(db, &job("a", 5, 0), 0);
    let c = claim(db, 1, 10);
    let done = db
        .jobs(Access::Write, |j| j.complete(id, 1, Some("{\"ok\":1}"), 20))
        .unwrap();
    let Acked::Done(change, started) = done else {
        panic!("{done:?}")
    };
    assert_eq!((change.to, started), (Some(State::Completed), Some(10)));
    assert_eq!(c[0].attempt, 1);
    assert_eq!(
        db.jobs(Access::Write, |j| j.complete(id, 1, None, 30))
            .unwrap(),
        Acked::Already
    );
    assert_eq!(
        db.jobs(Access::Write, |j| j.complete(id, 2, None, 30))
            .unwrap(),
        Acked::Stale
    );
    let row = db.jobs(Access::Read, |j| j.get(id)).unwrap().unwrap();
    assert_eq!(row.result.as_deref(), Some("{\"ok\":1}"));
    assert_eq!(row.finished_at_ms, Some(20));
}

fn failures_retry_then_die_with_their_history(db: &Storage) {
    let id = insert(db, &job("a", 5, 0), 0);
    let mut now = 0;
    for attempt in 1..=3 {
        let c = claim(db, 1, now);
        assert_eq!(c.len(), 1, "attempt {attempt}");
        let acked = db
            .jobs(Access::Write, |j| {
                j.fail(
                    id,
                    attempt,
                    &format!("boom {attempt}"),
                    now,
                    &mut |a, max| {
                        assert_eq!((a, max), (attempt, 3));
                        if a >= max {
                            FailTo::Dead
                        } else {
                            FailTo::RetryAt(now + 1_000)
                        }
                    },
                )
            })
            .unwrap();
        let Acked::Done(change, _) = acked else {
            panic!("{acked:?}")
        };
        if attempt < 3 {
            assert_eq!(change.to, Some(State::Retryable));
            assert!(claim(db, 1, now).is_empty(), "not before its backoff");
            now += 1_000;
            db.jobs(Access::Write, |j| j.promote_due(now)).unwrap();
        } else {
            assert_eq!(change.to, Some(State::Dead));
        }
    }
    let row = db.jobs(Access::Read, |j| j.get(id)).unwrap().unwrap();
    assert_eq!(row.state, State::Dead);
    assert!(row.errors.contains("boom 1") && row.errors.contains("boom 3"));
    assert_eq!(
        db.jobs(Access::Read, |j| j.dead_ids(Some("default")))
            .unwrap(),
        [id]
    );
    // Retry: available now, attempts from zero, history kept.
    let Outcome::Done(change) = db.jobs(Access::Write, |j| j.retry(id, now)).unwrap() else {
        panic!()
    };
    assert_eq!(
        (change.from, change.to),
        (Some(State::Dead), Some(State::Available))
    );
    let c = claim(db, 1, now);
    assert_eq!(c[0].attempt, 1);
    let row = db.jobs(Access::Read, |j| j.get(id)).unwrap().unwrap();
    assert!(row.errors.contains("boom 3"));
}

fn an_expired_lease_fails_the_attempt(db: &Storage) {
    let id = insert(db, &job("a", 5, 0), 0);
    claim(db, 1, 0); // lease until 30_000
    assert_eq!(
        db.jobs(Access::Read, |j| j.next_due()).unwrap(),
        Some(30_000)
    );
    assert_eq!(
        db.jobs(Access::Write, |j| j.heartbeat(id, 1, 60_000))
            .unwrap(),
        LeaseState::Extended
    );
    assert!(
        db.jobs(Access::Write, |j| j
            .expire_leases(59_999, &mut |_, _| FailTo::RetryAt(0)))
            .unwrap()
            .is_empty()
    );
    let expired = db
        .jobs(Access::Write, |j| {
            j.expire_leases(60_000, &mut |_, _| FailTo::RetryAt(61_000))
        })
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].to, Some(State::Retryable));
    assert_eq!(
        db.jobs(Access::Write, |j| j.heartbeat(id, 1, 90_000))
            .unwrap(),
        LeaseState::Lost
    );
    // The old worker's late completion is ignored.
    assert_eq!(
        db.jobs(Access::Write, |j| j.complete(id, 1, None, 60_500))
            .unwrap(),
        Acked::Already,
        "the same attempt, no longer running: nothing to do"
    );
    assert_eq!(state(db, id), State::Retryable);
    let row = db.jobs(Access::Read, |j| j.get(id)).unwrap().unwrap();
    assert!(row.errors.contains("lease expired"), "{}", row.errors);
}

fn cancel_retry_and_discard_follow_the_states(db: &Storage) {
    let id = insert(db, &job("a", 5, 0), 0);
    claim(db, 1, 0);
    let Outcome::Done(change) = db.jobs(Access::Write, |j| j.cancel(id, 5)).unwrap() else {
        panic!()
    };
    assert_eq!(change.from, Some(State::Running));
    assert_eq!(
        db.jobs(Access::Write, |j| j.heartbeat(id, 1, 99)).unwrap(),
        LeaseState::Cancelled
    );
    assert_eq!(
        db.jobs(Access::Write, |j| j.cancel(id, 6)).unwrap(),
        Outcome::Refused(State::Cancelled)
    );
    assert_eq!(
        db.jobs(Access::Write, |j| j.cancel(999, 6)).unwrap(),
        Outcome::NotFound
    );
    let waiting = insert(db, &job("a", 5, 0), 0);
    assert_eq!(
        db.jobs(Access::Write, |j| j.discard(waiting)).unwrap(),
        Outcome::Refused(State::Available)
    );
    assert!(matches!(
        db.jobs(Access::Write, |j| j.discard(id)).unwrap(),
        Outcome::Done(Change { to: None, .. })
    ));
    assert!(db.jobs(Access::Read, |j| j.get(id)).unwrap().is_none());
}

fn pruning_keeps_dead_jobs_and_recent_ones(db: &Storage) {
    let old = insert(db, &job("a", 5, 0), 0);
    let recent = insert(db, &job("a", 5, 0), 0);
    let dead = insert(db, &job("a", 5, 0), 0);
    claim(db, 3, 0);
    db.jobs(Access::Write, |j| j.complete(old, 1, None, 100))
        .unwrap();
    db.jobs(Access::Write, |j| j.complete(recent, 1, None, 5_000))
        .unwrap();
    db.jobs(Access::Write, |j| {
        j.fail(dead, 1, "x", 100, &mut |_, _| FailTo::Dead)
    })
    .unwrap();
    let pruned = db.jobs(Access::Write, |j| j.prune(1_000, 100)).unwrap();
    assert_eq!(pruned.iter().map(|c| c.id).collect::<Vec<_>>(), [old]);
    let counts = db.jobs(Access::Read, |j| j.counts()).unwrap();
    assert!(counts.contains(&("default".into(), State::Dead, 1)));
    assert!(counts.contains(&("default".into(), State::Completed, 1)));
}

fn lists_filter_and_page_newest_first(db: &Storage) {
    let ids: Vec<i64> = (0..5).map(|_| insert(db, &job("a", 5, 0), 0)).collect();
    let mut other = job("b", 5, 0);
    other.queue = "mail".into();
    let mail = insert(db, &other, 0);
    let all = db
        .jobs(Access::Read, |j| j.list(&Filter::default(), 3))
        .unwrap();
    assert_eq!(
        all.iter().map(|j| j.id).collect::<Vec<_>>(),
        [mail, ids[4], ids[3]]
    );
    let filter = Filter {
        queue: Some("default".into()),
        before: Some(ids[2]),
        ..Filter::default()
    };
    let page = db.jobs(Access::Read, |j| j.list(&filter, 10)).unwrap();
    assert_eq!(
        page.iter().map(|j| j.id).collect::<Vec<_>>(),
        [ids[1], ids[0]]
    );
    let kind = Filter {
        kind: Some("b".into()),
        state: Some(State::Available),
        ..Filter::default()
    };
    assert_eq!(
        db.jobs(Access::Read, |j| j.list(&kind, 10)).unwrap().len(),
        1
    );
}

fn queues_and_crons_are_stored(db: &Storage) {
    assert!(
        db.jobs(Access::Write, |j| j.ensure_queue("mail", 0))
            .unwrap()
    );
    assert!(
        !db.jobs(Access::Write, |j| j.ensure_queue("mail", 0))
            .unwrap()
    );
    let paused = QueueRow {
        name: "mail".into(),
        paused: true,
        concurrency: 2,
        rate: 10,
    };
    assert!(db.jobs(Access::Write, |j| j.set_queue(&paused)).unwrap());
    assert!(
        !db.jobs(Access::Write, |j| j.set_queue(&QueueRow {
            name: "nope".into(),
            ..paused.clone()
        }))
        .unwrap()
    );
    assert_eq!(db.jobs(Access::Read, |j| j.queues()).unwrap(), [paused]);
    let cron = CronRow {
        name: "nightly".into(),
        expr: "0 3 * * *".into(),
        kind: "report".into(),
        queue: "default".into(),
        args: "{}".into(),
        priority: 5,
        max_attempts: 3,
        timeout_ms: None,
        tags: "[]".into(),
        catch_up: false,
        next_run_ms: 10_000,
        last_run_ms: None,
        last_job: None,
    };
    db.jobs(Access::Write, |j| j.add_cron(&cron, 0)).unwrap();
    assert!(matches!(
        db.jobs(Access::Write, |j| j.add_cron(&cron, 0)),
        Err(Error::Conflict(_))
    ));
    assert!(
        db.jobs(Access::Read, |j| j.due_crons(9_999))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.jobs(Access::Read, |j| j.next_due()).unwrap(),
        Some(10_000)
    );
    db.jobs(Access::Write, |j| {
        j.advance_cron("nightly", 20_000, 10_000, Some(7))
    })
    .unwrap();
    let stored = db.jobs(Access::Read, |j| j.crons()).unwrap();
    assert_eq!(
        (
            stored[0].next_run_ms,
            stored[0].last_run_ms,
            stored[0].last_job
        ),
        (20_000, Some(10_000), Some(7))
    );
    assert!(
        db.jobs(Access::Write, |j| j.remove_cron("nightly"))
            .unwrap()
    );
    assert!(
        !db.jobs(Access::Write, |j| j.remove_cron("nightly"))
            .unwrap()
    );
}

fn a_cron_slot_is_taken_once_until_pruned(db: &Storage) {
    let take = |slot| {
        db.jobs(Access::Write, |j| j.take_cron_slot("nightly", slot))
            .unwrap()
    };
    assert!(take(10_000));
    assert!(!take(10_000), "the same slot again");
    assert!(take(20_000));
    // Pruning forgets slots older than the retention, not newer ones.
    db.jobs(Access::Write, |j| j.prune(15_000, 100)).unwrap();
    assert!(take(10_000));
    assert!(!take(20_000));
}

fn a_batch_inserts_in_order_and_keys_hold_within_it(db: &Storage) {
    let keyed = |key: &str| {
        let mut row = job("k", 5, 0);
        row.unique_key = Some(key.into());
        row
    };
    let later = job("later", 5, 9_000);
    let rows = vec![
        job("a", 5, 0),
        job("b", 5, 0),
        keyed("x"),
        job("c", 5, 0),
        keyed("x"),
        later,
        job("d", 5, 0),
    ];
    let got = db
        .jobs(Access::Write, |j| j.insert_batch(&rows, 1_000))
        .unwrap();
    let ids: Vec<i64> = got
        .iter()
        .map(|i| match i {
            Inserted::New(id, _) | Inserted::Existing(id) => *id,
        })
        .collect();
    // New ids rise in request order; the second "x" names the first.
    assert!(matches!(got[2], Inserted::New(..)));
    assert_eq!(got[4], Inserted::Existing(ids[2]));
    let new: Vec<i64> = [0, 1, 2, 3, 5, 6].iter().map(|&i| ids[i]).collect();
    assert!(new.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(matches!(got[5], Inserted::New(_, State::Scheduled)));
    for (i, kind) in [(0, "a"), (1, "b"), (3, "c"), (6, "d"), (5, "later")] {
        let row = db.jobs(Access::Read, |j| j.get(ids[i])).unwrap().unwrap();
        assert_eq!(row.kind, kind);
    }
    // Claimed in the order enqueued (same priority and run_at).
    let order: Vec<i64> = claim(db, 10, 1_000).iter().map(|c| c.id).collect();
    assert_eq!(order, vec![ids[0], ids[1], ids[2], ids[3], ids[6]]);
}

fn a_batch_of_completions_answers_each_in_order(db: &Storage) {
    let ids: Vec<i64> = (0..4).map(|_| insert(db, &job("a", 5, 0), 0)).collect();
    let (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3]);
    assert_eq!(claim(db, 3, 10).len(), 3, "d stays available");
    assert!(matches!(
        db.jobs(Access::Write, |j| j.complete(c, 1, None, 15))
            .unwrap(),
        Acked::Done(..)
    ));
    let batch = [
        (a, 1, Some("1")),
        (b, 1, None),
        (a, 1, Some("2")),
        (c, 1, None),
        (b, 2, None),
        (d, 1, None),
    ];
    let got = db
        .jobs(Access::Write, |j| j.complete_batch(&batch, 20))
        .unwrap();
    let done = |i: usize| match &got[i] {
        Acked::Done(change, started) => (change.id, change.to, *started),
        other => panic!("entry {i}: {other:?}"),
    };
    assert_eq!(done(0), (a, Some(State::Completed), Some(10)));
    assert_eq!(done(1), (b, Some(State::Completed), Some(10)));
    assert_eq!(
        got[2..],
        [Acked::Already, Acked::Already, Acked::Stale, Acked::Stale]
    );
    let row = db.jobs(Access::Read, |j| j.get(a)).unwrap().unwrap();
    assert_eq!(
        (row.result.as_deref(), row.finished_at_ms),
        (Some("1"), Some(20))
    );
    assert_eq!(state(db, d), State::Available);
}
