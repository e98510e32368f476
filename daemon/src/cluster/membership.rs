//! Membership: chitchat's gossip (docs/CLUSTER.md says why chitchat) and
//! the member table built from it.
//!
//! [`View::build`] is pure: from what gossip reports about each node
//! ([`Observed`]) it decides states, duplicates and the slot placement,
//! so its rules are unit-tested without sockets. [`start`] runs chitchat
//! and a task that rebuilds the view every gossip round and logs each
//! change (joined, suspect, dead, back, duplicate id, no seed answering).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chitchat::transport::UdpTransport;
use chitchat::{ChitchatConfig, ChitchatId, FailureDetectorConfig, ProtocolVersion};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ring::Placement;
use super::{Cluster, ClusterConfig, redis_name};

/// The chitchat key holding a node's RESP address.
pub const RESP_KEY: &str = "resp";

/// The chitchat key a node sets when it shuts down cleanly
/// ([`super::Cluster::leave`]): the others stop placing slots on it.
pub const LEAVING_KEY: &str = "leaving";

/// The chitchat key holding a node's replication lag: the writes it
/// keeps as hints for replicas that did not acknowledge them.
pub const LAG_KEY: &str = "lag";

/// How long a dead node stays listed before it is forgotten.
const DEAD_KEPT: Duration = Duration::from_secs(3600);

/// A member's state as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Heartbeats arrive.
    Alive,
    /// Silent for more than half the failure timeout (Redis's `fail?`);
    /// still owns its slots.
    Suspect,
    /// Declared dead by the failure detector (Redis's `fail`); owns
    /// nothing.
    Dead,
    /// Shutting down cleanly (it said so in gossip): owns nothing, still
    /// hands its keys over.
    Leaving,
    /// Gone after a clean leave: owns nothing and, unlike a dead node,
    /// no longer counts toward the majority ([`View::has_majority`]).
    Left,
}

impl State {
    /// Dead, or left after a clean leave: the process is gone.
    pub fn gone(self) -> bool {
        matches!(self, State::Dead | State::Left)
    }

    /// Lower-case name, as `agora cluster status` prints it.
    pub fn name(self) -> &'static str {
        match self {
            State::Alive => "alive",
            State::Suspect => "suspect",
            State::Dead => "dead",
            State::Leaving => "leaving",
            State::Left => "left",
        }
    }
}

/// One node as gossip reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its `--node-id`.
    pub id: String,
    /// When that process started (chitchat's generation): a restart is a
    /// new generation of the same id.
    pub generation: u64,
    /// Its gossip address.
    pub gossip: SocketAddr,
    /// Its RESP address, once gossip has carried it.
    pub resp: Option<SocketAddr>,
    /// What the failure detector says.
    pub state: State,
    /// Whether it is this node.
    pub myself: bool,
}

/// One member of the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its `--node-id`.
    pub id: String,
    /// Its Redis-style id (SHA-1 of `id`, hex).
    pub name: String,
    /// Its gossip address (Redis's cluster bus).
    pub gossip: SocketAddr,
    /// Its RESP address, once known.
    pub resp: Option<SocketAddr>,
    /// Alive, suspect or dead.
    pub state: State,
    /// Whether it is this node.
    pub myself: bool,
    /// Set when another live node at this address already uses the same
    /// id: this one takes no slots.
    pub duplicate_of: Option<SocketAddr>,
}

impl Member {
    /// Whether it owns slots: not dead, not a duplicate, reachable.
    pub fn serves(&self) -> bool {
        !matches!(self.state, State::Dead | State::Leaving | State::Left)
            && self.duplicate_of.is_none()
            && self.resp.is_some()
    }
}

/// The members and who owns each slot, as of one gossip round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Every known member, sorted by id then gossip address.
    pub members: Vec<Member>,
    /// Slot owners, over the members that [`Member::serves`].
    pub placement: Placement,
    /// Whether this node hears from a majority of the cluster
    /// ([`View::has_majority`]).
    majority: bool,
}

