//! Matchmaking pools, pure: who waits for which game types and time
//! control, and who is paired with whom. Time is an argument, so the tests
//! widen windows without waiting.
//!
//! As in lichess's pools, two players are paired when they want a common
//! game type with the same time control and their ratings (in that type)
//! are within *both* players' windows. A window starts at
//! [`BASE_WINDOW`] rating points and widens by [`WIDEN_PER_SEC`] per
//! second waited, up to [`MAX_WINDOW`]: a lone strong player waits a
//! little, then gets whoever is there. The oldest waiter is served first,
//! with the closest rating in reach. One entry per user, so nobody is
//! paired with themselves; queueing again replaces the entry.

use agora_wire::game::TimeControl;

/// A new waiter's window, in rating points either side.
pub const BASE_WINDOW: f64 = 100.0;
/// How much a window widens per second waited.
pub const WIDEN_PER_SEC: f64 = 25.0;
/// The widest window.
pub const MAX_WINDOW: f64 = 800.0;

/// A window after `waited_ms`.
pub fn window(waited_ms: u64) -> f64 {
    (BASE_WINDOW + WIDEN_PER_SEC * waited_ms as f64 / 1000.0).min(MAX_WINDOW)
}

/// One waiting user.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The user.
    pub user: String,
    /// The game types wanted, each with the user's rating in it.
    pub kinds: Vec<(String, f64)>,
    /// The time control.
    pub time: TimeControl,
    /// When they started waiting.
    pub since_ms: u64,
}

impl Entry {
    fn rating(&self, kind: &str) -> Option<f64> {
        self.kinds.iter().find(|(k, _)| k == kind).map(|(_, r)| *r)
    }
}

/// Two users to start a game between.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairing {
    /// The one who waited longer.
    pub a: String,
    /// Their opponent.
    pub b: String,
    /// The game type.
    pub kind: String,
    /// The time control.
    pub time: TimeControl,
}

/// Every waiting user, oldest first.
#[derive(Debug, Default)]
pub struct Pools {
    waiting: Vec<Entry>,
}

impl Pools {
    /// Adds (or replaces) `entry`; returns whether it replaced one.
    pub fn enqueue(&mut self, entry: Entry) -> bool {
        let had = self.remove(&entry.user);
        self.waiting.push(entry);
        had
    }

