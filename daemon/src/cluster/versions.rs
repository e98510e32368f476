//! The versions of replicated keys, kept beside the keyspace (only on a
//! cluster node that replicates: a single node's entries carry nothing
//! more), and the last-writer-wins rules that use them.
//!
//! - [`Versions`]: key → [`Stamp`] (its version, since when it is gone,
//!   and whether it is settled), in locked shards;
//! - [`capture`]: a key's state after a command ran here, with a new
//!   version (the primary's side);
//! - [`apply`]: a replicated state, taken only when newer (a replica's
//!   side; also read repair and hinted handoff);
//! - [`read`]: a key's state and version, for a quorum read;
//! - [`Versions::sweep`]: forgets tombstones older than
//!   [`TOMBSTONE_KEEP_MS`].
//!
//! A deleted or expired key keeps its stamp as a *tombstone*: a stale
//! replica's older state is then refused, so a deleted key does not come
//! back. Locks are always taken stamp shard first, then the keyspace
//! shard, so [`capture`] orders versions as the states they carry.

use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::hlc::{Hlc, Version};
use super::slots::key_slot;
use super::stamps::Shard;
pub use super::stamps::{SlotStamps, Stamp, entry_hash};
use crate::cache::persist;
use crate::cache::store::{Db, Entry};

/// How long a tombstone (the stamp of a deleted or expired key) is kept:
/// a replica away for longer than this may bring a deleted key back
/// (docs/CLUSTER.md).
pub const TOMBSTONE_KEEP_MS: u64 = 10 * 60 * 1000;

const SHARDS: usize = 64;

/// A key's state as replicas exchange it: absent is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The key.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The version of this state.
    pub version: Version,
    /// The value (DUMP's encoding) and its absolute expiry (ms, 0 =
    /// none); `None` when the key does not exist.
    pub state: Option<State>,
}

/// A key's value and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The DUMP payload: every type, checksummed.
    #[serde(with = "serde_bytes")]
    pub dump: Vec<u8>,
    /// Absolute expiry in ms since the epoch; 0 = none.
    pub expire_at: u64,
}

impl Item {
    /// Bytes this item takes in memory (for the hint bounds).
    pub fn size(&self) -> usize {
        self.key.len() + self.state.as_ref().map_or(0, |s| s.dump.len()) + 32
    }

    /// Which of two states of one key wins: the newer version; at equal
    /// versions the present one (a replica that evicted the key).
    pub fn newer_than(&self, other: &Item) -> bool {
        (self.version, self.state.is_some()) > (other.version, other.state.is_some())
    }
}

/// The stamps of every replicated key (database 0: a cluster has no
/// other), in locked shards of slots.
pub struct Versions {
    shards: Box<[Mutex<Shard>]>,
}

impl Default for Versions {
    fn default() -> Versions {
        Versions {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }
}

impl Versions {
    /// The lock holding `slot`'s stamps.
    pub fn lock_slot(&self, slot: u16) -> MutexGuard<'_, Shard> {
        self.shards[usize::from(slot) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        self.lock_slot(key_slot(key))
    }

    /// The stamp of `key`, if any.
    pub fn get(&self, key: &[u8]) -> Option<Stamp> {
        self.shard(key).get(key).copied()
    }

    /// The digest of `slot` (0 when it holds no present key).
    pub fn digest(&self, slot: u16) -> u64 {
        self.lock_slot(slot)
            .slot(slot)
            .map_or(0, SlotStamps::digest)
    }

    /// Every stamped key of `slots` (tombstones included): key, version,
    /// present.
    pub fn list(&self, slots: impl IntoIterator<Item = u16>) -> Vec<(Bytes, Version, bool)> {
        let mut out = Vec::new();
        for slot in slots {
            let shard = self.lock_slot(slot);
            if let Some(stamps) = shard.slot(slot) {
                out.extend(stamps.entries().map(|(k, v, p)| (k.clone(), v, p)));
            }
        }
        out
    }

