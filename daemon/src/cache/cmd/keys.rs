//! Generic key commands: DEL, EXISTS, the EXPIRE family, TTL, KEYS, SCAN,
//! DBSIZE, FLUSHDB, FLUSHALL, TYPE, RENAME, RANDOMKEY, and the commands
//! across databases: MOVE, COPY, SWAPDB.

use bytes::Bytes;

use super::{Ctx, db_arg, int_arg, is};
use crate::cache::glob;
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{SHARDS, Value};

pub(super) fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let removed = args[1..]
        .iter()
        .filter(|key| ctx.db().lock_key(key).remove(key, ctx.now_ms).is_some())
        .count();
    Reply::Integer(removed as i64)
}

pub(super) fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let found = args[1..]
        .iter()
        .filter(|key| ctx.db().lock_key(key).peek(key, ctx.now_ms).is_some())
        .count();
    Reply::Integer(found as i64)
}

/// TOUCH key [key ...]: how many exist; each is read as a command reads
/// it (its LRU/LFU data refreshed, a keyspace hit or miss counted).
pub(super) fn touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let found = args[1..]
        .iter()
        .filter(|key| {
            ctx.db()
                .lock_key(key)
                .get(key, ctx.now_ms, ctx.access)
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
    let mut shard = ctx.db().lock_key(key);
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
    let mut shard = ctx.db().lock_key(key);
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
    let mut shard = ctx.db().lock_key(&args[1]);
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
        let shard = ctx.db().lock(i);
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
        let shard = ctx.db().lock(shard_idx);
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
    Reply::Integer(ctx.db().len().0 as i64)
}

fn flush_mode_ok(args: &[Bytes]) -> bool {
    match args.get(1) {
        None => true,
        Some(a) => args.len() == 2 && (is(a, "async") || is(a, "sync")),
    }
}

/// Before a flush: touches (for WATCH) the watched keys of `db` (every
/// database when `None`) that exist, as Redis does: a watched key that
/// was missing is not changed by the flush.
fn touch_flushed(ctx: &Ctx<'_>, db: Option<usize>) {
    for (d, key) in ctx.cache.watches.watched_in(db) {
        let exists = ctx
            .cache
            .store
            .db(d)
            .lock_key(&key)
            .peek(&key, ctx.now_ms)
            .is_some();
        if exists {
            ctx.cache.watches.touch(d, &key);
        }
    }
}

/// FLUSHDB: the selected database only.
pub(super) fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return Reply::err(errors::SYNTAX);
    }
    touch_flushed(ctx, Some(ctx.client.db));
    ctx.db().clear();
    ctx.client.flushed = true;
    Reply::ok()
}

/// FLUSHALL: every database.
pub(super) fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return Reply::err(errors::SYNTAX);
    }
    touch_flushed(ctx, None);
    ctx.cache.store.clear();
    ctx.client.flushed = true;
    Reply::ok()
}

/// SWAPDB index1 index2.
pub(super) fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Ok(a) = db_arg(&args[1]) else {
        return Reply::err("ERR invalid first DB index");
    };
    let Ok(b) = db_arg(&args[2]) else {
        return Reply::err("ERR invalid second DB index");
    };
    ctx.cache.store.swap(a, b);
    Reply::ok()
}

/// MOVE key db: 1 when moved, 0 when the key is missing here or exists
/// there. The TTL goes along.
pub(super) fn move_key(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let to = match db_arg(&args[2]) {
        Ok(db) => db,
        Err(e) => return e,
    };
    let from = ctx.client.db;
    if from == to {
        return Reply::err("ERR source and destination objects are the same");
    }
    let now = ctx.now_ms;
    let store = &ctx.cache.store;
    // Lock order: (database, shard), lower database first.
    let (src, dst) = (store.db(from), store.db(to));
    let idx = src.shard_of(key);
    let (mut a, mut b) = if from < to {
        let a = src.lock(idx);
        (a, dst.lock(idx))
    } else {
        let b = dst.lock(idx);
        (src.lock(idx), b)
    };
    if a.peek(key, now).is_none() || b.peek(key, now).is_some() {
        return Reply::Integer(0);
    }
    let Some(entry) = a.remove(key, now) else {
        return Reply::Integer(0);
    };
    b.insert(key, entry, now);
    Reply::Integer(1)
}

