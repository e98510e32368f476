//! `/metrics` in the Prometheus text exposition format (version 0.0.4).
//!
//! Rendered by hand from atomics: the format is simple, and a metrics
//! library would add a registry and locks for no gain at this size.

use std::fmt::Write as _;

use agora_wire::{ErrorCode, Op};
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;
use crate::Shared;
use crate::latency::escape;
use crate::stats::get as read;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(shared): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&shared),
    )
}

/// The full exposition.
pub(crate) fn render(shared: &Shared) -> String {
    let s = &shared.stats;
    let mut out = String::with_capacity(4096);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let one = |v: u64| vec![(String::new(), v)];

    metric(
        "agora_build_info",
        "gauge",
        "Build information; always 1.",
        &[(format!("{{version=\"{}\"}}", crate::VERSION), 1)],
    );
    metric(
        "agora_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
        &one(shared.started.elapsed().as_secs()),
    );
    metric(
        "agora_connections_open",
        "gauge",
        "Protocol connections open now (handshake completed).",
        &one(read(&s.connections_open)),
    );
    metric(
        "agora_connections_total",
        "counter",
        "Protocol connections accepted since start.",
        &one(read(&s.connections_total)),
    );
    metric(
        "agora_ssh_sessions",
        "gauge",
        "SSH sessions (the TUI or a command) open now.",
        &one(read(&s.ssh_sessions)),
    );
    metric(
        "agora_ssh_auth_failures_total",
        "counter",
        "SSH authentications refused (passwords, unknown keys, rate limited).",
        &one(read(&s.ssh_auth_failures)),
    );
    metric(
        "agora_handshakes_failed_total",
        "counter",
        "Connections refused during the handshake.",
        &one(read(&s.handshakes_failed)),
    );
    let requests: Vec<_> = Op::names()
        .zip(&s.requests)
        .map(|((service, op), n)| {
            (
                format!("{{service=\"{}\",op=\"{op}\"}}", service.name()),
                read(n),
            )
        })
        .collect();
    metric(
        "agora_requests_total",
        "counter",
        "Requests received, by service and operation.",
        &requests,
    );
    let errors: Vec<_> = ErrorCode::ALL
        .iter()
        .zip(&s.errors)
        .map(|(code, n)| (format!("{{code=\"{code}\"}}"), read(n)))
        .collect();
    metric(
        "agora_errors_total",
        "counter",
        "Error replies sent, by code.",
        &errors,
    );
    metric(
        "agora_frames_rejected_total",
        "counter",
        "Frames refused, by reason.",
        &[
            ("{reason=\"too_large\"}".into(), read(&s.frames_too_large)),
            ("{reason=\"malformed\"}".into(), read(&s.frames_malformed)),
        ],
    );
    metric(
        "agora_request_panics_total",
        "counter",
        "Request handlers that panicked (each answered as an internal error).",
        &one(read(&s.handler_panics)),
    );
    metric(
        "agora_pushes_total",
        "counter",
        "Push frames queued to subscribers.",
        &one(shared.hub.delivered_total()),
    );
    metric(
        "agora_slow_consumers_total",
        "counter",
        "Clients disconnected because they read pushes too slowly.",
        &one(shared.hub.slow_total()),
    );
    metric(
        "agora_topics",
        "gauge",
        "Topics with at least one subscriber.",
        &one(shared.hub.topic_count() as u64),
    );
    if let Some(cluster) = &shared.cluster {
        let view = cluster.view();
        let samples: Vec<_> = [
            crate::cluster::State::Alive,
            crate::cluster::State::Suspect,
            crate::cluster::State::Dead,
            crate::cluster::State::Leaving,
            crate::cluster::State::Left,
        ]
        .into_iter()
        .map(|state| {
            let n = view.members.iter().filter(|m| m.state == state).count();
            (format!("{{state=\"{}\"}}", state.name()), n as u64)
        })
        .collect();
        metric(
            "agora_cluster_nodes",
            "gauge",
            "Cluster members this node knows, by state (with --cluster).",
            &samples,
        );
        metric(
            "agora_cluster_majority",
            "gauge",
            "1 while this node hears from a majority of the cluster's members and serves keys; 0 \
             in a minority (keyed commands answer CLUSTERDOWN).",
            &one(u64::from(view.has_majority())),
        );
        let mine = view.me().map_or(0, |me| {
            view.placement
                .ranges_of(&me.id)
                .iter()
                .map(|&(s, e)| u64::from(e - s) + 1)
                .sum()
        });
        metric(
            "agora_cluster_slots_owned",
            "gauge",
            "Hash slots this node owns (with --cluster).",
            &one(mine),
        );
        if let Some(fanout) = cluster.fanout() {
            use std::sync::atomic::Ordering::Relaxed;
            metric(
                "agora_cluster_pubsub_forwarded_total",
                "counter",
                "Published messages handed to other nodes (one per message per node).",
                &one(fanout.forwarded.load(Relaxed)),
            );
            metric(
                "agora_cluster_pubsub_dropped_total",
                "counter",
                "Published messages not forwarded: the node's queue was full.",
                &one(fanout.dropped.load(Relaxed)),
            );
        }
        if let Some(repl) = cluster.replication() {
            let (bytes, frames) = crate::cluster::replicate::wire_counters(repl);
            metric(
                "agora_cluster_replication_sent_bytes_total",
                "counter",
                "Bytes of replication frames (writes, read repairs, hints) sent to other nodes.",
                &one(bytes),
            );
            metric(
                "agora_cluster_replication_sent_frames_total",
                "counter",
                "Replication frames sent to other nodes.",
                &one(frames),
            );
            let entropy = &repl.entropy;
            for (name, help, value) in [
                (
                    "agora_cluster_antientropy_rounds_total",
                    "Anti-entropy comparisons with a peer that completed.",
                    &entropy.rounds,
                ),
                (
                    "agora_cluster_antientropy_slots_differing_total",
                    "Slots whose digests differed from a peer's.",
                    &entropy.slots_differing,
                ),
                (
                    "agora_cluster_antientropy_pulled_keys_total",
                    "Keys anti-entropy took from peers that held them newer.",
                    &entropy.pulled,
                ),
                (
                    "agora_cluster_antientropy_pushed_keys_total",
                    "Keys anti-entropy sent to peers that held them older or not at all.",
                    &entropy.pushed,
                ),
            ] {
                metric(
                    name,
                    "counter",
                    help,
                    &one(value.load(std::sync::atomic::Ordering::Relaxed)),
                );
            }
            metric(
                "agora_cluster_hints_pending",
                "gauge",
                "Writes kept for replicas that did not acknowledge them (hinted handoff).",
                &one(repl.lag() as u64),
            );
        }
    }
    crate::metrics::prometheus::render(&shared.services.metrics, &mut out);
    durations(s, &mut out);
    out
}

/// The request-duration histograms: protocol operations (those seen at
/// least once) and HTTP routes.
fn durations(s: &crate::stats::Stats, out: &mut String) {
    let name = "agora_request_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time from a protocol request's arrival to its answer, by service and operation."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for ((service, op), histogram) in Op::names().zip(s.durations.iter()) {
        if histogram.count() > 0 {
            let labels = format!("service=\"{}\",op=\"{op}\"", service.name());
            histogram.render(out, name, &labels);
        }
    }
    let name = "agora_http_request_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time to answer an HTTP request, by method and route (unmatched: no route)."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for ((method, route), histogram) in s.http_durations.snapshot() {
        let labels = format!(
            "method=\"{}\",route=\"{}\"",
            escape(&method),
            escape(&route)
        );
        histogram.render(out, name, &labels);
    }
}
