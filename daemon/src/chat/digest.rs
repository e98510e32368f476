//! Presence in large rooms: which changes are announced one by one, and
//! the digests (`chat_members` events) that replace them above a size
//! threshold.
//!
//! In a room of N members, announcing every join, leave, sign-in and
//! sign-out to everyone costs N pushes per change, so filling the room
//! costs N²/2. Large chat systems stop doing that past a size (Discord's
//! `large_threshold`, Slack's and Matrix's lazy member lists): members see
//! a count that is kept up to date and fetch the list when they want it.
//! So does agora: a change in a room with at most `threshold` members (after
//! the change) is announced as today; in a larger room it goes into the
//! room's pending [`Digest`], and at most once per `interval` the room gets
//! one `chat_members` event with its exact counts and who joined or left.
//!
//! A room with a digest pending batches every change until the digest is
//! out, even if it shrank back under the threshold meanwhile, so an
//! individual announcement never overtakes an older batched one.
//!
//! [`Digests`] is pure bookkeeping with the time passed in: no I/O, no
//! clock, no locking (the service keeps it in its state, behind its mutex,
//! and a task in [`super`] sends what [`Digests::take_due`] returns).

use std::collections::{BTreeSet, HashMap};

use agora_wire::ChatEvent;
use agora_wire::chat::MAX_MEMBER_NAMES;

/// A change in a room's membership or presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// The user joined the room.
    Joined(&'a str),
    /// The user left the room.
    Left(&'a str),
    /// A member came online or went offline: only the counts change.
    Status,
    /// A member went away or came back: no count changes, so large rooms
    /// do not hear of it (`chat_who` shows it).
    Away,
}

/// How a change reaches a room's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Announce it by itself now (a small room).
    Now,
    /// It is in the room's next digest. `first` says the room had none
    /// pending, so whoever sends digests should look at the new due time.
    Batched {
        /// The room's digest was started by this change.
        first: bool,
    },
    /// Not announced at all ([`Change::Away`] in a large room).
    Skip,
}

/// One room's changes since its last digest.
#[derive(Debug, Default)]
struct Digest {
    /// Members now who were not at the last digest.
    joined: BTreeSet<String>,
    /// Members at the last digest who are not now.
    left: BTreeSet<String>,
    /// When the pending digest goes out; `None` when nothing is pending.
    due_ms: Option<u64>,
    /// When the last digest went out (0: never).
    sent_ms: u64,
}

/// Every large room's pending digest.
#[derive(Debug, Default)]
pub struct Digests {
    threshold: usize,
    interval_ms: u64,
    rooms: HashMap<String, Digest>,
}

impl Digests {
    /// Rooms with more than `threshold` members get digests, at most one
    /// per `interval_ms` each.
    pub fn new(threshold: usize, interval_ms: u64) -> Digests {
        Digests {
            threshold,
            interval_ms,
            rooms: HashMap::new(),
        }
    }

    /// The member count above which a room's changes are batched.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Decides how `change` in `room`, which has `members` members after
    /// it, is announced, and records it if it is batched.
    pub fn note(&mut self, room: &str, members: usize, change: Change<'_>, now_ms: u64) -> Route {
        if change == Change::Away {
            // No digest shows it, so no digest can be overtaken by it.
            return if members <= self.threshold {
                Route::Now
            } else {
                Route::Skip
            };
        }
        let pending = self.rooms.get(room).is_some_and(|d| d.due_ms.is_some());
        if members <= self.threshold && !pending {
            return Route::Now;
        }
        let digest = self.rooms.entry(room.to_owned()).or_default();
        // Net changes: joining and leaving again within one digest cancel.
        match change {
            Change::Joined(user) => {
                if !digest.left.remove(user) {
                    digest.joined.insert(user.to_owned());
                }
            }
            Change::Left(user) => {
                if !digest.joined.remove(user) {
                    digest.left.insert(user.to_owned());
                }
            }
            Change::Status | Change::Away => {}
        }
        if digest.due_ms.is_some() {
            return Route::Batched { first: false };
        }
        // The first change after a quiet spell goes out at once; later
        // ones wait for the interval since the last digest.
        let next = if digest.sent_ms == 0 {
            now_ms
        } else {
            digest.sent_ms.saturating_add(self.interval_ms)
        };
        digest.due_ms = Some(next.max(now_ms));
        Route::Batched { first: true }
    }

