//! Arbitrary argument vectors for every command, for the fuzz target
//! `tests/fuzz/fuzz_targets/cache_commands.rs` (libFuzzer's bytes) and
//! for the always-run unit test below (a deterministic generator): the
//! dispatcher must answer each with a reply, never panic.
//!
//! [`vector`] reads bytes as a command: the first byte picks an entry of
//! [`COMMANDS`] (scripts that run code — EVAL, EVALSHA, FCALL, FUNCTION —
//! are left out: a fuzzer could write a loop), then each byte picks an
//! argument: a token that means something to some command (keywords,
//! edge numbers, key names shared between vectors) or, for the bytes
//! past the table, the next few input bytes taken raw. Numbers stay out
//! of the range where a valid command would allocate hundreds of
//! megabytes (SETBIT 4294967295): that is Redis's behaviour, not a bug.

use bytes::Bytes;

use super::{COMMANDS, Client, Ctx, Kind, Reply};
use crate::cache::{Access, Cache};

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

/// The commands [`vector`] picks from.
fn commands() -> Vec<&'static str> {
    COMMANDS
        .iter()
        .filter(|s| s.kind != Kind::Script || s.name == "script")
        .filter(|s| !super::bpop::is_blocking(s.name))
        .map(|s| s.name)
        .collect()
}

/// Reads `data` as a command's argument vector (see the module's
/// documentation); `None` for empty input.
pub fn vector(data: &[u8]) -> Option<Vec<Bytes>> {
    let (&first, mut rest) = data.split_first()?;
    let names = commands();
    let mut args = vec![Bytes::from_static(
        names[usize::from(first) % names.len()].as_bytes(),
    )];
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

/// Runs the command `data` encodes on `cache` as `client`.
pub fn run(cache: &Cache, client: &mut Client, data: &[u8]) -> Option<Reply> {
    let args = vector(data)?;
    let mut ctx = Ctx {
        cache,
        client,
        now_ms: crate::now_ms(),
        access: Access::Counted,
    };
    Some(super::execute(&mut ctx, &args))
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
            client.multi = None;
            client.multi_error = false;
            client.reply = super::super::ReplyMode::On;
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
        assert!(!names.contains(&"eval"));
    }
}
