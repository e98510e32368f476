//! What `agora cluster status` and the TUI's Cache tab show
//! (`cache_cluster_status`, docs/CLUSTER.md): every node, its state,
//! addresses, key count, slot share and replication lag.
//!
//! Any node answers for all: each one publishes its key count in its
//! gossip state (chitchat key [`KEYS_KEY`], refreshed every
//! [`PUBLISH_EVERY`] by [`spawn_publisher`], and gossip only carries a
//! changed value); the replication lag is read from the `lag` key
//! ([`super::membership::LAG_KEY`]) a node publishes when it replicates. [`build`] is the
//! pure part: from the view and the published values to the reply.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agora_wire::{CacheReply, ClusterNode};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::membership::View;
use super::slots::SLOTS;
use super::{Cluster, redis_name};

/// The chitchat key holding a node's key count.
pub const KEYS_KEY: &str = "keys";

/// How often a node refreshes its published key count.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// What one node publishes, by (node id, gossip address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Its key count.
    pub keys: Option<u64>,
    /// Its replication lag, as it wrote it.
    pub lag: Option<String>,
}

/// Where `cache_cluster_status` gets its answer: set once the listeners
/// are bound.
#[derive(Clone)]
pub enum Node {
    /// No `--cluster`: this daemon is the one node.
    Standalone {
        /// Its RESP address.
        resp: SocketAddr,
    },
    /// A member of a cluster.
    Member(Arc<Cluster>),
}

/// The answer of a standalone daemon: itself, every slot, `keys`.
pub fn standalone(resp: Option<SocketAddr>, keys: u64) -> CacheReply {
    let id = "standalone".to_owned();
    CacheReply::Cluster {
        cluster: None,
        mode: "standalone".into(),
        nodes: vec![ClusterNode {
            name: redis_name(&id),
            id,
            state: "alive".into(),
            myself: true,
            resp: resp.map(|a| a.to_string()),
            gossip: None,
            keys: Some(keys),
            slots: u64::from(SLOTS),
            lag: None,
        }],
    }
}

/// The answer of a cluster member: the latest view and what every node
/// published.
pub async fn answer(cluster: &Cluster) -> CacheReply {
    let view = cluster.view();
    let published = match &cluster.chitchat {
        Some(chitchat) => read_published(&*chitchat.lock().await),
        None => HashMap::new(),
    };
    build(
        &view,
        &published,
        &cluster.config.name,
        cluster.config.mode.name(),
    )
}

/// The published values of every node chitchat knows; for a node
/// restarted at the same address, its newest generation's.
fn read_published(chitchat: &chitchat::Chitchat) -> HashMap<(String, SocketAddr), Published> {
    let mut out = HashMap::new();
    // Sorted by id, then generation: a newer generation overwrites.
    for (id, state) in chitchat.node_states() {
        out.insert(
            (id.node_id.to_string(), id.gossip_advertise_addr),
            Published {
                keys: state.get(KEYS_KEY).and_then(|k| k.parse().ok()),
                lag: state.get(super::membership::LAG_KEY).map(str::to_owned),
            },
        );
    }
    out
}

/// The reply from a view and the published values (pure).
pub fn build(
    view: &View,
    published: &HashMap<(String, SocketAddr), Published>,
    cluster: &str,
    mode: &str,
) -> CacheReply {
    let counts = view.placement.counts();
    let nodes = view
        .members
        .iter()
        .map(|m| {
            let slots = if m.serves() {
                view.placement
                    .nodes
                    .iter()
                    .position(|n| *n == m.id)
                    .map_or(0, |i| counts[i] as u64)
            } else {
                0
            };
            let p = published
                .get(&(m.id.clone(), m.gossip))
                .cloned()
                .unwrap_or_default();
            ClusterNode {
                id: m.id.clone(),
                name: m.name.clone(),
                state: m.state.name().into(),
                myself: m.myself,
                resp: m.resp.map(|a| a.to_string()),
                gossip: Some(m.gossip.to_string()),
                keys: p.keys,
                slots,
                lag: p.lag,
            }
        })
        .collect();
    CacheReply::Cluster {
        cluster: Some(cluster.to_owned()),
        mode: mode.to_owned(),
        nodes,
    }
}

