//! The stream value: entries keyed by [`StreamId`] (ms-seq, a u64 pair)
//! in a `BTreeMap` (O(log n) lookup and range), each a small list of
//! field/value pairs, and the consumer groups (name → last delivered ID,
//! entries read, pending entries list, consumers).
//!
//! Redis keeps entries in "macro nodes" (listpacks of up to
//! `stream-node-max-entries` entries or `stream-node-max-bytes` bytes
//! under a radix tree); approximate trimming (`MAXLEN ~`, `MINID ~`)
//! removes whole nodes only, and XINFO's `radix-tree-keys` counts them.
//! Applications and Redis's own tests see those node boundaries, so
//! [`Stream`] keeps a light model of them: for each node, its first ID,
//! live and total (live + deleted) entry counts and approximate bytes.
//! The entries themselves are not stored in the nodes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub mod codec;

/// A stream entry ID: milliseconds and a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// 0-0.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An ID from its parts.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, `None` past the largest.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, `None` before 0-0.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// Parses `ms-seq` or `ms` (then the sequence is `missing_seq`); with
    /// `star`, `ms-*` parses with a sequence of `None`. Digits only, as
    /// Redis's `string2ull`.
    pub fn parse(text: &[u8], missing_seq: u64, star: bool) -> Option<(StreamId, bool)> {
        if text.is_empty() || text.len() > 127 {
            return None;
        }
        let (ms, seq) = match text.iter().position(|&b| b == b'-') {
            None => (text, None),
            Some(i) => (&text[..i], Some(&text[i + 1..])),
        };
        let ms = parse_u64(ms)?;
        match seq {
            None => Some((StreamId::new(ms, missing_seq), true)),
            Some(b"*") if star => Some((StreamId::new(ms, 0), false)),
            Some(seq) => Some((StreamId::new(ms, parse_u64(seq)?), true)),
        }
    }
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// An entry's field/value pairs, flat: field, value, field, value, ….
pub type Fields = Box<[Box<[u8]>]>;

/// A pending entry (a NACK): delivered to a consumer, not acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The consumer that owns it.
    pub consumer: Box<[u8]>,
    /// When it was last delivered, in ms since the epoch.
    pub delivery_time: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Consumer {
    /// When it last read or claimed, in ms since the epoch.
    pub seen_time: u64,
    /// The IDs it owns in the group's PEL.
    pub pending: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    /// The last ID delivered to a consumer.
    pub last_id: StreamId,
    /// The logical read counter (`entries-read`); `None` when unknown.
    pub entries_read: Option<u64>,
    /// The pending entries list: ID → owner, delivery time and count.
    pub pel: BTreeMap<StreamId, Pending>,
    /// The consumers, by name.
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    /// Removes `id` from the PEL and its owner's pending set.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pending.remove(&id);
        }
        true
    }

    /// Gives the pending entry `id` to `consumer` (creating the NACK when
    /// there is none), as XREADGROUP and XCLAIM do.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], now: u64) -> &mut Pending {
        if let Some(old) = self.pel.get(&id).map(|p| p.consumer.clone())
            && *old != *consumer
            && let Some(c) = self.consumers.get_mut(&old)
        {
            c.pending.remove(&id);
        }
        self.consumers
            .entry(consumer.into())
            .or_default()
            .pending
            .insert(id);
        let nack = self.pel.entry(id).or_insert(Pending {
            consumer: consumer.into(),
            delivery_time: now,
            delivery_count: 0,
        });
        nack.consumer = consumer.into();
        nack
    }
}

/// One macro node of the model: live and deleted entries, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Node {
    live: u64,
    total: u64,
    bytes: u64,
}

/// Which end a trim keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Keep entries with IDs from this one on.
    MinId(StreamId),
}

/// Node limits: `stream-node-max-entries` and `stream-node-max-bytes`.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    /// Entries per node (0: no limit).
    pub entries: u64,
    /// Bytes per node (0: the listpack maximum).
    pub bytes: u64,
}

impl Default for NodeLimits {
    fn default() -> NodeLimits {
        NodeLimits {
            entries: 100,
            bytes: 4096,
        }
    }
}