    /// The slots that hold stamps (keys or tombstones).
    pub fn slots(&self) -> Vec<u16> {
        let mut out: Vec<u16> = self
            .shards
            .iter()
            .flat_map(|s| {
                let shard = s.lock().unwrap_or_else(|e| e.into_inner());
                shard.slots.keys().copied().collect::<Vec<_>>()
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// Forgets `slot`: its keys leave `db` and their stamps go (the slot
    /// was handed to its replicas); how many keys were dropped.
    pub fn drop_slot(&self, slot: u16, db: &Db) -> usize {
        let mut shard = self.lock_slot(slot);
        let Some(stamps) = shard.slots.remove(&slot) else {
            return 0;
        };
        let now = crate::now_ms();
        stamps
            .stamps
            .keys()
            .filter(|key| db.lock_key(key).remove(key, now).is_some())
            .count()
    }

    /// Whether every key is settled in `epoch`.
    pub fn settled(&self, keys: &[&Bytes], epoch: u64) -> bool {
        keys.iter()
            .all(|k| self.get(k).is_some_and(|s| s.settled == epoch))
    }

    /// Marks the keys that have a stamp as settled in `epoch` (after a
    /// quorum read found their newest state). A key nobody has stays
    /// unsettled: a stamp per missing key read would grow without bound.
    pub fn settle(&self, keys: &[&Bytes], epoch: u64) {
        for k in keys {
            let mut shard = self.shard(k);
            if let Some(&s) = shard.get(k) {
                shard.set(
                    k,
                    Stamp {
                        settled: epoch,
                        ..s
                    },
                );
            }
        }
    }

    /// How many stamps (keys and tombstones) are kept.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let shard = s.lock().unwrap_or_else(|e| e.into_inner());
                shard.slots.values().map(|s| s.stamps.len()).sum::<usize>()
            })
            .sum()
    }

    /// Whether no stamp is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stamps every key of `db` that has none with [`Version::ZERO`]
    /// (keys loaded from a snapshot): any replicated state wins over
    /// them, and anti-entropy sees them. How many were stamped.
    pub fn adopt(&self, db: &Db, now_ms: u64) -> usize {
        let mut keys = Vec::new();
        for i in 0..crate::cache::store::SHARDS {
            let shard = db.lock(i);
            keys.extend(
                shard
                    .iter()
                    .filter(|(_, e)| !e.is_expired(now_ms))
                    .map(|(k, _)| Bytes::copy_from_slice(k)),
            );
        }
        let mut adopted = 0;
        for key in keys {
            let mut shard = self.shard(&key);
            if shard.get(&key).is_none() {
                shard.set(
                    &key,
                    Stamp {
                        version: Version::ZERO,
                        gone_since: 0,
                        settled: 0,
                    },
                );
                adopted += 1;
            }
        }
        adopted
    }

    /// Notes keys found gone, and forgets tombstones older than
    /// `keep_ms`; how many were forgotten.
    pub fn sweep(&self, db: &Db, now_ms: u64, keep_ms: u64) -> usize {
        let mut forgotten = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            for stamps in shard.slots.values_mut() {
                stamps.retain(|key, stamp| {
                    let exists = db.lock_key(key).peek(key, now_ms).is_some();
                    if exists {
                        stamp.gone_since = 0;
                        return true;
                    }
                    if stamp.gone_since == 0 {
                        stamp.gone_since = now_ms;
                    }
                    let keep = now_ms.saturating_sub(stamp.gone_since) < keep_ms;
                    forgotten += usize::from(!keep);
                    keep
                });
            }
            shard.slots.retain(|_, s| !s.stamps.is_empty());
        }
        forgotten
    }
}

/// The state of `key` in `db` now, as an item of `version`.
fn state_of(db: &Db, key: &[u8], now_ms: u64) -> Option<State> {
    let mut shard = db.lock_key(key);
    shard.peek(key, now_ms).map(|e| State {
        dump: persist::dump(&e.value),
        expire_at: e.expire_at,
    })
}

