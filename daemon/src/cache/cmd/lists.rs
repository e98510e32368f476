//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LRANGE,
//! LINDEX, LMPOP, LMOVE, RPOPLPUSH (the others are in `listedit`).

use bytes::Bytes;

use super::typed::{change, read};
use super::{Ctx, Sink, int_arg};
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Entry, List, Value};

#[derive(Clone, Copy, PartialEq)]
enum End {
    Head,
    Tail,
}

fn push(ctx: &mut Ctx<'_>, args: &[Bytes], end: End, existing: bool) -> Reply {
    let key = &args[1];
    let mut shard = ctx.db().lock_key(key);
    // One lookup (`change`); LPUSHX/RPUSHX do not create the key.
    let pushed = change(&mut shard, key, ctx.now_ms, !existing, |list: &mut List| {
        for item in &args[2..] {
            match end {
                End::Head => list.push_front((&item[..]).into()),
                End::Tail => list.push_back((&item[..]).into()),
            }
        }
        list.len() as i64
    });
    match pushed {
        Ok(len) => Reply::Integer(len.unwrap_or(0)),
        Err(e) => e,
    }
}

pub(super) fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Head, false)
}

pub(super) fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Head, true)
}

pub(super) fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Tail, true)
}

pub(super) fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push(ctx, args, End::Tail, false)
}

fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> Reply {
    if args.len() > 3 {
        let name = if end == End::Head { "lpop" } else { "rpop" };
        return super::wrong_arity(name);
    }
    let count = match args.get(2).map(|c| int_arg(c)) {
        None => None,
        Some(Ok(n)) if n < 0 => return Reply::err("ERR value is out of range, must be positive"),
        Some(Ok(n)) => Some(n as usize),
        Some(Err(e)) => return e,
    };
    let key = &args[1];
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let Some(idx) = shard.locate(key, now, ctx.access) else {
        return if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        };
    };
    if !matches!(shard.entry_at(idx).value, Value::List(_)) {
        return Reply::err(errors::WRONGTYPE);
    }
    let (reply, empty) = shard.update_at(idx, |e| {
        let Value::List(list) = &mut e.value else {
            return (Reply::err(errors::WRONGTYPE), false);
        };
        let mut take = || match end {
            End::Head => list.pop_front(),
            End::Tail => list.pop_back(),
        };
        let reply = match count {
            // The popped element's own allocation becomes the reply.
            None => take().map_or(Reply::Nil, |v| Reply::Bulk(Bytes::from(v))),
            Some(n) => Reply::Array(
                std::iter::from_fn(take)
                    .take(n)
                    .map(|v| Reply::Bulk(Bytes::from(v)))
                    .collect(),
            ),
        };
        (reply, list.is_empty())
    });
    if empty {
        shard.remove(key, now);
    }
    reply
}

pub(super) fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop(ctx, args, End::Head)
}

pub(super) fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop(ctx, args, End::Tail)
}

fn with_list(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(Option<&List>) -> Reply) -> Reply {
    let mut shard = ctx.db().lock_key(key);
    match shard.get(key, ctx.now_ms, ctx.access) {
        None => f(None),
        Some(Entry {
            value: Value::List(l),
            ..
        }) => f(Some(l)),
        Some(_) => Reply::err(errors::WRONGTYPE),
    }
}

pub(super) fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    with_list(ctx, &args[1], |l| {
        Reply::Integer(l.map_or(0, |l| l.len()) as i64)
    })
}

pub(super) fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut out = None;
    match lrange_into(ctx, args, &mut out) {
        Some(e) => e,
        None => out.unwrap_or(Reply::Nil),
    }
}

/// LRANGE with the elements written to `sink` straight from the list,
/// under the shard lock (as Redis writes them into its output buffer):
/// no [`Reply`] and no copy per element. Answers an error instead of
/// writing it, for the caller's error counters.
pub(super) fn lrange_into(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    sink: &mut impl Sink,
) -> Option<Reply> {
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return Some(e),
    };
    let resp3 = ctx.client.resp3;
    let mut shard = ctx.db().lock_key(&args[1]);
    match shard.get(&args[1], ctx.now_ms, ctx.access) {
        Some(Entry {
            value: Value::List(l),
            ..
        }) => match clamp_range(start, stop, l.len()) {
            Some(range) => sink.bulks(l.range(range).map(|v| &v[..]), resp3),
            None => sink.bulks(std::iter::empty(), resp3),
        },
        None => sink.bulks(std::iter::empty(), resp3),
        Some(_) => return Some(Reply::err(errors::WRONGTYPE)),
    }
    None
}

