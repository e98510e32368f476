//! Hash commands: HSET, HGET, HMGET, HGETALL, HDEL, HEXISTS, HLEN,
//! HINCRBY, HINCRBYFLOAT, HKEYS, HVALS, HSTRLEN, HSETNX, HMSET, HRANDFIELD.

use bytes::Bytes;

use super::{Ctx, int_arg, is, parse_i64};
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Access, Entry, Hash, Shard, Value};

/// The live hash at `key`: `Ok(None)` if missing, WRONGTYPE otherwise.
fn read<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    now: u64,
    access: Access,
) -> Result<Option<&'s Hash>, Reply> {
    match shard.get(key, now, access) {
        None => Ok(None),
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Ok(Some(h)),
        Some(_) => Err(Reply::err(errors::WRONGTYPE)),
    }
}

/// Runs `change` on the hash at `key`, creating it if missing; deletes
/// the key if the hash ends up empty.
fn write<R>(ctx: &Ctx<'_>, key: &[u8], change: impl FnOnce(&mut Hash) -> R) -> Result<R, Reply> {
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    // One lookup: the position found is the one changed.
    match shard.find(key, now) {
        None => {
            let mut hash = Hash::default();
            let out = change(&mut hash);
            if !hash.is_empty() {
                shard.insert(key, Entry::new(Value::Hash(Box::new(hash))), now);
            }
            Ok(out)
        }
        Some(idx) if !matches!(shard.entry_at(idx).value, Value::Hash(_)) => {
            Err(Reply::err(errors::WRONGTYPE))
        }
        Some(idx) => {
            let (out, empty) = shard.update_at(idx, |e| match &mut e.value {
                Value::Hash(h) => {
                    let out = change(h);
                    (Some(out), h.is_empty())
                }
                _ => (None, false),
            });
            if empty {
                shard.remove(key, now);
            }
            out.ok_or(Reply::err(errors::WRONGTYPE))
        }
    }
}

fn set_pairs(ctx: &mut Ctx<'_>, args: &[Bytes], name: &str) -> Result<i64, Reply> {
    if !args.len().is_multiple_of(2) {
        return Err(super::wrong_arity(name));
    }
    write(ctx, &args[1], |h| {
        let mut added = 0;
        for pair in args[2..].chunks_exact(2) {
            if h.set(&pair[0], &pair[1]) {
                added += 1;
            }
        }
        added
    })
}

pub(super) fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(set_pairs(ctx, args, "hset").map(Reply::Integer))
}

pub(super) fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(set_pairs(ctx, args, "hmset").map(|_| Reply::ok()))
}

pub(super) fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(
        write(ctx, &args[1], |h| {
            if h.contains_key(&args[2][..]) {
                0
            } else {
                h.insert((&args[2][..]).into(), (&args[3][..]).into());
                1
            }
        })
        .map(Reply::Integer),
    )
}

fn with_hash(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(Option<&Hash>) -> Reply) -> Reply {
    let mut shard = ctx.db().lock_key(key);
    match read(&mut shard, key, ctx.now_ms, ctx.access) {
        Ok(h) => f(h),
        Err(e) => e,
    }
}

pub(super) fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    with_hash(ctx, &args[1], |h| {
        Reply::bulk_or_nil(h.and_then(|h| h.get(&args[2][..])).map(|v| &v[..]))
    })
}

pub(super) fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    with_hash(ctx, &args[1], |h| {
        Reply::Array(
            args[2..]
                .iter()
                .map(|f| Reply::bulk_or_nil(h.and_then(|h| h.get(&f[..])).map(|v| &v[..])))
                .collect(),
        )
    })
}

pub(super) fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    with_hash(ctx, &args[1], |h| {
        Reply::Map(h.map_or(Vec::new(), |h| {
            h.iter()
                .map(|(k, v)| (Reply::bulk(k), Reply::bulk(v)))
                .collect()
        }))
    })
}

pub(super) fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    with_hash(ctx, &args[1], |h| {
        Reply::Array(h.map_or(Vec::new(), |h| h.keys().map(|k| Reply::bulk(k)).collect()))
    })
}

pub(super) fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    with_hash(ctx, &args[1], |h| {
        Reply::Array(h.map_or(Vec::new(), |h| h.values().map(|v| Reply::bulk(v)).collect()))
    })
}

pub(super) fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    with_hash(ctx, &args[1], |h| {
        Reply::Integer(h.map_or(0, |h| h.len()) as i64)
    })
}

