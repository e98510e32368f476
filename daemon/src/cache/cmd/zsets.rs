//! Sorted set commands: ZADD ZREM ZSCORE ZMSCORE ZINCRBY ZCARD ZCOUNT
//! ZLEXCOUNT ZRANGE (BYSCORE BYLEX REV LIMIT) ZRANGESTORE ZREVRANGE
//! ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZRANK
//! ZREVRANK ZREMRANGEBYRANK/SCORE/LEX ZPOPMIN ZPOPMAX ZRANDMEMBER ZUNION
//! ZINTER ZDIFF (+STORE, WEIGHTS, AGGREGATE) ZINTERCARD ZSCAN, over
//! [`ZSet`] (O(log n) rank and range).

use bytes::Bytes;

use super::{Ctx, int_arg, is, parse_f64, parse_i64, typed};
use crate::cache::glob;
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Db, Entry, Shard, Value};
use crate::cache::zset::ZSet;

/// Members with their scores, in reply order.
type Items = Vec<(Box<[u8]>, f64)>;

/// What ZUNION/ZINTER/ZDIFF parse: keys, weights, aggregate, WITHSCORES.
type SetOpArgs<'a> = (&'a [Bytes], Vec<f64>, Aggregate, bool);

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

/// The live sorted set at `key`: `Ok(None)` when missing, WRONGTYPE
/// otherwise.
fn read<'s>(shard: &'s mut Shard, key: &[u8], ctx: &Ctx<'_>) -> Result<Option<&'s ZSet>, Reply> {
    typed::read(shard, key, ctx)
}

/// Changes the sorted set at `key` in place: [`typed::change`].
fn change<R>(
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    create: bool,
    f: impl FnOnce(&mut ZSet) -> R,
) -> Result<Option<R>, Reply> {
    typed::change(shard, key, now, create, f)
}

/// A score argument: a float, `inf`/`-inf`, never NaN.
fn score_arg(bytes: &[u8]) -> Result<f64, Reply> {
    parse_f64(bytes).ok_or(Reply::err(errors::NOT_FLOAT))
}

/// Member-score pairs as Redis answers them: flat in RESP2, pairs in
/// RESP3.
fn pairs_reply(items: &[(Box<[u8]>, f64)], withscores: bool, resp3: bool) -> Reply {
    if !withscores {
        return Reply::Array(items.iter().map(|(m, _)| Reply::bulk(m)).collect());
    }
    if resp3 {
        return Reply::Array(
            items
                .iter()
                .map(|(m, s)| Reply::Array(vec![Reply::bulk(m), Reply::Double(*s)]))
                .collect(),
        );
    }
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        out.push(Reply::bulk(m));
        out.push(Reply::Double(*s));
    }
    Reply::Array(out)
}

// ---- ZADD and friends ----

