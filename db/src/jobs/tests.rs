//! The jobs repository on a real SQLite file, with explicit times.

use super::*;
use crate::Db;

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("agora.db")).unwrap();
    (dir, db)
}

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

fn insert(db: &Db, row: &NewRow, now: i64) -> i64 {
    match db.write(|c| Jobs::new(c).insert(row, now)).unwrap() {
        Inserted::New(id, _) => id,
        Inserted::Existing(id) => panic!("{id} existed"),
    }
}

fn claim(db: &Db, n: i64, now: i64) -> Vec<ClaimedRow> {
    db.write(|c| Jobs::new(c).claim("default", false, n, now, now + 30_000))
        .unwrap()
}

fn state(db: &Db, id: i64) -> State {
    db.read(|c| Jobs::new(c).get(id)).unwrap().unwrap().state
}

#[test]
fn claims_by_priority_then_run_at_then_id_and_never_twice() {
    let (_dir, db) = db();
    let low = insert(&db, &job("a", 9, 100), 1_000);
    let old = insert(&db, &job("a", 5, 100), 1_000);
    let new = insert(&db, &job("a", 5, 200), 1_000);
    let high = insert(&db, &job("a", 0, 900), 1_000);
    let later = insert(&db, &job("a", 0, 5_000), 1_000);
    assert_eq!(state(&db, later), State::Scheduled);
    let got: Vec<i64> = claim(&db, 3, 1_000).iter().map(|c| c.id).collect();
    assert_eq!(got, [high, old, new]);
    let got: Vec<i64> = claim(&db, 10, 1_000).iter().map(|c| c.id).collect();
    assert_eq!(got, [low], "claimed jobs are not handed out again");
    assert!(claim(&db, 10, 1_000).is_empty(), "not yet due");
    let due = db.write(|c| Jobs::new(c).promote_due(5_000)).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].from, Some(State::Scheduled));
    let c = claim(&db, 10, 5_000);
    assert_eq!((c[0].id, c[0].attempt), (later, 1));
}

