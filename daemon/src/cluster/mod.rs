//! The cluster (docs/CLUSTER.md): several daemons started with
//! `--cluster NAME` share the 16,384 Redis Cluster hash slots.
//!
//! - [`slots`]: key → slot (CRC16, hash tags), pure;
//! - [`ring`]: slot → owner from the set of live nodes, pure;
//! - [`membership`]: gossip (chitchat) and the member table it yields;
//! - [`route`]: whether a RESP command runs here, or answers `MOVED`,
//!   `CROSSSLOT`, `CLUSTERDOWN`;
//! - [`commands`]: `CLUSTER …` and the cluster's connection commands;
//! - [`proxy`]: proxy mode's forwarding to owners (`--cluster-mode`);
//! - [`status`]: `agora cluster status`'s data (key counts gossiped).
//!
//! [`Cluster`] is the cheap-to-share handle kept in [`crate::Shared`]
//! (`None` without `--cluster`). It does not replicate yet: each slot
//! lives on one node.

pub mod commands;
pub mod membership;
pub mod proxy;
pub mod ring;
pub mod route;
pub mod slots;
pub mod status;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use membership::{Member, State, View};

/// How the daemon joins a cluster (`--cluster` and its companions).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The cluster's name: nodes with another name are not taken in.
    pub name: String,
    /// This node's id, unique in the cluster (`--node-id`); empty: the
    /// host name and the gossip port.
    pub node_id: String,
    /// The gossip (UDP) address, e.g. `127.0.0.1:7946`; port 0 picks one.
    pub listen: String,
    /// Other nodes' gossip addresses, `HOST:PORT`.
    pub seeds: Vec<String>,
    /// Silence after which a node is declared dead.
    pub failure_timeout: Duration,
    /// How keys owned elsewhere are answered (`--cluster-mode`).
    pub mode: proxy::Mode,
}

impl ClusterConfig {
    /// A configuration with the default gossip address and timeout.
    pub fn new(name: impl Into<String>, node_id: impl Into<String>) -> ClusterConfig {
        ClusterConfig {
            name: name.into(),
            node_id: node_id.into(),
            listen: "127.0.0.1:7946".into(),
            seeds: Vec::new(),
            failure_timeout: DEFAULT_FAILURE_TIMEOUT,
            mode: proxy::Mode::default(),
        }
    }
}

/// `--cluster-failure-timeout`'s default.
pub const DEFAULT_FAILURE_TIMEOUT: Duration = Duration::from_secs(2);

/// A running cluster membership: this node's identity and the latest
/// view of the members and slot owners.
pub struct Cluster {
    /// The configuration it was started with.
    pub config: ClusterConfig,
    /// This node's Redis-style id: 40 hex digits, SHA-1 of `--node-id`.
    pub name: String,
    /// Where this node's RESP clients connect (sent to others in `MOVED`).
    pub resp: SocketAddr,
    /// Where this node gossips (Redis's cluster-bus port).
    pub gossip: SocketAddr,
    view: RwLock<Arc<View>>,
    /// The gossip state, to publish and read key-values (`None` in tests
    /// of the pure parts).
    pub(crate) chitchat: Option<Arc<tokio::sync::Mutex<chitchat::Chitchat>>>,
    /// Proxy mode's idle connections to the owners.
    pub proxy: proxy::Pool,
}

impl Cluster {
    /// The latest view: members and slot owners.
    pub fn view(&self) -> Arc<View> {
        self.view.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A cluster handle with a fixed view and no gossip, for tests of
    /// the pure parts.
    #[cfg(test)]
    pub(crate) fn for_view(view: View) -> Cluster {
        let me = view.me().expect("a view with this node").clone();
        Cluster {
            config: ClusterConfig::new("test", me.id.clone()),
            name: me.name.clone(),
            resp: me.resp.expect("an address"),
            gossip: me.gossip,
            view: RwLock::new(Arc::new(view)),
            chitchat: None,
            proxy: proxy::Pool::default(),
        }
    }

    /// Replaces the view (by the membership task).
    pub(crate) fn set_view(&self, view: View) {
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(view);
    }
}

/// The Redis-style node id of `node_id`: SHA-1, in hex.
pub fn redis_name(node_id: &str) -> String {
    use sha1::Digest as _;
    let digest = sha1::Sha1::digest(node_id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