pub(super) fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Reply::err(errors::SYNTAX);
    }
    if nx && xx {
        return Reply::err("ERR XX and NX options at the same time are not compatible");
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Reply::err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && rest.len() > 2 {
        return Reply::err("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks_exact(2) {
        match score_arg(&pair[0]) {
            Ok(score) => pairs.push((score, &pair[1])),
            Err(e) => return e,
        }
    }
    let key = &args[1];
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    // Only XX needs to know beforehand (a write's lookup, like Redis's,
    // counts no keyspace hit or miss).
    let exists = xx
        && match shard.find(key, now) {
            None => false,
            Some(idx) if matches!(shard.entry_at(idx).value, Value::ZSet(_)) => true,
            Some(_) => return Reply::err(errors::WRONGTYPE),
        };
    if xx && !exists {
        // Nothing to update, and nothing is created.
        return if incr { Reply::Nil } else { Reply::Integer(0) };
    }
    let result = change(&mut shard, key, now, true, |z| {
        let (mut added, mut changed) = (0i64, 0i64);
        let mut incr_result: Result<Option<f64>, Reply> = Ok(None);
        for (score, member) in &pairs {
            let current = z.score(member);
            if (nx && current.is_some()) || (xx && current.is_none()) {
                continue;
            }
            let new = match (incr, current) {
                (true, Some(c)) => {
                    let n = c + score;
                    if n.is_nan() {
                        incr_result = Err(Reply::err("ERR resulting score is not a number (NaN)"));
                        break;
                    }
                    n
                }
                _ => *score,
            };
            if let Some(c) = current
                && ((gt && new <= c) || (lt && new >= c))
            {
                continue;
            }
            if current.is_some_and(|c| c.to_bits() == new.to_bits()) {
                // The same score: nothing to change (Redis's ZADD_OUT_NOP).
                incr_result = Ok(Some(new));
                continue;
            }
            match current {
                None => added += 1,
                Some(c) if c.to_bits() != new.to_bits() && c != new => changed += 1,
                Some(_) => {}
            }
            z.insert(member, new);
            incr_result = Ok(Some(new));
        }
        (added, changed, incr_result)
    });
    match result {
        Err(e) => e,
        Ok(None) => Reply::Integer(0),
        Ok(Some((added, changed, incr_result))) => {
            if incr {
                match incr_result {
                    Ok(Some(score)) => Reply::Double(score),
                    Ok(None) => Reply::Nil,
                    Err(e) => e,
                }
            } else if ch {
                Reply::Integer(added + changed)
            } else {
                Reply::Integer(added)
            }
        }
    }
}

pub(super) fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let by = match score_arg(&args[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let key = &args[1];
    let mut shard = ctx.db().lock_key(key);
    let result = change(&mut shard, key, ctx.now_ms, true, |z| {
        let new = z.score(&args[3]).unwrap_or(0.0) + by;
        if new.is_nan() {
            return Err(Reply::err("ERR resulting score is not a number (NaN)"));
        }
        z.insert(&args[3], new);
        Ok(new)
    });
    match result {
        Ok(Some(Ok(score))) => Reply::Double(score),
        Ok(Some(Err(e))) | Err(e) => e,
        Ok(None) => Reply::Nil,
    }
}

pub(super) fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let mut shard = ctx.db().lock_key(key);
    match change(&mut shard, key, ctx.now_ms, false, |z| {
        args[2..].iter().filter(|m| z.remove(m).is_some()).count()
    }) {
        Ok(n) => Reply::Integer(n.unwrap_or(0) as i64),
        Err(e) => e,
    }
}

pub(super) fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(z) => z
            .and_then(|z| z.score(&args[2]))
            .map_or(Reply::Nil, Reply::Double),
        Err(e) => e,
    }
}

pub(super) fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(z) => Reply::Array(
            args[2..]
                .iter()
                .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double))
                .collect(),
        ),
        Err(e) => e,
    }
}

pub(super) fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(z) => Reply::Integer(z.map_or(0, ZSet::len) as i64),
        Err(e) => e,
    }
}

fn rank_generic(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(z) => z
            .and_then(|z| {
                let r = z.rank(&args[2])?;
                Some(if rev { z.len() - 1 - r } else { r })
            })
            .map_or(Reply::Nil, |r| Reply::Integer(r as i64)),
        Err(e) => e,
    }
}

pub(super) fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rank_generic(ctx, args, false)
}

pub(super) fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rank_generic(ctx, args, true)
}

// ---- ranges ----

/// A score bound: `1.5`, `(1.5`, `-inf`, `+inf`.
#[derive(Clone, Copy)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

fn score_bound(bytes: &[u8]) -> Option<ScoreBound> {
    match bytes.strip_prefix(b"(") {
        Some(rest) => parse_f64(rest).map(|value| ScoreBound {
            value,
            exclusive: true,
        }),
        None => parse_f64(bytes).map(|value| ScoreBound {
            value,
            exclusive: false,
        }),
    }
}

/// A lex bound: `-`, `+`, `[x`, `(x`.
#[derive(Clone)]
enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

fn lex_bound(bytes: &[u8]) -> Option<LexBound> {
    match bytes {
        b"-" => Some(LexBound::Min),
        b"+" => Some(LexBound::Max),
        [b'[', rest @ ..] => Some(LexBound::Incl(rest.to_vec())),
        [b'(', rest @ ..] => Some(LexBound::Excl(rest.to_vec())),
        _ => None,
    }
}

