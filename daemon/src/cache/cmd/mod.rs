//! Command execution: an argument vector in, a [`Reply`] out, with the
//! semantics, replies and error texts of Redis 7's documentation.
//!
//! The table [`COMMANDS`] gives each command its arity (Redis's convention:
//! `n` exactly, `-n` at least n, counting the name), flags and
//! documentation ([`Doc`]: syntax, summary, group — what COMMAND DOCS and
//! the `agora cache` prompt's `help` and hints show; [`syntax`] parses it);
//! arity and memory checks happen here, once, before the handler runs. Commands that
//! need the connection (pub/sub, AUTH, QUIT, RESET) are answered by the
//! RESP connection and only listed here for COMMAND and arity checks.
//!
//! Handlers live by data type: [`strings`], [`keys`], [`hashes`],
//! [`lists`], [`server`]. Nothing here does I/O; the clock comes in as
//! `now_ms`.

mod bitfield;
mod bits;
pub mod bpop;
mod dump;
pub mod events;
pub mod fuzz;
mod hashes;
mod keys;
pub mod keyspec;
mod lcs;
mod listedit;
mod lists;
pub mod script;
mod server;
mod sets;
mod sort;
pub mod stats;
pub mod streams;
mod strings;
pub mod syntax;
pub mod ticks;
mod tracking;
mod typed;
mod xclaim;
pub mod xgroups;
mod xinfo;
mod zsets;

pub use server::{INFO_MORE, INFO_SECTIONS};

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::Cache;
use super::reply::{Reply, errors};
use super::store::{Access, DATABASES, Db, Entry, Shard, Value};

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
    /// The selected database (SELECT; 0 on a new connection).
    pub db: usize,
    /// Inside MULTI: the commands queued for EXEC.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command failed to queue: EXEC will answer EXECABORT.
    pub multi_error: bool,
    /// WATCHed keys: database, key, and its expiry when watched.
    pub watched: Vec<(usize, Bytes, u64)>,
    /// Set when a watched key is written (shared with the registry).
    pub dirty: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// CLIENT REPLY: which replies the connection sends.
    pub reply: ReplyMode,
    /// A RESP connection's `ip:port` (MONITOR's lines; `None` for a
    /// native session or a script).
    pub addr: Option<std::sync::Arc<str>>,
    /// The client of a Lua script's `redis.call` (MONITOR shows `lua`).
    pub script: bool,
    /// A script declared `allow-oom`: its writes skip the memory check.
    pub allow_oom: bool,
    /// CLIENT TRACKING ON's mode (the registry holds the rest).
    pub tracking: Option<crate::cache::tracking::Mode>,
    /// CLIENT CACHING yes (OPTIN) or no (OPTOUT), for the next command.
    pub caching: bool,
    /// Commands run by the server on the client's behalf (a blocked
    /// pop's attempts): not shown to MONITOR, not tracked.
    pub internal: bool,
    /// Set by FLUSHALL and FLUSHDB, alone, inside EXEC or in a script:
    /// a replicating cluster node then sends its flush to the replicas
    /// (`cluster::replicate::Replication::flushed`) and clears it.
    pub flushed: bool,
}

impl Client {
    /// Where MONITOR says this client's commands come from.
    pub fn origin(&self) -> crate::cache::monitor::Origin<'_> {
        use crate::cache::monitor::Origin;
        match &self.addr {
            _ if self.script => Origin::Lua,
            Some(addr) => Origin::Addr(addr),
            None => Origin::Native(self.id),
        }
    }
}

/// Shows a command to MONITOR, when anyone monitors (one atomic load
/// otherwise).
#[inline]
pub fn monitor(cache: &Cache, client: &Client, args: &[Bytes]) {
    if cache.monitors.active() && !client.internal {
        cache.monitors.feed(client.db, client.origin(), args);
    }
}

/// CLIENT REPLY's modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplyMode {
    /// Every reply (ON).
    #[default]
    On,
    /// None (OFF).
    Off,
    /// Not this command's reply nor the next one's (SKIP, just set).
    Skip,
    /// Not the next reply, then ON again.
    SkipNext,
}

/// What a command needs: the cache, the client, the time, and whether it
/// counts.
pub struct Ctx<'a> {
    /// The cache.
    pub cache: &'a Cache,
    /// The calling connection's state.
    pub client: &'a mut Client,
    /// Now, in ms since the epoch.
    pub now_ms: u64,
    /// Whether the command counts in INFO's statistics and refreshes the
    /// LRU/LFU data of the keys it reads ([`Access::Counted`], the norm),
    /// or does neither ([`Access::Quiet`]: a monitoring tool looking).
    pub access: Access,
}

impl<'a> Ctx<'a> {
    /// The client's selected database.
    pub fn db(&self) -> &'a Db {
        self.cache.store.db(self.client.db)
    }
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
    /// Scripts and functions ([`script`]): run holding the exclusive side
    /// of the transaction gate, like EXEC (the RESP connection runs them
    /// on a blocking thread).
    Script,
}

type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Reply;

/// A command group, named as Redis's documentation names it (`help
/// @string`, COMMAND DOCS's `group`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Commands on any key: DEL, EXPIRE, SCAN, …
    Generic,
    /// Strings and counters.
    String,
    /// Hashes.
    Hash,
    /// Lists.
    List,
    /// Sets.
    Set,
    /// Sorted sets.
    SortedSet,
    /// Publish/subscribe.
    PubSub,
    /// The connection: PING, HELLO, CLIENT, …
    Connection,
    /// The server: INFO, CONFIG, COMMAND, …
    Server,
    /// Scripting and functions.
    Scripting,
    /// MULTI/EXEC and WATCH.
    Transactions,
    /// Streams.
    Stream,
}

impl Group {
    /// Every group, in the order `help` lists them.
    pub const ALL: [Group; 12] = [
        Group::Generic,
        Group::String,
        Group::Hash,
        Group::List,
        Group::Set,
        Group::SortedSet,
        Group::Stream,
        Group::PubSub,
        Group::Connection,
        Group::Server,
        Group::Scripting,
        Group::Transactions,
    ];

    /// Redis's name: `generic`, `string`, `hash`, `list`, `pubsub`,
    /// `connection`, `server`.
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::Hash => "hash",
            Group::List => "list",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::PubSub => "pubsub",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Scripting => "scripting",
            Group::Transactions => "transactions",
            Group::Stream => "stream",
        }
    }
}

/// What `help` (the `agora cache` prompt) and COMMAND DOCS say about a
/// command or subcommand.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    /// The arguments after the name in redis-cli's notation (`key value
    /// [NX|XX]`; see [`syntax`]), empty when there are none.
    pub syntax: &'static str,
    /// One line: what it does.
    pub summary: &'static str,
    /// Its group.
    pub group: Group,
    /// The Redis version that introduced it (COMMAND DOCS's `since`).
    pub since: &'static str,
}

/// A subcommand of a container command (`CONFIG GET`).
pub struct Sub {
    /// Lower-case name (`get`).
    pub name: &'static str,
    /// Redis arity, counting the container's name and the subcommand's.
    pub arity: i32,
    /// Its documentation (the group is the container's).
    pub doc: Doc,
}

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
    /// Syntax, summary, group, since.
    pub doc: Doc,
    /// A container's subcommands (CONFIG, CLIENT, COMMAND, PUBSUB); the
    /// container's own syntax is the choice of their names.
    pub subcommands: &'static [Sub],
    handler: Handler,
}

impl Spec {
    /// The subcommand named `name`, in any case.
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static Sub> {
        self.subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    }

    const fn doc(
        mut self,
        group: Group,
        since: &'static str,
        syntax: &'static str,
        summary: &'static str,
    ) -> Spec {
        self.doc = Doc {
            syntax,
            summary,
            group,
            since,
        };
        self
    }

    const fn subs(mut self, subcommands: &'static [Sub]) -> Spec {
        self.subcommands = subcommands;
        self
    }
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
        doc: Doc {
            syntax: "",
            summary: "",
            group: Group::Generic,
            since: "",
        },
        subcommands: &[],
        handler,
    }
}

