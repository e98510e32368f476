//! The cache on the native protocol: `cache_command`, `cache_subscribe`,
//! `cache_unsubscribe`, `cache_publish` and `cache_cluster_status` (built
//! by [`crate::cluster::status`]).
//!
//! Commands run through the same [`cmd::execute`] as RESP, so both
//! protocols see identical semantics; the reply is mirrored into the
//! protocol-neutral [`CacheValue`]. A `quiet` command runs with
//! [`Access::Quiet`] in its [`Ctx`]: it counts in no INFO statistic and
//! touches no key's LRU/LFU data (for monitoring tools such as the TUI's
//! Cache tab). Pub/sub uses the same
//! [`super::pubsub::PubSub`] registry as RESP, with a *direct* subscriber
//! per session that encodes each message as a [`CacheEvent::Message`] push
//! and queues it through [`Session::push`] (so the session's byte limits
//! apply). The session's subscriptions are dropped when it closes (its
//! [`Lifecycle::closed`] hook).
//!
//! Every operation needs a signed-in session (`unauthorized` otherwise),
//! like chat.

use std::sync::{Arc, OnceLock, Weak};

use agora_wire::cache::{CACHE_TOPIC, MAX_SUBSCRIBE};
use agora_wire::{
    CacheEvent, CacheOp, CacheReply, CacheValue, ErrorBody, ErrorCode, Push, ServerFrame,
};
use bytes::Bytes;
use serde_bytes::ByteBuf;

use super::cmd::{self, Client, Ctx};
use super::pubsub::{Message, Slow, Subscriber, native_id};
use super::reply::Reply;
use super::{Access, Cache};
use crate::service::{Lifecycle, Routed, Service, signed_in};
use crate::session::{PushRefused, Session};

/// The cache service on the native protocol. Cheap to clone.
#[derive(Clone)]
pub struct Native {
    cache: Arc<Cache>,
    /// The largest reply that fits a frame (the frame limit less room for
    /// the envelope).
    reply_limit: usize,
    /// This node, for `cache_cluster_status`: set once the listeners
    /// are bound ([`Native::set_node`]).
    node: Arc<OnceLock<crate::cluster::status::Node>>,
}

impl Native {
    /// The native side of `cache`, for frames of at most `max_frame` bytes.
    pub fn new(cache: Arc<Cache>, max_frame: usize) -> Native {
        Native {
            cache,
            reply_limit: max_frame.saturating_sub(1024),
            node: Arc::default(),
        }
    }

    /// Says which node `cache_cluster_status` describes (once).
    pub fn set_node(&self, node: crate::cluster::status::Node) {
        let _ = self.node.set(node);
    }

    /// `cache_cluster_status`: the cluster, or this daemon alone.
    fn cluster_status(&self) -> Routed {
        use crate::cluster::status::{self, Node};
        let keys = self.cache.store.len().0 as u64;
        match self.node.get().cloned() {
            Some(Node::Member(cluster)) => {
                Routed::later(async move { Ok::<_, ErrorBody>(status::answer(&cluster).await) })
            }
            Some(Node::Standalone { resp }) => {
                Routed::done(Ok(status::standalone(Some(resp), keys)))
            }
            None => Routed::done(Ok(status::standalone(None, keys))),
        }
    }

