//! DUMP and RESTORE, in agora's own payload format (see
//! [`crate::cache::persist::dump`]: the snapshot's value encoding, a
//! format version and a checksum). A Redis RDB payload is not accepted:
//! RESTORE answers Redis's "payload version or checksum are wrong" to it.

use bytes::Bytes;

use super::{Ctx, int_arg, is};
use crate::cache::persist;
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Entry, Value};

/// DUMP key: the serialized value, nil when missing.
pub(super) fn dump(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match shard.get(&args[1], ctx.now_ms, ctx.access) {
        None => Reply::Nil,
        Some(entry) => Reply::Bulk(persist::dump(&entry.value).into()),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Str(_) => false,
        Value::Hash(h) => h.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        // An empty stream is a value.
        Value::Stream(_) => false,
    }
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency].
pub(super) fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match run(ctx, args) {
        Ok(r) | Err(r) => r,
    }
}

fn run(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    let (mut replace, mut abs_ttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        let word = &args[j];
        if is(word, "replace") {
            replace = true;
        } else if is(word, "absttl") {
            abs_ttl = true;
        } else if is(word, "idletime") && more >= 1 && freq.is_none() {
            let n = int_arg(&args[j + 1])?;
            if n < 0 {
                return Err(Reply::err("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(n as u64);
            j += 1;
        } else if is(word, "freq") && more >= 1 && idle.is_none() {
            let n = int_arg(&args[j + 1])?;
            if !(0..=255).contains(&n) {
                return Err(Reply::err(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(n as u8);
            j += 1;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        j += 1;
    }
    let key = &args[1];
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    if !replace && shard.peek(key, now).is_some() {
        return Err(Reply::err("BUSYKEY Target key name already exists."));
    }
    let ttl = int_arg(&args[2])?;
    if ttl < 0 {
        return Err(Reply::err("ERR Invalid TTL value, must be >= 0"));
    }
    let value = persist::undump(&args[3])
        .ok_or(Reply::err("ERR DUMP payload version or checksum are wrong"))?;
    if is_empty(&value) {
        return Err(Reply::err("ERR Bad data format"));
    }
    let expire_at = match (ttl, abs_ttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => now.saturating_add(t as u64),
    };
    if expire_at != 0 && expire_at <= now {
        // Already expired: the key is gone (replaced) and not created.
        if replace {
            shard.remove(key, now);
        }
        return Ok(Reply::ok());
    }
    shard.insert(key, Entry::with_expiry(value, expire_at), now);
    shard.set_access(key, now, idle, freq);
    Ok(Reply::ok())
}