    /// When the next digest is due, if any is pending.
    pub fn next_due(&self) -> Option<u64> {
        self.rooms.values().filter_map(|d| d.due_ms).min()
    }

    /// The digests due at `now_ms`, as `chat_members` events (by room).
    /// `counts` gives a room's (members, online) now. A digest whose
    /// changes cancelled out (joined and left again) is sent all the same:
    /// rare, and it repeats exact counts.
    pub fn take_due(
        &mut self,
        now_ms: u64,
        mut counts: impl FnMut(&str) -> (u32, u32),
    ) -> Vec<ChatEvent> {
        let mut due: Vec<&String> = self
            .rooms
            .iter()
            .filter(|(_, d)| d.due_ms.is_some_and(|t| t <= now_ms))
            .map(|(room, _)| room)
            .collect();
        due.sort();
        let due: Vec<String> = due.into_iter().cloned().collect();
        let mut events = Vec::with_capacity(due.len());
        for room in due {
            let Some(digest) = self.rooms.get_mut(&room) else {
                continue;
            };
            let joined = std::mem::take(&mut digest.joined);
            let left = std::mem::take(&mut digest.left);
            digest.due_ms = None;
            digest.sent_ms = now_ms.max(1);
            let more = joined.len() > MAX_MEMBER_NAMES || left.len() > MAX_MEMBER_NAMES;
            let (members, online) = counts(&room);
            events.push(ChatEvent::Members {
                room,
                members,
                online,
                joined: joined.into_iter().take(MAX_MEMBER_NAMES).collect(),
                left: left.into_iter().take(MAX_MEMBER_NAMES).collect(),
                more,
            });
        }
        // A room quiet for a whole interval needs no record: its next
        // change goes out at once either way.
        let interval = self.interval_ms;
        self.rooms
            .retain(|_, d| d.due_ms.is_some() || d.sent_ms.saturating_add(interval) > now_ms);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1000;

    /// Digests for rooms of more than 3 members, one a second at most.
    fn digests() -> Digests {
        Digests::new(3, SECOND)
    }

    /// A `chat_members` event's fields: room, members, online, joined,
    /// left, more.
    type Sent = (String, u32, u32, Vec<String>, Vec<String>, bool);

    fn members(events: &[ChatEvent]) -> Vec<Sent> {
        events
            .iter()
            .map(|e| match e {
                ChatEvent::Members {
                    room,
                    members,
                    online,
                    joined,
                    left,
                    more,
                } => (
                    room.clone(),
                    *members,
                    *online,
                    joined.clone(),
                    left.clone(),
                    *more,
                ),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rooms_up_to_the_threshold_announce_each_change() {
        let mut d = digests();
        for (n, user) in ["a", "b", "c"].iter().enumerate() {
            assert_eq!(d.note("r", n + 1, Change::Joined(user), 0), Route::Now);
        }
        assert_eq!(d.note("r", 3, Change::Status, 0), Route::Now);
        assert_eq!(d.note("r", 3, Change::Away, 0), Route::Now);
        assert_eq!(d.note("r", 2, Change::Left("c"), 0), Route::Now);
        assert_eq!(d.next_due(), None);
        assert!(d.take_due(u64::MAX, |_| (0, 0)).is_empty());
    }

    #[test]
    fn one_over_the_threshold_is_batched_and_sent_at_once() {
        let mut d = digests();
        let t0 = 50 * SECOND;
        assert_eq!(
            d.note("r", 4, Change::Joined("d"), t0),
            Route::Batched { first: true }
        );
        assert_eq!(d.next_due(), Some(t0), "the first digest is not delayed");
        assert_eq!(
            members(&d.take_due(t0, |_| (4, 3))),
            vec![("r".into(), 4, 3, names(&["d"]), vec![], false)]
        );
        assert_eq!(d.next_due(), None);
    }

    #[test]
    fn a_burst_within_one_interval_is_one_digest() {
        let mut d = digests();
        let t0 = 50 * SECOND;
        d.note("r", 4, Change::Joined("d"), t0);
        d.take_due(t0, |_| (4, 4));
        // 100 joins within the next second: one digest, a second after
        // the previous one.
        let mut firsts = 0;
        for i in 0..100u64 {
            let user = format!("u{i:03}");
            let route = d.note("r", 5 + i as usize, Change::Joined(&user), t0 + 1 + i);
            firsts += usize::from(route == Route::Batched { first: true });
        }
        assert_eq!(firsts, 1, "only the first change wakes the sender");
        assert_eq!(d.next_due(), Some(t0 + SECOND));
        assert!(d.take_due(t0 + SECOND - 1, |_| (0, 0)).is_empty());
        let sent = members(&d.take_due(t0 + SECOND, |_| (104, 90)));
        assert_eq!(sent.len(), 1);
        let (room, count, online, joined, left, more) = &sent[0];
        assert_eq!((room.as_str(), *count, *online), ("r", 104, 90));
        assert_eq!(joined.len(), MAX_MEMBER_NAMES, "names are capped");
        assert_eq!(joined[0], "u000");
        assert!(left.is_empty());
        assert!(more, "more changed than the lists say");
    }

    #[test]
    fn joining_then_leaving_within_an_interval_cancels() {
        let mut d = digests();
        let t0 = 50 * SECOND;
        d.note("r", 5, Change::Joined("x"), t0);
        d.note("r", 6, Change::Joined("y"), t0);
        d.note("r", 5, Change::Left("x"), t0);
        // A member who leaves and comes back is no change either.
        d.note("r", 4, Change::Left("old"), t0);
        d.note("r", 5, Change::Joined("old"), t0);
        d.note("r", 4, Change::Left("gone"), t0);
        assert_eq!(
            members(&d.take_due(t0, |_| (4, 2))),
            vec![("r".into(), 4, 2, names(&["y"]), names(&["gone"]), false)]
        );
    }

    #[test]
    fn status_changes_only_move_the_counts() {
        let mut d = digests();
        let t0 = 50 * SECOND;
        assert_eq!(d.note("r", 10, Change::Away, t0), Route::Skip);
        assert_eq!(d.next_due(), None, "away alone is not announced");
        d.note("r", 10, Change::Status, t0);
        d.note("r", 10, Change::Status, t0);
        assert_eq!(d.note("r", 10, Change::Away, t0), Route::Skip);
        assert_eq!(
            members(&d.take_due(t0, |_| (10, 7))),
            vec![("r".into(), 10, 7, vec![], vec![], false)]
        );
    }

    #[test]
    fn a_pending_digest_keeps_batching_below_the_threshold() {
        let mut d = digests();
        let t0 = 50 * SECOND;
        d.note("r", 4, Change::Joined("d"), t0);
        d.take_due(t0, |_| (4, 4));
        d.note("r", 4, Change::Status, t0 + 10);
        // Back to 3 members, but the digest above is not out yet: this
        // leave must not overtake it.
        assert_eq!(
            d.note("r", 3, Change::Left("d"), t0 + 20),
            Route::Batched { first: false }
        );
        let sent = members(&d.take_due(t0 + SECOND, |_| (3, 3)));
        assert_eq!(sent, vec![("r".into(), 3, 3, vec![], names(&["d"]), false)]);
        // Once it is out, the small room announces changes one by one.
        assert_eq!(d.note("r", 2, Change::Left("c"), t0 + SECOND), Route::Now);
    }

    #[test]
    fn each_room_keeps_its_own_interval() {
        let mut d = digests();
        let t0 = 50 * SECOND;
        d.note("a", 4, Change::Status, t0);
        d.take_due(t0, |_| (4, 4));
        d.note("a", 4, Change::Status, t0 + 100);
        d.note("b", 4, Change::Status, t0 + 200);
        assert_eq!(d.next_due(), Some(t0 + 200), "b has no recent digest");
        let sent = members(&d.take_due(t0 + 200, |_| (4, 4)));
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "b");
        assert_eq!(d.next_due(), Some(t0 + SECOND));
        // After a quiet interval a room's record is dropped, and its next
        // change goes out at once again.
        d.take_due(t0 + SECOND, |_| (4, 4));
        d.take_due(t0 + 3 * SECOND, |_| (4, 4));
        assert!(d.rooms.is_empty());
        d.note("a", 4, Change::Status, t0 + 3 * SECOND + 1);
        assert_eq!(d.next_due(), Some(t0 + 3 * SECOND + 1));
    }
}
