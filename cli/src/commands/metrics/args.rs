//! The flags of `agora metrics …`, `agora alerts …` and the daemon's
//! `--metrics-*` flags (kept here, referenced from `args.rs`).

use clap::{Args, Subcommand, ValueEnum};

use crate::duration::parse_duration;

/// The daemon's metrics flags.
#[derive(Debug, Args, Clone)]
pub struct DaemonMetricsArgs {
    /// Time between two samples of the dashboard's sampler (CPU, memory,
    /// disks, networks; the process table every fifth sample).
    #[arg(
        long,
        env = "AGORA_METRICS_INTERVAL",
        default_value = "1s",
        value_parser = parse_duration,
        value_name = "DURATION",
        help_heading = "Metrics"
    )]
    pub metrics_interval: std::time::Duration,

    /// How long raw samples are kept in the history.
    #[arg(
        long,
        env = "AGORA_METRICS_KEEP_RAW",
        default_value = "1h",
        value_parser = parse_duration,
        value_name = "DURATION",
        help_heading = "Metrics"
    )]
    pub metrics_keep_raw: std::time::Duration,

    /// How long one-minute steps (min/avg/max) are kept.
    #[arg(
        long,
        env = "AGORA_METRICS_KEEP_MINUTES",
        default_value = "7d",
        value_parser = parse_duration,
        value_name = "DURATION",
        help_heading = "Metrics"
    )]
    pub metrics_keep_minutes: std::time::Duration,

    /// How long one-hour steps are kept.
    #[arg(
        long,
        env = "AGORA_METRICS_KEEP_HOURS",
        default_value = "90d",
        value_parser = parse_duration,
        value_name = "DURATION",
        help_heading = "Metrics"
    )]
    pub metrics_keep_hours: std::time::Duration,

    /// The chat room firing and resolved alerts are posted into (created
    /// when needed); `none` posts nowhere.
    #[arg(
        long,
        env = "AGORA_METRICS_ALERT_ROOM",
        default_value = "alerts",
        value_name = "ROOM",
        help_heading = "Metrics"
    )]
    pub metrics_alert_room: String,

    /// The job queue an `alert.notify` job (args: the transition as JSON)
    /// is enqueued into for every firing and resolved alert; none unless
    /// given.
    #[arg(
        long,
        env = "AGORA_ALERTS_JOB_QUEUE",
        value_name = "QUEUE",
        help_heading = "Metrics"
    )]
    pub alerts_job_queue: Option<String>,

    /// The accounts allowed to send signals to processes from the
    /// dashboard (`agora metrics kill`, the TUI's process table), comma
    /// separated; nobody unless given. Never pid 1 nor the daemon itself.
    #[arg(
        long,
        env = "AGORA_OPERATORS",
        value_name = "USER,…",
        value_delimiter = ',',
        help_heading = "Metrics"
    )]
    pub operators: Vec<String>,
}

/// How `agora metrics top` orders processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortBy {
    /// Busiest first.
    Cpu,
    /// Most resident memory first.
    Mem,
    /// By process id.
    Pid,
    /// By name.
    Name,
}

/// `agora metrics …`
#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// The latest sample: CPU, memory, load, disks, networks, container
    /// limits and agora's own figures.
    Now,
    /// A metric's history, oldest first: one row per step with its
    /// minimum, mean and maximum.
    ///
    /// Recent ranges come from raw samples, older ones from one-minute and
    /// one-hour steps (see the daemon's --metrics-keep-* flags).
    History {
        /// The metric, e.g. cpu.total, mem.used_pct, disk./.used_pct (see
        /// `agora metrics now` for every name).
        metric: String,
        /// How far back (10m, 1h, 7d …).
        #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
        since: std::time::Duration,
        /// The step (default: the range over 60, at least 1s).
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        step: Option<std::time::Duration>,
        /// Comma-separated values with a header line (ts_ms,min,avg,max);
        /// not with --json.
        #[arg(long)]
        csv: bool,
    },
    /// The busiest processes.
    Top {
        /// The order.
        #[arg(long, value_enum, default_value_t = SortBy::Cpu)]
        sort: SortBy,
        /// At most this many (1-40).
        #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=40))]
        limit: u32,
    },
    /// Follow the live samples: one compact line per sample (and a line
    /// per alert change) until Ctrl-C. You count as a dashboard viewer
    /// meanwhile.
    Watch,
    /// Send a signal to a process on the daemon's host (SIGTERM unless
    /// --signal says otherwise).
    ///
    /// Only the daemon's operators may (its --operators flag), never to
    /// pid 1 nor to the daemon itself; the daemon sends it with its own
    /// rights.
    Kill {
        /// The process id (see `agora metrics top`).
        pid: u32,
        /// TERM, KILL, INT, HUP, QUIT, USR1, USR2, STOP or CONT (a SIG
        /// prefix and lower case are fine).
        #[arg(long, short = 's', default_value = "TERM", value_parser = parse_signal, value_name = "SIGNAL")]
        signal: &'static str,
    },
}

