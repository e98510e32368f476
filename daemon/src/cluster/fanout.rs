//! PUBLISH across the cluster, and what answers the node-to-node link.
//!
//! Redis Cluster broadcasts every PUBLISH over its bus to every node, and
//! so does agora: a message published on one node is delivered to that
//! node's subscribers (RESP and native) at once and handed to every other
//! live member over the link ([`link::Link::post`], TCP on the gossip
//! port), whose [`Answers`] deliver it to theirs. PUBLISH answers the
//! number of subscribers on the node it ran on, as in Redis Cluster.
//!
//! Order: each peer has one queue and one task that posts in queue order
//! over one connection, so the messages of one publisher to one channel
//! reach every node in the order they were published. Delivery is at
//! most once, as pub/sub always is: a peer that cannot be reached loses
//! what was meant for it, and a queue past [`QUEUE`] messages (a peer
//! far behind) drops new ones, counted in [`Fanout::dropped`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Cluster;
use super::link::{Answer, Link, Message};
use super::replicate::Replication;
use crate::cache::Cache;

/// Messages waiting for one peer before new ones are dropped.
pub const QUEUE: usize = 16 * 1024;

/// How long one post may wait for a connection.
const POST_TIMEOUT: Duration = Duration::from_secs(1);

/// The cluster side of PUBLISH: one ordered queue per peer.
pub struct Fanout {
    cluster: Weak<Cluster>,
    link: Arc<Link>,
    queues: Mutex<HashMap<SocketAddr, mpsc::Sender<Message>>>,
    /// Where the per-peer tasks run (PUBLISH is called from the RESP
    /// loops' own runtimes).
    runtime: tokio::runtime::Handle,
    token: CancellationToken,
    tracker: TaskTracker,
    /// Messages not forwarded: a peer's queue was full.
    pub dropped: AtomicU64,
    /// Messages handed to peers' queues.
    pub forwarded: AtomicU64,
}

impl Fanout {
    /// The fanout of `cluster`'s node; its tasks stop with `token`.
    pub fn new(cluster: &Arc<Cluster>, token: CancellationToken, tracker: &TaskTracker) -> Fanout {
        Fanout {
            cluster: Arc::downgrade(cluster),
            link: Arc::new(cluster.link(POST_TIMEOUT)),
            queues: Mutex::new(HashMap::new()),
            runtime: tokio::runtime::Handle::current(),
            token,
            tracker: tracker.clone(),
            dropped: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
        }
    }

    /// Hands a message published here to every other live member.
    pub fn forward(&self, channel: &[u8], payload: &Bytes) {
        let Some(cluster) = self.cluster.upgrade() else {
            return;
        };
        let view = cluster.view();
        for peer in targets(&view.members) {
            let msg = Message::Publish {
                channel: serde_bytes::ByteBuf::from(channel.to_vec()),
                payload: serde_bytes::ByteBuf::from(payload.to_vec()),
            };
            match self.queue(peer).try_send(msg) {
                Ok(()) => self.forwarded.fetch_add(1, Ordering::Relaxed),
                Err(_) => self.dropped.fetch_add(1, Ordering::Relaxed),
            };
        }
    }

    /// The queue to `peer`, with its task started on first use.
    fn queue(&self, peer: SocketAddr) -> mpsc::Sender<Message> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = queues.get(&peer)
            && !tx.is_closed()
        {
            return tx.clone();
        }
        let (tx, mut rx) = mpsc::channel(QUEUE);
        let (link, token) = (self.link.clone(), self.token.clone());
        self.tracker.spawn_on(
            async move {
                loop {
                    let msg = tokio::select! {
                        _ = token.cancelled() => break,
                        msg = rx.recv() => msg,
                    };
                    let Some(msg) = msg else { break };
                    // An unreachable peer loses the message (at most once).
                    if let Err(err) = link.post(peer, msg).await {
                        tracing::debug!(%peer, "publish not forwarded: {err}");
                    }
                }
            },
            &self.runtime,
        );
        queues.insert(peer, tx.clone());
        tx
    }
}

/// The members a message goes to: every other node not known dead.
fn targets(members: &[super::membership::Member]) -> impl Iterator<Item = SocketAddr> + '_ {
    members
        .iter()
        .filter(|m| !m.myself && !m.state.gone() && m.duplicate_of.is_none())
        .map(|m| m.gossip)
}

/// What answers the link: forwarded messages for the local subscribers,
/// and the replication's requests once it runs (`--replicas` above 1).
pub struct Answers {
    cache: Arc<Cache>,
    replication: OnceLock<Arc<Replication>>,
}

impl Answers {
    /// Answers over `cache`, without replication yet.
    pub fn new(cache: Arc<Cache>) -> Answers {
        Answers {
            cache,
            replication: OnceLock::new(),
        }
    }

    /// Hands the replication's requests to `repl` from now on.
    pub fn set_replication(&self, repl: Arc<Replication>) {
        let _ = self.replication.set(repl);
    }
}

impl Answer for Answers {
    fn answer(&self, msg: Message) -> Message {
        match msg {
            Message::Publish { channel, payload } => {
                self.cache
                    .pubsub
                    .publish_local(&channel, &Bytes::from(payload.into_vec()));
                Message::Done
            }
            Message::Import { items } => {
                let taken = super::export::import(self.cache.store.db(0), &items, crate::now_ms());
                tracing::debug!(
                    keys = items.len(),
                    taken,
                    "keys handed over by a leaving node"
                );
                Message::Done
            }
            msg => match self.replication.get() {
                Some(repl) => repl.answer(msg),
                None => Message::Refused {
                    reason: "this node does not replicate (--replicas 1)".into(),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::membership::{Member, State};

    fn member(id: &str, port: u16, state: State, myself: bool) -> Member {
        Member {
            id: id.into(),
            name: crate::cluster::redis_name(id),
            gossip: SocketAddr::from(([127, 0, 0, 1], port)),
            resp: Some(SocketAddr::from(([127, 0, 0, 1], port + 1))),
            state,
            myself,
            duplicate_of: None,
        }
    }

    #[test]
    fn messages_go_to_every_other_member_not_known_dead() {
        let mut dup = member("b", 40, State::Alive, false);
        dup.duplicate_of = Some(SocketAddr::from(([127, 0, 0, 1], 20)));
        let members = vec![
            member("a", 10, State::Alive, true),
            member("b", 20, State::Alive, false),
            member("c", 30, State::Suspect, false),
            member("d", 50, State::Dead, false),
            dup,
        ];
        let ports: Vec<u16> = targets(&members).map(|a| a.port()).collect();
        assert_eq!(ports, vec![20, 30]);
    }
}
