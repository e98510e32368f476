//! Every message that crosses the wire, and the one list of services.
//!
//! Frames from a client: first one [`Hello`], then any number of
//! [`Request`]s. Frames from the server: one [`ServerFrame::Welcome`] (or an
//! error and a close), then replies, errors and pushes in any order.
//!
//! Each service owns its operations, replies and events in its own module
//! (`base`, `chat`, `cache`); [`Op`], [`Reply`] and [`Event`] wrap them, one
//! variant per service, generated from the `services!` list below — the
//! one place a new service is added.
//!
//! Enums are *internally tagged*: a MessagePack map whose `"type"` key names
//! the variant in snake_case, next to the variant's own fields. The wrapper
//! adds no level: `{"type": "chat_join", "room": "ops"}` is a chat
//! operation because `chat_join` is one of [`ChatOp`]'s names. Unknown map
//! keys are ignored, so a newer peer may add fields freely.

use serde::{Deserialize, Serialize};

use crate::base::{BaseEvent, BaseOp, BaseReply, UserInfo};
use crate::cache::{CacheEvent, CacheOp, CacheReply};
use crate::chat::{ChatEvent, ChatOp, ChatReply};
use crate::error::ErrorBody;
use crate::game::{GameEvent, GameOp, GameReply};
use crate::jobs::{JobsEvent, JobsOp, JobsReply};
use crate::metrics::{MetricsEvent, MetricsOp, MetricsReply};

crate::macros::services! {
    /// Ping, accounts, topic subscriptions, session events.
    Base = "base" => (BaseOp, BaseReply, BaseEvent),
    /// Rooms, messages, private messages, presence.
    Chat = "chat" => (ChatOp, ChatReply, ChatEvent),
    /// The Redis-compatible cache over the native protocol.
    Cache = "cache" => (CacheOp, CacheReply, CacheEvent),
    /// The background job queue: enqueue, claim, retry, schedules.
    Jobs = "jobs" => (JobsOp, JobsReply, JobsEvent),
    /// Live system metrics, their history, alerts and dashboard presence.
    Metrics = "metrics" => (MetricsOp, MetricsReply, MetricsEvent),
    /// Turn-based games: matchmaking, moves, clocks, spectators, ratings.
    Game = "game" => (GameOp, GameReply, GameEvent),
}

/// The first frame a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol version the client speaks ([`crate::PROTOCOL_VERSION`]).
    pub protocol: u32,
    /// A short name for the client program, e.g. `"agora-cli/0.1.0"`; shown
    /// in session lists and logs.
    pub client: String,
    /// A token from `login` or `register`, to resume a signed-in session.
    /// A token that is invalid or expired makes the handshake fail with
    /// `unauthorized`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Hello {
    /// A hello for this crate's protocol version.
    pub fn new(client: impl Into<String>, token: Option<String>) -> Self {
        Hello {
            protocol: crate::PROTOCOL_VERSION,
            client: client.into(),
            token,
        }
    }
}

/// The server's answer to a successful [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The daemon's version, e.g. `"0.1.0"`.
    pub server_version: String,
    /// The protocol version the server will speak on this connection.
    pub protocol: u32,
    /// This connection's session id, unique while the daemon runs.
    pub session: u64,
    /// The signed-in user, when the hello carried a valid token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserInfo>,
    /// The largest frame (in bytes) the server accepts.
    pub max_frame: u64,
}

/// A request: an id chosen by the client and an operation.
///
/// The server answers every request exactly once, with a
/// [`ServerFrame::Reply`] or a [`ServerFrame::Error`] carrying the same id.
/// Replies may arrive in a different order than the requests were sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Echoed in the answer. Clients should not reuse an id while a request
    /// with it is outstanding; `0` is reserved for errors that cannot be tied
    /// to a request.
    pub id: u64,
    /// What to do.
    pub op: Op,
}

/// A server-initiated message on a subscribed topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// The topic the event was published on.
    pub topic: String,
    /// What happened.
    pub event: Event,
}

