//! Quorum replication of the keyspace (docs/CLUSTER.md, "Replication").
//!
//! A command on keys runs on the slot's primary (the first live node of
//! [`super::ring::Placement::replicas`]; `route.rs` sends the others
//! there with `MOVED`), once, whatever its type. Around it:
//!
//! - [`Replication::before`]: refuses a write when fewer than W replicas
//!   are live (before it runs: nothing changed), and, with R > 1, unless
//!   the keys are *settled* (read by a quorum, or written here, since
//!   this node's view last changed), asks the other replicas for their
//!   states, takes the newest and repairs the stale ones (read repair);
//! - [`Replication::after`]: captures the state of each key a write
//!   named with a new version ([`super::versions::capture`]) and sends it
//!   to the other replicas; the client gets its reply after W − 1 of them
//!   acknowledged, or `-NOREPLICAS` (the write stays applied where it
//!   arrived). A replica that did not acknowledge gets a hint
//!   ([`super::handoff`]).
//!
//! [`Replication`] also answers the other nodes' requests ([`Answer`])
//! and runs the background task (hint replay, tombstone sweep).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::digests;
use super::handoff::Hints;
use super::hlc::{Hlc, node_tag};
use super::link::{Answer, Link, Message};
use super::membership::{State, View};
use super::versions::{self, Applied, Item, Versions};
use super::{Cluster, Quorum};
use crate::cache::Cache;
use crate::cache::cmd::{Kind, Spec};
use crate::cache::reply::Reply;

/// Redis's answer when too few replicas acknowledge a write.
pub const NOREPLICAS_WRITE: &str = "NOREPLICAS Not enough good replicas to write.";

/// The answer when too few replicas answer a quorum read.
pub const NOREPLICAS_READ: &str = "NOREPLICAS Not enough good replicas to read.";

/// How long a replica may take to acknowledge or answer.
pub const REPLICA_TIMEOUT: Duration = Duration::from_secs(1);

/// How often hints are offered to nodes that are back.
const REPLAY_EVERY: Duration = Duration::from_millis(200);

/// How often tombstones are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Hints sent to a node per frame.
const REPLAY_BATCH: usize = 512;

/// What a command needs from replication: its keys and whether it
/// writes.
#[derive(Debug)]
pub struct Plan {
    /// The keys it names (one slot: `route.rs` refused the others).
    pub keys: Vec<Bytes>,
    /// Their slot.
    pub slot: u16,
    /// Whether it may change them.
    pub writes: bool,
}

impl Plan {
    /// The plan of a command with keys; `None` for keyless commands and
    /// connection or server commands (they are not replicated).
    pub fn of(spec: &Spec, args: &[Bytes]) -> Option<Plan> {
        let writes = match spec.kind {
            Kind::Read => false,
            Kind::Write | Kind::DenyOom => true,
            // Scripts and functions: the _RO forms only read.
            Kind::Script => !spec.name.ends_with("_ro"),
            Kind::Admin | Kind::Conn => return None,
        };
        let keys = super::route::command_keys(spec, args);
        let first = keys.first()?;
        Some(Plan {
            slot: super::slots::key_slot(first),
            keys,
            writes,
        })
    }
}

/// A command about to run under replication: the cluster, its
/// replication and the command's plan ([`prepare`]).
pub struct Prepared {
    cluster: Arc<Cluster>,
    repl: Arc<Replication>,
    plan: Plan,
}

/// What replication needs around a command with keys on a replicating
/// cluster node; `None` otherwise (standalone, `--replicas 1`, keyless).
pub fn prepare(cluster: Option<&Arc<Cluster>>, spec: &Spec, args: &[Bytes]) -> Option<Prepared> {
    let cluster = cluster?;
    let repl = cluster.replication()?.clone();
    if !crate::cache::cmd::arity_ok(spec.arity, args.len()) {
        return None;
    }
    let plan = Plan::of(spec, args)?;
    Some(Prepared {
        cluster: cluster.clone(),
        repl,
        plan,
    })
}

