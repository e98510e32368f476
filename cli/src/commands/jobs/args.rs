//! The flags of `agora jobs …`, kept beside the command rather than in
//! `args.rs` (which only names [`JobsCommand`] in its `JobsArgs`).

use clap::{Args, Subcommand};

use crate::duration::parse_duration;

/// `agora jobs …`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Enqueue a job; prints its id (the existing job's id when its
    /// --unique-key is held by a waiting or running job).
    Enqueue(EnqueueArgs),
    /// List jobs, newest first.
    List(ListArgs),
    /// Show one job: arguments, attempts, errors, result.
    Show {
        /// The job's id.
        id: u64,
    },
    /// Cancel a job that has not finished; a running job's worker is told
    /// at its next heartbeat.
    Cancel {
        /// The job's id.
        id: u64,
    },
    /// Run a dead, cancelled or retryable job again now (attempts start
    /// again from 0; its error history is kept), or every dead job.
    Retry(TargetArgs),
    /// Delete a finished job (dead, cancelled or completed), or every dead
    /// job.
    Discard(TargetArgs),
    /// List the dead letter queue: jobs that failed their last attempt.
    Dead {
        /// Only this queue's.
        #[arg(long, value_name = "QUEUE")]
        queue: Option<String>,
        /// At most this many (1-1000).
        #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// Jobs by state, and every queue with its figures.
    Stats,
    /// Print job state changes as they happen, until interrupted.
    Watch {
        /// Only this queue's.
        #[arg(long, value_name = "QUEUE")]
        queue: Option<String>,
    },
    /// Work a queue: run COMMAND once per job, with the job's arguments
    /// (JSON) on its standard input.
    ///
    /// The environment has AGORA_JOB_ID, AGORA_JOB_KIND, AGORA_JOB_ATTEMPT
    /// and AGORA_JOB_QUEUE. Exit status 0 completes the job (standard
    /// output, if it is one JSON document, is its result); anything else
    /// fails it with the last lines of standard error, and the daemon
    /// retries it with backoff. A job over its time limit (the job's own,
    /// or --timeout) has its process group killed. Ctrl-C or SIGTERM stops
    /// claiming, lets the running jobs finish, then exits.
    Work(WorkArgs),
    /// Recurring jobs, on cron schedules (UTC).
    #[command(subcommand)]
    Cron(CronCommand),
    /// List the queues with their settings and counts.
    Queues,
    /// Stop handing out a queue's jobs (running ones go on).
    Pause {
        /// The queue.
        queue: String,
    },
    /// Hand out a paused queue's jobs again.
    Resume {
        /// The queue.
        queue: String,
    },
    /// Limit how many of a queue's jobs run at once and start per second
    /// (0 removes a limit).
    Limit {
        /// The queue.
        queue: String,
        /// The most jobs running at once.
        #[arg(long, value_name = "N", required_unless_present = "rate")]
        concurrency: Option<u32>,
        /// The most jobs started per second.
        #[arg(long, value_name = "N")]
        rate: Option<u32>,
    },
}

/// Flags of `agora jobs enqueue`.
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// What to run, e.g. email.send (letters, digits, '.', '_', '-', ':',
    /// '/'); noop, sleep and fail run inside the daemon.
    pub kind: String,
    /// The queue (1-64 of a-z, 0-9, '.', '_', '-').
    #[arg(long, default_value = "default", value_name = "QUEUE")]
    pub queue: String,
    /// The arguments: a JSON document, or @FILE to read one (@- reads
    /// standard input); at most 1 MiB.
    #[arg(long, value_name = "JSON|@FILE")]
    pub args: Option<String>,
    /// 0 (highest) to 9 (lowest).
    #[arg(long, default_value_t = 5, value_name = "P", value_parser = clap::value_parser!(u8).range(0..=9))]
    pub priority: u8,
    /// Run no earlier than TIME: RFC 3339 (2026-05-01T09:00:00Z) or
    /// milliseconds since the epoch.
    #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with = "delay")]
    pub at: Option<u64>,
    /// Run no earlier than DURATION from now (500ms, 10s, 2m, 1h, 1d).
    #[arg(long = "in", value_name = "DURATION", value_parser = parse_duration)]
    pub delay: Option<std::time::Duration>,
    /// Attempts before the job is dead (1-1000).
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_attempts: u32,
    /// While a job with this key waits or runs, enqueueing another returns
    /// that job's id instead.
    #[arg(long, value_name = "KEY")]
    pub unique_key: Option<String>,
    /// How long one attempt may run before its worker stops it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// A label (repeat for more).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

