//! How jobs look on the command line: one JSON shape per thing, the same
//! in every command (docs/CLI.md; schemas in tests/schemas/jobs-*.json),
//! and one text form.
//!
//! - a job: `{id, queue, kind, args, priority, state, attempt,
//!   max_attempts, run_at_ms, inserted_at_ms, scheduled_at_ms,
//!   attempted_at_ms, finished_at_ms, errors, result, unique_key,
//!   timeout_ms, tags}` — `args` and `result` are the JSON documents
//!   themselves, not strings; absent values are `null`;
//! - a queue: `{name, paused, concurrency, rate, states, throughput,
//!   wait_p50_ms, wait_p99_ms, run_p50_ms, run_p99_ms}`;
//! - a recurring job: `{name, expr, kind, queue, args, priority,
//!   max_attempts, timeout_ms, catch_up, next_run_ms, last_run_ms,
//!   last_job}`;
//! - counts by state: `{scheduled, available, running, retryable,
//!   completed, dead, cancelled}`.

use agora_wire::jobs::{CronInfo, Job, JobChange, JobState, QueueInfo, StateCounts};
use serde_json::{Value, json};

use crate::output::count;

/// A JSON document carried as text, as JSON (a string if it is not one).
fn document(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// A job as JSON.
pub fn job(j: &Job) -> Value {
    json!({
        "id": j.id,
        "queue": j.queue,
        "kind": j.kind,
        "args": document(&j.args),
        "priority": j.priority,
        "state": j.state.as_str(),
        "attempt": j.attempt,
        "max_attempts": j.max_attempts,
        "run_at_ms": j.run_at_ms,
        "inserted_at_ms": j.inserted_at_ms,
        "scheduled_at_ms": j.scheduled_at_ms,
        "attempted_at_ms": j.attempted_at_ms,
        "finished_at_ms": j.finished_at_ms,
        "errors": j.errors.iter().map(|e| json!({
            "attempt": e.attempt,
            "at_ms": e.at_ms,
            "message": e.message,
        })).collect::<Vec<_>>(),
        "result": j.result.as_deref().map(document),
        "unique_key": j.unique_key,
        "timeout_ms": j.timeout_ms,
        "tags": j.tags,
    })
}

/// Counts by state as JSON.
pub fn states(s: &StateCounts) -> Value {
    let mut map = serde_json::Map::new();
    for state in JobState::ALL {
        map.insert(state.as_str().into(), json!(s.get(state)));
    }
    Value::Object(map)
}

/// A queue as JSON.
pub fn queue(q: &QueueInfo) -> Value {
    json!({
        "name": q.name,
        "paused": q.paused,
        "concurrency": q.concurrency,
        "rate": q.rate,
        "states": states(&q.states),
        "throughput": q.throughput,
        "wait_p50_ms": q.wait_p50_ms,
        "wait_p99_ms": q.wait_p99_ms,
        "run_p50_ms": q.run_p50_ms,
        "run_p99_ms": q.run_p99_ms,
    })
}

/// A recurring job as JSON.
pub fn cron(c: &CronInfo) -> Value {
    json!({
        "name": c.name,
        "expr": c.expr,
        "kind": c.kind,
        "queue": c.queue,
        "args": document(&c.args),
        "priority": c.priority,
        "max_attempts": c.max_attempts,
        "timeout_ms": c.timeout_ms,
        "catch_up": c.catch_up,
        "next_run_ms": c.next_run_ms,
        "last_run_ms": c.last_run_ms,
        "last_job": c.last_job,
    })
}

/// A `watch` line for a state change.
pub fn change_line(c: &JobChange) -> Value {
    json!({
        "type": "change",
        "id": c.id,
        "queue": c.queue,
        "kind": c.kind,
        "state": c.state.map(JobState::as_str),
        "attempt": c.attempt,
    })
}

/// `2026-05-01 09:00:00` (UTC) of a time in ms.
pub fn time(ms: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// `HH:MM:SS` (UTC) of now.
pub fn clock_now() -> String {
    chrono::Utc::now().format("%H:%M:%S").to_string()
}

/// Rows as aligned columns (the last one ragged), with a header.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len() - 1;
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.clone()));
        out.push('\n');
    }
    out
}

/// Jobs as a table.
pub fn jobs_text(jobs: &[Job]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.state.to_string(),
                j.queue.clone(),
                j.kind.clone(),
                j.priority.to_string(),
                format!("{}/{}", j.attempt, j.max_attempts),
                time(j.run_at_ms),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "STATE",
            "QUEUE",
            "KIND",
            "PRI",
            "ATTEMPT",
            "RUN AT (UTC)",
        ],
        &rows,
    )
}

