//! A job worker in Rust: works one queue of an agora daemon with handlers
//! registered by kind, until Ctrl-C or SIGTERM, then finishes the jobs
//! under way and prints what it did.
//!
//! ```sh
//! agora login alice                       # saves a token
//! export AGORA_TOKEN=…                    # or any token of yours
//! cargo run -p agora-wire --example worker -- mail 16
//! agora jobs enqueue email.send --queue mail --args '{"to": "bob@example.com"}'
//! ```
//!
//! Arguments: QUEUE [CONCURRENCY]; the daemon is `$AGORA_ADDR` (default
//! 127.0.0.1:7070). Kinds: `email.send` pretends to send a mail and fails
//! without a `to`, never to be retried; `echo` returns its arguments as its
//! result; every other kind completes at once (scripts/bench-jobs.sh runs
//! four of these as the external workers).

use std::sync::Arc;
use std::time::Duration;

use agora_wire::jobs::{JobFailure, Worker, WorkerOptions};
use agora_wire::{Client, Hello};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let queue = args.next().ok_or("usage: worker QUEUE [CONCURRENCY]")?;
    let concurrency: usize = args.next().map_or(Ok(10), |n| n.parse())?;
    let addr = std::env::var("AGORA_ADDR").unwrap_or_else(|_| "127.0.0.1:7070".into());
    let token = std::env::var("AGORA_TOKEN").map_err(|_| "set AGORA_TOKEN to a token")?;
    let (client, _) = Client::connect(&addr, Hello::new("worker-example", Some(token))).await?;

    let worker = Worker::new(WorkerOptions {
        concurrency,
        batch: concurrency,
        ..WorkerOptions::new(queue)
    })
    .handle("email.send", |job| async move {
        let args: serde_json::Value = serde_json::from_str(&job.job.args)
            .map_err(|e| JobFailure::discard(format!("bad arguments: {e}")))?;
        let Some(to) = args.get("to").and_then(|t| t.as_str()) else {
            return Err(JobFailure::discard("no \"to\" in the arguments"));
        };
        // Stop early when the job is cancelled meanwhile.
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = job.cancelled() => return Err(JobFailure::discard("cancelled")),
        }
        Ok(Some(serde_json::json!({ "sent_to": to }).to_string()))
    })
    .handle("echo", |job| async move { Ok(Some(job.job.args.clone())) })
    .handle_any(|_| async { Ok(None) });

    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    let summary = worker.run(Arc::new(client), stop).await?;
    eprintln!(
        "completed {}, failed {}, stale {}",
        summary.completed, summary.failed, summary.stale
    );
    Ok(())
}