/// Flags of `agora jobs list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only jobs in this state.
    #[arg(long, value_name = "STATE", value_parser = ["scheduled", "available", "running", "retryable", "completed", "dead", "cancelled"])]
    pub state: Option<String>,
    /// Only this queue's.
    #[arg(long, value_name = "QUEUE")]
    pub queue: Option<String>,
    /// Only this kind.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// At most this many (1-1000).
    #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
}

/// Which jobs `retry` and `discard` act on.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The job's id.
    #[arg(required_unless_present = "all_dead")]
    pub id: Option<u64>,
    /// Every dead job instead of one.
    #[arg(long, conflicts_with = "id")]
    pub all_dead: bool,
    /// With --all-dead: only this queue's.
    #[arg(long, value_name = "QUEUE", requires = "all_dead")]
    pub queue: Option<String>,
}

/// Flags of `agora jobs work`.
#[derive(Debug, Args)]
pub struct WorkArgs {
    /// The queue to work.
    #[arg(long, value_name = "QUEUE")]
    pub queue: String,
    /// Jobs run at once (1-1000).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub concurrency: u32,
    /// The most one job may run, for jobs without a time limit of their
    /// own (a job's own limit wins when shorter).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// The command and its arguments (after --).
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `agora jobs cron …`
#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// Add a recurring job: each slot of EXPR (5 fields, minute hour day
    /// month weekday, or 6 with seconds first; UTC) enqueues a KIND job.
    /// A slot runs once, even across restarts; slots missed while the
    /// daemon was down run once in all, or each with --catch-up.
    Add {
        /// Its name (1-64 of a-z, 0-9, '.', '_', '-').
        name: String,
        /// The schedule, e.g. '*/5 * * * *' (quote it).
        expr: String,
        /// The kind of job each slot enqueues.
        kind: String,
        /// The jobs' queue.
        #[arg(long, default_value = "default", value_name = "QUEUE")]
        queue: String,
        /// The jobs' arguments: JSON, or @FILE.
        #[arg(long, value_name = "JSON|@FILE")]
        args: Option<String>,
        /// The jobs' priority, 0 (highest) to 9.
        #[arg(long, default_value_t = 5, value_name = "P", value_parser = clap::value_parser!(u8).range(0..=9))]
        priority: u8,
        /// The jobs' attempts (1-1000).
        #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        max_attempts: u32,
        /// The jobs' time limit per attempt.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<std::time::Duration>,
        /// Run every slot missed while the daemon was down (at most 100).
        #[arg(long)]
        catch_up: bool,
    },
    /// List the recurring jobs with their next slot.
    List,
    /// Remove a recurring job (jobs it enqueued stay).
    Rm {
        /// Its name.
        name: String,
    },
}

/// Parses `--at`: RFC 3339, or milliseconds since the epoch.
fn parse_time(text: &str) -> Result<u64, String> {
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
        .ok_or_else(|| {
            format!(
                "{text:?} is not a time (try 2026-05-01T09:00:00Z or milliseconds since the epoch)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_milliseconds() {
        assert_eq!(parse_time("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("2026-01-01T00:00:00Z"), Ok(1_767_225_600_000));
        assert_eq!(
            parse_time("2026-01-01T01:00:00+01:00"),
            Ok(1_767_225_600_000)
        );
        assert!(parse_time("tomorrow").is_err());
    }
}
