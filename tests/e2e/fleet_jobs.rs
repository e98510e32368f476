//! Jobs across a fleet (issue 18, docs/FLEET.md): three daemons on one
//! PostgreSQL. Jobs enqueued on one node are worked by workers attached to
//! the others, each completed once, while a node is SIGKILLed and
//! restarted (its worker's jobs come back when their leases end); a
//! recurring job fires once per slot with three schedulers running; one
//! node's changes wake, count and publish on the others (their poll set
//! far out, so only the notifications can), and a concurrency limit holds
//! across nodes claiming at once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use agora_wire::jobs::{Claimed, Completion, JOBS_TOPIC, JobState, NewCron, NewJob, QueueInfo};
use agora_wire::{BaseOp, BaseReply, Client, Event, JobsEvent, JobsOp, JobsReply, Reply};

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
        // … and comes back, its worker with it.
        let b = node(&homes[1], &url);
        let worker_b2 = tokio::spawn(work(
            b.client(Some(token.clone())).await,
            "work",
            stop.clone(),
        ));

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
        let mut done_b = worker_b.await.unwrap();
        done_b.extend(worker_b2.await.unwrap());
        let done_c = worker_c.await.unwrap();
        let mut times: BTreeMap<u64, usize> = BTreeMap::new();
        for id in done_b.iter().chain(&done_c) {
            *times.entry(*id).or_default() += 1;
        }
        assert!(times.values().all(|n| *n == 1), "a job completed twice");
        assert!(!done_c.is_empty(), "C worked jobs enqueued on A");
        // Every acknowledged completion is one of the jobs, and every job was
        // completed (the loop above). A job may be completed without its
        // worker hearing so: B's node can commit a batch's completions and be
        // killed before it answers. At most one batch (a claim's limit) can
        // be in that state.
        let acked: BTreeSet<u64> = times.keys().copied().collect();
        assert!(acked.is_subset(&ids), "acknowledged a job never enqueued");
        let unheard = ids.difference(&acked).count();
        assert!(
            unheard <= 10,
            "{unheard} completions were never acknowledged to a worker"
        );
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

/// A node that ticks and re-polls only every ten minutes: what it does
/// sooner, the fleet's notifications made it do.
fn deaf_node(home: &Home, url: &str) -> Daemon {
    Daemon::start_env(
        home,
        &["--database", url],
        &[
            ("AGORA_JWT_SECRET", KEY),
            ("AGORA_TEST_JOBS_FLEET_POLL_MS", "600000"),
        ],
    )
}

/// Claims up to 5 of `limited`'s jobs, without waiting: how many came.
async fn claim_limited(client: &Client) -> usize {
    let JobsReply::Claimed { jobs } = ask(
        client,
        JobsOp::Claim {
            queue: "limited".into(),
            limit: 5,
            lease_ms: None,
            wait_ms: None,
        },
    )
    .await
    else {
        panic!("expected jobs");
    };
    jobs.len()
}

async fn enqueue(client: &Client, queue: &str, n: usize) -> Vec<u64> {
    let jobs = (0..n)
        .map(|_| NewJob {
            kind: "email".into(),
            queue: Some(queue.into()),
            ..NewJob::default()
        })
        .collect();
    let JobsReply::Enqueued { ids, .. } = ask(client, JobsOp::Enqueue { jobs }).await else {
        panic!("expected ids");
    };
    ids
}

