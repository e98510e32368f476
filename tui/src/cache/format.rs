//! How cache values and bytes read in a terminal, the way `redis-cli`
//! shows them: quoted strings with escapes, `(integer) 1`, numbered array
//! items. The Cache tab shows values this way, and the CLI's `agora cache`
//! prints them this way on a terminal (it reaches this module as
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
}
