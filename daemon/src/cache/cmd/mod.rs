//! Command execution: an argument vector in, a [`Reply`] out, with the
//! semantics, replies and error texts of Redis 7's documentation.
//!
//! The table [`COMMANDS`] gives each command its arity (Redis's convention:
//! `n` exactly, `-n` at least n, counting the name) and flags; arity and
//! memory checks happen here, once, before the handler runs. Commands that
//! need the connection (pub/sub, AUTH, QUIT, RESET) are answered by the
//! RESP connection and only listed here for COMMAND and arity checks.
//!
//! Handlers live by data type: [`strings`], [`keys`], [`hashes`],
//! [`lists`], [`server`]. Nothing here does I/O; the clock comes in as
//! `now_ms`.

mod hashes;
mod keys;
mod lists;
mod server;
mod strings;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::Cache;
use super::reply::{Reply, errors};
use super::store::{Entry, Shard, Value};

/// Per-connection state that commands read or change.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The connection id (CLIENT ID).
    pub id: u64,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// Whether HELLO 3 switched the connection to RESP3.
    pub resp3: bool,
    /// CLIENT SETINFO LIB-NAME / LIB-VER.
    pub lib: (Option<Bytes>, Option<Bytes>),
}

/// What a command needs: the cache, the client, and the time.
pub struct Ctx<'a> {
    /// The cache.
    pub cache: &'a Cache,
    /// The calling connection's state.
    pub client: &'a mut Client,
    /// Now, in ms since the epoch.
    pub now_ms: u64,
}

/// Command flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads only.
    Read,
    /// Writes, never adds memory.
    Write,
    /// Writes and may add memory: refused (or evicts) over the limit.
    DenyOom,
    /// Connection or server administration.
    Admin,
    /// Pub/sub and connection commands answered by the connection itself.
    Conn,
}

type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Reply;

