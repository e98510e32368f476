//! How `agora cache` prints: the prompt's three formats ([`Format`]) for
//! replies, subscriptions and messages, and the JSON shapes of the
//! subcommands (bytes, values, INFO). Pure functions from values to
//! bytes or JSON; writing them is the caller's.
//!
//! The prompt's JSON lines (one object per reply, each with a `type`):
//! `{"type": "reply", "value": …}`, `{"type": "error", "message": …}`,
//! `{"type": "subscribe", "channel": …, "count": n}` (`psubscribe` with
//! `pattern`), `{"type": "message", "channel": …, "payload": …}` (plus
//! `pattern` for a pattern subscription), `{"type": "help", …}`.

use std::collections::BTreeSet;

use agora_tui::redis_format::{cli_text, quote, raw_text};
use agora_wire::CacheValue;
use base64::Engine as _;
use serde_json::{Value, json};

use super::Kind;

/// How the prompt prints replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// As redis-cli on a terminal: `"bar"`, `(integer) 1`, `1) "a"`.
    Formatted,
    /// As redis-cli with its output piped (`--raw`): `bar`, `1`, one
    /// element per line.
    Raw,
    /// One JSON object per line.
    Json,
}

/// One reply as the prompt prints it, final newline included. `verbatim`
/// (INFO, CLIENT LIST, CLIENT INFO: text meant to be read as it is)
/// prints a string's bytes with nothing added, in both redis-cli formats,
/// as redis-cli does.
pub fn reply(format: Format, value: &CacheValue, verbatim: bool) -> Vec<u8> {
    match (format, value) {
        (Format::Json, CacheValue::Error { message }) => {
            json_line(&json!({ "type": "error", "message": message }))
        }
        (Format::Json, value) => json_line(&json!({ "type": "reply", "value": value_json(value) })),
        (_, CacheValue::Bulk { value }) if verbatim => value.clone(),
        (Format::Raw, value) => {
            let mut out = raw_text(value);
            out.push(b'\n');
            out
        }
        (Format::Formatted, value) => {
            let mut out = cli_text(value).into_bytes();
            out.push(b'\n');
            out
        }
    }
}

/// A line that could not be split into arguments (unbalanced quotes),
/// printed as redis-cli prints it.
pub fn invalid_line(format: Format, why: &str) -> Vec<u8> {
    match format {
        Format::Json => json_line(&json!({
            "type": "error",
            "message": format!("Invalid argument(s): {why}"),
        })),
        Format::Raw | Format::Formatted => b"Invalid argument(s)\n".to_vec(),
    }
}

/// Redis's confirmation of each name of a SUBSCRIBE or PSUBSCRIBE, with
/// the running count of subscriptions (names repeated count once).
pub fn confirmations(format: Format, kind: Kind, names: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let (word, field) = match kind {
        Kind::Channels => ("subscribe", "channel"),
        Kind::Patterns => ("psubscribe", "pattern"),
    };
    let mut seen = BTreeSet::new();
    names
        .iter()
        .map(|name| {
            seen.insert(name.as_slice());
            let count = seen.len();
            match format {
                Format::Json => json_line(&json!({
                    "type": word,
                    field: bytes_json(name),
                    "count": count,
                })),
                _ => reply(
                    format,
                    &CacheValue::Array {
                        items: vec![
                            CacheValue::bulk(word),
                            CacheValue::bulk(name.clone()),
                            CacheValue::Integer {
                                value: i64::try_from(count).unwrap_or(i64::MAX),
                            },
                        ],
                    },
                    false,
                ),
            }
        })
        .collect()
}

/// A published message, as redis-cli prints it in subscribed mode
/// (`message`, channel, payload; `pmessage`, pattern, channel, payload),
/// or as a JSON line.
pub fn message(format: Format, channel: &[u8], pattern: Option<&[u8]>, payload: &[u8]) -> Vec<u8> {
    if format == Format::Json {
        return json_line(&message_json(channel, pattern, payload));
    }
    let mut items = vec![CacheValue::bulk(if pattern.is_some() {
        "pmessage"
    } else {
        "message"
    })];
    items.extend(pattern.map(CacheValue::bulk));
    items.push(CacheValue::bulk(channel));
    items.push(CacheValue::bulk(payload));
    reply(format, &CacheValue::Array { items }, false)
}

