//! Pub/sub channels and patterns, shared by every protocol.
//!
//! A subscriber is a queue plus a "kick" token: publishing never waits; the
//! bytes waiting are judged by the same [`PushLimits`] as native pushes
//! (Redis's pub/sub output-buffer rule), and a subscriber past them is too
//! slow, is removed, and its kick token tells its connection to close.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cmd::{self, is, lossy};
use super::glob;
use super::reply::Reply;
use crate::session::{Backlog, PushLimits};

/// A message delivered to a subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The pattern that matched, for pattern subscriptions.
    pub pattern: Option<Bytes>,
    /// The channel published to.
    pub channel: Bytes,
    /// The payload.
    pub payload: Bytes,
    /// Published with SPUBLISH to a shard channel (sent as `smessage`).
    pub shard: bool,
    /// Not a message: the server ended this shard subscription, its slot
    /// having moved to another node ([`PubSub::end_shard_channels`]); sent
    /// as a `sunsubscribe` push, as Redis 7 does.
    pub ended: bool,
}

/// One subscribing connection: a RESP connection's bounded mailbox, or a
/// native session that takes messages directly (see [`Subscriber::direct`]).
#[derive(Clone)]
pub struct Subscriber {
    /// Unique per connection (RESP client ids and native session ids live
    /// in separate ranges, see [`native_id`]).
    pub id: u64,
    sink: Sink,
}

/// Delivers one message without waiting; `Err` means "too slow" (the
/// sink has already arranged for its connection to close).
pub type DirectSink = std::sync::Arc<dyn Fn(&Message) -> Result<(), Slow> + Send + Sync>;

/// A direct sink refused a message because its connection is too slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slow;

#[derive(Clone)]
enum Sink {
    Queue {
        tx: mpsc::UnboundedSender<Message>,
        backlog: Arc<Backlog>,
        kick: CancellationToken,
    },
    Direct(DirectSink),
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber").field("id", &self.id).finish()
    }
}

/// The pub/sub id of a native session: the session id with the top bit
/// set, so it never collides with a RESP client id.
pub fn native_id(session_id: u64) -> u64 {
    session_id | 1 << 63
}

impl Subscriber {
    /// A mailbox whose waiting bytes are held to `limits`; returns the
    /// receiving end and the token cancelled when the subscriber is dropped
    /// for slowness.
    pub fn new(id: u64, limits: PushLimits) -> (Subscriber, Mailbox, CancellationToken) {
        let (tx, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(Backlog::new(limits));
        let kick = CancellationToken::new();
        (
            Subscriber {
                id,
                sink: Sink::Queue {
                    tx,
                    backlog: backlog.clone(),
                    kick: kick.clone(),
                },
            },
            Mailbox { rx, backlog },
            kick,
        )
    }

    /// A subscriber that hands each message to `sink` (a native session
    /// encodes it and queues it with its own byte limits).
    pub fn direct(id: u64, sink: DirectSink) -> Subscriber {
        Subscriber {
            id,
            sink: Sink::Direct(sink),
        }
    }
}

/// The receiving end of a [`Subscriber::new`] mailbox.
pub struct Mailbox {
    rx: mpsc::UnboundedReceiver<Message>,
    backlog: Arc<Backlog>,
}

impl Mailbox {
    /// The next message, or `None` when every sender is gone.
    pub async fn recv(&mut self) -> Option<Message> {
        let msg = self.rx.recv().await?;
        self.backlog.remove(msg.size());
        Some(msg)
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<Message> {
        let msg = self.rx.try_recv().ok()?;
        self.backlog.remove(msg.size());
        Some(msg)
    }
}

impl Message {
    /// What the message counts for against the subscriber's limits: its
    /// bytes plus framing overhead.
    fn size(&self) -> usize {
        // An ended subscription is not counted ([`PubSub::end_shard_channels`]).
        if self.ended {
            return 0;
        }
        self.channel.len() + self.payload.len() + self.pattern.as_ref().map_or(0, Bytes::len) + 32
    }
}

type Subs = HashMap<Bytes, HashMap<u64, Subscriber>>;

/// One message on its way to subscribers: who got it, who was too slow.
struct Offer<'a> {
    channel: Bytes,
    payload: &'a Bytes,
    shard: bool,
    now: u64,
    delivered: usize,
    slow: Vec<Subscriber>,
}

impl<'a> Offer<'a> {
    fn new(channel: &[u8], payload: &'a Bytes, shard: bool) -> Offer<'a> {
        Offer {
            channel: Bytes::copy_from_slice(channel),
            payload,
            shard,
            now: crate::now_ms(),
            delivered: 0,
            slow: Vec::new(),
        }
    }

    /// Hands the message to one subscriber without waiting.
    fn send(&mut self, sub: &Subscriber, pattern: Option<&Bytes>) {
        let msg = Message {
            pattern: pattern.cloned(),
            channel: self.channel.clone(),
            payload: self.payload.clone(),
            shard: self.shard,
            ended: false,
        };
        match &sub.sink {
            Sink::Queue { tx, backlog, .. } => {
                let len = msg.size();
                if backlog.add(len, self.now).is_err() {
                    self.slow.push(sub.clone());
                } else if tx.send(msg).is_ok() {
                    self.delivered += 1;
                } else {
                    backlog.remove(len);
                }
            }
            Sink::Direct(f) => match f(&msg) {
                Ok(()) => self.delivered += 1,
                Err(Slow) => self.slow.push(sub.clone()),
            },
        }
    }
}

/// Hands a message published here to the other nodes of a cluster
/// (`cluster::fanout`); never waits.
pub type Forward = Arc<dyn Fn(&[u8], &Bytes) + Send + Sync>;

/// The channel registry.
#[derive(Default)]
pub struct PubSub {
    inner: RwLock<(Subs, Subs)>,
    /// Shard channels (SSUBSCRIBE), a namespace of their own.
    shard: RwLock<Subs>,
    dropped_slow: AtomicU64,
    /// Set in a cluster: every message published here goes to the other
    /// nodes too.
    forward: std::sync::OnceLock<Forward>,
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

