//! The blocking commands' parsing and attempts (BLPOP BRPOP BLMPOP
//! BLMOVE BRPOPLPUSH BZPOPMIN BZPOPMAX BZMPOP, and XREAD / XREADGROUP
//! with BLOCK); the waiting is in [`crate::cache::blocking`] and the RESP
//! connection.

use bytes::Bytes;

use super::{Ctx, is, parse_f64, parse_i64};
use crate::cache::reply::{Reply, errors};

/// Whether `name` (lower case, from the command table) blocks.
pub fn is_blocking(name: &str) -> bool {
    matches!(
        name,
        "blpop" | "brpop" | "blmpop" | "blmove" | "brpoplpush" | "bzpopmin" | "bzpopmax" | "bzmpop"
    )
}

/// Whether this call blocks: a blocking command, or XREAD/XREADGROUP
/// with a BLOCK option.
pub fn blocks(name: &str, args: &[Bytes]) -> bool {
    is_blocking(name)
        || (matches!(name, "xread" | "xreadgroup") && super::streams::read_blocks(args))
}

/// Before a blocking XREAD's first attempt: its `$` IDs become the
/// streams' last IDs now, which its retries keep.
pub fn pin_ids(ctx: &mut Ctx<'_>, args: &mut [Bytes]) {
    if args.first().is_some_and(|a| is(a, "xread")) {
        super::streams::pin_last_ids(ctx, args);
    }
}

/// What a blocking command waits on.
pub struct Wait {
    /// The keys, in the command's order.
    pub keys: Vec<Bytes>,
    /// How long to wait at most, in ms; `None` waits for ever.
    pub timeout_ms: Option<u64>,
}

fn timeout_arg(arg: &[u8]) -> Result<Option<u64>, Reply> {
    let secs = parse_f64(arg).ok_or(Reply::err("ERR timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(Reply::err("ERR timeout is negative"));
    }
    if !secs.is_finite() || secs > 1e12 {
        return Err(Reply::err("ERR timeout is out of range"));
    }
    let ms = (secs * 1000.0).ceil() as u64;
    Ok((ms > 0).then_some(ms))
}

/// Parses a blocking command's keys and timeout (the arity was checked).
///
/// # Errors
/// Redis's error for a bad timeout or key count.
pub fn parse(name: &str, args: &[Bytes]) -> Result<Wait, Reply> {
    match name {
        "xread" | "xreadgroup" => {
            let read = super::streams::parse_read(args, name == "xreadgroup")?;
            Ok(Wait {
                keys: read.streams.into_iter().map(|(k, _)| k).collect(),
                timeout_ms: read.block.filter(|ms| *ms > 0),
            })
        }
        "blmove" | "brpoplpush" => {
            // The source is the only key waited on; the timeout is last.
            let timeout_ms = timeout_arg(&args[args.len() - 1])?;
            if name == "blmove" {
                for end in &args[3..5] {
                    if !is(end, "left") && !is(end, "right") {
                        return Err(Reply::err(errors::SYNTAX));
                    }
                }
            }
            Ok(Wait {
                keys: vec![args[1].clone()],
                timeout_ms,
            })
        }
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            let timeout_ms = timeout_arg(&args[args.len() - 1])?;
            Ok(Wait {
                keys: args[1..args.len() - 1].to_vec(),
                timeout_ms,
            })
        }
        _ => {
            // BLMPOP/BZMPOP timeout numkeys key [key ...] …
            let timeout_ms = timeout_arg(&args[1])?;
            let numkeys = match parse_i64(&args[2]) {
                Some(n) if n > 0 => n as usize,
                _ => return Err(Reply::err("ERR numkeys should be greater than 0")),
            };
            if numkeys > args.len().saturating_sub(3) {
                return Err(Reply::err(errors::SYNTAX));
            }
            Ok(Wait {
                keys: args[3..3 + numkeys].to_vec(),
                timeout_ms,
            })
        }
    }
}

/// What a blocking command (`args`) answers on timeout: a null bulk
/// for the moves, a null array for the pops.
pub fn timeout_reply(args: &[Bytes]) -> Reply {
    match args.first() {
        Some(name) if is(name, "blmove") || is(name, "brpoplpush") => Reply::Nil,
        _ => Reply::NilArray,
    }
}

/// Runs `args` as a non-blocking command under the gate already held.
fn run(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut reply = None;
    super::execute_gated(ctx, super::lookup(&args[0]), args, &mut reply, false);
    reply.unwrap_or(Reply::Nil)
}

/// The blocking command's answer if it can be served now (or its error),
/// `None` when it would block. The caller holds the transaction gate.
///
/// `retry` is false on the command's first attempt: a key of another type
/// then answers WRONGTYPE; on later attempts (after a signal) it is
/// skipped and the client keeps waiting, as in Redis.
pub fn try_serve(ctx: &mut Ctx<'_>, args: &[Bytes], retry: bool) -> Option<Reply> {
    // The attempts (TYPE, LMOVE, LPOP…) are the server's, not the
    // client's: MONITOR showed the blocking command, and CLIENT TRACKING
    // does not remember the keys they read.
    let was = std::mem::replace(&mut ctx.client.internal, true);
    let served = attempt(ctx, args, retry);
    ctx.client.internal = was;
    served
}