/// `{"type": "message", "pattern"?, "channel", "payload"}`.
pub fn message_json(channel: &[u8], pattern: Option<&[u8]>, payload: &[u8]) -> Value {
    let mut obj = json!({
        "type": "message",
        "channel": bytes_json(channel),
        "payload": bytes_json(payload),
    });
    if let Some(p) = pattern {
        obj["pattern"] = bytes_json(p);
    }
    obj
}

/// A JSON value on one line.
pub fn json_line(value: &Value) -> Vec<u8> {
    let mut line = value.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// A key or payload on one line: as is when printable UTF-8, otherwise
/// quoted like redis-cli (`"a\nb"`).
pub fn key_line(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) && !s.starts_with('"') => s.to_owned(),
        _ => quote(bytes),
    }
}

/// Bytes in JSON: a string when UTF-8, else `{"base64": …}`.
pub fn bytes_json(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

/// A cache value in JSON: nil is `null`, integers and doubles numbers,
/// strings as in [`bytes_json`], errors `{"error": "…"}`, arrays arrays,
/// maps objects when every key is a UTF-8 string (else arrays of pairs).
pub fn value_json(value: &CacheValue) -> Value {
    match value {
        CacheValue::Simple { value } => Value::String(value.clone()),
        CacheValue::Error { message } => json!({ "error": message }),
        CacheValue::Integer { value } => json!(value),
        CacheValue::Bulk { value } => bytes_json(value),
        CacheValue::Nil => Value::Null,
        CacheValue::Array { items } => Value::Array(items.iter().map(value_json).collect()),
        CacheValue::Map { entries } => {
            let keys: Option<Vec<String>> = entries
                .iter()
                .map(|(k, _)| {
                    k.as_bytes()
                        .and_then(|b| std::str::from_utf8(b).ok().map(str::to_owned))
                })
                .collect();
            match keys {
                Some(keys) => Value::Object(
                    keys.into_iter()
                        .zip(entries.iter().map(|(_, v)| value_json(v)))
                        .collect(),
                ),
                None => Value::Array(
                    entries
                        .iter()
                        .map(|(k, v)| json!([value_json(k), value_json(v)]))
                        .collect(),
                ),
            }
        }
        CacheValue::Double { value } => json!(value),
        CacheValue::Boolean { value } => json!(value),
    }
}

/// INFO's text as `{"section": {"field": value}}` (sections lower-case).
/// Numbers are JSON numbers (floats rounded to three decimals); a value made of `k=v,k=v` pairs (the
/// keyspace's `db0:keys=1,expires=0,avg_ttl=0`) is an object.
pub fn info_json(text: &str) -> Value {
    let mut root = serde_json::Map::new();
    let mut section = String::from("default");
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("# ") {
            section = name.to_lowercase();
            root.entry(section.clone()).or_insert_with(|| json!({}));
        } else if let Some((k, v)) = line.split_once(':') {
            let entry = root.entry(section.clone()).or_insert_with(|| json!({}));
            if let Value::Object(map) = entry {
                map.insert(k.to_owned(), info_value(v));
            }
        }
    }
    Value::Object(root)
}

fn info_value(text: &str) -> Value {
    let pairs: Option<serde_json::Map<String, Value>> = text
        .split(',')
        .map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.to_owned(), info_value(v)))
        })
        .collect();
    if let Some(pairs) = pairs.filter(|_| text.contains('=')) {
        return Value::Object(pairs);
    }
    if let Ok(n) = text.parse::<i64>() {
        return json!(n);
    }
    let decimal = text.strip_prefix('-').unwrap_or(text);
    if decimal.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
    }) && let Ok(f) = text.parse::<f64>()
    {
        // At most three decimals, as every float agora prints in JSON
        // (INFO cpu's seconds come with six).
        return json!((f * 1000.0).round() / 1000.0);
    }
    Value::String(text.to_owned())
}

