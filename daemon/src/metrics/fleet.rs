//! Alerts across a fleet's nodes (docs/FLEET.md, "Alerts across nodes").
//!
//! Each node samples its own machine and evaluates its own rules; what
//! the fleet shares is the news. [`FleetAlerts`] is an [`AlertHook`]: a
//! firing or resolved transition (not silenced) is sent on
//! [`CHANNEL`] as JSON, and every other node's listener ([`listen`])
//! publishes it on its `metrics` topic as an `AlertChanged` event naming
//! the node it came from (`node`), so a dashboard on any node hears of an
//! alert on any other. Like any notification, one sent while a node's
//! listener is reconnecting is not replayed: the transition stays in its
//! node's alert history, and the chat room's announcement (chat is
//! fleet-wide) is kept.

use agora_db::Pg;
use agora_db::pg::notify;
use agora_wire::MetricsEvent;
use agora_wire::metrics::{Alert, AlertState, Transition};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Metrics;
use super::alerts::Change;
use super::notify::AlertHook;

/// The channel alerts go on.
pub const CHANNEL: &str = "agora_alerts";

/// What a notification carries.
#[derive(Debug, Serialize, Deserialize)]
struct News {
    from: AlertState,
    to: AlertState,
    value: f64,
    ts_ms: u64,
    alert: Alert,
}

/// Tells the other nodes of this node's firing and resolved alerts.
pub struct FleetAlerts {
    pg: Pg,
}

impl FleetAlerts {
    /// Sends through `pg`.
    pub fn new(pg: Pg) -> FleetAlerts {
        FleetAlerts { pg }
    }
}

impl AlertHook for FleetAlerts {
    fn announce<'a>(&'a self, change: &'a Change, alert: &'a Alert) -> BoxFuture<'a, ()> {
        let news = News {
            from: change.from,
            to: change.to,
            value: change.value,
            ts_ms: change.ts_ms,
            alert: alert.clone(),
        };
        let pg = self.pg.clone();
        async move {
            let payload = match serde_json::to_string(&news) {
                Ok(p) => p,
                Err(err) => return tracing::error!(%err, "cannot encode an alert for the fleet"),
            };
            let sent = tokio::task::spawn_blocking(move || {
                pg.with(|c| notify::send(c, CHANNEL, &payload))
            })
            .await;
            match sent {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(%err, "cannot tell the fleet of an alert"),
                Err(err) => tracing::error!(%err, "the fleet's alert sender panicked"),
            }
        }
        .boxed()
    }
}

/// The event a notification from `node` becomes; `None` when it is not
/// one (another version's node, a bug).
fn event(node: &str, payload: &str) -> Option<MetricsEvent> {
    let news: News = serde_json::from_str(payload).ok()?;
    Some(MetricsEvent::AlertChanged {
        transition: Some(Transition {
            id: 0, // the history is the other node's
            rule: news.alert.name.clone(),
            from: news.from,
            to: news.to,
            value: news.value,
            ts_ms: news.ts_ms,
            silenced: false,
        }),
        name: news.alert.name.clone(),
        alert: Some(Box::new(news.alert)),
        node: Some(node.to_owned()),
    })
}

/// The listener thread: other nodes' alerts published here until `stop`.
pub fn listen(metrics: Metrics, pg: Pg, stop: CancellationToken) {
    crate::storage::follow_notifications(
        &pg,
        None,
        &[CHANNEL],
        &|| stop.is_cancelled(),
        &mut |notes| {
            for note in notes {
                match event(&note.origin, &note.payload) {
                    Some(e) => metrics.publish(e),
                    None => {
                        tracing::warn!(from = %note.origin, "alerts: an unreadable notification")
                    }
                }
            }
            true
        },
        // Alerts are news: what was missed stays in its node's history.
        &mut || true,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_becomes_an_event_naming_its_node_and_garbage_nothing() {
        let alert = Alert {
            name: "hot".into(),
            metric: "cpu.total".into(),
            op: ">".into(),
            threshold: 90.0,
            for_ms: 0,
            severity: "warning".into(),
            state: AlertState::Firing,
            since_ms: 5,
            value: Some(97.0),
            silenced_until_ms: None,
        };
        let news = News {
            from: AlertState::Pending,
            to: AlertState::Firing,
            value: 97.0,
            ts_ms: 5,
            alert: alert.clone(),
        };
        let e = event("n1", &serde_json::to_string(&news).unwrap()).unwrap();
        let MetricsEvent::AlertChanged {
            transition: Some(t),
            alert: Some(a),
            name,
            node,
        } = e
        else {
            panic!("{e:?}")
        };
        assert_eq!(
            (t.to, t.rule.as_str(), name.as_str()),
            (AlertState::Firing, "hot", "hot")
        );
        assert_eq!((*a, node.as_deref()), (alert, Some("n1")));
        assert!(event("n1", "{").is_none());
        assert!(event("n1", "{\"from\":1}").is_none());
    }
}