    /// Publishes to this node's subscribers and, in a cluster, to the
    /// other nodes'; returns how many subscriptions received the message
    /// here (as Redis Cluster's PUBLISH counts only the node's own).
    pub fn publish(&self, channel: &[u8], payload: &Bytes) -> usize {
        let delivered = self.publish_local(channel, payload);
        if let Some(forward) = self.forward.get() {
            forward(channel, payload);
        }
        delivered
    }

    /// Sends every later [`PubSub::publish`] to `forward` as well (once;
    /// a second call is ignored).
    pub fn set_forward(&self, forward: Forward) {
        let _ = self.forward.set(forward);
    }

    /// Publishes to this node's subscribers only (a message another node
    /// forwarded); returns how many received it.
    pub fn publish_local(&self, channel: &[u8], payload: &Bytes) -> usize {
        let mut offer = Offer::new(channel, payload, false);
        {
            let inner = self.read();
            if let Some(subs) = inner.0.get(channel) {
                subs.values().for_each(|s| offer.send(s, None));
            }
            for (pattern, subs) in &inner.1 {
                if glob::matches(pattern, channel) {
                    subs.values().for_each(|s| offer.send(s, Some(pattern)));
                }
            }
        }
        self.settle(offer)
    }

    /// SPUBLISH: to this node's subscribers of the shard channel (no
    /// patterns); returns how many received it.
    pub fn spublish(&self, channel: &[u8], payload: &Bytes) -> usize {
        let mut offer = Offer::new(channel, payload, true);
        if let Some(subs) = self.shard_read().get(channel) {
            subs.values().for_each(|s| offer.send(s, None));
        }
        self.settle(offer)
    }

    /// Cuts off the subscribers an offer found too slow: they would
    /// otherwise hold memory without bound or slow every publisher.
    fn settle(&self, offer: Offer) -> usize {
        for sub in offer.slow {
            self.dropped_slow.fetch_add(1, Ordering::Relaxed);
            if let Sink::Queue { kick, .. } = &sub.sink {
                kick.cancel();
            }
            self.remove_all(sub.id);
        }
        offer.delivered
    }

    fn shard_read(&self) -> std::sync::RwLockReadGuard<'_, Subs> {
        self.shard.read().unwrap_or_else(|p| p.into_inner())
    }

    fn shard_write(&self) -> std::sync::RwLockWriteGuard<'_, Subs> {
        self.shard.write().unwrap_or_else(|p| p.into_inner())
    }