impl View {
    /// Builds the view from what gossip reports.
    ///
    /// - A node restarted (same id, same gossip address, newer
    ///   generation) replaces its old self.
    /// - Two live nodes with one id at different addresses: the first
    ///   started keeps the id, the other is a duplicate and serves no
    ///   slots (this node included).
    /// - A dead entry whose id is live elsewhere is dropped.
    pub fn build(mut observed: Vec<Observed>) -> View {
        observed
            .sort_by(|a, b| (&a.id, a.generation, a.gossip).cmp(&(&b.id, b.generation, b.gossip)));
        let mut by_id: BTreeMap<&str, Vec<&Observed>> = BTreeMap::new();
        for o in &observed {
            by_id.entry(o.id.as_str()).or_default().push(o);
        }
        let mut members = Vec::new();
        for (id, entries) in by_id {
            // Per gossip address, the newest generation (a restart).
            let mut per_addr: BTreeMap<SocketAddr, &Observed> = BTreeMap::new();
            for o in entries {
                per_addr
                    .entry(o.gossip)
                    .and_modify(|e| {
                        if o.generation >= e.generation || o.myself {
                            *e = o;
                        }
                    })
                    .or_insert(o);
            }
            let live: Vec<&Observed> = per_addr
                .values()
                .copied()
                .filter(|o| !o.state.gone())
                .collect();
            // The first started live holder keeps the id.
            let holder = live
                .iter()
                .min_by_key(|o| (o.generation, o.gossip))
                .map(|o| o.gossip);
            for o in per_addr.values() {
                if o.state.gone() && !live.is_empty() {
                    continue;
                }
                let duplicate_of = match holder {
                    Some(h) if h != o.gossip && !o.state.gone() => Some(h),
                    _ => None,
                };
                members.push(Member {
                    id: id.to_owned(),
                    name: redis_name(id),
                    gossip: o.gossip,
                    resp: o.resp,
                    state: o.state,
                    myself: o.myself,
                    duplicate_of,
                });
            }
        }
        let serving: Vec<&str> = members
            .iter()
            .filter(|m| m.serves())
            .map(|m| m.id.as_str())
            .collect();
        let placement = Placement::new(&serving);
        let majority = majority(&members);
        View {
            members,
            placement,
            majority,
        }
    }

    /// Whether this node hears from a majority of the cluster: more than
    /// half of its members are alive (this node included). Members that
    /// left cleanly and duplicates are not counted; suspect and dead ones
    /// are. Without a majority a node serves no keys (`CLUSTERDOWN`), as
    /// a Redis Cluster master in a minority partition stops: a node cut
    /// off with a minority finds the others suspect after half the
    /// failure timeout, while the majority waits for the whole timeout
    /// before it takes over their slots, so the two sides never both
    /// serve a slot.
    pub fn has_majority(&self) -> bool {
        self.majority
    }

    /// The member that owns `slot`, if any.
    pub fn owner(&self, slot: u16) -> Option<&Member> {
        let id = self.placement.owner(slot)?;
        self.members.iter().find(|m| m.id == id && m.serves())
    }

    /// This node's entry.
    pub fn me(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.myself)
    }
}

/// More than half of the counted members alive; true with none counted
/// (a node leaving serves nothing anyway).
fn majority(members: &[Member]) -> bool {
    let counted = members
        .iter()
        .filter(|m| m.duplicate_of.is_none() && !matches!(m.state, State::Leaving | State::Left));
    let (all, alive) = counted.fold((0, 0), |(all, alive), m| {
        (all + 1, alive + usize::from(m.state == State::Alive))
    });
    all == 0 || 2 * alive > all
}

/// Gossip timing from the failure timeout: gossip every timeout ÷ 20,
/// phi threshold 20; a node is dead when chitchat says so and it has been
/// silent for the whole timeout (see `keep_view`).
fn gossip_interval(timeout: Duration) -> Duration {
    (timeout / 20).max(Duration::from_millis(10))
}