/// What replication needs around EXEC: one [`Prepared`] per slot the
/// queued commands name (routing kept each command to one slot this node
/// owns; several commands may name several slots), with their keys, and
/// writing when any of them writes. Empty standalone or unreplicated.
pub fn prepare_transaction(cluster: Option<&Arc<Cluster>>, queue: &[Vec<Bytes>]) -> Vec<Prepared> {
    let (Some(cluster), Some(repl)) = (cluster, cluster.and_then(|c| c.replication())) else {
        return Vec::new();
    };
    let mut plans: Vec<Plan> = Vec::new();
    for args in queue {
        let Some(spec) = args.first().and_then(|n| crate::cache::cmd::lookup(n)) else {
            continue;
        };
        if !crate::cache::cmd::arity_ok(spec.arity, args.len()) {
            continue;
        }
        let Some(plan) = Plan::of(spec, args) else {
            continue;
        };
        match plans.iter_mut().find(|p| p.slot == plan.slot) {
            Some(p) => {
                p.writes |= plan.writes;
                for k in plan.keys {
                    if !p.keys.contains(&k) {
                        p.keys.push(k);
                    }
                }
            }
            None => plans.push(plan),
        }
    }
    plans
        .into_iter()
        .map(|plan| Prepared {
            cluster: cluster.clone(),
            repl: repl.clone(),
            plan,
        })
        .collect()
}

impl Prepared {
    /// See [`Replication::before`].
    ///
    /// # Errors
    /// The reply to send instead of running the command.
    pub async fn before(&self, now_ms: u64) -> Result<(), Reply> {
        self.repl.before(&self.cluster, &self.plan, now_ms).await
    }

    /// Whether the command wrote, by its encoded reply: a write that
    /// did not answer an error.
    pub fn wrote(&self, reply: &[u8]) -> bool {
        self.plan.writes && !matches!(reply.first(), Some(b'-' | b'!'))
    }

    /// See [`Replication::after`].
    ///
    /// # Errors
    /// `NOREPLICAS`, to send instead of the command's reply.
    pub async fn after(&self, now_ms: u64) -> Result<(), Reply> {
        self.repl.after(&self.cluster, &self.plan, now_ms).await
    }
}

/// Counting acknowledgements: `need` of `asked` replicas.
#[derive(Debug, Clone, Copy)]
struct Count {
    asked: usize,
    need: usize,
    acks: usize,
    fails: usize,
}

impl Count {
    fn new(asked: usize, need: usize) -> Count {
        Count {
            asked,
            need,
            acks: 0,
            fails: 0,
        }
    }

    fn add(&mut self, acked: bool) {
        if acked {
            self.acks += 1;
        } else {
            self.fails += 1;
        }
    }

    /// `Some(true)`: enough acknowledged; `Some(false)`: too many failed
    /// for the rest to make it; `None`: wait for more.
    fn verdict(&self) -> Option<bool> {
        if self.acks >= self.need {
            Some(true)
        } else if self.asked - self.fails < self.need {
            Some(false)
        } else {
            None
        }
    }
}

/// One node's replication state: the clock, the versions, the link, the
/// hints.
pub struct Replication {
    /// N, W, R.
    pub quorum: Quorum,
    /// This node's hybrid logical clock.
    pub clock: Hlc,
    /// The versions of the keys.
    pub versions: Versions,
    /// Connections to the other nodes.
    pub link: Link,
    /// Writes kept for replicas that did not acknowledge them.
    pub hints: Arc<Hints>,
    /// Anti-entropy's counters (`entropy.rs`).
    pub entropy: digests::Stats,
    cache: Arc<Cache>,
}

/// A replica of a slot other than this node.
#[derive(Debug, Clone)]
struct Peer {
    id: String,
    addr: std::net::SocketAddr,
}

/// The other live replicas of `slot`, and how many replicas there are
/// in all (this node included).
fn peers(view: &View, slot: u16, n: usize) -> (Vec<Peer>, usize) {
    let ids = view.placement.replicas(slot, n);
    let total = ids.len();
    let peers = ids
        .iter()
        .filter_map(|id| view.members.iter().find(|m| m.id == *id && m.serves()))
        .filter(|m| !m.myself)
        .map(|m| Peer {
            id: m.id.clone(),
            addr: m.gossip,
        })
        .collect();
    (peers, total)
}

