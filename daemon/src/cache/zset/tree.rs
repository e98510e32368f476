//! The large sorted set: a hash map member → score for O(1) ZSCORE, and
//! an order-statistic treap keyed by (score, member) for O(log n) rank,
//! ranges by rank, score or lex, and insertion and removal.
//!
//! Why a treap rather than Redis's skip list or a crate: every node keeps
//! its subtree's size, so rank and "the k-th element" are one walk from
//! the root (expected depth ~2 ln n), and split/merge make insertion and
//! removal short and easy to check; nodes live in one arena `Vec` with
//! `u32` links (no per-node allocation besides the member), and a free
//! list reuses the slots of removed members. No maintained crate offered
//! an order-statistic ordered map with rank by key and a custom float
//! order.
//!
//! Order: score ascending, then member bytes ascending (Redis's order).
//! Scores are never NaN (the commands refuse NaN before they get here).

use std::cmp::Ordering;
use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::cmp;

const NIL: u32 = u32::MAX;

/// Bytes counted per member on top of twice its length (the map's key and
/// the node's copy): the node, the map's slot and allocation headers.
const MEMBER_OVERHEAD: usize = 96;

#[derive(Debug, Clone)]
struct Node {
    score: f64,
    member: Box<[u8]>,
    prio: u32,
    left: u32,
    right: u32,
    size: u32,
}

/// A sorted set as a treap.
#[derive(Debug, Clone)]
pub struct Tree {
    dict: HashMap<Box<[u8]>, f64, RandomState>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    rng: u32,
    bytes: usize,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree {
            dict: HashMap::default(),
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            rng: 0x9e37_79b9,
            bytes: 0,
        }
    }
}

impl PartialEq for Tree {
    fn eq(&self, other: &Tree) -> bool {
        self.len() == other.len()
            && self.dict.iter().all(|(m, s)| {
                other
                    .dict
                    .get(m)
                    .is_some_and(|o| o.to_bits() == s.to_bits())
            })
    }
}

impl Tree {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    /// Approximate bytes held.
    pub fn mem_size(&self) -> usize {
        self.bytes
    }