/// Every frame the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The handshake succeeded.
    Welcome(Welcome),
    /// A request succeeded.
    Reply {
        /// The request's id.
        id: u64,
        /// The answer.
        body: Reply,
    },
    /// A request failed, or (with id 0) a frame could not be tied to a
    /// request. The connection stays open.
    Error {
        /// The request's id, or 0.
        id: u64,
        /// What went wrong.
        error: ErrorBody,
    },
    /// An event on a subscribed topic.
    Push(Push),
    /// The server is closing this connection, and says why: a broken or
    /// oversize frame (`too_large`, `bad_request`), a failed handshake, a
    /// client too slow to read its pushes, or shutdown (`unavailable`).
    Goodbye {
        /// Why.
        error: ErrorBody,
    },
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    use rmpv::Value;
    use serde::de::DeserializeOwned;

    use super::*;
    use crate::strategies::{any_event, any_op, any_reply};
    use crate::{decode, encode};

    /// Deterministic samples of a strategy: enough that every variant and
    /// every optional field appears (checked by the tests that use them).
    fn samples<T>(strategy: impl Strategy<Value = T>) -> Vec<T> {
        let mut runner = TestRunner::deterministic();
        (0..3000)
            .map(|_| strategy.new_tree(&mut runner).expect("sample").current())
            .collect()
    }

    fn to_value<T: Serialize>(msg: &T) -> Value {
        rmpv::decode::read_value(&mut &encode(msg).expect("encode")[..]).expect("value")
    }

    fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, value).expect("write");
        decode(&bytes).map_err(|e| e.to_string())
    }

    fn keys(value: &Value) -> Vec<String> {
        value
            .as_map()
            .expect("a map")
            .iter()
            .filter_map(|(k, _)| k.as_str().map(str::to_owned))
            .filter(|k| k != "type")
            .collect()
    }

    fn with(value: &Value, key: &str, new: Option<Value>) -> Value {
        let mut map: Vec<(Value, Value)> = value
            .as_map()
            .expect("a map")
            .iter()
            .filter(|(k, _)| k.as_str() != Some(key))
            .cloned()
            .collect();
        if let Some(new) = new {
            map.push((Value::from(key), new));
        }
        Value::Map(map)
    }

    /// Every field that may be left out may also be `nil` (PROTOCOL.md §2),
    /// and means the same. `fields` is the definitions' own list of every
    /// message and its fields: each must have been seen in a sample with
    /// all of them present, so no message or field escapes the check.
    fn optional_fields_accept_nil<T>(
        messages: Vec<T>,
        fields: impl Iterator<Item = (&'static str, &'static [&'static str])>,
    ) where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        let mut tags_seen: BTreeSet<String> = BTreeSet::new();
        let mut optional = 0;
        for msg in &messages {
            let value = to_value(msg);
            let tag = crate::macros::tag_of(&value).expect("tag").to_owned();
            tags_seen.insert(tag.clone());
            for key in keys(&value) {
                seen.insert((tag.clone(), key.clone()));
                let Ok(without) = from_value::<T>(&with(&value, &key, None)) else {
                    continue; // a required field
                };
                optional += 1;
                let nil = from_value::<T>(&with(&value, &key, Some(Value::Nil)));
                assert_eq!(
                    nil.as_ref(),
                    Ok(&without),
                    "`{tag}`: `{key}: nil` must mean the same as leaving it out"
                );
            }
        }
        assert!(optional > 0);
        for (tag, names) in fields {
            assert!(
                tags_seen.contains(tag),
                "no sample of `{tag}`: extend strategies.rs"
            );
            for name in names {
                assert!(
                    seen.contains(&(tag.to_owned(), (*name).to_owned())),
                    "`{tag}` was never sampled with `{name}` present: extend strategies.rs"
                );
            }
        }
    }

    #[test]
    fn every_optional_field_of_every_op_accepts_nil() {
        optional_fields_accept_nil(samples(any_op()), Op::fields());
    }

    #[test]
    fn every_optional_field_of_every_reply_and_event_accepts_nil() {
        optional_fields_accept_nil(samples(any_reply()), Reply::fields());
        optional_fields_accept_nil(samples(any_event()), Event::fields());
    }

    #[test]
    fn the_documented_nil_cases_decode() {
        // The cases a client writer found refused (issue "Service seams").
        let send = Value::Map(vec![
            ("type".into(), "chat_send".into()),
            ("room".into(), "ops".into()),
            ("text".into(), "hi".into()),
            ("action".into(), Value::Nil),
        ]);
        assert!(matches!(
            from_value::<Op>(&send),
            Ok(Op::Chat(crate::ChatOp::Send { action: false, .. }))
        ));
        let sub = Value::Map(vec![
            ("type".into(), "cache_subscribe".into()),
            ("channels".into(), Value::Nil),
            (
                "patterns".into(),
                Value::Array(vec![Value::Binary(b"a*".to_vec())]),
            ),
        ]);
        assert!(matches!(
            from_value::<Op>(&sub),
            Ok(Op::Cache(crate::CacheOp::Subscribe { .. }))
        ));
    }

    #[test]
    fn wire_names_are_unique_and_follow_the_service_prefix() {
        fn check(kind: &str, names: Vec<(Service, &'static str)>, count: usize) {
            assert_eq!(names.len(), count, "{kind}: COUNT");
            let mut unique = BTreeSet::new();
            for (service, name) in names {
                assert!(unique.insert(name), "{kind}: `{name}` is defined twice");
                assert!(
                    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{kind}: `{name}` is not snake_case"
                );
                if service != Service::Base {
                    let prefix = service.name();
                    assert!(
                        name == prefix || name.starts_with(&format!("{prefix}_")),
                        "{kind}: `{name}` of the {prefix} service must start with `{prefix}_`"
                    );
                } else {
                    for other in Service::ALL.iter().filter(|s| **s != Service::Base) {
                        assert!(
                            !name.starts_with(&format!("{}_", other.name())),
                            "{kind}: base's `{name}` looks like a {} name",
                            other.name()
                        );
                    }
                }
            }
        }
        check("op", Op::names().collect(), Op::COUNT);
        check("reply", Reply::names().collect(), Reply::COUNT);
        check("event", Event::names().collect(), Event::COUNT);
    }

    #[test]
    fn index_service_and_name_agree_with_the_name_list() {
        let names: Vec<_> = Op::names().collect();
        for op in samples(any_op()) {
            assert_eq!(names[op.index()], (op.service(), op.name()), "{op:?}");
            assert_eq!(Op::owner(op.name()), Some(op.service()));
        }
        let names: Vec<_> = Event::names().collect();
        for event in samples(any_event()) {
            assert_eq!(names[event.index()], (event.service(), event.name()));
        }
        let names: Vec<_> = Reply::names().collect();
        for reply in samples(any_reply()) {
            assert_eq!(names[reply.index()], (reply.service(), reply.name()));
        }
    }

    #[test]
    fn the_type_tag_may_come_anywhere_in_the_map() {
        // serde writes the tag first (the fast path); other encoders may not.
        let late = Value::Map(vec![
            ("room".into(), "ops".into()),
            ("type".into(), "chat_join".into()),
        ]);
        assert_eq!(
            from_value::<Op>(&late),
            Ok(crate::ChatOp::Join { room: "ops".into() }.into())
        );
        let first = Value::Map(vec![
            ("type".into(), "chat_join".into()),
            ("room".into(), "ops".into()),
            ("unknown".into(), Value::Nil),
        ]);
        assert_eq!(
            from_value::<Op>(&first),
            Ok(crate::ChatOp::Join { room: "ops".into() }.into())
        );
        // Inside a server frame too (decoded from a buffered frame).
        let frame = Value::Map(vec![
            ("id".into(), Value::from(3)),
            ("type".into(), "reply".into()),
            (
                "body".into(),
                Value::Map(vec![
                    ("server_time_ms".into(), Value::from(5)),
                    ("type".into(), "pong".into()),
                ]),
            ),
        ]);
        assert_eq!(
            from_value::<ServerFrame>(&frame),
            Ok(ServerFrame::Reply {
                id: 3,
                body: crate::BaseReply::Pong { server_time_ms: 5 }.into()
            })
        );
    }

    #[test]
    fn undecodable_ops_say_why() {
        let err = |value: Value| from_value::<Op>(&value).unwrap_err();
        let unknown = err(Value::Map(vec![("type".into(), "teleport".into())]));
        assert!(
            unknown.contains("unknown operation `teleport`"),
            "{unknown}"
        );
        let missing = err(Value::Map(vec![("type".into(), "chat_join".into())]));
        assert!(missing.contains("missing field `room`"), "{missing}");
        let untyped = err(Value::Map(vec![("room".into(), "x".into())]));
        assert!(untyped.contains("missing field `type`"), "{untyped}");
        let not_a_map = err(Value::from(7));
        assert!(not_a_map.contains("expected a map"), "{not_a_map}");
        let wrong = err(Value::Map(vec![
            ("type".into(), "chat_join".into()),
            ("room".into(), Value::from(3)),
        ]));
        assert!(wrong.contains("invalid type"), "{wrong}");
    }
}