impl Replication {
    /// The replication of `cluster`'s node over `cache`'s keyspace.
    pub fn new(cluster: &Cluster, cache: Arc<Cache>) -> Replication {
        let config = &cluster.config;
        Replication {
            quorum: config.quorum,
            clock: Hlc::new(node_tag(&config.node_id)),
            versions: Versions::default(),
            link: cluster.link(REPLICA_TIMEOUT),
            hints: Arc::new(Hints::default()),
            entropy: digests::Stats::default(),
            cache,
        }
    }

    /// The keyspace replicated (database 0).
    pub(crate) fn db(&self) -> &crate::cache::store::Db {
        self.cache.store.db(0)
    }

    /// Before a command runs here as the primary: refuses a write that
    /// cannot reach W replicas; with R > 1 brings unsettled keys up to
    /// the newest state R replicas hold.
    ///
    /// # Errors
    /// The `NOREPLICAS` reply to send instead of running the command.
    pub async fn before(
        self: &Arc<Self>,
        cluster: &Cluster,
        plan: &Plan,
        now_ms: u64,
    ) -> Result<(), Reply> {
        let view = cluster.view();
        let (peers, _) = peers(&view, plan.slot, self.quorum.replicas);
        if plan.writes && peers.len() + 1 < self.quorum.write {
            return Err(Reply::err(NOREPLICAS_WRITE));
        }
        if self.quorum.read <= 1 {
            return Ok(());
        }
        let epoch = cluster.epoch();
        let keys: Vec<&Bytes> = plan.keys.iter().collect();
        if self.versions.settled(&keys, epoch) {
            return Ok(());
        }
        let need = self.quorum.read - 1;
        if peers.len() < need {
            return Err(Reply::err(NOREPLICAS_READ));
        }
        let msg = Message::Read {
            keys: plan
                .keys
                .iter()
                .map(|k| serde_bytes::ByteBuf::from(k.to_vec()))
                .collect(),
        };
        let mut calls: FuturesUnordered<_> = peers
            .iter()
            .map(|p| {
                let msg = msg.clone();
                async move { (p, self.link.call(p.addr, msg).await) }
            })
            .collect();
        let mut answers: Vec<(&Peer, Vec<Item>)> = Vec::with_capacity(need);
        while answers.len() < need {
            match calls.next().await {
                Some((peer, Ok(Message::Items { items }))) if items.len() == plan.keys.len() => {
                    answers.push((peer, items));
                }
                Some((peer, other)) => {
                    tracing::debug!(node = %peer.id, answer = ?other.map(|_| ()), "quorum read: no usable answer");
                }
                None => return Err(Reply::err(NOREPLICAS_READ)),
            }
        }
        drop(calls);
        for (i, key) in plan.keys.iter().enumerate() {
            let mut newest = versions::read(&self.versions, self.db(), key, now_ms);
            for (_, items) in &answers {
                if items[i].newer_than(&newest) {
                    newest = items[i].clone();
                }
            }
            let _ = versions::apply(&self.versions, self.db(), &self.clock, &newest, now_ms);
            // Read repair: the replicas that answered with an older state.
            for (peer, items) in &answers {
                if newest.newer_than(&items[i]) {
                    tokio::spawn(self.replicate_to((*peer).clone(), vec![newest.clone()]));
                }
            }
        }
        self.versions.settle(&keys, epoch);
        Ok(())
    }

    /// After a write ran here: sends the keys' new states to the other
    /// replicas and waits for W − 1 acknowledgements.
    ///
    /// # Errors
    /// `NOREPLICAS` when fewer acknowledged within [`REPLICA_TIMEOUT`]
    /// (the write stays applied here and wherever it arrived).
    pub async fn after(
        self: &Arc<Self>,
        cluster: &Cluster,
        plan: &Plan,
        now_ms: u64,
    ) -> Result<(), Reply> {
        let epoch = cluster.epoch();
        let items: Vec<Item> = plan
            .keys
            .iter()
            .map(|k| versions::capture(&self.versions, self.db(), &self.clock, k, now_ms, epoch))
            .collect();
        let view = cluster.view();
        let (peers, _) = peers(&view, plan.slot, self.quorum.replicas);
        let need = self.quorum.write.saturating_sub(1);
        let (tx, mut rx) = tokio::sync::mpsc::channel(peers.len().max(1));
        for peer in peers.iter().cloned() {
            let tx = tx.clone();
            let items = items.clone();
            let call = self.replicate_to(peer, items);
            tokio::spawn(async move {
                let _ = tx.send(call.await).await;
            });
        }
        drop(tx);
        let mut count = Count::new(peers.len(), need);
        loop {
            match count.verdict() {
                Some(true) => return Ok(()),
                Some(false) => return Err(Reply::err(NOREPLICAS_WRITE)),
                None => match rx.recv().await {
                    Some(acked) => count.add(acked),
                    None => return Err(Reply::err(NOREPLICAS_WRITE)),
                },
            }
        }
    }

