//! Versions of replicated keys: a hybrid logical clock (HLC).
//!
//! A [`Version`] is 48 bits of wall-clock milliseconds and a 16-bit
//! counter packed in one `u64`, with a hash of the writing node's id as
//! the tiebreak, so versions are totally ordered and replicas agree on
//! the last writer (last-writer-wins, docs/CLUSTER.md). [`Hlc`] hands out
//! versions that only grow on this node and that are above every version
//! this node has seen from others ([`Hlc::observe`]), so a write made
//! after reading a value always wins over that value even when the
//! writer's wall clock is behind. Pure: the wall clock is an argument.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A write's version: (HLC timestamp, node); larger is newer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version(pub u64, pub u32);

impl Version {
    /// The version older than every write (nothing known).
    pub const ZERO: Version = Version(0, 0);

    /// The wall-clock milliseconds of the timestamp.
    pub fn millis(self) -> u64 {
        self.0 >> 16
    }
}

/// The node tiebreak: FNV-1a of the node id, folded to 32 bits.
pub fn node_tag(node_id: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in node_id.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

/// This node's clock.
#[derive(Debug)]
pub struct Hlc {
    last: AtomicU64,
    node: u32,
}

impl Hlc {
    /// A clock for the node whose tiebreak is `node` ([`node_tag`]).
    pub fn new(node: u32) -> Hlc {
        Hlc {
            last: AtomicU64::new(0),
            node,
        }
    }

    /// A new version, at `wall_ms`: above every version handed out or
    /// observed before. The counter counts writes within one millisecond
    /// (past 65,535 it carries into the millisecond).
    pub fn now(&self, wall_ms: u64) -> Version {
        let physical = (wall_ms & ((1 << 48) - 1)) << 16;
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = physical.max(last + 1);
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Version(next, self.node),
                Err(seen) => last = seen,
            }
        }
    }

    /// Takes note of a version seen from another node: later versions
    /// from this clock are above it.
    pub fn observe(&self, seen: Version) {
        self.last.fetch_max(seen.0, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_grow_within_a_millisecond_and_across_clock_steps_back() {
        let clock = Hlc::new(7);
        let a = clock.now(1_000);
        let b = clock.now(1_000);
        assert!(b > a);
        assert_eq!((a.millis(), b.0 - a.0), (1_000, 1));
        // The wall clock steps back: versions still grow.
        let c = clock.now(900);
        assert!(c > b);
        // It moves on: the physical part takes over again.
        let d = clock.now(2_000);
        assert_eq!(d, Version(2_000 << 16, 7));
    }

    #[test]
    fn a_write_after_seeing_a_newer_version_wins_over_it() {
        let (behind, ahead) = (Hlc::new(1), Hlc::new(2));
        let theirs = ahead.now(50_000);
        behind.observe(theirs);
        let mine = behind.now(10_000);
        assert!(mine > theirs);
        assert_eq!(mine.millis(), 50_000);
    }

    #[test]
    fn the_node_breaks_ties_and_versions_are_totally_ordered() {
        let (a, b) = (
            Version(5 << 16, node_tag("a")),
            Version(5 << 16, node_tag("b")),
        );
        assert_ne!(a, b);
        assert_eq!(a.cmp(&b), (a.1).cmp(&b.1));
        assert!(Version::ZERO < a.min(b));
        assert_ne!(node_tag("a"), node_tag("b"));
    }

    #[test]
    fn the_counter_carries_into_the_millisecond() {
        let clock = Hlc::new(0);
        let mut last = clock.now(1);
        for _ in 0..70_000 {
            let next = clock.now(1);
            assert!(next > last);
            last = next;
        }
        assert_eq!(last.millis(), 2);
    }
}
