//! Anti-entropy's pure parts (the rounds are `entropy.rs`): slot
//! bitmaps, digests folded by ranges, the answers to `Digests` and
//! `ListKeys`, the plan that compares two listings, and the counters.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;
use serde_bytes::ByteBuf;

use super::hlc::Version;
use super::slots::SLOTS;
use super::versions::Versions;

/// Slots per range in the first step's digests.
pub const RANGE: usize = 64;

/// Anti-entropy's counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Comparisons with a peer that completed.
    pub rounds: AtomicU64,
    /// Slots whose digests differed.
    pub slots_differing: AtomicU64,
    /// Keys taken from peers (newer there).
    pub pulled: AtomicU64,
    /// Keys sent to peers (newer here).
    pub pushed: AtomicU64,
}

/// A bitmap of slots, as [`Message::Digests`] carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotSet(Vec<u8>);

impl SlotSet {
    /// No slot.
    pub fn empty() -> SlotSet {
        SlotSet(vec![0; usize::from(SLOTS) / 8])
    }

    /// The set a message carried; `None` when it has the wrong size.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<SlotSet> {
        (bytes.len() == usize::from(SLOTS) / 8).then_some(SlotSet(bytes))
    }

    /// The bitmap, as the message carries it.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.clone()
    }

    /// Adds `slot`.
    pub fn insert(&mut self, slot: u16) {
        self.0[usize::from(slot / 8)] |= 0x80 >> (slot % 8);
    }

    /// Takes `slot` out.
    pub fn remove(&mut self, slot: u16) {
        self.0[usize::from(slot / 8)] &= !(0x80 >> (slot % 8));
    }

    /// Whether `slot` is in.
    pub fn contains(&self, slot: u16) -> bool {
        self.0[usize::from(slot / 8)] & (0x80 >> (slot % 8)) != 0
    }

    /// Whether no slot is in.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// Every slot that is in, in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..SLOTS).filter(|&s| self.contains(s))
    }

    /// The slots in `range` that are in.
    pub fn in_range(&self, range: usize) -> impl Iterator<Item = u16> + '_ {
        let start = range * RANGE;
        (start..start + RANGE)
            .map(|s| s as u16)
            .filter(|&s| self.contains(s))
    }
}

/// Per range, the XOR of the digests of the slots of `set` in it.
pub fn ranges(versions: &Versions, set: &SlotSet) -> Vec<u64> {
    (0..usize::from(SLOTS) / RANGE)
        .map(|r| {
            set.in_range(r)
                .map(|s| versions.digest(s))
                .fold(0, |a, d| a ^ d)
        })
        .collect()
}

/// The answer to [`Message::Digests`]: this node's digest of every slot
/// of `set` in the ranges where `theirs` differs from this node's.
pub fn answer_digests(versions: &Versions, set: &SlotSet, theirs: &[u64]) -> Vec<(u16, u64)> {
    let mine = ranges(versions, set);
    let mut out = Vec::new();
    for (r, (m, t)) in mine.iter().zip(theirs).enumerate() {
        if m != t {
            out.extend(set.in_range(r).map(|s| (s, versions.digest(s))));
        }
    }
    out
}

/// The answer to [`Message::ListKeys`]: every stamped key of `slots`.
pub fn answer_list(versions: &Versions, slots: &[u16]) -> Vec<(ByteBuf, Version, bool)> {
    versions
        .list(slots.iter().copied().filter(|&s| s < SLOTS))
        .into_iter()
        .map(|(k, v, present)| (ByteBuf::from(k.to_vec()), v, present))
        .collect()
}

/// What to do about the keys of some slots, from both sides' listings.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Keys the peer holds newer: read them from it.
    pub pull: Vec<Bytes>,
    /// Keys whose newer state is a tombstone the peer holds: delete here.
    pub delete: Vec<(Bytes, Version)>,
    /// Keys this node holds newer: send them.
    pub push: Vec<Bytes>,
}

