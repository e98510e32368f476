//! How cache values and bytes read in a terminal, the way `redis-cli`
//! shows them: quoted strings with escapes, `(integer) 1`, numbered array
//! items. The Cache tab shows values this way, and the CLI's `agora cache`
//! prints them this way on a terminal, and as `redis-cli --raw` does
//! ([`raw_text`]) when its output is a pipe (it reaches this module as
//! `agora_tui::redis_format`): presentation, so it lives with the
//! presentation crates rather than in the protocol crate.

use agora_wire::CacheValue;

/// Bytes as text when printable UTF-8, else quoted like redis-cli.
pub fn printable(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_owned(),
        _ => quote(bytes),
    }
}

/// Formats a value the way `redis-cli` prints it on a terminal:
/// `"text"`, `(integer) 1`, `(nil)`, `1) "a"`, `(error) ERR …`.
pub fn cli_text(value: &CacheValue) -> String {
    let mut out = String::new();
    write_cli(value, &mut out, 0);
    out
}

fn write_cli(value: &CacheValue, out: &mut String, indent: usize) {
    match value {
        CacheValue::Simple { value } => out.push_str(value),
        CacheValue::Error { message } => {
            out.push_str("(error) ");
            out.push_str(message);
        }
        CacheValue::Integer { value } => out.push_str(&format!("(integer) {value}")),
        CacheValue::Bulk { value } => out.push_str(&quote(value)),
        CacheValue::Nil => out.push_str("(nil)"),
        CacheValue::Double { value } => out.push_str(&format!("(double) {value}")),
        CacheValue::Boolean { value } => out.push_str(if *value { "(true)" } else { "(false)" }),
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
                write_cli(item, out, indent + label.len());
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
                write_cli(k, out, indent + label.len());
                out.push_str(" => ");
                write_cli(v, out, indent + label.len() + 4);
            }
        }
    }
}

/// Formats a value the way `redis-cli` prints it when standard output is
/// not a terminal (`--raw`): a string's bytes as they are, an integer
/// bare, an array's elements one per line (nested arrays flattened), nil
/// as nothing, an error's text followed by a newline, a map's fields and
/// values on alternate lines (what redis-cli prints for HGETALL, which is
/// a flat array in its default RESP2). The caller ends the reply with a
/// newline, as redis-cli does — so an error is followed by an empty line,
/// exactly as redis-cli 7 prints it.
pub fn raw_text(value: &CacheValue) -> Vec<u8> {
    let mut out = Vec::new();
    write_raw(value, &mut out);
    out
}

fn write_raw(value: &CacheValue, out: &mut Vec<u8>) {
    match value {
        CacheValue::Simple { value } => out.extend_from_slice(value.as_bytes()),
        CacheValue::Error { message } => {
            out.extend_from_slice(message.as_bytes());
            out.push(b'\n');
        }
        CacheValue::Integer { value } => out.extend_from_slice(value.to_string().as_bytes()),
        CacheValue::Bulk { value } => out.extend_from_slice(value),
        CacheValue::Nil => {}
        CacheValue::Double { value } => out.extend_from_slice(value.to_string().as_bytes()),
        CacheValue::Boolean { value } => {
            out.extend_from_slice(if *value { b"(true)" } else { b"(false)" });
        }
        CacheValue::Array { items } => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                write_raw(item, out);
            }
        }
        CacheValue::Map { entries } => {
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                write_raw(k, out);
                out.push(b'\n');
                write_raw(v, out);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn cli_formatting_matches_redis_cli() {
        assert_eq!(cli_text(&CacheValue::bulk(b("hi"))), "\"hi\"");
        assert_eq!(
            cli_text(&CacheValue::bulk(vec![0u8, b'"'])),
            "\"\\x00\\\"\""
        );
        assert_eq!(cli_text(&CacheValue::Integer { value: 3 }), "(integer) 3");
        assert_eq!(cli_text(&CacheValue::Nil), "(nil)");
        assert_eq!(
            cli_text(&CacheValue::Error {
                message: "ERR x".into()
            }),
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
        assert_eq!(cli_text(&arr), "1) \"a\"\n2) 1) \"b\"\n   2) \"c\"");
        assert_eq!(
            cli_text(&CacheValue::Array { items: vec![] }),
            "(empty array)"
        );
    }

    /// What redis-cli 7.0.15 printed with its output piped, for the same
    /// replies (the caller's final newline not included).
    #[test]
    fn raw_formatting_matches_redis_cli() {
        assert_eq!(
            raw_text(&CacheValue::bulk(vec![b'a', b'\n', 0xff])),
            [b'a', b'\n', 0xff]
        );
        assert_eq!(raw_text(&CacheValue::Integer { value: -3 }), b"-3");
        assert_eq!(raw_text(&CacheValue::Simple { value: "OK".into() }), b"OK");
        assert_eq!(raw_text(&CacheValue::Nil), b"");
        assert_eq!(
            raw_text(&CacheValue::Error {
                message: "WRONGTYPE x".into()
            }),
            b"WRONGTYPE x\n"
        );
        let arr = CacheValue::Array {
            items: vec![
                CacheValue::bulk(b("a")),
                CacheValue::Nil,
                CacheValue::Array {
                    items: vec![CacheValue::bulk(b("c d")), CacheValue::Integer { value: 1 }],
                },
            ],
        };
        assert_eq!(raw_text(&arr), b"a\n\nc d\n1");
        assert_eq!(raw_text(&CacheValue::Array { items: vec![] }), b"");
        let map = CacheValue::Map {
            entries: vec![
                (CacheValue::bulk(b("f1")), CacheValue::bulk(b("v1"))),
                (CacheValue::bulk(b("f2")), CacheValue::bulk(b("v2"))),
            ],
        };
        assert_eq!(raw_text(&map), b"f1\nv1\nf2\nv2");
    }
}
