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
//! - [`status`]: `agora cluster status`'s data (key counts gossiped);
//! - [`fanout`]: PUBLISH forwarded to every node, and the link's answers.
//! - replication: [`hlc`] (versions), [`versions`] (last-writer-wins,
//!   tombstones), [`link`] (the node-to-node TCP link), [`replicate`]
//!   (quorum writes and reads, read repair), [`handoff`] (hints).
//!
//! [`Cluster`] is the cheap-to-share handle kept in [`crate::Shared`]
//! (`None` without `--cluster`).

pub mod commands;
pub mod digests;
pub mod entropy;
pub mod export;
pub mod fanout;
pub mod handoff;
pub mod hlc;
pub mod link;
pub mod membership;
pub mod proxy;
pub mod replicate;
pub mod ring;
pub mod route;
pub mod slots;
pub mod stamps;
pub mod status;
pub mod versions;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
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
    /// Replication: copies per slot and the write and read quorums
    /// (`--replicas`, `--write-quorum`, `--read-quorum`).
    pub quorum: Quorum,
}

/// How many nodes keep each slot (N), acknowledge a write (W) and answer
/// a read (R); docs/CLUSTER.md's table says what each setting promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    /// N: copies of each slot, capped at the live node count.
    pub replicas: usize,
    /// W: copies (the primary's included) that must acknowledge a write
    /// before the client gets its reply.
    pub write: usize,
    /// R: copies (the primary's included) a command consults before it
    /// runs, returning and repairing the newest.
    pub read: usize,
}

impl Default for Quorum {
    fn default() -> Quorum {
        Quorum {
            replicas: 3,
            write: 2,
            read: 2,
        }
    }
}

/// The largest `--replicas` accepted.
pub const MAX_REPLICAS: usize = 16;

impl Quorum {
    /// Checks 1 ≤ W, R ≤ N ≤ [`MAX_REPLICAS`].
    ///
    /// # Errors
    /// A one-line message naming the flag at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.replicas == 0 || self.replicas > MAX_REPLICAS {
            return Err(format!(
                "--replicas must be between 1 and {MAX_REPLICAS} (got {})",
                self.replicas
            ));
        }
        if self.write == 0 || self.write > self.replicas {
            return Err(format!(
                "--write-quorum must be between 1 and --replicas ({}) (got {})",
                self.replicas, self.write
            ));
        }
        if self.read == 0 || self.read > self.replicas {
            return Err(format!(
                "--read-quorum must be between 1 and --replicas ({}) (got {})",
                self.replicas, self.read
            ));
        }
        Ok(())
    }

    /// Whether anything is copied: more than one replica.
    pub fn replicates(&self) -> bool {
        self.replicas > 1
    }
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
            quorum: Quorum::default(),
        }
    }
}

/// `--cluster-failure-timeout`'s default.
pub const DEFAULT_FAILURE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a node shutting down may spend handing its keys over.
pub const LEAVE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

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
    /// Bumped on every change of the view: keys settled in an older
    /// epoch get a quorum read before a command runs on them.
    epoch: AtomicU64,
    /// The replication, once started (with `--replicas` above 1).
    replication: OnceLock<Arc<replicate::Replication>>,
    /// PUBLISH's way to the other nodes, once the link runs.
    fanout: OnceLock<Arc<fanout::Fanout>>,
    /// The link's TCP listener, bound with the gossip port and kept until
    /// the link starts.
    link_listener: Mutex<Option<std::net::TcpListener>>,
    /// The keyspace, once the link runs: what a leave without
    /// replication hands over ([`export`]).
    cache: OnceLock<Arc<crate::cache::Cache>>,
    /// The RESP event loops, once the link runs: their busy polling
    /// pauses while another node runs on this machine ([`colocated`]).
    loops: OnceLock<Arc<crate::resp::loops::Loops>>,
}

/// Whether another live node of `members` runs on this machine (its gossip
/// address is one of this machine's): then the nodes' event loops would
/// busy-poll against one another for the same cores, and this node pauses
/// its busy polling (`resp/busy_poll.rs`). Measured with three nodes on
/// two cores (docs/BENCHMARKS.md, Cluster, sessions 10 and 11): N=3/W=2
/// unpipelined SET p99 0.3–1 ms lower with it off.
pub fn colocated(members: &[membership::Member]) -> bool {
    members
        .iter()
        .filter(|m| !m.myself && !m.state.gone())
        .any(|m| is_local(m.gossip.ip()))
}

