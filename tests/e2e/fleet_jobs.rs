//! Jobs across a fleet (issue 18, docs/FLEET.md): three daemons on one
//! PostgreSQL. Jobs enqueued on one node are worked by workers attached to
//! the others, each completed once, while a node is SIGKILLed (its
//! worker's jobs come back when their leases end); a recurring job fires
//! once per slot with three schedulers running.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use agora_wire::jobs::{Claimed, Completion, JobState, NewCron, NewJob};
use agora_wire::{BaseOp, BaseReply, Client, JobsOp, JobsReply, Reply};

use crate::support::{Daemon, Home, postgres_database, rt};

const KEY: &str = "fleet-test-key-0123456789abcdef0123456789";

/// A node; a job whose lease ended (its worker's node died) is retried at
/// once (`AGORA_TEST_JOBS_BACKOFF_MS`), not after the backoff curve's
/// seconds.
fn node(home: &Home, url: &str) -> Daemon {
    Daemon::start_env(
        home,
        &["--database", url],
        &[
            ("AGORA_JWT_SECRET", KEY),
            ("AGORA_TEST_JOBS_BACKOFF_MS", "0"),
        ],
    )
}

async fn ask(client: &Client, op: JobsOp) -> JobsReply {
    match client.request(op).await {
        Ok(Reply::Jobs(reply)) => reply,
        other => panic!("unexpected answer {other:?}"),
    }
}

/// Claims and completes jobs of `queue` until told to stop; returns the
/// ids it completed (acknowledged), in order.
async fn work(client: Client, queue: &str, stop: tokio::sync::watch::Receiver<bool>) -> Vec<u64> {
    let mut done = Vec::new();
    while !*stop.borrow() {
        let claimed = match client
            .request(JobsOp::Claim {
                queue: queue.into(),
                limit: 10,
                lease_ms: Some(1_500),
                wait_ms: Some(500),
            })
            .await
        {
            Ok(Reply::Jobs(JobsReply::Claimed { jobs })) => jobs,
            _ => break, // the node went away
        };
        if claimed.is_empty() {
            continue;
        }
        let completions: Vec<Completion> = claimed
            .iter()
            .map(|j: &Claimed| Completion {
                id: j.id,
                attempt: j.attempt,
                result: None,
            })
            .collect();
        match client.request(JobsOp::Complete { jobs: completions }).await {
            Ok(Reply::Jobs(JobsReply::Acked { acked, .. })) => done.extend(acked),
            _ => break,
        }
    }
    done
}

async fn list(client: &Client, queue: &str, kind: Option<&str>) -> Vec<agora_wire::jobs::Job> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let reply = client
            .request(JobsOp::List {
                state: None,
                queue: Some(queue.into()),
                kind: kind.map(str::to_owned),
                before,
                limit: Some(500),
            })
            .await;
        let (jobs, more) = match reply {
            Ok(Reply::Jobs(JobsReply::List { jobs, more })) => (jobs, more),
            // The queue exists from its first job on.
            Err(e) if e.code() == Some(agora_wire::ErrorCode::NotFound) => return out,
            other => panic!("expected a list, got {other:?}"),
        };
        before = jobs.last().map(|j| j.id);
        out.extend(jobs);
        if !more {
            return out;
        }
    }
}

#[test]
fn jobs_enqueued_on_one_node_are_completed_once_by_workers_on_others_through_a_sigkill() {
    let url = postgres_database();
    let homes = [Home::new(), Home::new(), Home::new()];
    let a = node(&homes[0], &url);
    let mut b = node(&homes[1], &url);
    let c = node(&homes[2], &url);
    rt().block_on(async {
        let on_a = a.client(None).await;
        let Reply::Base(BaseReply::Session { token, .. }) = on_a
            .request(BaseOp::Register {
                name: "ops".into(),
                password: "ops-password".into(),
            })
            .await
            .unwrap()
        else {
            panic!("expected a session");
        };
        const JOBS: usize = 300;
        let mut ids = BTreeSet::new();
        for chunk in 0..(JOBS / 100) {
            let jobs = (0..100)
                .map(|i| NewJob {
                    kind: "email".into(),
                    queue: Some("work".into()),
                    args: Some(format!("{{\"n\":{}}}", chunk * 100 + i)),
                    ..NewJob::default()
                })
                .collect();
            let JobsReply::Enqueued { ids: got, .. } = ask(&on_a, JobsOp::Enqueue { jobs }).await
            else {
                panic!("expected ids");
            };
            ids.extend(got);
        }
        assert_eq!(ids.len(), JOBS);

        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let worker_b = tokio::spawn(work(
            b.client(Some(token.clone())).await,
            "work",
            stop.clone(),
        ));
        let worker_c = tokio::spawn(work(
            c.client(Some(token.clone())).await,
            "work",
            stop.clone(),
        ));
        // B dies while its worker holds jobs: their leases end and C (or
        // A's scheduler) hands them on.
        tokio::time::sleep(Duration::from_millis(150)).await;
        b.signal(libc::SIGKILL);
        let _ = b.wait_exit(Duration::from_secs(10));

        let start = Instant::now();
        loop {
            let jobs = list(&on_a, "work", None).await;
            let completed = jobs
                .iter()
                .filter(|j| j.state == JobState::Completed)
                .count();
            if completed == JOBS {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{completed} of {JOBS} completed"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop_tx.send(true).unwrap();
        let done_b = worker_b.await.unwrap();
        let done_c = worker_c.await.unwrap();
        let mut times: BTreeMap<u64, usize> = BTreeMap::new();
        for id in done_b.iter().chain(&done_c) {
            *times.entry(*id).or_default() += 1;
        }
        assert!(times.values().all(|n| *n == 1), "a job completed twice");
        assert!(!done_c.is_empty(), "C worked jobs enqueued on A");
        // Every job's one completion was acknowledged to a worker (those B
        // acknowledged before it died count: they were committed).
        let acked: BTreeSet<u64> = times.keys().copied().collect();
        assert_eq!(acked, ids);
        eprintln!(
            "worker on B completed {}, on C {}",
            done_b.len(),
            done_c.len()
        );
    });
}

#[test]
fn a_cron_slot_fires_once_with_three_nodes_scheduling() {
    let url = postgres_database();
    let homes = [Home::new(), Home::new(), Home::new()];
    let nodes: Vec<Daemon> = homes.iter().map(|h| node(h, &url)).collect();
    rt().block_on(async {
        let on_a = nodes[0].client(None).await;
        on_a.request(BaseOp::Register {
            name: "ops".into(),
            password: "ops-password".into(),
        })
        .await
        .unwrap();
        let reply = ask(
            &on_a,
            JobsOp::CronAdd {
                cron: NewCron {
                    name: "tick".into(),
                    expr: "* * * * * *".into(),
                    job: NewJob {
                        kind: "noop".into(),
                        queue: Some("ticks".into()),
                        ..NewJob::default()
                    },
                    catch_up: false,
                },
            },
        )
        .await;
        assert!(matches!(reply, JobsReply::Cron { .. }), "{reply:?}");
        let start = Instant::now();
        let slots = loop {
            let jobs = list(&on_a, "ticks", Some("noop")).await;
            if jobs.len() >= 4 {
                break jobs;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{} slots",
                jobs.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let runs: Vec<u64> = slots.iter().map(|j| j.run_at_ms).collect();
        let distinct: BTreeSet<u64> = runs.iter().copied().collect();
        assert_eq!(distinct.len(), runs.len(), "a slot ran twice: {runs:?}");
        assert!(runs.iter().all(|s| s % 1000 == 0), "{runs:?}");
    });
}
