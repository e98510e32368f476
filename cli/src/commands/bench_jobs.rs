//! `agora bench jobs`: the job queue's throughput and latency.
//!
//! Registers a fresh user, enqueues `--jobs` jobs of `--kind` to a queue
//! of its own (or `--queue`) over `--connections` connections, each
//! keeping `--pipeline` enqueue requests of `--batch` jobs in flight, and
//! waits until every job completed: by the daemon itself for the built-in
//! `noop`, or by workers already working the queue for any other kind
//! (scripts/bench-jobs.sh starts four worker processes). Every enqueue is
//! acknowledged only after its commit, so the rates are durable ones.
//!
//! Reports jobs enqueued per second (first request to last
//! acknowledgement), jobs completed per second end to end (first request
//! to the last completion, seen in the daemon's counts every 10 ms), and
//! the wait of every job from when it could run to when it started
//! (`attempted_at_ms − run_at_ms`, read back from the stored jobs):
//! p50, p99 and max.

use std::time::{Duration, Instant};

use agora_wire::jobs::{JobState, NewJob, validate_kind, validate_queue};
use agora_wire::{BaseOp, BaseReply, Client, JobsOp, JobsReply, Reply};
use anyhow::Context as _;
use clap::Args;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use serde::Serialize;

use crate::output;
use crate::session;

/// Flags of `agora bench jobs`.
#[derive(Debug, Args, Clone)]
pub struct BenchJobsArgs {
    /// Jobs to enqueue and wait for.
    #[arg(long, default_value_t = 100_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub jobs: u64,
    /// Jobs per enqueue request (1 = single calls; at most 1000).
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch: u32,
    /// Connections enqueueing at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub connections: u32,
    /// Enqueue requests each connection keeps in flight.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pipeline: u32,
    /// The kind of the jobs: noop runs inside the daemon; any other kind
    /// needs workers on the queue (agora jobs work, or a Worker).
    #[arg(long, default_value = "noop", value_name = "KIND")]
    pub kind: String,
    /// The queue (default: a new one per run, bench-XXXXXX).
    #[arg(long, value_name = "QUEUE")]
    pub queue: Option<String>,
}

#[derive(Serialize)]
struct Report {
    jobs: u64,
    batch: u32,
    connections: u32,
    pipeline: u32,
    kind: String,
    queue: String,
    #[serde(serialize_with = "crate::output::three_decimals")]
    enqueue_secs: f64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    enqueued_per_sec: f64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    total_secs: f64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    completed_per_sec: f64,
    wait_p50_ms: u64,
    wait_p99_ms: u64,
    wait_max_ms: u64,
}

/// How long the completed count may stand still before the run fails.
const STALL: Duration = Duration::from_secs(30);

