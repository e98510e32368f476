//! Set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP
//! SRANDMEMBER SMOVE SINTER SINTERCARD SUNION SDIFF, the STORE forms,
//! SSCAN.
//!
//! A set is an insertion-ordered hash set ([`Set`]): O(1) membership,
//! O(1) removal (the last member takes the removed one's place) and O(1)
//! access by position, which SPOP and SRANDMEMBER use to pick at random
//! and SSCAN uses as its cursor. Commands over several keys lock every
//! shard involved at once (in index order), so SINTERSTORE and SMOVE are
//! atomic.

use std::collections::HashSet;

use bytes::Bytes;

use super::{Ctx, int_arg, is, typed};
use crate::cache::glob;
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Db, Entry, Set, Shard, Value};

/// The live set at `key`: `Ok(None)` when missing, WRONGTYPE otherwise.
fn read<'s>(shard: &'s mut Shard, key: &[u8], ctx: &Ctx<'_>) -> Result<Option<&'s Set>, Reply> {
    typed::read(shard, key, ctx)
}

/// Changes the set at `key` in place: [`typed::change`].
fn change<R>(
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    create: bool,
    f: impl FnOnce(&mut Set) -> R,
) -> Result<Option<R>, Reply> {
    typed::change(shard, key, now, create, f)
}

pub(super) fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let mut shard = ctx.db().lock_key(key);
    match change(&mut shard, key, ctx.now_ms, true, |set| {
        args[2..].iter().filter(|m| set.insert(m)).count()
    }) {
        Ok(added) => Reply::Integer(added.unwrap_or(0) as i64),
        Err(e) => e,
    }
}

pub(super) fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let mut shard = ctx.db().lock_key(key);
    match change(&mut shard, key, ctx.now_ms, false, |set| {
        args[2..].iter().filter(|m| set.remove(m)).count()
    }) {
        Ok(removed) => Reply::Integer(removed.unwrap_or(0) as i64),
        Err(e) => e,
    }
}

fn members_reply<'a>(members: impl Iterator<Item = &'a [u8]>) -> Reply {
    Reply::Array(members.map(Reply::bulk).collect())
}

pub(super) fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(Some(set)) => members_reply(set.iter()),
        Ok(None) => Reply::Array(Vec::new()),
        Err(e) => e,
    }
}

pub(super) fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(set) => Reply::Integer(i64::from(set.is_some_and(|s| s.contains(&args[2])))),
        Err(e) => e,
    }
}

pub(super) fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(set) => Reply::Array(
            args[2..]
                .iter()
                .map(|m| Reply::Integer(i64::from(set.is_some_and(|s| s.contains(m)))))
                .collect(),
        ),
        Err(e) => e,
    }
}

pub(super) fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(set) => Reply::Integer(set.map_or(0, Set::len) as i64),
        Err(e) => e,
    }
}

/// A cheap random number for SPOP/SRANDMEMBER (xorshift seeded from the
/// clock and a counter): picking members needs spread, not secrecy.
fn rand_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x2545_f491_4f6c_dd1d);
    let mut x = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

pub(super) fn rand_below(n: usize) -> usize {
    (rand_u64() % n.max(1) as u64) as usize
}

pub(super) fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return Reply::err(errors::SYNTAX);
    }
    let count = match args.get(2).map(|c| int_arg(c)) {
        None => None,
        Some(Ok(n)) if n < 0 => return Reply::err("ERR value is out of range, must be positive"),
        Some(Ok(n)) => Some(n as usize),
        Some(Err(e)) => return e,
    };
    let key = &args[1];
    let mut shard = ctx.db().lock_key(key);
    let popped = change(&mut shard, key, ctx.now_ms, false, |set| {
        let n = count.unwrap_or(1).min(set.len());
        (0..n)
            .filter_map(|_| set.swap_remove_index(rand_below(set.len())))
            .collect::<Vec<_>>()
    });
    match (popped, count) {
        (Err(e), _) => e,
        (Ok(None), None) => Reply::Nil,
        (Ok(None), Some(_)) => Reply::Array(Vec::new()),
        (Ok(Some(mut members)), None) => members.pop().map_or(Reply::Nil, |m| Reply::bulk(&m)),
        (Ok(Some(members)), Some(_)) => members_reply(members.iter().map(|m| &m[..])),
    }
}

