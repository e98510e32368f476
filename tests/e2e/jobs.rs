//! Jobs end to end: the real daemon, real clients, workers written with the
//! Rust `Worker` API and `agora jobs work` processes running real commands,
//! SIGKILL of a worker and of the daemon. Waits are on the daemon's own
//! answers (stats, long-poll claims); the only fixed waits are the short
//! leases and backoffs the `AGORA_TEST_*` hooks set.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agora_wire::jobs::{
    Claimed, Completion, Failure, Job, JobState, NewCron, NewJob, StateCounts, Worker,
    WorkerOptions,
};
use agora_wire::{
    BaseOp, BaseReply, Client, ErrorCode, JobsOp, JobsReply, Reply, Request, ServerFrame, encode,
};
use futures::future::join_all;
use serde_json::Value;

use crate::support::{Daemon, Home, rt, saved_token, wait_for};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Registers `name` and returns a signed-in client and its token.
async fn user(daemon: &Daemon, name: &str) -> (Client, String) {
    let client = daemon.client(None).await;
    let Reply::Base(BaseReply::Session { token, .. }) = client
        .request(BaseOp::Register {
            name: name.into(),
            password: format!("{name}-password"),
        })
        .await
        .unwrap()
    else {
        panic!("expected a session");
    };
    (client, token)
}

/// A request that must succeed.
async fn ask(client: &Client, op: JobsOp) -> JobsReply {
    match client.request(op).await {
        Ok(Reply::Jobs(reply)) => reply,
        other => panic!("unexpected answer {other:?}"),
    }
}

/// A request that must fail with `code`; returns the message.
async fn refused(client: &Client, op: JobsOp, code: ErrorCode) -> String {
    match client.request(op).await {
        Err(agora_wire::Error::Server(body)) => {
            assert_eq!(body.code, code, "{body:?}");
            body.message
        }
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

fn job(kind: &str, queue: &str) -> NewJob {
    NewJob {
        kind: kind.into(),
        queue: Some(queue.into()),
        ..NewJob::default()
    }
}

async fn enqueue(client: &Client, jobs: Vec<NewJob>) -> Vec<u64> {
    let JobsReply::Enqueued { ids, .. } = ask(client, JobsOp::Enqueue { jobs }).await else {
        panic!("expected ids");
    };
    ids
}

async fn get(client: &Client, id: u64) -> Job {
    let JobsReply::Job { job } = ask(client, JobsOp::Get { id }).await else {
        panic!("expected a job");
    };
    *job
}

async fn counts(client: &Client) -> StateCounts {
    let JobsReply::Stats { states, .. } = ask(client, JobsOp::Stats).await else {
        panic!("expected stats");
    };
    states
}

/// Claims up to `limit` jobs of `queue`, waiting up to `wait_ms` for one.
async fn claim(client: &Client, queue: &str, limit: u32, wait_ms: u64) -> Vec<Claimed> {
    let JobsReply::Claimed { jobs } = ask(
        client,
        JobsOp::Claim {
            queue: queue.into(),
            limit,
            lease_ms: None,
            wait_ms: Some(wait_ms),
        },
    )
    .await
    else {
        panic!("expected claimed jobs");
    };
    jobs
}

async fn complete(client: &Client, jobs: &[Claimed]) {
    let completions = jobs
        .iter()
        .map(|j| Completion {
            id: j.id,
            attempt: j.attempt,
            result: None,
        })
        .collect();
    let JobsReply::Acked { acked, stale } =
        ask(client, JobsOp::Complete { jobs: completions }).await
    else {
        panic!("expected an ack");
    };
    assert_eq!(acked.len(), jobs.len());
    assert!(stale.is_empty(), "{stale:?}");
}

/// Waits (on the daemon's counts, asked every 20 ms) until `check` holds.
async fn until(client: &Client, what: &str, check: impl Fn(&StateCounts) -> bool) -> StateCounts {
    let start = Instant::now();
    loop {
        let c = counts(client).await;
        if check(&c) {
            return c;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn many_workers_complete_every_job_exactly_once() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let (client, token) = user(&daemon, "alice").await;
        // 3,000 jobs: half in batches of 500, half one by one over 10
        // connections at once.
        const N: usize = 3000;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.extend(
                enqueue(
                    &client,
                    (0..500).map(|_| job("e2e.count", "many")).collect(),
                )
                .await,
            );
        }
        let mut singles = Vec::new();
        for _ in 0..10 {
            let c = daemon.client(Some(token.clone())).await;
            singles.push(async move {
                let mut mine = Vec::new();
                for _ in 0..N / 20 {
                    mine.extend(enqueue(&c, vec![job("e2e.count", "many")]).await);
                }
                mine
            });
        }
        for mine in join_all(singles).await {
            ids.extend(mine);
        }
        assert_eq!(
            ids.iter().collect::<BTreeSet<_>>().len(),
            N,
            "ids are unique"
        );

        // 8 workers of 4 at once, each on its own connection.
        let seen: Arc<Mutex<BTreeMap<u64, u32>>> = Arc::default();
        let stop = tokio_util::sync::CancellationToken::new();
        let mut workers = Vec::new();
        for _ in 0..8 {
            let c = Arc::new(daemon.client(Some(token.clone())).await);
            let seen = seen.clone();
            let stop = stop.clone();
            let worker = Worker::new(WorkerOptions {
                concurrency: 4,
                batch: 4,
                wait_ms: 500,
                ..WorkerOptions::new("many")
            })
            .handle("e2e.count", move |ctx| {
                let seen = seen.clone();
                async move {
                    *seen.lock().unwrap().entry(ctx.job.id).or_default() += 1;
                    Ok(Some(format!("{{\"id\": {}}}", ctx.job.id)))
                }
            });
            workers.push(tokio::spawn(async move {
                worker.run(c, stop.cancelled_owned()).await
            }));
        }
        until(&client, "every job completed", |c| c.completed == N as u64).await;
        stop.cancel();
        let mut total = 0;
        for w in workers {
            let summary = w.await.unwrap().expect("the worker ran");
            assert_eq!(summary.failed, 0);
            assert_eq!(summary.stale, 0);
            total += summary.completed;
        }
        assert_eq!(total, N as u64);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), N);
        assert!(seen.values().all(|n| *n == 1), "a job ran twice");
        assert_eq!(
            seen.keys().copied().collect::<BTreeSet<_>>(),
            ids.iter().copied().collect::<BTreeSet<_>>()
        );
        let c = counts(&client).await;
        assert_eq!((c.available, c.running, c.retryable), (0, 0, 0));
        // The result is kept.
        let first = get(&client, ids[0]).await;
        assert_eq!(first.state, JobState::Completed);
        assert_eq!(first.attempt, 1);
        let result: Value = serde_json::from_str(first.result.as_deref().unwrap()).unwrap();
        assert_eq!(result["id"], ids[0]);
    });
}