    /// SSUBSCRIBE to one shard channel.
    pub fn ssubscribe(&self, sub: &Subscriber, name: Bytes) {
        self.shard_write()
            .entry(name)
            .or_default()
            .insert(sub.id, sub.clone());
    }

    /// SUNSUBSCRIBE from one shard channel.
    pub fn sunsubscribe(&self, id: u64, name: &[u8]) {
        let mut shard = self.shard_write();
        if let Some(subs) = shard.get_mut(name) {
            subs.remove(&id);
            if subs.is_empty() {
                shard.remove(name);
            }
        }
    }

    /// Ends every shard subscription to a channel `gone` picks (its slot
    /// is no longer this node's): each subscriber is told with a
    /// `sunsubscribe` push ([`Message::ended`]) and SPUBLISH here no longer
    /// reaches it, as Redis 7 does when a slot moves; cluster clients then
    /// subscribe again at the new owner. How many subscriptions ended.
    pub fn end_shard_channels(&self, gone: impl Fn(&[u8]) -> bool) -> usize {
        let ended: Vec<(Bytes, HashMap<u64, Subscriber>)> = {
            let mut shard = self.shard_write();
            let names: Vec<Bytes> = shard.keys().filter(|c| gone(c)).cloned().collect();
            names
                .into_iter()
                .filter_map(|name| shard.remove(&name).map(|subs| (name, subs)))
                .collect()
        };
        let mut count = 0;
        for (channel, subs) in ended {
            for sub in subs.values() {
                count += 1;
                let msg = Message {
                    pattern: None,
                    channel: channel.clone(),
                    payload: Bytes::new(),
                    shard: true,
                    ended: true,
                };
                // Not counted against the output limits: a few bytes,
                // once per subscription.
                match &sub.sink {
                    Sink::Queue { tx, .. } => {
                        let _ = tx.send(msg);
                    }
                    Sink::Direct(f) => {
                        let _ = f(&msg);
                    }
                }
            }
        }
        count
    }