/// `12.345s`, `2m 3.000s` … for a TTL in ms.
pub fn human_ms(ms: i64) -> String {
    let secs = ms as f64 / 1000.0;
    if ms >= 3_600_000 {
        format!(
            "{}h {}m {:.3}s",
            ms / 3_600_000,
            ms / 60_000 % 60,
            (ms % 60_000) as f64 / 1000.0
        )
    } else if ms >= 60_000 {
        format!("{}m {:.3}s", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
    } else {
        format!("{secs:.3}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn json_forms() {
        assert_eq!(bytes_json(b"hi"), json!("hi"));
        assert_eq!(bytes_json(&[0xff, 0]), json!({ "base64": "/wA=" }));
        let map = CacheValue::Map {
            entries: vec![(CacheValue::bulk("a"), CacheValue::Integer { value: 1 })],
        };
        assert_eq!(value_json(&map), json!({ "a": 1 }));
        assert_eq!(value_json(&CacheValue::Nil), Value::Null);
    }

    #[test]
    fn prompt_lines_in_each_format() {
        let err = CacheValue::Error {
            message: "ERR x".into(),
        };
        assert_eq!(
            text(reply(Format::Formatted, &err, false)),
            "(error) ERR x\n"
        );
        assert_eq!(text(reply(Format::Raw, &err, false)), "ERR x\n\n");
        assert_eq!(
            text(reply(Format::Json, &err, false)),
            "{\"message\":\"ERR x\",\"type\":\"error\"}\n"
        );
        let nil = CacheValue::Nil;
        assert_eq!(text(reply(Format::Raw, &nil, false)), "\n");
        assert_eq!(
            text(reply(Format::Json, &nil, false)),
            "{\"type\":\"reply\",\"value\":null}\n"
        );
        let info = CacheValue::bulk("# Server\r\nx:1\r\n");
        for format in [Format::Raw, Format::Formatted] {
            assert_eq!(text(reply(format, &info, true)), "# Server\r\nx:1\r\n");
        }
        assert_eq!(
            text(message(Format::Raw, b"ch", Some(b"c*"), b"hi")),
            "pmessage\nc*\nch\nhi\n"
        );
        let subs = confirmations(
            Format::Formatted,
            Kind::Channels,
            &[b"a".to_vec(), b"a".to_vec()],
        );
        assert_eq!(
            text(subs[1].clone()),
            "1) \"subscribe\"\n2) \"a\"\n3) (integer) 1\n"
        );
        let subs = confirmations(Format::Json, Kind::Patterns, &[b"p*".to_vec()]);
        let v: Value = serde_json::from_slice(&subs[0]).unwrap();
        assert_eq!(
            v,
            json!({"type": "psubscribe", "pattern": "p*", "count": 1})
        );
    }

    #[test]
    fn key_lines_quote_only_when_needed() {
        assert_eq!(key_line(b"user:1"), "user:1");
        assert_eq!(key_line(b"a\nb"), "\"a\\nb\"");
        assert_eq!(key_line(&[0xff]), "\"\\xff\"");
    }

    #[test]
    fn info_sections_with_numbers() {
        let v = info_json(
            "# Server\r\nredis_version:7.2.0\r\nuptime_in_seconds:12\r\nratio:0.50\r\nused_memory_human:1.2M\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
        );
        assert_eq!(v["server"]["redis_version"], "7.2.0");
        assert_eq!(v["server"]["uptime_in_seconds"], 12);
        assert_eq!(v["server"]["ratio"], 0.5);
        assert_eq!(v["server"]["used_memory_human"], "1.2M");
        assert_eq!(
            v["keyspace"]["db0"],
            json!({"keys": 1, "expires": 0, "avg_ttl": 0})
        );
    }

    #[test]
    fn ttl_text() {
        assert_eq!(human_ms(1500), "1.500s");
        assert_eq!(human_ms(61_000), "1m 1.000s");
    }
}
