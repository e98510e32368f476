//! The cache service's types on the native protocol.
//!
//! [`CacheValue`] mirrors a Redis reply (RESP3's types) in MessagePack, so
//! a native client gets exactly what a RESP client would: the daemon runs
//! both through the same command executor. Byte strings (`bulk`, channel
//! names, payloads) are MessagePack `bin`, binary-safe.

use serde::{Deserialize, Serialize};

/// At most this many channels plus patterns in one `cache_subscribe`.
pub const MAX_SUBSCRIBE: usize = 1024;

/// The topic of [`crate::Push`]es that carry [`crate::Event::CacheMessage`].
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

    /// Formats the value the way `redis-cli` prints it on a terminal:
    /// `"text"`, `(integer) 1`, `(nil)`, `1) "a"`, `(error) ERR …`.
    pub fn to_cli_string(&self) -> String {
        let mut out = String::new();
        self.write_cli(&mut out, 0);
        out
    }

    fn write_cli(&self, out: &mut String, indent: usize) {
        match self {
            CacheValue::Simple { value } => out.push_str(value),
            CacheValue::Error { message } => {
                out.push_str("(error) ");
                out.push_str(message);
            }
            CacheValue::Integer { value } => out.push_str(&format!("(integer) {value}")),
            CacheValue::Bulk { value } => out.push_str(&quote(value)),
            CacheValue::Nil => out.push_str("(nil)"),
            CacheValue::Double { value } => out.push_str(&format!("(double) {value}")),
            CacheValue::Boolean { value } => {
                out.push_str(if *value { "(true)" } else { "(false)" })
            }
            CacheValue::Array { items } => {
                if items.is_empty() {
                    out.push_str("(empty array)");
                }
                let width = items.len().to_string().len();
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                        out.push_str(&" ".repeat(indent));
                    }
                    let label = format!("{:>width$}) ", i + 1);
                    out.push_str(&label);
                    item.write_cli(out, indent + label.len());
                }
            }
            CacheValue::Map { entries } => {
                if entries.is_empty() {
                    out.push_str("(empty hash)");
                }
                let width = entries.len().to_string().len();
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                        out.push_str(&" ".repeat(indent));
                    }
                    let label = format!("{:>width$}# ", i + 1);
                    out.push_str(&label);
                    k.write_cli(out, indent + label.len());
                    out.push_str(" => ");
                    v.write_cli(out, indent + label.len() + 4);
                }
            }
        }
    }
}

/// Quotes bytes like `redis-cli`: `"…"` with `\"`, `\\`, `\n`, `\r`, `\t`
/// and `\xHH` for other non-printable bytes.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Splits a line into arguments the way Redis's `sdssplitargs` does (so
/// like `redis-cli`'s prompt and the server's inline commands): whitespace
/// separates; `"…"` understands `\n \r \t \b \a \" \\` and `\xHH`;
/// `'…'` only `\'`. A closing quote must be followed by a space or the
/// end. Both the CLI prompt and the daemon's RESP decoder use it.
pub fn split_args(line: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>, String> {
    let line = line.as_ref();
    let n = line.len();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            let Some(&c) = line.get(i) else {
                if in_dq || in_sq {
                    return Err("unbalanced quotes".into());
                }
                break;
            };
            let closing_quote_ok = || line.get(i + 1).is_none_or(|b| b.is_ascii_whitespace());
            if in_dq {
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if !closing_quote_ok() {
                        return Err("closing quote must be followed by a space".into());
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if !closing_quote_ok() {
                        return Err("closing quote must be followed by a space".into());
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    // sdssplitargs ends a bare word at these (NUL included).
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
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
    fn cli_formatting_matches_redis_cli() {
        assert_eq!(CacheValue::bulk(b("hi")).to_cli_string(), "\"hi\"");
        assert_eq!(
            CacheValue::bulk(vec![0u8, b'"']).to_cli_string(),
            "\"\\x00\\\"\""
        );
        assert_eq!(
            CacheValue::Integer { value: 3 }.to_cli_string(),
            "(integer) 3"
        );
        assert_eq!(CacheValue::Nil.to_cli_string(), "(nil)");
        assert_eq!(
            CacheValue::Error {
                message: "ERR x".into()
            }
            .to_cli_string(),
            "(error) ERR x"
        );
        let arr = CacheValue::Array {
            items: vec![
                CacheValue::bulk(b("a")),
                CacheValue::Array {
                    items: vec![CacheValue::bulk(b("b")), CacheValue::bulk(b("c"))],
                },
            ],
        };
        assert_eq!(arr.to_cli_string(), "1) \"a\"\n2) 1) \"b\"\n   2) \"c\"");
        assert_eq!(
            CacheValue::Array { items: vec![] }.to_cli_string(),
            "(empty array)"
        );
    }

    #[test]
    fn split_args_like_redis_cli() {
        assert_eq!(
            split_args("set  k \"a b\\n\\x41\" 'it\\'s'").unwrap(),
            vec![b("set"), b("k"), b("a b\nA"), b("it's")]
        );
        assert_eq!(split_args("   ").unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(split_args("get \"\"").unwrap(), vec![b("get"), b("")]);
        assert!(split_args("get \"open").is_err());
        assert!(split_args("get \"a\"b").is_err());
    }
}
