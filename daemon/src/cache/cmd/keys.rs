//! Generic key commands: DEL, EXISTS, the EXPIRE family, TTL, KEYS, SCAN,
//! DBSIZE, FLUSHDB, TYPE, RENAME, RANDOMKEY.

use bytes::Bytes;

use super::{Ctx, int_arg, is};
use crate::cache::glob;
use crate::cache::reply::{Reply, errors};
use crate::cache::store::SHARDS;

pub(super) fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let removed = args[1..]
        .iter()
        .filter(|key| {
            ctx.cache
                .store
                .lock_key(key)
                .remove(key, ctx.now_ms)
                .is_some()
        })
        .count();
    Reply::Integer(removed as i64)
}

pub(super) fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let found = args[1..]
        .iter()
        .filter(|key| {
            ctx.cache
                .store
                .lock_key(key)
                .peek(key, ctx.now_ms)
                .is_some()
        })
        .count();
    Reply::Integer(found as i64)
}

/// EXPIRE and friends: `unit_ms` scales the argument, `absolute` says
/// whether it is a Unix time.
fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    unit_ms: i64,
    absolute: bool,
    cmd: &str,
) -> Reply {
    let n = match int_arg(&args[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            return Reply::error(format!("ERR Unsupported option {}", super::lossy(opt, 128)));
        }
    }
    if nx && (xx || gt || lt) {
        return Reply::err("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return Reply::err("ERR GT and LT options at the same time are not compatible");
    }
    let invalid = || Reply::error(format!("ERR invalid expire time in '{cmd}' command"));
    let Some(mut when) = n.checked_mul(unit_ms) else {
        return invalid();
    };
    if !absolute {
        let Some(at) = when.checked_add(ctx.now_ms as i64) else {
            return invalid();
        };
        when = at;
    }
    let now = ctx.now_ms;
    let key = &args[1];
    let mut shard = ctx.cache.store.lock_key(key);
    let Some(entry) = shard.peek(key, now) else {
        return Reply::Integer(0);
    };
    let current = entry.expire_at;
    // A key without TTL counts as an infinite TTL for GT/LT.
    let allowed = if nx {
        current == 0
    } else if xx && current == 0 {
        false
    } else if gt {
        current != 0 && when > current as i64
    } else if lt {
        current == 0 || when < current as i64
    } else {
        true
    };
    if !allowed {
        return Reply::Integer(0);
    }
    if when <= now as i64 {
        shard.remove(key, now);
    } else {
        shard.set_expiry(key, when as u64, now);
    }
    Reply::Integer(1)
}

pub(super) fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, 1000, false, "expire")
}

pub(super) fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, 1, false, "pexpire")
}

pub(super) fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, 1000, true, "expireat")
}

pub(super) fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, 1, true, "pexpireat")
}

/// -2 missing, -1 no TTL, else the absolute expiry or remaining TTL in
/// `unit` ms.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], unit: u64, remaining: bool) -> Reply {
    let now = ctx.now_ms;
    let mut shard = ctx.cache.store.lock_key(key);
    match shard.peek(key, now) {
        None => Reply::Integer(-2),
        Some(e) if e.expire_at == 0 => Reply::Integer(-1),
        Some(e) if remaining => {
            let left = e.expire_at - now;
            // TTL rounds to the nearest second, as Redis does.
            Reply::Integer(((left + unit / 2) / unit) as i64)
        }
        Some(e) => Reply::Integer((e.expire_at / unit) as i64),
    }
}

pub(super) fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], 1000, true)
}

pub(super) fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], 1, true)
}

pub(super) fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], 1000, false)
}

pub(super) fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], 1, false)
}

pub(super) fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    let mut shard = ctx.cache.store.lock_key(&args[1]);
    match shard.peek(&args[1], now) {
        Some(e) if e.expire_at != 0 => {
            shard.set_expiry(&args[1], 0, now);
            Reply::Integer(1)
        }
        _ => Reply::Integer(0),
    }
}

pub(super) fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let pattern = &args[1];
    let all = &pattern[..] == b"*";
    let mut out = Vec::new();
    for i in 0..SHARDS {
        let shard = ctx.cache.store.lock(i);
        for (key, entry) in shard.iter() {
            if !entry.is_expired(ctx.now_ms) && (all || glob::matches(pattern, key)) {
                out.push(Reply::bulk(key));
            }
        }
    }
    Reply::Array(out)
}

