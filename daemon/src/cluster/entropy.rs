//! Anti-entropy: replicas that missed writes (down longer than their
//! hints were kept, restarted from a snapshot, or new to a slot) are
//! brought in sync by comparing digests, without copying everything.
//!
//! Every [`EVERY`], a node takes each live peer in turn and, over the
//! slots they both replicate:
//! 1. sends its digests folded by ranges of [`super::digests::RANGE`] slots
//!    ([`Message::Digests`], ~4 KiB); the peer answers its own digest of
//!    every slot in the ranges that differ;
//! 2. asks for the keys of the slots that differ ([`Message::ListKeys`]:
//!    key, version, present), [`LIST_SLOTS`] slots at a time;
//! 3. pulls the keys the peer holds newer ([`Message::Read`]) and pushes
//!    the ones it holds newer ([`Message::Replicate`]), [`BATCH`] keys per
//!    frame; a newer tombstone on either side deletes an older value, but a
//!    tombstone is never copied to a node that lacks the key (nodes forget
//!    tombstones at different times; copying them would keep them alive).
//!
//! A slot's digest is the XOR of a fixed hash of (key, version) over its
//! present keys, kept up to date on every change (`versions.rs`), so two
//! replicas in sync exchange only step 1.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use serde_bytes::ByteBuf;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Cluster;
use super::digests::{SlotSet, plan, ranges};
use super::hlc::Version;
use super::link::Message;
use super::membership::State;
use super::replicate::Replication;
use super::slots::SLOTS;
use super::versions::{self, Item};

/// How often a node compares its slots with each peer.
pub const EVERY: Duration = Duration::from_secs(1);

/// How long the view must stay unchanged before a node drops the keys of
/// slots it no longer replicates (after handing them over).
const RELEASE_AFTER: Duration = Duration::from_secs(5);

/// Slots listed per `ListKeys`.
const LIST_SLOTS: usize = 64;

/// Keys per `Read` or `Replicate` frame.
const BATCH: usize = 512;

/// `Read`s in flight to one peer while pulling.
const PULLS_IN_FLIGHT: usize = 4;

/// Which slots this node replicates, and which of them each other node
/// replicates too, in one view: computed once per view (a pass over the
/// 16,384 slots' replica lists costs milliseconds, too much every second).
struct Sharing {
    epoch: u64,
    mine: SlotSet,
    with: HashMap<String, SlotSet>,
}

impl Sharing {
    fn of(cluster: &Cluster, n: usize) -> Sharing {
        let epoch = cluster.epoch();
        let view = cluster.view();
        let mut mine = SlotSet::empty();
        let mut with: HashMap<String, SlotSet> = HashMap::new();
        if let Some(me) = view.me() {
            for slot in 0..SLOTS {
                let ids = view.placement.replicas(slot, n);
                if !ids.contains(&me.id.as_str()) {
                    continue;
                }
                mine.insert(slot);
                for id in ids.into_iter().filter(|id| *id != me.id) {
                    with.entry(id.to_owned())
                        .or_insert_with(SlotSet::empty)
                        .insert(slot);
                }
            }
        }
        Sharing { epoch, mine, with }
    }
}