const fn sub(
    name: &'static str,
    arity: i32,
    group: Group,
    since: &'static str,
    syntax: &'static str,
    summary: &'static str,
) -> Sub {
    Sub {
        name,
        arity,
        doc: Doc {
            syntax,
            summary,
            group,
            since,
        },
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

use Group::{
    Connection as CONN, Generic as GEN, Hash as HASH, List as LIST, PubSub as PUBSUB,
    Scripting as SCRIPTING, Server as SERVER, Set as SET, SortedSet as ZSET, Stream as STREAM,
    String as STR, Transactions as TRANSACTIONS,
};

/// Every command, for dispatch, COMMAND and `help`. Each entry: name,
/// arity, kind, key positions, handler; then group, the Redis version
/// that introduced it, its syntax and a one-line summary (a unit test
/// checks every entry has them and that the syntax agrees with the arity).
pub static COMMANDS: &[Spec] = &[
    spec("get", 2, Kind::Read, K1, strings::get).doc(STR, "1.0.0", "key", "Get the value of a key"),
    spec("set", -3, Kind::DenyOom, K1, strings::set).doc(
        STR,
        "1.0.0",
        "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]",
        "Set the string value of a key",
    ),
    spec("setnx", 3, Kind::DenyOom, K1, strings::setnx).doc(
        STR,
        "1.0.0",
        "key value",
        "Set the value of a key, only if the key does not exist",
    ),
    spec("setex", 4, Kind::DenyOom, K1, strings::setex).doc(
        STR,
        "2.0.0",
        "key seconds value",
        "Set the value and expiration of a key",
    ),
    spec("psetex", 4, Kind::DenyOom, K1, strings::psetex).doc(
        STR,
        "2.6.0",
        "key milliseconds value",
        "Set the value and expiration in milliseconds of a key",
    ),
    spec("getdel", 2, Kind::Write, K1, strings::getdel).doc(
        STR,
        "6.2.0",
        "key",
        "Get the value of a key and delete the key",
    ),
    spec("getex", -2, Kind::Write, K1, strings::getex).doc(
        STR,
        "6.2.0",
        "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]",
        "Get the value of a key and optionally set its expiration",
    ),
    spec("getset", 3, Kind::DenyOom, K1, strings::getset).doc(
        STR,
        "1.0.0",
        "key value",
        "Set the string value of a key and return its old value",
    ),
    spec("mget", -2, Kind::Read, KALL, strings::mget).doc(
        STR,
        "1.0.0",
        "key [key ...]",
        "Get the values of all the given keys",
    ),
    spec("mset", -3, Kind::DenyOom, (1, -1, 2), strings::mset).doc(
        STR,
        "1.0.1",
        "key value [key value ...]",
        "Set multiple keys to multiple values",
    ),
    spec("msetnx", -3, Kind::DenyOom, (1, -1, 2), strings::msetnx).doc(
        STR,
        "1.0.1",
        "key value [key value ...]",
        "Set multiple keys to multiple values, only if none of the keys exist",
    ),
    spec("incr", 2, Kind::DenyOom, K1, strings::incr).doc(
        STR,
        "1.0.0",
        "key",
        "Increment the integer value of a key by one",
    ),
    spec("decr", 2, Kind::DenyOom, K1, strings::decr).doc(
        STR,
        "1.0.0",
        "key",
        "Decrement the integer value of a key by one",
    ),
    spec("incrby", 3, Kind::DenyOom, K1, strings::incrby).doc(
        STR,
        "1.0.0",
        "key increment",
        "Increment the integer value of a key by the given amount",
    ),
    spec("decrby", 3, Kind::DenyOom, K1, strings::decrby).doc(
        STR,
        "1.0.0",
        "key decrement",
        "Decrement the integer value of a key by the given number",
    ),
    spec("incrbyfloat", 3, Kind::DenyOom, K1, strings::incrbyfloat).doc(
        STR,
        "2.6.0",
        "key increment",
        "Increment the float value of a key by the given amount",
    ),
    spec("append", 3, Kind::DenyOom, K1, strings::append).doc(
        STR,
        "2.0.0",
        "key value",
        "Append a value to a key",
    ),
    spec("strlen", 2, Kind::Read, K1, strings::strlen).doc(
        STR,
        "2.2.0",
        "key",
        "Get the length of the value stored in a key",
    ),
    spec("getrange", 4, Kind::Read, K1, strings::getrange).doc(
        STR,
        "2.4.0",
        "key start end",
        "Get a substring of the string stored at a key",
    ),
    spec("substr", 4, Kind::Read, K1, strings::getrange).doc(
        STR,
        "1.0.0",
        "key start end",
        "Get a substring of the string stored at a key (GETRANGE)",
    ),
    spec("setrange", 4, Kind::DenyOom, K1, strings::setrange).doc(
        STR,
        "2.2.0",
        "key offset value",
        "Overwrite part of a string at key starting at the specified offset",
    ),
    spec("setbit", 4, Kind::DenyOom, K1, bits::setbit).doc(
        STR,
        "2.2.0",
        "key offset value",
        "Sets or clears the bit at offset in the string value stored at key",
    ),
    spec("getbit", 3, Kind::Read, K1, bits::getbit).doc(
        STR,
        "2.2.0",
        "key offset",
        "Returns the bit value at offset in the string value stored at key",
    ),
    spec("bitcount", -2, Kind::Read, K1, bits::bitcount).doc(
        STR,
        "2.6.0",
        "key [start end [BYTE|BIT]]",
        "Count set bits in a string",
    ),
    spec("bitpos", -3, Kind::Read, K1, bits::bitpos).doc(
        STR,
        "2.8.7",
        "key bit [start [end [BYTE|BIT]]]",
        "Find first bit set or clear in a string",
    ),
    spec("bitop", -4, Kind::DenyOom, (2, -1, 1), bits::bitop).doc(
        STR,
        "2.6.0",
        "<AND|OR|XOR|NOT> destkey key [key ...]",
        "Perform bitwise operations between strings",
    ),
    spec("bitfield", -2, Kind::DenyOom, K1, bitfield::bitfield).doc(
        STR,
        "3.2.0",
        "key [GET encoding offset] [OVERFLOW <WRAP|SAT|FAIL>] [SET encoding offset value] [INCRBY encoding offset increment]",
        "Perform arbitrary bitfield integer operations on strings (subcommands repeat, in any order)",
    ),
    spec("bitfield_ro", -2, Kind::Read, K1, bitfield::bitfield_ro).doc(
        STR,
        "6.0.0",
        "key [GET encoding offset [GET encoding offset ...]]",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
    ),
    spec("lcs", -3, Kind::Read, (1, 2, 1), lcs::lcs).doc(
        STR,
        "7.0.0",
        "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]",
        "Find longest common substring",
    ),
    spec("del", -2, Kind::Write, KALL, keys::del).doc(GEN, "1.0.0", "key [key ...]", "Delete keys"),
    spec("unlink", -2, Kind::Write, KALL, keys::del).doc(
        GEN,
        "4.0.0",
        "key [key ...]",
        "Delete keys (the same as DEL here: memory is freed at once)",
    ),
    spec("exists", -2, Kind::Read, KALL, keys::exists).doc(
        GEN,
        "1.0.0",
        "key [key ...]",
        "Count how many of the given keys exist",
    ),
    spec("expire", -3, Kind::Write, K1, keys::expire).doc(
        GEN,
        "1.0.0",
        "key seconds [NX|XX|GT|LT]",
        "Set a key's time to live in seconds",
    ),
    spec("pexpire", -3, Kind::Write, K1, keys::pexpire).doc(
        GEN,
        "2.6.0",
        "key milliseconds [NX|XX|GT|LT]",
        "Set a key's time to live in milliseconds",
    ),
    spec("expireat", -3, Kind::Write, K1, keys::expireat).doc(
        GEN,
        "1.2.0",
        "key unix-time-seconds [NX|XX|GT|LT]",
        "Set the expiration for a key as a UNIX timestamp",
    ),
    spec("pexpireat", -3, Kind::Write, K1, keys::pexpireat).doc(
        GEN,
        "2.6.0",
        "key unix-time-milliseconds [NX|XX|GT|LT]",
        "Set the expiration for a key as a UNIX timestamp in milliseconds",
    ),
    spec("expiretime", 2, Kind::Read, K1, keys::expiretime).doc(
        GEN,
        "7.0.0",
        "key",
        "Get the expiration Unix timestamp for a key",
    ),
    spec("pexpiretime", 2, Kind::Read, K1, keys::pexpiretime).doc(
        GEN,
        "7.0.0",
        "key",
        "Get the expiration Unix timestamp for a key in milliseconds",
    ),
    spec("persist", 2, Kind::Write, K1, keys::persist).doc(
        GEN,
        "2.2.0",
        "key",
        "Remove the expiration from a key",
    ),
    spec("ttl", 2, Kind::Read, K1, keys::ttl).doc(
        GEN,
        "1.0.0",
        "key",
        "Get the time to live for a key in seconds",
    ),
    spec("pttl", 2, Kind::Read, K1, keys::pttl).doc(
        GEN,
        "2.6.0",
        "key",
        "Get the time to live for a key in milliseconds",
    ),
    spec("keys", 2, Kind::Read, K0, keys::keys).doc(
        GEN,
        "1.0.0",
        "pattern",
        "Find all keys matching the given glob pattern",
    ),
    spec("scan", -2, Kind::Read, K0, keys::scan).doc(
        GEN,
        "2.8.0",
        "cursor [MATCH pattern] [COUNT count] [TYPE type]",
        "Incrementally iterate the key space",
    ),
    spec("dbsize", 1, Kind::Read, K0, keys::dbsize).doc(
        SERVER,
        "1.0.0",
        "",
        "Return the number of keys",
    ),
    spec("flushdb", -1, Kind::Write, K0, keys::flushdb).doc(
        SERVER,
        "1.0.0",
        "[ASYNC|SYNC]",
        "Remove all keys from the current database",
    ),
    spec("flushall", -1, Kind::Write, K0, keys::flushall).doc(
        SERVER,
        "1.0.0",
        "[ASYNC|SYNC]",
        "Remove all keys from all databases",
    ),
    spec("swapdb", 3, Kind::Write, K0, keys::swapdb).doc(
        SERVER,
        "4.0.0",
        "index1 index2",
        "Swaps two Redis databases",
    ),
    spec("move", 3, Kind::Write, K1, keys::move_key).doc(
        GEN,
        "1.0.0",
        "key db",
        "Move a key to another database",
    ),
    spec("copy", -3, Kind::DenyOom, (1, 2, 1), keys::copy).doc(
        GEN,
        "6.2.0",
        "source destination [DB destination-db] [REPLACE]",
        "Copy a key",
    ),
    spec("type", 2, Kind::Read, K1, keys::type_of).doc(
        GEN,
        "1.0.0",
        "key",
        "Determine the type stored at key",
    ),
    spec("rename", 3, Kind::Write, (1, 2, 1), keys::rename).doc(
        GEN,
        "1.0.0",
        "key newkey",
        "Rename a key",
    ),
    spec("renamenx", 3, Kind::Write, (1, 2, 1), keys::renamenx).doc(
        GEN,
        "1.0.0",
        "key newkey",
        "Rename a key, only if the new key does not exist",
    ),
    spec("randomkey", 1, Kind::Read, K0, keys::randomkey).doc(
        GEN,
        "1.0.0",
        "",
        "Return a random key from the key space",
    ),
    spec("touch", -2, Kind::Read, KALL, keys::touch).doc(
        GEN,
        "3.2.1",
        "key [key ...]",
        "Alter the last access time of keys; returns how many exist",
    ),
    spec("dump", 2, Kind::Read, K1, dump::dump).doc(
        GEN,
        "2.6.0",
        "key",
        "Return a serialized version of the value stored at the specified key (agora's format)",
    ),
    spec("restore", -4, Kind::DenyOom, K1, dump::restore).doc(
        GEN,
        "2.6.0",
        "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]",
        "Create a key using the provided serialized value, previously obtained using DUMP",
    ),
    spec("sort", -2, Kind::DenyOom, K1, sort::sort).doc(
        GEN,
        "1.0.0",
        "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination]",
        "Sort the elements in a list, set or sorted set",
    ),
    spec("sort_ro", -2, Kind::Read, K1, sort::sort_ro).doc(
        GEN,
        "7.0.0",
        "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA]",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT",
    ),
    spec("object", -2, Kind::Read, (2, 2, 1), keys::object)
        .doc(
            GEN,
            "2.2.3",
            "<ENCODING|FREQ|IDLETIME|REFCOUNT>",
            "A container for object introspection commands",
        )
        .subs(&[
            sub(
                "encoding",
                3,
                GEN,
                "2.2.3",
                "key",
                "Redis's name for the encoding Redis would give the value",
            ),
            sub("freq", 3, GEN, "4.0.0", "key", "Get the logarithmic access frequency counter of a key (LFU policy)"),
            sub("idletime", 3, GEN, "2.2.3", "key", "Get the seconds since the key was last accessed (LRU policies)"),
            sub("refcount", 3, GEN, "2.2.3", "key", "Get the reference count of a key's value (always 1)"),
        ]),
    spec("memory", -2, Kind::Read, K0, keys::memory)
        .doc(SERVER, "4.0.0", "<HELP|USAGE>", "A container for memory diagnostics commands")
        .subs(&[
            sub("help", 2, SERVER, "4.0.0", "", "Show helpful text about the different subcommands"),
            sub(
                "usage",
                -3,
                SERVER,
                "4.0.0",
                "key [SAMPLES count]",
                "Estimate the memory usage of a key",
            ),
        ]),
    spec("hset", -4, Kind::DenyOom, K1, hashes::hset).doc(
        HASH,
        "2.0.0",
        "key field value [field value ...]",
        "Set the string value of hash fields",
    ),
    spec("hmset", -4, Kind::DenyOom, K1, hashes::hmset).doc(
        HASH,
        "2.0.0",
        "key field value [field value ...]",
        "Set multiple hash fields to multiple values",
    ),
    spec("hsetnx", 4, Kind::DenyOom, K1, hashes::hsetnx).doc(
        HASH,
        "2.0.0",
        "key field value",
        "Set the value of a hash field, only if the field does not exist",
    ),
    spec("hget", 3, Kind::Read, K1, hashes::hget).doc(
        HASH,
        "2.0.0",
        "key field",
        "Get the value of a hash field",
    ),
    spec("hmget", -3, Kind::Read, K1, hashes::hmget).doc(
        HASH,
        "2.0.0",
        "key field [field ...]",
        "Get the values of all the given hash fields",
    ),
    spec("hgetall", 2, Kind::Read, K1, hashes::hgetall).doc(
        HASH,
        "2.0.0",
        "key",
        "Get all the fields and values in a hash",
    ),
    spec("hdel", -3, Kind::Write, K1, hashes::hdel).doc(
        HASH,
        "2.0.0",
        "key field [field ...]",
        "Delete one or more hash fields",
    ),
    spec("hexists", 3, Kind::Read, K1, hashes::hexists).doc(
        HASH,
        "2.0.0",
        "key field",
        "Determine if a hash field exists",
    ),
    spec("hlen", 2, Kind::Read, K1, hashes::hlen).doc(
        HASH,
        "2.0.0",
        "key",
        "Get the number of fields in a hash",
    ),
    spec("hincrby", 4, Kind::DenyOom, K1, hashes::hincrby).doc(
        HASH,
        "2.0.0",
        "key field increment",
        "Increment the integer value of a hash field by the given number",
    ),
    spec("hkeys", 2, Kind::Read, K1, hashes::hkeys).doc(
        HASH,
        "2.0.0",
        "key",
        "Get all the fields in a hash",
    ),
    spec("hvals", 2, Kind::Read, K1, hashes::hvals).doc(
        HASH,
        "2.0.0",
        "key",
        "Get all the values in a hash",
    ),
    spec("hstrlen", 3, Kind::Read, K1, hashes::hstrlen).doc(
        HASH,
        "3.2.0",
        "key field",
        "Get the length of the value of a hash field",
    ),
    spec("lpush", -3, Kind::DenyOom, K1, lists::lpush).doc(
        LIST,
        "1.0.0",
        "key element [element ...]",
        "Prepend one or multiple elements to a list",
    ),
    spec("rpush", -3, Kind::DenyOom, K1, lists::rpush).doc(
        LIST,
        "1.0.0",
        "key element [element ...]",
        "Append one or multiple elements to a list",
    ),
    spec("lpop", -2, Kind::Write, K1, lists::lpop).doc(
        LIST,
        "1.0.0",
        "key [count]",
        "Remove and get the first elements in a list",
    ),
    spec("rpop", -2, Kind::Write, K1, lists::rpop).doc(
        LIST,
        "1.0.0",
        "key [count]",
        "Remove and get the last elements in a list",
    ),
    spec("lmpop", -4, Kind::Write, K0, lists::lmpop).doc(
        LIST,
        "7.0.0",
        "numkeys key [key ...] <LEFT|RIGHT> [COUNT count]",
        "Pop elements from the first non-empty list",
    ),
    spec("blpop", -3, Kind::Write, (1, -2, 1), bpop::handler).doc(
        LIST,
        "2.0.0",
        "key [key ...] timeout",
        "Remove and get the first element in a list, or block until one is available",
    ),
    spec("brpop", -3, Kind::Write, (1, -2, 1), bpop::handler).doc(
        LIST,
        "2.0.0",
        "key [key ...] timeout",
        "Remove and get the last element in a list, or block until one is available",
    ),
    spec("blmpop", -5, Kind::Write, K0, bpop::handler).doc(
        LIST,
        "7.0.0",
        "timeout numkeys key [key ...] <LEFT|RIGHT> [COUNT count]",
        "Pop elements from the first non-empty list, or block until one is available",
    ),
    spec("llen", 2, Kind::Read, K1, lists::llen).doc(
        LIST,
        "1.0.0",
        "key",
        "Get the length of a list",
    ),
    spec("lrange", 4, Kind::Read, K1, lists::lrange).doc(
        LIST,
        "1.0.0",
        "key start stop",
        "Get a range of elements from a list",
    ),
    spec("lindex", 3, Kind::Read, K1, lists::lindex).doc(
        LIST,
        "1.0.0",
        "key index",
        "Get an element from a list by its index",
    ),
    spec("lpushx", -3, Kind::DenyOom, K1, lists::lpushx).doc(
        LIST,
        "2.2.0",
        "key element [element ...]",
        "Prepend elements to a list, only if the list exists",
    ),
    spec("rpushx", -3, Kind::DenyOom, K1, lists::rpushx).doc(
        LIST,
        "2.2.0",
        "key element [element ...]",
        "Append elements to a list, only if the list exists",
    ),
    spec("linsert", 5, Kind::DenyOom, K1, listedit::linsert).doc(
        LIST,
        "2.2.0",
        "key <BEFORE|AFTER> pivot element",
        "Insert an element before or after another element in a list",
    ),
    spec("lset", 4, Kind::DenyOom, K1, listedit::lset).doc(
        LIST,
        "1.0.0",
        "key index element",
        "Set the value of an element in a list by its index",
    ),
    spec("lrem", 4, Kind::Write, K1, listedit::lrem).doc(
        LIST,
        "1.0.0",
        "key count element",
        "Remove elements from a list",
    ),
    spec("ltrim", 4, Kind::Write, K1, listedit::ltrim).doc(
        LIST,
        "1.0.0",
        "key start stop",
        "Trim a list to the specified range",
    ),
    spec("lpos", -3, Kind::Read, K1, listedit::lpos).doc(
        LIST,
        "6.0.6",
        "key element [RANK rank] [COUNT num-matches] [MAXLEN len]",
        "Return the index of matching elements on a list",
    ),
    spec("lmove", 5, Kind::DenyOom, (1, 2, 1), lists::lmove).doc(
        LIST,
        "6.2.0",
        "source destination <LEFT|RIGHT> <LEFT|RIGHT>",
        "Pop an element from a list, push it to another list and return it",
    ),
    spec("rpoplpush", 3, Kind::DenyOom, (1, 2, 1), lists::rpoplpush).doc(
        LIST,
        "1.2.0",
        "source destination",
        "Remove the last element in a list, prepend it to another list and return it",
    ),
    spec("blmove", 6, Kind::DenyOom, (1, 2, 1), bpop::handler).doc(
        LIST,
        "6.2.0",
        "source destination <LEFT|RIGHT> <LEFT|RIGHT> timeout",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
    ),
    spec("brpoplpush", 4, Kind::DenyOom, (1, 2, 1), bpop::handler).doc(
        LIST,
        "2.2.0",
        "source destination timeout",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
    ),
    spec("sadd", -3, Kind::DenyOom, K1, sets::sadd).doc(
        SET,
        "1.0.0",
        "key member [member ...]",
        "Add one or more members to a set",
    ),
    spec("srem", -3, Kind::Write, K1, sets::srem).doc(
        SET,
        "1.0.0",
        "key member [member ...]",
        "Remove one or more members from a set",
    ),
    spec("smembers", 2, Kind::Read, K1, sets::smembers).doc(
        SET,
        "1.0.0",
        "key",
        "Get all the members in a set",
    ),
    spec("sismember", 3, Kind::Read, K1, sets::sismember).doc(
        SET,
        "1.0.0",
        "key member",
        "Determine if a given value is a member of a set",
    ),
    spec("smismember", -3, Kind::Read, K1, sets::smismember).doc(
        SET,
        "6.2.0",
        "key member [member ...]",
        "Returns the membership associated with the given elements for a set",
    ),
    spec("scard", 2, Kind::Read, K1, sets::scard).doc(
        SET,
        "1.0.0",
        "key",
        "Get the number of members in a set",
    ),
    spec("spop", -2, Kind::Write, K1, sets::spop).doc(
        SET,
        "1.0.0",
        "key [count]",
        "Remove and return one or multiple random members from a set",
    ),
    spec("srandmember", -2, Kind::Read, K1, sets::srandmember).doc(
        SET,
        "1.0.0",
        "key [count]",
        "Get one or multiple random members from a set",
    ),
    spec("smove", 4, Kind::Write, (1, 2, 1), sets::smove).doc(
        SET,
        "1.0.0",
        "source destination member",
        "Move a member from one set to another",
    ),
    spec("sinter", -2, Kind::Read, KALL, sets::sinter).doc(
        SET,
        "1.0.0",
        "key [key ...]",
        "Intersect multiple sets",
    ),
    spec("sintercard", -3, Kind::Read, K0, sets::sintercard).doc(
        SET,
        "7.0.0",
        "numkeys key [key ...] [LIMIT limit]",
        "Intersect multiple sets and return the cardinality of the result",
    ),
    spec("sunion", -2, Kind::Read, KALL, sets::sunion).doc(
        SET,
        "1.0.0",
        "key [key ...]",
        "Add multiple sets",
    ),
    spec("sdiff", -2, Kind::Read, KALL, sets::sdiff).doc(
        SET,
        "1.0.0",
        "key [key ...]",
        "Subtract multiple sets",
    ),
    spec("sinterstore", -3, Kind::DenyOom, KALL, sets::sinterstore).doc(
        SET,
        "1.0.0",
        "destination key [key ...]",
        "Intersect multiple sets and store the resulting set in a key",
    ),
    spec("sunionstore", -3, Kind::DenyOom, KALL, sets::sunionstore).doc(
        SET,
        "1.0.0",
        "destination key [key ...]",
        "Add multiple sets and store the resulting set in a key",
    ),
    spec("sdiffstore", -3, Kind::DenyOom, KALL, sets::sdiffstore).doc(
        SET,
        "1.0.0",
        "destination key [key ...]",
        "Subtract multiple sets and store the resulting set in a key",
    ),
    spec("sscan", -3, Kind::Read, K1, sets::sscan).doc(
        SET,
        "2.8.0",
        "key cursor [MATCH pattern] [COUNT count]",
        "Incrementally iterate Set elements",
    ),
    spec("zadd", -4, Kind::DenyOom, K1, zsets::zadd).doc(
        ZSET,
        "1.2.0",
        "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]",
        "Add one or more members to a sorted set, or update its score if it already exists",
    ),
    spec("zrem", -3, Kind::Write, K1, zsets::zrem).doc(
        ZSET,
        "1.2.0",
        "key member [member ...]",
        "Remove one or more members from a sorted set",
    ),
    spec("zscore", 3, Kind::Read, K1, zsets::zscore).doc(
        ZSET,
        "1.2.0",
        "key member",
        "Get the score associated with the given member in a sorted set",
    ),
    spec("zmscore", -3, Kind::Read, K1, zsets::zmscore).doc(
        ZSET,
        "6.2.0",
        "key member [member ...]",
        "Get the score associated with the given members in a sorted set",
    ),
    spec("zincrby", 4, Kind::DenyOom, K1, zsets::zincrby).doc(
        ZSET,
        "1.2.0",
        "key increment member",
        "Increment the score of a member in a sorted set",
    ),
    spec("zcard", 2, Kind::Read, K1, zsets::zcard).doc(
        ZSET,
        "1.2.0",
        "key",
        "Get the number of members in a sorted set",
    ),
    spec("zcount", 4, Kind::Read, K1, zsets::zcount).doc(
        ZSET,
        "2.0.0",
        "key min max",
        "Count the members in a sorted set with scores within the given values",
    ),
    spec("zlexcount", 4, Kind::Read, K1, zsets::zlexcount).doc(
        ZSET,
        "2.8.9",
        "key min max",
        "Count the number of members in a sorted set between a given lexicographical range",
    ),
    spec("zrange", -4, Kind::Read, K1, zsets::zrange).doc(
        ZSET,
        "1.2.0",
        "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]",
        "Return a range of members in a sorted set",
    ),
    spec("zrangestore", -5, Kind::DenyOom, (1, 2, 1), zsets::zrangestore).doc(
        ZSET,
        "6.2.0",
        "dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]",
        "Store a range of members from sorted set into another key",
    ),
    spec("zrevrange", -4, Kind::Read, K1, zsets::zrevrange).doc(
        ZSET,
        "1.2.0",
        "key start stop [WITHSCORES]",
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
    ),
    spec("zrangebyscore", -4, Kind::Read, K1, zsets::zrangebyscore).doc(
        ZSET,
        "1.0.5",
        "key min max [WITHSCORES] [LIMIT offset count]",
        "Return a range of members in a sorted set, by score",
    ),
    spec("zrevrangebyscore", -4, Kind::Read, K1, zsets::zrevrangebyscore).doc(
        ZSET,
        "2.2.0",
        "key max min [WITHSCORES] [LIMIT offset count]",
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
    ),
    spec("zrangebylex", -4, Kind::Read, K1, zsets::zrangebylex).doc(
        ZSET,
        "2.8.9",
        "key min max [LIMIT offset count]",
        "Return a range of members in a sorted set, by lexicographical range",
    ),
    spec("zrevrangebylex", -4, Kind::Read, K1, zsets::zrevrangebylex).doc(
        ZSET,
        "2.8.9",
        "key max min [LIMIT offset count]",
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings",
    ),
    spec("zrank", 3, Kind::Read, K1, zsets::zrank).doc(
        ZSET,
        "2.0.0",
        "key member",
        "Determine the index of a member in a sorted set",
    ),
    spec("zrevrank", 3, Kind::Read, K1, zsets::zrevrank).doc(
        ZSET,
        "2.0.0",
        "key member",
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
    ),
    spec("zremrangebyrank", 4, Kind::Write, K1, zsets::zremrangebyrank).doc(
        ZSET,
        "2.0.0",
        "key start stop",
        "Remove all members in a sorted set within the given indexes",
    ),
    spec("zremrangebyscore", 4, Kind::Write, K1, zsets::zremrangebyscore).doc(
        ZSET,
        "1.2.0",
        "key min max",
        "Remove all members in a sorted set within the given scores",
    ),
    spec("zremrangebylex", 4, Kind::Write, K1, zsets::zremrangebylex).doc(
        ZSET,
        "2.8.9",
        "key min max",
        "Remove all members in a sorted set between the given lexicographical range",
    ),
    spec("zpopmin", -2, Kind::Write, K1, zsets::zpopmin).doc(
        ZSET,
        "5.0.0",
        "key [count]",
        "Remove and return members with the lowest scores in a sorted set",
    ),
    spec("zpopmax", -2, Kind::Write, K1, zsets::zpopmax).doc(
        ZSET,
        "5.0.0",
        "key [count]",
        "Remove and return members with the highest scores in a sorted set",
    ),
    spec("zmpop", -4, Kind::Write, K0, zsets::zmpop).doc(
        ZSET,
        "7.0.0",
        "numkeys key [key ...] <MIN|MAX> [COUNT count]",
        "Remove and return members with scores in a sorted set",
    ),
    spec("bzpopmin", -3, Kind::Write, (1, -2, 1), bpop::handler).doc(
        ZSET,
        "5.0.0",
        "key [key ...] timeout",
        "Remove and return the member with the lowest score from the first non-empty sorted set, or block",
    ),
    spec("bzpopmax", -3, Kind::Write, (1, -2, 1), bpop::handler).doc(
        ZSET,
        "5.0.0",
        "key [key ...] timeout",
        "Remove and return the member with the highest score from the first non-empty sorted set, or block",
    ),
    spec("bzmpop", -5, Kind::Write, K0, bpop::handler).doc(
        ZSET,
        "7.0.0",
        "timeout numkeys key [key ...] <MIN|MAX> [COUNT count]",
        "Remove and return members from the first non-empty sorted set, or block",
    ),
    spec("zrandmember", -2, Kind::Read, K1, zsets::zrandmember).doc(
        ZSET,
        "6.2.0",
        "key [count [WITHSCORES]]",
        "Get one or multiple random elements from a sorted set",
    ),
    spec("zunion", -3, Kind::Read, K0, zsets::zunion).doc(
        ZSET,
        "6.2.0",
        "numkeys key [key ...] [WEIGHTS weight] [AGGREGATE <SUM|MIN|MAX>] [WITHSCORES]",
        "Add multiple sorted sets (WEIGHTS takes one weight per key)",
    ),
    spec("zinter", -3, Kind::Read, K0, zsets::zinter).doc(
        ZSET,
        "6.2.0",
        "numkeys key [key ...] [WEIGHTS weight] [AGGREGATE <SUM|MIN|MAX>] [WITHSCORES]",
        "Intersect multiple sorted sets (WEIGHTS takes one weight per key)",
    ),
    spec("zdiff", -3, Kind::Read, K0, zsets::zdiff).doc(
        ZSET,
        "6.2.0",
        "numkeys key [key ...] [WITHSCORES]",
        "Subtract multiple sorted sets",
    ),
    spec("zunionstore", -4, Kind::DenyOom, K1, zsets::zunionstore).doc(
        ZSET,
        "2.0.0",
        "destination numkeys key [key ...] [WEIGHTS weight] [AGGREGATE <SUM|MIN|MAX>]",
        "Add multiple sorted sets and store the resulting sorted set in a new key",
    ),
    spec("zinterstore", -4, Kind::DenyOom, K1, zsets::zinterstore).doc(
        ZSET,
        "2.0.0",
        "destination numkeys key [key ...] [WEIGHTS weight] [AGGREGATE <SUM|MIN|MAX>]",
        "Intersect multiple sorted sets and store the resulting sorted set in a new key",
    ),
    spec("zdiffstore", -4, Kind::DenyOom, K1, zsets::zdiffstore).doc(
        ZSET,
        "6.2.0",
        "destination numkeys key [key ...]",
        "Subtract multiple sorted sets and store the resulting sorted set in a new key",
    ),
    spec("zintercard", -3, Kind::Read, K0, zsets::zintercard).doc(
        ZSET,
        "7.0.0",
        "numkeys key [key ...] [LIMIT limit]",
        "Intersect multiple sorted sets and return the cardinality of the result",
    ),
    spec("zscan", -3, Kind::Read, K1, zsets::zscan).doc(
        ZSET,
        "2.8.0",
        "key cursor [MATCH pattern] [COUNT count]",
        "Incrementally iterate sorted sets elements and associated scores",
    ),
    spec("xadd", -5, Kind::DenyOom, K1, streams::xadd).doc(
        STREAM,
        "5.0.0",
        "key [NOMKSTREAM] [<MAXLEN|MINID> [=|~] threshold [LIMIT count]] id field value [field value ...]",
        "Appends a new entry to a stream (id: * or ms-seq or ms-*)",
    ),
    spec("xlen", 2, Kind::Read, K1, streams::xlen).doc(
        STREAM,
        "5.0.0",
        "key",
        "Return the number of entries in a stream",
    ),
    spec("xrange", -4, Kind::Read, K1, streams::xrange).doc(
        STREAM,
        "5.0.0",
        "key start end [COUNT count]",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval",
    ),
    spec("xrevrange", -4, Kind::Read, K1, streams::xrevrange).doc(
        STREAM,
        "5.0.0",
        "key end start [COUNT count]",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order",
    ),
    spec("xdel", -3, Kind::Write, K1, streams::xdel).doc(
        STREAM,
        "5.0.0",
        "key id [id ...]",
        "Removes the specified entries from the stream",
    ),
    spec("xtrim", -4, Kind::Write, K1, streams::xtrim).doc(
        STREAM,
        "5.0.0",
        "key <MAXLEN|MINID> [=|~] threshold [LIMIT count]",
        "Trims the stream to (approximately if '~' is passed) a certain size",
    ),
    spec("xsetid", -3, Kind::Write, K1, streams::xsetid).doc(
        STREAM,
        "5.0.0",
        "key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]",
        "An internal command for replicating stream values",
    ),
    spec("xread", -4, Kind::Read, K0, streams::xread).doc(
        STREAM,
        "5.0.0",
        "[COUNT count] [BLOCK milliseconds] STREAMS key id",
        "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream (STREAMS takes the keys, then one ID per key). Can block.",
    ),
    spec("xreadgroup", -7, Kind::Write, K0, xgroups::xreadgroup).doc(
        STREAM,
        "5.0.0",
        "GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key id",
        "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer (STREAMS takes the keys, then one ID per key). Can block.",
    ),
    spec("xack", -4, Kind::Write, K1, xgroups::xack).doc(
        STREAM,
        "5.0.0",
        "key group id [id ...]",
        "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group",
    ),
    spec("xpending", -3, Kind::Read, K1, xclaim::xpending).doc(
        STREAM,
        "5.0.0",
        "key group [[IDLE min-idle-time] start end count [consumer]]",
        "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged",
    ),
    spec("xclaim", -6, Kind::Write, K1, xclaim::xclaim).doc(
        STREAM,
        "5.0.0",
        "key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]",
        "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer",
    ),
    spec("xautoclaim", -6, Kind::Write, K1, xclaim::xautoclaim).doc(
        STREAM,
        "6.2.0",
        "key group consumer min-idle-time start [COUNT count] [JUSTID]",
        "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer",
    ),
    spec("xgroup", -2, Kind::Write, (2, 2, 1), xgroups::xgroup)
        .doc(
            STREAM,
            "5.0.0",
            "<CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP>",
            "A container for consumer groups commands",
        )
        .subs(&[
            sub(
                "create",
                -5,
                STREAM,
                "5.0.0",
                "key group id [MKSTREAM] [ENTRIESREAD entries-read]",
                "Create a consumer group (id: an ID or $)",
            ),
            sub(
                "setid",
                -5,
                STREAM,
                "5.0.0",
                "key group id [ENTRIESREAD entries-read]",
                "Set a consumer group to an arbitrary last delivered ID value (id: an ID or $)",
            ),
            sub("destroy", 4, STREAM, "5.0.0", "key group", "Destroy a consumer group"),
            sub(
                "createconsumer",
                5,
                STREAM,
                "6.2.0",
                "key group consumer",
                "Create a consumer in a consumer group",
            ),
            sub(
                "delconsumer",
                5,
                STREAM,
                "5.0.0",
                "key group consumer",
                "Delete a consumer from a consumer group",
            ),
            sub("help", 2, STREAM, "5.0.0", "", "Show helpful text about the different subcommands"),
        ]),
    spec("xinfo", -2, Kind::Read, (2, 2, 1), xinfo::xinfo)
        .doc(
            STREAM,
            "5.0.0",
            "<CONSUMERS|GROUPS|STREAM|HELP>",
            "A container for stream introspection commands",
        )
        .subs(&[
            sub(
                "consumers",
                4,
                STREAM,
                "5.0.0",
                "key group",
                "List the consumers in a consumer group",
            ),
            sub("groups", 3, STREAM, "5.0.0", "key", "List the consumer groups of a stream"),
            sub(
                "stream",
                -3,
                STREAM,
                "5.0.0",
                "key [FULL [COUNT count]]",
                "Get information about a stream",
            ),
            sub("help", 2, STREAM, "5.0.0", "", "Show helpful text about the different subcommands"),
        ]),
    spec("hincrbyfloat", 4, Kind::DenyOom, K1, hashes::hincrbyfloat).doc(
        HASH,
        "2.6.0",
        "key field increment",
        "Increment the float value of a hash field by the given amount",
    ),
    spec("hrandfield", -2, Kind::Read, K1, hashes::hrandfield).doc(
        HASH,
        "6.2.0",
        "key [count [WITHVALUES]]",
        "Get one or multiple random fields from a hash",
    ),
    spec("save", 1, Kind::Admin, K0, server::save).doc(
        SERVER,
        "1.0.0",
        "",
        "Write the cache snapshot now (needs --cache-persist)",
    ),
    spec("bgsave", -1, Kind::Admin, K0, server::save).doc(
        SERVER,
        "1.0.0",
        "[SCHEDULE]",
        "Write the cache snapshot now (needs --cache-persist; answers once written)",
    ),
    spec("acl", -2, Kind::Admin, K0, server::acl)
        .doc(
            SERVER,
            "6.0.0",
            "<WHOAMI|USERS|CAT>",
            "A container for Access List Control commands (the default user only)",
        )
        .subs(&[
            sub("whoami", 2, SERVER, "6.0.0", "", "Return the name of the user associated to the current connection"),
            sub("users", 2, SERVER, "6.0.0", "", "List the username of all the configured ACL rules"),
            sub("cat", -2, SERVER, "6.0.0", "[categoryname]", "List the ACL categories or the commands inside a category"),
        ]),
    // ---- scripting (script/) ----
    spec("eval", -3, Kind::Script, K0, script::eval).doc(
        SCRIPTING,
        "2.6.0",
        "script numkeys [key [key ...]] [arg [arg ...]]",
        "Execute a Lua script server side",
    ),
    spec("evalsha", -3, Kind::Script, K0, script::eval).doc(
        SCRIPTING,
        "2.6.0",
        "sha1 numkeys [key [key ...]] [arg [arg ...]]",
        "Execute a Lua script server side by its SHA1 digest",
    ),
    spec("eval_ro", -3, Kind::Script, K0, script::eval).doc(
        SCRIPTING,
        "7.0.0",
        "script numkeys [key [key ...]] [arg [arg ...]]",
        "Execute a read-only Lua script server side",
    ),
    spec("evalsha_ro", -3, Kind::Script, K0, script::eval).doc(
        SCRIPTING,
        "7.0.0",
        "sha1 numkeys [key [key ...]] [arg [arg ...]]",
        "Execute a read-only Lua script server side by its SHA1 digest",
    ),
    spec("fcall", -3, Kind::Script, K0, script::fcall).doc(
        SCRIPTING,
        "7.0.0",
        "function numkeys [key [key ...]] [arg [arg ...]]",
        "Invoke a function",
    ),
    spec("fcall_ro", -3, Kind::Script, K0, script::fcall).doc(
        SCRIPTING,
        "7.0.0",
        "function numkeys [key [key ...]] [arg [arg ...]]",
        "Invoke a read-only function",
    ),
    spec("script", -2, Kind::Script, K0, script::script)
        .doc(
            SCRIPTING,
            "2.6.0",
            "<EXISTS|FLUSH|KILL|LOAD|HELP>",
            "A container for Lua scripts management commands",
        )
        .subs(&[
            sub(
                "exists",
                -3,
                SCRIPTING,
                "2.6.0",
                "sha1 [sha1 ...]",
                "Check existence of scripts in the script cache",
            ),
            sub(
                "flush",
                -2,
                SCRIPTING,
                "2.6.0",
                "[ASYNC|SYNC]",
                "Remove all the scripts from the script cache",
            ),
            sub("kill", 2, SCRIPTING, "2.6.0", "", "Kill the script currently in execution"),
            sub(
                "load",
                3,
                SCRIPTING,
                "2.6.0",
                "script",
                "Load the specified Lua script into the script cache",
            ),
            sub("help", 2, SCRIPTING, "5.0.0", "", "Show helpful text about the different subcommands"),
        ]),
    spec("function", -2, Kind::Script, K0, script::function)
        .doc(
            SCRIPTING,
            "7.0.0",
            "<LOAD|DELETE|FLUSH|LIST|KILL|STATS>",
            "A container for function commands",
        )
        .subs(&[
            sub(
                "load",
                -3,
                SCRIPTING,
                "7.0.0",
                "[REPLACE] function-code",
                "Create a function with the given arguments (name, code, description)",
            ),
            sub("delete", 3, SCRIPTING, "7.0.0", "library-name", "Delete a library and all its functions"),
            sub("flush", -2, SCRIPTING, "7.0.0", "[ASYNC|SYNC]", "Delete all functions"),
            sub(
                "list",
                -2,
                SCRIPTING,
                "7.0.0",
                "[LIBRARYNAME library-name-pattern] [WITHCODE]",
                "List information about all the functions",
            ),
            sub("kill", 2, SCRIPTING, "7.0.0", "", "Kill the function currently in execution"),
            sub("stats", 2, SCRIPTING, "7.0.0", "", "Return information about the function currently running"),
        ]),
    spec("ping", -1, Kind::Admin, K0, server::ping).doc(
        CONN,
        "1.0.0",
        "[message]",
        "Ping the server",
    ),
    spec("echo", 2, Kind::Admin, K0, server::echo).doc(
        CONN,
        "1.0.0",
        "message",
        "Echo the given string",
    ),
    spec("select", 2, Kind::Admin, K0, server::select).doc(
        CONN,
        "1.0.0",
        "index",
        "Change the selected database for the current connection",
    ),
    spec("info", -1, Kind::Admin, K0, server::info).doc(
        SERVER,
        "1.0.0",
        "[section [section ...]]",
        "Get information and statistics about the server",
    ),
    spec("config", -2, Kind::Admin, K0, server::config)
        .doc(
            SERVER,
            "2.0.0",
            "<GET|SET|RESETSTAT>",
            "A container for server configuration commands",
        )
        .subs(&[
            sub(
                "get",
                -3,
                SERVER,
                "2.0.0",
                "parameter [parameter ...]",
                "Get the values of configuration parameters (glob patterns allowed)",
            ),
            sub(
                "set",
                -4,
                SERVER,
                "2.0.0",
                "parameter value [parameter value ...]",
                "Set configuration parameters (docs/CACHE.md: which apply, which are accepted and ignored)",
            ),
            sub(
                "resetstat",
                2,
                SERVER,
                "2.0.0",
                "",
                "Reset the stats returned by INFO (accepted, does nothing)",
            ),
        ]),
    spec("hello", -1, Kind::Admin, K0, server::hello).doc(
        CONN,
        "6.0.0",
        "[protover [AUTH username password] [SETNAME clientname]]",
        "Handshake: choose RESP2 or RESP3, optionally authenticate and name the connection",
    ),
    spec("client", -2, Kind::Admin, K0, server::client)
        .doc(
            CONN,
            "2.4.0",
            "<ID|REPLY|GETNAME|SETNAME|SETINFO|INFO|LIST|KILL|NO-EVICT|UNBLOCK|NO-TOUCH>",
            "A container for client connection commands",
        )
        .subs(&[
            sub("id", 2, CONN, "5.0.0", "", "Returns the client ID for the current connection"),
            sub(
                "reply",
                3,
                CONN,
                "3.2.0",
                "<ON|OFF|SKIP>",
                "Instruct the server whether to reply to commands",
            ),
            sub("getname", 2, CONN, "2.6.9", "", "Get the current connection name"),
            sub(
                "setname",
                3,
                CONN,
                "2.6.9",
                "connection-name",
                "Set the current connection name",
            ),
            sub(
                "setinfo",
                4,
                CONN,
                "7.2.0",
                "<LIB-NAME libname|LIB-VER libver>",
                "Set the client library's name or version",
            ),
            sub("info", 2, CONN, "6.2.0", "", "Returns information about the current connection"),
            sub(
                "list",
                -2,
                CONN,
                "2.4.0",
                "[TYPE type] [ID client-id]",
                "Get the list of client connections",
            ),
            sub(
                "kill",
                -3,
                CONN,
                "2.4.0",
                "filter [filter ...]",
                "Kill connections: CLIENT KILL ip:port, or filters ID, ADDR, LADDR, USER, TYPE, SKIPME",
            ),
            sub(
                "no-evict",
                3,
                CONN,
                "7.0.0",
                "<ON|OFF>",
                "Set client eviction mode (accepted, does nothing)",
            ),
            sub(
                "unblock",
                -3,
                CONN,
                "5.0.0",
                "client-id [TIMEOUT|ERROR]",
                "Unblock a client blocked in a blocking command from a different connection",
            ),
            sub(
                "no-touch",
                3,
                CONN,
                "7.2.0",
                "<ON|OFF>",
                "Keep commands from touching keys' access time (accepted, does nothing)",
            ),
        ]),
    spec("command", -1, Kind::Admin, K0, server::command)
        .doc(
            SERVER,
            "2.8.13",
            "[COUNT|DOCS|INFO|LIST|GETKEYS]",
            "Get an array of command details, or a subcommand's answer",
        )
        .subs(&[
            sub("count", 2, SERVER, "2.8.13", "", "Get the total number of commands"),
            sub(
                "docs",
                -2,
                SERVER,
                "7.0.0",
                "[command-name [command-name ...]]",
                "Get the documentation of commands (all when none is named)",
            ),
            sub(
                "info",
                -2,
                SERVER,
                "2.8.13",
                "[command-name [command-name ...]]",
                "Get details about commands (all when none is named)",
            ),
            sub("list", -2, SERVER, "7.0.0", "", "Get an array of command names"),
            sub(
                "getkeys",
                -3,
                SERVER,
                "2.8.13",
                "command [arg [arg ...]]",
                "Extract keys given a full Redis command",
            ),
        ]),
    spec("time", 1, Kind::Admin, K0, server::time).doc(
        SERVER,
        "2.6.0",
        "",
        "Return the current server time",
    ),
    spec("lastsave", 1, Kind::Admin, K0, server::lastsave).doc(
        SERVER,
        "1.0.0",
        "",
        "Get the UNIX time stamp of the last successful snapshot",
    ),
    spec("auth", -2, Kind::Conn, K0, by_connection).doc(
        CONN,
        "1.0.0",
        "[username] password",
        "Authenticate the connection (RESP only; an agora account)",
    ),
    spec("quit", -1, Kind::Conn, K0, by_connection).doc(
        CONN,
        "1.0.0",
        "",
        "Close the connection",
    ),
    spec("shutdown", -1, Kind::Conn, K0, by_connection).doc(
        SERVER,
        "1.0.0",
        "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]",
        "Stop the daemon as SIGTERM does (needs --resp-allow-shutdown)",
    ),
    spec("monitor", 1, Kind::Conn, K0, by_connection).doc(
        SERVER,
        "1.0.0",
        "",
        "Listen for all requests received by the server in real time",
    ),
    spec("reset", 1, Kind::Conn, K0, by_connection).doc(
        CONN,
        "6.2.0",
        "",
        "Reset the connection",
    ),
    spec("multi", 1, Kind::Conn, K0, by_connection).doc(
        TRANSACTIONS,
        "1.2.0",
        "",
        "Mark the start of a transaction block (RESP only)",
    ),
    spec("exec", 1, Kind::Conn, K0, by_connection).doc(
        TRANSACTIONS,
        "1.2.0",
        "",
        "Execute all commands issued after MULTI",
    ),
    spec("discard", 1, Kind::Conn, K0, by_connection).doc(
        TRANSACTIONS,
        "2.0.0",
        "",
        "Discard all commands issued after MULTI",
    ),
    spec("watch", -2, Kind::Conn, KALL, by_connection).doc(
        TRANSACTIONS,
        "2.2.0",
        "key [key ...]",
        "Watch the given keys to determine execution of the MULTI/EXEC block",
    ),
    spec("unwatch", 1, Kind::Conn, K0, by_connection).doc(
        TRANSACTIONS,
        "2.2.0",
        "",
        "Forget about all watched keys",
    ),
    spec("subscribe", -2, Kind::Conn, K0, by_connection).doc(
        PUBSUB,
        "2.0.0",
        "channel [channel ...]",
        "Listen for messages published to the given channels",
    ),
    spec("unsubscribe", -1, Kind::Conn, K0, by_connection).doc(
        PUBSUB,
        "2.0.0",
        "[channel [channel ...]]",
        "Stop listening for messages posted to the given channels",
    ),
    spec("psubscribe", -2, Kind::Conn, K0, by_connection).doc(
        PUBSUB,
        "2.0.0",
        "pattern [pattern ...]",
        "Listen for messages published to channels matching the given patterns",
    ),
    spec("punsubscribe", -1, Kind::Conn, K0, by_connection).doc(
        PUBSUB,
        "2.0.0",
        "[pattern [pattern ...]]",
        "Stop listening for messages posted to channels matching the given patterns",
    ),
    spec("publish", 3, Kind::Conn, K0, by_connection).doc(
        PUBSUB,
        "2.0.0",
        "channel message",
        "Post a message to a channel",
    ),
    spec("ssubscribe", -2, Kind::Conn, KALL, by_connection).doc(
        PUBSUB,
        "7.0.0",
        "shardchannel [shardchannel ...]",
        "Listen for messages published to the given shard channels",
    ),
    spec("sunsubscribe", -1, Kind::Conn, KALL, by_connection).doc(
        PUBSUB,
        "7.0.0",
        "[shardchannel [shardchannel ...]]",
        "Stop listening for messages posted to the given shard channels",
    ),
    spec("spublish", 3, Kind::Conn, K1, by_connection).doc(
        PUBSUB,
        "7.0.0",
        "shardchannel message",
        "Post a message to a shard channel",
    ),
    spec("pubsub", -2, Kind::Conn, K0, by_connection)
        .doc(
            PUBSUB,
            "2.8.0",
            "<CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB>",
            "A container for Pub/Sub introspection commands",
        )
        .subs(&[
            sub("channels", -2, PUBSUB, "2.8.0", "[pattern]", "List active channels"),
            sub(
                "numsub",
                -2,
                PUBSUB,
                "2.8.0",
                "[channel [channel ...]]",
                "Get the count of subscribers for channels",
            ),
            sub("numpat", 2, PUBSUB, "2.8.0", "", "Get the count of pattern subscriptions"),
            sub(
                "shardchannels",
                -2,
                PUBSUB,
                "7.0.0",
                "[pattern]",
                "List active shard channels",
            ),
            sub(
                "shardnumsub",
                -2,
                PUBSUB,
                "7.0.0",
                "[shardchannel [shardchannel ...]]",
                "Get the count of subscribers for shard channels",
            ),
        ]),
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

/// Executes one command and counts it in `stats.commands`, unless
/// `ctx.access` is [`Access::Quiet`]. Never panics on any input: arguments
/// are checked before use and every index is bounds-checked.
pub fn execute(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(name) = args.first() else {
        return Reply::err("ERR empty command");
    };
    let mut reply = None;
    if execute_into(ctx, lookup(name), args, &mut reply) && ctx.access == Access::Counted {
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

    /// An array of bulk strings (LRANGE's answer), written straight from
    /// the store.
    fn bulks<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]> + Clone, resp3: bool) {
        self.reply(Reply::Array(items.map(Reply::bulk).collect()), resp3);
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
    execute_gated(ctx, spec, args, sink, true)
}

/// [`execute_into`], holding the shared side of the transaction gate
/// when `gated` (EXEC, which holds the exclusive side, runs its queue
/// with `false`). A write that succeeds touches the keys it names for
/// WATCH.
pub fn execute_gated(
    ctx: &mut Ctx<'_>,
    spec: Option<&'static Spec>,
    args: &[Bytes],
    sink: &mut impl Sink,
    gated: bool,
) -> bool {
    // A script runs alone, like EXEC; SCRIPT KILL and FUNCTION KILL run
    // beside it, taking no side of the gate.
    let script = spec.is_some_and(|s| s.kind == Kind::Script);
    let kill = script && script::is_kill(args);
    let _shared = (gated && !script).then(|| ctx.cache.gate.shared());
    let _exclusive = (gated && script && !kill).then(|| ctx.cache.gate.exclusive());
    let stats = &ctx.cache.cmdstats;
    let Some(spec) = spec else {
        let reply = unknown_command(args);
        stats.rejected(None, error_text(&reply));
        sink.reply(reply, ctx.client.resp3);
        return false;
    };
    if !arity_ok(spec.arity, args.len()) {
        let reply = wrong_arity(spec.name);
        stats.rejected(Some(spec), error_text(&reply));
        sink.reply(reply, ctx.client.resp3);
        return false;
    }
    if spec.kind == Kind::DenyOom
        && !ctx.client.allow_oom
        && ctx.cache.store.make_room(ctx.now_ms).is_err()
    {
        stats.rejected(Some(spec), errors::OOM);
        sink.reply(Reply::err(errors::OOM), ctx.client.resp3);
        return true;
    }
    // Keyspace notifications: one atomic load when they are off.
    let notify = ctx.cache.params.notify_flags() != 0;
    let writes = matches!(spec.kind, Kind::Write | Kind::DenyOom);
    let clock = ctx.cache.cmdstats.clock();
    let started = clock.now();
    // GET and LRANGE write their answer into the sink under the shard
    // lock, without building a Reply (errors come back to be counted).
    if !notify && matches!(spec.name, "get" | "lrange") {
        let error = if spec.name == "get" {
            strings::get_into(ctx, &args[1], sink)
        } else {
            lists::lrange_into(ctx, args, sink)
        };
        let failed = error.as_ref().map(error_text);
        stats.ran(spec, failed, clock.now().wrapping_sub(started));
        let failed = failed.is_some();
        if let Some(e) = error {
            sink.reply(e, ctx.client.resp3);
        }
        monitor(ctx.cache, ctx.client, args);
        if let Some(mode) = ctx.client.tracking
            && !ctx.client.internal
        {
            track_read(ctx, spec, args, failed, mode);
        }
        return true;
    }
    // EVAL & co. show before the commands they run (Redis's evalCommand).
    let shown_after = ctx.cache.monitors.active() && {
        let before = script && !kill && spec.name != "script" && spec.name != "function";
        if before {
            monitor(ctx.cache, ctx.client, args);
        }
        !before && crate::cache::monitor::shown(spec.name)
    };
    let before = (notify && writes).then(|| {
        let keys = events::keys_of(spec, args);
        events::existing(ctx, &keys)
    });
    let reply = (spec.handler)(ctx, args);
    // A script's error that a command inside it counted already.
    let counted = script && reply.is_error() && ctx.cache.scripting.take_error_counted();
    ctx.cache.cmdstats.ran(
        spec,
        (reply.is_error() && !counted).then(|| error_text(&reply)),
        clock.now().wrapping_sub(started),
    );
    if counted {
        ctx.cache.cmdstats.failed(spec);
    }
    if let Some(mode) = ctx.client.tracking
        && !ctx.client.internal
    {
        track_read(ctx, spec, args, reply.is_error(), mode);
    }
    if writes && changed(spec.name, &reply) {
        if !matches!(spec.name, "setbit" | "bitfield") {
            ctx.cache.stats.dirty.fetch_add(1, Ordering::Relaxed);
        }
        touch_written(ctx, spec, args);
        if let Some(before) = &before {
            events::after_write(ctx, spec, args, &reply, before);
        }
    }
    if notify || ctx.cache.tracking.any() {
        // Keys this command found expired, or evicted to make room.
        events::publish_removals(ctx.cache);
    }
    if shown_after {
        monitor(ctx.cache, ctx.client, args);
    }
    sink.reply(reply, ctx.client.resp3);
    true
}

/// CLIENT TRACKING: remembers the keys a read named (unless BCAST, or
/// OPTIN without CLIENT CACHING yes, or OPTOUT after CLIENT CACHING no),
/// then forgets CLIENT CACHING, which lasts one command.
fn track_read(
    ctx: &mut Ctx<'_>,
    spec: &Spec,
    args: &[Bytes],
    failed: bool,
    mode: crate::cache::tracking::Mode,
) {
    if spec.kind == Kind::Read && !failed && mode.remembers(ctx.client.caching) {
        let keys = events::keys_of(spec, args);
        ctx.cache.tracking.remember(ctx.client.id, keys);
    }
    let caching_cmd = spec.name == "client" && args.get(1).is_some_and(|a| is(a, "caching"));
    if !caching_cmd {
        ctx.client.caching = false;
    }
}

/// An error reply's text ("" for other replies).
fn error_text(reply: &Reply) -> &str {
    match reply {
        Reply::Error(text) => text,
        _ => "",
    }
}

/// Whether a write's reply says it changed something: not an error, not
/// a pop that found nothing, not a 0 from a command whose 0 means "no
/// change" (so WATCH is not disturbed by no-op writes, and a blocked pop
/// retrying is not woken by its own empty attempt).
fn changed(name: &str, reply: &Reply) -> bool {
    match reply {
        Reply::Error(_) => false,
        // (SET … GET answers nil after writing: it is not listed.)
        Reply::Nil | Reply::NilArray => !matches!(
            name,
            "lpop"
                | "rpop"
                | "spop"
                | "getdel"
                | "zmpop"
                | "lmpop"
                | "getex"
                | "lmove"
                | "rpoplpush"
                | "blmove"
                | "brpoplpush"
                | "xadd"
                | "xreadgroup"
        ),
        Reply::Array(items) if items.is_empty() => !matches!(
            name,
            "lpop"
                | "rpop"
                | "spop"
                | "zpopmin"
                | "zpopmax"
                | "blpop"
                | "brpop"
                | "bzpopmin"
                | "bzpopmax"
        ),
        Reply::Integer(-1) if name == "linsert" => false,
        // SORT without STORE only reads.
        Reply::Array(_) if name == "sort" => false,
        Reply::Integer(0) => !matches!(
            name,
            "del"
                | "unlink"
                | "lpushx"
                | "rpushx"
                | "linsert"
                | "lrem"
                | "srem"
                | "sadd"
                | "zadd"
                | "zrem"
                | "hdel"
                | "hsetnx"
                | "setnx"
                | "msetnx"
                | "expire"
                | "pexpire"
                | "expireat"
                | "pexpireat"
                | "persist"
                | "renamenx"
                | "move"
                | "copy"
                | "smove"
                | "zremrangebyrank"
                | "zremrangebyscore"
                | "zremrangebylex"
                | "xdel"
                | "xtrim"
                | "xack"
        ),
        _ => true,
    }
}

/// Who hears of a changed key: WATCH, blocked pops and CLIENT TRACKING
/// (the writer's id, for NOLOOP).
struct Touch<'a>(&'a Cache, u64);

impl Touch<'_> {
    fn touch(&self, db: usize, key: &[u8]) {
        self.0.watches.touch(db, key);
        self.0.blocked.signal(db, key);
        self.0.tracking.invalidate(key, Some(self.1));
    }

    fn touch_db(&self, db: Option<usize>) {
        self.0.watches.touch_db(db);
        self.0.blocked.signal_db(db);
    }
}

/// Tells WATCH and blocked pops which keys a write that succeeded may
/// have changed.
fn touch_written(ctx: &Ctx<'_>, spec: &Spec, args: &[Bytes]) {
    let watches = &Touch(ctx.cache, ctx.client.id);
    if !ctx.cache.watches.any() && !ctx.cache.blocked.any() && !ctx.cache.tracking.any() {
        return;
    }
    let db = ctx.client.db;
    match spec.name {
        // The flushes touched the watched keys that existed themselves.
        "flushdb" => {
            ctx.cache.blocked.signal_db(Some(db));
            ctx.cache.tracking.flush();
        }
        "flushall" => {
            ctx.cache.blocked.signal_db(None);
            ctx.cache.tracking.flush();
        }
        "swapdb" => {
            for arg in &args[1..3] {
                if let Ok(d) = db_arg(arg) {
                    watches.touch_db(Some(d));
                }
            }
        }
        "move" => {
            watches.touch(db, &args[1]);
            if let Ok(d) = db_arg(&args[2]) {
                watches.touch(d, &args[1]);
            }
        }
        "copy" => {
            let to = args
                .iter()
                .position(|a| is(a, "db"))
                .and_then(|i| args.get(i + 1))
                .and_then(|a| db_arg(a).ok())
                .unwrap_or(db);
            watches.touch(to, &args[2]);
        }
        "sort" => {
            let dest = args
                .iter()
                .position(|a| is(a, "store"))
                .and_then(|i| args.get(i + 1));
            if let Some(dest) = dest {
                watches.touch(db, dest);
            }
        }
        "zmpop" | "lmpop" => {
            let n = parse_i64(&args[1]).unwrap_or(0).max(0) as usize;
            for key in args.iter().skip(2).take(n) {
                watches.touch(db, key);
            }
        }
        "blmpop" | "bzmpop" => {
            let n = parse_i64(&args[2]).unwrap_or(0).max(0) as usize;
            for key in args.iter().skip(3).take(n) {
                watches.touch(db, key);
            }
        }
        "xreadgroup" => {
            for key in streams::read_keys(args) {
                watches.touch(db, &key);
            }
        }
        _ => {
            let (first, last, step) = spec.keys;
            if first <= 0 || step <= 0 {
                return;
            }
            let last = if last < 0 {
                args.len() as i32 + last
            } else {
                last
            };
            let mut i = first;
            while i <= last && (i as usize) < args.len() {
                watches.touch(db, &args[i as usize]);
                i += step;
            }
        }
    }
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

/// C's `%.<digits>g` for a finite value: `digits` significant digits,
/// trailing zeros dropped, an exponent below 1e-4 or from 1e<digits> on.
pub(crate) fn format_g(value: f64, digits: usize) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{value:.*e}", digits - 1);
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= digits as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.unsigned_abs())
    } else {
        trim(&format!("{value:.*}", (digits as i32 - 1 - exp) as usize))
    }
}

/// Formats a double reply as Redis 7.0 does (`%.17g`; `inf`, `-inf`):
/// 17 significant digits, trailing zeros dropped, an exponent below 1e-4
/// or from 1e17 on. Sorted-set scores go out this way.
pub fn format_g17(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    format_g(value, 17)
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
    access: Access,
) -> Result<Option<&'s [u8]>, Reply> {
    match shard.get(key, now_ms, access) {
        None => Ok(None),
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => Err(Reply::err(errors::WRONGTYPE)),
    }
}

/// A database index argument (SELECT, MOVE, SWAPDB, COPY … DB), or
/// Redis's error.
pub fn db_arg(bytes: &[u8]) -> Result<usize, Reply> {
    match parse_i64(bytes) {
        None => Err(Reply::err(errors::NOT_INTEGER)),
        Some(n) if (0..DATABASES as i64).contains(&n) => Ok(n as usize),
        Some(_) => Err(Reply::err(errors::DB_RANGE)),
    }
}

/// Flattens a Result whose both sides are replies.
pub fn reply(result: Result<Reply, Reply>) -> Reply {
    result.unwrap_or_else(|e| e)
}

#[cfg(test)]
pub(crate) mod tests;
