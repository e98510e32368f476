//! The pending entries lists: XPENDING, XCLAIM and XAUTOCLAIM, with Redis
//! 7.0's replies and error texts (deleted entries leave the PEL; a
//! consumer they create gets its `xgroup-createconsumer` event).

use bytes::Bytes;

use super::streams::{bound, change, entry_reply, id_arg, id_reply, read};
use super::xgroups::{has_consumer, nogroup, notify, text};
use super::{Ctx, int_arg, is, parse_i64};
use crate::cache::reply::{Reply, errors};
use crate::cache::stream::StreamId;

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub(super) fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(xpending_inner(ctx, args))
}

fn xpending_inner(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(Reply::err(errors::SYNTAX));
    }
    let mut extended = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0i64;
        if is(&args[3], "idle") {
            min_idle = int_arg(&args[4])?;
            if argc < 8 {
                return Err(Reply::err(errors::SYNTAX));
            }
            at += 2;
        }
        let count = int_arg(&args[at + 2])?.max(0) as usize;
        let start = bound(&args[at], true)?;
        let end = bound(&args[at + 1], false)?;
        let consumer = args.get(at + 3).cloned();
        if args.len() > at + 4 {
            return Err(Reply::err(errors::SYNTAX));
        }
        extended = Some((min_idle, start, end, count, consumer));
    }
    let (key, group) = (&args[1], &args[2]);
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let g = read(&mut shard, key, ctx)?
        .and_then(|s| s.groups.get(&group[..]))
        .ok_or_else(|| nogroup(key, group))?;
    let Some((min_idle, start, end, count, consumer)) = extended else {
        if g.pel.is_empty() {
            return Ok(Reply::Array(vec![
                Reply::Integer(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        }
        let first = g.pel.keys().next().copied().unwrap_or_default();
        let last = g.pel.keys().next_back().copied().unwrap_or_default();
        let owners = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pending.is_empty())
            .map(|(n, c)| {
                Reply::Array(vec![
                    Reply::bulk(n),
                    Reply::Bulk(Bytes::from(c.pending.len().to_string())),
                ])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Integer(g.pel.len() as i64),
            id_reply(first),
            id_reply(last),
            Reply::Array(owners),
        ]));
    };
    let ids: Vec<StreamId> = match &consumer {
        Some(name) => match g.consumers.get(&name[..]) {
            None => return Ok(Reply::Array(Vec::new())),
            Some(c) if start <= end => c.pending.range(start..=end).copied().collect(),
            Some(_) => Vec::new(),
        },
        None if start <= end => g.pel.range(start..=end).map(|(k, _)| *k).collect(),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for id in ids {
        if out.len() >= count {
            break;
        }
        let Some(nack) = g.pel.get(&id) else { continue };
        let idle = now.saturating_sub(nack.delivery_time);
        if min_idle > 0 && (idle as i64) < min_idle {
            continue;
        }
        out.push(Reply::Array(vec![
            id_reply(id),
            Reply::bulk(&nack.consumer),
            Reply::Integer(idle as i64),
            Reply::Integer(nack.delivery_count as i64),
        ]));
    }
    Ok(Reply::Array(out))
}

fn option_int(arg: &[u8], what: &str) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(format!("ERR Invalid {what} argument for XCLAIM")))
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms]
/// [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID]
/// [LASTID lastid]
pub(super) fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(xclaim_inner(ctx, args))
}