pub(super) fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    with_hash(ctx, &args[1], |h| {
        Reply::Integer(i64::from(h.is_some_and(|h| h.contains_key(&args[2][..]))))
    })
}

pub(super) fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    with_hash(ctx, &args[1], |h| {
        Reply::Integer(h.and_then(|h| h.get(&args[2][..])).map_or(0, |v| v.len()) as i64)
    })
}

pub(super) fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    {
        let mut shard = ctx.db().lock_key(&args[1]);
        match read(&mut shard, &args[1], now, ctx.access) {
            Err(e) => return e,
            Ok(None) => return Reply::Integer(0),
            Ok(Some(_)) => {}
        }
    }
    super::reply(
        write(ctx, &args[1], |h| {
            args[2..]
                .iter()
                .filter(|f| h.swap_remove(&f[..]).is_some())
                .count() as i64
        })
        .map(Reply::Integer),
    )
}

pub(super) fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let delta = match int_arg(&args[3]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let result = write(ctx, &args[1], |h| {
        let current = match h.get(&args[2][..]) {
            None => 0,
            Some(v) => match parse_i64(v) {
                Some(n) => n,
                None => return Err(Reply::err("ERR hash value is not an integer")),
            },
        };
        let new = current
            .checked_add(delta)
            .ok_or(Reply::err(errors::OVERFLOW))?;
        h.insert((&args[2][..]).into(), new.to_string().into_bytes().into());
        Ok(new)
    });
    match result {
        Ok(Ok(n)) => Reply::Integer(n),
        Ok(Err(e)) | Err(e) => e,
    }
}

/// HINCRBYFLOAT key field increment.
pub(super) fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(delta) = super::parse_f64(&args[3]) else {
        return Reply::err(errors::NOT_FLOAT);
    };
    // Redis 7.0 refuses an infinite increment before touching the key.
    if !delta.is_finite() {
        return Reply::err("ERR value is NaN or Infinity");
    }
    let result = write(ctx, &args[1], |h| {
        let current = match h.get(&args[2][..]) {
            None => 0.0,
            Some(v) => match super::parse_f64(v) {
                Some(n) => n,
                None => return Err(Reply::err("ERR hash value is not a float")),
            },
        };
        let new = current + delta;
        if !new.is_finite() {
            return Err(Reply::err("ERR increment would produce NaN or Infinity"));
        }
        let text = super::format_f64(new);
        h.insert((&args[2][..]).into(), text.as_bytes().into());
        Ok(text)
    });
    match result {
        Ok(Ok(text)) => Reply::Bulk(Bytes::from(text)),
        Ok(Err(e)) | Err(e) => e,
    }
}

/// HRANDFIELD key [count [WITHVALUES]]: one random field, or `count`
/// distinct ones (negative: |count| with repeats), as SRANDMEMBER picks.
pub(super) fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let count = match args.get(2).map(|c| int_arg(c)) {
        None => None,
        Some(Ok(n)) if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) => {
            return Reply::err("ERR value is out of range");
        }
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => return e,
    };
    let with_values = match args.get(3) {
        None => false,
        Some(a) if args.len() == 4 && is(a, "withvalues") => true,
        Some(_) => return Reply::err(errors::SYNTAX),
    };
    let mut shard = ctx.db().lock_key(&args[1]);
    let hash = match read(&mut shard, &args[1], ctx.now_ms, ctx.access) {
        Ok(h) => h,
        Err(e) => return e,
    };
    let Some(count) = count else {
        return hash
            .filter(|h| !h.is_empty())
            .and_then(|h| h.get_index(super::sets::rand_below(h.len())))
            .map_or(Reply::Nil, |(f, _)| Reply::bulk(f));
    };
    let Some(hash) = hash.filter(|h| !h.is_empty()) else {
        return Reply::Array(Vec::new());
    };
    let picks = super::sets::random_positions(hash.len(), count);
    let resp3 = ctx.client.resp3;
    let mut out = Vec::with_capacity(picks.len() * if with_values { 2 } else { 1 });
    for (field, value) in picks.into_iter().filter_map(|i| hash.get_index(i)) {
        if !with_values {
            out.push(Reply::bulk(field));
        } else if resp3 {
            out.push(Reply::Array(vec![Reply::bulk(field), Reply::bulk(value)]));
        } else {
            out.push(Reply::bulk(field));
            out.push(Reply::bulk(value));
        }
    }
    Reply::Array(out)
}
