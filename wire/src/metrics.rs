//! The metrics service: live system and agora metrics, their history,
//! alert rules and who is watching — its operations ([`MetricsOp`]),
//! replies ([`MetricsReply`]), events ([`MetricsEvent`]) and the data they
//! carry. Every wire name starts with `metrics_`.
//!
//! A [`Sample`] is a map from metric name to value. Names are dotted
//! paths: `cpu.total`, `cpu.core.0`, `load.1`, `mem.used_pct`,
//! `mem.used_bytes`, `swap.used_pct`, `disk./.used_pct`,
//! `disk./.read_bps`, `net.eth0.rx_bps`, `procs.count`,
//! `cgroup.mem.limit_bytes`, `cgroup.cpu.limit_cores`,
//! `agora.connections`, `agora.requests_per_sec`,
//! `agora.requests_per_sec.chat`, `agora.chat.messages_per_sec`,
//! `agora.cache.ops_per_sec`, `agora.cache.hit_ratio`,
//! `agora.rss_bytes`, `agora.jobs.<state>` (docs/PROTOCOL.md lists them).
//! Percentages are 0–100, rates are per second.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The topic of [`MetricsEvent`]s: samples, alert changes, viewers.
pub const METRICS_TOPIC: &str = "metrics";

/// One process of the process table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// The process id.
    pub pid: u32,
    /// The short name (`comm`).
    pub name: String,
    /// The owner's user name (or uid when unknown).
    pub user: String,
    /// CPU use since the previous process sample, in percent of one core.
    pub cpu_pct: f64,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// The state, e.g. `Run`, `Sleep`, `Zombie`.
    pub state: String,
    /// The command line, arguments joined by spaces (at most 256 bytes).
    pub cmd: String,
}

/// Everything one sampling tick saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When, milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// Every metric's value (see the module docs for the names).
    pub values: BTreeMap<String, f64>,
    /// The busiest processes by CPU (the table is sampled less often than
    /// the rest: this is the latest table).
    pub processes: Vec<ProcessInfo>,
}

/// One step of a history series: the minimum, mean and maximum of the
/// samples in `[ts_ms, ts_ms + step)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The step's start, ms since the epoch.
    pub ts_ms: u64,
    /// Smallest value.
    pub min: f64,
    /// Mean value.
    pub avg: f64,
    /// Largest value.
    pub max: f64,
}

/// Where an alert rule stands (Prometheus's semantics: `pending` while
/// the condition holds for less than the rule's `for`, then `firing`;
/// `resolved` once a firing condition stops holding, until it holds again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition does not hold.
    Ok,
    /// The condition holds, not yet for the rule's duration.
    Pending,
    /// The condition has held for the rule's duration.
    Firing,
    /// The condition stopped holding after firing.
    Resolved,
}

impl AlertState {
    /// The state's wire name.
    pub fn name(self) -> &'static str {
        match self {
            AlertState::Ok => "ok",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<AlertState> {
        [
            AlertState::Ok,
            AlertState::Pending,
            AlertState::Firing,
            AlertState::Resolved,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// An alert rule and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The rule's unique name.
    pub name: String,
    /// The metric it watches, e.g. `cpu.total`.
    pub metric: String,
    /// The comparison: `>`, `>=`, `<`, `<=`, `==` or `!=`.
    pub op: String,
    /// The threshold the metric is compared with.
    pub threshold: f64,
    /// How long the condition must hold before the alert fires, in ms.
    pub for_ms: u64,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The state now.
    pub state: AlertState,
    /// Since when, ms since the epoch (0: never evaluated).
    pub since_ms: u64,
    /// The metric's latest value, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Muted until then (ms since the epoch): transitions are recorded
    /// but not announced in chat or to jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_until_ms: Option<u64>,
}

/// One change of an alert's state, as stored in the alert history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The history's id (increasing).
    pub id: u64,
    /// The rule.
    pub rule: String,
    /// The state before.
    pub from: AlertState,
    /// The state after.
    pub to: AlertState,
    /// The metric's value at the time (NaN never: 0 when missing).
    pub value: f64,
    /// When, ms since the epoch.
    pub ts_ms: u64,
    /// Whether the rule was silenced then.
    #[serde(default, deserialize_with = "crate::macros::nil_as_default")]
    pub silenced: bool,
}

/// Someone watching the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// The watching session (web viewers get ids with the top bit set).
    pub session: u64,
    /// The user's name.
    pub user: String,
    /// Since when, ms since the epoch.
    pub since_ms: u64,
    /// Which view: `tui`, `cli`, `web`, or what the client said.
    pub view: String,
}

crate::messages! {
    /// Metrics operations. Every one needs a signed-in connection.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum MetricsOp {
        /// The latest sample. Answered with [`MetricsReply::Sample`].
        Now = "metrics_now",
        /// Follow the live samples: subscribes this session to
        /// [`METRICS_TOPIC`] and counts it as a viewer (presence). Answered
        /// with [`MetricsReply::Watching`] holding the last minute.
        Watch {
            /// The view, shown to other viewers (`tui`, `cli`, …; at most
            /// 32 bytes).
            view: String,
        } = "metrics_watch",
        /// Stop following. Answered with [`crate::BaseReply::Done`].
        Unwatch = "metrics_unwatch",
        /// A metric's history. Answered with [`MetricsReply::Series`];
        /// `bad_request` when `from_ms >= to_ms` or the step is 0.
        Range {
            /// The metric's name.
            metric: String,
            /// From (inclusive), ms since the epoch.
            from_ms: u64,
            /// To (exclusive), ms since the epoch.
            to_ms: u64,
            /// The step, ms (at least one second; the answer has at most
            /// 10,000 points).
            step_ms: u64,
        } = "metrics_range",
        /// Every alert rule and its state. Answered with
        /// [`MetricsReply::Alerts`].
        AlertList = "metrics_alert_list",
        /// Add an alert rule. Answered with [`MetricsReply::Alert`];
        /// `conflict` when the name is taken.
        AlertAdd {
            /// The rule's name (a user-name-like word).
            name: String,
            /// The metric, e.g. `cpu.total`.
            metric: String,
            /// `>`, `>=`, `<`, `<=`, `==` or `!=`.
            op: String,
            /// The threshold.
            threshold: f64,
            /// How long the condition must hold, ms.
            for_ms: u64,
            /// `info`, `warning` or `critical`.
            severity: String,
        } = "metrics_alert_add",
        /// Remove an alert rule (its history stays). Answered with
        /// [`crate::BaseReply::Done`]; `not_found` when there is none.
        AlertRm {
            /// The rule.
            name: String,
        } = "metrics_alert_rm",
        /// Silence a rule for a while (0 lifts the silence). Answered with
        /// [`MetricsReply::Alert`].
        AlertSilence {
            /// The rule.
            name: String,
            /// For how long, ms.
            for_ms: u64,
        } = "metrics_alert_silence",
        /// Alert transitions, newest first. Answered with
        /// [`MetricsReply::History`].
        AlertHistory {
            /// Only this rule's.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            name: Option<String>,
            /// At most this many (default 50, at most 1000).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            limit: Option<u32>,
        } = "metrics_alert_history",
        /// Send a signal to a process (the process table's "kill").
        /// Answered with [`crate::BaseReply::Done`] once sent. `forbidden`
        /// unless the user is one of the daemon's operators
        /// (`--operators`), and always for pid 1 and the daemon itself;
        /// `not_found` when there is no such process; `bad_request` for an
        /// unknown signal.
        Signal {
            /// The process.
            pid: u32,
            /// One of [`SIGNALS`] (`TERM`, `KILL`, …; a `SIG` prefix and
            /// lower case are accepted).
            signal: String,
        } = "metrics_signal",
    }
}

