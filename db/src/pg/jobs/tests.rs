//! What only PostgreSQL has to show: two nodes (two connections, two
//! open transactions) on the same rows at once. What both backends
//! share is `jobs/suite.rs`'s.

use std::time::Duration;

use postgres::{Client, NoTls};

use super::*;

/// A migrated database and two connections to it: two nodes.
fn two_nodes() -> (Client, Client) {
    let (a, b, _) = two_nodes_at();
    (a, b)
}

/// [`two_nodes`], and the database's URL.
fn two_nodes_at() -> (Client, Client, String) {
    let url = crate::pg::testing::database();
    crate::Pg::connect(&url).unwrap();
    let connect = || Client::connect(&url, NoTls).unwrap();
    (connect(), connect(), url)
}

fn job(key: Option<&str>, builtin: bool) -> NewRow {
    NewRow {
        queue: "default".into(),
        kind: "mail".into(),
        builtin,
        args: "{}".into(),
        priority: 5,
        max_attempts: 3,
        run_at_ms: 0,
        unique_key: key.map(str::to_owned),
        timeout_ms: None,
        tags: "[]".into(),
    }
}

/// Runs `f` in a transaction of its own on `client`, committed.
fn committed<T>(client: &mut Client, f: impl FnOnce(&mut PgJobs) -> Result<T>) -> T {
    let mut tx = client.transaction().unwrap();
    let out = f(&mut PgJobs::new(&mut tx)).unwrap();
    tx.commit().unwrap();
    out
}

/// Runs `f` in a transaction on `b` (on another thread) while `a`'s
/// transaction is open, checks it waits, then commits `a`'s.
fn after_commit<T: Send>(
    a: Transaction<'_>,
    b: &mut Client,
    f: impl FnOnce(&mut PgJobs) -> Result<T> + Send,
) -> T {
    std::thread::scope(|s| {
        let waiting = s.spawn(|| committed(b, f));
        std::thread::sleep(Duration::from_millis(300));
        assert!(!waiting.is_finished(), "b did not wait for a's commit");
        a.commit().unwrap();
        waiting.join().unwrap()
    })
}

/// A transaction that fails rather than wait a second on a lock.
fn impatient(client: &mut Client) -> Transaction<'_> {
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("SET LOCAL lock_timeout = '1s'").unwrap();
    tx
}

#[test]
fn nodes_claiming_at_once_get_different_jobs_without_waiting() {
    let (mut a, mut b) = two_nodes();
    for _ in 0..5 {
        committed(&mut a, |j| j.insert(&job(None, false), 0));
    }
    let mut ta = a.transaction().unwrap();
    let first = PgJobs::new(&mut ta).claim("default", false, 3, 10, 100);
    // a's transaction is still open: its three rows are locked.
    let mut tb = impatient(&mut b);
    let second = PgJobs::new(&mut tb).claim("default", false, 10, 10, 100);
    let ids = |c: Result<Vec<ClaimedRow>>| c.unwrap().iter().map(|c| c.id).collect();
    let (first, second): (Vec<i64>, Vec<i64>) = (ids(first), ids(second));
    assert_eq!((first.len(), second.len()), (3, 2), "b took what a left");
    assert!(first.iter().all(|id| !second.contains(id)), "{first:?}");
    ta.commit().unwrap();
    tb.commit().unwrap();
    let again = committed(&mut a, |j| j.claim("default", false, 10, 20, 100));
    assert!(again.is_empty(), "every job was claimed once");
}

#[test]
fn one_unique_key_inserted_by_two_nodes_at_once_makes_one_job() {
    let (mut a, mut b) = two_nodes();
    let mut ta = a.transaction().unwrap();
    let first = PgJobs::new(&mut ta).insert(&job(Some("k"), false), 0);
    let Ok(Inserted::New(id, State::Available)) = first else {
        panic!("{first:?}");
    };
    // b waits on the index until a commits, then finds a's job.
    let second = after_commit(ta, &mut b, |j| j.insert(&job(Some("k"), false), 0));
    assert_eq!(second, Inserted::Existing(id));
    let sql = "SELECT count(*) FROM jobs WHERE unique_key = 'k'";
    assert_eq!(a.query_one(sql, &[]).unwrap().get::<_, i64>(0), 1);
    // Once the holder completes (while b waits), the key is free.
    let claimed = committed(&mut a, |j| j.claim("default", false, 1, 1, 100));
    let mut ta = a.transaction().unwrap();
    let attempt = claimed[0].attempt;
    PgJobs::new(&mut ta).complete(id, attempt, None, 2).unwrap();
    let third = after_commit(ta, &mut b, |j| j.insert(&job(Some("k"), false), 3));
    assert!(
        matches!(third, Inserted::New(new, _) if new != id),
        "{third:?}"
    );
}

