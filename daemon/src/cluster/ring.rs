//! Placement of the 16,384 hash slots on the live nodes: a pure function
//! of the set of node ids, so every node that sees the same members
//! computes the same owners. No I/O, no clock, no randomness.
//!
//! The shape is consistent hashing with virtual nodes and bounded loads
//! (Mirrokni, Thorup, Zadimoghaddam 2018):
//!
//! - each node puts [`VNODES`] points on a 64-bit ring, at a stable hash
//!   of its id and the point's number;
//! - slot `s` sits at the fixed, evenly spaced position `s · 2⁶⁴/16384`;
//! - slots are taken in order, each by the first node clockwise from its
//!   position that holds fewer than the capacity
//!   `⌈(1 + ε) · 16384 / nodes⌉` slots ([`LOAD_SLACK`] is ε).
//!
//! Random points alone cannot keep the most loaded of 100 nodes within
//! 1.10× the mean (the arcs' lengths vary by about 1/√vnodes); the
//! capacity bound makes that a guarantee, and the movement test shows
//! that adding a node still moves about 1/(N+1) of the slots, nearly all
//! of them to the new node (docs/BENCHMARKS.md, "Cluster placement").

use super::slots::SLOTS;

/// Ring points per node.
pub const VNODES: u32 = 512;

/// How far above the mean a node's share may go (ε of bounded loads).
pub const LOAD_SLACK: f64 = 0.08;

/// Which node owns each slot, for one set of members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The member ids, sorted; owners index into this.
    pub nodes: Vec<String>,
    /// For each slot, the index in `nodes` of its owner (empty when there
    /// are no nodes).
    pub owners: Vec<u16>,
    /// Every node's ring points (position, index in `nodes`), sorted: the
    /// replicas after the owner are the next distinct nodes clockwise.
    ring: Vec<(u64, u16)>,
}

impl Placement {
    /// Places the slots on `nodes` (duplicates count once; order does not
    /// matter).
    pub fn new<S: AsRef<str>>(nodes: &[S]) -> Placement {
        let mut ids: Vec<String> = nodes.iter().map(|n| n.as_ref().to_owned()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Placement {
                nodes: ids,
                owners: Vec::new(),
                ring: Vec::new(),
            };
        }
        let ring = ring_points(&ids);
        let capacity = ((1.0 + LOAD_SLACK) * f64::from(SLOTS) / ids.len() as f64).ceil() as usize;
        let mut load = vec![0usize; ids.len()];
        let mut owners = Vec::with_capacity(usize::from(SLOTS));
        for slot in 0..SLOTS {
            let mut i = successor(&ring, slot_position(slot));
            // Some node has room: capacity × nodes ≥ SLOTS.
            while load[usize::from(ring[i].1)] >= capacity {
                i = (i + 1) % ring.len();
            }
            let owner = ring[i].1;
            load[usize::from(owner)] += 1;
            owners.push(owner);
        }
        Placement {
            nodes: ids,
            owners,
            ring,
        }
    }

    /// The `n` nodes that keep `slot` (fewer when there are fewer nodes):
    /// the owner first, then the next distinct nodes clockwise from the
    /// ring point where the owner was found. A node joining or leaving
    /// changes a slot's list only where it enters or leaves it (and where
    /// the owner's bounded-load walk moves), so replicas keep their data.
    pub fn replicas(&self, slot: u16, n: usize) -> Vec<&str> {
        let Some(&owner) = self.owners.get(usize::from(slot)) else {
            return Vec::new();
        };
        let want = n.min(self.nodes.len());
        let mut out: Vec<u16> = Vec::with_capacity(want);
        // The owner's point is the first of its points at or after the
        // slot's position: the bounded-load walk stopped at it.
        let mut i = successor(&self.ring, slot_position(slot));
        while self.ring[i].1 != owner {
            i = (i + 1) % self.ring.len();
        }
        out.push(owner);
        let mut steps = 0;
        while out.len() < want && steps < self.ring.len() {
            i = (i + 1) % self.ring.len();
            steps += 1;
            let node = self.ring[i].1;
            if !out.contains(&node) {
                out.push(node);
            }
        }
        out.into_iter()
            .map(|i| self.nodes[usize::from(i)].as_str())
            .collect()
    }

    /// The id of the node that owns `slot`, if there are nodes.
    pub fn owner(&self, slot: u16) -> Option<&str> {
        let i = *self.owners.get(usize::from(slot))?;
        Some(self.nodes[usize::from(i)].as_str())
    }

