//! Durations as every flag takes them (docs/CLI.md): `500ms`, `10s`,
//! `2m`, `1h`, `1d`, or a bare number of seconds. A module of its own so
//! the flag definitions kept beside their commands (`commands/*/args.rs`)
//! need not import `args.rs`, which names them.

/// Parses `500ms`, `10s`, `2m`, `1h`, `1d`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    match parse_duration_or_zero(text)? {
        d if d.is_zero() => Err(format!("{text:?}: the duration must be positive")),
        d => Ok(d),
    }
}

/// [`parse_duration`], where 0 (`0`, `0s`, `0ms`) is allowed.
pub fn parse_duration_or_zero(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let bad = || format!("{text:?} is not a duration (try 500ms, 10s, 2m or 1h)");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let ms = match unit {
        "ms" => n,
        "" | "s" => n.checked_mul(1000).ok_or_else(bad)?,
        "m" => n.checked_mul(60_000).ok_or_else(bad)?,
        "h" => n.checked_mul(3_600_000).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400_000).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(std::time::Duration::from_millis(ms))
}
