//! The sorted set value, in one of two forms, as Redis keeps them:
//!
//! - [`packed::Packed`] for small sets (at most 128 members of at most 64
//!   bytes — Redis's `zset-max-listpack-*` defaults): one sorted block,
//!   linear scans. Most sorted sets in real use (leaderboards per item,
//!   rate-limiter windows, job schedules per queue) are small, and this
//!   form costs a fraction of the tree's memory.
//! - [`tree::Tree`] beyond that: a hash map for O(1) ZSCORE and an
//!   order-statistic treap for O(log n) rank and ranges.
//!
//! A set moves to the tree the moment an insert would break either limit
//! and stays there (as Redis's do). The limits are fixed here: CONFIG SET
//! of the `zset-max-*` knobs is accepted and decides what OBJECT ENCODING
//! answers, not the layout.
//!
//! Order: score ascending, then member bytes ascending (Redis's order).
//! Scores are never NaN (the commands refuse NaN before they get here).

use std::cmp::Ordering;

mod packed;
mod tree;

use packed::Packed;
use tree::Tree;

/// (score, member) order.
fn cmp(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    a_score
        .partial_cmp(&b_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a_member.cmp(b_member))
}

/// Bytes counted for a packed set besides its block: the value's box and
/// the block's allocation header.
const PACKED_OVERHEAD: usize = 48;

#[derive(Debug, Clone)]
enum Repr {
    Packed(Packed),
    Tree(Box<Tree>),
}

/// A sorted set.
#[derive(Debug, Clone)]
pub struct ZSet(Repr);

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet(Repr::Packed(Packed::default()))
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &ZSet) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(m, s)| other.score(m).is_some_and(|o| o.to_bits() == s.to_bits()))
    }
}

impl ZSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Packed(p) => p.len(),
            Repr::Tree(t) => t.len(),
        }
    }

    /// Whether the set has no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the set is in its packed (listpack-like) form.
    pub fn is_packed(&self) -> bool {
        matches!(self.0, Repr::Packed(_))
    }

    /// Approximate bytes held.
    pub fn mem_size(&self) -> usize {
        match &self.0 {
            Repr::Packed(p) if p.len() == 0 => 0,
            Repr::Packed(p) => p.blob_len() + PACKED_OVERHEAD,
            Repr::Tree(t) => t.mem_size(),
        }
    }

    /// A member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.0 {
            Repr::Packed(p) => p.score(member),
            Repr::Tree(t) => t.score(member),
        }
    }

    /// Sets a member's score, adding it if new. Returns the old score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        if let Repr::Packed(p) = &mut self.0 {
            if p.fits(member) {
                return p.insert(member, score);
            }
            let mut t = Tree::default();
            for (m, s) in p.iter() {
                t.insert(m, s);
            }
            self.0 = Repr::Tree(Box::new(t));
        }
        match &mut self.0 {
            Repr::Tree(t) => t.insert(member, score),
            Repr::Packed(_) => unreachable!("converted above"),
        }
    }

    /// Removes a member; its score when it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.0 {
            Repr::Packed(p) => p.remove(member),
            Repr::Tree(t) => t.remove(member),
        }
    }

    /// A member's 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.0 {
            Repr::Packed(p) => p.rank(member),
            Repr::Tree(t) => t.rank(member),
        }
    }

    /// How many members have a score below `bound` (or at most `bound`
    /// when `inclusive`).
    pub fn count_score_below(&self, bound: f64, inclusive: bool) -> usize {
        match &self.0 {
            Repr::Packed(p) => {
                p.count_before(|s, _| if inclusive { s <= bound } else { s < bound })
            }
            Repr::Tree(t) => t.count_score_below(bound, inclusive),
        }
    }

    /// How many members sort before `bound` by bytes (or up to and
    /// including it when `inclusive`); meaningful when all scores are
    /// equal, as for Redis's lex commands.
    pub fn count_lex_below(&self, bound: &[u8], inclusive: bool) -> usize {
        match &self.0 {
            Repr::Packed(p) => {
                p.count_before(|_, m| if inclusive { m <= bound } else { m < bound })
            }
            Repr::Tree(t) => t.count_lex_below(bound, inclusive),
        }
    }

    /// The member and score at 0-based rank `k`.
    pub fn at(&self, k: usize) -> Option<(&[u8], f64)> {
        match &self.0 {
            Repr::Packed(p) => p.at(k),
            Repr::Tree(t) => t.at(k),
        }
    }

    /// Members and scores of ranks `start..=end` (ascending), clamped.
    pub fn range(&self, start: usize, end: usize) -> Vec<(&[u8], f64)> {
        match &self.0 {
            Repr::Packed(p) => p.range(start, end),
            Repr::Tree(t) => t.range(start, end),
        }
    }

    /// Every member and score, ascending.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        match &self.0 {
            Repr::Packed(p) => Box::new(p.iter()),
            Repr::Tree(t) => Box::new(t.iter()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same operations on a set that stays packed and on one forced
    /// into the tree give the same answers, through the move between the
    /// forms.
    #[test]
    fn both_forms_answer_alike_across_the_move() {
        let mut small = ZSet::default();
        let mut big = ZSet::default();
        big.insert(&[b'x'; 65], 0.0);
        big.remove(&[b'x'; 65]);
        assert!(small.is_packed() && !big.is_packed());
        let mut x: u64 = 11;
        for round in 0..3000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let member = format!("m{}", x % 200);
            let score = (x % 37) as f64 - 10.0;
            if x.is_multiple_of(4) {
                assert_eq!(
                    small.remove(member.as_bytes()),
                    big.remove(member.as_bytes())
                );
            } else {
                assert_eq!(
                    small.insert(member.as_bytes(), score),
                    big.insert(member.as_bytes(), score)
                );
            }
            if round % 100 == 0 {
                assert_eq!(small, big);
                assert!(small.iter().eq(big.iter()));
                assert_eq!(
                    small.count_score_below(3.0, true),
                    big.count_score_below(3.0, true)
                );
                assert_eq!(
                    small.count_score_below(3.0, false),
                    big.count_score_below(3.0, false)
                );
                assert_eq!(small.range(5, 40), big.range(5, 40));
                assert_eq!(small.at(7), big.at(7));
                assert_eq!(small.rank(member.as_bytes()), big.rank(member.as_bytes()));
            }
        }
        // 200 distinct members: the small one moved to the tree on the way.
        assert!(!small.is_packed());
    }

    #[test]
    fn a_long_member_moves_a_small_set_to_the_tree_keeping_its_members() {
        let mut z = ZSet::default();
        for i in 0..10 {
            z.insert(format!("m{i}").as_bytes(), f64::from(i));
        }
        assert!(z.is_packed());
        let packed_size = z.mem_size();
        z.insert(&[b'y'; 100], 4.5);
        assert!(!z.is_packed());
        assert_eq!(z.len(), 11);
        assert_eq!(z.rank(&[b'y'; 100]), Some(5));
        assert!(z.mem_size() > packed_size);
        for i in 0..10 {
            z.remove(format!("m{i}").as_bytes());
        }
        z.remove(&[b'y'; 100]);
        assert!(z.is_empty());
        assert_eq!(z.mem_size(), 0);
    }

    #[test]
    fn an_empty_packed_set_measures_zero() {
        let mut z = ZSet::default();
        assert_eq!(z.mem_size(), 0);
        z.insert(b"a", 1.0);
        assert!(z.mem_size() > 0);
        z.remove(b"a");
        assert_eq!(z.mem_size(), 0);
    }
}
