//! The small sorted set: every (score, member) pair in one allocation,
//! sorted, the way Redis keeps small sorted sets in a listpack. A sorted
//! set of ten short members costs one ~200-byte block instead of a hash
//! map, a treap arena and two copies of each member.
//!
//! Layout: entries back to back, each `score · member length (one byte) ·
//! member bytes`, in (score, member) order. The score is a tag byte and
//! then the smallest of an i8, i16 or i32 (little endian) that holds it
//! exactly when it is a whole number, else the f64's 8 bytes — the way a
//! listpack stores integers small (most real scores are counts and
//! timestamps in whole seconds).
//! Only members of at most [`MAX_MEMBER`] bytes are kept here, which is
//! what lets the length fit a byte; the set moves to the treap before an
//! entry would break that or the set would grow past [`MAX_ENTRIES`]
//! (see `super::ZSet`). Every operation is a linear scan, bounded by those
//! two limits.

use std::cmp::Ordering;

use super::cmp;

/// The most entries a packed set holds (Redis's `zset-max-listpack-entries`
/// default).
pub const MAX_ENTRIES: usize = 128;

/// The longest member a packed set holds (Redis's
/// `zset-max-listpack-value` default).
pub const MAX_MEMBER: usize = 64;

/// Score tags.
const F64: u8 = 0;
const I8: u8 = 1;
const I16: u8 = 2;
const I32: u8 = 3;

/// Appends a score in its shortest exact form.
fn put_score(out: &mut Vec<u8>, score: f64) {
    let whole = score.fract() == 0.0
        && score.abs() <= f64::from(i32::MAX)
        && score.to_bits() != (-0.0f64).to_bits();
    if whole {
        let n = score as i32;
        if let Ok(n) = i8::try_from(n) {
            out.push(I8);
            out.extend_from_slice(&n.to_le_bytes());
        } else if let Ok(n) = i16::try_from(n) {
            out.push(I16);
            out.extend_from_slice(&n.to_le_bytes());
        } else {
            out.push(I32);
            out.extend_from_slice(&n.to_le_bytes());
        }
    } else {
        out.push(F64);
        out.extend_from_slice(&score.to_le_bytes());
    }
}

/// Reads a score at the start of `bytes`: the score and its length.
fn get_score(bytes: &[u8]) -> Option<(f64, usize)> {
    let (&tag, rest) = bytes.split_first()?;
    Some(match tag {
        I8 => (
            f64::from(i8::from_le_bytes(rest.get(..1)?.try_into().ok()?)),
            2,
        ),
        I16 => (
            f64::from(i16::from_le_bytes(rest.get(..2)?.try_into().ok()?)),
            3,
        ),
        I32 => (
            f64::from(i32::from_le_bytes(rest.get(..4)?.try_into().ok()?)),
            5,
        ),
        _ => (f64::from_le_bytes(rest.get(..8)?.try_into().ok()?), 9),
    })
}

/// A packed sorted set.
#[derive(Debug, Clone, Default)]
pub struct Packed {
    blob: Box<[u8]>,
    len: u32,
}

/// One decoded entry and where it sits in the blob.
struct At<'a> {
    offset: usize,
    end: usize,
    score: f64,
    member: &'a [u8],
}

/// The entries of a blob in order.
struct Entries<'a> {
    blob: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = At<'a>;

    fn next(&mut self) -> Option<At<'a>> {
        let offset = self.offset;
        let (score, score_len) = get_score(self.blob.get(offset..)?)?;
        let len = usize::from(*self.blob.get(offset + score_len)?);
        let start = offset + score_len + 1;
        let member = self.blob.get(start..start + len)?;
        self.offset = start + len;
        Some(At {
            offset,
            end: self.offset,
            score,
            member,
        })
    }
}

