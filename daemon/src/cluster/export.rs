//! Handing keys over without versions: a node of a cluster that does not
//! replicate (`--replicas 1`) and shuts down cleanly sends every key it
//! holds to the slot's new owner ([`Message::Import`]), which restores it
//! unless it already holds that key — a key written there since the slot
//! moved is newer than the one handed over.
//!
//! [`export`] is the sending side (from [`super::Cluster::leave`]),
//! [`import`] the receiving one (the link's answers, `fanout.rs`). Without
//! versions a key deleted on the new owner after the slot moved, and
//! before the hand-over reached it, comes back; the hand-over starts a few
//! gossip rounds after the others see the node leaving, so that window is
//! a fraction of a second.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::Cluster;
use super::hlc::Version;
use super::link::{Link, Message};
use super::slots::key_slot;
use super::versions::{Item, State};
use crate::cache::persist;
use crate::cache::store::{Db, Entry, SHARDS};

/// Keys per `Import` frame.
pub const BATCH: usize = 512;

/// Sends every live key of `db` to the owner its slot has in the current
/// view (this node owns none while it leaves); how many keys the owners
/// took or already held. A shard is read under its lock, then sent
/// without it, so clients of other shards are not held up.
pub async fn export(cluster: &Cluster, link: &Link, db: &Db, now_ms: u64) -> usize {
    let mut pending: HashMap<SocketAddr, Vec<Item>> = HashMap::new();
    let mut sent = 0;
    for i in 0..SHARDS {
        let view = cluster.view();
        {
            let shard = db.lock(i);
            for (key, entry) in shard.iter() {
                if entry.is_expired(now_ms) {
                    continue;
                }
                let Some(owner) = view.owner(key_slot(key)) else {
                    continue;
                };
                if owner.myself {
                    continue;
                }
                pending.entry(owner.gossip).or_default().push(Item {
                    key: key.to_vec(),
                    version: Version::ZERO,
                    state: Some(State {
                        dump: persist::dump(&entry.value),
                        expire_at: entry.expire_at,
                    }),
                });
            }
        }
        for (addr, items) in &mut pending {
            while items.len() >= BATCH {
                let batch: Vec<Item> = items.drain(..BATCH).collect();
                sent += send(link, *addr, batch).await;
            }
        }
    }
    for (addr, items) in pending {
        if !items.is_empty() {
            sent += send(link, addr, items).await;
        }
    }
    sent
}

/// One `Import` frame; how many keys it carried when the owner took it.
async fn send(link: &Link, addr: SocketAddr, items: Vec<Item>) -> usize {
    let n = items.len();
    match link.call(addr, Message::Import { items }).await {
        Ok(Message::Done) => n,
        other => {
            tracing::warn!(node = %addr, keys = n, error = ?other.err(), "leaving the cluster: a slot's new owner did not take keys handed over; they leave with this node");
            0
        }
    }
}

/// Restores each handed-over key that `db` does not hold (absent or
/// expired here); how many were restored. A payload that does not decode
/// is skipped.
pub fn import(db: &Db, items: &[Item], now_ms: u64) -> usize {
    let mut taken = 0;
    for item in items {
        let Some(state) = &item.state else { continue };
        if state.expire_at != 0 && state.expire_at <= now_ms {
            continue;
        }
        let Some(value) = persist::undump(&state.dump) else {
            tracing::warn!("a key handed over by a leaving node did not decode; skipped");
            continue;
        };
        let mut shard = db.lock_key(&item.key);
        if shard.peek(&item.key, now_ms).is_none() {
            shard.insert(
                &item.key,
                Entry::with_expiry(value, state.expire_at),
                now_ms,
            );
            taken += 1;
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::store::{Policy, Store, Value};

    fn item(key: &str, value: &str, expire_at: u64) -> Item {
        Item {
            key: key.as_bytes().to_vec(),
            version: Version::ZERO,
            state: Some(State {
                dump: persist::dump(&Value::Str(value.as_bytes().to_vec().into())),
                expire_at,
            }),
        }
    }

    fn get(db: &Db, key: &str) -> Option<Vec<u8>> {
        let mut shard = db.lock_key(key.as_bytes());
        shard.peek(key.as_bytes(), 1_000).map(|e| match &e.value {
            Value::Str(s) => s.to_vec(),
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn handed_over_keys_fill_gaps_and_never_overwrite() {
        let store = Store::new(0, Policy::NoEviction);
        let db = store.db(0);
        db.lock_key(b"mine").insert(
            b"mine",
            Entry::new(Value::Str(b"newer".to_vec().into())),
            1_000,
        );
        let mut corrupt = item("bad", "x", 0);
        corrupt.state.as_mut().unwrap().dump[0] ^= 0xff;
        let items = [
            item("new", "v", 0),
            item("mine", "older", 0),
            item("ttl", "t", 5_000),
            item("gone", "g", 500),
            corrupt,
        ];
        assert_eq!(import(db, &items, 1_000), 2);
        assert_eq!(get(db, "new").as_deref(), Some(&b"v"[..]));
        assert_eq!(get(db, "mine").as_deref(), Some(&b"newer"[..]));
        assert_eq!(get(db, "ttl").as_deref(), Some(&b"t"[..]));
        assert_eq!(
            db.lock_key(b"ttl").peek(b"ttl", 1_000).unwrap().expire_at,
            5_000
        );
        assert_eq!(get(db, "gone"), None);
        assert_eq!(get(db, "bad"), None);
    }
}