/// Whether `ip` is an address of this machine: loopback, or one a socket
/// can bind.
fn is_local(ip: std::net::IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
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
            epoch: AtomicU64::new(1),
            replication: OnceLock::new(),
            fanout: OnceLock::new(),
            link_listener: Mutex::new(None),
            cache: OnceLock::new(),
            loops: OnceLock::new(),
        }
    }

    /// A handle before gossip starts (by the membership task).
    pub(crate) fn new(
        config: ClusterConfig,
        resp: SocketAddr,
        gossip: SocketAddr,
        view: View,
        chitchat: Option<Arc<tokio::sync::Mutex<chitchat::Chitchat>>>,
    ) -> Cluster {
        Cluster {
            name: redis_name(&config.node_id),
            config,
            resp,
            gossip,
            view: RwLock::new(Arc::new(view)),
            chitchat,
            proxy: proxy::Pool::default(),
            epoch: AtomicU64::new(1),
            replication: OnceLock::new(),
            fanout: OnceLock::new(),
            link_listener: Mutex::new(None),
            cache: OnceLock::new(),
            loops: OnceLock::new(),
        }
    }

    /// A link client of this node (its cluster name and id in `Hello`,
    /// connections leaving from its gossip address), waiting `timeout`
    /// per call.
    pub(crate) fn link(&self, timeout: std::time::Duration) -> link::Link {
        link::Link::new(&self.config.name, &self.config.node_id, timeout).from_ip(self.gossip.ip())
    }

    /// Replaces the view (by the membership task). When slots moved,
    /// the shard subscriptions to channels of slots this node no longer
    /// owns end with a `sunsubscribe` push to each subscriber, as Redis 7
    /// does: SPUBLISH goes to the new owner now.
    pub(crate) fn set_view(&self, view: View) {
        let moved = self.view().placement != view.placement;
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(view);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.pause_busy_poll_if_colocated();
        if moved && let Some(cache) = self.cache.get() {
            let view = self.view();
            let ended = cache.pubsub.end_shard_channels(|channel| {
                !view
                    .owner(slots::key_slot(channel))
                    .is_some_and(|m| m.myself)
            });
            if ended > 0 {
                tracing::info!(
                    subscriptions = ended,
                    "shard channels of slots that moved away: subscribers told (sunsubscribe)"
                );
            }
        }
    }

    /// Pauses the RESP loops' busy polling while another node of the
    /// view runs on this machine, resumes it when none does ([`colocated`]).
    fn pause_busy_poll_if_colocated(&self) {
        let Some(loops) = self.loops.get() else {
            return;
        };
        let colocated = colocated(&self.view().members);
        if colocated != loops.busy_poll_paused() {
            loops.pause_busy_poll(colocated);
            if colocated {
                tracing::info!(
                    "another node of the cluster runs on this machine: busy polling paused (the nodes' event loops would spin against one another)"
                );
            } else {
                tracing::info!(
                    "no other node of the cluster on this machine: busy polling resumed"
                );
            }
        }
    }

    /// The settling epoch: changes with the view.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps the link's listener, bound with the gossip port, for
    /// [`Cluster::start_link`].
    pub(crate) fn keep_link_listener(&self, listener: std::net::TcpListener) {
        *self.link_listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(listener);
    }

    /// PUBLISH's forwarding to the other nodes, once the link runs.
    pub fn fanout(&self) -> Option<&Arc<fanout::Fanout>> {
        self.fanout.get()
    }

    /// The replication, when this node copies its slots (N > 1).
    pub fn replication(&self) -> Option<&Arc<replicate::Replication>> {
        self.replication.get()
    }

    /// Hints pending for other nodes: the replication lag this node
    /// publishes (chitchat key [`membership::LAG_KEY`]).
    pub fn lag(&self) -> usize {
        self.replication().map_or(0, |r| r.lag())
    }

    /// Says in gossip that this node is leaving, ahead of [`Cluster::leave`]:
    /// called when a drain begins (`--drain-period`), so the other nodes
    /// stop placing slots here while this node still serves (in proxy
    /// mode it forwards what it no longer owns; in redirect mode it
    /// answers -MOVED), and no client is sent to a node about to close
    /// its port. A node that no other live node could take over from
    /// keeps its slots until the shutdown.
    pub(crate) async fn announce_leaving(&self) {
        let Some(chitchat) = &self.chitchat else {
            return;
        };
        let others = self
            .view()
            .members
            .iter()
            .filter(|m| !m.myself && m.serves())
            .count();
        if others == 0 {
            return;
        }
        mark_leaving(chitchat).await;
        tracing::info!(
            "draining: this node told the cluster it is leaving; the other nodes take its slots"
        );
    }

    /// Leaves the cluster cleanly (the daemon is shutting down): says so
    /// in gossip, so the others stop placing slots here, waits for its
    /// own view to show it, then pushes every key it holds to the slots'
    /// new replicas ([`entropy::hand_over`]; without replication, to the
    /// slots' new owners, [`export`]), for at most `within`.
    pub(crate) async fn leave(&self, within: std::time::Duration) {
        let (Some(chitchat), Some(cache)) = (&self.chitchat, self.cache.get()) else {
            return;
        };
        mark_leaving(chitchat).await;
        let started = tokio::time::Instant::now();
        let work = async {
            while self
                .view()
                .me()
                .is_some_and(|m| m.state != membership::State::Leaving)
            {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            // A few gossip rounds for the others to stop sending here.
            tokio::time::sleep(self.config.failure_timeout / 5).await;
            match self.replication() {
                Some(repl) => entropy::hand_over(self, repl, None).await.0,
                None => {
                    let link = self.link(std::time::Duration::from_secs(2));
                    export::export(self, &link, cache.store.db(0), crate::now_ms()).await
                }
            }
        };
        match tokio::time::timeout(within, work).await {
            Ok(pushed) => {
                tracing::info!(keys = pushed, took = ?started.elapsed(), "left the cluster: keys handed over to the nodes that now keep their slots");
            }
            Err(_) => {
                tracing::warn!(
                    "leaving the cluster: handing keys over took more than {within:?}; stopping anyway (anti-entropy on the others rebuilds the copies)"
                );
            }
        }
    }

    /// Starts the node-to-node link over `cache`: its listener (TCP on
    /// the gossip address), PUBLISH forwarded to the other nodes
    /// ([`fanout`]), and with `--replicas` above 1 the replication (the
    /// answers to other nodes, hint replay and tombstone sweeps). `loops`
    /// are the RESP event loops: their busy polling pauses while another
    /// node runs on this machine ([`colocated`]).
    ///
    /// # Errors
    /// When the link's TCP port is taken.
    pub(crate) async fn start_link(
        self: &Arc<Self>,
        cache: Arc<crate::cache::Cache>,
        token: tokio_util::sync::CancellationToken,
        tracker: &tokio_util::task::TaskTracker,
        loops: Arc<crate::resp::loops::Loops>,
    ) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let kept = self
            .link_listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let listener = match kept {
            Some(std) => std
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(std)),
            None => link::bind(self.gossip).await,
        }
        .with_context(|| format!("cannot listen for the cluster link on tcp {}", self.gossip))?;
        let _ = self.cache.set(cache.clone());
        let answers = Arc::new(fanout::Answers::new(cache.clone()));
        link::listen(
            listener,
            self.config.name.clone(),
            answers.clone(),
            token.clone(),
            tracker,
        );
        let _ = self.loops.set(loops);
        self.pause_busy_poll_if_colocated();
        let out = Arc::new(fanout::Fanout::new(self, token.clone(), tracker));
        let _ = self.fanout.set(out.clone());
        cache.pubsub.set_forward(Arc::new(move |channel, payload| {
            out.forward(channel, payload)
        }));
        if !self.config.quorum.replicates() {
            return Ok(());
        }
        let repl = Arc::new(replicate::Replication::new(self, cache));
        let adopted = repl.versions.adopt(repl.db(), crate::now_ms());
        if adopted > 0 {
            tracing::info!(
                keys = adopted,
                "keys held before replication started (a snapshot) take version 0: anti-entropy brings them up to date"
            );
        }
        answers.set_replication(repl.clone());
        replicate::spawn(self.clone(), repl.clone(), token.clone(), tracker);
        entropy::spawn(self.clone(), repl.clone(), token, tracker);
        let _ = self.replication.set(repl);
        tracing::info!(replicas = self.config.quorum.replicas, write_quorum = self.config.quorum.write, read_quorum = self.config.quorum.read, link = %self.gossip, "cluster replication started");
        Ok(())
    }
}