/// Runs anti-entropy rounds until `token` is cancelled.
pub fn spawn(
    cluster: Arc<Cluster>,
    repl: Arc<Replication>,
    token: CancellationToken,
    tracker: &TaskTracker,
) {
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        let mut stable = (cluster.epoch(), tokio::time::Instant::now());
        let mut sharing = Sharing::of(&cluster, repl.quorum.replicas);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tick.tick() => {}
            }
            if sharing.epoch != cluster.epoch() {
                sharing = Sharing::of(&cluster, repl.quorum.replicas);
            }
            let view = cluster.view();
            let peers: Vec<(String, SocketAddr)> = view
                .members
                .iter()
                .filter(|m| !m.myself && m.state == State::Alive && m.serves())
                .map(|m| (m.id.clone(), m.gossip))
                .collect();
            for (id, addr) in peers {
                let Some(set) = sharing.with.get(&id) else {
                    continue;
                };
                let round = tokio::select! {
                    _ = token.cancelled() => return,
                    r = sync_with(&repl, addr, set, true) => r,
                };
                match round {
                    Ok((0, 0)) => {}
                    Ok((pulled, pushed)) => {
                        tracing::info!(node = %id, pulled, pushed, "anti-entropy: replicas brought in sync");
                    }
                    Err(err) => tracing::debug!(node = %id, "anti-entropy round stopped: {err}"),
                }
            }
            let epoch = cluster.epoch();
            if epoch != stable.0 {
                stable = (epoch, tokio::time::Instant::now());
            } else if stable.1.elapsed() >= RELEASE_AFTER {
                let (_, released) = tokio::select! {
                    _ = token.cancelled() => return,
                    r = hand_over(&cluster, &repl, Some((&sharing.mine, sharing.epoch))) => r,
                };
                if released > 0 {
                    tracing::info!(keys = released, "anti-entropy: keys of slots this node no longer replicates handed to their replicas and dropped here");
                }
            }
        }
    });
}

/// Hands the keys of slots this node holds but no longer replicates (a
/// node joined and took them over, or this node is leaving) to every
/// replica of those slots; with `drop` (the slots this node replicates,
/// and the epoch of the view that says so) it then forgets them here,
/// unless the view changed meanwhile. How many keys were pushed
/// and dropped. A slot is dropped only when every replica of it is alive
/// and acknowledged the push.
pub async fn hand_over(
    cluster: &Cluster,
    repl: &Replication,
    drop: Option<(&SlotSet, u64)>,
) -> (usize, usize) {
    let view = cluster.view();
    let Some(me) = view.me() else { return (0, 0) };
    let n = repl.quorum.replicas;
    let foreign: Vec<u16> = repl
        .versions
        .slots()
        .into_iter()
        .filter(|&slot| match drop {
            Some((mine, _)) => !mine.contains(slot),
            None => !view.placement.replicas(slot, n).contains(&me.id.as_str()),
        })
        .collect();
    if foreign.is_empty() {
        return (0, 0);
    }
    let live: HashMap<&str, SocketAddr> = view
        .members
        .iter()
        .filter(|m| !m.myself && m.state == State::Alive && m.serves())
        .map(|m| (m.id.as_str(), m.gossip))
        .collect();
    // Per peer, the foreign slots it replicates.
    let mut sets: HashMap<&str, SlotSet> = HashMap::new();
    let mut droppable = SlotSet::empty();
    for &slot in &foreign {
        let replicas = view.placement.replicas(slot, n);
        let live_replicas: Vec<&str> = replicas
            .iter()
            .copied()
            .filter(|id| live.contains_key(id))
            .collect();
        // Every replica must be alive (not suspect) and take the keys.
        if live_replicas.is_empty() || live_replicas.len() < replicas.len() {
            continue;
        }
        droppable.insert(slot);
        for id in live_replicas {
            sets.entry(id).or_insert_with(SlotSet::empty).insert(slot);
        }
    }
    let mut pushed = 0;
    for (id, set) in &sets {
        match sync_with(repl, live[id], set, false).await {
            Ok((_, n)) => pushed += n,
            Err(err) => {
                tracing::debug!(node = %id, "handing slots over stopped: {err}");
                for slot in set.iter() {
                    droppable.remove(slot);
                }
            }
        }
    }
    // The view changed meanwhile: this node may replicate them again.
    let current = drop.is_some_and(|(_, epoch)| epoch == cluster.epoch());
    if !current || !Arc::ptr_eq(&cluster.view(), &view) {
        return (pushed, 0);
    }
    let dropped = droppable
        .iter()
        .map(|slot| repl.versions.drop_slot(slot, repl.db()))
        .sum();
    (pushed, dropped)
}