/// One command's entry in the table.
pub struct Spec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n` exactly, `-n` at least `n` (name included).
    pub arity: i32,
    /// What it does.
    pub kind: Kind,
    /// First key position, last key position (-1 = last arg), step.
    pub keys: (i32, i32, i32),
    handler: Handler,
}

const fn spec(
    name: &'static str,
    arity: i32,
    kind: Kind,
    keys: (i32, i32, i32),
    handler: Handler,
) -> Spec {
    Spec {
        name,
        arity,
        kind,
        keys,
        handler,
    }
}

const K1: (i32, i32, i32) = (1, 1, 1);
const KALL: (i32, i32, i32) = (1, -1, 1);
const K0: (i32, i32, i32) = (0, 0, 0);

fn by_connection(_: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    // Reached only if a transport forgot to intercept the command.
    Reply::error(format!(
        "ERR '{}' is not available here",
        String::from_utf8_lossy(&args[0]).to_lowercase()
    ))
}

/// Every command, for dispatch and COMMAND.
pub static COMMANDS: &[Spec] = &[
    spec("get", 2, Kind::Read, K1, strings::get),
    spec("set", -3, Kind::DenyOom, K1, strings::set),
    spec("setnx", 3, Kind::DenyOom, K1, strings::setnx),
    spec("setex", 4, Kind::DenyOom, K1, strings::setex),
    spec("psetex", 4, Kind::DenyOom, K1, strings::psetex),
    spec("getdel", 2, Kind::Write, K1, strings::getdel),
    spec("getex", -2, Kind::Write, K1, strings::getex),
    spec("getset", 3, Kind::DenyOom, K1, strings::getset),
    spec("mget", -2, Kind::Read, KALL, strings::mget),
    spec("mset", -3, Kind::DenyOom, (1, -1, 2), strings::mset),
    spec("msetnx", -3, Kind::DenyOom, (1, -1, 2), strings::msetnx),
    spec("incr", 2, Kind::DenyOom, K1, strings::incr),
    spec("decr", 2, Kind::DenyOom, K1, strings::decr),
    spec("incrby", 3, Kind::DenyOom, K1, strings::incrby),
    spec("decrby", 3, Kind::DenyOom, K1, strings::decrby),
    spec("incrbyfloat", 3, Kind::DenyOom, K1, strings::incrbyfloat),
    spec("append", 3, Kind::DenyOom, K1, strings::append),
    spec("strlen", 2, Kind::Read, K1, strings::strlen),
    spec("getrange", 4, Kind::Read, K1, strings::getrange),
    spec("substr", 4, Kind::Read, K1, strings::getrange),
    spec("setrange", 4, Kind::DenyOom, K1, strings::setrange),
    spec("del", -2, Kind::Write, KALL, keys::del),
    spec("unlink", -2, Kind::Write, KALL, keys::del),
    spec("exists", -2, Kind::Read, KALL, keys::exists),
    spec("expire", -3, Kind::Write, K1, keys::expire),
    spec("pexpire", -3, Kind::Write, K1, keys::pexpire),
    spec("expireat", -3, Kind::Write, K1, keys::expireat),
    spec("pexpireat", -3, Kind::Write, K1, keys::pexpireat),
    spec("expiretime", 2, Kind::Read, K1, keys::expiretime),
    spec("pexpiretime", 2, Kind::Read, K1, keys::pexpiretime),
    spec("persist", 2, Kind::Write, K1, keys::persist),
    spec("ttl", 2, Kind::Read, K1, keys::ttl),
    spec("pttl", 2, Kind::Read, K1, keys::pttl),
    spec("keys", 2, Kind::Read, K0, keys::keys),
    spec("scan", -2, Kind::Read, K0, keys::scan),
    spec("dbsize", 1, Kind::Read, K0, keys::dbsize),
    spec("flushdb", -1, Kind::Write, K0, keys::flush),
    spec("flushall", -1, Kind::Write, K0, keys::flush),
    spec("type", 2, Kind::Read, K1, keys::type_of),
    spec("rename", 3, Kind::Write, (1, 2, 1), keys::rename),
    spec("renamenx", 3, Kind::Write, (1, 2, 1), keys::renamenx),
    spec("randomkey", 1, Kind::Read, K0, keys::randomkey),
    spec("touch", -2, Kind::Read, KALL, keys::exists),
    spec("hset", -4, Kind::DenyOom, K1, hashes::hset),
    spec("hmset", -4, Kind::DenyOom, K1, hashes::hmset),
    spec("hsetnx", 4, Kind::DenyOom, K1, hashes::hsetnx),
    spec("hget", 3, Kind::Read, K1, hashes::hget),
    spec("hmget", -3, Kind::Read, K1, hashes::hmget),
    spec("hgetall", 2, Kind::Read, K1, hashes::hgetall),
    spec("hdel", -3, Kind::Write, K1, hashes::hdel),
    spec("hexists", 3, Kind::Read, K1, hashes::hexists),
    spec("hlen", 2, Kind::Read, K1, hashes::hlen),
    spec("hincrby", 4, Kind::DenyOom, K1, hashes::hincrby),
    spec("hkeys", 2, Kind::Read, K1, hashes::hkeys),
    spec("hvals", 2, Kind::Read, K1, hashes::hvals),
    spec("hstrlen", 3, Kind::Read, K1, hashes::hstrlen),
    spec("lpush", -3, Kind::DenyOom, K1, lists::lpush),
    spec("rpush", -3, Kind::DenyOom, K1, lists::rpush),
    spec("lpop", -2, Kind::Write, K1, lists::lpop),
    spec("rpop", -2, Kind::Write, K1, lists::rpop),
    spec("llen", 2, Kind::Read, K1, lists::llen),
    spec("lrange", 4, Kind::Read, K1, lists::lrange),
    spec("lindex", 3, Kind::Read, K1, lists::lindex),
    spec("ping", -1, Kind::Admin, K0, server::ping),
    spec("echo", 2, Kind::Admin, K0, server::echo),
    spec("select", 2, Kind::Admin, K0, server::select),
    spec("info", -1, Kind::Admin, K0, server::info),
    spec("config", -2, Kind::Admin, K0, server::config),
    spec("hello", -1, Kind::Admin, K0, server::hello),
    spec("client", -2, Kind::Admin, K0, server::client),
    spec("command", -1, Kind::Admin, K0, server::command),
    spec("time", 1, Kind::Admin, K0, server::time),
    spec("lastsave", 1, Kind::Admin, K0, server::lastsave),
    spec("auth", -2, Kind::Conn, K0, by_connection),
    spec("quit", -1, Kind::Conn, K0, by_connection),
    spec("reset", 1, Kind::Conn, K0, by_connection),
    spec("subscribe", -2, Kind::Conn, K0, by_connection),
    spec("unsubscribe", -1, Kind::Conn, K0, by_connection),
    spec("psubscribe", -2, Kind::Conn, K0, by_connection),
    spec("punsubscribe", -1, Kind::Conn, K0, by_connection),
    spec("publish", 3, Kind::Conn, K0, by_connection),
    spec("pubsub", -2, Kind::Conn, K0, by_connection),
];

/// Finds a command by name, in any case.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    // foldhash rather than SipHash: this runs once per command.
    type Table = HashMap<&'static [u8], &'static Spec, foldhash::fast::FixedState>;
    static TABLE: OnceLock<Table> = OnceLock::new();
    // GET and SET, most of all requests, skip the hash table.
    if name.len() == 3 {
        if name.eq_ignore_ascii_case(b"get") {
            return Some(&COMMANDS[0]);
        }
        if name.eq_ignore_ascii_case(b"set") {
            return Some(&COMMANDS[1]);
        }
    }
    let table = TABLE.get_or_init(|| COMMANDS.iter().map(|s| (s.name.as_bytes(), s)).collect());
    let mut buf = [0u8; 16];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    table.get(&*lower).copied()
}

/// Checks an argument count against a Redis arity.
pub fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    if arity >= 0 {
        argc == i64::from(arity)
    } else {
        argc >= -i64::from(arity)
    }
}

/// `ERR wrong number of arguments for 'get' command`.
pub fn wrong_arity(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// Redis 7's unknown-command error, args quoted up to 128 bytes in all.
pub fn unknown_command(args: &[Bytes]) -> Reply {
    let mut text = format!(
        "ERR unknown command '{}', with args beginning with: ",
        lossy(&args[0], 128)
    );
    // As Redis: keep adding quoted args while the list is under 128 bytes,
    // each cut to what is left of the 128.
    let mut list = String::new();
    for arg in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        let shown = lossy(arg, 128 - list.len());
        list.push('\'');
        list.push_str(&shown);
        list.push_str("' ");
    }
    text.push_str(&list);
    Reply::error(text)
}

/// Up to `max` bytes as text; Redis sanitizes newlines out of errors.
pub(crate) fn lossy(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).replace(['\r', '\n'], " ")
}

/// Executes one command. Never panics on any input: arguments are
/// checked before use and every index is bounds-checked.
pub fn execute(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(name) = args.first() else {
        return Reply::err("ERR empty command");
    };
    let mut reply = None;
    if execute_into(ctx, lookup(name), args, &mut reply) {
        ctx.cache.stats.commands.fetch_add(1, Ordering::Relaxed);
    }
    reply.expect("execute_into always replies")
}

/// Where [`execute_into`] puts a reply: an encoder can write the common
/// replies straight into its output without building a [`Reply`].
pub trait Sink {
    /// Any reply; `resp3` is the client's protocol after the command.
    fn reply(&mut self, reply: Reply, resp3: bool);

    /// A bulk string or nil (GET's answer), written without a copy.
    fn bulk_or_nil(&mut self, bytes: Option<&[u8]>, resp3: bool) {
        self.reply(Reply::bulk_or_nil(bytes), resp3);
    }
}

impl Sink for Option<Reply> {
    fn reply(&mut self, reply: Reply, _: bool) {
        *self = Some(reply);
    }
}

/// [`execute`] for a transport that looked the command up already
/// (`spec`, from [`lookup`] of `args[0]`; `args` is not empty) and counts
/// commands itself: the reply goes to `sink`, and the result says
/// whether the command counts as executed (passed the lookup and the
/// arity check), which the caller adds to `stats.commands`.
pub fn execute_into(
    ctx: &mut Ctx<'_>,
    spec: Option<&'static Spec>,
    args: &[Bytes],
    sink: &mut impl Sink,
) -> bool {
    let Some(spec) = spec else {
        sink.reply(unknown_command(args), ctx.client.resp3);
        return false;
    };
    if !arity_ok(spec.arity, args.len()) {
        sink.reply(wrong_arity(spec.name), ctx.client.resp3);
        return false;
    }
    if spec.kind == Kind::DenyOom && ctx.cache.store.make_room(ctx.now_ms).is_err() {
        sink.reply(Reply::err(errors::OOM), ctx.client.resp3);
        return true;
    }
    if spec.name == "get" {
        strings::get_into(ctx, &args[1], sink);
        return true;
    }
    let reply = (spec.handler)(ctx, args);
    sink.reply(reply, ctx.client.resp3);
    true
}

// ---- helpers shared by the handlers ----

/// Parses a 64-bit integer the way Redis's `string2ll` does: no spaces, no
/// `+`, no leading zeros.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    match digits {
        [b'0'] if digits.len() == bytes.len() => return Some(0),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// An integer argument, or the standard error.
pub fn int_arg(bytes: &[u8]) -> Result<i64, Reply> {
    parse_i64(bytes).ok_or(Reply::err(errors::NOT_INTEGER))
}

/// Parses a float like Redis's `string2ld`: no spaces, not NaN.
pub fn parse_f64(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("nan") {
        return None;
    }
    text.parse::<f64>().ok()
}

/// Formats a float like Redis's human format: shortest round-trip digits,
/// no exponent, no trailing `.0`.
pub fn format_f64(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let text = format!("{value}");
    if text == "-0" { "0".into() } else { text }
}

/// Whether `arg` equals `word`, ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A live string value, `Ok(None)` when missing, WRONGTYPE otherwise.
pub fn read_str<'s>(
    shard: &'s mut Shard,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'s [u8]>, Reply> {
    match shard.get(key, now_ms) {
        None => Ok(None),
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => Err(Reply::err(errors::WRONGTYPE)),
    }
}

/// Flattens a Result whose both sides are replies.
pub fn reply(result: Result<Reply, Reply>) -> Reply {
    result.unwrap_or_else(|e| e)
}

#[cfg(test)]
pub(crate) mod tests;