/// What a range selects, before REV and LIMIT.
enum Selector {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

/// The half-open rank interval `[lo, hi)` a selector covers (ascending).
fn interval(z: &ZSet, sel: &Selector, rev: bool) -> (usize, usize) {
    let len = z.len();
    match sel {
        Selector::Rank(start, stop) => {
            let len_i = len as i64;
            let mut start = if *start < 0 { len_i + start } else { *start };
            let mut stop = if *stop < 0 { len_i + stop } else { *stop };
            start = start.max(0);
            if start > stop || start >= len_i {
                return (0, 0);
            }
            stop = stop.min(len_i - 1);
            if rev {
                ((len_i - 1 - stop) as usize, (len_i - start) as usize)
            } else {
                (start as usize, stop as usize + 1)
            }
        }
        Selector::Score(min, max) => {
            let lo = z.count_score_below(min.value, min.exclusive);
            let hi = z.count_score_below(max.value, !max.exclusive);
            (lo, hi.max(lo))
        }
        Selector::Lex(min, max) => {
            let lo = match min {
                LexBound::Min => 0,
                LexBound::Max => len,
                LexBound::Incl(b) => z.count_lex_below(b, false),
                LexBound::Excl(b) => z.count_lex_below(b, true),
            };
            let hi = match max {
                LexBound::Min => 0,
                LexBound::Max => len,
                LexBound::Incl(b) => z.count_lex_below(b, true),
                LexBound::Excl(b) => z.count_lex_below(b, false),
            };
            (lo, hi.max(lo))
        }
    }
}

/// Members and scores a range selects, in reply order.
fn select(z: &ZSet, sel: &Selector, rev: bool, limit: Option<(i64, i64)>) -> Vec<(Box<[u8]>, f64)> {
    let (lo, hi) = interval(z, sel, rev);
    let (offset, count) = limit.unwrap_or((0, -1));
    if offset < 0 || lo >= hi {
        return Vec::new();
    }
    let avail = hi - lo;
    let offset = offset as usize;
    if offset >= avail {
        return Vec::new();
    }
    let take = if count < 0 {
        avail - offset
    } else {
        (count as usize).min(avail - offset)
    };
    if take == 0 {
        return Vec::new();
    }
    let (start, end) = if rev {
        (hi - offset - take, hi - offset - 1)
    } else {
        (lo + offset, lo + offset + take - 1)
    };
    let mut out: Vec<(Box<[u8]>, f64)> = z
        .range(start, end)
        .into_iter()
        .map(|(m, s)| (m.into(), s))
        .collect();
    if rev {
        out.reverse();
    }
    out
}

/// A parsed range command.
struct RangeArgs {
    sel: Selector,
    rev: bool,
    limit: Option<(i64, i64)>,
    withscores: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// Parses `min max [options]` for ZRANGE-style commands. `by`/`rev` are
/// the command's fixed mode (ZRANGEBYSCORE…) or `None` for ZRANGE's own
/// options; `store` forbids WITHSCORES (ZRANGESTORE).
fn parse_range(args: &[Bytes], fixed: Option<(By, bool)>, store: bool) -> Result<RangeArgs, Reply> {
    let (a, b) = (&args[0], &args[1]);
    let (mut by, mut rev) = fixed.unwrap_or((By::Rank, false));
    let mut limit = None;
    let mut withscores = false;
    let mut i = 2;
    while i < args.len() {
        let arg = &args[i];
        if is(arg, "withscores") && !store && !(fixed.is_some_and(|(b, _)| b == By::Lex)) {
            withscores = true;
        } else if is(arg, "limit") && i + 2 < args.len() && fixed.is_none_or(|(b, _)| b != By::Rank)
        {
            limit = Some((int_arg(&args[i + 1])?, int_arg(&args[i + 2])?));
            i += 2;
        } else if fixed.is_none() && is(arg, "byscore") {
            by = By::Score;
        } else if fixed.is_none() && is(arg, "bylex") {
            by = By::Lex;
        } else if fixed.is_none() && is(arg, "rev") {
            rev = true;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 1;
    }
    if limit.is_some() && by == By::Rank {
        return Err(Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(Reply::err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // With REV, BYSCORE and BYLEX take max before min.
    let (min, max) = if rev && by != By::Rank {
        (b, a)
    } else {
        (a, b)
    };
    let sel = match by {
        By::Rank => Selector::Rank(int_arg(a)?, int_arg(b)?),
        By::Score => Selector::Score(
            score_bound(min).ok_or(Reply::err(NOT_FLOAT_RANGE))?,
            score_bound(max).ok_or(Reply::err(NOT_FLOAT_RANGE))?,
        ),
        By::Lex => Selector::Lex(
            lex_bound(min).ok_or(Reply::err(NOT_LEX_RANGE))?,
            lex_bound(max).ok_or(Reply::err(NOT_LEX_RANGE))?,
        ),
    };
    Ok(RangeArgs {
        sel,
        rev,
        limit,
        withscores,
    })
}

fn range_command(ctx: &mut Ctx<'_>, args: &[Bytes], fixed: Option<(By, bool)>) -> Reply {
    let range = match parse_range(&args[2..], fixed, false) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(Some(z)) => {
            let items = select(z, &range.sel, range.rev, range.limit);
            pairs_reply(&items, range.withscores, ctx.client.resp3)
        }
        Ok(None) => Reply::Array(Vec::new()),
        Err(e) => e,
    }
}

pub(super) fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_command(ctx, args, None)
}

pub(super) fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_command(ctx, args, Some((By::Rank, true)))
}

pub(super) fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_command(ctx, args, Some((By::Score, false)))
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_command(ctx, args, Some((By::Score, true)))
}

pub(super) fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_command(ctx, args, Some((By::Lex, false)))
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_command(ctx, args, Some((By::Lex, true)))
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count].
pub(super) fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let range = match parse_range(&args[3..], None, true) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let (dst, src) = (&args[1], &args[2]);
    let db = ctx.db();
    let mut guards = db.lock_keys([&dst[..], &src[..]].into_iter());
    let Some(shard) = guards[db.shard_of(src)].as_mut() else {
        return Reply::Integer(0);
    };
    let items = match read(shard, src, ctx) {
        Ok(Some(z)) => select(z, &range.sel, range.rev, range.limit),
        Ok(None) => Vec::new(),
        Err(e) => return e,
    };
    let Some(shard) = guards[db.shard_of(dst)].as_mut() else {
        return Reply::Integer(0);
    };
    store_result(shard, dst, items.into_iter(), ctx.now_ms)
}