fn attempt(ctx: &mut Ctx<'_>, args: &[Bytes], retry: bool) -> Option<Reply> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let wait = match parse(&name, args) {
        Ok(w) => w,
        Err(e) => return Some(e),
    };
    match name.as_str() {
        "xread" | "xreadgroup" => {
            // Counted in the command statistics once, when it answers
            // (the time of this attempt, as Redis counts a blocked
            // command's last run).
            let started = ctx.cache.cmdstats.clock().now();
            let reply = if name == "xread" {
                super::streams::xread(ctx, args)
            } else {
                super::xgroups::readgroup_reply(ctx, args, retry)
            };
            match reply {
                Reply::NilArray => None,
                Reply::Error(_) if retry && name == "xread" => None,
                reply => {
                    if let Some(spec) = super::lookup(&args[0]) {
                        let error = reply.is_error().then(|| super::error_text(&reply));
                        let ticks = ctx.cache.cmdstats.clock().now().wrapping_sub(started);
                        ctx.cache.cmdstats.ran(spec, error, ticks);
                        if !reply.is_error() && spec.name == "xreadgroup" {
                            super::touch_written(ctx, spec, args);
                        }
                    }
                    Some(reply)
                }
            }
        }
        "blmove" | "brpoplpush" => {
            // A source of another type answers WRONGTYPE at first; later
            // the client keeps waiting (a destination of another type
            // always answers WRONGTYPE, and nothing moves).
            if retry {
                match run(ctx, &[Bytes::from_static(b"type"), args[1].clone()]) {
                    Reply::Simple(t) if t == "list" => {}
                    _ => return None,
                }
            }
            let mut inner = vec![Bytes::from_static(b"lmove")];
            if name == "blmove" {
                inner.extend_from_slice(&args[1..5]);
            } else {
                inner.extend_from_slice(&args[1..3]);
                inner.push(Bytes::from_static(b"right"));
                inner.push(Bytes::from_static(b"left"));
            }
            match run(ctx, &inner) {
                Reply::Nil => None,
                other => Some(other),
            }
        }
        "blpop" | "brpop" => {
            let pop = if name == "blpop" { "lpop" } else { "rpop" };
            for key in &wait.keys {
                match run(ctx, &[Bytes::from_static(pop.as_bytes()), key.clone()]) {
                    Reply::Nil => continue,
                    Reply::Bulk(v) => {
                        return Some(Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Bulk(v)]));
                    }
                    Reply::Error(_) if retry => continue,
                    other => return Some(other),
                }
            }
            None
        }
        "bzpopmin" | "bzpopmax" => {
            let pop = if name == "bzpopmin" {
                "zpopmin"
            } else {
                "zpopmax"
            };
            for key in &wait.keys {
                match run(ctx, &[Bytes::from_static(pop.as_bytes()), key.clone()]) {
                    Reply::Array(items) if items.is_empty() => continue,
                    Reply::Array(mut items) => {
                        items.insert(0, Reply::Bulk(key.clone()));
                        return Some(Reply::Array(items));
                    }
                    Reply::Error(_) if retry => continue,
                    other => return Some(other),
                }
            }
            None
        }
        _ => {
            // BLMPOP/BZMPOP: the non-blocking form without the timeout.
            let inner = if name == "blmpop" { "lmpop" } else { "zmpop" };
            let mut inner_args = Vec::with_capacity(args.len() - 1);
            inner_args.push(Bytes::from_static(inner.as_bytes()));
            inner_args.extend_from_slice(&args[2..]);
            match run(ctx, &inner_args) {
                Reply::NilArray => None,
                Reply::Error(_) if retry => None,
                other => Some(other),
            }
        }
    }
}

/// The table's handler for the blocking commands: what they answer where
/// they cannot block (inside EXEC, on the native protocol).
pub fn handler(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    try_serve(ctx, args, false).unwrap_or_else(|| timeout_reply(args))
}

/// Whether CLIENT UNBLOCK's optional argument asks for an error.
///
/// # Errors
/// A word other than TIMEOUT or ERROR.
pub fn unblock_mode(arg: Option<&Bytes>) -> Result<bool, Reply> {
    match arg {
        None => Ok(false),
        Some(a) if is(a, "timeout") => Ok(false),
        Some(a) if is(a, "error") => Ok(true),
        Some(_) => Err(Reply::err(
            "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(timeout_arg(b"0").unwrap(), None);
        assert_eq!(timeout_arg(b"0.5").unwrap(), Some(500));
        assert_eq!(timeout_arg(b"2").unwrap(), Some(2000));
        assert_eq!(
            timeout_arg(b"-1").unwrap_err(),
            Reply::err("ERR timeout is negative")
        );
        assert_eq!(
            timeout_arg(b"abc").unwrap_err(),
            Reply::err("ERR timeout is not a float or out of range")
        );
        assert!(timeout_arg(b"inf").is_err());
    }
}
