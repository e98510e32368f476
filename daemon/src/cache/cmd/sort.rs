//! SORT and SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern
//! ...] [ASC|DESC] [ALPHA] [STORE destination], as Redis's sort.c does
//! them: numbers compared as doubles (ties by the bytes), ALPHA by the
//! bytes, a BY pattern without `*` keeps the native order, `#` in GET
//! is the element itself, `*->field` reads a hash field.

use std::cmp::Ordering;

use bytes::Bytes;

use super::{Ctx, int_arg, is};
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Entry, List, Value};

struct Options {
    by: Option<Bytes>,
    dont_sort: bool,
    limit: Option<(i64, i64)>,
    gets: Vec<Bytes>,
    desc: bool,
    alpha: bool,
    store: Option<Bytes>,
}

fn options(args: &[Bytes], read_only: bool) -> Result<Options, Reply> {
    let mut o = Options {
        by: None,
        dont_sort: false,
        limit: None,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let word = &args[j];
        if is(word, "asc") {
            o.desc = false;
        } else if is(word, "desc") {
            o.desc = true;
        } else if is(word, "alpha") {
            o.alpha = true;
        } else if is(word, "limit") && left >= 2 {
            o.limit = Some((int_arg(&args[j + 1])?, int_arg(&args[j + 2])?));
            j += 2;
        } else if !read_only && is(word, "store") && left >= 1 {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if is(word, "by") && left >= 1 {
            o.dont_sort = !args[j + 1].contains(&b'*');
            o.by = Some(args[j + 1].clone());
            j += 1;
        } else if is(word, "get") && left >= 1 {
            o.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        j += 1;
    }
    Ok(o)
}

/// The value `pattern` names for `element` (Redis's lookupKeyByPattern):
/// `#` is the element; the first `*` is replaced by it; `key->field`
/// reads a hash field; a string key reads its value; anything else is
/// nothing.
fn lookup(ctx: &Ctx<'_>, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let (postfix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(&after[i + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    let mut shard = ctx.db().lock_key(&key);
    match (shard.get(&key, ctx.now_ms, ctx.access)?, field) {
        (
            Entry {
                value: Value::Str(s),
                ..
            },
            None,
        ) => Some(s.to_vec()),
        (
            Entry {
                value: Value::Hash(h),
                ..
            },
            Some(f),
        ) => h.get(f).map(|v| v.to_vec()),
        _ => None,
    }
}

/// A double as strtod reads a whole string: "" is 0, NaN is refused.
fn score_of(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?.trim_start();
    if text.is_empty() {
        return (bytes.is_empty()).then_some(0.0);
    }
    let v: f64 = match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        t => t.parse().ok()?,
    };
    (!v.is_nan()).then_some(v)
}

/// The elements of the key to sort, in their native order, and whether
/// it is a set (which has none); empty when missing; WRONGTYPE for a
/// string or hash.
fn elements(ctx: &Ctx<'_>, key: &[u8]) -> Result<(Vec<Bytes>, bool), Reply> {
    let mut shard = ctx.db().lock_key(key);
    let Some(entry) = shard.get(key, ctx.now_ms, ctx.access) else {
        return Ok((Vec::new(), false));
    };
    let copy = |v: &[u8]| Bytes::copy_from_slice(v);
    Ok(match &entry.value {
        Value::List(l) => (l.iter().map(|v| copy(v)).collect(), false),
        Value::Set(s) => (s.iter().map(copy).collect(), true),
        Value::ZSet(z) => (z.iter().map(|(m, _)| copy(m)).collect(), false),
        _ => return Err(Reply::err(errors::WRONGTYPE)),
    })
}

pub(super) fn sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match run(ctx, args, false) {
        Ok(r) | Err(r) => r,
    }
}

pub(super) fn sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match run(ctx, args, true) {
        Ok(r) | Err(r) => r,
    }
}

fn run(ctx: &Ctx<'_>, args: &[Bytes], read_only: bool) -> Result<Reply, Reply> {
    let mut o = options(args, read_only)?;
    let (mut items, is_set) = elements(ctx, &args[1])?;
    if o.dont_sort && is_set && (o.store.is_some() || ctx.client.script) {
        // A set has no order of its own: STORE (and a script, whose
        // result must not depend on the set's layout) sorts it (ALPHA),
        // as in Redis.
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    if o.dont_sort && o.desc && !is_set {
        // Lists and sorted sets keep their order, reversed by DESC.
        items.reverse();
    }
    if !o.dont_sort {
        items = sorted(ctx, items, &o)?;
    }
    let len = items.len() as i64;
    let (start, count) = o.limit.unwrap_or((0, -1));
    let start = start.clamp(0, len);
    let count = count.clamp(-1, len);
    let end = if count < 0 {
        len
    } else {
        (start + count).min(len)
    };
    let chosen = &items[start as usize..end.max(start) as usize];
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    for item in chosen {
        if o.gets.is_empty() {
            out.push(Some(item.to_vec()));
        }
        for pattern in &o.gets {
            out.push(lookup(ctx, pattern, item));
        }
    }
    let Some(dest) = &o.store else {
        return Ok(Reply::Array(
            out.into_iter()
                .map(|v| v.map_or(Reply::Nil, |v| Reply::Bulk(v.into())))
                .collect(),
        ));
    };
    let n = out.len() as i64;
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(dest);
    if out.is_empty() {
        shard.remove(dest, now);
    } else {
        let list = List::from(
            out.into_iter()
                .map(|v| v.unwrap_or_default().into_boxed_slice())
                .collect::<std::collections::VecDeque<_>>(),
        );
        shard.insert(dest, Entry::new(Value::List(Box::new(list))), now);
    }
    Ok(Reply::Integer(n))
}

fn sorted(ctx: &Ctx<'_>, items: Vec<Bytes>, o: &Options) -> Result<Vec<Bytes>, Reply> {
    enum Key {
        Score(f64),
        Text(Option<Vec<u8>>),
    }
    let mut keyed: Vec<(Key, Bytes)> = Vec::with_capacity(items.len());
    for item in items {
        let by = match &o.by {
            Some(pattern) => lookup(ctx, pattern, &item),
            None => Some(item.to_vec()),
        };
        let key = if o.alpha {
            Key::Text(if o.by.is_some() { by } else { None })
        } else {
            match by {
                None => Key::Score(0.0),
                Some(v) => Key::Score(score_of(&v).ok_or(Reply::err(
                    "ERR One or more scores can't be converted into double",
                ))?),
            }
        };
        keyed.push((key, item));
    }
    let by_pattern = o.by.is_some();
    keyed.sort_by(|(ka, a), (kb, b)| {
        let cmp = match (ka, kb) {
            (Key::Score(x), Key::Score(y)) => x
                .partial_cmp(y)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.cmp(b)),
            (Key::Text(x), Key::Text(y)) if by_pattern => x.cmp(y),
            _ => a.cmp(b),
        };
        if o.desc { cmp.reverse() } else { cmp }
    });
    Ok(keyed.into_iter().map(|(_, item)| item).collect())
}

#[cfg(test)]
mod tests {
    use super::score_of;

    #[test]
    fn scores_read_like_strtod() {
        assert_eq!(score_of(b""), Some(0.0));
        assert_eq!(score_of(b" 1.5"), Some(1.5));
        assert_eq!(score_of(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(score_of(b"1.5 "), None);
        assert_eq!(score_of(b"abc"), None);
        assert_eq!(score_of(b"nan"), None);
    }
}