fn store_result(
    shard: &mut Shard,
    dst: &[u8],
    items: impl Iterator<Item = (Box<[u8]>, f64)>,
    now: u64,
) -> Reply {
    let mut z = ZSet::default();
    for (m, s) in items {
        z.insert(&m, s);
    }
    let len = z.len();
    if len == 0 {
        shard.remove(dst, now);
    } else {
        shard.insert(dst, Entry::new(Value::ZSet(Box::new(z))), now);
    }
    Reply::Integer(len as i64)
}

fn count_command(ctx: &mut Ctx<'_>, args: &[Bytes], by: By) -> Reply {
    let sel = match by {
        By::Score => match (score_bound(&args[2]), score_bound(&args[3])) {
            (Some(a), Some(b)) => Selector::Score(a, b),
            _ => return Reply::err(NOT_FLOAT_RANGE),
        },
        _ => match (lex_bound(&args[2]), lex_bound(&args[3])) {
            (Some(a), Some(b)) => Selector::Lex(a, b),
            _ => return Reply::err(NOT_LEX_RANGE),
        },
    };
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(Some(z)) => {
            let (lo, hi) = interval(z, &sel, false);
            Reply::Integer((hi - lo) as i64)
        }
        Ok(None) => Reply::Integer(0),
        Err(e) => e,
    }
}

pub(super) fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    count_command(ctx, args, By::Score)
}

pub(super) fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    count_command(ctx, args, By::Lex)
}

fn remrange(ctx: &mut Ctx<'_>, args: &[Bytes], by: By) -> Reply {
    let sel = match by {
        By::Rank => match (parse_i64(&args[2]), parse_i64(&args[3])) {
            (Some(a), Some(b)) => Selector::Rank(a, b),
            _ => return Reply::err(errors::NOT_INTEGER),
        },
        By::Score => match (score_bound(&args[2]), score_bound(&args[3])) {
            (Some(a), Some(b)) => Selector::Score(a, b),
            _ => return Reply::err(NOT_FLOAT_RANGE),
        },
        By::Lex => match (lex_bound(&args[2]), lex_bound(&args[3])) {
            (Some(a), Some(b)) => Selector::Lex(a, b),
            _ => return Reply::err(NOT_LEX_RANGE),
        },
    };
    let key = &args[1];
    let mut shard = ctx.db().lock_key(key);
    match change(&mut shard, key, ctx.now_ms, false, |z| {
        let doomed = select(z, &sel, false, None);
        for (m, _) in &doomed {
            z.remove(m);
        }
        doomed.len()
    }) {
        Ok(n) => Reply::Integer(n.unwrap_or(0) as i64),
        Err(e) => e,
    }
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    remrange(ctx, args, By::Rank)
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    remrange(ctx, args, By::Score)
}

