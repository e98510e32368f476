//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS and XINFO
//! HELP, with Redis 7.0's fields (`entries-read` and `lag` as 7.0
//! computes them, see [`Stream::lag`]).

use bytes::Bytes;

use super::streams::{entry_reply, id_reply, read};
use super::xgroups::{help, sub_arity};
use super::{Ctx, int_arg, is};
use crate::cache::reply::{Reply, errors};
use crate::cache::stream::{Group, Stream};

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Print this help.",
];

fn field(name: &'static str, value: Reply) -> (Reply, Reply) {
    (Reply::text(name), value)
}

fn opt_int(n: Option<u64>) -> Reply {
    n.map_or(Reply::Nil, |n| Reply::Integer(n as i64))
}

/// XINFO CONSUMERS|GROUPS|STREAM|HELP …
pub(super) fn xinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(xinfo_inner(ctx, args))
}

fn xinfo_inner(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    sub_arity(args)?;
    let op = &args[1];
    if is(op, "help") {
        return Ok(help(XINFO_HELP));
    }
    let known = ["consumers", "groups", "stream"];
    if args.len() < 3 || !known.iter().any(|k| is(op, k)) {
        return Err(Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
            super::lossy(op, 128)
        )));
    }
    let key = &args[2];
    let now = ctx.now_ms;
    let mut shard = ctx.db().lock_key(key);
    let s = read(&mut shard, key, ctx)?.ok_or(Reply::err(errors::NO_SUCH_KEY))?;
    if is(op, "consumers") {
        let g = s.groups.get(&args[3][..]).ok_or_else(|| {
            Reply::error(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                super::lossy(&args[3], 256),
                super::lossy(key, 256)
            ))
        })?;
        return Ok(Reply::Array(
            g.consumers
                .iter()
                .map(|(name, c)| {
                    Reply::Map(vec![
                        field("name", Reply::bulk(name)),
                        field("pending", Reply::Integer(c.pending.len() as i64)),
                        field(
                            "idle",
                            Reply::Integer(now.saturating_sub(c.seen_time) as i64),
                        ),
                    ])
                })
                .collect(),
        ));
    }
    if is(op, "groups") {
        return Ok(Reply::Array(
            s.groups
                .iter()
                .map(|(name, g)| {
                    Reply::Map(vec![
                        field("name", Reply::bulk(name)),
                        field("consumers", Reply::Integer(g.consumers.len() as i64)),
                        field("pending", Reply::Integer(g.pel.len() as i64)),
                        field("last-delivered-id", id_reply(g.last_id)),
                        field("entries-read", opt_int(g.entries_read)),
                        field("lag", opt_int(s.lag(g))),
                    ])
                })
                .collect(),
        ));
    }
    // STREAM key [FULL [COUNT count]]
    let rest = &args[3..];
    if rest.is_empty() {
        return Ok(summary(s));
    }
    if !is(&rest[0], "full") {
        return Err(Reply::err(errors::SYNTAX));
    }
    let mut count = 10usize;
    if rest.len() > 1 {
        if rest.len() != 3 || !is(&rest[1], "count") {
            return Err(Reply::err(errors::SYNTAX));
        }
        count = int_arg(&rest[2])?.max(0) as usize;
    }
    if count == 0 {
        count = usize::MAX;
    }
    Ok(full(s, count))
}

fn head(s: &Stream) -> Vec<(Reply, Reply)> {
    vec![
        field("length", Reply::Integer(s.len() as i64)),
        field("radix-tree-keys", Reply::Integer(s.node_count() as i64)),
        field(
            "radix-tree-nodes",
            Reply::Integer((s.node_count() * 2 + 1) as i64),
        ),
        field("last-generated-id", id_reply(s.last_id)),
        field("max-deleted-entry-id", id_reply(s.max_deleted)),
        field("entries-added", Reply::Integer(s.entries_added as i64)),
        field("recorded-first-entry-id", id_reply(s.first_id)),
    ]
}

fn summary(s: &Stream) -> Reply {
    let mut out = head(s);
    out.push(field("groups", Reply::Integer(s.groups.len() as i64)));
    out.push(field(
        "first-entry",
        s.first_entry()
            .map_or(Reply::Nil, |(id, f)| entry_reply(id, f)),
    ));
    out.push(field(
        "last-entry",
        s.last_entry()
            .map_or(Reply::Nil, |(id, f)| entry_reply(id, f)),
    ));
    Reply::Map(out)
}

fn full(s: &Stream, count: usize) -> Reply {
    let mut out = head(s);
    out.push(field(
        "entries",
        Reply::Array(
            s.entries()
                .take(count)
                .map(|(id, f)| entry_reply(id, f))
                .collect(),
        ),
    ));
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| full_group(s, name, g, count))
        .collect();
    out.push(field("groups", Reply::Array(groups)));
    Reply::Map(out)
}

fn full_group(s: &Stream, name: &[u8], g: &Group, count: usize) -> Reply {
    let pending = g
        .pel
        .iter()
        .take(count)
        .map(|(id, n)| {
            Reply::Array(vec![
                id_reply(*id),
                Reply::bulk(&n.consumer),
                Reply::Integer(n.delivery_time as i64),
                Reply::Integer(n.delivery_count as i64),
            ])
        })
        .collect();
    let consumers = g
        .consumers
        .iter()
        .map(|(cname, c)| {
            let pending = c
                .pending
                .iter()
                .take(count)
                .filter_map(|id| {
                    let n = g.pel.get(id)?;
                    Some(Reply::Array(vec![
                        id_reply(*id),
                        Reply::Integer(n.delivery_time as i64),
                        Reply::Integer(n.delivery_count as i64),
                    ]))
                })
                .collect();
            Reply::Map(vec![
                field("name", Reply::bulk(cname)),
                field("seen-time", Reply::Integer(c.seen_time as i64)),
                field("pel-count", Reply::Integer(c.pending.len() as i64)),
                field("pending", Reply::Array(pending)),
            ])
        })
        .collect();
    Reply::Map(vec![
        field("name", Reply::bulk(name)),
        field("last-delivered-id", id_reply(g.last_id)),
        field("entries-read", opt_int(g.entries_read)),
        field("lag", opt_int(s.lag(g))),
        field("pel-count", Reply::Integer(g.pel.len() as i64)),
        field("pending", Reply::Array(pending)),
        field("consumers", Reply::Array(consumers)),
    ])
}