#[test]
fn the_claim_is_one_statement_on_the_partial_index() {
    let (_dir, db) = db();
    let plan: Vec<String> = db
        .read(|c| {
            let mut stmt = c.prepare(
                "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE state = 'available' AND queue = ?1 \
                 AND builtin = ?2 ORDER BY priority, run_at_ms, id LIMIT ?3",
            )?;
            let rows = stmt.query_map(rusqlite::params!["q", 0, 1], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("jobs_available"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
}

#[test]
fn builtin_kinds_and_external_ones_are_claimed_apart() {
    let (_dir, db) = db();
    let mut noop = job("noop", 5, 0);
    noop.builtin = true;
    let n = insert(&db, &noop, 0);
    let e = insert(&db, &job("email", 5, 0), 0);
    assert_eq!(
        claim(&db, 10, 0).iter().map(|c| c.id).collect::<Vec<_>>(),
        [e]
    );
    let b = db
        .write(|c| Jobs::new(c).claim("default", true, 10, 0, 30_000))
        .unwrap();
    assert_eq!(b.iter().map(|c| c.id).collect::<Vec<_>>(), [n]);
}

#[test]
fn a_unique_key_holds_while_the_job_is_unfinished() {
    let (_dir, db) = db();
    let mut row = job("report", 5, 0);
    row.unique_key = Some("daily".into());
    let first = insert(&db, &row, 0);
    let again = db.write(|c| Jobs::new(c).insert(&row, 0)).unwrap();
    assert_eq!(again, Inserted::Existing(first));
    let c = claim(&db, 1, 0);
    assert_eq!(
        db.write(|c| Jobs::new(c).insert(&row, 1)).unwrap(),
        Inserted::Existing(first),
        "running holds the key too"
    );
    assert!(matches!(
        db.write(|cn| Jobs::new(cn).complete(first, c[0].attempt, None, 2))
            .unwrap(),
        Acked::Done(..)
    ));
    let second = insert(&db, &row, 3);
    assert_ne!(second, first, "a finished job frees the key");
}

#[test]
fn completion_is_idempotent_and_a_stale_attempt_is_ignored() {
    let (_dir, db) = db();
    let id = insert(&db, &job("a", 5, 0), 0);
    let c = claim(&db, 1, 10);
    let done = db
        .write(|cn| Jobs::new(cn).complete(id, 1, Some("{\"ok\":1}"), 20))
        .unwrap();
    let Acked::Done(change, started) = done else {
        panic!("{done:?}")
    };
    assert_eq!((change.to, started), (Some(State::Completed), Some(10)));
    assert_eq!(c[0].attempt, 1);
    assert_eq!(
        db.write(|cn| Jobs::new(cn).complete(id, 1, None, 30))
            .unwrap(),
        Acked::Already
    );
    assert_eq!(
        db.write(|cn| Jobs::new(cn).complete(id, 2, None, 30))
            .unwrap(),
        Acked::Stale
    );
    let row = db.read(|cn| Jobs::new(cn).get(id)).unwrap().unwrap();
    assert_eq!(row.result.as_deref(), Some("{\"ok\":1}"));
    assert_eq!(row.finished_at_ms, Some(20));
}

#[test]
fn failures_retry_then_die_with_their_history() {
    let (_dir, db) = db();
    let id = insert(&db, &job("a", 5, 0), 0);
    let mut now = 0;
    for attempt in 1..=3 {
        let c = claim(&db, 1, now);
        assert_eq!(c.len(), 1, "attempt {attempt}");
        let acked = db
            .write(|cn| {
                Jobs::new(cn).fail(id, attempt, &format!("boom {attempt}"), now, |a, max| {
                    assert_eq!((a, max), (attempt, 3));
                    if a >= max {
                        FailTo::Dead
                    } else {
                        FailTo::RetryAt(now + 1_000)
                    }
                })
            })
            .unwrap();
        let Acked::Done(change, _) = acked else {
            panic!("{acked:?}")
        };
        if attempt < 3 {
            assert_eq!(change.to, Some(State::Retryable));
            assert!(claim(&db, 1, now).is_empty(), "not before its backoff");
            now += 1_000;
            db.write(|cn| Jobs::new(cn).promote_due(now)).unwrap();
        } else {
            assert_eq!(change.to, Some(State::Dead));
        }
    }
    let row = db.read(|cn| Jobs::new(cn).get(id)).unwrap().unwrap();
    assert_eq!(row.state, State::Dead);
    assert!(row.errors.contains("boom 1") && row.errors.contains("boom 3"));
    assert_eq!(
        db.read(|cn| Jobs::new(cn).dead_ids(Some("default")))
            .unwrap(),
        [id]
    );
    // Retry: available now, attempts from zero, history kept.
    let Outcome::Done(change) = db.write(|cn| Jobs::new(cn).retry(id, now)).unwrap() else {
        panic!()
    };
    assert_eq!(
        (change.from, change.to),
        (Some(State::Dead), Some(State::Available))
    );
    let c = claim(&db, 1, now);
    assert_eq!(c[0].attempt, 1);
    let row = db.read(|cn| Jobs::new(cn).get(id)).unwrap().unwrap();
    assert!(row.errors.contains("boom 3"));
}

#[test]
fn an_expired_lease_fails_the_attempt() {
    let (_dir, db) = db();
    let id = insert(&db, &job("a", 5, 0), 0);
    claim(&db, 1, 0); // lease until 30_000
    assert_eq!(db.read(|c| Jobs::new(c).next_due()).unwrap(), Some(30_000));
    assert_eq!(
        db.write(|c| Jobs::new(c).heartbeat(id, 1, 60_000)).unwrap(),
        LeaseState::Extended
    );
    assert!(
        db.write(|c| Jobs::new(c).expire_leases(59_999, |_, _| FailTo::RetryAt(0)))
            .unwrap()
            .is_empty()
    );
    let expired = db
        .write(|c| Jobs::new(c).expire_leases(60_000, |_, _| FailTo::RetryAt(61_000)))
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].to, Some(State::Retryable));
    assert_eq!(
        db.write(|c| Jobs::new(c).heartbeat(id, 1, 90_000)).unwrap(),
        LeaseState::Lost
    );
    // The old worker's late completion is ignored.
    assert_eq!(
        db.write(|c| Jobs::new(c).complete(id, 1, None, 60_500))
            .unwrap(),
        Acked::Already,
        "the same attempt, no longer running: nothing to do"
    );
    assert_eq!(state(&db, id), State::Retryable);
    let row = db.read(|c| Jobs::new(c).get(id)).unwrap().unwrap();
    assert!(row.errors.contains("lease expired"), "{}", row.errors);
}

#[test]
fn cancel_retry_and_discard_follow_the_states() {
    let (_dir, db) = db();
    let id = insert(&db, &job("a", 5, 0), 0);
    claim(&db, 1, 0);
    let Outcome::Done(change) = db.write(|c| Jobs::new(c).cancel(id, 5)).unwrap() else {
        panic!()
    };
    assert_eq!(change.from, Some(State::Running));
    assert_eq!(
        db.write(|c| Jobs::new(c).heartbeat(id, 1, 99)).unwrap(),
        LeaseState::Cancelled
    );
    assert_eq!(
        db.write(|c| Jobs::new(c).cancel(id, 6)).unwrap(),
        Outcome::Refused(State::Cancelled)
    );
    assert_eq!(
        db.write(|c| Jobs::new(c).cancel(999, 6)).unwrap(),
        Outcome::NotFound
    );
    let waiting = insert(&db, &job("a", 5, 0), 0);
    assert_eq!(
        db.write(|c| Jobs::new(c).discard(waiting)).unwrap(),
        Outcome::Refused(State::Available)
    );
    assert!(matches!(
        db.write(|c| Jobs::new(c).discard(id)).unwrap(),
        Outcome::Done(Change { to: None, .. })
    ));
    assert!(db.read(|c| Jobs::new(c).get(id)).unwrap().is_none());
}

#[test]
fn pruning_keeps_dead_jobs_and_recent_ones() {
    let (_dir, db) = db();
    let old = insert(&db, &job("a", 5, 0), 0);
    let recent = insert(&db, &job("a", 5, 0), 0);
    let dead = insert(&db, &job("a", 5, 0), 0);
    claim(&db, 3, 0);
    db.write(|c| Jobs::new(c).complete(old, 1, None, 100))
        .unwrap();
    db.write(|c| Jobs::new(c).complete(recent, 1, None, 5_000))
        .unwrap();
    db.write(|c| Jobs::new(c).fail(dead, 1, "x", 100, |_, _| FailTo::Dead))
        .unwrap();
    let pruned = db.write(|c| Jobs::new(c).prune(1_000, 100)).unwrap();
    assert_eq!(pruned.iter().map(|c| c.id).collect::<Vec<_>>(), [old]);
    let counts = db.read(|c| Jobs::new(c).counts()).unwrap();
    assert!(counts.contains(&("default".into(), State::Dead, 1)));
    assert!(counts.contains(&("default".into(), State::Completed, 1)));
}

#[test]
fn lists_filter_and_page_newest_first() {
    let (_dir, db) = db();
    let ids: Vec<i64> = (0..5).map(|_| insert(&db, &job("a", 5, 0), 0)).collect();
    let mut other = job("b", 5, 0);
    other.queue = "mail".into();
    let mail = insert(&db, &other, 0);
    let all = db
        .read(|c| Jobs::new(c).list(&Filter::default(), 3))
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
    let page = db.read(|c| Jobs::new(c).list(&filter, 10)).unwrap();
    assert_eq!(
        page.iter().map(|j| j.id).collect::<Vec<_>>(),
        [ids[1], ids[0]]
    );
    let kind = Filter {
        kind: Some("b".into()),
        state: Some(State::Available),
        ..Filter::default()
    };
    assert_eq!(db.read(|c| Jobs::new(c).list(&kind, 10)).unwrap().len(), 1);
}

#[test]
fn queues_and_crons_are_stored() {
    let (_dir, db) = db();
    assert!(db.write(|c| Jobs::new(c).ensure_queue("mail", 0)).unwrap());
    assert!(!db.write(|c| Jobs::new(c).ensure_queue("mail", 0)).unwrap());
    let paused = QueueRow {
        name: "mail".into(),
        paused: true,
        concurrency: 2,
        rate: 10,
    };
    assert!(db.write(|c| Jobs::new(c).set_queue(&paused)).unwrap());
    assert!(
        !db.write(|c| Jobs::new(c).set_queue(&QueueRow {
            name: "nope".into(),
            ..paused.clone()
        }))
        .unwrap()
    );
    assert_eq!(db.read(|c| Jobs::new(c).queues()).unwrap(), [paused]);
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
    db.write(|c| Jobs::new(c).add_cron(&cron, 0)).unwrap();
    assert!(matches!(
        db.write(|c| Jobs::new(c).add_cron(&cron, 0)),
        Err(Error::Conflict(_))
    ));
    assert!(
        db.read(|c| Jobs::new(c).due_crons(9_999))
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.read(|c| Jobs::new(c).next_due()).unwrap(), Some(10_000));
    db.write(|c| Jobs::new(c).advance_cron("nightly", 20_000, 10_000, Some(7)))
        .unwrap();
    let stored = db.read(|c| Jobs::new(c).crons()).unwrap();
    assert_eq!(
        (
            stored[0].next_run_ms,
            stored[0].last_run_ms,
            stored[0].last_job
        ),
        (20_000, Some(10_000), Some(7))
    );
    assert!(db.write(|c| Jobs::new(c).remove_cron("nightly")).unwrap());
    assert!(!db.write(|c| Jobs::new(c).remove_cron("nightly")).unwrap());
}