/// `queue` as `client`'s node sees it, once `ok` holds (within 10 s).
async fn queue_seen(client: &Client, queue: &str, ok: impl Fn(&QueueInfo) -> bool) -> QueueInfo {
    let start = Instant::now();
    loop {
        let JobsReply::Stats { queues, .. } = ask(client, JobsOp::Stats).await else {
            panic!("expected stats");
        };
        let found = queues.into_iter().find(|q| q.name == queue);
        if let Some(q) = found.as_ref().filter(|q| ok(q)) {
            return q.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{queue} as seen: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn one_nodes_changes_wake_count_and_publish_on_the_others() {
    let url = postgres_database();
    let homes = [Home::new(), Home::new(), Home::new()];
    let (a, b, c) = (
        deaf_node(&homes[0], &url),
        deaf_node(&homes[1], &url),
        deaf_node(&homes[2], &url),
    );
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
        let on_b = b.client(Some(token.clone())).await;
        let on_c = c.client(Some(token.clone())).await;
        let mut pushes = on_c.pushes().await.unwrap();
        on_c.request(BaseOp::Subscribe {
            topics: vec![JOBS_TOPIC.into()],
        })
        .await
        .unwrap();

        // B waits on a queue nobody has made yet; A's enqueue wakes it.
        let waiting = tokio::spawn(async move {
            let start = Instant::now();
            let reply = ask(
                &on_b,
                JobsOp::Claim {
                    queue: "wake".into(),
                    limit: 10,
                    lease_ms: None,
                    wait_ms: Some(20_000),
                },
            )
            .await;
            (on_b, reply, start.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ids = enqueue(&on_a, "wake", 3).await;
        let (on_b, reply, took) = waiting.await.unwrap();
        let JobsReply::Claimed { jobs } = reply else {
            panic!("expected jobs, got {reply:?}");
        };
        assert!(!jobs.is_empty(), "B's claim was not woken");
        assert!(took < Duration::from_secs(15), "woken after {took:?}");
        let mut claimed = jobs;
        while claimed.len() < ids.len() {
            let JobsReply::Claimed { jobs } = ask(
                &on_b,
                JobsOp::Claim {
                    queue: "wake".into(),
                    limit: 10,
                    lease_ms: None,
                    wait_ms: Some(5_000),
                },
            )
            .await
            else {
                panic!("expected jobs");
            };
            assert!(!jobs.is_empty());
            claimed.extend(jobs);
        }
        let completions = claimed
            .iter()
            .map(|j| Completion {
                id: j.id,
                attempt: j.attempt,
                result: None,
            })
            .collect();
        ask(&on_b, JobsOp::Complete { jobs: completions }).await;

        // C counted what A and B did, and published it to its watcher.
        let q = queue_seen(&on_c, "wake", |q| q.states.completed == 3).await;
        assert_eq!((q.states.available, q.states.running), (0, 0), "{q:?}");
        assert_eq!(q.throughput.iter().sum::<u32>(), 3, "{q:?}");
        let mut last: BTreeMap<u64, Vec<JobState>> = BTreeMap::new();
        let start = Instant::now();
        while !ids.iter().all(|id| {
            last.get(id)
                .is_some_and(|s| s.last() == Some(&JobState::Completed))
        }) {
            let left = Duration::from_secs(10).saturating_sub(start.elapsed());
            let push = tokio::time::timeout(left, pushes.recv())
                .await
                .unwrap_or_else(|_| panic!("C's watcher saw {last:?}"))
                .expect("C's connection closed");
            if let Event::Jobs(JobsEvent::Changed { changes }) = push.event {
                for ch in changes {
                    last.entry(ch.id).or_default().extend(ch.state);
                }
            }
        }
        for id in &ids {
            assert_eq!(
                last[id],
                [JobState::Available, JobState::Running, JobState::Completed],
                "job {id} as C published it"
            );
        }

        // A concurrency limit set on A holds for claims on three nodes at
        // once.
        enqueue(&on_a, "limited", 12).await;
        let reply = ask(
            &on_a,
            JobsOp::QueueSet {
                queue: "limited".into(),
                paused: None,
                concurrency: Some(2),
                rate: None,
            },
        )
        .await;
        assert!(matches!(reply, JobsReply::Queue { .. }), "{reply:?}");
        for client in [&on_b, &on_c] {
            queue_seen(client, "limited", |q| q.concurrency == 2).await;
        }
        let (x, y, z) = tokio::join!(
            claim_limited(&on_a),
            claim_limited(&on_b),
            claim_limited(&on_c)
        );
        assert_eq!(x + y + z, 2, "running at once: A {x}, B {y}, C {z}");
    });
}