    /// A future that sends `items` to `peer`, keeps them as a hint if it
    /// does not acknowledge, and says whether it did.
    fn replicate_to(
        self: &Arc<Self>,
        peer: Peer,
        items: Vec<Item>,
    ) -> impl Future<Output = bool> + use<> {
        let repl = self.clone();
        async move {
            let msg = Message::Replicate {
                items: items.clone(),
            };
            match repl.link.call(peer.addr, msg).await {
                Ok(Message::Done) => true,
                other => {
                    tracing::debug!(node = %peer.id, error = ?other.err(), "replica did not acknowledge; hinted");
                    repl.hints.add(&peer.id, &items);
                    false
                }
            }
        }
    }

    /// After FLUSHALL or FLUSHDB ran here: every key this node held gets a
    /// tombstone with a new version, sent to the other replicas of its
    /// slot (kept as hints where not acknowledged). Without it the peers'
    /// copies would come back by anti-entropy; with it, the flush empties
    /// every slot this node replicates, cluster-wide. How many keys.
    pub async fn flushed(self: &Arc<Self>, cluster: &Cluster, now_ms: u64) -> usize {
        let epoch = cluster.epoch();
        let view = cluster.view();
        let mut per_peer: std::collections::HashMap<String, (Peer, Vec<Item>)> =
            std::collections::HashMap::new();
        let mut deleted = 0;
        for slot in self.versions.slots() {
            let keys: Vec<Bytes> = self
                .versions
                .list([slot])
                .into_iter()
                .filter_map(|(k, _, present)| present.then_some(k))
                .collect();
            if keys.is_empty() {
                continue;
            }
            let items: Vec<Item> = keys
                .iter()
                .map(|k| {
                    versions::capture(&self.versions, self.db(), &self.clock, k, now_ms, epoch)
                })
                .collect();
            deleted += items.len();
            let (peers, _) = peers(&view, slot, self.quorum.replicas);
            for peer in peers {
                per_peer
                    .entry(peer.id.clone())
                    .or_insert_with(|| (peer, Vec::new()))
                    .1
                    .extend(items.iter().cloned());
            }
        }
        for (peer, items) in per_peer.into_values() {
            for chunk in items.chunks(REPLAY_BATCH) {
                self.replicate_to(peer.clone(), chunk.to_vec()).await;
            }
        }
        deleted
    }

    /// Hints pending for other nodes (published as the `lag` chitchat
    /// key).
    pub fn lag(&self) -> usize {
        self.hints.pending()
    }
}

impl Answer for Replication {
    fn answer(&self, msg: Message) -> Message {
        let now = crate::now_ms();
        match msg {
            Message::Replicate { items } => {
                for item in &items {
                    if versions::apply(&self.versions, self.db(), &self.clock, item, now)
                        == Applied::Corrupt
                    {
                        tracing::warn!(key = %String::from_utf8_lossy(&item.key), "replicated value did not decode; ignored");
                    }
                }
                Message::Done
            }
            Message::Read { keys } => Message::Items {
                items: keys
                    .iter()
                    .map(|k| versions::read(&self.versions, self.db(), k, now))
                    .collect(),
            },
            Message::Digests { slots, ranges } => match digests::SlotSet::from_bytes(slots) {
                Some(set) => Message::SlotDigests {
                    slots: digests::answer_digests(&self.versions, &set, &ranges),
                },
                None => Message::Refused {
                    reason: "a slot bitmap of the wrong size".into(),
                },
            },
            Message::ListKeys { slots } => Message::Keys {
                keys: digests::answer_list(&self.versions, &slots),
            },
            _ => Message::Refused {
                reason: "unexpected request".into(),
            },
        }
    }
}

