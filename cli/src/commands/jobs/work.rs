//! `agora jobs work --queue Q -- COMMAND ARGS…`: a worker in any language.
//!
//! Built on [`agora_wire::jobs::Worker`] (claims in batches with a long
//! poll, heartbeats, batched acknowledgements, graceful shutdown). Each
//! job runs COMMAND in its own process group with the job's arguments on
//! standard input and AGORA_JOB_ID, AGORA_JOB_KIND, AGORA_JOB_ATTEMPT and
//! AGORA_JOB_QUEUE set. Exit 0 completes it (standard output, when it is
//! one JSON document of at most 64 KiB, is the result); anything else
//! fails it with the last lines of standard error. Over its time limit, or
//! when the job is cancelled, the whole process group is killed.

use std::io::Write as _;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use agora_wire::Client;
use agora_wire::jobs::{JobContext, JobFailure, MAX_RESULT, Outcome, Worker, WorkerOptions};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::signal::unix::{SignalKind, signal};

use super::args::WorkArgs;
use crate::session;

/// How much of standard error a failure keeps: its last lines, up to this
/// many bytes.
const STDERR_TAIL: usize = 2048;
/// How many lines of standard error a failure keeps.
const STDERR_LINES: usize = 10;
/// How much standard output is read at most (the rest is discarded).
const STDOUT_MAX: usize = MAX_RESULT + 1;

/// Works the queue until Ctrl-C or SIGTERM, then lets the running jobs
/// finish; exits 130 (interrupted), or 2 when the daemon goes away.
pub async fn run(
    addr: &str,
    token: String,
    client: Client,
    args: WorkArgs,
    json: bool,
) -> anyhow::Result<u8> {
    drop(client);
    let queue = agora_wire::jobs::validate_queue(&args.queue).map_err(anyhow::Error::msg)?;
    // One connection of its own, with no request timeout: claims wait.
    let options = agora_wire::ClientOptions {
        request_timeout: None,
        ..agora_wire::ClientOptions::default()
    };
    let (client, _) = session::connect_with(addr, Some(token), options).await?;
    let command = Arc::new(args.command);
    let default_timeout = args.timeout;
    let worker = Worker::new(WorkerOptions {
        concurrency: args.concurrency as usize,
        batch: args.concurrency as usize,
        wait_ms: 5_000,
        // Test hook (docs/CLI.md: test switches are AGORA_TEST_* variables):
        // a short lease, so a test that kills a worker sees it expire soon.
        lease_ms: std::env::var("AGORA_TEST_JOBS_LEASE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(agora_wire::jobs::DEFAULT_LEASE_MS),
        ..WorkerOptions::new(queue.clone())
    })
    .handle_any(move |ctx| run_one(command.clone(), ctx, default_timeout));
    let observer: agora_wire::jobs::Observer = Arc::new(move |lease, kind, outcome, took| {
        let ms = took.as_millis() as u64;
        let line = match (outcome, json) {
            (Ok(_), true) => json!({"type": "done", "id": lease.id, "kind": kind, "attempt": lease.attempt, "ms": ms, "error": null}).to_string(),
            (Err(f), true) => json!({"type": "failed", "id": lease.id, "kind": kind, "attempt": lease.attempt, "ms": ms, "error": f.message}).to_string(),
            (Ok(_), false) => format!("done   job {} {kind} (attempt {}, {ms} ms)", lease.id, lease.attempt),
            (Err(f), false) => format!(
                "failed job {} {kind} (attempt {}, {ms} ms): {}",
                lease.id,
                lease.attempt,
                f.message.lines().last().unwrap_or_default()
            ),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    });
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let stop = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("agora: stopping: finishing the running jobs (Ctrl-C again to quit now)");
        // A second signal quits at once.
        tokio::spawn(async move {
            let mut again = signal(SignalKind::interrupt()).ok();
            if let Some(again) = again.as_mut() {
                again.recv().await;
            }
            std::process::exit(130);
        });
    };
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!(
            "working queue {queue} with {} (Ctrl-C stops)",
            args.concurrency
        );
    }
    worker
        .run_observed(Arc::new(client), stop, Some(observer))
        .await
        .map_err(|e| session::explain(addr, e, true))?;
    Ok(130)
}

