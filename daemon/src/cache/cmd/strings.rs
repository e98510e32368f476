//! String commands: GET, SET and its variants, MGET/MSET, counters,
//! APPEND, STRLEN, GETRANGE, SETRANGE.

use bytes::Bytes;

use super::{Ctx, format_f64, int_arg, is, parse_f64, read_str, reply};
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Entry, Value};

/// The largest string SETRANGE/APPEND may build (Redis's
/// proto-max-bulk-len default).
pub const MAX_STRING: usize = 512 * 1024 * 1024;

/// An expiry option of SET / GETEX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ttl {
    /// Leave as is (GETEX without options) / clear (SET without options).
    Unset,
    /// Absolute ms.
    At(u64),
    /// SET KEEPTTL.
    Keep,
    /// GETEX PERSIST.
    Persist,
}

/// Turns EX/PX/EXAT/PXAT `value` into an absolute time in ms, or Redis's
/// "invalid expire time" error naming the command.
pub(super) fn absolute_expiry(
    unit: &[u8],
    value: &[u8],
    now_ms: u64,
    cmd: &str,
) -> Result<u64, Reply> {
    let n = int_arg(value)?;
    let invalid = || Reply::error(format!("ERR invalid expire time in '{cmd}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match unit.to_ascii_lowercase().as_slice() {
        b"ex" | b"exat" => n.checked_mul(1000).ok_or_else(invalid)?,
        _ => n,
    };
    let relative = matches!(unit.to_ascii_lowercase().as_slice(), b"ex" | b"px");
    let at = if relative {
        ms.checked_add(now_ms as i64).ok_or_else(invalid)?
    } else {
        ms
    };
    Ok(at.max(1) as u64)
}

fn put(ctx: &Ctx<'_>, key: &[u8], value: &[u8], expire_at: u64) {
    ctx.db()
        .lock_key(key)
        .put_str(key, value, expire_at, ctx.now_ms);
}

pub(super) fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    reply(read_str(&mut shard, &args[1], ctx.now_ms, ctx.access).map(Reply::bulk_or_nil))
}

/// GET with the value written to `sink` under the shard lock, not copied
/// into a [`Reply`] first; answers an error instead of writing it.
pub(super) fn get_into(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    sink: &mut impl super::Sink,
) -> Option<Reply> {
    let resp3 = ctx.client.resp3;
    let mut shard = ctx.db().lock_key(key);
    match read_str(&mut shard, key, ctx.now_ms, ctx.access) {
        Ok(value) => sink.bulk_or_nil(value, resp3),
        Err(e) => return Some(e),
    }
    None
}

#[derive(PartialEq)]
enum Cond {
    Always,
    Nx,
    Xx,
}

pub(super) fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, value) = (&args[1], &args[2]);
    if args.len() == 3 {
        // The common case, without options: one lookup, no old value.
        put(ctx, key, value, 0);
        return Reply::ok();
    }
    let mut cond = Cond::Always;
    let mut ttl = Ttl::Unset;
    let mut want_old = false;
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        let next = args.get(i + 1);
        if is(opt, "nx") && cond == Cond::Always {
            cond = Cond::Nx;
        } else if is(opt, "xx") && cond == Cond::Always {
            cond = Cond::Xx;
        } else if is(opt, "get") && !want_old {
            want_old = true;
        } else if is(opt, "keepttl") && ttl == Ttl::Unset {
            ttl = Ttl::Keep;
        } else if ["ex", "px", "exat", "pxat"].iter().any(|w| is(opt, w)) && ttl == Ttl::Unset {
            let Some(n) = next else {
                return Reply::err(errors::SYNTAX);
            };
            match absolute_expiry(opt, n, ctx.now_ms, "set") {
                Ok(at) => ttl = Ttl::At(at),
                Err(e) => return e,
            }
            i += 1;
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 1;
    }
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let (old, old_expiry) = match shard.peek(key, now) {
        None => (None, 0),
        Some(Entry {
            value: Value::Str(s),
            expire_at,
            ..
        }) => (Some(Bytes::copy_from_slice(s)), *expire_at),
        Some(e) => {
            if want_old {
                return Reply::err(errors::WRONGTYPE);
            }
            (None, e.expire_at)
        }
    };
    let exists = old.is_some() || shard.peek(key, now).is_some();
    let blocked = match cond {
        Cond::Always => false,
        Cond::Nx => exists,
        Cond::Xx => !exists,
    };
    if !blocked {
        let expire_at = match ttl {
            Ttl::At(at) => at,
            Ttl::Keep => old_expiry,
            Ttl::Unset | Ttl::Persist => 0,
        };
        shard.insert(
            key,
            Entry::with_expiry(Value::Str((&value[..]).into()), expire_at),
            now,
        );
    }
    match (want_old, blocked) {
        (true, _) => old.map_or(Reply::Nil, Reply::Bulk),
        (false, true) => Reply::Nil,
        (false, false) => Reply::ok(),
    }
}