/// A signal's name, as the daemon spells it.
fn parse_signal(name: &str) -> Result<&'static str, String> {
    agora_wire::metrics::signal_name(name).ok_or_else(|| {
        format!(
            "unknown signal {name:?}: use one of {}",
            agora_wire::metrics::SIGNALS.join(" ")
        )
    })
}

/// Alert severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Severity {
    /// For the record.
    Info,
    /// Someone should look.
    Warning,
    /// Someone should look now.
    Critical,
}

impl Severity {
    /// The wire's name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// `agora alerts …`
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Every rule with its state, firing first.
    List,
    /// Add a rule: NAME fires when METRIC OP THRESHOLD has held for --for.
    ///
    /// The condition is one argument or three: 'cpu.total > 90' or
    /// cpu.total '>' 90 (quote the operator for the shell). Operators: >
    /// >= < <= == !=.
    Add {
        /// The rule's name (letters, digits, '.', '_', '-').
        name: String,
        /// METRIC OP THRESHOLD.
        #[arg(required = true, num_args = 1..=3, value_name = "CONDITION")]
        condition: Vec<String>,
        /// How long the condition must hold before the alert fires (0s…;
        /// default 1m).
        #[arg(long = "for", default_value = "1m", value_parser = parse_for, value_name = "DURATION")]
        for_: std::time::Duration,
        /// How serious it is.
        #[arg(long, value_enum, default_value_t = Severity::Warning)]
        severity: Severity,
    },
    /// Remove a rule (its history stays).
    Rm {
        /// The rule.
        name: String,
    },
    /// Mute a rule's announcements (chat, jobs) for a while; it is still
    /// evaluated and its changes recorded.
    Silence {
        /// The rule.
        name: String,
        /// For how long; 0 lifts the silence.
        #[arg(long = "for", default_value = "1h", value_parser = parse_for, value_name = "DURATION")]
        for_: std::time::Duration,
    },
    /// Alert transitions, newest first.
    History {
        /// Only this rule's.
        name: Option<String>,
        /// At most this many (1-1000).
        #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
}

/// A duration that may be zero (`0`, `0s`).
fn parse_for(text: &str) -> Result<std::time::Duration, String> {
    if matches!(text.trim(), "0" | "0s" | "0ms") {
        return Ok(std::time::Duration::ZERO);
    }
    parse_duration(text)
}

/// Splits a condition into (metric, op, threshold).
///
/// # Errors
/// When it is not METRIC OP NUMBER.
pub fn parse_condition(words: &[String]) -> Result<(String, String, f64), String> {
    let text = words.join(" ");
    let ops = [">=", "<=", "==", "!=", ">", "<"];
    let (at, op) = ops
        .iter()
        .filter_map(|op| text.find(op).map(|i| (i, *op)))
        .min_by_key(|(i, op)| (*i, std::cmp::Reverse(op.len())))
        .ok_or_else(|| format!("{text:?}: no comparison (use > >= < <= == !=)"))?;
    let metric = text[..at].trim();
    let threshold = text[at + op.len()..].trim();
    if metric.is_empty() || metric.contains(char::is_whitespace) {
        return Err(format!("{text:?}: name one metric before {op}"));
    }
    let value: f64 = threshold
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("{text:?}: {threshold:?} is not a number"))?;
    Ok((metric.to_owned(), op.to_owned(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn conditions_parse_as_one_word_or_three() {
        assert_eq!(
            parse_condition(&words(&["cpu.total > 90"])),
            Ok(("cpu.total".into(), ">".into(), 90.0))
        );
        assert_eq!(
            parse_condition(&words(&["mem.used_pct", ">=", "80.5"])),
            Ok(("mem.used_pct".into(), ">=".into(), 80.5))
        );
        assert_eq!(
            parse_condition(&words(&["disk./.used_pct>=95"])),
            Ok(("disk./.used_pct".into(), ">=".into(), 95.0))
        );
        assert!(parse_condition(&words(&["cpu.total 90"])).is_err());
        assert!(parse_condition(&words(&["cpu.total > lots"])).is_err());
        assert!(parse_condition(&words(&["> 5"])).is_err());
        assert!(parse_condition(&words(&["cpu.total > inf"])).is_err());
    }
}