pub(super) fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return Reply::err(errors::SYNTAX);
    }
    let count = match args.get(2).map(|c| int_arg(c)) {
        None => None,
        // Redis refuses counts whose absolute value could not be doubled.
        Some(Ok(n)) if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) => {
            return Reply::err("ERR value is out of range");
        }
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => return e,
    };
    let mut shard = ctx.db().lock_key(&args[1]);
    let set = match read(&mut shard, &args[1], ctx) {
        Ok(set) => set,
        Err(e) => return e,
    };
    let Some(count) = count else {
        return set
            .filter(|s| !s.is_empty())
            .and_then(|s| s.get_index(rand_below(s.len())))
            .map_or(Reply::Nil, Reply::bulk);
    };
    let Some(set) = set.filter(|s| !s.is_empty()) else {
        return Reply::Array(Vec::new());
    };
    members_reply(
        random_positions(set.len(), count)
            .into_iter()
            .filter_map(|i| set.get_index(i)),
    )
}

/// Positions for SRANDMEMBER/ZRANDMEMBER's count among `len` (> 0)
/// elements: a negative count picks |count| with repeats, a positive one
/// up to `len` distinct ones.
pub(super) fn random_positions(len: usize, count: i64) -> Vec<usize> {
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        return (0..n).map(|_| rand_below(len)).collect();
    }
    let n = (count as usize).min(len);
    if n == len {
        return (0..len).collect();
    }
    if n * 3 <= len {
        // Few of many: draw until n distinct.
        let mut chosen = HashSet::with_capacity(n);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let i = rand_below(len);
            if chosen.insert(i) {
                out.push(i);
            }
        }
        return out;
    }
    // Many of few: a partial Fisher-Yates over positions.
    let mut positions: Vec<usize> = (0..len).collect();
    for i in 0..n {
        let j = i + rand_below(len - i);
        positions.swap(i, j);
    }
    positions.truncate(n);
    positions
}

pub(super) fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut guards = db.lock_keys([&src[..], &dst[..]].into_iter());
    let (si, di) = (db.shard_of(src), db.shard_of(dst));
    let Some(src_shard) = guards[si].as_mut() else {
        return Reply::Integer(0);
    };
    let has = match read(src_shard, src, ctx) {
        Ok(None) => return Reply::Integer(0),
        Ok(Some(set)) => set.contains(member),
        Err(e) => return e,
    };
    if let Some(dst_shard) = guards[di].as_mut()
        && let Err(e) = read(dst_shard, dst, ctx)
    {
        return e;
    }
    if src == dst || !has {
        return Reply::Integer(i64::from(has));
    }
    if let Some(shard) = guards[si].as_mut()
        && let Err(e) = change(shard, src, now, false, |s| s.remove(member))
    {
        return e;
    }
    if let Some(shard) = guards[di].as_mut()
        && let Err(e) = change(shard, dst, now, true, |s| s.insert(member))
    {
        return e;
    }
    Reply::Integer(1)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Reads every key as a set (a missing key is empty) and combines them.
/// WRONGTYPE when any key holds another type.
fn combine(ctx: &Ctx<'_>, db: &Db, keys: &[Bytes], op: Op, limit: usize) -> Result<Set, Reply> {
    let mut guards = db.lock_keys(keys.iter().map(|k| &k[..]));
    // Each key's shard is borrowed once; several keys may share a shard,
    // so the sets are cloned out of the guards one key at a time.
    let mut owned: Vec<Option<Set>> = Vec::with_capacity(keys.len());
    for key in keys {
        let Some(shard) = guards[db.shard_of(key)].as_mut() else {
            owned.push(None);
            continue;
        };
        owned.push(read(shard, key, ctx)?.cloned());
    }
    drop(guards);
    let sets: Vec<Option<&Set>> = owned.iter().map(Option::as_ref).collect();
    Ok(match op {
        Op::Union => {
            let mut out = Set::default();
            for set in sets.iter().flatten() {
                for m in set.iter() {
                    out.insert(m);
                }
            }
            out
        }
        Op::Diff => {
            let mut out = Set::default();
            if let Some(first) = sets[0] {
                for m in first.iter() {
                    if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                        out.insert(m);
                    }
                }
            }
            out
        }
        Op::Inter => {
            let mut out = Set::default();
            if sets.iter().any(Option::is_none) {
                return Ok(out);
            }
            let mut all: Vec<&Set> = sets.into_iter().flatten().collect();
            all.sort_by_key(|s| s.len());
            for m in all[0].iter() {
                if all[1..].iter().all(|s| s.contains(m)) {
                    out.insert(m);
                    if limit != 0 && out.len() >= limit {
                        break;
                    }
                }
            }
            out
        }
    })
}