/// COPY source destination [DB destination-db] [REPLACE]: the value and
/// its TTL.
pub(super) fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (from, to) = (&args[1], &args[2]);
    let mut dst_db = ctx.client.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "replace") {
            replace = true;
            i += 1;
        } else if is(&args[i], "db") && i + 1 < args.len() {
            dst_db = match db_arg(&args[i + 1]) {
                Ok(db) => db,
                Err(e) => return e,
            };
            i += 2;
        } else {
            return Reply::err(errors::SYNTAX);
        }
    }
    let src_db = ctx.client.db;
    if src_db == dst_db && from == to {
        return Reply::err("ERR source and destination objects are the same");
    }
    let now = ctx.now_ms;
    let store = &ctx.cache.store;
    let (src, dst) = (store.db(src_db), store.db(dst_db));
    let (si, di) = (src.shard_of(from), dst.shard_of(to));
    let entry = if src_db == dst_db {
        let mut guards = src.lock_keys([&from[..], &to[..]].into_iter());
        let Some(entry) = guards[si].as_mut().and_then(|s| s.peek(from, now)).cloned() else {
            return Reply::Integer(0);
        };
        let Some(shard) = guards[di].as_mut() else {
            return Reply::Integer(0);
        };
        return copy_into(shard, to, entry, replace, now);
    } else if src_db < dst_db {
        let mut a = src.lock(si);
        let b = dst.lock(di);
        (a.peek(from, now).cloned(), b)
    } else {
        let b = dst.lock(di);
        let mut a = src.lock(si);
        (a.peek(from, now).cloned(), b)
    };
    match entry {
        (Some(entry), mut shard) => copy_into(&mut shard, to, entry, replace, now),
        (None, _) => Reply::Integer(0),
    }
}

fn copy_into(
    shard: &mut crate::cache::store::Shard,
    to: &[u8],
    entry: crate::cache::store::Entry,
    replace: bool,
    now: u64,
) -> Reply {
    if !replace && shard.peek(to, now).is_some() {
        return Reply::Integer(0);
    }
    let expire_at = entry.expire_at;
    shard.insert(
        to,
        crate::cache::store::Entry::with_expiry(entry.value, expire_at),
        now,
    );
    Reply::Integer(1)
}

pub(super) fn type_of(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    let name = shard
        .peek(&args[1], ctx.now_ms)
        .map_or("none", |e| e.value.type_name());
    Reply::Simple(name.into())
}

fn rename_generic(ctx: &mut Ctx<'_>, args: &[Bytes], only_new: bool) -> Reply {
    let (from, to) = (&args[1], &args[2]);
    let store = ctx.db();
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
    // A random first shard: keys in different shards must all be drawn,
    // however many RANDOMKEYs land in the same millisecond.
    let start = rand::random::<u32>() as usize % SHARDS;
    for i in 0..SHARDS {
        let mut shard = ctx.db().lock((start + i) % SHARDS);
        if let Some(key) = shard.random_key(ctx.now_ms) {
            return Reply::bulk(&key);
        }
    }
    Reply::Nil
}