/// Starts gossip and the task that keeps the view; it stops with `token`.
///
/// # Errors
/// When the gossip address cannot be bound or resolved.
pub(crate) async fn start(
    mut config: ClusterConfig,
    resp: SocketAddr,
    token: CancellationToken,
    tracker: &TaskTracker,
) -> anyhow::Result<Arc<Cluster>> {
    // Port 0: learn the port the kernel gives, then let chitchat bind it.
    let (gossip, link_listener) = gossip_addr(&config.listen)
        .with_context(|| format!("cannot listen for cluster gossip on {}", config.listen))?;
    if config.node_id.is_empty() {
        config.node_id = default_node_id(gossip.port());
    }
    let resp = if resp.ip().is_unspecified() {
        SocketAddr::new(gossip.ip(), resp.port())
    } else {
        resp
    };
    let generation = crate::now_ms();
    let interval = gossip_interval(config.failure_timeout);
    let chitchat_config = ChitchatConfig {
        chitchat_id: ChitchatId::new(config.node_id.as_str(), generation, gossip),
        cluster_id: config.name.clone(),
        gossip_interval: interval,
        listen_addr: gossip,
        seed_nodes: config.seeds.clone(),
        failure_detector_config: FailureDetectorConfig {
            phi_threshold: 20.0,
            sampling_window_size: 100,
            max_interval: config.failure_timeout,
            initial_interval: interval,
            dead_node_grace_period: DEAD_KEPT,
        },
        marked_for_deletion_grace_period: DEAD_KEPT,
        catchup_callback: None,
        extra_liveness_predicate: None,
        protocol_version: ProtocolVersion::V0,
    };
    let handle = chitchat::spawn_chitchat(
        chitchat_config,
        vec![(RESP_KEY.to_owned(), resp.to_string())],
        &UdpTransport,
    )
    .await
    .with_context(|| format!("cannot start cluster gossip on {gossip}"))?;
    let me = Observed {
        id: config.node_id.clone(),
        generation,
        gossip,
        resp: Some(resp),
        state: State::Alive,
        myself: true,
    };
    let cluster = Arc::new(Cluster::new(
        config,
        resp,
        gossip,
        View::build(vec![me]),
        Some(handle.chitchat()),
    ));
    if let Some(listener) = link_listener {
        cluster.keep_link_listener(listener);
    }
    tracing::info!(cluster = %cluster.config.name, node = %cluster.config.node_id, %gossip, %resp, seeds = ?cluster.config.seeds, "cluster gossip started");
    tracker.spawn(keep_view(cluster.clone(), handle, token, interval));
    Ok(cluster)
}

/// The gossip address for `listen`, and the link's TCP listener on the
/// same port number, bound here and kept (a port merely checked free
/// could be taken before the link binds it: UDP's port 0 draws from the
/// ephemeral range, where outgoing TCP connections hold ports, and
/// parallel daemons make those by the hundred). With a fixed port whose
/// TCP side is taken, no listener: the link reports its own error.
fn gossip_addr(listen: &str) -> std::io::Result<(SocketAddr, Option<std::net::TcpListener>)> {
    let mut last = None;
    for _ in 0..64 {
        let addr = std::net::UdpSocket::bind(listen)?.local_addr()?;
        if let Ok(tcp) = std::net::TcpListener::bind(addr) {
            return Ok((addr, Some(tcp)));
        }
        last = Some(addr);
        if !listen.ends_with(":0") {
            break;
        }
    }
    Ok((last.expect("at least one attempt"), None))
}

/// `HOST-PORT`: the host name and the gossip port (no `--node-id`).
fn default_node_id(port: u16) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "agora".into());
    format!("{host}-{port}")
}