/// A stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stream {
    entries: BTreeMap<StreamId, Fields>,
    nodes: BTreeMap<StreamId, Node>,
    /// The last ID added (or set by XSETID).
    pub last_id: StreamId,
    /// The first entry's ID as Redis records it (`recorded-first-entry-id`).
    pub first_id: StreamId,
    /// Entries ever added (`entries-added`).
    pub entries_added: u64,
    /// The largest ID XDEL removed (`max-deleted-entry-id`).
    pub max_deleted: StreamId,
    /// The consumer groups, by name.
    pub groups: BTreeMap<Box<[u8]>, Group>,
    bytes: usize,
}

/// Bytes counted per entry on top of its fields: the tree slot, the ID,
/// the boxed slice and allocation headers.
const ENTRY_OVERHEAD: usize = 64;

fn fields_bytes(fields: &[Box<[u8]>]) -> usize {
    fields.iter().map(|f| f.len() + 16).sum()
}

impl Stream {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no entry (an empty stream is still a value).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry `id`'s fields.
    pub fn get(&self, id: StreamId) -> Option<&Fields> {
        self.entries.get(&id)
    }

    /// Entries from `start` to `end` inclusive, forward or reversed.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (StreamId, &Fields)> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let it = self.entries.range(start..=end).map(|(k, v)| (*k, v));
        if rev {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// The first and last entries.
    pub fn first_entry(&self) -> Option<(StreamId, &Fields)> {
        self.entries.first_key_value().map(|(k, v)| (*k, v))
    }

    /// The last entry.
    pub fn last_entry(&self) -> Option<(StreamId, &Fields)> {
        self.entries.last_key_value().map(|(k, v)| (*k, v))
    }

    /// Number of macro nodes (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Approximate bytes held, for MEMORY USAGE and eviction.
    pub fn mem_size(&self) -> usize {
        let groups: usize = self
            .groups
            .iter()
            .map(|(n, g)| 96 + n.len() + g.pel.len() * 80 + g.consumers.len() * 64)
            .sum();
        self.bytes + groups + self.nodes.len() * 32
    }

    /// The ID XADD would give with `*` at `now_ms`; `None` when the
    /// stream has used the last possible ID.
    pub fn next_auto_id(&self, now_ms: u64) -> Option<StreamId> {
        if now_ms > self.last_id.ms {
            Some(StreamId::new(now_ms, 0))
        } else {
            self.last_id.next()
        }
    }

    /// Appends an entry whose ID is greater than [`Stream::last_id`] (the
    /// caller checked).
    pub fn append(&mut self, id: StreamId, fields: Fields, limits: NodeLimits) {
        let cost = 4 + fields.iter().map(|f| f.len() as u64 + 1).sum::<u64>();
        let max_bytes = if limits.bytes == 0 || limits.bytes > 1 << 30 {
            1 << 30
        } else {
            limits.bytes
        };
        let fits = self.nodes.last_key_value().is_some_and(|(_, n)| {
            n.bytes + cost < max_bytes && (limits.entries == 0 || n.total < limits.entries)
        });
        if !fits {
            self.nodes.insert(id, Node::default());
        }
        if let Some(mut node) = self.nodes.last_entry() {
            let node = node.get_mut();
            node.live += 1;
            node.total += 1;
            node.bytes += cost;
        }
        self.bytes += ENTRY_OVERHEAD + fields_bytes(&fields);
        self.entries.insert(id, fields);
        self.entries_added += 1;
        self.last_id = id;
        if self.entries.len() == 1 {
            self.first_id = id;
        }
    }

    /// Removes one entry, keeping the node model; true when it was there.
    fn remove_entry(&mut self, id: StreamId) -> bool {
        let Some(fields) = self.entries.remove(&id) else {
            return false;
        };
        self.bytes -= ENTRY_OVERHEAD + fields_bytes(&fields);
        if let Some((&key, node)) = self.nodes.range_mut(..=id).next_back() {
            node.live -= 1;
            if node.live == 0 {
                self.nodes.remove(&key);
            }
        }
        true
    }

    /// XDEL: deletes `ids`, answering how many were there.
    pub fn delete(&mut self, ids: &[StreamId]) -> usize {
        let mut deleted = 0;
        let mut first = false;
        for &id in ids {
            if self.remove_entry(id) {
                deleted += 1;
                first |= id == self.first_id;
                if id > self.max_deleted {
                    self.max_deleted = id;
                }
            }
        }
        if first {
            self.first_id = self.entries.keys().next().copied().unwrap_or(StreamId::MAX);
        }
        deleted
    }

    /// Trims from the head as Redis's `streamTrim` does: whole nodes
    /// first; with `approx`, only whole nodes; `limit` (0: none) caps the
    /// entries removed. Answers how many entries were removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some((&key, &node)) = self.nodes.first_key_value() {
            if let Trim::MaxLen(max) = how
                && self.len() as u64 <= max
            {
                break;
            }
            if limit > 0 && deleted + node.live > limit {
                break;
            }
            let next_key = self.nodes.range(key..).nth(1).map(|(k, _)| *k);
            let node_ids: Vec<StreamId> = match next_key {
                Some(next) => self.entries.range(key..next).map(|(k, _)| *k).collect(),
                None => self.entries.range(key..).map(|(k, _)| *k).collect(),
            };
            let whole = match how {
                Trim::MaxLen(max) => self.len() as u64 - node.live >= max,
                Trim::MinId(min) => node_ids.last().is_some_and(|last| *last < min),
            };
            if whole {
                for id in node_ids {
                    self.remove_entry(id);
                }
                // A node of only deleted entries is gone already.
                self.nodes.remove(&key);
                deleted += node.live;
                continue;
            }
            if approx {
                break;
            }
            for id in node_ids {
                let stop = match how {
                    Trim::MaxLen(max) => self.len() as u64 <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.remove_entry(id);
                deleted += 1;
            }
            break;
        }
        if self.entries.is_empty() {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = *self.entries.keys().next().unwrap_or(&StreamId::MIN);
        }
        deleted
    }

