//! Arbitrary argument vectors for every command, for the fuzz target
//! `tests/fuzz/fuzz_targets/cache_commands.rs` (libFuzzer's bytes) and
//! for the always-run unit test below (a deterministic generator): the
//! dispatcher must answer each with a reply, never panic.
//!
//! [`vector`] reads bytes as a command: the first byte picks an entry of
//! [`COMMANDS`] (every command of the table), then each byte picks an
//! argument: a token that means something to some command (keywords,
//! edge numbers, key names shared between vectors) or, for the bytes
//! past the table, the next few input bytes taken raw. Numbers stay out
//! of the range where a valid command would allocate hundreds of
//! megabytes (SETBIT 4294967295): that is Redis's behaviour, not a bug.
//!
//! Code is not fuzzed byte by byte (a fuzzer could write a loop that only
//! the time limit ends): EVAL and EVALSHA take one of [`SCRIPTS`], which
//! call back into the dispatcher with the vector's other arguments, FCALL
//! one of [`LIBRARY`]'s functions, and FUNCTION sometimes loads that
//! library. [`run`] serves the vector as the RESP connection would:
//! MULTI, EXEC, DISCARD, WATCH and UNWATCH through [`multi`], commands
//! queued while a transaction is open, the blocking commands in their
//! zero-timeout form (as inside EXEC: served now or the timeout reply).

use bytes::Bytes;

use super::{COMMANDS, Client, Ctx, Reply};
use crate::cache::{Access, Cache, multi};

/// The scripts EVAL and EVALSHA run: calls back into the dispatcher with
/// the vector's arguments (`unpack(ARGV)`), Redis's type conversions both
/// ways, errors raised and returned, the bundled libraries on fuzzed input.
pub const SCRIPTS: &[&str] = &[
    "return redis.call(unpack(ARGV))",
    "return redis.pcall(unpack(ARGV))",
    "redis.setresp(3) return redis.call(unpack(ARGV))",
    "redis.setresp(3) return redis.pcall(unpack(ARGV))",
    "return {redis.pcall('type', KEYS[1] or 'k'), ARGV[1], KEYS[2]}",
    "return 1",
    "return {1, 'two', {3.5, false, true}, nil, {err = 'E'}}",
    "return {ok = 'fine'}",
    "return {err = ARGV[1]}",
    "return redis.error_reply(ARGV[1] or 'MY error')",
    "return redis.status_reply(ARGV[1] or 'S')",
    "error('raised')",
    "error({err = ARGV[1]})",
    "return tonumber(ARGV[1])",
    "return 0.5 + (tonumber(ARGV[1]) or 0)",
    "return cjson.decode(ARGV[1] or '[]')",
    "return cjson.encode({ARGV[1], KEYS[1], {a = tonumber(ARGV[2])}})",
    "return cmsgpack.unpack(ARGV[1] or '')",
    "return cmsgpack.pack(ARGV, KEYS)",
    "return redis.sha1hex(ARGV[1] or '')",
    "return bit.band(tonumber(ARGV[1]) or 0, 255)",
    "local n = 0 for i = 1, 100 do n = n + i end return n",
    "return string.rep('x', math.min(tonumber(ARGV[1]) or 1, 100))",
    "return redis.call('lrange', KEYS[1] or 'l', 0, -1)",
    "return redis.call()",
    "return redis.call('eval', 'return 1', 0)",
    "return undefined_global.field",
    "new_global = 1",
    "return",
    "this is not lua",
];

/// The library FUNCTION LOAD loads (with REPLACE) and FCALL calls.
pub const LIBRARY: &str = "#!lua name=fuzz
redis.register_function('fuzz_call', function(keys, args) return redis.call(unpack(args)) end)
redis.register_function('fuzz_pcall', function(keys, args) return redis.pcall(unpack(args)) end)
redis.register_function{function_name = 'fuzz_ro', callback = function(keys, args)
  return redis.call('get', keys[1] or 'k') end, flags = {'no-writes'}}
