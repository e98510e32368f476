//! Hinted handoff: the states a replica did not acknowledge, kept by the
//! node that sent them and replayed when gossip shows the replica alive
//! again (`replicate.rs` runs the replay every 200 ms).
//!
//! Per replica, one hint per key: a newer state replaces an older one, so
//! a key written a thousand times while its replica was away is one
//! hint. Bounded: past [`MAX_HINTS`] hints or [`MAX_HINT_BYTES`] bytes
//! in all, new hints are dropped and counted (that replica then catches
//! up on those keys by read repair). Hints live in memory only: a
//! coordinator that dies loses its hints.

use std::collections::HashMap;
use std::sync::Mutex;

use super::versions::Item;

/// The most hints kept, over all replicas.
pub const MAX_HINTS: usize = 1_000_000;

/// The most bytes of hints kept, over all replicas.
pub const MAX_HINT_BYTES: usize = 256 * 1024 * 1024;

#[derive(Default)]
struct Inner {
    nodes: HashMap<String, HashMap<Vec<u8>, Item>>,
    count: usize,
    bytes: usize,
    dropped: u64,
}

/// The hints of one node, for the others.
#[derive(Default)]
pub struct Hints {
    inner: Mutex<Inner>,
    limits: Option<(usize, usize)>,
}

impl Hints {
    /// Hints with other bounds (count, bytes), for tests.
    #[cfg(test)]
    fn bounded(count: usize, bytes: usize) -> Hints {
        Hints {
            limits: Some((count, bytes)),
            ..Hints::default()
        }
    }

    fn limits(&self) -> (usize, usize) {
        self.limits.unwrap_or((MAX_HINTS, MAX_HINT_BYTES))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `items` for `node` (where newer than what is kept); returns
    /// how many were dropped for the bounds.
    pub fn add(&self, node: &str, items: &[Item]) -> usize {
        let (max_count, max_bytes) = self.limits();
        let mut inner = self.lock();
        let Inner {
            nodes,
            count,
            bytes,
            dropped,
        } = &mut *inner;
        let kept = nodes.entry(node.to_owned()).or_default();
        let mut lost = 0;
        for item in items {
            match kept.get_mut(&item.key) {
                Some(old) if item.newer_than(old) => {
                    *bytes = *bytes - old.size() + item.size();
                    *old = item.clone();
                }
                Some(_) => {}
                None if *count < max_count && *bytes + item.size() <= max_bytes => {
                    *count += 1;
                    *bytes += item.size();
                    kept.insert(item.key.clone(), item.clone());
                }
                None => lost += 1,
            }
        }
        if kept.is_empty() {
            nodes.remove(node);
        }
        if lost > 0 {
            if *dropped == 0 {
                tracing::warn!(
                    node,
                    max_count,
                    max_bytes,
                    "hinted handoff full: writes for a replica that is away are dropped (read repair catches it up)"
                );
            }
            *dropped += lost as u64;
        }
        lost
    }

    /// Up to `max` hints for `node`, still kept (so [`Hints::pending`]
    /// counts them while they are sent); [`Hints::sent`] drops them once
    /// acknowledged.
    pub fn peek(&self, node: &str, max: usize) -> Vec<Item> {
        self.lock()
            .nodes
            .get(node)
            .map(|kept| kept.values().take(max).cloned().collect())
            .unwrap_or_default()
    }

    /// Drops the hints `items` of `node` that were acknowledged (unless a
    /// newer state replaced one meanwhile).
    pub fn sent(&self, node: &str, items: &[Item]) {
        let mut inner = self.lock();
        let Inner {
            nodes,
            count,
            bytes,
            ..
        } = &mut *inner;
        let Some(kept) = nodes.get_mut(node) else {
            return;
        };
        for item in items {
            if kept.get(&item.key).is_some_and(|k| k == item) {
                kept.remove(&item.key);
                *count -= 1;
                *bytes -= item.size();
            }
        }
        if kept.is_empty() {
            nodes.remove(node);
        }
    }

    /// Takes up to `max` hints for `node`.
    pub fn take(&self, node: &str, max: usize) -> Vec<Item> {
        let mut inner = self.lock();
        let Some(kept) = inner.nodes.get_mut(node) else {
            return Vec::new();
        };
        let keys: Vec<Vec<u8>> = kept.keys().take(max).cloned().collect();
        let items: Vec<Item> = keys.iter().filter_map(|k| kept.remove(k)).collect();
        if kept.is_empty() {
            inner.nodes.remove(node);
        }
        inner.count -= items.len();
        inner.bytes -= items.iter().map(Item::size).sum::<usize>();
        items
    }

    /// The nodes that have hints.
    pub fn nodes(&self) -> Vec<String> {
        self.lock().nodes.keys().cloned().collect()
    }

    /// Hints kept, over all nodes.
    pub fn pending(&self) -> usize {
        self.lock().count
    }

    /// Hints kept for `node`.
    pub fn pending_for(&self, node: &str) -> usize {
        self.lock().nodes.get(node).map_or(0, HashMap::len)
    }

    /// Hints dropped for the bounds since the start.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::hlc::Version;
    use crate::cluster::versions::State;

    fn item(key: &str, version: u64, value: usize) -> Item {
        Item {
            key: key.as_bytes().to_vec(),
            version: Version(version, 1),
            state: Some(State {
                dump: vec![7; value],
                expire_at: 0,
            }),
        }
    }

    #[test]
    fn one_hint_per_key_the_newest() {
        let hints = Hints::default();
        hints.add("b", &[item("k", 1, 10), item("j", 1, 10)]);
        hints.add("b", &[item("k", 3, 10)]);
        hints.add("b", &[item("k", 2, 10)]);
        hints.add("c", &[item("k", 1, 10)]);
        assert_eq!(hints.pending(), 3);
        assert_eq!(hints.pending_for("b"), 2);
        let mut nodes = hints.nodes();
        nodes.sort();
        assert_eq!(nodes, ["b", "c"]);
        let mut taken = hints.take("b", 10);
        taken.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[1].version, Version(3, 1));
        assert_eq!(hints.pending(), 1);
        assert!(hints.take("b", 10).is_empty());
        assert_eq!(hints.take("c", 1).len(), 1);
        assert!(hints.nodes().is_empty());
    }