    /// A member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.dict.get(member).copied()
    }

    /// Sets a member's score, adding it if new. Returns the old score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        match self.dict.get(member).copied() {
            Some(previous) => {
                if previous.to_bits() != score.to_bits() {
                    self.dict.insert(member.into(), score);
                    self.tree_remove(previous, member);
                    self.tree_insert(score, member.into());
                }
                Some(previous)
            }
            None => {
                self.dict.insert(member.into(), score);
                self.tree_insert(score, member.into());
                self.bytes += 2 * member.len() + MEMBER_OVERHEAD;
                None
            }
        }
    }

    /// Removes a member; its score when it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.dict.remove(member)?;
        self.tree_remove(score, member);
        self.bytes -= 2 * member.len() + MEMBER_OVERHEAD;
        Some(score)
    }

    /// A member's 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.count_before(|n| cmp(n.score, &n.member, score, member) == Ordering::Less))
    }

    /// How many members have a score below `bound` (or at most `bound`
    /// when `inclusive`).
    pub fn count_score_below(&self, bound: f64, inclusive: bool) -> usize {
        self.count_before(|n| {
            if inclusive {
                n.score <= bound
            } else {
                n.score < bound
            }
        })
    }

    /// How many members sort before `bound` by bytes (or up to and
    /// including it when `inclusive`); meaningful when all scores are
    /// equal, as for Redis's lex commands.
    pub fn count_lex_below(&self, bound: &[u8], inclusive: bool) -> usize {
        self.count_before(|n| {
            if inclusive {
                &*n.member <= bound
            } else {
                &*n.member < bound
            }
        })
    }

    /// The member and score at 0-based rank `k`.
    pub fn at(&self, k: usize) -> Option<(&[u8], f64)> {
        let mut t = self.root;
        let mut k = k;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let ls = self.size(n.left);
            match k.cmp(&ls) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some((&n.member, n.score)),
                Ordering::Greater => {
                    k -= ls + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// Members and scores of ranks `start..=end` (ascending), clamped.
    pub fn range(&self, start: usize, end: usize) -> Vec<(&[u8], f64)> {
        let mut out = Vec::new();
        if start <= end && start < self.len() {
            self.walk(self.root, 0, start, end.min(self.len() - 1), &mut out);
        }
        out
    }

    /// Every member and score, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> {
        self.range(0, self.len().saturating_sub(1)).into_iter()
    }

    // ---- the treap ----

    fn size(&self, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size as usize
        }
    }

    fn update(&mut self, t: u32) {
        let (l, r) = {
            let n = &self.nodes[t as usize];
            (n.left, n.right)
        };
        let size = 1 + self.size(l) + self.size(r);
        self.nodes[t as usize].size = size as u32;
    }

    fn count_before(&self, before: impl Fn(&Node) -> bool) -> usize {
        let mut t = self.root;
        let mut acc = 0;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if before(n) {
                acc += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        acc
    }

    fn walk<'a>(
        &'a self,
        t: u32,
        base: usize,
        start: usize,
        end: usize,
        out: &mut Vec<(&'a [u8], f64)>,
    ) {
        if t == NIL {
            return;
        }
        let n = &self.nodes[t as usize];
        let idx = base + self.size(n.left);
        if start < idx {
            self.walk(n.left, base, start, end, out);
        }
        if start <= idx && idx <= end {
            out.push((&n.member, n.score));
        }
        if end > idx {
            self.walk(n.right, idx + 1, start, end, out);
        }
    }

    fn next_prio(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }

    fn alloc(&mut self, score: f64, member: Box<[u8]>) -> u32 {
        let node = Node {
            score,
            member,
            prio: self.next_prio(),
            left: NIL,
            right: NIL,
            size: 1,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let right = self.nodes[a as usize].right;
            let merged = self.merge(right, b);
            self.nodes[a as usize].right = merged;
            self.update(a);
            a
        } else {
            let left = self.nodes[b as usize].left;
            let merged = self.merge(a, left);
            self.nodes[b as usize].left = merged;
            self.update(b);
            b
        }
    }

    /// Splits `t` into (< key, >= key).
    fn split(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let n = &self.nodes[t as usize];
        if cmp(n.score, &n.member, score, member) == Ordering::Less {
            let right = n.right;
            let (l, r) = self.split(right, score, member);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        } else {
            let left = n.left;
            let (l, r) = self.split(left, score, member);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        }
    }

    /// Splits off the first (leftmost) node of `t`: (first, rest).
    fn split_first(&mut self, t: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let left = self.nodes[t as usize].left;
        if left == NIL {
            let right = self.nodes[t as usize].right;
            self.nodes[t as usize].right = NIL;
            self.update(t);
            return (t, right);
        }
        let (first, rest) = self.split_first(left);
        self.nodes[t as usize].left = rest;
        self.update(t);
        (first, t)
    }

    fn tree_insert(&mut self, score: f64, member: Box<[u8]>) {
        let (l, r) = self.split(self.root, score, &member);
        let node = self.alloc(score, member);
        let left = self.merge(l, node);
        self.root = self.merge(left, r);
    }

    fn tree_remove(&mut self, score: f64, member: &[u8]) {
        let (l, r) = self.split(self.root, score, member);
        let (first, rest) = self.split_first(r);
        if first != NIL {
            let n = &mut self.nodes[first as usize];
            debug_assert!(&*n.member == member);
            n.member = Box::default();
            n.left = NIL;
            n.right = NIL;
            self.free.push(first);
        }
        self.root = self.merge(l, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(z: &Tree) {
        // The treap's order and sizes agree with a sorted copy of the map.
        let mut expected: Vec<(Vec<u8>, f64)> =
            z.dict.iter().map(|(m, s)| (m.to_vec(), *s)).collect();
        expected.sort_by(|a, b| cmp(a.1, &a.0, b.1, &b.0));
        let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(got, expected);
        assert_eq!(z.size(z.root), z.len());
        for (i, (m, _)) in expected.iter().enumerate() {
            assert_eq!(z.rank(m), Some(i));
            assert_eq!(z.at(i).map(|(m, _)| m.to_vec()), Some(m.clone()));
        }
    }

    #[test]
    fn order_rank_and_ranges_follow_score_then_member() {
        let mut z = Tree::default();
        for (m, s) in [
            ("c", 1.0),
            ("a", 1.0),
            ("b", 0.5),
            ("d", f64::INFINITY),
            ("e", -2.0),
        ] {
            assert_eq!(z.insert(m.as_bytes(), s), None);
        }
        check(&z);
        let names: Vec<&[u8]> = z.iter().map(|(m, _)| m).collect();
        assert_eq!(names, [&b"e"[..], b"b", b"a", b"c", b"d"]);
        assert_eq!(z.count_score_below(1.0, false), 2);
        assert_eq!(z.count_score_below(1.0, true), 4);
        assert_eq!(z.range(1, 2).len(), 2);
        assert_eq!(z.range(3, 100).len(), 2);
        assert!(z.range(7, 9).is_empty());
        // Re-scoring moves the member.
        assert_eq!(z.insert(b"e", 3.0), Some(-2.0));
        check(&z);
        assert_eq!(z.rank(b"e"), Some(3));
        assert_eq!(z.remove(b"a"), Some(1.0));
        assert_eq!(z.remove(b"a"), None);
        check(&z);
    }

    #[test]
    fn many_inserts_and_removes_stay_consistent() {
        let mut z = Tree::default();
        let mut x: u64 = 7;
        for round in 0..4000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let member = format!("m{}", x % 500);
            if x.is_multiple_of(3) {
                z.remove(member.as_bytes());
            } else {
                z.insert(member.as_bytes(), (x % 50) as f64);
            }
            if round % 500 == 0 {
                check(&z);
            }
        }
        check(&z);
        // Removed slots are reused, not leaked.
        assert!(z.nodes.len() <= 500 + z.free.len());
        while let Some((m, _)) = z.at(0) {
            let m = m.to_vec();
            z.remove(&m);
        }
        assert_eq!(z.len(), 0);
        assert_eq!(z.mem_size(), 0);
    }
}
