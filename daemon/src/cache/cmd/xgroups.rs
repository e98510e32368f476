//! Consumer group commands: XGROUP (CREATE SETID DESTROY CREATECONSUMER
//! DELCONSUMER HELP), XREADGROUP, XACK, with Redis 7.0's replies and
//! error texts. XPENDING, XCLAIM and XAUTOCLAIM are in [`super::xclaim`],
//! XINFO in [`super::xinfo`].

use bytes::Bytes;

use super::streams::{change, entry_reply, id_arg, id_reply, parse_read, read, streams_reply};
use super::{Ctx, int_arg, is};
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Entry, Value};
use crate::cache::stream::{Group, Stream, StreamId};

pub(super) fn text(arg: &[u8]) -> String {
    super::lossy(arg, 256)
}

/// Publishes a stream keyspace event from a handler: the consumer
/// events depend on whether the consumer existed, which the reply does
/// not tell [`super::events`].
pub(super) fn notify(ctx: &Ctx<'_>, event: &'static str, key: &[u8]) {
    let flags = ctx.cache.params.notify_flags();
    if flags != 0 {
        super::events::notify(
            ctx.cache,
            flags,
            crate::cache::notify::STREAM,
            event,
            ctx.client.db,
            key,
        );
    }
}

/// Whether `group` of the stream has a consumer named `consumer`.
pub(super) fn has_consumer(s: &Stream, group: &[u8], consumer: &[u8]) -> bool {
    s.groups
        .get(group)
        .is_some_and(|g| g.consumers.contains_key(consumer))
}

pub(super) fn nogroup(key: &[u8], group: &[u8]) -> Reply {
    Reply::error(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        text(key),
        text(group)
    ))
}

/// Checks a container's subcommand arity: Redis's `'xgroup|help'` error.
pub(super) fn sub_arity(args: &[Bytes]) -> Result<(), Reply> {
    let Some(spec) = super::lookup(&args[0]) else {
        return Ok(());
    };
    if let Some(sub) = spec.subcommand(&args[1])
        && !super::arity_ok(sub.arity, args.len())
    {
        return Err(super::wrong_arity(&format!("{}|{}", spec.name, sub.name)));
    }
    Ok(())
}

fn unknown_sub(args: &[Bytes]) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        text(&args[1]),
        String::from_utf8_lossy(&args[0]).to_uppercase()
    ))
}

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Print this help.",
];

/// A HELP reply from its lines.
pub(super) fn help(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Simple((*l).into())).collect())
}

fn entries_read_arg(arg: &[u8]) -> Result<Option<u64>, Reply> {
    match int_arg(arg)? {
        -1 => Ok(None),
        n if n < 0 => Err(Reply::err(
            "ERR value for ENTRIESREAD must be positive or -1",
        )),
        n => Ok(Some(n as u64)),
    }
}

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP …
pub(super) fn xgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(xgroup_inner(ctx, args))
}