impl Packed {
    fn entries(&self) -> Entries<'_> {
        Entries {
            blob: &self.blob,
            offset: 0,
        }
    }

    fn find(&self, member: &[u8]) -> Option<(usize, At<'_>)> {
        self.entries()
            .enumerate()
            .find(|(_, at)| at.member == member)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Bytes of the block.
    pub fn blob_len(&self) -> usize {
        self.blob.len()
    }

    /// A member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|(_, at)| at.score)
    }

    /// Whether `member` (at most [`MAX_MEMBER`] bytes) can be added
    /// without leaving the packed form.
    pub fn fits(&self, member: &[u8]) -> bool {
        member.len() <= MAX_MEMBER && (self.len() < MAX_ENTRIES || self.score(member).is_some())
    }

    /// Sets a member's score, adding it if new; the caller has checked
    /// [`Packed::fits`]. Returns the old score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        debug_assert!(member.len() <= MAX_MEMBER);
        let previous = self.score(member);
        if let Some(p) = previous {
            if p.to_bits() == score.to_bits() {
                return Some(p);
            }
            self.remove(member);
        }
        let at = self
            .entries()
            .find(|at| cmp(at.score, at.member, score, member) == Ordering::Greater)
            .map_or(self.blob.len(), |at| at.offset);
        let mut out = Vec::with_capacity(self.blob.len() + 10 + member.len());
        out.extend_from_slice(&self.blob[..at]);
        put_score(&mut out, score);
        out.push(member.len() as u8);
        out.extend_from_slice(member);
        out.extend_from_slice(&self.blob[at..]);
        self.blob = out.into_boxed_slice();
        self.len += 1;
        previous
    }

    /// Removes a member; its score when it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, at) = self.find(member)?;
        let (from, to, score) = (at.offset, at.end, at.score);
        let mut out = Vec::with_capacity(self.blob.len() - (to - from));
        out.extend_from_slice(&self.blob[..from]);
        out.extend_from_slice(&self.blob[to..]);
        self.blob = out.into_boxed_slice();
        self.len -= 1;
        Some(score)
    }

    /// A member's 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        self.find(member).map(|(i, _)| i)
    }

    /// How many leading entries satisfy `before` (a predicate true for a
    /// prefix of the order, as the treap's counting assumes too).
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.entries()
            .take_while(|at| before(at.score, at.member))
            .count()
    }

    /// The member and score at 0-based rank `k`.
    pub fn at(&self, k: usize) -> Option<(&[u8], f64)> {
        self.entries().nth(k).map(|at| (at.member, at.score))
    }

    /// Members and scores of ranks `start..=end`, clamped.
    pub fn range(&self, start: usize, end: usize) -> Vec<(&[u8], f64)> {
        if start > end {
            return Vec::new();
        }
        self.entries()
            .skip(start)
            .take(end - start + 1)
            .map(|at| (at.member, at.score))
            .collect()
    }

    /// Every member and score, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> {
        self.entries().map(|at| (at.member, at.score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &Packed) -> Vec<(String, f64)> {
        p.iter()
            .map(|(m, s)| (String::from_utf8(m.to_vec()).unwrap(), s))
            .collect()
    }

    #[test]
    fn entries_stay_sorted_through_inserts_rescores_and_removes() {
        let mut p = Packed::default();
        for (m, s) in [("c", 1.0), ("a", 1.0), ("b", 0.5), ("d", f64::INFINITY)] {
            assert_eq!(p.insert(m.as_bytes(), s), None);
        }
        assert_eq!(p.insert(b"e", -2.0), None);
        let order: Vec<String> = names(&p).into_iter().map(|(m, _)| m).collect();
        assert_eq!(order, ["e", "b", "a", "c", "d"]);
        // Same score: nothing moves.
        assert_eq!(p.insert(b"a", 1.0), Some(1.0));
        // Re-scoring moves the member, forwards and backwards.
        assert_eq!(p.insert(b"e", 3.0), Some(-2.0));
        assert_eq!(p.rank(b"e"), Some(3));
        assert_eq!(p.insert(b"d", -5.0), Some(f64::INFINITY));
        assert_eq!(p.rank(b"d"), Some(0));
        assert_eq!(
            names(&p),
            [
                ("d".to_string(), -5.0),
                ("b".to_string(), 0.5),
                ("a".to_string(), 1.0),
                ("c".to_string(), 1.0),
                ("e".to_string(), 3.0)
            ]
        );
        assert_eq!(p.count_before(|s, _| s <= 1.0), 4);
        assert_eq!(p.at(2).map(|(m, _)| m.to_vec()), Some(b"a".to_vec()));
        assert_eq!(p.range(3, 100).len(), 2);
        assert!(p.range(7, 9).is_empty());
        assert_eq!(p.remove(b"a"), Some(1.0));
        assert_eq!(p.remove(b"a"), None);
        assert_eq!(p.len(), 4);
        // b 0.5 (tag + f64), c 1 (tag + i8), d -5, e 3: each + length + 1.
        assert_eq!(p.blob_len(), (9 + 2) + 3 * (2 + 2));
        for m in ["b", "c", "d", "e"] {
            assert!(p.remove(m.as_bytes()).is_some());
        }
        assert_eq!(p.len(), 0);
        assert_eq!(p.blob_len(), 0);
    }

    #[test]
    fn scores_keep_their_exact_value_in_every_width() {
        let scores = [
            0.0,
            -0.0,
            1.0,
            -128.0,
            127.0,
            128.0,
            -32768.0,
            40000.0,
            -2147483648.0,
            2147483647.0,
            2147483648.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.1,
            -7.5,
            f64::MIN_POSITIVE,
        ];
        let mut p = Packed::default();
        for (i, s) in scores.iter().enumerate() {
            p.insert(format!("m{i}").as_bytes(), *s);
        }
        for (i, s) in scores.iter().enumerate() {
            let got = p.score(format!("m{i}").as_bytes()).unwrap();
            assert_eq!(got.to_bits(), s.to_bits(), "score {s}");
        }
        assert_eq!(p.len(), scores.len());
    }

    #[test]
    fn the_limits_say_when_to_leave_the_packed_form() {
        let mut p = Packed::default();
        assert!(!p.fits(&[b'x'; MAX_MEMBER + 1]));
        for i in 0..MAX_ENTRIES {
            let m = format!("m{i}");
            assert!(p.fits(m.as_bytes()));
            p.insert(m.as_bytes(), i as f64);
        }
        assert!(!p.fits(b"another"));
        // An existing member can still be re-scored.
        assert!(p.fits(b"m7"));
        assert_eq!(p.len(), MAX_ENTRIES);
    }
}