/// Every gossip round: read chitchat's state, rebuild the view, log what
/// changed. Shuts gossip down with the daemon.
async fn keep_view(
    cluster: Arc<Cluster>,
    handle: chitchat::ChitchatHandle,
    token: CancellationToken,
    interval: Duration,
) {
    let chitchat = handle.chitchat();
    let timeout = cluster.config.failure_timeout;
    // Last heartbeat seen per node and when it changed: silence past half
    // the timeout makes a live node suspect.
    let mut heard: HashMap<ChitchatId, (u64, Instant)> = HashMap::new();
    let mut lonely_since = Instant::now();
    let mut last_lonely_log: Option<Instant> = None;
    let mut published_lag: Option<usize> = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let now = Instant::now();
        let lag = cluster.lag();
        if cluster.replication().is_some() && published_lag != Some(lag) {
            published_lag = Some(lag);
            chitchat
                .lock()
                .await
                .self_node_state()
                .set(LAG_KEY, lag.to_string());
        }
        let observed = {
            let guard = chitchat.lock().await;
            let me = guard.self_chitchat_id().clone();
            let mut out = Vec::new();
            let mut look = |id: &ChitchatId, dead: bool| {
                let state = guard.node_state(id);
                let beat = state.map_or(0, |s| u64::from(s.heartbeat()));
                let entry = heard.entry(id.clone()).or_insert((beat, now));
                if entry.0 != beat {
                    *entry = (beat, now);
                }
                // Dead takes both chitchat's detector and our own clock: its
                // phi is silence over the mean gap between heartbeats, and
                // heartbeats come faster than gossip rounds, so alone it can
                // declare a node dead well before the timeout (a CPU stall
                // would then look like a death).
                let silent = now.duration_since(entry.1);
                let leaving = state.is_some_and(|s| s.get(LEAVING_KEY).is_some());
                let state_of = if *id == me {
                    if leaving {
                        State::Leaving
                    } else {
                        State::Alive
                    }
                } else if dead && silent >= timeout {
                    if leaving { State::Left } else { State::Dead }
                } else if leaving {
                    State::Leaving
                } else if silent > timeout / 2 {
                    // Our own clock only: chitchat also lists as dead a
                    // node just discovered, before it has seen enough
                    // heartbeats to judge; that node is alive (and counts
                    // for the majority a node needs to serve).
                    State::Suspect
                } else {
                    State::Alive
                };
                out.push(Observed {
                    id: id.node_id.to_string(),
                    generation: id.generation_id,
                    gossip: id.gossip_advertise_addr,
                    resp: state
                        .and_then(|s| s.get(RESP_KEY))
                        .and_then(|a| a.parse().ok()),
                    state: state_of,
                    myself: *id == me,
                });
            };
            for id in guard.live_nodes() {
                look(id, false);
            }
            for id in guard.dead_nodes() {
                look(id, true);
            }
            out
        };
        heard.retain(|id, _| {
            observed
                .iter()
                .any(|o| o.id == *id.node_id && o.generation == id.generation_id)
        });
        let view = View::build(observed);
        let old = cluster.view();
        if *old != view {
            log_changes(&cluster, &old, &view);
            cluster.set_view(view);
        }
        // Alone with seeds to reach: say so now and then, keep trying
        // (chitchat gossips with a seed every round).
        let others = cluster.view().members.iter().filter(|m| !m.myself).count();
        if others > 0 || cluster.config.seeds.is_empty() {
            lonely_since = now;
        } else if now.duration_since(lonely_since) > Duration::from_secs(3)
            && last_lonely_log.is_none_or(|t| now.duration_since(t) > Duration::from_secs(10))
        {
            last_lonely_log = Some(now);
            tracing::warn!(cluster = %cluster.config.name, seeds = ?cluster.config.seeds, "no cluster seed has answered yet (unreachable, or running another cluster name); retrying");
        }
    }
    if let Err(err) = handle.shutdown().await {
        tracing::debug!(%err, "cluster gossip shutdown");
    }
}