    /// Active shard channels, optionally matching a glob.
    pub fn shard_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.shard_read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c)))
            .cloned()
            .collect()
    }

    /// Removes every subscription of a subscriber.
    pub fn remove_all(&self, id: u64) {
        let mut inner = self.write();
        let (channels, patterns) = &mut *inner;
        let mut shard = self.shard_write();
        for map in [channels, patterns, &mut *shard] {
            map.retain(|_, subs| {
                subs.remove(&id);
                !subs.is_empty()
            });
        }
    }

    /// The channels and patterns one subscriber follows, sorted.
    pub fn subscriptions(&self, id: u64) -> (Vec<Bytes>, Vec<Bytes>) {
        let inner = self.read();
        let of = |map: &Subs| {
            let mut names: Vec<Bytes> = map
                .iter()
                .filter(|(_, subs)| subs.contains_key(&id))
                .map(|(name, _)| name.clone())
                .collect();
            names.sort();
            names
        };
        (of(&inner.0), of(&inner.1))
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
        let shard = self.shard_read();
        inner
            .0
            .values()
            .chain(inner.1.values())
            .chain(shard.values())
            .flat_map(|s| s.keys())
            .collect::<HashSet<_>>()
            .len()
    }

    /// PUBSUB CHANNELS / NUMSUB / NUMPAT (`args[0]` is `PUBSUB`).
    pub fn introspect(&self, args: &[Bytes]) -> Reply {
        let sub = &args[1];
        if is(sub, "channels") {
            if args.len() > 3 {
                return cmd::wrong_arity("pubsub|channels");
            }
            let list = self.channels(args.get(2).map(|p| &p[..]));
            Reply::Array(list.into_iter().map(Reply::Bulk).collect())
        } else if is(sub, "numsub") {
            Reply::Map(
                args[2..]
                    .iter()
                    .map(|c| {
                        (
                            Reply::Bulk(c.clone()),
                            Reply::Integer(self.numsub(c) as i64),
                        )
                    })
                    .collect(),
            )
        } else if is(sub, "shardchannels") {
            if args.len() > 3 {
                return cmd::wrong_arity("pubsub|shardchannels");
            }
            let list = self.shard_channels(args.get(2).map(|p| &p[..]));
            Reply::Array(list.into_iter().map(Reply::Bulk).collect())
        } else if is(sub, "shardnumsub") {
            let shard = self.shard_read();
            Reply::Map(
                args[2..]
                    .iter()
                    .map(|c| {
                        let n = shard.get(&c[..]).map_or(0, HashMap::len);
                        (Reply::Bulk(c.clone()), Reply::Integer(n as i64))
                    })
                    .collect(),
            )
        } else if is(sub, "numpat") {
            if args.len() != 2 {
                return cmd::wrong_arity("pubsub|numpat");
            }
            Reply::Integer(self.pattern_count() as i64)
        } else {
            Reply::error(format!(
                "ERR unknown subcommand '{}'. Try PUBSUB HELP.",
                lossy(sub, 128)
            ))
        }
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
        let (a, mut a_rx, _) = Subscriber::new(1, limits(1 << 20));
        let (b, mut b_rx, _) = Subscriber::new(2, limits(1 << 20));
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

    fn limits(hard: usize) -> PushLimits {
        PushLimits {
            hard,
            soft: hard,
            soft_ms: 60_000,
        }
    }

    #[test]
    fn shard_subscriptions_of_a_moved_slot_end_with_a_notice() {
        let ps = PubSub::default();
        // A tiny limit: the notices are not counted against it.
        let (a, mut a_rx, kick) = Subscriber::new(1, limits(1));
        ps.ssubscribe(&a, Bytes::from_static(b"moved"));
        ps.ssubscribe(&a, Bytes::from_static(b"kept"));
        ps.subscribe(&a, Bytes::from_static(b"moved"), false);
        assert_eq!(ps.end_shard_channels(|c| c == b"moved"), 1);
        let notice = a_rx.try_recv().unwrap();
        assert!(notice.ended && notice.shard);
        assert_eq!(notice.channel, "moved");
        assert!(a_rx.try_recv().is_none());
        assert!(!kick.is_cancelled());
        assert_eq!(ps.shard_channels(None), [Bytes::from_static(b"kept")]);
        // Only the shard namespace: the plain channel of that name stays.
        assert_eq!(ps.numsub(b"moved"), 1);
        assert_eq!(ps.spublish(b"moved", &Bytes::new()), 0);
        assert_eq!(ps.end_shard_channels(|_| false), 0);
    }

    #[test]
    fn slow_subscriber_is_kicked() {
        let ps = PubSub::default();
        // Each message counts 1 + 1 + 32 bytes: room for two.
        let (slow, _rx, kick) = Subscriber::new(1, limits(70));
        let (fast, mut fast_rx, fast_kick) = Subscriber::new(2, limits(1 << 20));
        ps.subscribe(&slow, Bytes::from_static(b"c"), false);
        ps.subscribe(&fast, Bytes::from_static(b"c"), false);
        for _ in 0..10 {
            ps.publish(b"c", &Bytes::from_static(b"x"));
        }
        assert!(kick.is_cancelled());
        assert!(!fast_kick.is_cancelled());
        assert_eq!(ps.numsub(b"c"), 1);
        assert_eq!(std::iter::from_fn(|| fast_rx.try_recv()).count(), 10);
    }

    #[test]
    fn direct_subscribers_share_the_registry() {
        use std::sync::{Arc, Mutex};
        let ps = PubSub::default();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let native = Subscriber::direct(
            native_id(1),
            Arc::new(move |m: &Message| {
                sink.lock().unwrap().push(m.clone());
                Ok(())
            }),
        );
        let (resp, mut resp_rx, _) = Subscriber::new(1, limits(1 << 20));
        ps.subscribe(&native, Bytes::from_static(b"a*"), true);
        ps.subscribe(&native, Bytes::from_static(b"ab"), false);
        ps.subscribe(&resp, Bytes::from_static(b"ab"), false);
        assert_eq!(ps.publish(b"ab", &Bytes::from_static(b"x")), 3);
        assert_eq!(got.lock().unwrap().len(), 2);
        assert!(resp_rx.try_recv().is_some());
        assert_eq!(
            ps.subscriptions(native_id(1)),
            (
                vec![Bytes::from_static(b"ab")],
                vec![Bytes::from_static(b"a*")]
            )
        );
        let slow = Subscriber::direct(native_id(2), Arc::new(|_: &Message| Err(Slow)));
        ps.subscribe(&slow, Bytes::from_static(b"ab"), false);
        ps.publish(b"ab", &Bytes::new());
        assert_eq!(ps.subscriptions(native_id(2)), (vec![], vec![]));
        assert_eq!(ps.dropped_slow(), 1);
    }
}