/// SCAN's cursor is `position * SHARDS + shard`: it walks shard 0 first,
/// then 1, …, each by position. Positions move only when a key is deleted
/// (the last key takes its place), so a key deleted during a scan may make
/// one other key be skipped; see docs/CACHE.md.
pub(super) fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(cursor) = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return Reply::err("ERR invalid cursor");
    };
    let mut count: usize = 10;
    let mut pattern: Option<&Bytes> = None;
    let mut type_filter: Option<&Bytes> = None;
    let mut i = 2;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return Reply::err(errors::SYNTAX);
        };
        if is(&args[i], "count") {
            match int_arg(value) {
                Ok(n) if n >= 1 => count = n.min(1 << 20) as usize,
                Ok(_) => return Reply::err(errors::SYNTAX),
                Err(e) => return e,
            }
        } else if is(&args[i], "match") {
            pattern = Some(value);
        } else if is(&args[i], "type") {
            type_filter = Some(value);
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 2;
    }
    let mut shard_idx = (cursor % SHARDS as u64) as usize;
    let mut pos = (cursor / SHARDS as u64) as usize;
    let mut keys = Vec::new();
    let mut visited = 0;
    let next = loop {
        if shard_idx >= SHARDS {
            break 0;
        }
        let shard = ctx.cache.store.lock(shard_idx);
        while visited < count {
            let Some((key, entry)) = shard.get_index(pos) else {
                break;
            };
            pos += 1;
            visited += 1;
            if entry.is_expired(ctx.now_ms)
                || pattern.is_some_and(|p| !glob::matches(p, key))
                || type_filter.is_some_and(|t| !is(t, entry.value.type_name()))
            {
                continue;
            }
            keys.push(Reply::bulk(key));
        }
        if pos >= shard.len() {
            shard_idx += 1;
            pos = 0;
            if visited >= count {
                break if shard_idx >= SHARDS {
                    0
                } else {
                    shard_idx as u64
                };
            }
        } else {
            break (pos as u64) * SHARDS as u64 + shard_idx as u64;
        }
    };
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(keys),
    ])
}

pub(super) fn dbsize(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    Reply::Integer(ctx.cache.store.len().0 as i64)
}

pub(super) fn flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.get(1) {
        None => {}
        Some(a) if args.len() == 2 && (is(a, "async") || is(a, "sync")) => {}
        Some(_) => return Reply::err(errors::SYNTAX),
    }
    ctx.cache.store.clear();
    Reply::ok()
}

pub(super) fn type_of(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.cache.store.lock_key(&args[1]);
    let name = shard
        .peek(&args[1], ctx.now_ms)
        .map_or("none", |e| e.value.type_name());
    Reply::Simple(name.into())
}

fn rename_generic(ctx: &mut Ctx<'_>, args: &[Bytes], only_new: bool) -> Reply {
    let (from, to) = (&args[1], &args[2]);
    let store = &ctx.cache.store;
    let now = ctx.now_ms;
    let mut guards = store.lock_keys([&from[..], &to[..]].into_iter());
    let (fi, ti) = (store.shard_of(from), store.shard_of(to));
    if guards[fi]
        .as_mut()
        .and_then(|s| s.peek(from, now))
        .is_none()
    {
        return Reply::err(errors::NO_SUCH_KEY);
    }
    if from == to {
        return if only_new {
            Reply::Integer(0)
        } else {
            Reply::ok()
        };
    }
    if only_new && guards[ti].as_mut().and_then(|s| s.peek(to, now)).is_some() {
        return Reply::Integer(0);
    }
    let Some(entry) = guards[fi].as_mut().and_then(|s| s.remove(from, now)) else {
        return Reply::err(errors::NO_SUCH_KEY);
    };
    if let Some(shard) = guards[ti].as_mut() {
        shard.insert(to, entry, now);
    }
    if only_new {
        Reply::Integer(1)
    } else {
        Reply::ok()
    }
}

pub(super) fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, false)
}

pub(super) fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, true)
}

pub(super) fn randomkey(ctx: &mut Ctx<'_>, _: &[Bytes]) -> Reply {
    let start = (ctx.now_ms as usize).wrapping_mul(31) % SHARDS;
    for i in 0..SHARDS {
        let mut shard = ctx.cache.store.lock((start + i) % SHARDS);
        if let Some(key) = shard.random_key(ctx.now_ms) {
            return Reply::bulk(&key);
        }
    }
    Reply::Nil
}