redis.register_function('fuzz_error', function(keys, args) error('raised') end)
";

/// FCALL's function names ([`LIBRARY`]'s and a missing one).
const FUNCTIONS: &[&str] = &[
    "fuzz_call",
    "fuzz_pcall",
    "fuzz_ro",
    "fuzz_error",
    "missing",
];

/// Tokens an argument may be.
const TOKENS: &[&str] = &[
    "k",
    "k2",
    "{k}3",
    "h",
    "s",
    "z",
    "l",
    "0",
    "1",
    "2",
    "3",
    "-1",
    "-2",
    "10",
    "100",
    "-100",
    "1000",
    "65536",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551616",
    "1.5",
    "-0.5",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "1e400",
    "0x10",
    "",
    " ",
    "a b",
    "\u{0}",
    "\u{ff}",
    "*",
    "?",
    "[a-",
    "\\",
    "(1",
    "[a",
    "-",
    "+",
    "(",
    "[",
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "WITHSCORES",
    "WITHSCORE",
    "LIMIT",
    "BYSCORE",
    "BYLEX",
    "REV",
    "COUNT",
    "MATCH",
    "TYPE",
    "STORE",
    "WEIGHTS",
    "AGGREGATE",
    "SUM",
    "MIN",
    "MAX",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "RANK",
    "MAXLEN",
    "BY",
    "ASC",
    "DESC",
    "ALPHA",
    "DB",
    "REPLACE",
    "ABSTTL",
    "IDLETIME",
    "FREQ",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "BIT",
    "BYTE",
    "OVERFLOW",
    "WRAP",
    "SAT",
    "FAIL",
    "SET",
    "INCRBY",
    "u8",
    "i64",
    "u63",
    "#1",
    "LEN",
    "IDX",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "FLUSH",
    "ASYNC",
    "SYNC",
    "LOAD",
    "EXISTS",
    "KILL",
    "RESETSTAT",
    "maxmemory",
    "maxmemory-policy",
    "allkeys-lru",
    "notify-keyspace-events",
    "KEA",
    "ON",
    "OFF",
    "SKIP",
    "YES",
    "NO",
    "BCAST",
    "PREFIX",
    "REDIRECT",
    "OPTIN",
    "OPTOUT",
    "NOLOOP",
    "ID",
    "USAGE",
    "SAMPLES",
    "ENCODING",
    "TIMEOUT",
    "ERROR",
    "AUTH",
    "SETNAME",
    "default",
    "return 1",
];

/// The commands [`vector`] picks from: the whole table.
fn commands() -> Vec<&'static str> {
    COMMANDS.iter().map(|s| s.name).collect()
}

/// Reads `data` as a command's argument vector (see the module's
/// documentation); `None` for empty input.
pub fn vector(data: &[u8]) -> Option<Vec<Bytes>> {
    let (&first, mut rest) = data.split_first()?;
    let names = commands();
    let name = names[usize::from(first) % names.len()];
    let mut args = vec![Bytes::from_static(name.as_bytes())];
    // Code and the number of keys come from a table, not from raw bytes.
    let pick = |rest: &mut &[u8]| -> usize {
        let (&b, tail) = rest.split_first().unwrap_or((&0, &[]));
        *rest = tail;
        usize::from(b)
    };
    match name {
        "eval" | "eval_ro" | "evalsha" | "evalsha_ro" | "fcall" | "fcall_ro" => {
            let i = pick(&mut rest);
            let body = match name {
                "eval" | "eval_ro" => Bytes::from_static(SCRIPTS[i % SCRIPTS.len()].as_bytes()),
                "evalsha" | "evalsha_ro" => Bytes::from(super::script::sha1_hex(
                    SCRIPTS[i % SCRIPTS.len()].as_bytes(),
                )),
                _ => Bytes::from_static(FUNCTIONS[i % FUNCTIONS.len()].as_bytes()),
            };
            args.push(body);
            args.push(Bytes::from((pick(&mut rest) % 3).to_string()));
        }
        "function" if pick(&mut rest) % 4 == 0 => {
            args.extend(["LOAD", "REPLACE", LIBRARY].map(|a| Bytes::from_static(a.as_bytes())));
            return Some(args);
        }
        _ => {}
    }
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        let b = usize::from(b);
        if b < TOKENS.len() {
            args.push(Bytes::from_static(TOKENS[b].as_bytes()));
        } else {
            let n = (b - TOKENS.len()) % 8;
            let n = n.min(rest.len());
            args.push(Bytes::copy_from_slice(&rest[..n]));
            rest = &rest[n..];
        }
        if args.len() > 24 {
            break;
        }
    }
    Some(args)
}