    /// How many slots each node owns, in `nodes` order.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.nodes.len()];
        for &o in &self.owners {
            counts[usize::from(o)] += 1;
        }
        counts
    }

    /// The slots `node` owns as inclusive ranges, in order (for CLUSTER
    /// SLOTS and NODES).
    pub fn ranges_of(&self, node: &str) -> Vec<(u16, u16)> {
        let Some(idx) = self.nodes.iter().position(|n| n == node) else {
            return Vec::new();
        };
        let idx = idx as u16;
        let mut out: Vec<(u16, u16)> = Vec::new();
        for (slot, &o) in self.owners.iter().enumerate() {
            if o != idx {
                continue;
            }
            let slot = slot as u16;
            match out.last_mut() {
                Some((_, end)) if *end + 1 == slot => *end = slot,
                _ => out.push((slot, slot)),
            }
        }
        out
    }
}

/// Slot `s`'s fixed position on the ring: evenly spaced.
fn slot_position(slot: u16) -> u64 {
    u64::from(slot) << (64 - 14)
}

/// Every node's points, sorted by position (ties broken by node index, so
/// the order is total).
fn ring_points(ids: &[String]) -> Vec<(u64, u16)> {
    let mut ring = Vec::with_capacity(ids.len() * VNODES as usize);
    for (i, id) in ids.iter().enumerate() {
        let base = fnv1a(id.as_bytes());
        for v in 0..VNODES {
            ring.push((mix(base ^ mix(u64::from(v) + 1)), i as u16));
        }
    }
    ring.sort_unstable();
    ring
}

/// The index of the first point at or after `pos`, wrapping.
fn successor(ring: &[(u64, u16)], pos: u64) -> usize {
    let i = ring.partition_point(|&(p, _)| p < pos);
    if i == ring.len() { 0 } else { i }
}