    /// The cache itself (shared with the RESP listener).
    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// Runs one command; a `quiet` one counts in no statistic and touches
    /// no key's LRU/LFU data ([`Access::Quiet`]).
    fn command(
        &self,
        session: &Arc<Session>,
        args: Vec<ByteBuf>,
        quiet: bool,
    ) -> Result<CacheReply, ErrorBody> {
        let access = if quiet {
            Access::Quiet
        } else {
            Access::Counted
        };
        if args.is_empty() {
            return Err(ErrorBody::bad_request("empty cache command"));
        }
        let args: Vec<Bytes> = args
            .into_iter()
            .map(|a| Bytes::from(a.into_vec()))
            .collect();
        let cache = &self.cache;
        let reply = match cmd::lookup(&args[0]) {
            Some(spec) if spec.kind == cmd::Kind::Conn => {
                if !cmd::arity_ok(spec.arity, args.len()) {
                    cmd::wrong_arity(spec.name)
                } else {
                    let count = || {
                        if access == Access::Counted {
                            cache
                                .stats
                                .commands
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    };
                    match spec.name {
                        "publish" => {
                            count();
                            Reply::Integer(cache.pubsub.publish(&args[1], &args[2]) as i64)
                        }
                        "pubsub" => {
                            count();
                            cache.pubsub.introspect(&args)
                        }
                        name @ ("subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe") => {
                            return Err(ErrorBody::bad_request(format!(
                                "{} is not available through cache_command; use the \
                                 cache_subscribe/cache_unsubscribe operations \
                                 (agora cache subscribe)",
                                name.to_uppercase()
                            )));
                        }
                        name => {
                            return Err(ErrorBody::bad_request(format!(
                                "{} belongs to RESP connections; a native session is \
                                 signed in by its hello and ends when it disconnects",
                                name.to_uppercase()
                            )));
                        }
                    }
                }
            }
            Some(spec) if spec.name == "select" => {
                return Err(ErrorBody::bad_request(
                    "SELECT is per connection and belongs to RESP; every cache_command \
                     works on database 0 (MOVE, COPY … DB and SWAPDB reach the others)",
                ));
            }
            _ => {
                // Per-request client state: the native protocol has no RESP
                // version or connection name to keep; the database is 0.
                let mut client = Client {
                    id: session.id,
                    resp3: true,
                    ..Client::default()
                };
                let mut ctx = Ctx {
                    cache,
                    client: &mut client,
                    now_ms: crate::now_ms(),
                    access,
                };
                let reply = cmd::execute(&mut ctx, &args);
                cache.tracking.flush_pending();
                reply
            }
        };
        let value = mirror(reply);
        // A reply past the frame limit could not be sent at all (the
        // connection would close): refuse it with a reason instead.
        let size = encoded_size_bound(&value);
        let limit = self.reply_limit;
        if size > limit {
            return Err(ErrorBody::new(
                ErrorCode::TooLarge,
                format!(
                    "the reply would be about {size} bytes, over the {limit}-byte frame limit; \
                     ask for less (SCAN instead of KEYS, GETRANGE, LRANGE with a range)"
                ),
            ));
        }
        Ok(CacheReply::Value { value })
    }

    fn subscribe(
        &self,
        session: &Arc<Session>,
        channels: Vec<ByteBuf>,
        patterns: Vec<ByteBuf>,
    ) -> Result<CacheReply, ErrorBody> {
        if channels.is_empty() && patterns.is_empty() {
            return Err(ErrorBody::bad_request(
                "name at least one channel or pattern",
            ));
        }
        if channels.len() + patterns.len() > MAX_SUBSCRIBE {
            return Err(ErrorBody::bad_request(format!(
                "at most {MAX_SUBSCRIBE} channels and patterns per request"
            )));
        }
        let sub = Subscriber::direct(native_id(session.id), sink(Arc::downgrade(session)));
        let pubsub = &self.cache.pubsub;
        for c in channels {
            pubsub.subscribe(&sub, Bytes::from(c.into_vec()), false);
        }
        for p in patterns {
            pubsub.subscribe(&sub, Bytes::from(p.into_vec()), true);
        }
        Ok(self.subscribed(session))
    }

    fn unsubscribe(
        &self,
        session: &Session,
        channels: Vec<ByteBuf>,
        patterns: Vec<ByteBuf>,
    ) -> CacheReply {
        let pubsub = &self.cache.pubsub;
        let id = native_id(session.id);
        if channels.is_empty() && patterns.is_empty() {
            pubsub.remove_all(id);
        }
        for c in &channels {
            pubsub.unsubscribe(id, c, false);
        }
        for p in &patterns {
            pubsub.unsubscribe(id, p, true);
        }
        self.subscribed(session)
    }

    fn subscribed(&self, session: &Session) -> CacheReply {
        let (channels, patterns) = self.cache.pubsub.subscriptions(native_id(session.id));
        let bufs = |v: Vec<Bytes>| v.into_iter().map(|b| ByteBuf::from(b.to_vec())).collect();
        CacheReply::Subscribed {
            channels: bufs(channels),
            patterns: bufs(patterns),
        }
    }
}

impl Service for Native {
    type Op = CacheOp;