    /// Whether an XDEL tombstone may lie between `start` and the end
    /// (Redis's `streamRangeHasTombstones` with no end).
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.is_empty() || self.max_deleted == StreamId::MIN {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the logical
    /// read counter of `id`, `None` when it cannot be known.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.is_empty() && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let len = self.len() as u64;
        if self.max_deleted == StreamId::MIN || self.max_deleted < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added - len);
            }
            if id == self.first_id {
                return Some(self.entries_added - len + 1);
            }
        }
        None
    }

    /// A group's lag as XINFO reports it (`None`: unknown).
    pub fn lag(&self, group: &Group) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = group.entries_read
            && !self.has_tombstones_from(group.last_id)
        {
            return Some(self.entries_added.saturating_sub(read));
        }
        self.estimate_entries_read(group.last_id)
            .map(|read| self.entries_added.saturating_sub(read))
    }

    /// Records that `group` delivered `id` (greater than its last ID):
    /// advances the read counter and the last delivered ID.
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let tombstones = self.has_tombstones_from(id);
        let estimate = self.estimate_entries_read(id);
        let added = self.entries_added;
        let Some(group) = self.groups.get_mut(name) else {
            return;
        };
        if id <= group.last_id {
            return;
        }
        match group.entries_read {
            Some(read) if !tombstones => group.entries_read = Some(read + 1),
            _ if added > 0 => group.entries_read = estimate,
            _ => {}
        }
        group.last_id = id;
    }

    /// Every entry, for persistence: `(id, fields)` in order.
    pub fn entries(&self) -> impl Iterator<Item = (StreamId, &Fields)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &str) -> Fields {
        vec![b"f".to_vec().into_boxed_slice(), v.as_bytes().into()].into_boxed_slice()
    }

    fn limits(entries: u64) -> NodeLimits {
        NodeLimits {
            entries,
            bytes: 4096,
        }
    }

    #[test]
    fn ids_parse_order_and_step() {
        assert_eq!(
            StreamId::parse(b"5-3", 0, false),
            Some((StreamId::new(5, 3), true))
        );
        assert_eq!(
            StreamId::parse(b"5", u64::MAX, false),
            Some((StreamId::new(5, u64::MAX), true))
        );
        assert_eq!(
            StreamId::parse(b"5-*", 0, true),
            Some((StreamId::new(5, 0), false))
        );
        assert_eq!(StreamId::parse(b"5-*", 0, false), None);
        for bad in [
            &b""[..],
            b"-",
            b"a-1",
            b"1-",
            b"+1",
            b"1-2-3",
            b"18446744073709551616",
        ] {
            assert_eq!(StreamId::parse(bad, 0, false), None, "{bad:?}");
        }
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
        assert_eq!(StreamId::new(1, 2).to_string(), "1-2");
    }

    #[test]
    fn approximate_trim_removes_whole_nodes_only() {
        let mut s = Stream::default();
        for i in 1..=1000 {
            s.append(StreamId::new(i, 0), fields("x"), limits(100));
        }
        assert_eq!(s.node_count(), 10);
        assert_eq!(s.trim(Trim::MaxLen(555), true, 10_000), 400);
        assert_eq!(s.len(), 600);
        assert_eq!(s.trim(Trim::MaxLen(555), false, 0), 45);
        assert_eq!(s.len(), 555);
        assert_eq!(s.first_id, StreamId::new(446, 0));
        // LIMIT stops before a node it cannot remove whole.
        assert_eq!(s.trim(Trim::MaxLen(0), true, 50), 0);
        assert_eq!(s.trim(Trim::MinId(StreamId::new(700, 0)), false, 0), 254);
        assert_eq!(s.first_entry().unwrap().0, StreamId::new(700, 0));
    }

    #[test]
    fn delete_tracks_first_and_max_deleted_and_nodes() {
        let mut s = Stream::default();
        for i in 1..=3 {
            s.append(StreamId::new(i, 0), fields("v"), limits(2));
        }
        assert_eq!(s.node_count(), 2);
        assert_eq!(s.delete(&[StreamId::new(2, 0), StreamId::new(9, 0)]), 1);
        assert_eq!(s.max_deleted, StreamId::new(2, 0));
        assert_eq!(s.first_id, StreamId::new(1, 0));
        assert_eq!(s.delete(&[StreamId::new(1, 0)]), 1);
        assert_eq!(s.first_id, StreamId::new(3, 0));
        assert_eq!(s.node_count(), 1);
        assert_eq!(s.max_deleted, StreamId::new(2, 0));
        assert_eq!(s.entries_added, 3);
    }

    #[test]
    fn group_lag_follows_redis_7_0() {
        let mut s = Stream::default();
        for i in 1..=5 {
            s.append(StreamId::new(i, 0), fields("v"), limits(100));
        }
        s.groups.insert((*b"g").into(), Group::default());
        assert_eq!(s.lag(&s.groups[&b"g"[..]]), Some(5));
        s.advance_group(b"g", StreamId::new(1, 0));
        let g = &s.groups[&b"g"[..]];
        assert_eq!((g.entries_read, s.lag(g)), (Some(1), Some(4)));
        // A tombstone ahead makes the counter unknowable.
        s.delete(&[StreamId::new(3, 0)]);
        s.groups.get_mut(&b"g"[..]).unwrap().entries_read = None;
        assert_eq!(s.lag(&s.groups[&b"g"[..]]), None);
    }

    #[test]
    fn pending_entries_move_between_consumers() {
        let mut g = Group::default();
        let id = StreamId::new(1, 0);
        g.assign(id, b"alice", 10).delivery_count += 1;
        g.assign(id, b"bob", 20).delivery_count += 1;
        assert!(g.consumers[&b"alice"[..]].pending.is_empty());
        assert!(g.consumers[&b"bob"[..]].pending.contains(&id));
        assert_eq!(g.pel[&id].delivery_count, 2);
        assert!(g.ack(id));
        assert!(!g.ack(id));
        assert!(g.consumers[&b"bob"[..]].pending.is_empty());
    }

    #[test]
    fn codec_round_trips_and_refuses_garbage() {
        let mut s = Stream::default();
        for i in 1..=5 {
            s.append(StreamId::new(i, 0), fields("v"), limits(100));
        }
        s.delete(&[StreamId::new(2, 0)]);
        let mut g = Group::default();
        g.assign(StreamId::new(1, 0), b"alice", 7).delivery_count = 3;
        g.consumers.insert((*b"bob").into(), Consumer::default());
        g.entries_read = Some(1);
        s.groups.insert((*b"g").into(), g);
        s.groups.insert((*b"h").into(), Group::default());
        let mut out = Vec::new();
        codec::encode(&mut out, &s);
        let mut bytes = &out[..];
        let back = codec::decode(&mut bytes).unwrap();
        assert!(bytes.is_empty());
        assert_eq!(
            back.entries().collect::<Vec<_>>(),
            s.entries().collect::<Vec<_>>()
        );
        assert_eq!(back.groups, s.groups);
        assert_eq!(
            (
                back.last_id,
                back.first_id,
                back.entries_added,
                back.max_deleted
            ),
            (s.last_id, s.first_id, s.entries_added, s.max_deleted)
        );
        for cut in 0..out.len() {
            let mut bytes = &out[..cut];
            assert!(codec::decode(&mut bytes).is_none(), "cut at {cut}");
        }
    }
}
