//! The blog's rules for input and its formats for output: field limits,
//! slugs from titles, RFC 3339 timestamps, and pagination cursors.

use base64::Engine as _;

/// Longest email address (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;
/// Longest bio, in bytes.
pub const MAX_BIO: usize = 4096;
/// Longest image URL, in bytes.
pub const MAX_IMAGE: usize = 2048;
/// Longest title, in characters.
pub const MAX_TITLE: usize = 256;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 1024;
/// Longest article body, in bytes.
pub const MAX_BODY: usize = 256 * 1024;
/// Most tags on one article.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG: usize = 64;
/// Longest comment, in bytes.
pub const MAX_COMMENT: usize = 16 * 1024;
/// Most items one page may ask for.
pub const MAX_LIMIT: u32 = 100;
/// Items per page when the request does not say.
pub const DEFAULT_LIMIT: u32 = 20;
/// Longest slug made from a title, in bytes (numbering may add a few).
pub const MAX_SLUG: usize = 96;

/// Text that must say something: not empty or only white space, at most
/// `max` characters (`max_bytes` bytes). Kept verbatim.
///
/// # Errors
/// The RealWorld-style message for the field.
pub fn text(value: &str, max_chars: usize, max_bytes: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("can't be blank".into());
    }
    if value.len() > max_bytes {
        return Err(format!("is too long (at most {max_bytes} bytes)"));
    }
    if value.chars().count() > max_chars {
        return Err(format!("is too long (at most {max_chars} characters)"));
    }
    Ok(())
}

/// An email address: something@something, no spaces or control
/// characters, at most [`MAX_EMAIL`] bytes.
///
/// # Errors
/// What is wrong with it.
pub fn email(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("can't be blank".into());
    }
    if value.len() > MAX_EMAIL {
        return Err(format!("is too long (at most {MAX_EMAIL} bytes)"));
    }
    let well_formed = value
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed {
        return Err("is invalid".into());
    }
    Ok(())
}

/// An optional profile field (bio, image): at most `max` bytes; empty
/// clears it.
///
/// # Errors
/// When too long.
pub fn optional(value: Option<&str>, max: usize) -> Result<Option<String>, String> {
    match value {
        Some(v) if v.len() > max => Err(format!("is too long (at most {max} bytes)")),
        Some(v) if !v.is_empty() => Ok(Some(v.to_owned())),
        _ => Ok(None),
    }
}

/// Tags as given, without duplicates (first one kept), each 1 to
/// [`MAX_TAG`] characters without control characters, at most
/// [`MAX_TAGS`] of them.
///
/// # Errors
/// What is wrong with them.
pub fn tags(list: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for tag in list {
        if tag.trim().is_empty() {
            return Err("can't contain a blank tag".into());
        }
        if tag.chars().count() > MAX_TAG {
            return Err(format!(
                "can't contain a tag longer than {MAX_TAG} characters"
            ));
        }
        if tag.chars().any(char::is_control) {
            return Err("can't contain control characters".into());
        }
        if !out.contains(tag) {
            out.push(tag.clone());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(format!("can't have more than {MAX_TAGS} tags"));
    }
    Ok(out)
}

/// The slug for a title: lower-case letters and digits of any script,
/// runs of anything else as one `-`, at most [`MAX_SLUG`] bytes;
/// `article` when nothing is left.
pub fn slugify(title: &str) -> String {
    let mut slug = String::with_capacity(title.len().min(MAX_SLUG));
    let mut dash = false;
    'outer: for c in title.chars() {
        if c.is_alphanumeric() {
            if dash && !slug.is_empty() {
                if slug.len() + 1 > MAX_SLUG {
                    break;
                }
                slug.push('-');
            }
            dash = false;
            for lower in c.to_lowercase() {
                if slug.len() + lower.len_utf8() > MAX_SLUG {
                    break 'outer;
                }
                slug.push(lower);
            }
        } else {
            dash = true;
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        "article".into()
    } else {
        slug
    }
}

/// Milliseconds since the epoch as RFC 3339 in UTC with milliseconds:
/// `2026-11-30T09:12:00.123Z`.
pub fn timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-date for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The cursor that continues a list after the article with id `id`:
/// opaque to clients (base64url of `a1:ID`).
pub fn cursor(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("a1:{id}"))
}

/// The article id a cursor continues after.
///
/// # Errors
/// When it is not a cursor this API made.
pub fn parse_cursor(cursor: &str) -> Result<i64, String> {
    let bad = || "is not a cursor from this API (use nextCursor as given)".to_owned();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = std::str::from_utf8(&raw).map_err(|_| bad())?;
    text.strip_prefix("a1:")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slugify("How to train your dragon"),
            "how-to-train-your-dragon"
        );
        assert_eq!(slugify("  Hello,  World!! "), "hello-world");
        assert_eq!(slugify("Café ☕ 日本語"), "café-日本語");
        assert_eq!(slugify("!!!"), "article");
        assert_eq!(slugify("'; DROP TABLE x;--"), "drop-table-x");
        let long = slugify(&"é".repeat(500));
        assert!(long.len() <= MAX_SLUG && !long.ends_with('-'));
        let words = slugify(&"ab ".repeat(100));
        assert!(words.len() <= MAX_SLUG && !words.ends_with('-'), "{words}");
    }

    #[test]
    fn timestamps_are_rfc3339_with_milliseconds() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(timestamp(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(parse_cursor(&cursor(42)), Ok(42));
        for bad in ["", "x", "YTE6", "!!", &cursor(0), "YTE6LTE"] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_rules() {
        assert!(text(" ", 10, 10).is_err());
        assert!(text("héllo", 5, 10).is_ok());
        assert!(text("héllo", 4, 10).is_err());
        assert!(email("a@b").is_ok());
        for bad in ["", "ab", "@b", "a@", "a b@c", "a@b\n"] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            tags(&["b".into(), "a".into(), "b".into()]),
            Ok(vec!["b".into(), "a".into()])
        );
        assert!(tags(&[" ".into()]).is_err());
        assert!(tags(&["a\u{1f}b".into()]).is_err());
        assert_eq!(optional(Some(""), 5), Ok(None));
        assert!(optional(Some("toolong"), 5).is_err());
    }
}