/// Replays hints to nodes that are alive again and sweeps tombstones,
/// until `token` is cancelled.
pub fn spawn(
    cluster: Arc<Cluster>,
    repl: Arc<Replication>,
    token: CancellationToken,
    tracker: &TaskTracker,
) {
    tracker.spawn(async move {
        let mut replay = tokio::time::interval(REPLAY_EVERY);
        replay.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = replay.tick() => {}
            }
            replay_hints(&cluster, &repl).await;
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = tokio::time::Instant::now();
                let forgotten =
                    repl.versions
                        .sweep(repl.db(), crate::now_ms(), versions::TOMBSTONE_KEEP_MS);
                if forgotten > 0 {
                    tracing::debug!(forgotten, "cluster tombstones swept");
                }
            }
        }
    });
}

/// Offers each alive node its hints, a batch at a time.
async fn replay_hints(cluster: &Cluster, repl: &Replication) {
    let nodes = repl.hints.nodes();
    if nodes.is_empty() {
        return;
    }
    let view = cluster.view();
    for id in nodes {
        let Some(member) = view
            .members
            .iter()
            .find(|m| m.id == id && m.state == State::Alive && m.serves() && !m.myself)
        else {
            continue;
        };
        let mut replayed = 0;
        loop {
            let batch = repl.hints.peek(&id, REPLAY_BATCH);
            if batch.is_empty() {
                break;
            }
            let msg = Message::Replicate {
                items: batch.clone(),
            };
            match repl.link.call(member.gossip, msg).await {
                Ok(Message::Done) => {
                    replayed += batch.len();
                    repl.hints.sent(&id, &batch);
                }
                _ => break,
            }
        }
        if replayed > 0 {
            tracing::info!(node = %id, replayed, left = repl.hints.pending_for(&id), "hinted handoff: replayed writes to a node that is back");
        }
    }
}

/// Bytes of replication frames sent and frames sent, for `/metrics`.
pub fn wire_counters(repl: &Replication) -> (u64, u64) {
    (
        repl.link.replicate_bytes.load(Ordering::Relaxed),
        repl.link.replicate_frames.load(Ordering::Relaxed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_acknowledged_at_w_minus_1_replica_acks() {
        // N=3, W=2: one of two replicas.
        let mut c = Count::new(2, 1);
        assert_eq!(c.verdict(), None);
        c.add(true);
        assert_eq!(c.verdict(), Some(true));
        // The first fails, the second acknowledges.
        let mut c = Count::new(2, 1);
        c.add(false);
        assert_eq!(c.verdict(), None);
        c.add(true);
        assert_eq!(c.verdict(), Some(true));
        // Both fail.
        c = Count::new(2, 1);
        c.add(false);
        c.add(false);
        assert_eq!(c.verdict(), Some(false));
        // N=3, W=3: one failure is enough to know.
        let mut c = Count::new(2, 2);
        c.add(true);
        assert_eq!(c.verdict(), None);
        c.add(false);
        assert_eq!(c.verdict(), Some(false));
        // W=1: the primary alone; nobody needs asking.
        assert_eq!(Count::new(0, 0).verdict(), Some(true));
        // W=2 with no live replica: refused at once.
        assert_eq!(Count::new(0, 1).verdict(), Some(false));
    }

    #[test]
    fn plans_name_the_keys_and_whether_the_command_writes() {
        let args = |words: &[&str]| -> Vec<Bytes> {
            words
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect()
        };
        let plan = |words: &[&str]| {
            let a = args(words);
            let spec = crate::cache::cmd::lookup(&a[0]).unwrap();
            Plan::of(spec, &a)
        };
        let set = plan(&["SET", "k", "v"]).unwrap();
        assert!(set.writes);
        assert_eq!(set.keys, [Bytes::from_static(b"k")]);
        assert_eq!(set.slot, super::super::slots::key_slot(b"k"));
        assert!(!plan(&["GET", "k"]).unwrap().writes);
        let mset = plan(&["MSET", "{t}a", "1", "{t}b", "2"]).unwrap();
        assert_eq!(mset.keys.len(), 2);
        let eval = plan(&["EVAL", "return 1", "1", "k", "arg"]).unwrap();
        assert!(eval.writes && eval.keys.len() == 1);
        assert!(!plan(&["EVAL_RO", "return 1", "1", "k"]).unwrap().writes);
        assert!(plan(&["DBSIZE"]).is_none());
        assert!(plan(&["PING"]).is_none());
    }
}
