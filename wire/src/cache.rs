//! The cache service on the native protocol: its operations
//! ([`CacheOp`]), replies ([`CacheReply`]) and events ([`CacheEvent`]).
//!
//! [`CacheValue`] mirrors a Redis reply (RESP3's types) in MessagePack, so
//! a native client gets exactly what a RESP client would: the daemon runs
//! both through the same command executor. Byte strings (`bulk`, channel
//! names, payloads) are MessagePack `bin`, binary-safe.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::macros::{is_false, nil_as_default};

crate::messages! {
    /// Cache operations. Every one needs a signed-in connection.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum CacheOp {
        /// Run one cache command (an argument vector, as a Redis client
        /// sends it: `["SET", "k", "v"]`) through the same executor as the
        /// RESP listener. Answered with [`CacheReply::Value`]; keyspace
        /// errors (`WRONGTYPE`, syntax, arity) are a [`CacheValue::Error`]
        /// inside that reply, like Redis. The pub/sub commands SUBSCRIBE &
        /// co. are refused (`bad_request`): use [`CacheOp::Subscribe`].
        Command {
            /// The command name and its arguments, binary-safe.
            args: Vec<ByteBuf>,
            /// Run without counting in INFO's statistics (commands
            /// processed, ops/sec, keyspace hits and misses) and without
            /// touching the keys' LRU/LFU data: for monitoring tools, so
            /// looking does not change what is looked at (like Redis 7.2's
            /// `CLIENT NO-TOUCH`, plus no statistics). Default `false`.
            #[serde(
                default,
                skip_serializing_if = "is_false",
                deserialize_with = "nil_as_default"
            )]
            quiet: bool,
        } = "cache_command",
        /// Receive [`CacheEvent::Message`] pushes (topic [`CACHE_TOPIC`])
        /// for these channels and glob patterns, shared with RESP's
        /// SUBSCRIBE/PSUBSCRIBE. Answered with [`CacheReply::Subscribed`].
        Subscribe {
            /// Exact channel names.
            #[serde(default, deserialize_with = "nil_as_default")]
            channels: Vec<ByteBuf>,
            /// Glob patterns (Redis's PSUBSCRIBE syntax).
            #[serde(default, deserialize_with = "nil_as_default")]
            patterns: Vec<ByteBuf>,
        } = "cache_subscribe",
        /// Stop receiving cache channels or patterns; both lists empty means
        /// all of them. Answered with [`CacheReply::Subscribed`].
        Unsubscribe {
            /// Exact channel names.
            #[serde(default, deserialize_with = "nil_as_default")]
            channels: Vec<ByteBuf>,
            /// Glob patterns.
            #[serde(default, deserialize_with = "nil_as_default")]
            patterns: Vec<ByteBuf>,
        } = "cache_unsubscribe",
        /// Publish on a cache channel (RESP and native subscribers alike).
        /// Answered with [`CacheReply::Published`].
        Publish {
            /// The channel.
            channel: ByteBuf,
            /// The payload.
            message: ByteBuf,
        } = "cache_publish",
        /// The cluster as this node sees it: its nodes, their states,
        /// addresses, key counts, slot shares and replication lag
        /// (`agora cluster status`, the TUI's Cache tab). A daemon started
        /// without `--cluster` answers itself as the one node, owning
        /// every slot. Answered with [`CacheReply::Cluster`].
        ClusterStatus = "cache_cluster_status",
    }
}

crate::messages! {
    /// Answers of the cache service.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum CacheReply {
        /// Answer to [`CacheOp::Command`]: what the command returned.
        Value {
            /// The value (possibly a keyspace error).
            value: CacheValue,
        } = "cache",
        /// Answer to [`CacheOp::Subscribe`] and [`CacheOp::Unsubscribe`].
        Subscribed {
            /// Every cache channel the session now follows, sorted.
            channels: Vec<ByteBuf>,
            /// Every pattern the session now follows, sorted.
            patterns: Vec<ByteBuf>,
        } = "cache_subscribed",
        /// Answer to [`CacheOp::Publish`].
        Published {
            /// How many subscriptions (RESP and native) received it.
            receivers: u64,
        } = "cache_published",
        /// Answer to [`CacheOp::ClusterStatus`].
        Cluster {
            /// The cluster's name (`--cluster`); `None` for a standalone
            /// daemon.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            cluster: Option<String>,
            /// How keys owned elsewhere are answered: `redirect` (`-MOVED`)
            /// or `proxy` (forwarded); `standalone` without a cluster.
            mode: String,
            /// Every node this one knows, sorted by id (dead ones too,
            /// until they are forgotten).
            nodes: Vec<ClusterNode>,
        } = "cache_cluster",
    }
}

crate::messages! {
    /// Events of the cache service.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum CacheEvent {
        /// On topic [`CACHE_TOPIC`]: a message on a cache channel this
        /// session subscribed to with [`CacheOp::Subscribe`].
        Message {
            /// The channel it was published on.
            channel: ByteBuf,
            /// The pattern that matched, for pattern subscriptions.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pattern: Option<ByteBuf>,
            /// The payload.
            payload: ByteBuf,
        } = "cache_message",
    }
}

