//! From the wire to rows and back: checking what clients send (names, JSON
//! documents, sizes, ranges) before it reaches the writer, and turning
//! stored rows into the wire's [`Job`] and [`CronInfo`].

use agora_db::jobs::{CronRow, JobRow, NewRow};
use agora_wire::jobs::{
    AttemptError, CronInfo, DEFAULT_MAX_ATTEMPTS, DEFAULT_PRIORITY, DEFAULT_QUEUE, Job,
    LOWEST_PRIORITY, MAX_ARGS, MAX_ERROR, MAX_RESULT, NewCron, NewJob, is_builtin, validate_kind,
    validate_queue,
};
use agora_wire::{ErrorBody, ErrorCode};

use super::book::wire_state;

/// The most attempts a job may be given.
pub const MAX_ATTEMPTS: u32 = 1_000;
/// The longest unique key, in bytes.
pub const MAX_UNIQUE_KEY: usize = 256;
/// The most tags a job may have, and the longest tag.
pub const MAX_TAGS: usize = 16;
/// The longest tag, in bytes.
pub const MAX_TAG: usize = 64;
/// The latest a job may be scheduled: about 10 years from now.
pub const MAX_DELAY_MS: u64 = 10 * 366 * 24 * 3600 * 1000;

fn bad(message: impl Into<String>) -> ErrorBody {
    ErrorBody::bad_request(message)
}

