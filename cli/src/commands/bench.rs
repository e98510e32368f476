//! `agora bench ping`: a load generator for the request/reply path.
//!
//! Each connection speaks raw frames (no multiplexing client in between),
//! keeps `--pipeline` pings in flight, and records every round trip after a
//! one-second warm-up. The report gives throughput and latency percentiles.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agora_wire::{BaseOp, FrameCodec, Hello, Op, Request, ServerFrame, decode, encode};
use anyhow::Context as _;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::args::BenchPingArgs;
use crate::output;
use crate::session;

const WARM_UP: Duration = Duration::from_secs(1);

#[derive(Serialize)]
struct Report {
    addr: String,
    connections: usize,
    pipeline: usize,
    #[serde(serialize_with = "crate::output::three_decimals")]
    seconds: f64,
    requests: u64,
    #[serde(serialize_with = "crate::output::three_decimals")]
    requests_per_sec: f64,
    p50_us: u32,
    p90_us: u32,
    p99_us: u32,
    p999_us: u32,
    max_us: u32,
}

/// Runs the benchmark and prints the report.
pub async fn ping(addr: &str, args: &BenchPingArgs, json: bool) -> anyhow::Result<u8> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(args.pipeline > 0, "--pipeline must be at least 1");
    let mut conns = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        conns.push(open(addr, None).await?);
    }
    let start = Instant::now();
    let measure_from = start + WARM_UP;
    let deadline = measure_from + Duration::from_secs_f64(args.duration);
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|framed| tokio::spawn(drive(framed, args.pipeline, measure_from, deadline)))
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.context("bench task panicked")??);
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> u32 {
        if latencies.is_empty() {
            return 0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i]
    };
    let report = Report {
        addr: addr.to_owned(),
        connections: args.connections,
        pipeline: args.pipeline,
        seconds: args.duration,
        requests: latencies.len() as u64,
        requests_per_sec: latencies.len() as f64 / args.duration,
        p50_us: pct(0.50),
        p90_us: pct(0.90),
        p99_us: pct(0.99),
        p999_us: pct(0.999),
        max_us: latencies.last().copied().unwrap_or(0),
    };
    if json {
        output::json(&report)?;
    } else {
        println!(
            "{} pings in {:.1} s over {} connections (pipeline {}): {:.0} req/s",
            report.requests,
            report.seconds,
            report.connections,
            report.pipeline,
            report.requests_per_sec
        );
        println!(
            "latency µs: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            report.p50_us, report.p90_us, report.p99_us, report.p999_us, report.max_us
        );
    }
    Ok(0)
}

pub(super) type Conn = Framed<TcpStream, FrameCodec>;

/// The two fields of a server frame the benchmark reads.
#[derive(serde::Deserialize)]
struct Answer {
    r#type: String,
    #[serde(default)]
    id: u64,
}

/// A raw frame connection for load generators: the handshake done,
/// nothing in between the caller and the socket.
pub(super) async fn open(addr: &str, token: Option<&str>) -> anyhow::Result<Conn> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| session::explain(addr, e.into(), false))?;
    stream.set_nodelay(true)?;
    let mut framed = Framed::new(stream, FrameCodec::default());
    framed
        .send(encode(&Hello::new(
            "agora-bench",
            token.map(str::to_owned),
        ))?)
        .await?;
    let first = framed.next().await.context("closed during handshake")??;
    match decode::<ServerFrame>(&first)? {
        ServerFrame::Welcome(_) => Ok(framed),
        other => anyhow::bail!("handshake refused: {other:?}"),
    }
}

/// Keeps `depth` pings in flight until the deadline; returns the round
/// trips (µs) of replies sent after `measure_from`.
async fn drive(
    mut conn: Conn,
    depth: usize,
    measure_from: Instant,
    deadline: Instant,
) -> anyhow::Result<Vec<u32>> {
    let mut sent: HashMap<u64, Instant> = HashMap::with_capacity(depth);
    let mut next_id = 1u64;
    let mut latencies = Vec::with_capacity(1 << 16);
    for _ in 0..depth {
        conn.feed(encode(&Request {
            id: next_id,
            op: Op::Base(BaseOp::Ping),
        })?)
        .await?;
        sent.insert(next_id, Instant::now());
        next_id += 1;
    }
    conn.flush().await?;
    while !sent.is_empty() {
        let body = conn
            .next()
            .await
            .context("connection closed during the benchmark")??;
        let now = Instant::now();
        // Only the tag and id matter here; skipping the rest keeps the load
        // generator's own cost per reply low.
        let answer: Answer = decode(&body)?;
        anyhow::ensure!(
            answer.r#type == "reply",
            "unexpected {} frame",
            answer.r#type
        );
        let id = answer.id;
        if let Some(at) = sent.remove(&id)
            && at >= measure_from
            && now <= deadline
        {
            latencies.push(now.duration_since(at).as_micros().min(u32::MAX as u128) as u32);
        }
        if now < deadline {
            conn.send(encode(&Request {
                id: next_id,
                op: Op::Base(BaseOp::Ping),
            })?)
            .await?;
            sent.insert(next_id, Instant::now());
            next_id += 1;
        }
    }
    Ok(latencies)
}