/// One job in detail.
pub fn job_text(j: &Job) -> String {
    let mut out = String::new();
    let mut field = |k: &str, v: String| out.push_str(&format!("{k:<12} {v}\n"));
    field("id", j.id.to_string());
    field("state", j.state.to_string());
    field("queue", j.queue.clone());
    field("kind", j.kind.clone());
    field("priority", j.priority.to_string());
    field("attempt", format!("{} of {}", j.attempt, j.max_attempts));
    field("run at", time(j.run_at_ms));
    field("enqueued", time(j.inserted_at_ms));
    if let Some(t) = j.attempted_at_ms {
        field("attempted", time(t));
    }
    if let Some(t) = j.finished_at_ms {
        field("finished", time(t));
    }
    if let Some(k) = &j.unique_key {
        field("unique key", k.clone());
    }
    if let Some(t) = j.timeout_ms {
        field("timeout", format!("{t} ms"));
    }
    if !j.tags.is_empty() {
        field("tags", j.tags.join(", "));
    }
    field("args", pretty(&j.args));
    if let Some(r) = &j.result {
        field("result", pretty(r));
    }
    if !j.errors.is_empty() {
        out.push_str(&format!("{}\n", count(j.errors.len(), "error", "errors")));
        for e in &j.errors {
            out.push_str(&format!(
                "  attempt {} at {}: {}\n",
                e.attempt,
                time(e.at_ms),
                e.message.trim_end().replace('\n', "\n    ")
            ));
        }
    }
    out
}

fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
        .replace('\n', "\n             ")
}

/// Counts by state, one line.
pub fn states_text(s: &StateCounts) -> String {
    JobState::ALL
        .iter()
        .map(|st| format!("{} {}", st, s.get(*st)))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Queues as a table.
pub fn queues_text(queues: &[QueueInfo]) -> String {
    let rows: Vec<Vec<String>> = queues
        .iter()
        .map(|q| {
            let limit = |n: u32| {
                if n == 0 {
                    "-".to_owned()
                } else {
                    n.to_string()
                }
            };
            let last_minute: u64 = q.throughput.iter().map(|n| u64::from(*n)).sum();
            vec![
                q.name.clone(),
                if q.paused { "paused" } else { "running" }.into(),
                q.states.available.to_string(),
                q.states.running.to_string(),
                q.states.scheduled.to_string(),
                q.states.retryable.to_string(),
                q.states.dead.to_string(),
                last_minute.to_string(),
                limit(q.concurrency),
                limit(q.rate),
                format!("{}/{}", q.wait_p50_ms, q.wait_p99_ms),
            ]
        })
        .collect();
    table(
        &[
            "QUEUE",
            "STATUS",
            "AVAILABLE",
            "RUNNING",
            "SCHEDULED",
            "RETRYABLE",
            "DEAD",
            "DONE/MIN",
            "CONCURRENCY",
            "RATE/S",
            "WAIT P50/P99 MS",
        ],
        &rows,
    )
}

/// Recurring jobs as a table.
pub fn crons_text(crons: &[CronInfo]) -> String {
    let rows: Vec<Vec<String>> = crons
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.expr.clone(),
                c.kind.clone(),
                c.queue.clone(),
                if c.next_run_ms >= i64::MAX as u64 {
                    "never".into()
                } else {
                    time(c.next_run_ms)
                },
            ]
        })
        .collect();
    table(&["NAME", "SCHEDULE", "KIND", "QUEUE", "NEXT (UTC)"], &rows)
}

/// A `watch` line for people.
pub fn change_text(c: &JobChange) -> String {
    let state = c.state.map_or("deleted", JobState::as_str);
    format!(
        "{} job {} {} ({}) {state}, attempt {}",
        clock_now(),
        c.id,
        c.kind,
        c.queue,
        c.attempt
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Job {
        Job {
            id: 7,
            queue: "mail".into(),
            kind: "email.send".into(),
            args: r#"{"to":"bob"}"#.into(),
            priority: 5,
            state: JobState::Dead,
            attempt: 2,
            max_attempts: 2,
            run_at_ms: 0,
            inserted_at_ms: 0,
            scheduled_at_ms: 0,
            attempted_at_ms: Some(1_000),
            finished_at_ms: None,
            errors: vec![agora_wire::jobs::AttemptError {
                attempt: 1,
                at_ms: 1_000,
                message: "smtp down".into(),
            }],
            result: None,
            unique_key: None,
            timeout_ms: None,
            tags: vec![],
        }
    }

    #[test]
    fn a_job_has_one_shape_with_every_field() {
        let v = job(&sample());
        assert_eq!(v["args"]["to"], "bob", "args is the document itself");
        assert!(v["result"].is_null() && v["finished_at_ms"].is_null());
        assert_eq!(v.as_object().unwrap().len(), 18);
        assert_eq!(v["errors"][0]["message"], "smtp down");
    }

    #[test]
    fn text_forms_line_up() {
        let t = jobs_text(&[sample()]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("ID  STATE  QUEUE  KIND"), "{t}");
        assert!(lines[1].starts_with("7   dead   mail   email.send"), "{t}");
        assert!(job_text(&sample()).contains("attempt 1 at 1970-01-01 00:00:01: smtp down"));
    }
}
