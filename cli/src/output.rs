//! Printing: one-line errors for people, JSON for scripts.

use std::io::Write as _;

use serde::Serialize;

/// An error chain as one line: `outer: inner: root`, skipping causes whose
/// text the previous one already includes.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

/// Bytes in binary units with one decimal (`1.5 GiB`; the TUI's cache
/// tab shows sizes with the same function).
pub use agora_tui::human_bytes;

/// `1 ping`, `2 pings`, `0 pings`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration in milliseconds, to the microsecond (`0.304`), so JSON shows
/// no float noise like `0.20316099999999998`.
pub fn millis(d: std::time::Duration) -> f64 {
    round_micros(d.as_secs_f64() * 1e3)
}

/// A number of milliseconds rounded to three decimals (microseconds).
pub fn round_micros(ms: f64) -> f64 {
    (ms * 1e3).round() / 1e3
}

/// For `#[serde(serialize_with = "…")]` on float fields: three decimals.
pub fn three_decimals<S: serde::Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_micros(*value))
}

/// Prints a value as one JSON document on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    // As an io::Error, so a closed pipe is recognised as such by main.
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn milliseconds_keep_three_decimals() {
        assert_eq!(
            millis(std::time::Duration::from_nanos(203_160_999)),
            203.161
        );
        assert_eq!(round_micros(0.4789815), 0.479);
        assert_eq!(
            serde_json::to_string(&round_micros(0.20316099999999998)).unwrap(),
            "0.203"
        );
    }

    #[test]
    fn counts_are_plural_unless_one() {
        assert_eq!(count(1, "member", "members"), "1 member");
        assert_eq!(count(0, "member", "members"), "0 members");
        assert_eq!(count(2, "ping", "pings"), "2 pings");
    }

    #[test]
    fn chain_is_joined_without_repeats() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Err::<(), _>(io).context("cannot open x").unwrap_err();
        assert_eq!(one_line(&err), "cannot open x: no such file");
        let err = anyhow::anyhow!("boom: no such file").context("boom: no such file");
        assert_eq!(one_line(&err), "boom: no such file");
    }
}
