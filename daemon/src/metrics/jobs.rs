//! The metrics service's two links to the job queue, wired in
//! `services.rs`:
//!
//! - [`JobFigures`]: the queue's counts by state and its throughput as
//!   `agora.jobs.*` metrics, so alert rules (e.g. on `agora.jobs.dead`),
//!   the dashboard and `/metrics` see them;
//! - [`JobAlerts`]: the notification hook, which enqueues one
//!   `alert.notify` job per announced transition (`--alerts-job-queue`),
//!   its args the transition as JSON, for a worker to deliver (mail, a
//!   pager, a webhook).

use std::sync::atomic::Ordering;

use agora_wire::jobs::NewJob;
use agora_wire::metrics::Alert;
use futures::FutureExt as _;
use futures::future::BoxFuture;

use super::alerts::Change;
use super::notify::{AlertHook, alert_text};
use super::sampler::{Readings, Source};
use crate::jobs::Jobs;

/// The kind of the jobs [`JobAlerts`] enqueues.
pub const ALERT_KIND: &str = "alert.notify";

/// `agora.jobs.STATE` gauges (every queue added up) and the
/// `agora.jobs.completed_per_sec` rate, as of the job writer's last
/// commit.
pub struct JobFigures {
    jobs: Jobs,
}

impl JobFigures {
    /// Reads `jobs`' figures.
    pub fn new(jobs: Jobs) -> JobFigures {
        JobFigures { jobs }
    }
}

impl Source for JobFigures {
    fn read(&self, out: &mut Readings) {
        let signals = self.jobs.signals();
        let c = *signals.totals.lock().unwrap_or_else(|p| p.into_inner());
        for (state, n) in [
            ("scheduled", c.scheduled),
            ("available", c.available),
            ("running", c.running),
            ("retryable", c.retryable),
            ("completed", c.completed),
            ("dead", c.dead),
            ("cancelled", c.cancelled),
        ] {
            out.gauges.push((format!("agora.jobs.{state}"), n as f64));
        }
        out.counters.push((
            "agora.jobs.completed_per_sec".into(),
            signals.completed.load(Ordering::Relaxed),
        ));
    }
}

/// Enqueues an `alert.notify` job into a queue for every announced
/// transition.
pub struct JobAlerts {
    jobs: Jobs,
    queue: String,
}

impl JobAlerts {
    /// Enqueues into `queue` through `jobs`.
    pub fn new(jobs: Jobs, queue: String) -> JobAlerts {
        JobAlerts { jobs, queue }
    }
}

/// The job's args: the transition and the rule, as JSON.
pub fn alert_args(change: &Change, alert: &Alert) -> serde_json::Value {
    serde_json::json!({
        "rule": alert.name,
        "from": change.from.name(),
        "to": change.to.name(),
        "value": change.value,
        "ts_ms": change.ts_ms,
        "metric": alert.metric,
        "op": alert.op,
        "threshold": alert.threshold,
        "for_ms": alert.for_ms,
        "severity": alert.severity,
        "text": alert_text(change, alert),
    })
}

impl AlertHook for JobAlerts {
    fn announce<'a>(&'a self, change: &'a Change, alert: &'a Alert) -> BoxFuture<'a, ()> {
        async move {
            let job = NewJob {
                kind: ALERT_KIND.into(),
                queue: Some(self.queue.clone()),
                args: Some(alert_args(change, alert).to_string()),
                ..NewJob::default()
            };
            if let Err(err) = self.jobs.enqueue(vec![job]).await {
                tracing::warn!(queue = %self.queue, error = %err.message, "cannot enqueue an alert job");
            }
        }
        .boxed()
    }
}