/// The name OBJECT ENCODING gives a value: Redis 7.0's name for the layout
/// Redis would pick for it under the current thresholds (agora's own
/// layouts differ; clients and tests use these names to reason about
/// sizes).
fn encoding(ctx: &Ctx<'_>, value: &Value) -> &'static str {
    let threshold = |name: &str| -> usize {
        ctx.cache
            .params
            .get(&[name.as_bytes()])
            .first()
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    };
    match value {
        Value::Str(s) => {
            if s.len() <= 20 && super::parse_i64(s).is_some() {
                "int"
            } else if s.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        Value::List(_) => "quicklist",
        Value::Stream(_) => "stream",
        Value::ZSet(z) => {
            let max_value = threshold("zset-max-listpack-value");
            if z.len() <= threshold("zset-max-listpack-entries")
                && z.iter().all(|(m, _)| m.len() <= max_value)
            {
                "listpack"
            } else {
                "skiplist"
            }
        }
        Value::Set(set) => {
            if set.len() <= threshold("set-max-intset-entries")
                && set.iter().all(|m| super::parse_i64(m).is_some())
            {
                "intset"
            } else {
                "hashtable"
            }
        }
        Value::Hash(h) => {
            let max_value = threshold("hash-max-listpack-value");
            if h.len() <= threshold("hash-max-listpack-entries")
                && h.iter()
                    .all(|(k, v)| k.len() <= max_value && v.len() <= max_value)
            {
                "listpack"
            } else {
                "hashtable"
            }
        }
    }
}

/// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key. Looks without touching the
/// key's access data.
pub(super) fn object(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    let known = ["encoding", "refcount", "idletime", "freq"];
    if !known.iter().any(|k| is(sub, k)) {
        if is(sub, "help") {
            return Reply::Array(
                [
                    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "ENCODING <key>",
                    "FREQ <key>",
                    "IDLETIME <key>",
                    "REFCOUNT <key>",
                ]
                .into_iter()
                .map(|l| Reply::Simple(l.into()))
                .collect(),
            );
        }
        return Reply::error(format!(
            "ERR unknown subcommand '{}'. Try OBJECT HELP.",
            super::lossy(sub, 128)
        ));
    }
    if args.len() != 3 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try OBJECT HELP.",
            super::lossy(sub, 128)
        ));
    }
    let key = &args[2];
    let now = ctx.now_ms;
    let policy = ctx.cache.store.policy();
    let lfu = policy == crate::cache::store::Policy::AllKeysLfu;
    let mut shard = ctx.db().lock_key(key);
    let Some(entry) = shard.peek(key, now) else {
        return Reply::Nil;
    };
    if is(sub, "encoding") {
        let name = encoding(ctx, &entry.value);
        Reply::Bulk(Bytes::from_static(name.as_bytes()))
    } else if is(sub, "refcount") {
        Reply::Integer(1)
    } else if is(sub, "idletime") {
        if lfu {
            return Reply::err(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            );
        }
        Reply::Integer(entry.idle_secs(now) as i64)
    } else if lfu {
        Reply::Integer(i64::from(entry.freq(now)))
    } else {
        Reply::err(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        )
    }
}

/// MEMORY USAGE key [SAMPLES n]: the bytes agora accounts the key for
/// (key, value and per-key overhead; see docs/CACHE.md).
pub(super) fn memory(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sub = &args[1];
    if is(sub, "help") && args.len() == 2 {
        return Reply::Array(
            [
                "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value.",
            ]
            .into_iter()
            .map(|l| Reply::Simple(l.into()))
            .collect(),
        );
    }
    if !is(sub, "usage") {
        return Reply::error(format!(
            "ERR unknown subcommand '{}'. Try MEMORY HELP.",
            super::lossy(sub, 128)
        ));
    }
    let Some(key) = args.get(2) else {
        return super::wrong_arity("memory|usage");
    };
    match args.len() {
        3 => {}
        5 if is(&args[3], "samples") => {
            if let Err(e) = int_arg(&args[4]) {
                return e;
            }
        }
        _ => return Reply::err(errors::SYNTAX),
    }
    let mut shard = ctx.db().lock_key(key);
    match shard.peek(key, ctx.now_ms) {
        Some(entry) => Reply::Integer(i64::from(entry.accounted_size())),
        None => Reply::Nil,
    }
}