    /// Takes `user` out of every pool; returns whether they were waiting.
    pub fn remove(&mut self, user: &str) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|e| e.user != user);
        before != self.waiting.len()
    }

    /// How many users wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Whether `user` waits.
    pub fn contains(&self, user: &str) -> bool {
        self.waiting.iter().any(|e| e.user == user)
    }

    /// The best opponent for `a` among the waiters after position `from`
    /// (and its kind): a common kind, the same time control, both windows
    /// reached, the closest rating.
    fn best_for(&self, a: &Entry, skip: usize, now_ms: u64) -> Option<(usize, String)> {
        let wa = window(now_ms.saturating_sub(a.since_ms));
        let mut best: Option<(f64, usize, String)> = None;
        for (j, b) in self.waiting.iter().enumerate() {
            if j == skip || b.user == a.user || b.time != a.time {
                continue;
            }
            let wb = window(now_ms.saturating_sub(b.since_ms));
            for (kind, ra) in &a.kinds {
                let Some(rb) = b.rating(kind) else { continue };
                let gap = (ra - rb).abs();
                if gap <= wa.min(wb) && best.as_ref().is_none_or(|(g, _, _)| gap < *g) {
                    best = Some((gap, j, kind.clone()));
                }
            }
        }
        best.map(|(_, j, kind)| (j, kind))
    }

    /// Pairs the newest waiter if it can be (called right after an
    /// enqueue: one pass over the pool).
    pub fn pair_newest(&mut self, now_ms: u64) -> Option<Pairing> {
        let last = self.waiting.len().checked_sub(1)?;
        let (j, kind) = self.best_for(&self.waiting[last], last, now_ms)?;
        // The other waited longer: it is `a`.
        let b = self.waiting.remove(last);
        let a = self.waiting.remove(j);
        Some(Pairing {
            a: a.user,
            b: b.user,
            kind,
            time: a.time,
        })
    }

    /// Pairs everyone who can be, oldest first (called periodically, as
    /// windows widen).
    pub fn pair_all(&mut self, now_ms: u64) -> Vec<Pairing> {
        let mut pairs = Vec::new();
        let mut i = 0;
        while i < self.waiting.len() {
            match self.best_for(&self.waiting[i], i, now_ms) {
                Some((j, kind)) => {
                    // j > i or j < i: remove the later index first.
                    let (first, second) = if j > i { (j, i) } else { (i, j) };
                    let x = self.waiting.remove(first);
                    let y = self.waiting.remove(second);
                    let (a, b) = if j > i { (y, x) } else { (x, y) };
                    pairs.push(Pairing {
                        a: a.user,
                        b: b.user,
                        kind,
                        time: a.time,
                    });
                    i = i.min(second);
                }
                None => i += 1,
            }
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLITZ: TimeControl = TimeControl {
        initial_ms: 180_000,
        increment_ms: 2_000,
    };

    fn entry(user: &str, kinds: &[(&str, f64)], since_ms: u64) -> Entry {
        Entry {
            user: user.into(),
            kinds: kinds.iter().map(|(k, r)| ((*k).into(), *r)).collect(),
            time: BLITZ,
            since_ms,
        }
    }

    #[test]
    fn close_ratings_pair_at_once() {
        let mut p = Pools::default();
        p.enqueue(entry("alice", &[("tictactoe", 1500.0)], 0));
        assert_eq!(p.pair_newest(0), None);
        p.enqueue(entry("bob", &[("tictactoe", 1580.0)], 0));
        let pair = p.pair_newest(0).unwrap();
        assert_eq!((pair.a.as_str(), pair.b.as_str()), ("alice", "bob"));
        assert_eq!(pair.kind, "tictactoe");
        assert!(p.is_empty());
    }

    #[test]
    fn the_window_widens_with_waiting_until_far_ratings_pair() {
        assert_eq!(window(0), BASE_WINDOW);
        assert_eq!(window(4_000), 200.0);
        assert_eq!(window(3_600_000), MAX_WINDOW);
        let mut p = Pools::default();
        p.enqueue(entry("alice", &[("connect4", 1500.0)], 0));
        p.enqueue(entry("bob", &[("connect4", 1800.0)], 0));
        assert_eq!(p.pair_newest(0), None);
        // 300 points apart: both windows reach 300 after 8 s.
        assert!(p.pair_all(7_999).is_empty());
        let pairs = p.pair_all(8_000);
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].a, "alice");
        // Too far for ever.
        let mut p = Pools::default();
        p.enqueue(entry("alice", &[("connect4", 1000.0)], 0));
        p.enqueue(entry("bob", &[("connect4", 2000.0)], 0));
        assert!(p.pair_all(10_000_000).is_empty());
    }

    #[test]
    fn both_windows_must_reach() {
        let mut p = Pools::default();
        // Alice waited long (wide window), Bob just came (100 points).
        p.enqueue(entry("alice", &[("tictactoe", 1500.0)], 0));
        p.enqueue(entry("bob", &[("tictactoe", 1700.0)], 20_000));
        assert_eq!(p.pair_newest(20_000), None);
        assert_eq!(p.pair_all(24_000).len(), 1, "Bob's window reached 200");
    }

    #[test]
    fn the_closest_rating_wins_and_the_oldest_is_served_first() {
        let mut p = Pools::default();
        p.enqueue(entry("old", &[("tictactoe", 1500.0)], 0));
        p.enqueue(entry("far", &[("tictactoe", 1590.0)], 1));
        p.enqueue(entry("near", &[("tictactoe", 1510.0)], 2));
        let pairs = p.pair_all(2);
        assert_eq!(pairs.len(), 1);
        assert_eq!((pairs[0].a.as_str(), pairs[0].b.as_str()), ("old", "near"));
        assert!(p.contains("far"));
    }

    #[test]
    fn several_types_at_once_and_only_a_common_one() {
        let mut p = Pools::default();
        p.enqueue(entry(
            "alice",
            &[("tictactoe", 1500.0), ("connect4", 1500.0)],
            0,
        ));
        p.enqueue(entry("bob", &[("connect4", 1520.0)], 0));
        let pair = p.pair_newest(0).unwrap();
        assert_eq!(pair.kind, "connect4");
        // Different time controls never meet.
        let mut p = Pools::default();
        p.enqueue(entry("alice", &[("tictactoe", 1500.0)], 0));
        let mut other = entry("bob", &[("tictactoe", 1500.0)], 0);
        other.time.increment_ms = 0;
        p.enqueue(other);
        assert!(p.pair_all(1_000_000).is_empty());
    }

    #[test]
    fn never_with_yourself_and_requeueing_replaces() {
        let mut p = Pools::default();
        assert!(!p.enqueue(entry("alice", &[("tictactoe", 1500.0)], 0)));
        assert!(p.enqueue(entry("alice", &[("tictactoe", 1500.0)], 5)));
        assert_eq!(p.len(), 1);
        assert_eq!(p.pair_newest(10), None);
        assert!(p.pair_all(1_000_000).is_empty());
        assert!(p.remove("alice"));
        assert!(!p.remove("alice"));
    }
}
