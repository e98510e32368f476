//! Room messages published in sequence order, whoever stored them.
//!
//! On one daemon the writer numbers and publishes a room's messages in
//! order by construction. In a fleet a room's messages reach a node from
//! two sides: its own writer (the batches it committed) and its listener
//! (those other nodes committed, fetched after their notification), and
//! the two race: this node may commit seq 7 before it hears of seq 6.
//! [`Order`] keeps each room's next expected number and holds anything
//! that arrives early until the gap before it is filled, so subscribers
//! see every room's messages in order, each once. A gap that lasts
//! ([`Order::gaps`]) is filled from the table by the caller; what was
//! already published arrives again and is handed back as a duplicate.
//! Pure: no I/O, no clock of its own.

use std::collections::{BTreeMap, HashMap};

/// Per-room ordering of items of type `T` (the deliveries).
#[derive(Debug)]
pub struct Order<T> {
    rooms: HashMap<String, Room<T>>,
}

#[derive(Debug)]
struct Room<T> {
    /// The number the next publication must carry.
    next: u64,
    /// Items that arrived ahead of `next`.
    waiting: BTreeMap<u64, T>,
    /// Since when the head of `waiting` has been held (ms).
    held_since: u64,
}

/// What [`Order::offer`] decided.
#[derive(Debug, PartialEq, Eq)]
pub struct Offered<T> {
    /// Publish these now, in this order.
    pub ready: Vec<T>,
    /// Published (or held) already: not to be published again.
    pub duplicate: Option<T>,
}

impl<T> Default for Order<T> {
    fn default() -> Self {
        Order {
            rooms: HashMap::new(),
        }
    }
}

impl<T> Order<T> {
    /// Everything up to `last` in `room` counts as published (the state
    /// loaded at start-up). Never moves a room backwards.
    pub fn published_up_to(&mut self, room: &str, last: u64) {
        let r = self.room(room);
        r.next = r.next.max(last + 1);
    }

    /// The newest number published in `room` (0 when none).
    pub fn published(&self, room: &str) -> u64 {
        self.rooms.get(room).map_or(0, |r| r.next - 1)
    }

    fn room(&mut self, room: &str) -> &mut Room<T> {
        if !self.rooms.contains_key(room) {
            self.rooms.insert(
                room.to_owned(),
                Room {
                    next: 1,
                    waiting: BTreeMap::new(),
                    held_since: 0,
                },
            );
        }
        self.rooms.get_mut(room).expect("inserted above")
    }

    /// Offers message `seq` of `room` at `now_ms`.
    pub fn offer(&mut self, room: &str, seq: u64, item: T, now_ms: u64) -> Offered<T> {
        let r = self.room(room);
        if seq < r.next || r.waiting.contains_key(&seq) {
            return Offered {
                ready: Vec::new(),
                duplicate: Some(item),
            };
        }
        if r.waiting.is_empty() {
            r.held_since = now_ms;
        }
        r.waiting.insert(seq, item);
        Offered {
            ready: r.release(now_ms),
            duplicate: None,
        }
    }

    /// Rooms whose next message has been missing for `after_ms` or more:
    /// `(room, next, highest held)`; fetch `next..=highest` and offer it.
    /// Each is reported again only after another `after_ms`.
    pub fn gaps(&mut self, now_ms: u64, after_ms: u64) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        for (name, r) in &mut self.rooms {
            if let Some((&highest, _)) = r.waiting.last_key_value()
                && now_ms.saturating_sub(r.held_since) >= after_ms
            {
                out.push((name.clone(), r.next, highest));
                r.held_since = now_ms;
            }
        }
        out.sort();
        out
    }

    /// Gives up on `room`'s numbers below `seq` (they cannot be found):
    /// what waits from there on is released.
    pub fn skip_to(&mut self, room: &str, seq: u64, now_ms: u64) -> Vec<T> {
        let r = self.room(room);
        if seq > r.next {
            r.next = seq;
        }
        r.release(now_ms)
    }

    /// Whether anything is held.
    pub fn is_holding(&self) -> bool {
        self.rooms.values().any(|r| !r.waiting.is_empty())
    }
}

impl<T> Room<T> {
    /// Takes the run of items from `next` on.
    fn release(&mut self, now_ms: u64) -> Vec<T> {
        let mut ready = Vec::new();
        while let Some(item) = self.waiting.remove(&self.next) {
            ready.push(item);
            self.next += 1;
        }
        // Items below `next` (a skip passed them) are stale.
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() >= self.next {
                break;
            }
            entry.remove();
        }
        if !ready.is_empty() {
            self.held_since = now_ms;
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_passes_straight_through() {
        let mut order = Order::default();
        for seq in 1..=3 {
            let got = order.offer("a", seq, seq, 0);
            assert_eq!(got.ready, vec![seq]);
            assert_eq!(got.duplicate, None);
        }
        assert_eq!(order.published("a"), 3);
        assert!(!order.is_holding());
    }

    #[test]
    fn early_messages_wait_for_the_gap_and_duplicates_come_back() {
        let mut order = Order::default();
        order.published_up_to("a", 5);
        // 7 and 8 (this node's) before 6 (another node's).
        assert!(order.offer("a", 7, "seven", 10).ready.is_empty());
        assert!(order.offer("a", 8, "eight", 11).ready.is_empty());
        assert!(order.is_holding());
        // Another room is not held up.
        assert_eq!(order.offer("b", 1, "b1", 12).ready, vec!["b1"]);
        assert_eq!(
            order.offer("a", 6, "six", 20).ready,
            vec!["six", "seven", "eight"]
        );
        // A fetch that overlaps what was published returns duplicates.
        let again = order.offer("a", 7, "seven again", 30);
        assert_eq!(again.ready, Vec::<&str>::new());
        assert_eq!(again.duplicate, Some("seven again"));
        assert_eq!(order.published("a"), 8);
        // Held twice: the first copy stays.
        assert!(order.offer("a", 10, "ten", 31).ready.is_empty());
        assert_eq!(order.offer("a", 10, "ten'", 32).duplicate, Some("ten'"));
    }

    #[test]
    fn a_lasting_gap_is_reported_once_per_period_and_can_be_skipped() {
        let mut order = Order::default();
        assert!(order.offer("a", 3, 3, 1_000).ready.is_empty());
        assert!(order.offer("a", 4, 4, 1_010).ready.is_empty());
        assert_eq!(order.gaps(1_050, 100), vec![]);
        assert_eq!(order.gaps(1_100, 100), vec![("a".to_owned(), 1, 4)]);
        assert_eq!(order.gaps(1_150, 100), vec![], "reported again later");
        assert_eq!(order.gaps(1_200, 100), vec![("a".to_owned(), 1, 4)]);
        // The fetch found 2 onwards only (1 cannot be had).
        assert_eq!(order.skip_to("a", 2, 1_210), Vec::<u64>::new());
        assert_eq!(order.offer("a", 2, 2, 1_220).ready, vec![2, 3, 4]);
        assert_eq!(order.gaps(5_000, 100), vec![]);
        // Skipping past held items drops the stale ones, releases the rest.
        assert!(order.offer("a", 6, 6, 6_000).ready.is_empty());
        assert!(order.offer("a", 9, 9, 6_000).ready.is_empty());
        assert_eq!(order.skip_to("a", 9, 6_001), vec![9]);
        assert!(!order.is_holding());
    }
}