#[test]
fn claims_follow_priority_then_run_at_and_wait_for_scheduled_jobs() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let (client, _) = user(&daemon, "alice").await;
        let now = now_ms();
        let at = |priority: u8, run_at_ms: u64| NewJob {
            priority: Some(priority),
            run_at_ms: Some(run_at_ms),
            ..job("e2e.order", "order")
        };
        // Enqueued out of order; priority first, then run_at, then id.
        let ids = enqueue(
            &client,
            vec![
                at(5, now - 1000),
                at(1, now - 1000),
                at(5, now - 3000),
                at(9, now - 9000),
                at(1, now - 2000),
                at(5, now - 3000),
            ],
        )
        .await;
        // One due in 1.5 s, at the highest priority: not before its time.
        let later = enqueue(
            &client,
            vec![NewJob {
                priority: Some(0),
                delay_ms: Some(1500),
                ..job("e2e.order", "order")
            }],
        )
        .await[0];
        assert_eq!(get(&client, later).await.state, JobState::Scheduled);
        let mut order = Vec::new();
        for _ in 0..ids.len() {
            let got = claim(&client, "order", 1, 0).await;
            assert_eq!(got.len(), 1);
            order.push(got[0].id);
            complete(&client, &got).await;
        }
        assert_eq!(order, [ids[4], ids[1], ids[2], ids[5], ids[0], ids[3]]);
        assert!(claim(&client, "order", 10, 0).await.is_empty());
        // A long poll: answered when the scheduled job becomes due, not
        // before (the scheduler sleeps until then).
        let start = Instant::now();
        let got = claim(&client, "order", 10, 10_000).await;
        assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), [later]);
        let job = get(&client, later).await;
        assert!(now_ms() >= job.run_at_ms, "claimed before its time");
        assert!(start.elapsed() < Duration::from_secs(8));
    });
}