fn read_op(ctx: &mut Ctx<'_>, keys: &[Bytes], op: Op) -> Reply {
    match combine(ctx, ctx.db(), keys, op, 0) {
        Ok(set) => members_reply(set.iter()),
        Err(e) => e,
    }
}

fn store_op(ctx: &mut Ctx<'_>, args: &[Bytes], op: Op) -> Reply {
    let dst = &args[1];
    let db = ctx.db();
    let set = match combine(ctx, db, &args[2..], op, 0) {
        Ok(set) => set,
        Err(e) => return e,
    };
    let len = set.len();
    let mut shard = db.lock_key(dst);
    if len == 0 {
        shard.remove(dst, ctx.now_ms);
    } else {
        shard.insert(dst, Entry::new(Value::Set(Box::new(set))), ctx.now_ms);
    }
    Reply::Integer(len as i64)
}

pub(super) fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_op(ctx, &args[1..], Op::Inter)
}

pub(super) fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_op(ctx, &args[1..], Op::Union)
}

pub(super) fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_op(ctx, &args[1..], Op::Diff)
}

pub(super) fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    store_op(ctx, args, Op::Inter)
}

pub(super) fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    store_op(ctx, args, Op::Union)
}

pub(super) fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    store_op(ctx, args, Op::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit].
pub(super) fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let numkeys = match int_arg(&args[1]) {
        Ok(n) if n <= 0 => return Reply::err("ERR numkeys should be greater than 0"),
        Ok(n) => n as u64,
        Err(_) => return Reply::err("ERR numkeys should be greater than 0"),
    };
    if numkeys > (args.len() - 2) as u64 {
        return Reply::err("ERR Number of keys can't be greater than number of args");
    }
    let numkeys = numkeys as usize;
    let keys = &args[2..2 + numkeys];
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if is(&args[i], "limit") && i + 1 < args.len() {
            match super::parse_i64(&args[i + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                Some(_) => return Reply::err("ERR LIMIT can't be negative"),
                None => return Reply::err("ERR LIMIT can't be negative"),
            }
            i += 2;
        } else {
            return Reply::err(errors::SYNTAX);
        }
    }
    match combine(ctx, ctx.db(), keys, Op::Inter, limit) {
        Ok(set) => Reply::Integer(set.len() as i64),
        Err(e) => e,
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]: the cursor is a
/// position in the set (see the module documentation).
pub(super) fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(cursor) = std::str::from_utf8(&args[2])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return Reply::err("ERR invalid cursor");
    };
    let (pattern, count) = match scan_options(&args[3..]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let mut shard = ctx.db().lock_key(&args[1]);
    let set = match read(&mut shard, &args[1], ctx) {
        Ok(Some(set)) => set,
        Ok(None) => {
            return Reply::Array(vec![Reply::text("0"), Reply::Array(Vec::new())]);
        }
        Err(e) => return e,
    };
    let start = cursor as usize;
    let end = start.saturating_add(count).min(set.len());
    let mut out = Vec::new();
    for i in start..end {
        if let Some(m) = set.get_index(i)
            && pattern.is_none_or(|p| glob::matches(p, m))
        {
            out.push(Reply::bulk(m));
        }
    }
    let next = if end >= set.len() { 0 } else { end };
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(out),
    ])
}

/// SSCAN/HSCAN/ZSCAN options: MATCH and COUNT.
pub(super) fn scan_options(args: &[Bytes]) -> Result<(Option<&Bytes>, usize), Reply> {
    let mut count = 10usize;
    let mut pattern = None;
    let mut i = 0;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return Err(Reply::err(errors::SYNTAX));
        };
        if is(&args[i], "count") {
            match int_arg(value) {
                Ok(n) if n >= 1 => count = n.min(1 << 20) as usize,
                Ok(_) => return Err(Reply::err(errors::SYNTAX)),
                Err(e) => return Err(e),
            }
        } else if is(&args[i], "match") {
            pattern = Some(value);
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 2;
    }
    Ok((pattern, count))
}