pub(super) fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    remrange(ctx, args, By::Lex)
}

fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> Reply {
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
    let popped = change(&mut shard, key, ctx.now_ms, false, |z| {
        let mut out = Vec::new();
        for _ in 0..count.unwrap_or(1) {
            let at = if max { z.len().checked_sub(1) } else { Some(0) };
            let Some((m, s)) = at.and_then(|i| z.at(i)) else {
                break;
            };
            let m: Box<[u8]> = m.into();
            z.remove(&m);
            out.push((m, s));
        }
        out
    });
    match popped {
        Err(e) => e,
        Ok(items) => {
            let items = items.unwrap_or_default();
            // Without a count: one flat pair even in RESP3.
            pairs_reply(&items, true, ctx.client.resp3 && count.is_some())
        }
    }
}

pub(super) fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop(ctx, args, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop(ctx, args, true)
}

pub(super) fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let count = match args.get(2).map(|c| int_arg(c)) {
        None => None,
        Some(Ok(n)) if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) => {
            return Reply::err("ERR value is out of range");
        }
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => return e,
    };
    let withscores = match args.get(3) {
        None => false,
        Some(a) if args.len() == 4 && is(a, "withscores") => true,
        Some(_) => return Reply::err(errors::SYNTAX),
    };
    let mut shard = ctx.db().lock_key(&args[1]);
    let z = match read(&mut shard, &args[1], ctx) {
        Ok(z) => z,
        Err(e) => return e,
    };
    let Some(count) = count else {
        return z
            .filter(|z| !z.is_empty())
            .and_then(|z| z.at(super::sets::rand_below(z.len())))
            .map_or(Reply::Nil, |(m, _)| Reply::bulk(m));
    };
    let Some(z) = z.filter(|z| !z.is_empty()) else {
        return Reply::Array(Vec::new());
    };
    let picks = super::sets::random_positions(z.len(), count);
    let items: Vec<(Box<[u8]>, f64)> = picks
        .into_iter()
        .filter_map(|i| z.at(i))
        .map(|(m, s)| (m.into(), s))
        .collect();
    pairs_reply(&items, withscores, ctx.client.resp3)
}

// ---- ZUNION / ZINTER / ZDIFF ----

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(agg: Aggregate, a: f64, b: f64) -> f64 {
    match agg {
        Aggregate::Sum => {
            let s = a + b;
            // inf + -inf: Redis makes it 0.
            if s.is_nan() { 0.0 } else { s }
        }
        Aggregate::Min => a.min(b),
        Aggregate::Max => a.max(b),
    }
}

