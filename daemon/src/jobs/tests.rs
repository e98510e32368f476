//! The service's async parts on a real file: long-poll claims woken by an
//! enqueue, and the built-in runner.

use std::time::Duration;

use agora_wire::jobs::{NewJob, StateCounts};

use super::*;

fn open() -> (tempfile::TempDir, Jobs) {
    let dir = tempfile::tempdir().unwrap();
    let db = agora_db::Db::open(&dir.path().join("agora.db")).unwrap();
    let jobs = Jobs::open(
        Storage::Sqlite(db),
        Arc::new(Hub::default()),
        JobsConfig::default(),
        8 << 20,
    )
    .unwrap();
    (dir, jobs)
}

async fn enqueue(jobs: &Jobs, kind: &str, args: &str) -> u64 {
    let row = convert::new_row(
        NewJob {
            kind: kind.into(),
            queue: Some("q".into()),
            args: Some(args.into()),
            max_attempts: Some(1),
            ..NewJob::default()
        },
        crate::now_ms(),
    )
    .unwrap();
    jobs.ask(|reply| Command::Enqueue {
        jobs: vec![row],
        reply,
    })
    .await
    .unwrap()
    .0[0]
}

async fn until(jobs: &Jobs, check: impl Fn(&StateCounts) -> bool) -> StateCounts {
    for _ in 0..500 {
        let (states, _) = jobs.stats().await.unwrap();
        if check(&states) {
            return states;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the counts never got there: {:?}", jobs.stats().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_claim_is_woken_by_an_enqueue() {
    let (_dir, jobs) = open();
    let first = enqueue(&jobs, "email", "{}").await;
    let got = jobs
        .claim("q".into(), false, 5, 30_000, 0, None)
        .await
        .unwrap();
    assert_eq!(got[0].id, first);
    let waiting = {
        let jobs = jobs.clone();
        tokio::spawn(async move { jobs.claim("q".into(), false, 5, 30_000, 20_000, None).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = enqueue(&jobs, "email", "{}").await;
    let got = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("woken well before the wait ends")
        .unwrap()
        .unwrap();
    assert_eq!(got.iter().map(|c| c.id).collect::<Vec<_>>(), [second]);
    // Nothing there: an empty answer once the wait is over.
    let none = jobs
        .claim("q".into(), false, 5, 30_000, 50, None)
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_kinds_run_in_the_daemon() {
    let (_dir, jobs) = open();
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    jobs.spawn(token.clone(), &tracker);
    let noop = enqueue(&jobs, "noop", "{}").await;
    let fail = enqueue(&jobs, "fail", r#"{"message": "on purpose"}"#).await;
    let sleep = enqueue(&jobs, "sleep", r#"{"ms": 20}"#).await;
    let external = enqueue(&jobs, "email", "{}").await;
    let states = until(&jobs, |s| s.completed == 2 && s.dead == 1).await;
    assert_eq!(states.available, 1, "the external kind waits for a worker");
    assert_eq!(jobs.get(noop).await.unwrap().state, JobState::Completed);
    assert_eq!(jobs.get(sleep).await.unwrap().state, JobState::Completed);
    let dead = jobs.get(fail).await.unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.errors[0].message, "on purpose");
    assert_eq!(jobs.get(external).await.unwrap().state, JobState::Available);
    token.cancel();
    tracker.close();
    tokio::time::timeout(Duration::from_secs(5), tracker.wait())
        .await
        .expect("the tasks stop");
}
