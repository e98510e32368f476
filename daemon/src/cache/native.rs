//! The cache on the native protocol: `cache_command`, `cache_subscribe`,
//! `cache_unsubscribe` and `cache_publish`.
//!
//! Commands run through the same [`cmd::execute`] as RESP, so both
//! protocols see identical semantics; the reply is mirrored into the
//! protocol-neutral [`CacheValue`]. Pub/sub uses the same
//! [`super::pubsub::PubSub`] registry as RESP, with a *direct* subscriber
//! per session that encodes each message as an `Event::CacheMessage` push
//! and queues it through [`Session::push`] (so the session's byte limits
//! apply). The session's subscriptions are dropped when it closes
//! (`SessionGuard` in `conn.rs`).
//!
//! Every operation needs a signed-in session (`unauthorized` otherwise),
//! like chat.

use std::sync::{Arc, Weak};

use agora_wire::cache::{CACHE_TOPIC, MAX_SUBSCRIBE};
use agora_wire::{CacheValue, ErrorBody, ErrorCode, Event, Op, Push, Reply, ServerFrame};
use bytes::Bytes;
use serde_bytes::ByteBuf;

use super::cmd::{self, Client, Ctx};
use super::pubsub::{Message, Slow, Subscriber, native_id};
use super::reply::Reply as CacheReply;
use crate::Shared;
use crate::dispatch::Routed;
use crate::session::{PushRefused, Session};

/// Routes a cache operation (any `Op::Cache*`).
pub fn route(op: Op, shared: &Arc<Shared>, session: &Arc<Session>) -> Routed {
    if session.user().is_none() {
        return Routed::Done(Err(ErrorBody::new(
            ErrorCode::Unauthorized,
            "sign in first (agora login NAME)",
        )));
    }
    Routed::Done(match op {
        Op::CacheCommand { args } => command(shared, session, args),
        Op::CacheSubscribe { channels, patterns } => subscribe(shared, session, channels, patterns),
        Op::CacheUnsubscribe { channels, patterns } => {
            let pubsub = &shared.cache.pubsub;
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
            Ok(subscribed(shared, session))
        }
        Op::CachePublish { channel, message } => {
            let n = shared
                .cache
                .pubsub
                .publish(&channel, &Bytes::from(message.into_vec()));
            Ok(Reply::CachePublished {
                receivers: n as u64,
            })
        }
        other => Err(ErrorBody::bad_request(format!(
            "{} is not a cache operation",
            other.name()
        ))),
    })
}

fn command(
    shared: &Arc<Shared>,
    session: &Arc<Session>,
    args: Vec<ByteBuf>,
) -> Result<Reply, ErrorBody> {
    if args.is_empty() {
        return Err(ErrorBody::bad_request("empty cache command"));
    }
    let args: Vec<Bytes> = args
        .into_iter()
        .map(|a| Bytes::from(a.into_vec()))
        .collect();
    let cache = &shared.cache;
    let reply = match cmd::lookup(&args[0]) {
        Some(spec) if spec.kind == cmd::Kind::Conn => {
            if !cmd::arity_ok(spec.arity, args.len()) {
                cmd::wrong_arity(spec.name)
            } else {
                match spec.name {
                    "publish" => {
                        cache
                            .stats
                            .commands
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        CacheReply::Integer(cache.pubsub.publish(&args[1], &args[2]) as i64)
                    }
                    "pubsub" => {
                        cache
                            .stats
                            .commands
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        cache.pubsub.introspect(&args)
                    }
                    name => {
                        return Err(ErrorBody::bad_request(format!(
                            "{} is not available through cache_command; use the \
                             cache_subscribe/cache_unsubscribe operations \
                             (agora cache subscribe)",
                            name.to_uppercase()
                        )));
                    }
                }
            }
        }
        _ => {
            // Per-request client state: the native protocol has no RESP
            // version or connection name to keep.
            let mut client = Client {
                id: session.id,
                resp3: true,
                ..Client::default()
            };
            let mut ctx = Ctx {
                cache,
                client: &mut client,
                now_ms: crate::now_ms(),
            };
            cmd::execute(&mut ctx, &args)
        }
    };
    let value = mirror(reply);
    // A reply past the frame limit could not be sent at all (the
    // connection would close): refuse it with a reason instead.
    let size = encoded_size_bound(&value);
    let limit = shared.config.max_frame.saturating_sub(1024);
    if size > limit {
        return Err(ErrorBody::new(
            ErrorCode::TooLarge,
            format!(
                "the reply would be about {size} bytes, over the {limit}-byte frame limit; \
                 ask for less (SCAN instead of KEYS, GETRANGE, LRANGE with a range)"
            ),
        ));
    }
    Ok(Reply::Cache { value })
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

fn subscribe(
    shared: &Arc<Shared>,
    session: &Arc<Session>,
    channels: Vec<ByteBuf>,
    patterns: Vec<ByteBuf>,
) -> Result<Reply, ErrorBody> {
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
    let pubsub = &shared.cache.pubsub;
    for c in channels {
        pubsub.subscribe(&sub, Bytes::from(c.into_vec()), false);
    }
    for p in patterns {
        pubsub.subscribe(&sub, Bytes::from(p.into_vec()), true);
    }
    Ok(subscribed(shared, session))
}

fn subscribed(shared: &Shared, session: &Session) -> Reply {
    let (channels, patterns) = shared.cache.pubsub.subscriptions(native_id(session.id));
    let bufs = |v: Vec<Bytes>| v.into_iter().map(|b| ByteBuf::from(b.to_vec())).collect();
    Reply::CacheSubscribed {
        channels: bufs(channels),
        patterns: bufs(patterns),
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
            event: Event::CacheMessage {
                channel: ByteBuf::from(msg.channel.to_vec()),
                pattern: msg.pattern.as_ref().map(|p| ByteBuf::from(p.to_vec())),
                payload: ByteBuf::from(msg.payload.to_vec()),
            },
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
pub fn mirror(reply: CacheReply) -> CacheValue {
    match reply {
        CacheReply::Simple(s) => CacheValue::Simple {
            value: s.into_owned(),
        },
        CacheReply::Error(e) => CacheValue::Error {
            message: e.into_owned(),
        },
        CacheReply::Integer(value) => CacheValue::Integer { value },
        CacheReply::Bulk(b) => CacheValue::Bulk { value: b.to_vec() },
        CacheReply::Nil | CacheReply::NilArray => CacheValue::Nil,
        CacheReply::Array(items) | CacheReply::Push(items) => CacheValue::Array {
            items: items.into_iter().map(mirror).collect(),
        },
        CacheReply::Double(value) => CacheValue::Double { value },
        CacheReply::Map(entries) => CacheValue::Map {
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
        let reply = Reply::Cache { value: v.clone() };
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
        let r = CacheReply::Array(vec![
            CacheReply::ok(),
            CacheReply::err("WRONGTYPE x"),
            CacheReply::Integer(5),
            CacheReply::bulk(&[0, 0xff]),
            CacheReply::Nil,
            CacheReply::NilArray,
            CacheReply::Double(2.5),
            CacheReply::Map(vec![(CacheReply::text("k"), CacheReply::Integer(1))]),
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