    #[test]
    fn sent_hints_are_dropped_unless_replaced_meanwhile() {
        let hints = Hints::default();
        hints.add("b", &[item("k", 1, 10), item("j", 1, 10)]);
        let batch = hints.peek("b", 10);
        assert_eq!((batch.len(), hints.pending()), (2, 2));
        hints.add("b", &[item("k", 2, 10)]);
        hints.sent("b", &batch);
        let left = hints.peek("b", 10);
        assert_eq!(left, [item("k", 2, 10)]);
        assert_eq!(hints.pending(), 1);
        hints.sent("b", &left);
        assert_eq!(hints.pending(), 0);
        assert!(hints.nodes().is_empty());
    }

    #[test]
    fn past_the_bounds_hints_are_dropped_and_counted() {
        let hints = Hints::bounded(2, 1_000);
        assert_eq!(
            hints.add("b", &[item("a", 1, 1), item("b", 1, 1), item("c", 1, 1)]),
            1
        );
        assert_eq!((hints.pending(), hints.dropped()), (2, 1));
        // A newer state of a kept key still replaces it.
        assert_eq!(hints.add("b", &[item("a", 2, 1)]), 0);
        let by_bytes = Hints::bounded(100, 200);
        assert_eq!(
            by_bytes.add("b", &[item("big", 1, 150), item("more", 1, 150)]),
            1
        );
        assert_eq!(by_bytes.pending(), 1);
        // Taking frees room.
        by_bytes.take("b", 1);
        assert_eq!(by_bytes.add("b", &[item("more", 1, 150)]), 0);
    }
}
