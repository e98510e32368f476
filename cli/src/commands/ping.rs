//! `agora ping`: round-trip times, like ping(8).

use std::time::{Duration, Instant};

use agora_wire::{BaseOp, BaseReply, Reply};
use serde::Serialize;

use crate::args::PingArgs;
use crate::output;
use crate::session;

#[derive(Serialize)]
struct Report<'a> {
    addr: &'a str,
    server_version: String,
    /// This connection, shaped as in `whoami --json`.
    session: Session,
    rtt_ms: Vec<f64>,
    min_ms: f64,
    avg_ms: f64,
    max_ms: f64,
}

/// A connection: `{id, client}`, the same shape in every command.
#[derive(Serialize)]
struct Session {
    id: u64,
    client: String,
}

/// Sends `count` pings and prints each round trip and a summary.
pub async fn run(addr: &str, args: &PingArgs, json: bool) -> anyhow::Result<u8> {
    let (client, welcome) = session::connect(addr, None).await?;
    if !json {
        println!(
            "PING {addr} (agora {}, session {})",
            welcome.server_version, welcome.session
        );
    }
    let mut rtts = Vec::with_capacity(args.count as usize);
    for seq in 1..=args.count.max(1) {
        let started = Instant::now();
        let reply = client
            .request(BaseOp::Ping)
            .await
            .map_err(|e| session::explain(addr, e, false))?;
        let rtt = crate::output::millis(started.elapsed());
        anyhow::ensure!(
            matches!(reply, Reply::Base(BaseReply::Pong { .. })),
            "{addr}: unexpected reply to ping"
        );
        if !json {
            println!("pong from {addr}: seq={seq} time={rtt:.3} ms");
        }
        rtts.push(rtt);
        if seq < args.count && args.interval > 0 {
            tokio::time::sleep(Duration::from_millis(args.interval)).await;
        }
    }
    let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rtts.iter().copied().fold(0.0, f64::max);
    let avg = crate::output::round_micros(rtts.iter().sum::<f64>() / rtts.len() as f64);
    if json {
        output::json(&Report {
            addr,
            server_version: welcome.server_version,
            session: Session {
                id: welcome.session,
                client: session::client_name(),
            },
            rtt_ms: rtts,
            min_ms: min,
            avg_ms: avg,
            max_ms: max,
        })?;
    } else {
        println!(
            "--- {addr}: {}, rtt min/avg/max = {min:.3}/{avg:.3}/{max:.3} ms",
            crate::output::count(rtts.len(), "ping", "pings")
        );
    }
    Ok(0)
}