pub(super) fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    if shard.peek(&args[1], ctx.now_ms).is_some() {
        return Reply::Integer(0);
    }
    shard.insert(
        &args[1],
        Entry::new(Value::Str((&args[2][..]).into())),
        ctx.now_ms,
    );
    Reply::Integer(1)
}

fn set_with_ttl(ctx: &mut Ctx<'_>, args: &[Bytes], unit: &[u8], cmd: &str) -> Reply {
    match absolute_expiry(unit, &args[2], ctx.now_ms, cmd) {
        Ok(at) => {
            put(ctx, &args[1], &args[3], at);
            Reply::ok()
        }
        Err(e) => e,
    }
}

pub(super) fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    set_with_ttl(ctx, args, b"ex", "setex")
}

pub(super) fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    set_with_ttl(ctx, args, b"px", "psetex")
}

pub(super) fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read_str(&mut shard, &args[1], ctx.now_ms, ctx.access) {
        Err(e) => e,
        Ok(None) => Reply::Nil,
        Ok(Some(v)) => {
            let v = Reply::bulk(v);
            shard.remove(&args[1], ctx.now_ms);
            v
        }
    }
}

pub(super) fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read_str(&mut shard, &args[1], ctx.now_ms, ctx.access) {
        Err(e) => e,
        Ok(old) => {
            let old = Reply::bulk_or_nil(old);
            shard.insert(
                &args[1],
                Entry::new(Value::Str((&args[2][..]).into())),
                ctx.now_ms,
            );
            old
        }
    }
}

pub(super) fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut ttl = Ttl::Unset;
    let mut i = 2;
    while i < args.len() {
        let opt = &args[i];
        if ["ex", "px", "exat", "pxat"].iter().any(|w| is(opt, w)) && ttl == Ttl::Unset {
            let Some(n) = args.get(i + 1) else {
                return Reply::err(errors::SYNTAX);
            };
            match absolute_expiry(opt, n, ctx.now_ms, "getex") {
                Ok(at) => ttl = Ttl::At(at),
                Err(e) => return e,
            }
            i += 1;
        } else if is(opt, "persist") && ttl == Ttl::Unset {
            ttl = Ttl::Persist;
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 1;
    }
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(&args[1]);
    let value = match read_str(&mut shard, &args[1], now, ctx.access) {
        Err(e) => return e,
        Ok(None) => return Reply::Nil,
        Ok(Some(v)) => Reply::bulk(v),
    };
    match ttl {
        Ttl::At(at) if at <= now => {
            shard.remove(&args[1], now);
        }
        Ttl::At(at) => {
            shard.set_expiry(&args[1], at, now);
        }
        Ttl::Persist => {
            shard.set_expiry(&args[1], 0, now);
        }
        Ttl::Unset | Ttl::Keep => {}
    }
    value
}

pub(super) fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let items = args[1..]
        .iter()
        .map(|key| {
            let mut shard = ctx.db().lock_key(key);
            // Wrong types read as nil in MGET, as in Redis.
            read_str(&mut shard, key, ctx.now_ms, ctx.access)
                .ok()
                .flatten()
                .map_or(Reply::Nil, Reply::bulk)
        })
        .collect();
    Reply::Array(items)
}

fn mset_impl(ctx: &mut Ctx<'_>, args: &[Bytes], only_new: bool) -> Reply {
    let name = if only_new { "msetnx" } else { "mset" };
    if args.len().is_multiple_of(2) {
        return super::wrong_arity(name);
    }
    let store = ctx.db();
    // All shards locked at once: MSET and MSETNX are atomic.
    let mut guards = store.lock_keys(args[1..].iter().step_by(2).map(|k| &k[..]));
    if only_new {
        for key in args[1..].iter().step_by(2) {
            if let Some(shard) = guards[store.shard_of(key)].as_mut()
                && shard.peek(key, ctx.now_ms).is_some()
            {
                return Reply::Integer(0);
            }
        }
    }
    for pair in args[1..].chunks_exact(2) {
        if let Some(shard) = guards[store.shard_of(&pair[0])].as_mut() {
            shard.put_str(&pair[0], &pair[1], 0, ctx.now_ms);
        }
    }
    if only_new {
        Reply::Integer(1)
    } else {
        Reply::ok()
    }
}

pub(super) fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    mset_impl(ctx, args, false)
}

pub(super) fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    mset_impl(ctx, args, true)
}

fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> Reply {
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    // One lookup; the new digits overwrite the old ones in place when
    // they are as many (as Redis changes an integer-encoded value in
    // place), else one exact allocation.
    let found = shard.locate(key, now, ctx.access);
    let current = match found.map(|idx| &shard.entry_at(idx).value) {
        None => 0,
        Some(Value::Str(v)) => match super::parse_i64(v) {
            Some(n) => n,
            None => return Reply::err(errors::NOT_INTEGER),
        },
        Some(_) => return Reply::err(errors::WRONGTYPE),
    };
    let Some(new) = current.checked_add(delta) else {
        return Reply::err(errors::OVERFLOW);
    };
    let mut digits = itoa::Buffer::new();
    let text = digits.format(new).as_bytes();
    match found {
        Some(idx) => shard.update_at(idx, |e| match &mut e.value {
            Value::Str(v) if v.len() == text.len() => v.copy_from_slice(text),
            value => *value = Value::Str(text.into()),
        }),
        None => {
            shard.insert(key, Entry::new(Value::Str(text.into())), now);
        }
    }
    Reply::Integer(new)
}

pub(super) fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    incr_by(ctx, &args[1], 1)
}

pub(super) fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    incr_by(ctx, &args[1], -1)
}

pub(super) fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match int_arg(&args[2]) {
        Ok(n) => incr_by(ctx, &args[1], n),
        Err(e) => e,
    }
}

pub(super) fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match int_arg(&args[2]) {
        Ok(n) if n == i64::MIN => Reply::err("ERR decrement would overflow"),
        Ok(n) => incr_by(ctx, &args[1], -n),
        Err(e) => e,
    }
}

pub(super) fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(delta) = parse_f64(&args[2]) else {
        return Reply::err(errors::NOT_FLOAT);
    };
    let now = ctx.now_ms;
    let key = &args[1];
    let mut shard = ctx.db().lock_key(key);
    let current = match read_str(&mut shard, key, now, ctx.access) {
        Err(e) => return e,
        Ok(None) => None,
        Ok(Some(v)) => match parse_f64(v) {
            Some(n) => Some(n),
            None => return Reply::err(errors::NOT_FLOAT),
        },
    };
    let new = current.unwrap_or(0.0) + delta;
    if !new.is_finite() {
        return Reply::err("ERR increment would produce NaN or Infinity");
    }
    let text = format_f64(new);
    let value = Value::Str(text.as_bytes().into());
    if current.is_some() {
        shard.update(key, now, |e| e.value = value);
    } else {
        shard.insert(key, Entry::new(value), now);
    }
    Reply::Bulk(Bytes::from(text))
}

pub(super) fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, tail) = (&args[1], &args[2]);
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    match read_str(&mut shard, key, now, ctx.access) {
        Err(e) => e,
        Ok(None) => {
            shard.insert(key, Entry::new(Value::Str((&tail[..]).into())), now);
            Reply::Integer(tail.len() as i64)
        }
        Ok(Some(old)) => {
            if old.len() + tail.len() > MAX_STRING {
                return Reply::err(errors::TOO_BIG);
            }
            let mut joined = Vec::with_capacity(old.len() + tail.len());
            joined.extend_from_slice(old);
            joined.extend_from_slice(tail);
            let len = joined.len();
            shard.update(key, now, |e| e.value = Value::Str(joined.into()));
            Reply::Integer(len as i64)
        }
    }
}

pub(super) fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    reply(
        read_str(&mut shard, &args[1], ctx.now_ms, ctx.access)
            .map(|v| Reply::Integer(v.map_or(0, <[u8]>::len) as i64)),
    )
}

pub(super) fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (start, end) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let mut shard = ctx.db().lock_key(&args[1]);
    let value = match read_str(&mut shard, &args[1], ctx.now_ms, ctx.access) {
        Err(e) => return e,
        Ok(v) => v.unwrap_or_default(),
    };
    let len = value.len() as i64;
    // Redis 7: a negative start past a negative end is empty.
    if start < 0 && end < 0 && start > end {
        return Reply::text("");
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if len == 0 || start > end {
        return Reply::text("");
    }
    Reply::bulk(&value[start as usize..=end as usize])
}

pub(super) fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let offset = match int_arg(&args[2]) {
        Ok(n) if n < 0 => return Reply::err("ERR offset is out of range"),
        Ok(n) => n as usize,
        Err(e) => return e,
    };
    let (key, patch) = (&args[1], &args[3]);
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let old = match read_str(&mut shard, key, now, ctx.access) {
        Err(e) => return e,
        Ok(v) => v.map(<[u8]>::to_vec),
    };
    if patch.is_empty() {
        return Reply::Integer(old.map_or(0, |v| v.len()) as i64);
    }
    if offset.saturating_add(patch.len()) > MAX_STRING {
        return Reply::err(errors::TOO_BIG);
    }
    let existed = old.is_some();
    let mut value = old.unwrap_or_default();
    if value.len() < offset + patch.len() {
        value.resize(offset + patch.len(), 0);
    }
    value[offset..offset + patch.len()].copy_from_slice(patch);
    let len = value.len();
    if existed {
        shard.update(key, now, |e| e.value = Value::Str(value.into()));
    } else {
        shard.insert(key, Entry::new(Value::Str(value.into())), now);
    }
    Reply::Integer(len as i64)
}