/// Reads each key as a sorted set (a plain set counts with score 1; a
/// missing key is empty) and combines them.
fn combine(
    ctx: &Ctx<'_>,
    db: &Db,
    keys: &[Bytes],
    weights: &[f64],
    agg: Aggregate,
    op: SetOp,
    limit: usize,
) -> Result<Items, Reply> {
    let mut inputs: Vec<Option<Items>> = Vec::with_capacity(keys.len());
    {
        let mut guards = db.lock_keys(keys.iter().map(|k| &k[..]));
        for key in keys {
            let Some(shard) = guards[db.shard_of(key)].as_mut() else {
                inputs.push(None);
                continue;
            };
            inputs.push(match shard.get(key, ctx.now_ms, ctx.access) {
                None => None,
                Some(Entry {
                    value: Value::ZSet(z),
                    ..
                }) => Some(z.iter().map(|(m, s)| (m.into(), s)).collect()),
                Some(Entry {
                    value: Value::Set(s),
                    ..
                }) => Some(s.iter().map(|m| (m.into(), 1.0)).collect()),
                Some(_) => return Err(Reply::err(errors::WRONGTYPE)),
            });
        }
    }
    let weight = |i: usize| weights.get(i).copied().unwrap_or(1.0);
    let scaled = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() { 0.0 } else { v }
    };
    let mut acc: std::collections::HashMap<Box<[u8]>, f64> = std::collections::HashMap::new();
    match op {
        SetOp::Union => {
            for (i, input) in inputs.iter().enumerate() {
                for (m, s) in input.iter().flatten() {
                    let v = scaled(*s, weight(i));
                    acc.entry(m.clone())
                        .and_modify(|a| *a = aggregate(agg, *a, v))
                        .or_insert(v);
                }
            }
        }
        SetOp::Inter => {
            if inputs.iter().any(Option::is_none) {
                return Ok(Vec::new());
            }
            let maps: Vec<std::collections::HashMap<&[u8], f64>> = inputs
                .iter()
                .map(|i| i.iter().flatten().map(|(m, s)| (&m[..], *s)).collect())
                .collect();
            let mut order: Vec<usize> = (0..maps.len()).collect();
            order.sort_by_key(|&i| maps[i].len());
            'members: for (m, s) in inputs[order[0]].iter().flatten() {
                let mut v = scaled(*s, weight(order[0]));
                for &j in &order[1..] {
                    let Some(o) = maps[j].get(&m[..]) else {
                        continue 'members;
                    };
                    v = aggregate(agg, v, scaled(*o, weight(j)));
                }
                acc.insert(m.clone(), v);
                if limit != 0 && acc.len() >= limit {
                    break;
                }
            }
        }
        SetOp::Diff => {
            if let Some(first) = &inputs[0] {
                let others: Vec<std::collections::HashSet<&[u8]>> = inputs[1..]
                    .iter()
                    .map(|i| i.iter().flatten().map(|(m, _)| &m[..]).collect())
                    .collect();
                for (m, s) in first {
                    if !others.iter().any(|o| o.contains(&m[..])) {
                        acc.insert(m.clone(), *s);
                    }
                }
            }
        }
    }
    let mut out: Vec<(Box<[u8]>, f64)> = acc.into_iter().collect();
    out.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    Ok(out)
}

/// Parses `numkeys key… [WEIGHTS w…] [AGGREGATE …] [WITHSCORES]` for
/// `name`; returns (keys, weights, aggregate, withscores).
fn parse_setop<'a>(
    args: &'a [Bytes],
    name: &str,
    op: SetOp,
    store: bool,
) -> Result<SetOpArgs<'a>, Reply> {
    let numkeys = match parse_i64(&args[0]) {
        Some(n) if n > 0 => n as usize,
        Some(_) => {
            return Err(Reply::error(format!(
                "ERR at least 1 input key is needed for '{name}' command"
            )));
        }
        None => return Err(Reply::err(errors::NOT_INTEGER)),
    };
    if numkeys > args.len() - 1 {
        return Err(Reply::err(errors::SYNTAX));
    }
    let keys = &args[1..=numkeys];
    let mut weights = Vec::new();
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut i = numkeys + 1;
    while i < args.len() {
        let a = &args[i];
        if op != SetOp::Diff && is(a, "weights") && i + numkeys < args.len() {
            for w in &args[i + 1..=i + numkeys] {
                weights.push(parse_f64(w).ok_or(Reply::err("ERR weight value is not a float"))?);
            }
            i += numkeys + 1;
        } else if op != SetOp::Diff && is(a, "aggregate") && i + 1 < args.len() {
            let v = &args[i + 1];
            agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(Reply::err(errors::SYNTAX));
            };
            i += 2;
        } else if !store && is(a, "withscores") {
            withscores = true;
            i += 1;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
    }
    Ok((keys, weights, agg, withscores))
}

fn setop_read(ctx: &mut Ctx<'_>, args: &[Bytes], op: SetOp, name: &str) -> Reply {
    let (keys, weights, agg, withscores) = match parse_setop(&args[1..], name, op, false) {
        Ok(p) => p,
        Err(e) => return e,
    };
    match combine(ctx, ctx.db(), keys, &weights, agg, op, 0) {
        Ok(items) => pairs_reply(&items, withscores, ctx.client.resp3),
        Err(e) => e,
    }
}

fn setop_store(ctx: &mut Ctx<'_>, args: &[Bytes], op: SetOp, name: &str) -> Reply {
    let (keys, weights, agg, _) = match parse_setop(&args[2..], name, op, true) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let db = ctx.db();
    let items = match combine(ctx, db, keys, &weights, agg, op, 0) {
        Ok(items) => items,
        Err(e) => return e,
    };
    let mut shard = db.lock_key(&args[1]);
    store_result(&mut shard, &args[1], items.into_iter(), ctx.now_ms)
}