#[test]
fn a_failure_waits_for_the_backoff_curve() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let (client, _) = user(&daemon, "alice").await;
        let id = enqueue(&client, vec![job("e2e.flaky", "backoff")]).await[0];
        let got = claim(&client, "backoff", 1, 0).await;
        let before = now_ms();
        let JobsReply::Acked { acked, .. } = ask(
            &client,
            JobsOp::Fail {
                jobs: vec![Failure {
                    id,
                    attempt: got[0].attempt,
                    error: "boom".into(),
                    retry_in_ms: None,
                    discard: false,
                }],
            },
        )
        .await
        else {
            panic!()
        };
        assert_eq!(acked, [id]);
        let after = now_ms();
        let j = get(&client, id).await;
        assert_eq!(j.state, JobState::Retryable);
        assert_eq!(j.attempt, 1);
        assert_eq!(j.errors.len(), 1);
        assert_eq!(j.errors[0].message, "boom");
        // 1⁴ + 15 s, plus up to 30 s of jitter.
        assert!(
            j.run_at_ms >= before + 16_000 && j.run_at_ms < after + 46_000,
            "run_at {} is not 16-46 s after {before}",
            j.run_at_ms
        );
        assert!(claim(&client, "backoff", 1, 0).await.is_empty());
    });
}

