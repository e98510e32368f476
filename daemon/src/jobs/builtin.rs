//! The kinds the daemon runs itself, for tests and benchmarks:
//!
//! - `noop`: completes at once (result `null`);
//! - `sleep`: completes after `{"ms": N}` (at most 5 minutes);
//! - `fail`: fails with `{"message": "…"}` (or a default message), so it
//!   is retried with backoff and ends in the dead letter queue.
//!
//! The runner claims built-in jobs queue by queue through the same writer
//! commands as external workers (so pause, concurrency and rate limits
//! apply), in batches, and acknowledges them in batches while it claims the
//! next ones: both land in the same commit. It sleeps until the writer
//! says built-in jobs became available — no polling. Its leases are long
//! ([`LEASE_MS`]) since nothing heartbeats them; at start-up the writer
//! fails the built-in jobs a previous process left running.

use std::time::Duration;

use agora_wire::jobs::{Claimed, Completion, Failure};
use tokio_util::sync::CancellationToken;

use super::Jobs;
use super::writer::Command;

/// The lease of a built-in job.
pub const LEASE_MS: u64 = 10 * 60 * 1000;
/// The longest a `sleep` job sleeps.
pub const MAX_SLEEP_MS: u64 = 5 * 60 * 1000;
/// How many built-in jobs one claim takes.
const BATCH: u32 = 500;

/// What a built-in job does.
enum Run {
    Now(Result<(), String>),
    Sleep(u64),
}

fn plan(job: &Claimed) -> Run {
    let args: serde_json::Value = serde_json::from_str(&job.args).unwrap_or_default();
    match job.kind.as_str() {
        "noop" => Run::Now(Ok(())),
        "sleep" => match args.get("ms").and_then(serde_json::Value::as_u64) {
            Some(ms) if ms <= MAX_SLEEP_MS => Run::Sleep(ms),
            _ => Run::Now(Err(format!(
                "sleep needs args {{\"ms\": N}} with N from 0 to {MAX_SLEEP_MS}"
            ))),
        },
        _ => Run::Now(Err(args
            .get("message")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("failed on purpose (kind fail)")
            .to_owned())),
    }
}

fn failure(job: &Claimed, error: String) -> Failure {
    Failure {
        id: job.id,
        attempt: job.attempt,
        error,
        retry_in_ms: None,
        discard: false,
    }
}

/// Runs built-in jobs until `token` is cancelled.
pub async fn run(jobs: Jobs, token: CancellationToken) {
    let signals = jobs.signals().clone();
    loop {
        // A permit left by a wake-up during the pass below makes this
        // resolve at once.
        let woken = signals.builtin.notified();
        let mut claimed_any = false;
        let mut retry_in: Option<u64> = None;
        for queue in signals.queue_names() {
            if token.is_cancelled() {
                return;
            }
            let outcome = jobs
                .ask(|reply| Command::Claim {
                    queue,
                    abandon: None,
                    builtin: true,
                    limit: BATCH,
                    lease_ms: LEASE_MS,
                    reply,
                })
                .await;
            let outcome = match outcome {
                Ok(o) => o,
                Err(err) => {
                    tracing::warn!(message = %err.message, "built-in runner cannot claim");
                    continue;
                }
            };
            if let Some(ms) = outcome.retry_in_ms {
                retry_in = Some(retry_in.map_or(ms, |r| r.min(ms)));
            }
            claimed_any |= !outcome.jobs.is_empty();
            let (mut completions, mut failures) = (Vec::new(), Vec::new());
            for job in outcome.jobs {
                match plan(&job) {
                    Run::Now(Ok(())) => completions.push(Completion {
                        id: job.id,
                        attempt: job.attempt,
                        result: None,
                    }),
                    Run::Now(Err(error)) => failures.push(failure(&job, error)),
                    Run::Sleep(ms) => {
                        let jobs = jobs.clone();
                        let token = token.clone();
                        tokio::spawn(async move {
                            tokio::select! {
                                () = token.cancelled() => return,
                                () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                            }
                            let done = vec![Completion {
                                id: job.id,
                                attempt: job.attempt,
                                result: None,
                            }];
                            let _ = jobs
                                .ask(|reply| Command::Complete { jobs: done, reply })
                                .await;
                        });
                    }
                }
            }
            // Acknowledged while the next claim is on its way, so both
            // share a commit.
            if !completions.is_empty() {
                let jobs = jobs.clone();
                tokio::spawn(async move {
                    if let Err(err) = jobs
                        .ask(|reply| Command::Complete {
                            jobs: completions,
                            reply,
                        })
                        .await
                    {
                        tracing::warn!(message = %err.message, "built-in runner cannot complete");
                    }
                });
            }
            if !failures.is_empty() {
                let jobs = jobs.clone();
                tokio::spawn(async move {
                    let _ = jobs
                        .ask(|reply| Command::Fail {
                            jobs: failures,
                            reply,
                        })
                        .await;
                });
            }
        }
        if claimed_any {
            continue;
        }
        let wait = async {
            match retry_in {
                Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = token.cancelled() => return,
            () = woken => {}
            () = wait => {}
        }
    }
}