/// Runs COMMAND for one job.
async fn run_one(command: Arc<Vec<String>>, ctx: JobContext, default: Option<Duration>) -> Outcome {
    let job = &ctx.job;
    let limit = match (job.timeout_ms.map(Duration::from_millis), default) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..])
        .env("AGORA_JOB_ID", job.id.to_string())
        .env("AGORA_JOB_KIND", &job.kind)
        .env("AGORA_JOB_ATTEMPT", job.attempt.to_string())
        .env("AGORA_JOB_QUEUE", &job.queue)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| JobFailure::retry(format!("cannot start {}: {e}", command[0])))?;
    let pgid = child.id().map(|p| p as i32);
    let mut stdin = child.stdin.take();
    let args = job.args.clone();
    let feed = async move {
        if let Some(stdin) = stdin.as_mut() {
            // A command that does not read its input is fine.
            let _ = stdin.write_all(args.as_bytes()).await;
        }
        drop(stdin);
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let read_out = async move {
        let mut buf = Vec::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.take(STDOUT_MAX as u64).read_to_end(&mut buf).await;
            // Drain the rest so the child never blocks on a full pipe.
            let _ = tokio::io::copy(out, &mut tokio::io::sink()).await;
        }
        buf
    };
    let read_err = async move {
        let mut tail: Vec<u8> = Vec::new();
        if let Some(err) = stderr.as_mut() {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = err.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > 4 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
        }
        tail
    };
    let kill = |sig: i32| {
        if let Some(pgid) = pgid {
            // SAFETY: killpg(2) on the process group we created; no memory
            // is involved.
            unsafe {
                libc::killpg(pgid, sig);
            }
        }
    };
    let work = async {
        let ((), out, err, status) = tokio::join!(feed, read_out, read_err, child.wait());
        (out, err, status)
    };
    let timer = async {
        match limit {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let (out, err, status) = tokio::select! {
        done = work => done,
        () = timer => {
            kill(libc::SIGKILL);
            return Err(JobFailure::retry(format!(
                "timed out after {} ms: the process group was killed",
                limit.unwrap_or_default().as_millis()
            )));
        }
        () = ctx.cancelled() => {
            kill(libc::SIGTERM);
            tokio::time::sleep(Duration::from_secs(2)).await;
            kill(libc::SIGKILL);
            return Err(JobFailure::discard("cancelled"));
        }
    };
    let status =
        status.map_err(|e| JobFailure::retry(format!("cannot wait for the command: {e}")))?;
    // Whatever the command left behind in its group goes too.
    kill(libc::SIGKILL);
    if status.success() {
        let text = String::from_utf8_lossy(&out);
        let text = text.trim();
        let result = (!text.is_empty()
            && text.len() <= MAX_RESULT
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
        .then(|| text.to_owned());
        return Ok(result);
    }
    let how = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "failed".to_owned(),
    };
    let tail = stderr_tail(&err);
    Err(JobFailure::retry(if tail.is_empty() {
        how
    } else {
        format!("{how}: {tail}")
    }))
}

/// The last lines of standard error, at most [`STDERR_TAIL`] bytes.
fn stderr_tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut tail = lines[lines.len().saturating_sub(STDERR_LINES)..].join("\n");
    if tail.len() > STDERR_TAIL {
        let mut start = tail.len() - STDERR_TAIL;
        while !tail.is_char_boundary(start) {
            start += 1;
        }
        tail = tail[start..].to_owned();
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stderr_tail_keeps_the_last_lines() {
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let tail = stderr_tail(text.as_bytes());
        assert!(
            tail.starts_with("line 21") && tail.ends_with("line 30"),
            "{tail}"
        );
        assert_eq!(stderr_tail(b""), "");
        let long = "x".repeat(10_000);
        assert_eq!(stderr_tail(long.as_bytes()).len(), STDERR_TAIL);
    }
}