/// Checks that `text` is one JSON document of at most `max` bytes.
///
/// # Errors
/// `too_large` or `bad_request`, naming `what`.
pub fn check_json(what: &str, text: &str, max: usize) -> Result<(), ErrorBody> {
    if text.len() > max {
        return Err(ErrorBody::new(
            ErrorCode::TooLarge,
            format!("{what} is {} bytes; the limit is {max}", text.len()),
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|err| bad(format!("{what} is not valid JSON: {err}")))
}

/// A new job checked and with its defaults, ready to store.
///
/// # Errors
/// `bad_request` (or `too_large`) naming the field at fault.
pub fn new_row(job: NewJob, now_ms: u64) -> Result<NewRow, ErrorBody> {
    validate_kind(&job.kind).map_err(bad)?;
    let queue = validate_queue(job.queue.as_deref().unwrap_or(DEFAULT_QUEUE)).map_err(bad)?;
    let args = job.args.unwrap_or_else(|| "{}".into());
    check_json("args", &args, MAX_ARGS)?;
    let priority = job.priority.unwrap_or(DEFAULT_PRIORITY);
    if priority > LOWEST_PRIORITY {
        return Err(bad(format!(
            "priority {priority} is out of range: 0 (highest) to {LOWEST_PRIORITY} (lowest)"
        )));
    }
    let max_attempts = job.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
    if !(1..=MAX_ATTEMPTS).contains(&max_attempts) {
        return Err(bad(format!(
            "max_attempts {max_attempts} is out of range: 1 to {MAX_ATTEMPTS}"
        )));
    }
    let run_at_ms = match (job.run_at_ms, job.delay_ms) {
        (Some(_), Some(_)) => return Err(bad("give run_at_ms or delay_ms, not both")),
        (Some(at), None) => at,
        (None, Some(delay)) => now_ms.saturating_add(delay),
        (None, None) => now_ms,
    };
    if run_at_ms > now_ms.saturating_add(MAX_DELAY_MS) {
        return Err(bad("run_at is more than 10 years away"));
    }
    if let Some(key) = &job.unique_key
        && (key.is_empty() || key.len() > MAX_UNIQUE_KEY)
    {
        return Err(bad(format!(
            "unique_key must be 1 to {MAX_UNIQUE_KEY} bytes"
        )));
    }
    if job.timeout_ms == Some(0) {
        return Err(bad("timeout_ms must be positive"));
    }
    if job.tags.len() > MAX_TAGS || job.tags.iter().any(|t| t.is_empty() || t.len() > MAX_TAG) {
        return Err(bad(format!(
            "at most {MAX_TAGS} tags of 1 to {MAX_TAG} bytes each"
        )));
    }
    Ok(NewRow {
        queue,
        builtin: is_builtin(&job.kind),
        kind: job.kind,
        args,
        priority: i64::from(priority),
        max_attempts: i64::from(max_attempts),
        run_at_ms: run_at_ms.min(i64::MAX as u64) as i64,
        unique_key: job.unique_key,
        timeout_ms: job.timeout_ms.map(|t| t.min(i64::MAX as u64) as i64),
        tags: serde_json::to_string(&job.tags).unwrap_or_else(|_| "[]".into()),
    })
}

/// A recurring job checked (its expression is parsed by the writer, which
/// also computes its first slot).
///
/// # Errors
/// `bad_request` naming the field at fault.
pub fn cron_row(cron: NewCron) -> Result<CronRow, ErrorBody> {
    let name = agora_wire::jobs::validate_cron_name(&cron.name).map_err(bad)?;
    super::schedule::Schedule::parse(&cron.expr).map_err(bad)?;
    let mut job = cron.job;
    job.run_at_ms = None;
    job.delay_ms = None;
    job.unique_key = None;
    let row = new_row(job, 0)?;
    Ok(CronRow {
        name,
        expr: cron.expr.split_whitespace().collect::<Vec<_>>().join(" "),
        kind: row.kind,
        queue: row.queue,
        args: row.args,
        priority: row.priority,
        max_attempts: row.max_attempts,
        timeout_ms: row.timeout_ms,
        tags: row.tags,
        catch_up: cron.catch_up,
        next_run_ms: 0,
        last_run_ms: None,
        last_job: None,
    })
}

/// A result checked.
///
/// # Errors
/// `bad_request` or `too_large`.
pub fn check_result(result: Option<&str>) -> Result<(), ErrorBody> {
    match result {
        Some(text) => check_json("result", text, MAX_RESULT),
        None => Ok(()),
    }
}

/// An error message cut to [`MAX_ERROR`] bytes, keeping its end (where the
/// cause usually is).
pub fn trim_error(message: String) -> String {
    if message.len() <= MAX_ERROR {
        return message;
    }
    let mut start = message.len() - MAX_ERROR + 3;
    while !message.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &message[start..])
}

fn u(n: i64) -> u64 {
    n.max(0) as u64
}

/// A stored job as the wire shows it.
pub fn job(row: JobRow) -> Job {
    let errors: Vec<AttemptError> = serde_json::from_str(&row.errors).unwrap_or_else(|err| {
        tracing::warn!(job = row.id, %err, "unreadable error history");
        Vec::new()
    });
    let tags: Vec<String> = serde_json::from_str(&row.tags).unwrap_or_default();
    Job {
        id: u(row.id),
        queue: row.queue,
        kind: row.kind,
        args: row.args,
        priority: row.priority.clamp(0, 255) as u8,
        state: wire_state(row.state),
        attempt: u(row.attempt).min(u64::from(u32::MAX)) as u32,
        max_attempts: u(row.max_attempts).min(u64::from(u32::MAX)) as u32,
        run_at_ms: u(row.run_at_ms),
        inserted_at_ms: u(row.inserted_at_ms),
        scheduled_at_ms: u(row.scheduled_at_ms),
        attempted_at_ms: row.attempted_at_ms.map(u),
        finished_at_ms: row.finished_at_ms.map(u),
        errors,
        result: row.result,
        unique_key: row.unique_key,
        timeout_ms: row.timeout_ms.map(u),
        tags,
    }
}

/// A stored recurring job as the wire shows it.
pub fn cron(row: CronRow) -> CronInfo {
    CronInfo {
        name: row.name,
        expr: row.expr,
        kind: row.kind,
        queue: row.queue,
        args: row.args,
        priority: row.priority.clamp(0, 255) as u8,
        max_attempts: u(row.max_attempts).min(u64::from(u32::MAX)) as u32,
        timeout_ms: row.timeout_ms.map(u),
        catch_up: row.catch_up,
        next_run_ms: u(row.next_run_ms),
        last_run_ms: row.last_run_ms.map(u),
        last_job: row.last_job.map(u),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_jobs_get_defaults_and_bad_ones_say_why() {
        let row = new_row(
            NewJob {
                kind: "noop".into(),
                ..NewJob::default()
            },
            1_000,
        )
        .unwrap();
        assert_eq!(
            (
                row.queue.as_str(),
                row.args.as_str(),
                row.priority,
                row.max_attempts
            ),
            ("default", "{}", 5, 20)
        );
        assert!(row.builtin);
        assert_eq!(row.run_at_ms, 1_000);
        let delayed = new_row(
            NewJob {
                kind: "x".into(),
                delay_ms: Some(500),
                queue: Some("Mail".into()),
                ..NewJob::default()
            },
            1_000,
        )
        .unwrap();
        assert_eq!((delayed.run_at_ms, delayed.queue.as_str()), (1_500, "mail"));
        let err = |job: NewJob| new_row(job, 0).unwrap_err();
        let e = err(NewJob {
            kind: "x".into(),
            args: Some("{oops".into()),
            ..NewJob::default()
        });
        assert!(
            e.message.starts_with("args is not valid JSON"),
            "{}",
            e.message
        );
        let e = err(NewJob {
            kind: "x".into(),
            args: Some(format!("\"{}\"", "a".repeat(MAX_ARGS))),
            ..NewJob::default()
        });
        assert_eq!(e.code, ErrorCode::TooLarge);
        let e = err(NewJob {
            kind: "x".into(),
            priority: Some(10),
            ..NewJob::default()
        });
        assert!(e.message.contains("priority 10"), "{}", e.message);
        let e = err(NewJob {
            kind: "bad kind".into(),
            ..NewJob::default()
        });
        assert!(e.message.contains("job kind"), "{}", e.message);
        let e = err(NewJob {
            kind: "x".into(),
            max_attempts: Some(0),
            ..NewJob::default()
        });
        assert!(e.message.contains("max_attempts"), "{}", e.message);
    }

    #[test]
    fn long_errors_keep_their_end() {
        let long = format!("{}the cause", "x".repeat(MAX_ERROR * 2));
        let cut = trim_error(long);
        assert!(cut.len() <= MAX_ERROR && cut.ends_with("the cause"));
        assert_eq!(trim_error("short".into()), "short");
    }

    #[test]
    fn cron_rows_check_the_expression() {
        let ok = cron_row(NewCron {
            name: "Nightly".into(),
            expr: "0  3 * * *".into(),
            job: NewJob {
                kind: "report".into(),
                ..NewJob::default()
            },
            catch_up: false,
        })
        .unwrap();
        assert_eq!(
            (ok.name.as_str(), ok.expr.as_str()),
            ("nightly", "0 3 * * *")
        );
        let bad = cron_row(NewCron {
            name: "x".into(),
            expr: "every day".into(),
            job: NewJob {
                kind: "report".into(),
                ..NewJob::default()
            },
            catch_up: false,
        })
        .unwrap_err();
        assert!(
            bad.message.contains("bad cron expression"),
            "{}",
            bad.message
        );
    }
}