    /// Every cache operation needs a signed-in session, like chat.
    fn route(&self, op: CacheOp, session: &Arc<Session>) -> Routed {
        if let Err(err) = signed_in(session) {
            return Routed::Done(Err(err));
        }
        Routed::done(match op {
            CacheOp::Command { args, quiet } => self.command(session, args, quiet),
            CacheOp::Subscribe { channels, patterns } => {
                self.subscribe(session, channels, patterns)
            }
            CacheOp::Unsubscribe { channels, patterns } => {
                Ok(self.unsubscribe(session, channels, patterns))
            }
            CacheOp::Publish { channel, message } => {
                let n = self
                    .cache
                    .pubsub
                    .publish(&channel, &Bytes::from(message.into_vec()));
                Ok(CacheReply::Published {
                    receivers: n as u64,
                })
            }
            CacheOp::ClusterStatus => return self.cluster_status(),
        })
    }
}

impl Lifecycle for Native {
    /// The session's channel and pattern subscriptions end with it.
    fn closed(&self, session: &Session) {
        self.cache.pubsub.remove_all(native_id(session.id));
    }
}

/// An upper bound of a value's MessagePack size (field names included).
fn encoded_size_bound(value: &CacheValue) -> usize {
    const OVERHEAD: usize = 32;
    match value {
        CacheValue::Bulk { value } => value.len() + OVERHEAD,
        CacheValue::Simple { value } => value.len() + OVERHEAD,
        CacheValue::Error { message } => message.len() + OVERHEAD,
        CacheValue::Array { items } => {
            items.iter().map(encoded_size_bound).sum::<usize>() + OVERHEAD
        }
        CacheValue::Map { entries } => {
            entries
                .iter()
                .map(|(k, v)| encoded_size_bound(k) + encoded_size_bound(v) + 4)
                .sum::<usize>()
                + OVERHEAD
        }
        _ => OVERHEAD,
    }
}

/// Encodes each message as a push and queues it on the session.
fn sink(session: Weak<Session>) -> super::pubsub::DirectSink {
    Arc::new(move |msg: &Message| {
        let Some(session) = session.upgrade() else {
            return Ok(());
        };
        let frame = ServerFrame::Push(Push {
            topic: CACHE_TOPIC.to_owned(),
            event: CacheEvent::Message {
                channel: ByteBuf::from(msg.channel.to_vec()),
                pattern: msg.pattern.as_ref().map(|p| ByteBuf::from(p.to_vec())),
                payload: ByteBuf::from(msg.payload.to_vec()),
            }
            .into(),
        });
        let bytes = match agora_wire::encode(&frame) {
            Ok(b) => b,
            Err(err) => {
                tracing::error!(%err, "cannot encode cache push");
                return Ok(());
            }
        };
        match session.push(bytes, crate::now_ms()) {
            Ok(()) | Err(PushRefused::Closed) => Ok(()),
            Err(PushRefused::TooSlow) => Err(Slow),
        }
    })
}

/// Mirrors a command's reply into the protocol-neutral [`CacheValue`].
pub fn mirror(reply: Reply) -> CacheValue {
    match reply {
        Reply::Simple(s) => CacheValue::Simple {
            value: s.into_owned(),
        },
        Reply::Error(e) => CacheValue::Error {
            message: e.into_owned(),
        },
        Reply::Integer(value) => CacheValue::Integer { value },
        Reply::Bulk(b) => CacheValue::Bulk { value: b.to_vec() },
        Reply::Nil | Reply::NilArray => CacheValue::Nil,
        Reply::Array(items) | Reply::Push(items) => CacheValue::Array {
            items: items.into_iter().map(mirror).collect(),
        },
        Reply::Double(value) => CacheValue::Double { value },
        Reply::Map(entries) => CacheValue::Map {
            entries: entries
                .into_iter()
                .map(|(k, v)| (mirror(k), mirror(v)))
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_bound_is_an_upper_bound() {
        let v = CacheValue::Array {
            items: vec![
                CacheValue::bulk(vec![7u8; 1000]),
                CacheValue::Map {
                    entries: vec![(CacheValue::bulk("k"), CacheValue::Integer { value: -1 })],
                },
                CacheValue::Nil,
                CacheValue::Double { value: 0.5 },
            ],
        };
        let reply = CacheReply::Value { value: v.clone() }.into();
        let real = agora_wire::encode(&ServerFrame::Reply {
            id: u64::MAX,
            body: reply,
        })
        .unwrap()
        .len();
        assert!(encoded_size_bound(&v) + 1024 >= real, "{real}");
    }

    #[test]
    fn mirror_keeps_every_kind() {
        let r = Reply::Array(vec![
            Reply::ok(),
            Reply::err("WRONGTYPE x"),
            Reply::Integer(5),
            Reply::bulk(&[0, 0xff]),
            Reply::Nil,
            Reply::NilArray,
            Reply::Double(2.5),
            Reply::Map(vec![(Reply::text("k"), Reply::Integer(1))]),
        ]);
        assert_eq!(
            mirror(r),
            CacheValue::Array {
                items: vec![
                    CacheValue::Simple { value: "OK".into() },
                    CacheValue::Error {
                        message: "WRONGTYPE x".into()
                    },
                    CacheValue::Integer { value: 5 },
                    CacheValue::bulk(vec![0u8, 0xff]),
                    CacheValue::Nil,
                    CacheValue::Nil,
                    CacheValue::Double { value: 2.5 },
                    CacheValue::Map {
                        entries: vec![(CacheValue::bulk("k"), CacheValue::Integer { value: 1 })]
                    },
                ]
            }
        );
    }
}