/// FNV-1a, 64 bits: stable across builds and platforms (unlike std's
/// hasher, which may change).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's finalizer: spreads FNV's weak low bits over the word.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("node-{i}")).collect()
    }

    /// Most loaded node's share over the mean.
    fn peak(p: &Placement) -> f64 {
        let counts = p.counts();
        let mean = f64::from(SLOTS) / counts.len() as f64;
        *counts.iter().max().unwrap() as f64 / mean
    }

    /// (moved fraction, fraction moved between old nodes) when `added`
    /// joins `before`'s members.
    fn movement(before: &Placement, after: &Placement, added: &str) -> (f64, f64) {
        let (mut moved, mut elsewhere) = (0, 0);
        for slot in 0..SLOTS {
            let (a, b) = (before.owner(slot), after.owner(slot));
            if a != b {
                moved += 1;
                if b != Some(added) {
                    elsewhere += 1;
                }
            }
        }
        (
            f64::from(moved) / f64::from(SLOTS),
            f64::from(elsewhere) / f64::from(SLOTS),
        )
    }

    #[test]
    fn every_slot_has_an_owner_and_order_does_not_matter() {
        let a = Placement::new(&["b", "a", "c", "a"]);
        let b = Placement::new(&["c", "b", "a"]);
        assert_eq!(a, b);
        assert_eq!(a.nodes, ["a", "b", "c"]);
        assert_eq!(a.owners.len(), usize::from(SLOTS));
        let ranges: usize = a
            .nodes
            .iter()
            .flat_map(|n| a.ranges_of(n))
            .map(|(s, e)| usize::from(e - s) + 1)
            .sum();
        assert_eq!(ranges, usize::from(SLOTS));
        assert!(Placement::new::<&str>(&[]).owner(0).is_none());
        assert_eq!(
            Placement::new(&["solo"]).ranges_of("solo"),
            [(0, SLOTS - 1)]
        );
    }

    #[test]
    fn the_most_loaded_node_holds_at_most_1_10_times_the_mean() {
        for n in [3, 10, 100] {
            let p = Placement::new(&ids(n));
            assert!(peak(&p) <= 1.10, "{n} nodes: peak {:.3}", peak(&p));
        }
    }

    #[test]
    fn adding_a_node_moves_about_its_share_and_little_else() {
        for n in [3, 10, 100] {
            let before = Placement::new(&ids(n));
            let mut grown = ids(n);
            grown.push("newcomer".into());
            let after = Placement::new(&grown);
            let (moved, elsewhere) = movement(&before, &after, "newcomer");
            let ideal = 1.0 / (n as f64 + 1.0);
            assert!(
                moved <= ideal * 1.25 && moved >= ideal * 0.8,
                "{n} nodes: moved {moved:.4}, ideal {ideal:.4}"
            );
            assert!(
                elsewhere <= ideal * 0.1,
                "{n} nodes: {elsewhere:.4} moved between old nodes"
            );
        }
    }

    #[test]
    fn every_slot_gets_min_n_nodes_distinct_replicas_owner_first() {
        for nodes in [1, 2, 3, 5, 10] {
            let p = Placement::new(&ids(nodes));
            for slot in (0..SLOTS).step_by(7) {
                for n in [1, 2, 3, 4] {
                    let r = p.replicas(slot, n);
                    assert_eq!(r.len(), n.min(nodes), "{nodes} nodes, n {n}");
                    assert_eq!(Some(r[0]), p.owner(slot));
                    let mut distinct = r.clone();
                    distinct.sort_unstable();
                    distinct.dedup();
                    assert_eq!(distinct.len(), r.len());
                    // A longer list extends a shorter one.
                    assert_eq!(r[..r.len().min(2)], p.replicas(slot, 2)[..r.len().min(2)]);
                }
            }
        }
        assert!(Placement::new::<&str>(&[]).replicas(0, 3).is_empty());
    }

    /// Replica lists change little when a node joins or dies: for each
    /// slot, the survivors keep their relative order, and at most a small
    /// share of slots gets a replica that was not in its list before
    /// (beyond the one replacing the dead node).
    #[test]
    fn replica_sets_change_minimally_when_a_node_joins_or_dies() {
        for nodes in [3, 5, 10] {
            let all = ids(nodes);
            let before = Placement::new(&all);
            let dead = all[1].clone();
            let survivors: Vec<String> = all.iter().filter(|n| **n != dead).cloned().collect();
            let after = Placement::new(&survivors);
            let (mut changed, mut extra) = (0, 0);
            for slot in 0..SLOTS {
                let old = before.replicas(slot, 3);
                let new = after.replicas(slot, 3);
                let kept: Vec<&str> = old.iter().copied().filter(|n| *n != dead).collect();
                let new_kept: Vec<&str> =
                    new.iter().copied().filter(|n| kept.contains(n)).collect();
                if !old.contains(&dead.as_str()) {
                    // A slot the dead node did not keep: same list, or
                    // (rarely) the owner's bounded-load walk moved.
                    if old != new {
                        changed += 1;
                    }
                } else if new_kept != kept {
                    changed += 1;
                }
                // New members beyond the one replacing the dead node.
                let newcomers = new.iter().filter(|n| !old.contains(n)).count();
                let allowed = usize::from(old.contains(&dead.as_str()));
                extra += newcomers.saturating_sub(allowed);
            }
            let share = f64::from(changed) / f64::from(SLOTS);
            assert!(
                share < 0.05,
                "{nodes} nodes: {share:.4} of lists reshuffled"
            );
            let extra = extra as f64 / f64::from(SLOTS);
            assert!(
                extra < 0.05,
                "{nodes} nodes: {extra:.4} extra newcomers per slot"
            );
            // A death: where the dead node was the owner, the next
            // replica takes over (it already holds the data).
            let mut promoted = 0;
            let mut orphaned = 0;
            for slot in 0..SLOTS {
                let old = before.replicas(slot, 3);
                if old[0] == dead {
                    orphaned += 1;
                    if after.owner(slot) == Some(old[1]) {
                        promoted += 1;
                    }
                }
            }
            assert!(
                f64::from(promoted) >= 0.9 * f64::from(orphaned),
                "{nodes} nodes: {promoted} of {orphaned} orphaned slots went to their second replica"
            );
            // A join: the newcomer enters some lists, the others keep
            // their order.
            let mut grown = all.clone();
            grown.push("newcomer".into());
            let joined = Placement::new(&grown);
            let mut reshuffled = 0;
            for slot in 0..SLOTS {
                let old = before.replicas(slot, 3);
                let new = joined.replicas(slot, 3);
                let old_kept: Vec<&str> = old.iter().copied().filter(|n| new.contains(n)).collect();
                let new_old: Vec<&str> = new.iter().copied().filter(|n| *n != "newcomer").collect();
                if old_kept != new_old {
                    reshuffled += 1;
                }
            }
            let share = f64::from(reshuffled) / f64::from(SLOTS);
            assert!(
                share < 0.05,
                "{nodes} nodes + 1: {share:.4} of lists reshuffled"
            );
        }
    }

    /// The figures in docs/BENCHMARKS.md ("Cluster placement"):
    /// `cargo test -p agora-daemon cluster::ring::tests::placement_table -- --nocapture`.
    #[test]
    fn placement_table() {
        println!("nodes  peak/mean  min/mean  moved(+1)  ideal   to-old-nodes  ms");
        for n in [3, 10, 100] {
            let start = std::time::Instant::now();
            let before = Placement::new(&ids(n));
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let counts = before.counts();
            let mean = f64::from(SLOTS) / n as f64;
            let min = *counts.iter().min().unwrap() as f64 / mean;
            let mut grown = ids(n);
            grown.push("newcomer".into());
            let after = Placement::new(&grown);
            let (moved, elsewhere) = movement(&before, &after, "newcomer");
            println!(
                "{n:>5}  {:>9.3}  {min:>8.3}  {moved:>9.4}  {:.4}  {elsewhere:>12.4}  {ms:.1}",
                peak(&before),
                1.0 / (n as f64 + 1.0)
            );
        }
    }
}