fn xclaim_inner(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    let (key, group, consumer) = (&args[1], &args[2], &args[3][..]);
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let has = read(&mut shard, key, ctx)?.is_some_and(|s| s.groups.contains_key(&group[..]));
    if !has {
        return Err(nogroup(key, group));
    }
    let min_idle = option_int(&args[4], "min-idle-time")?.max(0) as u64;
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match StreamId::parse(&args[j], 0, false) {
            Some((id, _)) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let (mut retry, mut time): (Option<i64>, Option<i64>) = (None, None);
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            time = Some(now as i64 - option_int(&args[j], "IDLE option")?);
        } else if is(opt, "time") && more > 0 {
            j += 1;
            time = Some(option_int(&args[j], "TIME option")?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retry = Some(option_int(&args[j], "RETRYCOUNT option")?);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = id_arg(&args[j], 0, true)?;
        } else {
            return Err(Reply::error(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                text(opt)
            )));
        }
        j += 1;
    }
    let delivery = match time {
        Some(t) if t >= 0 && (t as u64) <= now => t as u64,
        _ => now,
    };
    let existed = read(&mut shard, key, ctx)?.is_some_and(|s| has_consumer(s, group, consumer));
    let out = change(&mut shard, key, now, |s| {
        let mut out = Vec::new();
        for id in ids {
            let exists = s.get(id).is_some();
            let Some(g) = s.groups.get_mut(&group[..]) else {
                break;
            };
            if !exists {
                g.ack(id);
                continue;
            }
            let known = g.pel.get(&id).map(|n| now.saturating_sub(n.delivery_time));
            match known {
                None if !force => continue,
                Some(idle) if min_idle > 0 && idle < min_idle => continue,
                _ => {}
            }
            let nack = g.assign(id, consumer, now);
            if known.is_none() {
                nack.delivery_count = 1;
            }
            nack.delivery_time = delivery;
            match retry {
                Some(n) if n >= 0 => nack.delivery_count = n as u64,
                _ if !justid => nack.delivery_count += 1,
                _ => {}
            }
            if let Some(c) = g.consumers.get_mut(consumer) {
                c.seen_time = now;
            }
            if justid {
                out.push(id_reply(id));
            } else if let Some(fields) = s.get(id) {
                out.push(entry_reply(id, fields));
            }
        }
        if let Some(g) = s.groups.get_mut(&group[..])
            && last_id > g.last_id
        {
            g.last_id = last_id;
        }
        (out, has_consumer(s, &group[..], consumer))
    })?;
    drop(shard);
    let (out, has) = out.unwrap_or_default();
    if has && !existed {
        notify(ctx, "xgroup-createconsumer", key);
    }
    Ok(Reply::Array(out))
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
pub(super) fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(xautoclaim_inner(ctx, args))
}

fn xautoclaim_inner(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    let min_idle = parse_i64(&args[4])
        .ok_or(Reply::err(
            "ERR Invalid min-idle-time argument for XAUTOCLAIM",
        ))?
        .max(0) as u64;
    let start = bound(&args[5], true)?;
    let mut count: usize = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match parse_i64(&args[j + 1]) {
                Some(n) if (1..=max).contains(&n) => n as usize,
                _ => return Err(Reply::err("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        j += 1;
    }
    let (key, group, consumer) = (&args[1], &args[2], &args[3][..]);
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let has = read(&mut shard, key, ctx)?.is_some_and(|s| s.groups.contains_key(&group[..]));
    if !has {
        return Err(nogroup(key, group));
    }
    let existed = read(&mut shard, key, ctx)?.is_some_and(|s| has_consumer(s, group, consumer));
    let out = change(&mut shard, key, now, |s| {
        let mut claimed = Vec::new();
        let mut deleted = Vec::new();
        let mut attempts = count.saturating_mul(10);
        let mut left = count;
        let pending: Vec<StreamId> = match s.groups.get(&group[..]) {
            Some(g) => g.pel.range(start..).map(|(k, _)| *k).collect(),
            None => Vec::new(),
        };
        let mut next = StreamId::MIN;
        let mut iter = pending.into_iter();
        for id in iter.by_ref() {
            if attempts == 0 || left == 0 {
                next = id;
                break;
            }
            attempts -= 1;
            let exists = s.get(id).is_some();
            let Some(g) = s.groups.get_mut(&group[..]) else {
                break;
            };
            if !exists {
                g.ack(id);
                deleted.push(id_reply(id));
                left -= 1;
                continue;
            }
            let idle = g
                .pel
                .get(&id)
                .map_or(0, |n| now.saturating_sub(n.delivery_time));
            if min_idle > 0 && idle < min_idle {
                continue;
            }
            let nack = g.assign(id, consumer, now);
            nack.delivery_time = now;
            if !justid {
                nack.delivery_count += 1;
            }
            if let Some(c) = g.consumers.get_mut(consumer) {
                c.seen_time = now;
            }
            if justid {
                claimed.push(id_reply(id));
            } else if let Some(fields) = s.get(id) {
                claimed.push(entry_reply(id, fields));
            }
            left -= 1;
        }
        if next == StreamId::MIN
            && let Some(id) = iter.next()
        {
            next = id;
        }
        let reply = Reply::Array(vec![
            id_reply(next),
            Reply::Array(claimed),
            Reply::Array(deleted),
        ]);
        (reply, has_consumer(s, &group[..], consumer))
    })?;
    drop(shard);
    let Some((reply, has)) = out else {
        return Ok(Reply::Array(Vec::new()));
    };
    if has && !existed {
        notify(ctx, "xgroup-createconsumer", key);
    }
    Ok(reply)
}