/// Runs the command `data` encodes on `cache` as `client`, as the RESP
/// connection would (see the module's documentation).
pub fn run(cache: &Cache, client: &mut Client, data: &[u8]) -> Option<Reply> {
    let args = vector(data)?;
    let now_ms = crate::now_ms();
    if multi::is_transaction_command(&args[0]) {
        return Some(multi::command(cache, client, now_ms, &args));
    }
    if client.multi.is_some() {
        return Some(multi::queue(cache, client, now_ms, &args));
    }
    let mut ctx = Ctx {
        cache,
        client,
        now_ms,
        access: Access::Counted,
    };
    Some(super::execute(&mut ctx, &args))
}

/// Between vectors: a transaction stays open for a few commands (so EXEC
/// runs a queue), then is dropped; CLIENT REPLY OFF is undone, or it would
/// swallow the following replies.
pub fn settle(client: &mut Client) {
    if client.multi.as_ref().is_some_and(|queue| queue.len() > 8) {
        client.multi = None;
        client.multi_error = false;
    }
    client.reply = super::ReplyMode::On;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheConfig;

    /// A few thousand vectors from a fixed xorshift seed: every command
    /// answers (and the cache keeps working) without a panic.
    #[test]
    fn random_vectors_never_panic() {
        let cache = Cache::new(CacheConfig::default(), std::path::Path::new("/nonexistent"));
        let mut client = Client {
            id: 1,
            ..Client::default()
        };
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let names = commands();
        for i in 0..6000u64 {
            let len = (next() % 12) as usize;
            let mut data = vec![(i % names.len() as u64) as u8];
            // Cover every command in turn, then random ones.
            if i >= names.len() as u64 {
                data[0] = next() as u8;
            }
            data.extend((0..len).map(|_| {
                let r = next();
                // Mostly tokens, sometimes raw bytes.
                if r % 4 == 0 {
                    (r >> 8) as u8
                } else {
                    ((r >> 8) % TOKENS.len() as u64) as u8
                }
            }));
            let reply = run(&cache, &mut client, &data).expect("a vector");
            drop(reply);
            settle(&mut client);
        }
        let mut ctx = Ctx {
            cache: &cache,
            client: &mut client,
            now_ms: crate::now_ms(),
            access: Access::Counted,
        };
        let ping = super::super::execute(&mut ctx, &[Bytes::from_static(b"PING")]);
        assert_eq!(ping, Reply::Simple("PONG".into()));
    }

    #[test]
    fn vectors_read_tokens_and_raw_bytes() {
        let names = commands();
        let get = names.iter().position(|n| *n == "get").unwrap() as u8;
        let args = vector(&[get, 0, 255, b'x', b'y']).unwrap();
        assert_eq!(args[0], "get");
        assert_eq!(args[1], "k");
        let raw = (255 - TOKENS.len()) % 8;
        assert_eq!(args[2].len(), raw.min(2));
        assert!(vector(&[]).is_none());
        let eval = names.iter().position(|n| *n == "eval").unwrap() as u8;
        let args = vector(&[eval, 1, 2, 0]).unwrap();
        assert_eq!(args[1], SCRIPTS[1]);
        assert_eq!(args[2], "2");
        assert_eq!(args[3], TOKENS[0]);
    }
}