#[test]
fn a_cron_slot_is_taken_by_one_node() {
    let (mut a, mut b) = two_nodes();
    let mut ta = a.transaction().unwrap();
    let mut jobs = PgJobs::new(&mut ta);
    assert!(jobs.take_cron_slot("nightly", 1_000).unwrap());
    let (same, next) = after_commit(ta, &mut b, |j| {
        let same = j.take_cron_slot("nightly", 1_000)?;
        Ok((same, j.take_cron_slot("nightly", 2_000)?))
    });
    assert!(!same, "the slot ran on both nodes");
    assert!(next, "another slot is free");
}

#[test]
fn sweeps_skip_the_rows_another_node_holds() {
    let (mut a, mut b) = two_nodes();
    for builtin in [false, false, true, true] {
        committed(&mut a, |j| j.insert(&job(None, builtin), 0));
    }
    let ext = committed(&mut a, |j| j.claim("default", false, 2, 0, 100));
    let ended = committed(&mut a, |j| j.claim("default", true, 1, 0, 100));
    // Another node's built-in job, its lease running.
    committed(&mut a, |j| j.claim("default", true, 1, 0, 10_000));
    let mut decide = |_, _| FailTo::RetryAt(5_000);
    // a holds one expired job's row (its worker's late heartbeat).
    let mut ta = a.transaction().unwrap();
    PgJobs::new(&mut ta).heartbeat(ext[0].id, 1, 100).unwrap();
    let mut tb = impatient(&mut b);
    let mut jobs = PgJobs::new(&mut tb);
    let ids = |c: Result<Vec<Change>>| c.unwrap().iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(jobs.release_builtin(200, &mut decide)), [ended[0].id]);
    assert_eq!(ids(jobs.expire_leases(200, &mut decide)), [ext[1].id]);
    let errors = jobs.get(ext[1].id).unwrap().unwrap().errors;
    assert!(errors.contains("lease expired"), "{errors}");
    tb.commit().unwrap();
    ta.commit().unwrap();
    let left = committed(&mut a, |j| j.expire_leases(200, &mut decide));
    assert_eq!(ids(Ok(left)), [ext[0].id]);
}

#[test]
fn a_queue_with_a_concurrency_limit_is_claimed_by_one_node_at_a_time() {
    let (mut a, mut b) = two_nodes();
    committed(&mut a, |j| {
        j.ensure_queue("default", 0)?;
        j.insert(&job(None, false), 0)?;
        j.claim("default", false, 1, 0, 60_000)
    });
    let mut tx = impatient(&mut a);
    assert_eq!(PgJobs::new(&mut tx).running("default").unwrap(), 1);
    // b's count waits for a's claim to commit, then counts it.
    let counted = after_commit(tx, &mut b, |j| j.running("default"));
    assert_eq!(counted, 1);
}

#[test]
fn announcements_arrive_on_commit_and_a_snapshot_says_whether_it_saw_them() {
    let (mut a, mut b, url) = two_nodes_at();
    let pg = crate::Pg::connect_as(&url, "node-b").unwrap();
    let mut listener = pg.listener(&[notice::CHANNEL]).unwrap();
    let snapshot = |client: &mut Client| {
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()
            .unwrap();
        let s = PgJobs::new(&mut tx).snapshot().unwrap().unwrap();
        tx.commit().unwrap();
        s
    };
    let before = snapshot(&mut a);
    let change = Change {
        id: 7,
        queue: "default".into(),
        kind: "mail".into(),
        from: Some(State::Running),
        to: Some(State::Completed),
        attempt: 1,
    };
    // Rolled back: never heard of.
    let mut tx = b.transaction().unwrap();
    PgJobs::new(&mut tx)
        .announce(std::slice::from_ref(&change), &[], None)
        .unwrap();
    tx.rollback().unwrap();
    committed(&mut b, |j| {
        j.announce(std::slice::from_ref(&change), &["default".into()], Some(5))
    });
    let after = snapshot(&mut a);
    let notes = listener.wait(Duration::from_secs(5)).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let n = notice::decode(&notes[0].payload).unwrap();
    assert_eq!(
        (n.changes, n.queues, n.due_ms),
        (vec![change], vec!["default".into()], Some(5))
    );
    assert!(!before.saw(n.xid), "taken before the commit");
    assert!(after.saw(n.xid), "taken after it");
}