/// Runs the benchmark and prints its report.
pub async fn run(addr: &str, args: &BenchJobsArgs, json: bool) -> anyhow::Result<u8> {
    validate_kind(&args.kind).map_err(anyhow::Error::msg)?;
    let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let queue = match &args.queue {
        Some(q) => validate_queue(q).map_err(anyhow::Error::msg)?,
        None => format!("bench-{tag}"),
    };
    let (first, _) = session::connect(addr, None).await?;
    let reply = first
        .request(BaseOp::Register {
            name: format!("bj{tag}"),
            password: "bench-password".into(),
        })
        .await
        .map_err(|e| session::explain(addr, e, false))?;
    let Reply::Base(BaseReply::Session { token, .. }) = reply else {
        anyhow::bail!("unexpected reply to register: {reply:?}");
    };
    let mut clients = vec![first];
    for _ in 1..args.connections {
        clients.push(session::connect(addr, Some(token.clone())).await?.0);
    }
    let counts_client = session::connect(addr, Some(token.clone())).await?.0;
    let completed_before = completed(&counts_client, &queue).await?;

    // Requests are dealt out from one counter, so the total is exact.
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let enqueue = futures::future::try_join_all(clients.iter().map(|client| {
        let next = next.clone();
        let queue = queue.clone();
        async move {
            let take = || {
                let from =
                    next.fetch_add(u64::from(args.batch), std::sync::atomic::Ordering::Relaxed);
                (from < args.jobs).then(|| (args.jobs - from).min(u64::from(args.batch)))
            };
            let mut in_flight = FuturesUnordered::new();
            loop {
                while in_flight.len() < args.pipeline as usize {
                    let Some(n) = take() else { break };
                    let jobs = (0..n)
                        .map(|_| NewJob {
                            kind: args.kind.clone(),
                            queue: Some(queue.clone()),
                            ..NewJob::default()
                        })
                        .collect();
                    in_flight.push(client.request(JobsOp::Enqueue { jobs }));
                }
                let Some(answer) = in_flight.next().await else {
                    return anyhow::Ok(());
                };
                match answer.map_err(|e| session::explain(addr, e, true))? {
                    Reply::Jobs(JobsReply::Enqueued { .. }) => {}
                    other => anyhow::bail!("unexpected reply to jobs_enqueue: {other:?}"),
                }
            }
        }
    }));
    // The completions are watched while the enqueues run.
    let watch = async {
        let mut last = (completed_before, Instant::now());
        loop {
            let done = completed(&counts_client, &queue).await?;
            if done - completed_before >= args.jobs {
                return anyhow::Ok(started.elapsed());
            }
            if done != last.0 {
                last = (done, Instant::now());
            } else if last.1.elapsed() > STALL {
                anyhow::bail!(
                    "no job of queue {queue} completed for {} s ({} of {} done): are workers running on it?",
                    STALL.as_secs(),
                    done - completed_before,
                    args.jobs
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let enqueue_done = async {
        enqueue.await?;
        anyhow::Ok(started.elapsed())
    };
    let (enqueue_time, total_time) = futures::try_join!(enqueue_done, watch)?;
    let (wait_p50_ms, wait_p99_ms, wait_max_ms) = waits(&counts_client, &queue).await?;
    let report = Report {
        jobs: args.jobs,
        batch: args.batch,
        connections: args.connections,
        pipeline: args.pipeline,
        kind: args.kind.clone(),
        queue,
        enqueue_secs: enqueue_time.as_secs_f64(),
        enqueued_per_sec: args.jobs as f64 / enqueue_time.as_secs_f64(),
        total_secs: total_time.as_secs_f64(),
        completed_per_sec: args.jobs as f64 / total_time.as_secs_f64(),
        wait_p50_ms,
        wait_p99_ms,
        wait_max_ms,
    };
    if json {
        output::json(&report)?;
    } else {
        println!(
            "{} {} jobs on {} in batches of {}, {} connections × {} in flight",
            report.jobs,
            report.kind,
            report.queue,
            report.batch,
            report.connections,
            report.pipeline
        );
        println!(
            "enqueued  {:>10.0} jobs/s  ({:.3} s)",
            report.enqueued_per_sec, report.enqueue_secs
        );
        println!(
            "completed {:>10.0} jobs/s  ({:.3} s, end to end)",
            report.completed_per_sec, report.total_secs
        );
        println!(
            "wait (could run → started): p50 {} ms, p99 {} ms, max {} ms",
            report.wait_p50_ms, report.wait_p99_ms, report.wait_max_ms
        );
    }
    Ok(0)
}

/// Completed jobs of `queue` (0 before its first job).
async fn completed(client: &Client, queue: &str) -> anyhow::Result<u64> {
    let reply = client.request(JobsOp::Stats).await?;
    let Reply::Jobs(JobsReply::Stats { queues, .. }) = reply else {
        anyhow::bail!("unexpected reply to jobs_stats: {reply:?}");
    };
    Ok(queues
        .iter()
        .find(|q| q.name == queue)
        .map_or(0, |q| q.states.completed))
}

/// p50, p99 and max of every completed job's wait (ms), read back page by
/// page.
async fn waits(client: &Client, queue: &str) -> anyhow::Result<(u64, u64, u64)> {
    let mut waits = Vec::new();
    let mut before = None;
    loop {
        let reply = client
            .request(JobsOp::List {
                state: Some(JobState::Completed),
                queue: Some(queue.to_owned()),
                kind: None,
                before,
                limit: Some(agora_wire::jobs::MAX_LIST),
            })
            .await?;
        let Reply::Jobs(JobsReply::List { jobs, more }) = reply else {
            anyhow::bail!("unexpected reply to jobs_list: {reply:?}");
        };
        waits.extend(
            jobs.iter()
                .filter_map(|j| Some(j.attempted_at_ms?.saturating_sub(j.run_at_ms))),
        );
        before = jobs.last().map(|j| j.id);
        if !more || before.is_none() {
            break;
        }
    }
    anyhow::ensure!(!waits.is_empty(), "no completed job to measure");
    waits.sort_unstable();
    let at = |p: f64| waits[((waits.len() as f64 * p) as usize).min(waits.len() - 1)];
    Ok((at(0.50), at(0.99), *waits.last().context("no waits")?))
}