/// After a command changed `key` here: its state with a new version,
/// recorded as this node's stamp (settled in `epoch`: this node wrote
/// it).
pub fn capture(
    versions: &Versions,
    db: &Db,
    clock: &Hlc,
    key: &Bytes,
    now_ms: u64,
    epoch: u64,
) -> Item {
    let mut stamps = versions.shard(key);
    let state = state_of(db, key, now_ms);
    let version = clock.now(now_ms);
    let gone_since = if state.is_some() { 0 } else { now_ms };
    stamps.set(
        key,
        Stamp {
            version,
            gone_since,
            settled: epoch,
        },
    );
    Item {
        key: key.to_vec(),
        version,
        state,
    }
}

/// This node's state of `key` and its version ([`Version::ZERO`] for a
/// key with no stamp, e.g. loaded from a snapshot).
pub fn read(versions: &Versions, db: &Db, key: &[u8], now_ms: u64) -> Item {
    let stamps = versions.shard(key);
    let version = stamps.get(key).map_or(Version::ZERO, |s| s.version);
    let state = state_of(db, key, now_ms);
    drop(stamps);
    Item {
        key: key.to_vec(),
        version,
        state,
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The item was newer: it is this node's state now.
    Taken,
    /// This node already had that version or a newer one.
    Stale,
    /// The payload did not decode: nothing changed.
    Corrupt,
}

/// Takes `item` if it is newer than this node's state of its key
/// (last-writer-wins); a tombstone deletes the key.
pub fn apply(versions: &Versions, db: &Db, clock: &Hlc, item: &Item, now_ms: u64) -> Applied {
    clock.observe(item.version);
    let mut stamps = versions.shard(&item.key);
    let mine = stamps.get(&item.key).copied();
    if let Some(stamp) = mine {
        let present = stamp.gone_since == 0;
        if (item.version, item.state.is_some()) <= (stamp.version, present) {
            return Applied::Stale;
        }
    }
    let value = match &item.state {
        Some(state) => match persist::undump(&state.dump) {
            Some(v) => Some((v, state.expire_at)),
            None => return Applied::Corrupt,
        },
        None => None,
    };
    let mut shard = db.lock_key(&item.key);
    let gone = match value {
        Some((value, expire_at)) if expire_at == 0 || expire_at > now_ms => {
            shard.insert(&item.key, Entry::with_expiry(value, expire_at), now_ms);
            false
        }
        _ => {
            shard.remove(&item.key, now_ms);
            true
        }
    };
    drop(shard);
    stamps.set(
        &item.key,
        Stamp {
            version: item.version,
            gone_since: if gone { now_ms.max(1) } else { 0 },
            settled: mine.map_or(0, |s| s.settled),
        },
    );
    Applied::Taken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::store::{Policy, Store, Value};

    fn store() -> Store {
        Store::new(0, Policy::NoEviction)
    }

    fn set(db: &Db, key: &str, value: &str) {
        db.lock_key(key.as_bytes()).insert(
            key.as_bytes(),
            Entry::new(Value::Str(value.as_bytes().to_vec().into())),
            1,
        );
    }

    fn get(db: &Db, key: &str) -> Option<Vec<u8>> {
        let mut shard = db.lock_key(key.as_bytes());
        shard.peek(key.as_bytes(), 1).map(|e| match &e.value {
            Value::Str(s) => s.to_vec(),
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn the_last_writer_wins_whatever_the_arrival_order() {
        let (primary, replica) = (store(), store());
        let (pv, rv) = (Versions::default(), Versions::default());
        let (clock, replica_clock) = (Hlc::new(1), Hlc::new(2));
        let key = Bytes::from_static(b"k");
        set(primary.db(0), "k", "old");
        let old = capture(&pv, primary.db(0), &clock, &key, 1_000, 0);
        set(primary.db(0), "k", "new");
        let new = capture(&pv, primary.db(0), &clock, &key, 1_000, 0);
        assert!(new.newer_than(&old));
        // The newer state arrives first; the older one is then refused.
        let r = replica.db(0);
        assert_eq!(apply(&rv, r, &replica_clock, &new, 1_000), Applied::Taken);
        assert_eq!(apply(&rv, r, &replica_clock, &old, 1_000), Applied::Stale);
        assert_eq!(get(r, "k").as_deref(), Some(&b"new"[..]));
        // The same state again is no change.
        assert_eq!(apply(&rv, r, &replica_clock, &new, 1_000), Applied::Stale);
        assert_eq!(read(&rv, r, b"k", 1_000), new);
        // A replica's own next write is above what it saw.
        assert!(replica_clock.now(5) > new.version);
    }

    #[test]
    fn a_tombstone_keeps_a_stale_value_from_coming_back_until_swept() {
        let (primary, replica) = (store(), store());
        let (pv, rv) = (Versions::default(), Versions::default());
        let clock = Hlc::new(1);
        let key = Bytes::from_static(b"k");
        set(primary.db(0), "k", "v");
        let written = capture(&pv, primary.db(0), &clock, &key, 1_000, 0);
        primary.db(0).lock_key(b"k").remove(b"k", 1_000);
        let deleted = capture(&pv, primary.db(0), &clock, &key, 1_001, 0);
        assert_eq!(deleted.state, None);
        let r = replica.db(0);
        assert_eq!(apply(&rv, r, &clock, &written, 1_000), Applied::Taken);
        assert_eq!(apply(&rv, r, &clock, &deleted, 1_001), Applied::Taken);
        assert_eq!(get(r, "k"), None);
        // The stale write (a replica that missed the delete) is refused.
        assert_eq!(apply(&rv, r, &clock, &written, 1_002), Applied::Stale);
        assert_eq!(get(r, "k"), None);
        // The tombstone is kept for its time, then forgotten.
        assert_eq!(rv.sweep(r, 2_000, 10_000), 0);
        assert_eq!(rv.len(), 1);
        assert_eq!(rv.sweep(r, 1_001 + 10_000, 10_000), 1);
        assert!(rv.is_empty());
        // Past that, a stale replica could bring it back: documented.
        assert_eq!(apply(&rv, r, &clock, &written, 20_000), Applied::Taken);
    }

    #[test]
    fn an_expired_state_is_a_deletion_and_a_present_state_wins_a_tie() {
        let replica = store();
        let rv = Versions::default();
        let clock = Hlc::new(3);
        let value = persist::dump(&Value::Str(b"v".to_vec().into()));
        let expired = Item {
            key: b"k".to_vec(),
            version: Version(10 << 16, 1),
            state: Some(State {
                dump: value.clone(),
                expire_at: 500,
            }),
        };
        assert_eq!(
            apply(&rv, replica.db(0), &clock, &expired, 1_000),
            Applied::Taken
        );
        assert_eq!(get(replica.db(0), "k"), None);
        assert!(rv.get(b"k").is_some_and(|s| s.gone_since != 0));
        let live = Item {
            state: Some(State {
                dump: value,
                expire_at: 0,
            }),
            ..expired.clone()
        };
        assert!(live.newer_than(&Item {
            state: None,
            ..expired.clone()
        }));
        assert_eq!(
            apply(&rv, replica.db(0), &clock, &live, 1_000),
            Applied::Taken
        );
        assert_eq!(get(replica.db(0), "k").as_deref(), Some(&b"v"[..]));
        let corrupt = Item {
            version: Version(11 << 16, 1),
            state: Some(State {
                dump: b"nonsense".to_vec(),
                expire_at: 0,
            }),
            key: b"k".to_vec(),
        };
        assert_eq!(
            apply(&rv, replica.db(0), &clock, &corrupt, 1_000),
            Applied::Corrupt
        );
        assert_eq!(get(replica.db(0), "k").as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn settling_marks_only_keys_with_a_stamp() {
        let s = store();
        let v = Versions::default();
        let clock = Hlc::new(1);
        let (a, b) = (Bytes::from_static(b"a"), Bytes::from_static(b"b"));
        set(s.db(0), "a", "1");
        capture(&v, s.db(0), &clock, &a, 1, 4);
        assert!(v.settled(&[&a], 4));
        assert!(!v.settled(&[&a], 5));
        v.settle(&[&a, &b], 5);
        assert!(v.settled(&[&a], 5));
        assert!(!v.settled(&[&a, &b], 5));
        assert!(v.get(b"b").is_none());
    }

    #[test]
    fn slot_digests_follow_present_keys_and_agree_between_replicas() {
        let (primary, replica) = (store(), store());
        let (pv, rv) = (Versions::default(), Versions::default());
        let clock = Hlc::new(1);
        let (a, b) = (Bytes::from_static(b"{t}a"), Bytes::from_static(b"{t}b"));
        let slot = key_slot(b"{t}a");
        assert_eq!(pv.digest(slot), 0);
        set(primary.db(0), "{t}a", "1");
        set(primary.db(0), "{t}b", "2");
        let ia = capture(&pv, primary.db(0), &clock, &a, 1_000, 0);
        let ib = capture(&pv, primary.db(0), &clock, &b, 1_000, 0);
        assert_ne!(pv.digest(slot), 0);
        assert_eq!(
            pv.digest(slot),
            entry_hash(b"{t}a", ia.version) ^ entry_hash(b"{t}b", ib.version)
        );
        // The replica takes the same states in the other order: same digest.
        apply(&rv, replica.db(0), &clock, &ib, 1_000);
        assert_ne!(rv.digest(slot), pv.digest(slot));
        apply(&rv, replica.db(0), &clock, &ia, 1_000);
        assert_eq!(rv.digest(slot), pv.digest(slot));
        // A delete leaves a tombstone, which is no part of the digest.
        primary.db(0).lock_key(b"{t}a").remove(b"{t}a", 1_001);
        capture(&pv, primary.db(0), &clock, &a, 1_001, 0);
        assert_eq!(pv.digest(slot), entry_hash(b"{t}b", ib.version));
        // Settling changes no version, so no digest.
        pv.settle(&[&b], 9);
        assert_eq!(pv.digest(slot), entry_hash(b"{t}b", ib.version));
        // A key found expired by the sweep leaves the digest too.
        primary.db(0).lock_key(b"{t}b").remove(b"{t}b", 1_002);
        pv.sweep(primary.db(0), 1_002, 10_000);
        assert_eq!(pv.digest(slot), 0);
        assert_eq!(pv.len(), 2);
        pv.sweep(primary.db(0), 50_000, 10_000);
        assert!(pv.is_empty());
    }

    #[test]
    fn keys_from_a_snapshot_are_adopted_at_version_zero() {
        let s = store();
        let v = Versions::default();
        set(s.db(0), "a", "1");
        set(s.db(0), "b", "2");
        let clock = Hlc::new(1);
        let b = Bytes::from_static(b"b");
        let written = capture(&v, s.db(0), &clock, &b, 1, 0);
        assert_eq!(v.adopt(s.db(0), 1), 1);
        assert_eq!(v.get(b"a").map(|s| s.version), Some(Version::ZERO));
        assert_eq!(v.get(b"b").map(|s| s.version), Some(written.version));
        assert_eq!(v.digest(key_slot(b"a")), entry_hash(b"a", Version::ZERO));
        assert_eq!(v.adopt(s.db(0), 1), 0);
    }

    #[test]
    fn the_entry_hash_is_fixed() {
        // Every node must compute the same: no per-process seed (the value
        // is FNV-1a of 12 zero bytes through splitmix64, checked by hand).
        assert_eq!(
            entry_hash(b"k", Version(1, 2)),
            entry_hash(b"k", Version(1, 2))
        );
        assert_ne!(
            entry_hash(b"k", Version(1, 2)),
            entry_hash(b"k", Version(1, 3))
        );
        assert_ne!(
            entry_hash(b"k", Version(1, 2)),
            entry_hash(b"j", Version(1, 2))
        );
        assert_eq!(entry_hash(b"", Version::ZERO), 0xb81d_eccc_3941_dddc);
    }
}