/// The signals `metrics_signal` sends, by name, the default first.
pub const SIGNALS: [&str; 9] = [
    "TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT",
];

/// A signal's name as [`SIGNALS`] spells it (`sigterm` → `TERM`), or
/// `None` when it is not one of them.
pub fn signal_name(name: &str) -> Option<&'static str> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS.iter().copied().find(|s| *s == bare)
}

crate::messages! {
    /// Answers of the metrics service.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum MetricsReply {
        /// Answer to [`MetricsOp::Now`].
        Sample {
            /// The latest sample.
            sample: Sample,
        } = "metrics_sample",
        /// Answer to [`MetricsOp::Watch`]: the samples of the last minute
        /// (oldest first), the alerts and the viewers.
        Watching {
            /// The last minute's samples, oldest first.
            recent: Vec<Sample>,
            /// Every alert rule.
            alerts: Vec<Alert>,
            /// Who is watching, this session included.
            viewers: Vec<Viewer>,
        } = "metrics_watching",
        /// Answer to [`MetricsOp::Range`].
        Series {
            /// The metric.
            metric: String,
            /// The step, ms.
            step_ms: u64,
            /// The points, oldest first; steps without data are left out.
            points: Vec<Point>,
        } = "metrics_series",
        /// Answer to [`MetricsOp::AlertList`].
        Alerts {
            /// Every rule, by name.
            alerts: Vec<Alert>,
        } = "metrics_alerts",
        /// Answer to [`MetricsOp::AlertAdd`] and [`MetricsOp::AlertSilence`].
        Alert {
            /// The rule.
            alert: Alert,
        } = "metrics_alert",
        /// Answer to [`MetricsOp::AlertHistory`].
        History {
            /// Newest first.
            transitions: Vec<Transition>,
        } = "metrics_history",
    }
}

crate::messages! {
    /// Events on [`METRICS_TOPIC`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum MetricsEvent {
        /// A new sample (once per sampling interval).
        Tick {
            /// The sample.
            sample: Sample,
        } = "metrics_tick",
        /// An alert changed state, or a rule was added, removed or silenced.
        AlertChanged {
            /// The change, when the state changed.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            transition: Option<Transition>,
            /// The rule now; `None` when it was removed.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            alert: Option<Box<Alert>>,
            /// The rule's name.
            name: String,
            /// In a fleet: the node whose rule this is, when it is not the
            /// node the client is connected to (each node evaluates its
            /// own rules on its own machine; firing and resolved alerts of
            /// the others arrive too). Absent for this node's own.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            node: Option<String>,
        } = "metrics_alert_changed",
        /// Who watches changed: everyone watching now.
        Viewers {
            /// The viewers.
            viewers: Vec<Viewer>,
        } = "metrics_viewers",
    }
}

// The values never hold NaN (the sampler and the rule checks refuse it),
// so equality is reflexive.
impl Eq for MetricsOp {}
impl Eq for MetricsReply {}
impl Eq for MetricsEvent {}
