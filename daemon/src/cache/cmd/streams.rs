//! Stream commands without consumer groups: XADD XLEN XRANGE XREVRANGE
//! XDEL XTRIM XSETID XREAD, over [`Stream`], with Redis 7.0's syntax,
//! replies and error texts. The groups' commands are in
//! [`super::xgroups`], XINFO in [`super::xinfo`]; both share the helpers
//! here.

use bytes::Bytes;

use super::{Ctx, int_arg, is, parse_i64};
use crate::cache::reply::{Reply, errors};
use crate::cache::store::{Entry, Shard, Value};
use crate::cache::stream::{Fields, NodeLimits, Stream, StreamId, Trim};

/// Redis's error for an ID that does not parse.
pub(super) const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const TOP_ITEM: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

/// The live stream at `key`: `Ok(None)` when missing, WRONGTYPE otherwise.
pub(super) fn read<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    ctx: &Ctx<'_>,
) -> Result<Option<&'s Stream>, Reply> {
    match shard.get(key, ctx.now_ms, ctx.access) {
        None => Ok(None),
        Some(Entry {
            value: Value::Stream(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => Err(Reply::err(errors::WRONGTYPE)),
    }
}

/// Changes the stream at `key` in place (re-accounting its size);
/// `Ok(None)` when missing, WRONGTYPE for another type.
pub(super) fn change<R>(
    shard: &mut Shard,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&mut Stream) -> R,
) -> Result<Option<R>, Reply> {
    match shard.peek(key, now) {
        None => return Ok(None),
        Some(Entry {
            value: Value::Stream(_),
            ..
        }) => {}
        Some(_) => return Err(Reply::err(errors::WRONGTYPE)),
    }
    Ok(shard
        .update(key, now, |e| match &mut e.value {
            Value::Stream(s) => Some(f(s)),
            _ => None,
        })
        .flatten())
}

/// An ID argument (`-` and `+` allowed unless `strict`).
pub(super) fn id_arg(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, Reply> {
    match arg {
        b"-" if !strict => Ok(StreamId::MIN),
        b"+" if !strict => Ok(StreamId::MAX),
        _ => StreamId::parse(arg, missing_seq, false)
            .map(|(id, _)| id)
            .ok_or(Reply::err(INVALID_ID)),
    }
}

/// An ID as a bulk string.
pub(super) fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(Bytes::from(id.to_string()))
}

/// One entry: `[id, [field, value, …]]`.
pub(super) fn entry_reply(id: StreamId, fields: &Fields) -> Reply {
    Reply::Array(vec![
        id_reply(id),
        Reply::Array(fields.iter().map(|f| Reply::bulk(f)).collect()),
    ])
}

/// The node limits from `stream-node-max-entries` / `-bytes`.
pub(super) fn node_limits(ctx: &Ctx<'_>) -> NodeLimits {
    let get = |name: &str, default: u64| {
        ctx.cache
            .params
            .get(&[name.as_bytes()])
            .first()
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    NodeLimits {
        entries: get("stream-node-max-entries", 100),
        bytes: get("stream-node-max-bytes", 4096),
    }
}

/// XADD's and XTRIM's trimming options.
struct TrimArgs {
    how: Option<Trim>,
    approx: bool,
    limit: u64,
}

/// Parses trimming options (and, for XADD, NOMKSTREAM and the ID) from
/// `args[2..]`; answers the options and the index where parsing stopped
/// (XADD: the ID's position).
fn parse_trim(ctx: &Ctx<'_>, args: &[Bytes], xadd: bool) -> Result<(TrimArgs, usize, bool), Reply> {
    let mut out = TrimArgs {
        how: None,
        approx: false,
        limit: 0,
    };
    let mut limit = None;
    let mut nomkstream = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        if xadd && &opt[..] == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if out.how.is_some() {
                return Err(Reply::err(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            out.approx = false;
            let next = &args[i + 1][..];
            if more >= 2 && (next == b"~" || next == b"=") {
                out.approx = next == b"~";
                i += 1;
            }
            let arg = &args[i + 1];
            out.how = Some(if is(opt, "maxlen") {
                let n = int_arg(arg)?;
                if n < 0 {
                    return Err(Reply::err("ERR The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(id_arg(arg, 0, true)?)
            });
            i += 2;
            continue;
        } else if is(opt, "limit") && more > 0 {
            let n = int_arg(&args[i + 1])?;
            if n < 0 {
                return Err(Reply::err("ERR The LIMIT argument must be >= 0."));
            }
            limit = Some(n as u64);
            i += 2;
            continue;
        } else if xadd && is(opt, "nomkstream") {
            nomkstream = true;
        } else if xadd {
            break;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 1;
    }
    if limit.is_some_and(|l| l > 0) && out.how.is_none() {
        return Err(Reply::err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && out.how.is_none() {
        return Err(Reply::err(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    match limit {
        Some(_) if !out.approx => {
            return Err(Reply::err(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        Some(l) => out.limit = l,
        None if out.approx => {
            let per = node_limits(ctx).entries.saturating_mul(100);
            out.limit = if per == 0 || per > 10_000 {
                10_000
            } else {
                per
            };
        }
        None => out.limit = 0,
    }
    Ok((out, i, nomkstream))
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]]
/// *|id field value [field value ...]
pub(super) fn xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(xadd_inner(ctx, args))
}

fn xadd_inner(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    let (trim, at, nomkstream) = parse_trim(ctx, args, true)?;
    let given = if at < args.len() && &args[at][..] != b"*" {
        Some(StreamId::parse(&args[at], 0, true).ok_or(Reply::err(INVALID_ID))?)
    } else {
        None
    };
    let fields = args.len().saturating_sub(at + 1);
    if fields < 2 || fields % 2 == 1 {
        return Err(super::wrong_arity("xadd"));
    }
    if let Some((id, true)) = given
        && id == StreamId::MIN
    {
        return Err(Reply::err(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = &args[1];
    let now = ctx.now_ms;
    let limits = node_limits(ctx);
    let mut shard = ctx.db().lock_key(key);
    if read(&mut shard, key, ctx)?.is_none() {
        if nomkstream {
            return Ok(Reply::Nil);
        }
        shard.insert(key, Entry::new(Value::Stream(Box::default())), now);
    }
    let fields: Fields = args[at + 1..].iter().map(|a| a[..].into()).collect();
    let result = change(&mut shard, key, now, |s| {
        if s.last_id == StreamId::MAX {
            return Err(Reply::err(
                "ERR The stream has exhausted the last possible ID, unable to add more items",
            ));
        }
        let id = match given {
            None => s.next_auto_id(now).ok_or(Reply::err(TOP_ITEM))?,
            Some((id, true)) => id,
            Some((id, false)) if id.ms == s.last_id.ms => {
                if s.last_id.seq == u64::MAX {
                    return Err(Reply::err(TOP_ITEM));
                }
                StreamId::new(id.ms, s.last_id.seq + 1)
            }
            Some((id, false)) => id,
        };
        if id <= s.last_id {
            return Err(Reply::err(TOP_ITEM));
        }
        s.append(id, fields, limits);
        if let Some(how) = trim.how {
            s.trim(how, trim.approx, trim.limit);
        }
        Ok(id_reply(id))
    })?;
    result.unwrap_or(Ok(Reply::Nil))
}

/// XLEN key
pub(super) fn xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut shard = ctx.db().lock_key(&args[1]);
    match read(&mut shard, &args[1], ctx) {
        Ok(s) => Reply::Integer(s.map_or(0, |s| s.len() as i64)),
        Err(e) => e,
    }
}

/// A range bound of XRANGE, XPENDING and XAUTOCLAIM: `-`, `+`, an ID, or
/// `(` and an ID (exclusive).
pub(super) fn bound(arg: &[u8], start: bool) -> Result<StreamId, Reply> {
    let missing = if start { 0 } else { u64::MAX };
    if arg.len() > 1 && arg[0] == b'(' {
        let id = id_arg(&arg[1..], missing, true)?;
        let stepped = if start { id.next() } else { id.prev() };
        return stepped.ok_or(Reply::err(if start {
            "ERR invalid start ID for the interval"
        } else {
            "ERR invalid end ID for the interval"
        }));
    }
    id_arg(arg, missing, false)
}

/// XRANGE key start end [COUNT count]
pub(super) fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(range(ctx, args, false))
}

/// XREVRANGE key end start [COUNT count]
pub(super) fn xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(range(ctx, args, true))
}

fn range(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> Result<Reply, Reply> {
    let (a, b) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = bound(a, true)?;
    let end = bound(b, false)?;
    let mut count: Option<usize> = None;
    let mut i = 4;
    while i < args.len() {
        if is(&args[i], "count") && i + 1 < args.len() {
            count = Some(int_arg(&args[i + 1])?.max(0) as usize);
            i += 2;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
    }
    let mut shard = ctx.db().lock_key(&args[1]);
    let Some(s) = read(&mut shard, &args[1], ctx)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == Some(0) {
        return Ok(Reply::NilArray);
    }
    Ok(Reply::Array(
        s.range(start, end, rev)
            .take(count.unwrap_or(usize::MAX))
            .map(|(id, f)| entry_reply(id, f))
            .collect(),
    ))
}

/// XDEL key id [id ...]
pub(super) fn xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut ids = Vec::with_capacity(args.len() - 2);
    for arg in &args[2..] {
        match id_arg(arg, 0, true) {
            Ok(id) => ids.push(id),
            Err(e) => return e,
        }
    }
    let mut shard = ctx.db().lock_key(&args[1]);
    match change(&mut shard, &args[1], ctx.now_ms, |s| s.delete(&ids)) {
        Ok(n) => Reply::Integer(n.unwrap_or(0) as i64),
        Err(e) => e,
    }
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub(super) fn xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    {
        let mut shard = ctx.db().lock_key(key);
        match read(&mut shard, key, ctx) {
            Ok(None) => return Reply::Integer(0),
            Err(e) => return e,
            Ok(Some(_)) => {}
        }
    }
    let (trim, at, _) = match parse_trim(ctx, args, false) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if at != args.len() {
        return Reply::err(errors::SYNTAX);
    }
    let Some(how) = trim.how else {
        return Reply::err(errors::SYNTAX);
    };
    let mut shard = ctx.db().lock_key(key);
    match change(&mut shard, key, ctx.now_ms, |s| {
        s.trim(how, trim.approx, trim.limit)
    }) {
        Ok(n) => Reply::Integer(n.unwrap_or(0) as i64),
        Err(e) => e,
    }
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
pub(super) fn xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(xsetid_inner(ctx, args))
}

fn xsetid_inner(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    let id = id_arg(&args[2], 0, true)?;
    let (mut added, mut max_deleted) = (None, None);
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(&args[i], "entriesadded") && more > 0 {
            let n = int_arg(&args[i + 1])?;
            if n < 0 {
                return Err(Reply::err("ERR entries_added must be positive"));
            }
            added = Some(n as u64);
        } else if is(&args[i], "maxdeletedid") && more > 0 {
            let d = id_arg(&args[i + 1], 0, true)?;
            if id < d {
                return Err(Reply::err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            max_deleted = Some(d);
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 2;
    }
    let mut shard = ctx.db().lock_key(&args[1]);
    let result = change(&mut shard, &args[1], ctx.now_ms, |s| {
        if id < s.max_deleted {
            return Err(Reply::err(
                "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
            ));
        }
        if let Some((last, _)) = s.last_entry() {
            if id < last {
                return Err(Reply::err(
                    "ERR The ID specified in XSETID is smaller than the target stream top item",
                ));
            }
            if added.is_some_and(|n| (s.len() as u64) > n) {
                return Err(Reply::err(
                    "ERR The entries_added specified in XSETID is smaller than the target stream length",
                ));
            }
        }
        s.last_id = id;
        if let Some(n) = added {
            s.entries_added = n;
        }
        if let Some(d) = max_deleted.filter(|d| *d != StreamId::MIN) {
            s.max_deleted = d;
        }
        Ok(Reply::ok())
    })?;
    result.unwrap_or(Err(Reply::err(errors::NO_SUCH_KEY)))
}

/// What XREAD and XREADGROUP parse.
pub(super) struct ReadArgs {
    /// COUNT (0: no limit).
    pub count: usize,
    /// BLOCK, in ms (0: for ever).
    pub block: Option<u64>,
    /// GROUP name consumer.
    pub group: Option<(Bytes, Bytes)>,
    /// NOACK.
    pub noack: bool,
    /// The keys and their IDs (as given: `$`, `>`, an ID).
    pub streams: Vec<(Bytes, Bytes)>,
}

/// Parses XREAD's or XREADGROUP's options (`group`: which command).
pub(super) fn parse_read(args: &[Bytes], group: bool) -> Result<ReadArgs, Reply> {
    let name = if group { "xreadgroup" } else { "xread" };
    let mut out = ReadArgs {
        count: 0,
        block: None,
        group: None,
        noack: false,
        streams: Vec::new(),
    };
    let mut streams_at = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        if is(opt, "block") && more > 0 {
            i += 1;
            let ms = parse_i64(&args[i])
                .ok_or(Reply::err("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Reply::err("ERR timeout is negative"));
            }
            out.block = Some(ms as u64);
        } else if is(opt, "count") && more > 0 {
            i += 1;
            out.count = int_arg(&args[i])?.max(0) as usize;
        } else if is(opt, "streams") && more > 0 {
            streams_at = Some(i + 1);
            break;
        } else if is(opt, "group") && more >= 2 {
            if !group {
                return Err(Reply::err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 2;
        } else if is(opt, "noack") {
            if !group {
                return Err(Reply::err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.noack = true;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 1;
    }
    let Some(at) = streams_at else {
        return Err(Reply::err(errors::SYNTAX));
    };
    let rest = &args[at..];
    if !rest.len().is_multiple_of(2) {
        return Err(Reply::error(format!(
            "ERR Unbalanced '{name}' list of streams: for each stream key an ID or '$' must be specified."
        )));
    }
    if group && out.group.is_none() {
        return Err(Reply::err("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = rest.len() / 2;
    out.streams = (0..n)
        .map(|j| (rest[j].clone(), rest[n + j].clone()))
        .collect();
    Ok(out)
}

/// The keys XREAD/XREADGROUP name (after STREAMS), for WATCH and the
/// blocking registry.
pub fn read_keys(args: &[Bytes]) -> Vec<Bytes> {
    let group = args.first().is_some_and(|a| is(a, "xreadgroup"));
    parse_read(args, group)
        .map(|r| r.streams.into_iter().map(|(k, _)| k).collect())
        .unwrap_or_default()
}

/// Whether an XREAD/XREADGROUP command has a BLOCK option.
pub fn read_blocks(args: &[Bytes]) -> bool {
    let group = args.first().is_some_and(|a| is(a, "xreadgroup"));
    parse_read(args, group).is_ok_and(|r| r.block.is_some())
}

/// A reply of streams: `[[key, entries], …]` in RESP2, a map in RESP3;
/// nil when empty.
pub(super) fn streams_reply(ctx: &Ctx<'_>, items: Vec<(Bytes, Reply)>) -> Reply {
    if items.is_empty() {
        return Reply::NilArray;
    }
    if ctx.client.resp3 {
        Reply::Map(
            items
                .into_iter()
                .map(|(k, v)| (Reply::Bulk(k), v))
                .collect(),
        )
    } else {
        Reply::Array(
            items
                .into_iter()
                .map(|(k, v)| Reply::Array(vec![Reply::Bulk(k), v]))
                .collect(),
        )
    }
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
/// (never blocks here: the RESP connection blocks, see [`super::bpop`]).
pub(super) fn xread(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    super::reply(xread_inner(ctx, args))
}

fn xread_inner(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply, Reply> {
    let parsed = parse_read(args, false)?;
    let mut after = Vec::with_capacity(parsed.streams.len());
    for (key, id) in &parsed.streams {
        let mut shard = ctx.db().lock_key(key);
        let s = read(&mut shard, key, ctx)?;
        after.push(match &id[..] {
            b"$" => s.map_or(StreamId::MIN, |s| s.last_id),
            b">" => {
                return Err(Reply::err(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            _ => id_arg(id, 0, true)?,
        });
    }
    let mut items = Vec::new();
    for ((key, _), gt) in parsed.streams.iter().zip(after) {
        let mut shard = ctx.db().lock_key(key);
        let Some(s) = read(&mut shard, key, ctx)? else {
            continue;
        };
        let Some(start) = gt.next() else { continue };
        let entries: Vec<Reply> = s
            .range(start, StreamId::MAX, false)
            .take(if parsed.count == 0 {
                usize::MAX
            } else {
                parsed.count
            })
            .map(|(id, f)| entry_reply(id, f))
            .collect();
        if !entries.is_empty() {
            items.push((key.clone(), Reply::Array(entries)));
        }
    }
    Ok(streams_reply(ctx, items))
}

/// Replaces XREAD's `$` IDs by the streams' last IDs now, so a blocked
/// XREAD waits for entries added after it was called.
pub fn pin_last_ids(ctx: &mut Ctx<'_>, args: &mut [Bytes]) {
    let Ok(parsed) = parse_read(args, false) else {
        return;
    };
    let n = parsed.streams.len();
    let base = args.len() - n;
    for (j, (key, id)) in parsed.streams.iter().enumerate() {
        if &id[..] != b"$" {
            continue;
        }
        let mut shard = ctx.db().lock_key(key);
        let last = match read(&mut shard, key, ctx) {
            Ok(Some(s)) => s.last_id,
            _ => StreamId::MIN,
        };
        args[base + j] = Bytes::from(last.to_string());
    }
}