/// One comparison with the peer at `addr` over the slots of `set`: how
/// many keys were pulled (only with `pull_too`) and pushed.
async fn sync_with(
    repl: &Replication,
    addr: SocketAddr,
    set: &SlotSet,
    pull_too: bool,
) -> Result<(usize, usize), String> {
    if set.is_empty() {
        return Ok((0, 0));
    }
    let versions = &repl.versions;
    let msg = Message::Digests {
        slots: set.to_bytes(),
        ranges: ranges(versions, set),
    };
    let theirs = match repl.link.call(addr, msg).await {
        Ok(Message::SlotDigests { slots }) => slots,
        other => return Err(format!("digests: {other:?}")),
    };
    let differing: Vec<u16> = theirs
        .into_iter()
        .filter(|&(slot, digest)| set.contains(slot) && versions.digest(slot) != digest)
        .map(|(slot, _)| slot)
        .collect();
    repl.entropy.rounds.fetch_add(1, Ordering::Relaxed);
    if differing.is_empty() {
        return Ok((0, 0));
    }
    repl.entropy
        .slots_differing
        .fetch_add(differing.len() as u64, Ordering::Relaxed);
    let (mut pulled, mut pushed) = (0, 0);
    for chunk in differing.chunks(LIST_SLOTS) {
        let listed = match repl
            .link
            .call(
                addr,
                Message::ListKeys {
                    slots: chunk.to_vec(),
                },
            )
            .await
        {
            Ok(Message::Keys { keys }) => keys,
            other => return Err(format!("list: {other:?}")),
        };
        let theirs: HashMap<Bytes, (Version, bool)> = listed
            .into_iter()
            .map(|(k, v, p)| (Bytes::from(k.into_vec()), (v, p)))
            .collect();
        let mine: HashMap<Bytes, (Version, bool)> = versions
            .list(chunk.iter().copied())
            .into_iter()
            .map(|(k, v, p)| (k, (v, p)))
            .collect();
        let plan = plan(&mine, &theirs);
        let now = crate::now_ms();
        for (key, version) in &plan.delete {
            let tombstone = Item {
                key: key.to_vec(),
                version: *version,
                state: None,
            };
            versions::apply(versions, repl.db(), &repl.clock, &tombstone, now);
        }
        if pull_too {
            pulled += pull(repl, addr, &plan.pull).await?;
        }
        pushed += push(repl, addr, &plan.push).await?;
    }
    repl.entropy
        .pulled
        .fetch_add(pulled as u64, Ordering::Relaxed);
    repl.entropy
        .pushed
        .fetch_add(pushed as u64, Ordering::Relaxed);
    Ok((pulled, pushed))
}

/// Reads `keys` from the peer and takes the newer states; how many.
async fn pull(repl: &Replication, addr: SocketAddr, keys: &[Bytes]) -> Result<usize, String> {
    let calls: Vec<_> = keys
        .chunks(BATCH)
        .map(|chunk| {
            let msg = Message::Read {
                keys: chunk.iter().map(|k| ByteBuf::from(k.to_vec())).collect(),
            };
            repl.link.call(addr, msg)
        })
        .collect();
    let mut reads = futures::stream::iter(calls).buffer_unordered(PULLS_IN_FLIGHT);
    let mut taken = 0;
    while let Some(answer) = reads.next().await {
        let items = match answer {
            Ok(Message::Items { items }) => items,
            other => return Err(format!("read: {other:?}")),
        };
        let now = crate::now_ms();
        for item in &items {
            if versions::apply(&repl.versions, repl.db(), &repl.clock, item, now)
                == versions::Applied::Taken
            {
                taken += 1;
            }
        }
    }
    Ok(taken)
}

/// Sends this node's states of `keys` to the peer; how many.
async fn push(repl: &Replication, addr: SocketAddr, keys: &[Bytes]) -> Result<usize, String> {
    let mut sent = 0;
    for chunk in keys.chunks(BATCH) {
        let now = crate::now_ms();
        let items: Vec<Item> = chunk
            .iter()
            .map(|k| versions::read(&repl.versions, repl.db(), k, now))
            .collect();
        match repl.link.call(addr, Message::Replicate { items }).await {
            Ok(Message::Done) => sent += chunk.len(),
            other => return Err(format!("replicate: {other:?}")),
        }
    }
    Ok(sent)
}