pub(super) fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_read(ctx, args, SetOp::Union, "zunion")
}

pub(super) fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_read(ctx, args, SetOp::Inter, "zinter")
}

pub(super) fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_read(ctx, args, SetOp::Diff, "zdiff")
}

pub(super) fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_store(ctx, args, SetOp::Union, "zunionstore")
}

pub(super) fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_store(ctx, args, SetOp::Inter, "zinterstore")
}

pub(super) fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_store(ctx, args, SetOp::Diff, "zdiffstore")
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit].
pub(super) fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let numkeys = match parse_i64(&args[1]) {
        Some(n) if n > 0 => n as usize,
        _ => return Reply::err("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return Reply::err("ERR Number of keys can't be greater than number of args");
    }
    let keys = &args[2..2 + numkeys];
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if is(&args[i], "limit") && i + 1 < args.len() {
            match parse_i64(&args[i + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return Reply::err("ERR LIMIT can't be negative"),
            }
            i += 2;
        } else {
            return Reply::err(errors::SYNTAX);
        }
    }
    match combine(
        ctx,
        ctx.db(),
        keys,
        &[],
        Aggregate::Sum,
        SetOp::Inter,
        limit,
    ) {
        Ok(items) => Reply::Integer(items.len() as i64),
        Err(e) => e,
    }
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: the cursor is a rank.
pub(super) fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(cursor) = std::str::from_utf8(&args[2])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return Reply::err("ERR invalid cursor");
    };
    let (pattern, count) = match super::sets::scan_options(&args[3..]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let mut shard = ctx.db().lock_key(&args[1]);
    let z = match read(&mut shard, &args[1], ctx) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Array(vec![Reply::text("0"), Reply::Array(Vec::new())]),
        Err(e) => return e,
    };
    let start = cursor as usize;
    let end = start.saturating_add(count).min(z.len());
    let mut out = Vec::new();
    if start < end {
        for (m, s) in z.range(start, end - 1) {
            if pattern.is_none_or(|p| glob::matches(p, m)) {
                out.push(Reply::bulk(m));
                out.push(Reply::Bulk(Bytes::from(super::format_f64(s))));
            }
        }
    }
    let next = if end >= z.len() { 0 } else { end };
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(out),
    ])
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: pops from the first
/// non-empty sorted set; `[key, [[member, score], …]]` or a null array.
pub(super) fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let numkeys = match parse_i64(&args[1]) {
        Some(n) if n > 0 => n as usize,
        _ => return Reply::err("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return Reply::err(errors::SYNTAX);
    }
    let keys = &args[2..2 + numkeys];
    let rest = &args[2 + numkeys..];
    let max = match rest.first() {
        Some(w) if is(w, "min") => false,
        Some(w) if is(w, "max") => true,
        _ => return Reply::err(errors::SYNTAX),
    };
    let count = match &rest[1..] {
        [] => 1,
        [word, n] if is(word, "count") => match parse_i64(n) {
            Some(n) if n > 0 => n as usize,
            _ => return Reply::err("ERR count should be greater than 0"),
        },
        _ => return Reply::err(errors::SYNTAX),
    };
    for key in keys {
        let mut shard = ctx.db().lock_key(key);
        let popped = change(&mut shard, key, ctx.now_ms, false, |z| {
            let mut out = Vec::new();
            for _ in 0..count {
                let at = if max { z.len().checked_sub(1) } else { Some(0) };
                let Some((m, s)) = at.and_then(|i| z.at(i)) else {
                    break;
                };
                let m: Box<[u8]> = m.into();
                z.remove(&m);
                out.push((m, s));
            }
            out
        });
        match popped {
            Err(e) => return e,
            Ok(None) => continue,
            Ok(Some(items)) => {
                return Reply::Array(vec![
                    Reply::bulk(key),
                    Reply::Array(
                        items
                            .iter()
                            .map(|(m, s)| Reply::Array(vec![Reply::bulk(m), Reply::Double(*s)]))
                            .collect(),
                    ),
                ]);
            }
        }
    }
    Reply::NilArray
}