/// The Redis-style node id of `node_id`: SHA-1, in hex.
pub fn redis_name(node_id: &str) -> String {
    use sha1::Digest as _;
    let digest = sha1::Sha1::digest(node_id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sets this node's `leaving` key in gossip (idempotent): the others mark
/// it leaving and stop placing slots on it.
async fn mark_leaving(chitchat: &tokio::sync::Mutex<chitchat::Chitchat>) {
    chitchat
        .lock()
        .await
        .self_node_state()
        .set(membership::LEAVING_KEY, "1");
}

#[cfg(test)]
mod tests {
    use super::*;
    use membership::{Member, State};

    fn member(id: &str, ip: [u8; 4], state: State, myself: bool) -> Member {
        Member {
            id: id.into(),
            name: redis_name(id),
            gossip: SocketAddr::from((ip, 7000)),
            resp: Some(SocketAddr::from((ip, 6379))),
            state,
            myself,
            duplicate_of: None,
        }
    }

    #[test]
    fn a_live_node_on_this_machine_makes_it_colocated() {
        // 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
        let away = [192, 0, 2, 7];
        let me = member("a", [127, 0, 0, 1], State::Alive, true);
        assert!(!colocated(std::slice::from_ref(&me)), "alone");
        let remote = member("b", away, State::Alive, false);
        assert!(!colocated(&[me.clone(), remote.clone()]));
        for state in [State::Alive, State::Suspect, State::Leaving] {
            let local = member("c", [127, 0, 0, 3], state, false);
            assert!(colocated(&[me.clone(), remote.clone(), local]), "{state:?}");
        }
        for state in [State::Dead, State::Left] {
            let local = member("c", [127, 0, 0, 3], state, false);
            assert!(
                !colocated(&[me.clone(), remote.clone(), local]),
                "{state:?}"
            );
        }
        assert!(is_local("127.0.0.9".parse().unwrap()));
        assert!(!is_local("192.0.2.7".parse().unwrap()));
    }
}