/// Logs joins, state changes, departures and duplicate ids.
fn log_changes(cluster: &Cluster, old: &View, new: &View) {
    let name = &cluster.config.name;
    for m in &new.members {
        let before = old
            .members
            .iter()
            .find(|o| o.id == m.id && o.gossip == m.gossip);
        if let Some(holder) = m.duplicate_of
            && before.is_none_or(|b| b.duplicate_of.is_none())
        {
            tracing::error!(cluster = %name, node = %m.id, gossip = %m.gossip, held_by = %holder, myself = m.myself, "duplicate cluster node id: the node at {holder} started first and keeps it; the node at {} serves no slots", m.gossip);
        }
        match before {
            None => {
                tracing::info!(cluster = %name, node = %m.id, gossip = %m.gossip, resp = ?m.resp, state = m.state.name(), "cluster member joined")
            }
            Some(b) if b.state != m.state => {
                tracing::info!(cluster = %name, node = %m.id, gossip = %m.gossip, from = b.state.name(), to = m.state.name(), "cluster member state changed")
            }
            Some(_) => {}
        }
    }
    for o in &old.members {
        if !new
            .members
            .iter()
            .any(|m| m.id == o.id && m.gossip == o.gossip)
        {
            tracing::info!(cluster = %name, node = %o.id, gossip = %o.gossip, "cluster member forgotten");
        }
    }
    if old.placement != new.placement {
        let mine = new.me().map_or(0, |me| {
            new.placement
                .ranges_of(&me.id)
                .iter()
                .map(|(s, e)| usize::from(e - s) + 1)
                .sum()
        });
        tracing::info!(cluster = %name, serving = new.placement.nodes.len(), my_slots = mine, "cluster slots reassigned");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(id: &str, generation: u64, port: u16, state: State, myself: bool) -> Observed {
        Observed {
            id: id.into(),
            generation,
            gossip: SocketAddr::from(([127, 0, 0, 1], port)),
            resp: Some(SocketAddr::from(([127, 0, 0, 1], port + 1000))),
            state,
            myself,
        }
    }

    #[test]
    fn live_members_share_the_slots_and_the_dead_own_none() {
        let view = View::build(vec![
            obs("a", 1, 1, State::Alive, true),
            obs("b", 1, 2, State::Suspect, false),
            obs("c", 1, 3, State::Dead, false),
        ]);
        assert_eq!(view.placement.nodes, ["a", "b"]);
        assert_eq!(view.members.len(), 3);
        assert!(view.owner(0).is_some_and(|m| m.id != "c"));
    }

    #[test]
    fn the_first_started_node_keeps_a_duplicate_id() {
        let view = View::build(vec![
            obs("a", 5, 1, State::Alive, true),
            obs("a", 2, 2, State::Alive, false),
            obs("b", 1, 3, State::Alive, false),
        ]);
        let me = view.me().unwrap();
        assert_eq!(me.duplicate_of, Some(SocketAddr::from(([127, 0, 0, 1], 2))));
        assert!(!me.serves());
        assert_eq!(view.placement.nodes, ["a", "b"]);
        assert!(view.owner(0).is_some_and(|m| !m.myself));
    }

    #[test]
    fn a_restarted_node_replaces_its_dead_generation() {
        let view = View::build(vec![
            obs("a", 1, 1, State::Alive, true),
            obs("b", 1, 2, State::Dead, false),
            obs("b", 9, 2, State::Alive, false),
        ]);
        assert_eq!(view.members.len(), 2);
        assert!(view.members.iter().all(|m| m.state == State::Alive));
    }

    #[test]
    fn a_node_serves_only_while_it_hears_from_a_majority() {
        let five = |states: [State; 4]| {
            let mut all = vec![obs("a", 1, 1, State::Alive, true)];
            for (i, (id, state)) in ["b", "c", "d", "e"].into_iter().zip(states).enumerate() {
                all.push(obs(id, 1, 2 + i as u16, state, false));
            }
            View::build(all).has_majority()
        };
        use State::{Alive, Dead, Leaving, Left, Suspect};
        assert!(five([Alive, Alive, Dead, Dead]), "3 of 5");
        assert!(!five([Alive, Dead, Dead, Dead]), "2 of 5");
        // Suspect is not heard from: the minority stops before the
        // majority declares it dead.
        assert!(!five([Alive, Suspect, Suspect, Suspect]));
        // Nodes that left cleanly (or are leaving) are not counted.
        assert!(five([Alive, Left, Leaving, Left]), "2 of 2");
        assert!(!five([Dead, Left, Left, Left]), "1 of 2");
        assert!(View::build(vec![obs("a", 1, 1, Alive, true)]).has_majority());
        // A duplicate is not a member.
        let view = View::build(vec![
            obs("a", 1, 1, Alive, true),
            obs("b", 1, 2, Dead, false),
            obs("a", 9, 3, Alive, false),
        ]);
        assert!(!view.has_majority(), "1 of 2: the duplicate is not counted");
    }

    #[test]
    fn a_node_back_after_a_clean_leave_is_not_a_duplicate_of_its_old_self() {
        // Restarted on another port (port 0): the old entry, left, must
        // not keep the id.
        let view = View::build(vec![
            obs("a", 1, 1, State::Alive, true),
            obs("b", 1, 2, State::Left, false),
            obs("b", 9, 3, State::Alive, false),
        ]);
        let b: Vec<&Member> = view.members.iter().filter(|m| m.id == "b").collect();
        assert_eq!(b.len(), 1);
        assert!(b[0].serves() && b[0].duplicate_of.is_none());
        assert_eq!(view.placement.nodes, ["a", "b"]);
    }

    #[test]
    fn a_node_without_a_resp_address_yet_serves_nothing() {
        let mut b = obs("b", 1, 2, State::Alive, false);
        b.resp = None;
        let view = View::build(vec![obs("a", 1, 1, State::Alive, true), b]);
        assert_eq!(view.placement.nodes, ["a"]);
    }
}