/// Compares this node's listing with the peer's (each: key → (version,
/// present)) under last-writer-wins; tombstones only delete an older
/// present value, never travel to a node without the key.
pub fn plan(
    mine: &HashMap<Bytes, (Version, bool)>,
    theirs: &HashMap<Bytes, (Version, bool)>,
) -> Plan {
    let mut plan = Plan::default();
    for (key, &(tv, tp)) in theirs {
        match mine.get(key) {
            None if tp => plan.pull.push(key.clone()),
            None => {}
            Some(&(mv, mp)) => {
                if (tv, tp) > (mv, mp) {
                    if tp {
                        plan.pull.push(key.clone());
                    } else if mp {
                        plan.delete.push((key.clone(), tv));
                    }
                } else if (mv, mp) > (tv, tp) && (mp || tp) {
                    plan.push.push(key.clone());
                }
            }
        }
    }
    for (key, &(_, mp)) in mine {
        if mp && !theirs.contains_key(key) {
            plan.push.push(key.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u64) -> Version {
        Version(n << 16, 1)
    }

    fn listing(entries: &[(&str, u64, bool)]) -> HashMap<Bytes, (Version, bool)> {
        entries
            .iter()
            .map(|&(k, n, p)| (Bytes::copy_from_slice(k.as_bytes()), (v(n), p)))
            .collect()
    }

    fn sorted(mut keys: Vec<Bytes>) -> Vec<Bytes> {
        keys.sort();
        keys
    }

    #[test]
    fn the_newer_side_wins_and_tombstones_only_delete() {
        let mine = listing(&[
            ("same", 5, true),
            ("newer-here", 7, true),
            ("older-here", 3, true),
            ("only-here", 1, true),
            ("gone-here-newer", 9, false),
            ("gone-here-only", 9, false),
            ("value-here-tombstone-there", 4, true),
        ]);
        let theirs = listing(&[
            ("same", 5, true),
            ("newer-here", 6, true),
            ("older-here", 4, true),
            ("only-there", 2, true),
            ("gone-here-newer", 8, true),
            ("tombstone-only-there", 9, false),
            ("value-here-tombstone-there", 6, false),
        ]);
        let plan = plan(&mine, &theirs);
        assert_eq!(
            sorted(plan.pull),
            vec![Bytes::from("older-here"), Bytes::from("only-there")]
        );
        assert_eq!(
            sorted(plan.push),
            vec![
                Bytes::from("gone-here-newer"),
                Bytes::from("newer-here"),
                Bytes::from("only-here")
            ]
        );
        assert_eq!(
            plan.delete,
            vec![(Bytes::from("value-here-tombstone-there"), v(6))]
        );
    }

    #[test]
    fn in_sync_listings_plan_nothing() {
        let both = listing(&[("a", 1, true), ("b", 2, false)]);
        assert_eq!(plan(&both, &both), Plan::default());
        // A tombstone one side forgot already is no difference.
        assert_eq!(plan(&listing(&[("a", 1, true)]), &both), Plan::default());
        assert_eq!(plan(&both, &listing(&[("a", 1, true)])), Plan::default());
    }

    #[test]
    fn slot_sets_and_range_digests() {
        let mut set = SlotSet::empty();
        assert!(set.is_empty());
        for s in [0, 7, 8, 63, 64, 16_383] {
            set.insert(s);
        }
        assert!(set.contains(7) && set.contains(16_383) && !set.contains(1));
        assert_eq!(set.in_range(0).collect::<Vec<_>>(), vec![0, 7, 8, 63]);
        assert_eq!(set.in_range(1).collect::<Vec<_>>(), vec![64]);
        assert!(SlotSet::from_bytes(vec![0; 3]).is_none());
        assert!(SlotSet::from_bytes(set.0.clone()) == Some(set.clone()));
        let versions = Versions::default();
        assert!(ranges(&versions, &set).iter().all(|&d| d == 0));
        assert!(answer_digests(&versions, &set, &ranges(&versions, &set)).is_empty());
        let mut theirs = ranges(&versions, &set);
        theirs[1] = 42;
        assert_eq!(answer_digests(&versions, &set, &theirs), vec![(64, 0)]);
    }
}