/// One node in [`CacheReply::Cluster`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterNode {
    /// Its `--node-id`.
    pub id: String,
    /// Its Redis-style id (40 hex digits, as in `CLUSTER NODES`).
    pub name: String,
    /// `alive`, `suspect` or `dead`.
    pub state: String,
    /// Whether it is the node that answered.
    #[serde(default, deserialize_with = "nil_as_default")]
    pub myself: bool,
    /// Where its RESP clients connect, once gossip has carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp: Option<String>,
    /// Its gossip (cluster bus) address; `None` for a standalone daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gossip: Option<String>,
    /// The keys it holds, as it last published them (`None` until its
    /// first publication reached this node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<u64>,
    /// Hash slots it owns (of 16,384).
    #[serde(default, deserialize_with = "nil_as_default")]
    pub slots: u64,
    /// Its replication lag as it publishes it (the `lag` gossip key),
    /// `None` when it publishes none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<String>,
}

/// At most this many channels plus patterns in one `cache_subscribe`.
pub const MAX_SUBSCRIBE: usize = 1024;

/// The topic of [`crate::Push`]es that carry [`CacheEvent::Message`].
pub const CACHE_TOPIC: &str = "cache";

/// The answer to a cache command, independent of RESP.
///
/// Internally tagged like every agora enum: `{"type": "integer", "value": 1}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CacheValue {
    /// A status line, e.g. `OK` (RESP `+OK`).
    Simple {
        /// The text.
        value: String,
    },
    /// A keyspace error, e.g. `WRONGTYPE …` or `ERR syntax error`; the text
    /// starts with its Redis error code.
    Error {
        /// The text.
        message: String,
    },
    /// A 64-bit integer.
    Integer {
        /// The number.
        value: i64,
    },
    /// A binary-safe string.
    Bulk {
        /// The bytes.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
    /// No value (RESP2 null bulk or null array, RESP3 `_`).
    Nil,
    /// An ordered list.
    Array {
        /// The elements.
        items: Vec<CacheValue>,
    },
    /// Key/value pairs, in the order the command gave them.
    Map {
        /// The pairs.
        entries: Vec<(CacheValue, CacheValue)>,
    },
    /// A floating-point number.
    Double {
        /// The number.
        value: f64,
    },
    /// A boolean (RESP3 `#t`/`#f`).
    Boolean {
        /// The value.
        value: bool,
    },
}

// Doubles never hold NaN (Redis refuses it), so equality is reflexive.
impl Eq for CacheValue {}

impl CacheValue {
    /// A bulk string.
    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Self {
        CacheValue::Bulk {
            value: bytes.into(),
        }
    }

    /// Whether this is a keyspace error.
    pub fn is_error(&self) -> bool {
        matches!(self, CacheValue::Error { .. })
    }

    /// The bytes of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            CacheValue::Bulk { value } => Some(value),
            CacheValue::Simple { value } => Some(value.as_bytes()),
            _ => None,
        }
    }

    /// The number, for an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            CacheValue::Integer { value } => Some(*value),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn values_round_trip_through_messagepack() {
        let v = CacheValue::Array {
            items: vec![
                CacheValue::bulk(vec![0u8, 255, b'\n']),
                CacheValue::Integer { value: -7 },
                CacheValue::Nil,
                CacheValue::Simple { value: "OK".into() },
                CacheValue::Error {
                    message: "WRONGTYPE x".into(),
                },
                CacheValue::Double { value: 1.5 },
                CacheValue::Boolean { value: true },
                CacheValue::Map {
                    entries: vec![(CacheValue::bulk(b("k")), CacheValue::Integer { value: 1 })],
                },
            ],
        };
        let bytes = crate::encode(&v).unwrap();
        assert_eq!(crate::decode::<CacheValue>(&bytes).unwrap(), v);
        // Bulk bytes travel as MessagePack bin (0xc4), not as an array.
        let bulk = crate::encode(&CacheValue::bulk(vec![1u8, 2])).unwrap();
        assert!(bulk.windows(2).any(|w| w == [0xc4, 2]));
    }

    #[test]
    fn quiet_is_left_out_unless_set() {
        let args = vec![ByteBuf::from(b("INFO"))];
        let plain = crate::encode(&CacheOp::Command {
            args: args.clone(),
            quiet: false,
        })
        .unwrap();
        // An old peer sees exactly the message it knows.
        let value: rmpv::Value = rmp_serde::from_slice(&plain).unwrap();
        let keys: Vec<_> = value
            .as_map()
            .unwrap()
            .iter()
            .filter_map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, ["type", "args"]);
        let quiet = CacheOp::Command { args, quiet: true };
        let bytes = crate::encode(&quiet).unwrap();
        assert_eq!(crate::decode::<CacheOp>(&bytes).unwrap(), quiet);
    }
}