/// Redis's index rules for LRANGE: negative from the end, clamped to the
/// list; `None` when the range is empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<std::ops::RangeInclusive<usize>> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some(start as usize..=stop as usize)
}

pub(super) fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let idx = match int_arg(&args[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    with_list(ctx, &args[1], |l| {
        let Some(l) = l else {
            return Reply::Nil;
        };
        let len = l.len() as i64;
        let idx = if idx < 0 { len + idx } else { idx };
        if idx < 0 || idx >= len {
            return Reply::Nil;
        }
        l.get(idx as usize).map_or(Reply::Nil, |v| Reply::bulk(v))
    })
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the
/// first non-empty list; `[key, [elements]]` or a null array.
pub(super) fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let numkeys = match super::parse_i64(&args[1]) {
        Some(n) if n > 0 => n as usize,
        _ => return Reply::err("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return Reply::err(errors::SYNTAX);
    }
    let keys = &args[2..2 + numkeys];
    let rest = &args[2 + numkeys..];
    let end = match rest.first() {
        Some(w) if super::is(w, "left") => "lpop",
        Some(w) if super::is(w, "right") => "rpop",
        _ => return Reply::err(errors::SYNTAX),
    };
    let count = match &rest[1..] {
        [] => 1,
        [word, n] if super::is(word, "count") => match super::parse_i64(n) {
            Some(n) if n > 0 => n,
            _ => return Reply::err("ERR count should be greater than 0"),
        },
        _ => return Reply::err(errors::SYNTAX),
    };
    let count = Bytes::from(count.to_string());
    for key in keys {
        let pop_args = [
            Bytes::from_static(end.as_bytes()),
            key.clone(),
            count.clone(),
        ];
        match pop(
            ctx,
            &pop_args,
            if end == "lpop" { End::Head } else { End::Tail },
        ) {
            Reply::NilArray => continue,
            Reply::Array(items) => {
                return Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Array(items)]);
            }
            other => return other,
        }
    }
    Reply::NilArray
}

fn end_arg(arg: &[u8]) -> Result<End, Reply> {
    if super::is(arg, "left") {
        Ok(End::Head)
    } else if super::is(arg, "right") {
        Ok(End::Tail)
    } else {
        Err(Reply::err(errors::SYNTAX))
    }
}

/// Pops an element from `src`'s `from` end and pushes it at `dst`'s `to`
/// end, atomically; nil when `src` is missing. WRONGTYPE when either key
/// holds another type (nothing moves then).
fn move_element(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from: End, to: End) -> Reply {
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut guards = db.lock_keys([src, dst].into_iter());
    let (si, di) = (db.shard_of(src), db.shard_of(dst));
    let Some(shard) = guards[si].as_mut() else {
        return Reply::Nil;
    };
    match read::<List>(shard, src, ctx) {
        Ok(Some(_)) => {}
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    }
    if let Some(shard) = guards[di].as_mut()
        && let Err(e) = read::<List>(shard, dst, ctx)
    {
        return e;
    }
    if src == dst {
        // One change, so a one-element list rotating keeps its key (and TTL).
        let moved = guards[si].as_mut().and_then(|shard| {
            change(shard, src, now, false, |l: &mut List| {
                let item = match from {
                    End::Head => l.pop_front(),
                    End::Tail => l.pop_back(),
                }?;
                let reply = Reply::bulk(&item);
                match to {
                    End::Head => l.push_front(item),
                    End::Tail => l.push_back(item),
                }
                Some(reply)
            })
            .ok()
            .flatten()
            .flatten()
        });
        return moved.unwrap_or(Reply::Nil);
    }
    let popped = guards[si].as_mut().and_then(|shard| {
        change(shard, src, now, false, |l: &mut List| match from {
            End::Head => l.pop_front(),
            End::Tail => l.pop_back(),
        })
        .ok()
        .flatten()
        .flatten()
    });
    let Some(item) = popped else {
        return Reply::Nil;
    };
    let reply = Reply::bulk(&item);
    if let Some(shard) = guards[di].as_mut() {
        let _ = change(shard, dst, now, true, |l: &mut List| match to {
            End::Head => l.push_front(item),
            End::Tail => l.push_back(item),
        });
    }
    reply
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT.
pub(super) fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (from, to) = match (end_arg(&args[3]), end_arg(&args[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    move_element(ctx, &args[1], &args[2], from, to)
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
pub(super) fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    move_element(ctx, &args[1], &args[2], End::Tail, End::Head)
}
