//! Pub/sub channels and patterns, shared by every protocol.
//!
//! A subscriber is a bounded queue plus a "kick" token: publishing never
//! waits (`try_send`); a subscriber whose queue is full is too slow, is
//! removed, and its kick token tells its connection to close — the same
//! policy as [`crate::hub`] for native pushes.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::glob;

/// A message delivered to a subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The pattern that matched, for pattern subscriptions.
    pub pattern: Option<Bytes>,
    /// The channel published to.
    pub channel: Bytes,
    /// The payload.
    pub payload: Bytes,
}

/// One subscribing connection's mailbox.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// Unique per connection.
    pub id: u64,
    tx: mpsc::Sender<Message>,
    kick: CancellationToken,
}

impl Subscriber {
    /// A mailbox holding up to `limit` messages; returns the receiving end
    /// and the token cancelled when the subscriber is dropped for slowness.
    pub fn new(id: u64, limit: usize) -> (Subscriber, mpsc::Receiver<Message>, CancellationToken) {
        let (tx, rx) = mpsc::channel(limit.max(1));
        let kick = CancellationToken::new();
        (
            Subscriber {
                id,
                tx,
                kick: kick.clone(),
            },
            rx,
            kick,
        )
    }
}

type Subs = HashMap<Bytes, HashMap<u64, Subscriber>>;

/// The channel registry.
#[derive(Default)]
pub struct PubSub {
    inner: RwLock<(Subs, Subs)>,
    dropped_slow: AtomicU64,
}

impl PubSub {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, (Subs, Subs)> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (Subs, Subs)> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscribes to a channel (`pattern` false) or pattern.
    pub fn subscribe(&self, sub: &Subscriber, name: Bytes, pattern: bool) {
        let mut inner = self.write();
        let map = if pattern { &mut inner.1 } else { &mut inner.0 };
        map.entry(name).or_default().insert(sub.id, sub.clone());
    }

    /// Unsubscribes from a channel or pattern.
    pub fn unsubscribe(&self, id: u64, name: &[u8], pattern: bool) {
        let mut inner = self.write();
        let map = if pattern { &mut inner.1 } else { &mut inner.0 };
        if let Some(subs) = map.get_mut(name) {
            subs.remove(&id);
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Publishes; returns how many subscriptions received the message.
    pub fn publish(&self, channel: &[u8], payload: &Bytes) -> usize {
        let mut slow = Vec::new();
        let mut delivered = 0;
        {
            let inner = self.read();
            let channel_bytes = Bytes::copy_from_slice(channel);
            let mut send = |sub: &Subscriber, pattern: Option<&Bytes>| {
                let msg = Message {
                    pattern: pattern.cloned(),
                    channel: channel_bytes.clone(),
                    payload: payload.clone(),
                };
                match sub.tx.try_send(msg) {
                    Ok(()) => delivered += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => slow.push(sub.clone()),
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            };
            if let Some(subs) = inner.0.get(channel) {
                subs.values().for_each(|s| send(s, None));
            }
            for (pattern, subs) in &inner.1 {
                if glob::matches(pattern, channel) {
                    subs.values().for_each(|s| send(s, Some(pattern)));
                }
            }
        }
        // Slow subscribers are cut off: they would otherwise hold memory
        // without bound or slow every publisher.
        for sub in slow {
            self.dropped_slow.fetch_add(1, Ordering::Relaxed);
            sub.kick.cancel();
            self.remove_all(sub.id);
        }
        delivered
    }

    /// Removes every subscription of a subscriber.
    pub fn remove_all(&self, id: u64) {
        let mut inner = self.write();
        let (channels, patterns) = &mut *inner;
        for map in [channels, patterns] {
            map.retain(|_, subs| {
                subs.remove(&id);
                !subs.is_empty()
            });
        }
    }

    /// Active channels, optionally matching a glob.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.read()
            .0
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c)))
            .cloned()
            .collect()
    }

    /// Subscribers of a channel (not counting patterns).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.read().0.get(channel).map_or(0, HashMap::len)
    }

    /// Number of channels with subscribers.
    pub fn channel_count(&self) -> usize {
        self.read().0.len()
    }

    /// Number of patterns subscribed to.
    pub fn pattern_count(&self) -> usize {
        self.read().1.len()
    }

    /// Number of distinct subscribing connections.
    pub fn subscriber_count(&self) -> usize {
        let inner = self.read();
        inner
            .0
            .values()
            .chain(inner.1.values())
            .flat_map(|s| s.keys())
            .collect::<HashSet<_>>()
            .len()
    }

    /// Subscribers cut off for slowness since start.
    pub fn dropped_slow(&self) -> u64 {
        self.dropped_slow.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_patterns_deliver() {
        let ps = PubSub::default();
        let (a, mut a_rx, _) = Subscriber::new(1, 8);
        let (b, mut b_rx, _) = Subscriber::new(2, 8);
        ps.subscribe(&a, Bytes::from_static(b"news"), false);
        ps.subscribe(&b, Bytes::from_static(b"n*"), true);
        assert_eq!(ps.publish(b"news", &Bytes::from_static(b"hi")), 2);
        assert_eq!(a_rx.try_recv().unwrap().payload, "hi");
        let m = b_rx.try_recv().unwrap();
        assert_eq!(m.pattern.as_deref(), Some(&b"n*"[..]));
        assert_eq!(ps.numsub(b"news"), 1);
        assert_eq!(ps.pattern_count(), 1);
        assert_eq!(ps.subscriber_count(), 2);
        ps.unsubscribe(1, b"news", false);
        assert_eq!(ps.publish(b"news", &Bytes::new()), 1);
        assert!(ps.channels(None).is_empty());
    }

    #[test]
    fn slow_subscriber_is_kicked() {
        let ps = PubSub::default();
        let (slow, _rx, kick) = Subscriber::new(1, 2);
        let (fast, mut fast_rx, fast_kick) = Subscriber::new(2, 64);
        ps.subscribe(&slow, Bytes::from_static(b"c"), false);
        ps.subscribe(&fast, Bytes::from_static(b"c"), false);
        for _ in 0..10 {
            ps.publish(b"c", &Bytes::from_static(b"x"));
        }
        assert!(kick.is_cancelled());
        assert!(!fast_kick.is_cancelled());
        assert_eq!(ps.numsub(b"c"), 1);
        assert_eq!(std::iter::from_fn(|| fast_rx.try_recv().ok()).count(), 10);
    }
}