fn xgroup_inner(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    sub_arity(args)?;
    let op = &args[1];
    if is(op, "help") {
        return Ok(help(XGROUP_HELP));
    }
    let known = [
        "create",
        "setid",
        "destroy",
        "createconsumer",
        "delconsumer",
    ];
    if args.len() < 4 || !known.iter().any(|k| is(op, k)) {
        return Err(unknown_sub(args));
    }
    let (key, name) = (&args[2], &args[3]);
    let mut mkstream = false;
    let mut entries_read = None;
    if is(op, "create") {
        let mut i = 5;
        while i < args.len() {
            if is(&args[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if is(&args[i], "entriesread") && i + 1 < args.len() {
                entries_read = entries_read_arg(&args[i + 1])?;
                i += 2;
            } else {
                return Err(unknown_sub(args));
            }
        }
    }
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let exists = read(&mut shard, key, ctx)?.is_some();
    if !(exists || (is(op, "create") && mkstream)) {
        return Err(Reply::err(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    let needs_group = is(op, "setid") || is(op, "createconsumer") || is(op, "delconsumer");
    if exists && needs_group {
        let has = read(&mut shard, key, ctx)?.is_some_and(|s| s.groups.contains_key(&name[..]));
        if !has {
            return Err(Reply::error(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                text(name),
                text(key)
            )));
        }
    }
    if is(op, "create") {
        let id = if &args[4][..] == b"$" {
            None
        } else {
            Some(id_arg(&args[4], 0, true)?)
        };
        if !exists {
            shard.insert(key, Entry::new(Value::Stream(Box::default())), now);
        }
        let done = change(&mut shard, key, now, |s| {
            if s.groups.contains_key(&name[..]) {
                return false;
            }
            let group = Group {
                last_id: id.unwrap_or(s.last_id),
                entries_read,
                ..Group::default()
            };
            s.groups.insert(name[..].into(), group);
            true
        })?;
        return if done == Some(true) {
            Ok(Reply::ok())
        } else {
            Err(Reply::err("BUSYGROUP Consumer Group name already exists"))
        };
    }
    if is(op, "setid") {
        let id = if &args[4][..] == b"$" {
            None
        } else {
            Some(id_arg(&args[4], 0, false)?)
        };
        if args.len() == 7 {
            if !is(&args[5], "entriesread") {
                return Err(Reply::err(errors::SYNTAX));
            }
            entries_read = entries_read_arg(&args[6])?;
        } else if args.len() != 5 {
            return Err(unknown_sub(args));
        }
        change(&mut shard, key, now, |s| {
            let last = s.last_id;
            if let Some(g) = s.groups.get_mut(&name[..]) {
                g.last_id = id.unwrap_or(last);
                g.entries_read = entries_read;
            }
        })?;
        return Ok(Reply::ok());
    }
    if is(op, "destroy") {
        if args.len() != 4 {
            return Err(unknown_sub(args));
        }
        let removed = change(&mut shard, key, now, |s| {
            s.groups.remove(&name[..]).is_some()
        })?;
        return Ok(Reply::Integer(i64::from(removed == Some(true))));
    }
    if args.len() != 5 {
        return Err(unknown_sub(args));
    }
    let consumer = &args[4][..];
    let existed = read(&mut shard, key, ctx)?.is_some_and(|s| has_consumer(s, name, consumer));
    let out = change(&mut shard, key, now, |s| {
        let Some(g) = s.groups.get_mut(&name[..]) else {
            return 0;
        };
        if is(op, "createconsumer") {
            if g.consumers.contains_key(consumer) {
                return 0;
            }
            g.consumers.insert(
                consumer.into(),
                crate::cache::stream::Consumer {
                    seen_time: now,
                    ..Default::default()
                },
            );
            1
        } else {
            let Some(c) = g.consumers.remove(consumer) else {
                return 0;
            };
            for id in &c.pending {
                g.pel.remove(id);
            }
            c.pending.len() as i64
        }
    })?;
    drop(shard);
    if is(op, "createconsumer") && !existed {
        notify(ctx, "xgroup-createconsumer", key);
    } else if is(op, "delconsumer") && existed {
        notify(ctx, "xgroup-delconsumer", key);
    }
    Ok(Reply::Integer(out.unwrap_or(0)))
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds]
/// [NOACK] STREAMS key [key ...] id [id ...]
pub(super) fn xreadgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(readgroup(ctx, args, false))
}

/// XREADGROUP's reply; on a blocked client's `retry`, a stream or group
/// that went away answers Redis's unblocking errors.
pub fn readgroup_reply(ctx: &mut Ctx<'_>, args: &[Bytes], retry: bool) -> Reply {
    super::reply(readgroup(ctx, args, retry))
}

fn readgroup(ctx: &mut Ctx<'_>, args: &[Bytes], retry: bool) -> Result<Reply, Reply> {
    let parsed = parse_read(args, true)?;
    let Some((group, consumer)) = &parsed.group else {
        return Err(Reply::err(errors::SYNTAX));
    };
    // Check every key, group and ID before serving any.
    let mut ids = Vec::with_capacity(parsed.streams.len());
    for (key, id) in &parsed.streams {
        let mut shard = ctx.db().lock_key(key);
        let found = match read(&mut shard, key, ctx) {
            Err(_) | Ok(None) if retry => {
                return Err(Reply::err("UNBLOCKED the stream key no longer exists"));
            }
            Err(e) => return Err(e),
            Ok(s) => s.map(|s| s.groups.contains_key(&group[..])),
        };
        if found != Some(true) {
            if retry {
                return Err(Reply::err(
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                ));
            }
            return Err(Reply::error(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                text(key),
                text(group)
            )));
        }
        ids.push(match &id[..] {
            b"$" => {
                return Err(Reply::err(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            b">" => None,
            _ => Some(id_arg(id, 0, true)?),
        });
    }
    let now = ctx.now_ms;
    let count = if parsed.count == 0 {
        usize::MAX
    } else {
        parsed.count
    };
    let mut items = Vec::new();
    for ((key, _), id) in parsed.streams.iter().zip(ids) {
        let mut shard = ctx.db().lock_key(key);
        let served = change(&mut shard, key, now, |s| {
            let had = has_consumer(s, group, consumer);
            let served = serve_group(s, group, consumer, id, count, parsed.noack, now);
            (served, !had && has_consumer(s, group, consumer))
        })?;
        drop(shard);
        if let Some((served, created)) = served {
            if created {
                notify(ctx, "xgroup-createconsumer", key);
            }
            if let Some(entries) = served {
                items.push((key.clone(), entries));
            }
        }
    }
    Ok(streams_reply(ctx, items))
}

/// Serves one stream of an XREADGROUP: the consumer's history after
/// `after`, or (`None`: `>`) entries past the group's last ID. `None`
/// when `>` finds nothing new.
fn serve_group(
    s: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    after: Option<StreamId>,
    count: usize,
    noack: bool,
    now: u64,
) -> Option<Reply> {
    let last = s.groups.get(group)?.last_id;
    if after.is_none() && s.last_entry().is_none_or(|(max, _)| max <= last) {
        return None;
    }
    let g = s.groups.get_mut(group)?;
    g.consumers.entry(consumer.into()).or_default().seen_time = now;
    if let Some(after) = after {
        // History: the consumer's own pending entries.
        let Some(start) = after.next() else {
            return Some(Reply::Array(Vec::new()));
        };
        let ids: Vec<StreamId> = g.consumers[consumer]
            .pending
            .range(start..)
            .take(count)
            .copied()
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match s.get(id) {
                Some(fields) => {
                    out.push(entry_reply(id, fields));
                    if let Some(nack) = s.groups.get_mut(group).and_then(|g| g.pel.get_mut(&id)) {
                        nack.delivery_time = now;
                        nack.delivery_count += 1;
                    }
                }
                None => out.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
            }
        }
        return Some(Reply::Array(out));
    }
    let start = last.next()?;
    let delivered: Vec<(StreamId, Reply)> = s
        .range(start, StreamId::MAX, false)
        .take(count)
        .map(|(id, f)| (id, entry_reply(id, f)))
        .collect();
    let mut out = Vec::with_capacity(delivered.len());
    for (id, reply) in delivered {
        s.advance_group(group, id);
        if !noack && let Some(g) = s.groups.get_mut(group) {
            let nack = g.assign(id, consumer, now);
            nack.delivery_time = now;
            nack.delivery_count = 1;
        }
        out.push(reply);
    }
    Some(Reply::Array(out))
}

/// XACK key group id [id ...]
pub(super) fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(xack_inner(ctx, args))
}

fn xack_inner(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    let (key, group) = (&args[1], &args[2]);
    let mut shard = ctx.db().lock_key(key);
    let has = read(&mut shard, key, ctx)?.is_some_and(|s| s.groups.contains_key(&group[..]));
    if !has {
        return Ok(Reply::Integer(0));
    }
    let mut ids = Vec::with_capacity(args.len() - 3);
    for arg in &args[3..] {
        ids.push(id_arg(arg, 0, true)?);
    }
    let acked = change(&mut shard, key, ctx.now_ms, |s| {
        s.groups
            .get_mut(&group[..])
            .map_or(0, |g| ids.iter().filter(|id| g.ack(**id)).count())
    })?;
    Ok(Reply::Integer(acked.unwrap_or(0) as i64))
}