/// `agora ARGS` in `home` against `daemon`.
fn agora(home: &Home, daemon: &Daemon, args: &[&str]) -> Output {
    let mut cmd = home.cmd();
    cmd.env("AGORA_ADDR", &daemon.addr)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.output().expect("run agora")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `agora jobs work --queue QUEUE -- COMMAND…` in the background, with
/// `env` set.
fn worker(
    home: &Home,
    daemon: &Daemon,
    queue: &str,
    env: &[(&str, &str)],
    command: &[&str],
) -> Child {
    let mut cmd = home.cmd();
    cmd.env("AGORA_ADDR", &daemon.addr)
        .envs(env.iter().copied())
        .args(["jobs", "work", "--queue", queue, "--"])
        .args(command)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().expect("spawn agora jobs work")
}

fn kill9(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn dead_letters_after_the_last_attempt_and_retry_from_there() {
    let home = Home::new();
    // Retries 100 ms apart instead of the curve's 16 s and more.
    let daemon = Daemon::start_env(&home, &[], &[("AGORA_TEST_JOBS_BACKOFF_MS", "100")]);
    home.register(&daemon.addr, "alice", "alice-password");
    let out = agora(
        &home,
        &daemon,
        &[
            "jobs",
            "enqueue",
            "report",
            "--queue",
            "flaky",
            "--max-attempts",
            "3",
            "--args",
            r#"{"n": 7}"#,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id: u64 = stdout(&out).trim().parse().unwrap();
    // A worker whose command fails, saying why on stderr.
    let mut failing = worker(
        &home,
        &daemon,
        "flaky",
        &[],
        &[
            "sh",
            "-c",
            "cat >/dev/null; echo noise >&2; echo \"no luck $AGORA_JOB_ATTEMPT\" >&2; exit 3",
        ],
    );
    let show = || {
        let out = agora(&home, &daemon, &["--json", "jobs", "show", &id.to_string()]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let dead = wait_for("the job to be dead", Duration::from_secs(30), || {
        let j = show();
        (j["state"] == "dead").then_some(j)
    });
    kill9(&mut failing);
    // A connection that ends still has a second to answer what it was
    // asked (conn.rs, FLUSH_ON_CLOSE): the killed worker's waiting claim
    // would take the job retried within it (and hold it until its lease
    // ran out). Delivery is at least once; this test wants it now.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(dead["attempt"], 3);
    let errors = dead["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3);
    for (i, e) in errors.iter().enumerate() {
        assert_eq!(e["attempt"], i + 1);
        let message = e["message"].as_str().unwrap();
        assert!(message.starts_with("exit status 3"), "{message}");
        assert!(
            message.ends_with(&format!("no luck {}", i + 1)),
            "{message}"
        );
    }
    // In the dead letter queue.
    let out = agora(&home, &daemon, &["--json", "jobs", "dead"]);
    assert!(out.status.success());
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["jobs"][0]["id"], id);
    // Retried: attempts start again, the history stays, and a worker that
    // succeeds completes it with its output as the result.
    let out = agora(&home, &daemon, &["jobs", "retry", &id.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j = show();
    assert_eq!(j["state"], "available");
    assert_eq!(j["attempt"], 0);
    assert_eq!(j["errors"].as_array().unwrap().len(), 3);
    let mut good = worker(
        &home,
        &daemon,
        "flaky",
        &[],
        &[
            "sh",
            "-c",
            "printf '{\"seen\": %s, \"attempt\": %s}' \"$(cat)\" \"$AGORA_JOB_ATTEMPT\"",
        ],
    );
    let done = wait_for("the job to complete", Duration::from_secs(30), || {
        let j = show();
        (j["state"] == "completed").then_some(j)
    });
    kill9(&mut good);
    assert_eq!(done["attempt"], 1);
    assert_eq!(
        done["result"],
        serde_json::json!({"seen": {"n": 7}, "attempt": 1})
    );
    // Nothing dead any more: `dead` and `retry --all-dead` have nothing to
    // report.
    assert_eq!(
        agora(&home, &daemon, &["jobs", "dead"]).status.code(),
        Some(1)
    );
    assert_eq!(
        agora(&home, &daemon, &["jobs", "retry", "--all-dead"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn a_worker_killed_mid_job_loses_its_lease_and_the_job_runs_again() {
    let home = Home::new();
    let daemon = Daemon::start_env(&home, &[], &[("AGORA_TEST_JOBS_BACKOFF_MS", "0")]);
    home.register(&daemon.addr, "alice", "alice-password");
    let marks = home.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let out = agora(
        &home,
        &daemon,
        &["jobs", "enqueue", "slow", "--queue", "slow"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    // The first attempt notes it started, then hangs; the worker's lease
    // is 1 s (heartbeats every 1/3 s while it lives).
    let script = format!(
        "echo $$ > {dir}/attempt-$AGORA_JOB_ATTEMPT; if [ $AGORA_JOB_ATTEMPT = 1 ]; then sleep 60; fi; echo '\"second time lucky\"'",
        dir = marks.display()
    );
    let lease = [("AGORA_TEST_JOBS_LEASE_MS", "1000")];
    let mut first = worker(&home, &daemon, "slow", &lease, &["sh", "-c", &script]);
    let pid: i32 = wait_for(
        "the first attempt to start",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(marks.join("attempt-1"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
        },
    );
    // Running, and still running after two lease lengths: the heartbeats
    // keep it.
    let state = |home: &Home| {
        let out = agora(home, &daemon, &["--json", "jobs", "show", &id]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(state(&home)["state"], "running");
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(state(&home)["state"], "running");
    // SIGKILL the worker (and the command it left behind).
    kill9(&mut first);
    // SAFETY: kill(2) on the process group of the shell the worker
    // started (its leader), so its `sleep` goes too.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let retried = wait_for("the lease to expire", Duration::from_secs(20), || {
        let j = state(&home);
        (j["state"] != "running").then_some(j)
    });
    assert!(
        ["retryable", "available"].contains(&retried["state"].as_str().unwrap()),
        "{retried}"
    );
    assert_eq!(retried["errors"][0]["attempt"], 1);
    let why = retried["errors"][0]["message"].as_str().unwrap();
    assert!(why.starts_with("lease expired"), "{why}");
    // Another worker runs it again.
    let mut second = worker(&home, &daemon, "slow", &lease, &["sh", "-c", &script]);
    let done = wait_for("the second attempt", Duration::from_secs(20), || {
        let j = state(&home);
        (j["state"] == "completed").then_some(j)
    });
    kill9(&mut second);
    assert_eq!(done["attempt"], 2);
    assert_eq!(done["result"], "second time lucky");
}

#[test]
fn every_acknowledged_enqueue_survives_a_sigkill_of_the_daemon() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    rt().block_on(async {
        let (_, token) = user(&daemon, "alice").await;
        // 6 connections enqueue as fast as they can, singles and batches of
        // 50, recording every id the daemon acknowledged; the daemon is
        // killed in the middle of it.
        let mut tasks = Vec::new();
        for n in 0..6 {
            let c = daemon.client(Some(token.clone())).await;
            let acked = acked.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let batch = if n % 2 == 0 { 1 } else { 50 };
                    let jobs = (0..batch).map(|_| job("e2e.burst", "burst")).collect();
                    match c.request(JobsOp::Enqueue { jobs }).await {
                        Ok(Reply::Jobs(JobsReply::Enqueued { ids, .. })) => {
                            acked.lock().unwrap().extend(ids)
                        }
                        _ => return,
                    }
                }
            }));
        }
        let start = Instant::now();
        while acked.lock().unwrap().len() < 3000 {
            assert!(start.elapsed() < Duration::from_secs(30), "too slow");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        daemon.signal(libc::SIGKILL);
        for t in tasks {
            t.await.unwrap();
        }
    });
    daemon.wait_exit(Duration::from_secs(10));
    let acked: BTreeSet<u64> = acked.lock().unwrap().iter().copied().collect();
    assert!(acked.len() >= 3000);
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let client = daemon.client(None).await;
        let reply = client
            .request(BaseOp::Login {
                name: "alice".into(),
                password: "alice-password".into(),
            })
            .await
            .unwrap();
        assert!(matches!(reply, Reply::Base(BaseReply::Session { .. })));
        // Every stored id, paging backwards through the list.
        let mut stored = BTreeSet::new();
        let mut before = None;
        loop {
            let JobsReply::List { jobs, more } = ask(
                &client,
                JobsOp::List {
                    state: None,
                    queue: Some("burst".into()),
                    kind: None,
                    before,
                    limit: Some(1000),
                },
            )
            .await
            else {
                panic!()
            };
            before = jobs.last().map(|j| j.id);
            stored.extend(jobs.iter().map(|j| j.id));
            if !more {
                break;
            }
        }
        let lost: Vec<_> = acked.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "{} acknowledged jobs lost: {lost:?}",
            lost.len()
        );
        // The counts the daemon loads agree with the rows.
        let c = counts(&client).await;
        assert_eq!(c.available, stored.len() as u64);
    });
}

#[test]
fn a_unique_key_gives_one_job_under_concurrent_enqueues() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let (client, token) = user(&daemon, "alice").await;
        let unique = |key: &str| NewJob {
            unique_key: Some(key.into()),
            ..job("e2e.unique", "unique")
        };
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let c = daemon.client(Some(token.clone())).await;
            tasks.push(async move {
                let mut ids = Vec::new();
                for round in 0..5 {
                    // Each request twice the same key, and a key of its round.
                    let jobs = vec![
                        unique("report-1"),
                        unique("report-1"),
                        unique(&format!("round-{round}")),
                    ];
                    ids.push(enqueue(&c, jobs).await);
                }
                ids
            });
        }
        let answers: Vec<Vec<Vec<u64>>> = join_all(tasks).await;
        let firsts: BTreeSet<u64> = answers
            .iter()
            .flatten()
            .flat_map(|ids| [ids[0], ids[1]])
            .collect();
        assert_eq!(firsts.len(), 1, "one job for report-1: {firsts:?}");
        for round in 0..5 {
            let ids: BTreeSet<u64> = answers.iter().map(|a| a[round][2]).collect();
            assert_eq!(ids.len(), 1, "round {round}: {ids:?}");
        }
        assert_eq!(counts(&client).await.available, 6);
        // Once the job finished, the key is free again.
        let id = *firsts.iter().next().unwrap();
        let got = claim(&client, "unique", 10, 0).await;
        let mine: Vec<Claimed> = got.iter().filter(|c| c.id == id).cloned().collect();
        complete(&client, &mine).await;
        let again = enqueue(&client, vec![unique("report-1")]).await[0];
        assert_ne!(again, id);
    });
}

#[test]
fn a_cron_slot_is_enqueued_once_across_a_sigkill_and_restart() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "alice", "alice-password");
    // Every second, in a paused queue so its jobs stay where we can count
    // them (the queue exists once a job was enqueued to it).
    let out = agora(
        &home,
        &daemon,
        &["jobs", "enqueue", "seed", "--queue", "ticks"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = agora(&home, &daemon, &["jobs", "pause", "ticks"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = agora(
        &home,
        &daemon,
        &[
            "--json",
            "jobs",
            "cron",
            "add",
            "tick",
            "* * * * * *",
            "noop",
            "--queue",
            "ticks",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let cron: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cron["name"], "tick");
    let slots = |daemon: &Daemon| -> Vec<u64> {
        let out = agora(
            &home,
            daemon,
            &[
                "--json", "jobs", "list", "--queue", "ticks", "--kind", "noop", "--limit", "1000",
            ],
        );
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut slots: Vec<u64> = list["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["run_at_ms"].as_u64().unwrap())
            .collect();
        slots.sort_unstable();
        slots
    };
    let before = wait_for("three cron slots", Duration::from_secs(20), || {
        let s = slots(&daemon);
        (s.len() >= 3).then_some(s)
    });
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    let killed_ms = now_ms();
    // Down for 3 s: the missed slots make one run, not a burst.
    std::thread::sleep(Duration::from_secs(3));
    let restart_ms = now_ms();
    // On the same address: the CLI's sign-in is saved per address.
    let daemon = Daemon::start_on(&home, &daemon.addr, &[]);
    let after = wait_for("slots after the restart", Duration::from_secs(20), || {
        let s = slots(&daemon);
        (s.len() >= before.len() + 2).then_some(s)
    });
    let distinct: BTreeSet<u64> = after.iter().copied().collect();
    assert_eq!(distinct.len(), after.len(), "a slot ran twice: {after:?}");
    assert!(
        before.iter().all(|s| after.contains(s)),
        "{before:?} {after:?}"
    );
    // Each slot is a whole second, and the seconds the daemon was down
    // ran once, as the latest of them, not as a burst: no slot between the
    // last one before the kill and the second before the restart.
    assert!(after.iter().all(|s| s % 1000 == 0), "{after:?}");
    let missed = after
        .iter()
        .filter(|s| **s > killed_ms && **s + 1000 <= restart_ms)
        .count();
    assert_eq!(
        missed, 0,
        "missed slots ran: {after:?} (restart at {restart_ms})"
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "alice", "alice-password");
    let fails = |args: &[&str], says: &str| {
        let out = agora(&home, &daemon, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(says),
            "{args:?}: {err:?} does not say {says:?}"
        );
    };
    fails(
        &["jobs", "enqueue", "x", "--args", "{bad"],
        "not valid JSON",
    );
    fails(
        &["jobs", "enqueue", "x", "--args", "@/no/such/file"],
        "/no/such/file",
    );
    fails(&["jobs", "enqueue", "x y"], "job kind");
    fails(&["jobs", "enqueue", "x", "--queue", "Not Valid"], "queue");
    fails(&["jobs", "enqueue", "x", "--priority", "10"], "10");
    fails(&["jobs", "enqueue", "x", "--in", "soon"], "soon");
    fails(
        &["jobs", "cron", "add", "nightly", "not a cron", "noop"],
        "cron",
    );
    fails(
        &["jobs", "cron", "add", "nightly", "61 * * * *", "noop"],
        "61",
    );
    fails(&["jobs", "pause", "nosuch"], "no queue named \"nosuch\"");
    fails(
        &["jobs", "limit", "nosuch", "--concurrency", "2"],
        "no queue",
    );
    fails(&["jobs", "watch", "--queue", "nosuch"], "no queue");
    // Asking after what does not exist is not an error: nothing to report.
    let missing: [&[&str]; 3] = [
        &["jobs", "show", "42"],
        &["jobs", "cancel", "42"],
        &["jobs", "cron", "rm", "nightly"],
    ];
    for args in missing {
        let out = agora(&home, &daemon, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
    // 1 MiB of arguments is the limit.
    let big = home.path().join("big.json");
    std::fs::write(&big, format!("\"{}\"", "x".repeat(1 << 20))).unwrap();
    fails(
        &[
            "jobs",
            "enqueue",
            "x",
            "--args",
            &format!("@{}", big.display()),
        ],
        "1 MiB",
    );
    // Nothing was stored.
    let out = agora(&home, &daemon, &["--json", "jobs", "stats"]);
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["queues"], serde_json::json!([]));
    // Over the protocol too: the daemon checks what it is sent.
    rt().block_on(async {
        let client = daemon.client(Some(saved_token(&home, &daemon.addr))).await;
        let bad = |args: &str| NewJob {
            args: Some(args.into()),
            ..job("x", "q")
        };
        let m = refused(
            &client,
            JobsOp::Enqueue {
                jobs: vec![bad("{\"a\": ")],
            },
            ErrorCode::BadRequest,
        )
        .await;
        assert!(m.contains("JSON"), "{m}");
        let m = refused(
            &client,
            JobsOp::Enqueue {
                jobs: vec![NewJob {
                    priority: Some(10),
                    ..job("x", "q")
                }],
            },
            ErrorCode::BadRequest,
        )
        .await;
        assert!(m.contains("priority"), "{m}");
        let m = refused(
            &client,
            JobsOp::CronAdd {
                cron: NewCron {
                    name: "c".into(),
                    expr: "* * *".into(),
                    job: job("noop", "q"),
                    catch_up: false,
                },
            },
            ErrorCode::BadRequest,
        )
        .await;
        assert!(!m.is_empty());
        let m = refused(
            &client,
            JobsOp::QueueSet {
                queue: "nosuch".into(),
                paused: Some(true),
                concurrency: None,
                rate: None,
            },
            ErrorCode::NotFound,
        )
        .await;
        assert!(m.contains("nosuch"), "{m}");
        assert_eq!(counts(&client).await, StateCounts::default());
    });
}

#[test]
fn agora_process_works_a_queue_of_log_statistics_jobs() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "alice", "alice-password");
    let logs = home.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("a.log"), "INFO up\nERROR disk full\nWARN slow\n").unwrap();
    std::fs::write(logs.join("b.log"), "ERROR again\nINFO fine\n").unwrap();
    let out = agora(
        &home,
        &daemon,
        &["jobs", "enqueue", "logs.stats", "--queue", "logs"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    // The docs' example: the file processor as an external worker.
    let logs_dir = logs.to_str().unwrap();
    let mut w = worker(
        &home,
        &daemon,
        "logs",
        &[],
        &[
            crate::support::bin(),
            "process",
            "--json",
            "--dir",
            logs_dir,
        ],
    );
    let done = wait_for("the statistics job", Duration::from_secs(30), || {
        let out = agora(&home, &daemon, &["--json", "jobs", "show", &id]);
        let j: Value = serde_json::from_slice(&out.stdout).ok()?;
        (j["state"] == "completed" || j["state"] == "retryable").then_some(j)
    });
    kill9(&mut w);
    assert_eq!(done["state"], "completed", "{done}");
    let result = &done["result"];
    assert_eq!(result["files"]["processed"], 2, "{result}");
    assert_eq!(result["lines"], 5, "{result}");
    assert_eq!(result["levels"]["ERROR"], 2, "{result}");
}

/// A worker whose connection closes while its long-poll claim waits takes
/// nothing: the claim answers empty as soon as the daemon reads the end of
/// the input, and a job enqueued right after goes to the next worker at
/// once (before, the closing connection's claim could still take it for
/// up to a second, and the job then sat out its lease).
#[test]
fn a_worker_that_closes_while_long_polling_takes_no_job() {
    use tokio::io::AsyncWriteExt as _;
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let (client, token) = user(&daemon, "alice").await;
        let mut leaving = daemon.raw_with(Some(token.clone())).await;
        let claim_op = JobsOp::Claim {
            queue: "q".into(),
            limit: 1,
            lease_ms: None,
            wait_ms: Some(60_000),
        };
        for (id, op) in [(1, claim_op.into()), (2, BaseOp::Ping.into())] {
            leaving
                .send_body(encode(&Request { id, op }).unwrap())
                .await;
        }
        // The ping is answered: the claim before it was read and waits.
        match leaving.next().await {
            Some(ServerFrame::Reply { id: 2, .. }) => {}
            other => panic!("expected the ping's answer, got {other:?}"),
        }
        // The worker stops sending (its write side closes).
        leaving.framed.get_mut().shutdown().await.unwrap();
        match leaving.next().await {
            Some(ServerFrame::Reply {
                id: 1,
                body: Reply::Jobs(JobsReply::Claimed { jobs }),
            }) => assert!(jobs.is_empty(), "{jobs:?}"),
            other => panic!("expected an empty claim, got {other:?}"),
        }
        let ids = enqueue(&client, vec![job("x", "q")]).await;
        let next = daemon.client(Some(token)).await;
        let got = claim(&next, "q", 1, 10_000).await;
        assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), ids);
        complete(&next, &got).await;
    });
}
