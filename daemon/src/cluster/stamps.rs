//! A replicated key's stamp (version, tombstone time, settling epoch),
//! the stamps of one slot with the slot's digest, and the slots of one
//! lock; `versions.rs` keeps them and applies last-writer-wins.

use std::collections::HashMap;

use bytes::Bytes;

use super::hlc::Version;
use super::slots::key_slot;

/// A key's replication metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The version of the state this node holds.
    pub version: Version,
    /// When this node found the key gone (deleted, expired or evicted);
    /// 0 while it exists.
    pub gone_since: u64,
    /// The settling epoch ([`Versions::settle`]): a key settled in the
    /// current epoch needs no quorum read before a command runs on it.
    pub settled: u64,
}

/// The stamps of one slot, and its digest: the XOR of
/// [`entry_hash`] over its present keys (anti-entropy compares digests
/// before it compares keys: `entropy.rs`).
#[derive(Default)]
pub struct SlotStamps {
    pub(super) stamps: HashMap<Bytes, Stamp>,
    digest: u64,
}

/// A stamp's share of its slot's digest: present keys only, so
/// tombstones, which nodes forget at different times, never make two
/// replicas' digests differ.
fn share(key: &[u8], stamp: &Stamp) -> u64 {
    if stamp.gone_since == 0 {
        entry_hash(key, stamp.version)
    } else {
        0
    }
}

impl SlotStamps {
    /// The stamp of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Stamp> {
        self.stamps.get(key)
    }

    /// Sets the stamp of `key`.
    pub fn set(&mut self, key: &[u8], stamp: Stamp) {
        self.digest ^= share(key, &stamp);
        if let Some(old) = self.stamps.get_mut(key) {
            self.digest ^= share(key, old);
            *old = stamp;
        } else {
            self.stamps.insert(Bytes::copy_from_slice(key), stamp);
        }
    }

    /// Keeps the stamps `keep` says to keep (it may change them).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Bytes, &mut Stamp) -> bool) {
        let mut digest = self.digest;
        self.stamps.retain(|key, stamp| {
            digest ^= share(key, stamp);
            let kept = keep(key, stamp);
            if kept {
                digest ^= share(key, stamp);
            }
            kept
        });
        self.digest = digest;
    }

    /// This slot's digest.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// Every key's version, and whether the key is present.
    pub fn entries(&self) -> impl Iterator<Item = (&Bytes, Version, bool)> {
        self.stamps
            .iter()
            .map(|(k, s)| (k, s.version, s.gone_since == 0))
    }
}

/// The hash of one (key, version) in a slot's digest: FNV-1a 64 over the
/// key and the version's parts, finished by splitmix64's mixer. Fixed (no
/// random seed): every node must compute the same.
pub fn entry_hash(key: &[u8], version: Version) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let parts = version
        .0
        .to_le_bytes()
        .into_iter()
        .chain(version.1.to_le_bytes());
    for b in key.iter().copied().chain(parts) {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The slots of one lock: those equal to its index modulo the number of locks (`versions.rs`).
#[derive(Default)]
pub struct Shard {
    pub(super) slots: HashMap<u16, SlotStamps>,
}

impl Shard {
    /// The stamps of `slot` (empty when it has none).
    pub fn slot(&self, slot: u16) -> Option<&SlotStamps> {
        self.slots.get(&slot)
    }

    /// The stamps of `slot`, to change.
    pub fn slot_mut(&mut self, slot: u16) -> &mut SlotStamps {
        self.slots.entry(slot).or_default()
    }

    /// The stamp of `key`.
    pub(super) fn get(&self, key: &[u8]) -> Option<&Stamp> {
        self.slots.get(&key_slot(key))?.get(key)
    }

    /// Sets the stamp of `key`.
    pub(super) fn set(&mut self, key: &[u8], stamp: Stamp) {
        self.slot_mut(key_slot(key)).set(key, stamp);
    }
}