/// Publishes this node's key count (`keys()`) every [`PUBLISH_EVERY`]
/// until `token` is cancelled.
pub fn spawn_publisher(
    cluster: Arc<Cluster>,
    keys: impl Fn() -> u64 + Send + 'static,
    token: CancellationToken,
    tracker: &TaskTracker,
) {
    let Some(chitchat) = cluster.chitchat.clone() else {
        return;
    };
    tracker.spawn(async move {
        let mut ticker = tokio::time::interval(PUBLISH_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let n = keys();
            // chitchat bumps the version (and so gossips) only on change.
            chitchat
                .lock()
                .await
                .self_node_state()
                .set(KEYS_KEY, n.to_string());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::super::membership::{Observed, State};
    use super::*;

    fn obs(id: &str, port: u16, state: State, myself: bool) -> Observed {
        Observed {
            id: id.into(),
            generation: 1,
            gossip: SocketAddr::from(([127, 0, 0, 1], port)),
            resp: Some(SocketAddr::from(([127, 0, 0, 1], port + 1000))),
            state,
            myself,
        }
    }

    #[test]
    fn every_node_is_listed_with_its_share_keys_and_lag() {
        let view = View::build(vec![
            obs("a", 1, State::Alive, true),
            obs("b", 2, State::Suspect, false),
            obs("c", 3, State::Dead, false),
        ]);
        let gossip = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        let published = HashMap::from([
            (
                ("a".to_owned(), gossip(1)),
                Published {
                    keys: Some(10),
                    lag: None,
                },
            ),
            (
                ("b".to_owned(), gossip(2)),
                Published {
                    keys: Some(7),
                    lag: Some("12".into()),
                },
            ),
        ]);
        let CacheReply::Cluster {
            cluster,
            mode,
            nodes,
        } = build(&view, &published, "prod", "proxy")
        else {
            panic!("a cluster reply")
        };
        assert_eq!((cluster.as_deref(), mode.as_str()), (Some("prod"), "proxy"));
        let ids: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        // The live ones share every slot; the dead one owns none.
        assert_eq!(nodes[0].slots + nodes[1].slots, u64::from(SLOTS));
        assert!(nodes[0].slots > 0 && nodes[1].slots > 0);
        assert_eq!(nodes[2].slots, 0);
        let states: Vec<&str> = nodes.iter().map(|n| n.state.as_str()).collect();
        assert_eq!(states, ["alive", "suspect", "dead"]);
        assert_eq!(
            (nodes[0].keys, nodes[1].keys, nodes[2].keys),
            (Some(10), Some(7), None)
        );
        assert_eq!(
            (nodes[0].lag.as_deref(), nodes[1].lag.as_deref()),
            (None, Some("12"))
        );
        assert!(nodes[0].myself && !nodes[1].myself);
        assert_eq!(nodes[1].resp.as_deref(), Some("127.0.0.1:1002"));
        assert_eq!(nodes[1].gossip.as_deref(), Some("127.0.0.1:2"));
        assert_eq!(nodes[1].name, redis_name("b"));
    }

    #[test]
    fn a_standalone_daemon_is_one_node_owning_every_slot() {
        let resp = SocketAddr::from(([127, 0, 0, 1], 6379));
        let CacheReply::Cluster {
            cluster,
            mode,
            nodes,
        } = standalone(Some(resp), 5)
        else {
            panic!("a cluster reply")
        };
        assert_eq!((cluster, mode.as_str()), (None, "standalone"));
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].slots, u64::from(SLOTS));
        assert_eq!(nodes[0].keys, Some(5));
        assert_eq!(nodes[0].resp.as_deref(), Some("127.0.0.1:6379"));
    }
}
