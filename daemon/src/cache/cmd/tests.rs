//! Command semantics and error texts, against Redis 7's documentation,
//! with a controllable clock.

use super::*;
use crate::cache::{CacheConfig, Policy};

mod bits;
mod lists;
mod quiet;
mod sortdump;
mod streams;

struct T {
    cache: Cache,
    client: Client,
    now: u64,
    access: Access,
}

fn t() -> T {
    T {
        cache: Cache::new(CacheConfig::default(), std::path::Path::new(".")),
        client: Client::default(),
        now: 1_000_000,
        access: Access::Counted,
    }
}

fn limited(max: usize, policy: Policy) -> T {
    let config = CacheConfig {
        max_memory: max,
        policy,
        ..CacheConfig::default()
    };
    T {
        cache: Cache::new(config, std::path::Path::new(".")),
        client: Client::default(),
        now: 1_000_000,
        access: Access::Counted,
    }
}

impl T {
    fn run(&mut self, line: &str) -> Reply {
        let args: Vec<Bytes> = crate::resp::args::split_args(line)
            .unwrap()
            .into_iter()
            .map(Bytes::from)
            .collect();
        let mut ctx = Ctx {
            cache: &self.cache,
            client: &mut self.client,
            now_ms: self.now,
            access: self.access,
        };
        execute(&mut ctx, &args)
    }
}

fn ok() -> Reply {
    Reply::ok()
}
fn int(n: i64) -> Reply {
    Reply::Integer(n)
}
fn b(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}
fn e(s: &'static str) -> Reply {
    Reply::err(s)
}
fn arr(items: &[Reply]) -> Reply {
    Reply::Array(items.to_vec())
}

#[test]
fn get_set_basics() {
    let mut t = t();
    assert_eq!(t.run("GET k"), Reply::Nil);
    assert_eq!(t.run("SET k v"), ok());
    assert_eq!(t.run("get k"), b("v"));
    assert_eq!(t.run("SET k v2 NX"), Reply::Nil);
    assert_eq!(t.run("SET k v3 XX"), ok());
    assert_eq!(t.run("SET other v XX"), Reply::Nil);
    assert_eq!(t.run("SET k v4 GET"), b("v3"));
    assert_eq!(t.run("SET new v GET"), Reply::Nil);
    assert_eq!(t.run("SET k x NX GET"), b("v4"));
    assert_eq!(t.run("GET k"), b("v4"));
    assert_eq!(t.run("SET k v NX XX"), e("ERR syntax error"));
    assert_eq!(t.run("SET k v EX 10 PX 10"), e("ERR syntax error"));
    assert_eq!(t.run("SET k v EX"), e("ERR syntax error"));
    assert_eq!(
        t.run("SET k v EX 0"),
        e("ERR invalid expire time in 'set' command")
    );
    assert_eq!(
        t.run("SET k v EX -1"),
        e("ERR invalid expire time in 'set' command")
    );
    assert_eq!(t.run("SET k v EX x"), e(errors::NOT_INTEGER));
    assert_eq!(
        t.run("SET k v EX 9223372036854775807"),
        e("ERR invalid expire time in 'set' command")
    );
    assert_eq!(
        t.run("SET k"),
        e("ERR wrong number of arguments for 'set' command")
    );
    assert_eq!(
        t.run("GET"),
        e("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        t.run("GET a b"),
        e("ERR wrong number of arguments for 'get' command")
    );
}

#[test]
fn set_expiry_options_and_keepttl() {
    let mut t = t();
    t.run("SET k v EX 10");
    assert_eq!(t.run("TTL k"), int(10));
    assert_eq!(t.run("PTTL k"), int(10_000));
    t.run("SET k v PX 1500");
    assert_eq!(t.run("PTTL k"), int(1500));
    assert_eq!(t.run("TTL k"), int(2)); // rounded
    t.run("SET k v KEEPTTL");
    assert_eq!(t.run("PTTL k"), int(1500));
    t.run("SET k v");
    assert_eq!(t.run("TTL k"), int(-1));
    t.run("SET k v EXAT 1010");
    assert_eq!(t.run("TTL k"), int(10));
    t.run("SET k v PXAT 1000500");
    assert_eq!(t.run("PTTL k"), int(500));
    t.now += 500;
    assert_eq!(t.run("GET k"), Reply::Nil);
    assert_eq!(t.run("TTL k"), int(-2));
    assert_eq!(t.run("SET k v KEEPTTL EX 5"), e("ERR syntax error"));
}

#[test]
fn expired_key_is_gone() {
    let mut t = t();
    t.run("SET k v PX 100");
    t.now += 99;
    assert_eq!(t.run("GET k"), b("v"));
    t.now += 1;
    assert_eq!(t.run("GET k"), Reply::Nil);
    assert_eq!(t.run("EXISTS k"), int(0));
    assert_eq!(t.run("DBSIZE"), int(0));
}

#[test]
fn setnx_setex_psetex_getdel_getset() {
    let mut t = t();
    assert_eq!(t.run("SETNX k v"), int(1));
    assert_eq!(t.run("SETNX k w"), int(0));
    assert_eq!(t.run("SETEX k 10 v"), ok());
    assert_eq!(t.run("TTL k"), int(10));
    assert_eq!(
        t.run("SETEX k 0 v"),
        e("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(t.run("PSETEX k 100 v"), ok());
    assert_eq!(t.run("PTTL k"), int(100));
    assert_eq!(
        t.run("PSETEX k -1 v"),
        e("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(t.run("GETDEL k"), b("v"));
    assert_eq!(t.run("GETDEL k"), Reply::Nil);
    assert_eq!(t.run("GETSET k a"), Reply::Nil);
    assert_eq!(t.run("GETSET k b"), b("a"));
}

#[test]
fn getex_options() {
    let mut t = t();
    assert_eq!(t.run("GETEX k"), Reply::Nil);
    t.run("SET k v");
    assert_eq!(t.run("GETEX k EX 10"), b("v"));
    assert_eq!(t.run("TTL k"), int(10));
    assert_eq!(t.run("GETEX k PERSIST"), b("v"));
    assert_eq!(t.run("TTL k"), int(-1));
    assert_eq!(t.run("GETEX k PXAT 1000100"), b("v"));
    assert_eq!(t.run("PTTL k"), int(100));
    assert_eq!(t.run("GETEX k FOO"), e("ERR syntax error"));
    assert_eq!(
        t.run("GETEX k EX 0"),
        e("ERR invalid expire time in 'getex' command")
    );
    assert_eq!(t.run("GETEX k EXAT 1"), b("v"));
    assert_eq!(t.run("EXISTS k"), int(0));
}

#[test]
fn mget_mset_msetnx() {
    let mut t = t();
    assert_eq!(t.run("MSET a 1 b 2"), ok());
    t.run("HSET h f v");
    assert_eq!(
        t.run("MGET a b c h"),
        arr(&[b("1"), b("2"), Reply::Nil, Reply::Nil])
    );
    assert_eq!(
        t.run("MSET a"),
        e("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(
        t.run("MSET a 1 b"),
        e("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(t.run("MSETNX a 9 z 9"), int(0));
    assert_eq!(t.run("GET z"), Reply::Nil);
    assert_eq!(t.run("MSETNX y 9 z 9"), int(1));
    assert_eq!(t.run("GET z"), b("9"));
}

#[test]
fn del_unlink_exists() {
    let mut t = t();
    t.run("MSET a 1 b 2 c 3");
    assert_eq!(t.run("EXISTS a a b x"), int(3));
    assert_eq!(t.run("DEL a x"), int(1));
    assert_eq!(t.run("UNLINK b c"), int(2));
    assert_eq!(t.run("DBSIZE"), int(0));
}

#[test]
fn expire_family_with_flags() {
    let mut t = t();
    assert_eq!(t.run("EXPIRE k 10"), int(0));
    t.run("SET k v");
    assert_eq!(t.run("EXPIRE k 10 XX"), int(0));
    assert_eq!(t.run("EXPIRE k 10 GT"), int(0));
    assert_eq!(t.run("EXPIRE k 10 LT"), int(1));
    assert_eq!(t.run("EXPIRE k 20 NX"), int(0));
    assert_eq!(t.run("EXPIRE k 20 GT"), int(1));
    assert_eq!(t.run("TTL k"), int(20));
    assert_eq!(t.run("EXPIRE k 5 GT"), int(0));
    assert_eq!(t.run("EXPIRE k 5 LT"), int(1));
    assert_eq!(t.run("PEXPIRE k 1500 XX"), int(1));
    assert_eq!(t.run("PTTL k"), int(1500));
    assert_eq!(t.run("EXPIREAT k 2000"), int(1));
    assert_eq!(t.run("EXPIRETIME k"), int(2000));
    assert_eq!(t.run("PEXPIREAT k 1000900"), int(1));
    assert_eq!(t.run("PEXPIRETIME k"), int(1_000_900));
    assert_eq!(t.run("PERSIST k"), int(1));
    assert_eq!(t.run("PERSIST k"), int(0));
    assert_eq!(t.run("TTL k"), int(-1));
    assert_eq!(
        t.run("EXPIRE k 10 NX XX"),
        e("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    assert_eq!(
        t.run("EXPIRE k 10 GT LT"),
        e("ERR GT and LT options at the same time are not compatible")
    );
    assert_eq!(
        t.run("EXPIRE k 10 FOO"),
        Reply::error("ERR Unsupported option FOO".into())
    );
    assert_eq!(t.run("EXPIRE k x"), e(errors::NOT_INTEGER));
    assert_eq!(
        t.run("EXPIRE k 9223372036854775807"),
        e("ERR invalid expire time in 'expire' command")
    );
    // An expiry in the past deletes the key.
    assert_eq!(t.run("PEXPIREAT k 1"), int(1));
    assert_eq!(t.run("EXISTS k"), int(0));
    t.run("SET k v");
    assert_eq!(t.run("EXPIRE k -1"), int(1));
    assert_eq!(t.run("EXISTS k"), int(0));
}

#[test]
fn counters() {
    let mut t = t();
    assert_eq!(t.run("INCR n"), int(1));
    assert_eq!(t.run("INCRBY n 10"), int(11));
    assert_eq!(t.run("DECR n"), int(10));
    assert_eq!(t.run("DECRBY n 20"), int(-10));
    assert_eq!(t.run("GET n"), b("-10"));
    t.run("SET s abc");
    assert_eq!(t.run("INCR s"), e(errors::NOT_INTEGER));
    t.run("SET s ' 1'");
    assert_eq!(t.run("INCR s"), e(errors::NOT_INTEGER));
    t.run("SET s 01");
    assert_eq!(t.run("INCR s"), e(errors::NOT_INTEGER));
    assert_eq!(t.run("INCRBY n x"), e(errors::NOT_INTEGER));
    t.run("SET m 9223372036854775807");
    assert_eq!(
        t.run("INCR m"),
        e("ERR increment or decrement would overflow")
    );
    t.run("HSET h f v");
    assert_eq!(t.run("INCR h"), e(errors::WRONGTYPE));
    // TTL survives INCR.
    t.run("SET c 1 EX 100");
    t.run("INCR c");
    assert_eq!(t.run("TTL c"), int(100));
}

#[test]
fn incrbyfloat_formats_like_redis() {
    let mut t = t();
    t.run("SET mykey 10.50");
    assert_eq!(t.run("INCRBYFLOAT mykey 0.1"), b("10.6"));
    assert_eq!(t.run("INCRBYFLOAT mykey -5"), b("5.6"));
    t.run("SET mykey 5.0e3");
    assert_eq!(t.run("INCRBYFLOAT mykey 2.0e2"), b("5200"));
    assert_eq!(
        t.run("INCRBYFLOAT mykey x"),
        e("ERR value is not a valid float")
    );
    assert_eq!(
        t.run("INCRBYFLOAT mykey nan"),
        e("ERR value is not a valid float")
    );
    assert_eq!(
        t.run("INCRBYFLOAT mykey inf"),
        e("ERR increment would produce NaN or Infinity")
    );
}

#[test]
fn append_strlen_getrange_setrange() {
    let mut t = t();
    assert_eq!(t.run("APPEND k Hello"), int(5));
    assert_eq!(t.run("APPEND k ' World'"), int(11));
    assert_eq!(t.run("STRLEN k"), int(11));
    assert_eq!(t.run("STRLEN nope"), int(0));
    t.run("SET mykey 'This is a string'");
    assert_eq!(t.run("GETRANGE mykey 0 3"), b("This"));
    assert_eq!(t.run("GETRANGE mykey -3 -1"), b("ing"));
    assert_eq!(t.run("GETRANGE mykey 0 -1"), b("This is a string"));
    assert_eq!(t.run("GETRANGE mykey 10 100"), b("string"));
    assert_eq!(t.run("GETRANGE mykey 5 3"), b(""));
    assert_eq!(t.run("GETRANGE nope 0 -1"), b(""));
    t.run("SET key1 'Hello World'");
    assert_eq!(t.run("SETRANGE key1 6 Redis"), int(11));
    assert_eq!(t.run("GET key1"), b("Hello Redis"));
    assert_eq!(t.run("SETRANGE key2 6 Redis"), int(11));
    assert_eq!(
        t.run("GET key2"),
        Reply::Bulk(Bytes::from_static(b"\0\0\0\0\0\0Redis"))
    );
    assert_eq!(t.run("SETRANGE key3 0 ''"), int(0));
    assert_eq!(t.run("EXISTS key3"), int(0));
    assert_eq!(t.run("SETRANGE key1 -1 x"), e("ERR offset is out of range"));
    assert_eq!(t.run("SETRANGE key1 536870911 xx"), e(errors::TOO_BIG));
}

#[test]
fn keys_scan_type_rename_randomkey() {
    let mut t = t();
    t.run("MSET firstname Jack lastname Stuntman age 35");
    t.run("HSET h f v");
    let mut keys = |p: &str| match t.run(&format!("KEYS {p}")) {
        Reply::Array(v) => {
            let mut names: Vec<String> = v
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                    _ => panic!(),
                })
                .collect();
            names.sort();
            names
        }
        _ => panic!(),
    };
    assert_eq!(keys("*name*"), ["firstname", "lastname"]);
    assert_eq!(keys("a??"), ["age"]);
    assert_eq!(keys("*"), ["age", "firstname", "h", "lastname"]);
    assert_eq!(t.run("TYPE h"), Reply::Simple("hash".into()));
    assert_eq!(t.run("TYPE age"), Reply::Simple("string".into()));
    assert_eq!(t.run("TYPE nope"), Reply::Simple("none".into()));
    assert_eq!(t.run("RENAME nope x"), e("ERR no such key"));
    t.run("EXPIRE age 100");
    assert_eq!(t.run("RENAME age years"), ok());
    assert_eq!(t.run("TTL years"), int(100));
    assert_eq!(t.run("EXISTS age"), int(0));
    assert_eq!(t.run("RENAMENX years h"), int(0));
    assert!(!t.run("RANDOMKEY").is_error());
    t.run("FLUSHDB");
    assert_eq!(t.run("RANDOMKEY"), Reply::Nil);
    assert_eq!(t.run("FLUSHALL ASYNC"), ok());
    assert_eq!(t.run("FLUSHALL BOGUS"), e("ERR syntax error"));
}

#[test]
fn scan_visits_every_key_once() {
    let mut t = t();
    for i in 0..500 {
        t.run(&format!("SET key:{i} v"));
    }
    t.run("HSET hash f v");
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let Reply::Array(parts) = t.run(&format!("SCAN {cursor} MATCH key:* COUNT 37")) else {
            panic!()
        };
        let (Reply::Bulk(next), Reply::Array(keys)) = (&parts[0], &parts[1]) else {
            panic!()
        };
        for k in keys {
            let Reply::Bulk(k) = k else { panic!() };
            assert!(seen.insert(k.clone()), "duplicate");
        }
        cursor = String::from_utf8(next.to_vec()).unwrap();
        rounds += 1;
        if cursor == "0" || rounds > 1000 {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
    let Reply::Array(parts) = t.run("SCAN 0 TYPE hash COUNT 10000") else {
        panic!()
    };
    assert_eq!(parts[1], arr(&[b("hash")]));
    assert_eq!(t.run("SCAN x"), e("ERR invalid cursor"));
    assert_eq!(t.run("SCAN 0 COUNT 0"), e("ERR syntax error"));
    assert_eq!(t.run("SCAN 0 BOGUS 1"), e("ERR syntax error"));
}

#[test]
fn hashes() {
    let mut t = t();
    assert_eq!(t.run("HSET h a 1 b 2"), int(2));
    assert_eq!(t.run("HSET h a 3"), int(0));
    assert_eq!(t.run("HGET h a"), b("3"));
    assert_eq!(t.run("HGET h x"), Reply::Nil);
    assert_eq!(t.run("HMGET h a x b"), arr(&[b("3"), Reply::Nil, b("2")]));
    assert_eq!(
        t.run("HGETALL h"),
        Reply::Map(vec![(b("a"), b("3")), (b("b"), b("2"))])
    );
    assert_eq!(t.run("HGETALL nope"), Reply::Map(vec![]));
    assert_eq!(t.run("HLEN h"), int(2));
    assert_eq!(t.run("HEXISTS h a"), int(1));
    assert_eq!(t.run("HEXISTS h z"), int(0));
    assert_eq!(t.run("HKEYS h"), arr(&[b("a"), b("b")]));
    assert_eq!(t.run("HVALS h"), arr(&[b("3"), b("2")]));
    assert_eq!(t.run("HINCRBY h a 5"), int(8));
    assert_eq!(t.run("HINCRBY h n -1"), int(-1));
    t.run("HSET h s x");
    assert_eq!(
        t.run("HINCRBY h s 1"),
        e("ERR hash value is not an integer")
    );
    assert_eq!(t.run("HINCRBY h a x"), e(errors::NOT_INTEGER));
    assert_eq!(t.run("HDEL h a n s x"), int(3));
    assert_eq!(t.run("HDEL h b"), int(1));
    assert_eq!(t.run("EXISTS h"), int(0));
    assert_eq!(
        t.run("HSET h a"),
        e("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        t.run("HSET h a 1 b"),
        e("ERR wrong number of arguments for 'hset' command")
    );
    t.run("SET s v");
    assert_eq!(t.run("HSET s a 1"), e(errors::WRONGTYPE));
    assert_eq!(t.run("HGET s a"), e(errors::WRONGTYPE));
    assert_eq!(t.run("GET s"), b("v"));
    t.run("HSET h2 f v");
    assert_eq!(t.run("GET h2"), e(errors::WRONGTYPE));
}

#[test]
fn lists() {
    let mut t = t();
    assert_eq!(t.run("RPUSH l a b c"), int(3));
    assert_eq!(t.run("LPUSH l z"), int(4));
    assert_eq!(
        t.run("LRANGE l 0 -1"),
        arr(&[b("z"), b("a"), b("b"), b("c")])
    );
    assert_eq!(t.run("LRANGE l -2 100"), arr(&[b("b"), b("c")]));
    assert_eq!(t.run("LRANGE l 5 10"), arr(&[]));
    assert_eq!(t.run("LLEN l"), int(4));
    assert_eq!(t.run("LINDEX l -1"), b("c"));
    assert_eq!(t.run("LPOP l"), b("z"));
    assert_eq!(t.run("RPOP l 2"), arr(&[b("c"), b("b")]));
    assert_eq!(
        t.run("LPOP l -1"),
        e("ERR value is out of range, must be positive")
    );
    assert_eq!(t.run("LPOP l"), b("a"));
    assert_eq!(t.run("EXISTS l"), int(0));
    assert_eq!(t.run("LPOP l"), Reply::Nil);
    assert_eq!(t.run("LPOP l 2"), Reply::NilArray);
    t.run("SET s v");
    assert_eq!(t.run("LPUSH s a"), e(errors::WRONGTYPE));
}

/// GET and LRANGE write into a RESP output buffer directly: the bytes are
/// what encoding their [`Reply`] (the native protocol's path) gives, and
/// their errors are counted like every command's.
#[test]
fn lrange_and_get_write_into_the_output_as_encode_would() {
    let mut t = t();
    t.run("RPUSH l a bb ccc");
    t.run("RPUSH l ''");
    t.run("SET s value");
    let lines = [
        "LRANGE l 0 -1",
        "LRANGE l -2 100",
        "LRANGE l 1 1",
        "LRANGE l 3 1",
        "LRANGE l 10 20",
        "LRANGE l -100 -5",
        "LRANGE l -9223372036854775808 9223372036854775807",
        "LRANGE missing 0 -1",
        "LRANGE s 0 -1",
        "LRANGE l x 1",
        "GET s",
        "GET missing",
        "GET l",
    ];
    for resp3 in [false, true] {
        t.client.resp3 = resp3;
        for line in lines {
            let args: Vec<Bytes> = crate::resp::args::split_args(line)
                .unwrap()
                .into_iter()
                .map(Bytes::from)
                .collect();
            let mut direct = bytes::BytesMut::new();
            let mut ctx = Ctx {
                cache: &t.cache,
                client: &mut t.client,
                now_ms: t.now,
                access: t.access,
            };
            assert!(execute_into(&mut ctx, lookup(&args[0]), &args, &mut direct));
            let mut expected = bytes::BytesMut::new();
            crate::resp::codec::encode(&t.run(line), resp3, &mut expected);
            assert_eq!(direct, expected, "{line}");
        }
    }
    assert_eq!(t.run("LRANGE l 1 2"), arr(&[b("bb"), b("ccc")]));
    let Reply::Bulk(info) = t.run("INFO errorstats") else {
        panic!("INFO answers a bulk string");
    };
    // LRANGE s and GET l (WRONGTYPE), LRANGE l x 1 (ERR): run twice in
    // each of two passes.
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains("errorstat_WRONGTYPE:count=8"), "{info}");
    assert!(info.contains("errorstat_ERR:count=4"), "{info}");
}

#[test]
fn server_commands() {
    let mut t = t();
    assert_eq!(t.run("PING"), Reply::Simple("PONG".into()));
    assert_eq!(t.run("PING hi"), b("hi"));
    assert_eq!(t.run("ECHO x"), b("x"));
    assert_eq!(t.run("SELECT 0"), ok());
    assert_eq!(t.run("SELECT 16"), e("ERR DB index is out of range"));
    assert_eq!(t.run("SELECT -1"), e("ERR DB index is out of range"));
    assert_eq!(t.run("SELECT x"), e(errors::NOT_INTEGER));
    assert_eq!(
        t.run("FOO a b"),
        e("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
    );
    assert_eq!(
        t.run("FOO"),
        e("ERR unknown command 'FOO', with args beginning with: ")
    );
    let Reply::Bulk(info) = t.run("INFO") else {
        panic!()
    };
    let info = String::from_utf8(info.to_vec()).unwrap();
    for field in [
        "# Server",
        "redis_version:",
        "connected_clients:",
        "used_memory:",
        "evicted_keys:",
        "expired_keys:",
        "keyspace_hits:",
        "keyspace_misses:",
        "instantaneous_ops_per_sec:",
        "# Keyspace",
    ] {
        assert!(info.contains(field), "{field} missing from {info}");
    }
    t.run("SET k v");
    let Reply::Bulk(info) = t.run("INFO keyspace") else {
        panic!()
    };
    assert_eq!(
        &info[..],
        b"# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"
    );
    assert_eq!(
        t.run("CONFIG GET save"),
        Reply::Map(vec![(b("save"), b(""))])
    );
    assert_eq!(
        t.run("CONFIG GET maxmemory"),
        Reply::Map(vec![(b("maxmemory"), b("0"))])
    );
    assert_eq!(
        t.run("CONFIG GET"),
        e("ERR wrong number of arguments for 'config|get' command")
    );
    assert_eq!(
        t.run("CONFIG FOO"),
        Reply::error("ERR unknown subcommand 'FOO'. Try CONFIG HELP.".into())
    );
    let Reply::Map(hello) = t.run("HELLO 3") else {
        panic!()
    };
    assert!(hello.contains(&(b("proto"), int(3))));
    assert!(t.client.resp3);
    t.run("HELLO 2");
    assert!(!t.client.resp3);
    assert_eq!(t.run("HELLO 4"), e("NOPROTO unsupported protocol version"));
    assert_eq!(t.run("CLIENT SETNAME me"), ok());
    assert_eq!(t.run("CLIENT GETNAME"), b("me"));
    assert_eq!(
        t.run("CLIENT SETNAME 'a b'"),
        e("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert_eq!(t.run("CLIENT SETINFO LIB-NAME redis-py"), ok());
    assert_eq!(t.run("CLIENT ID"), int(0));
    assert_eq!(t.run("COMMAND COUNT"), int(COMMANDS.len() as i64));
    assert!(matches!(t.run("COMMAND DOCS"), Reply::Map(v) if v.len() == COMMANDS.len()));
    assert!(matches!(t.run("COMMAND"), Reply::Array(v) if v.len() == COMMANDS.len()));
}

#[test]
fn maxmemory_noeviction_refuses_writes_but_allows_reads() {
    let mut t = limited(2000, Policy::NoEviction);
    for i in 0..30 {
        t.run(&format!("SET key{i} 0123456789"));
    }
    assert_eq!(t.run("SET more v"), e(errors::OOM));
    assert_eq!(t.run("GET key0"), b("0123456789"));
    assert_eq!(t.run("DEL key0"), int(1));
}

#[test]
fn maxmemory_allkeys_lru_evicts() {
    let mut t = limited(5000, Policy::AllKeysLru);
    for i in 0..200 {
        assert_eq!(t.run(&format!("SET key{i} 0123456789")), ok());
    }
    assert!(t.cache.store.used_memory() <= 5000 + 200);
    let Reply::Bulk(info) = t.run("INFO stats") else {
        panic!()
    };
    let info = String::from_utf8(info.to_vec()).unwrap();
    assert!(!info.contains("evicted_keys:0\r\n"), "{info}");
}

#[test]
fn glob_patterns_in_keys_match_redis() {
    let mut t = t();
    t.run("MSET hello 1 hallo 2 hxllo 3 hllo 4 heeeello 5");
    let count = |t: &mut T, p: &str| match t.run(&format!("KEYS {p}")) {
        Reply::Array(v) => v.len(),
        _ => panic!(),
    };
    assert_eq!(count(&mut t, "h?llo"), 3);
    assert_eq!(count(&mut t, "h*llo"), 5);
    assert_eq!(count(&mut t, "h[ae]llo"), 2);
    assert_eq!(count(&mut t, "h[^e]llo"), 2);
    assert_eq!(count(&mut t, "h[a-b]llo"), 1);
}

/// Every command and subcommand has a group, a version, a summary and a
/// syntax that parses, renders back to itself and agrees with the arity;
/// a container's syntax is the choice of its subcommands' names.
#[test]
fn every_command_is_documented() {
    use super::syntax::{max_args, min_args, parse, render};
    let check = |name: &str, arity: i32, before: i32, doc: &Doc| {
        assert!(!doc.summary.is_empty(), "{name}: no summary");
        assert!(!doc.summary.contains('\n'), "{name}: summary on one line");
        assert!(
            doc.since.split('.').count() == 3
                && doc.since.split('.').all(|p| p.parse::<u32>().is_ok()),
            "{name}: since {:?}",
            doc.since
        );
        let args = parse(doc.syntax).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            render(&args),
            doc.syntax,
            "{name}: syntax does not round-trip"
        );
        // Arity counts the name (and a subcommand's container).
        let (min, max) = (min_args(&args) as i32 + before, max_args(&args));
        if arity >= 0 {
            assert_eq!(
                (min, max.map(|m| m as i32 + before)),
                (arity, Some(arity)),
                "{name}: syntax vs arity"
            );
        } else {
            assert_eq!(min, -arity, "{name}: syntax vs arity");
        }
    };
    for spec in COMMANDS {
        check(spec.name, spec.arity, 1, &spec.doc);
        if spec.subcommands.is_empty() {
            continue;
        }
        let names: Vec<String> = spec
            .subcommands
            .iter()
            .map(|s| s.name.to_uppercase())
            .collect();
        let choice = format!("<{}>", names.join("|"));
        let optional = format!("[{}]", names.join("|"));
        assert!(
            spec.doc.syntax == choice || spec.doc.syntax == optional,
            "{}: syntax should be {choice}",
            spec.name
        );
        for sub in spec.subcommands {
            check(
                &format!("{}|{}", spec.name, sub.name),
                sub.arity,
                2,
                &sub.doc,
            );
            assert_eq!(sub.doc.group, spec.doc.group, "{}|{}", spec.name, sub.name);
        }
    }
}

/// Each documented subcommand is one the handler knows.
#[test]
fn every_subcommand_is_implemented() {
    let mut t = t();
    for spec in COMMANDS {
        for sub in spec.subcommands {
            // The fewest arguments the arity allows, as placeholders.
            let n = sub.arity.unsigned_abs() as usize - 2;
            let line = format!("{} {} {}", spec.name, sub.name, vec!["x"; n].join(" "));
            let reply = if spec.kind == Kind::Conn {
                let args: Vec<Bytes> = line
                    .split_whitespace()
                    .map(|a| Bytes::from(a.to_owned()))
                    .collect();
                t.cache.pubsub.introspect(&args)
            } else {
                t.run(&line)
            };
            if let Reply::Error(e) = &reply {
                assert!(!e.contains("unknown subcommand"), "{line}: {e}");
            }
        }
    }
}

#[test]
fn command_docs_describe_arguments_like_redis() {
    let mut t = t();
    let Reply::Map(docs) = t.run("COMMAND DOCS set nosuch") else {
        panic!()
    };
    assert_eq!(docs.len(), 1, "unknown names are left out");
    let (name, Reply::Map(fields)) = &docs[0] else {
        panic!()
    };
    assert_eq!(name, &b("set"));
    let field = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == &b(k))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("summary"), Some(b("Set the string value of a key")));
    assert_eq!(field("group"), Some(b("string")));
    assert_eq!(field("since"), Some(b("1.0.0")));
    let Some(Reply::Array(args)) = field("arguments") else {
        panic!("{fields:?}")
    };
    assert_eq!(args.len(), 5);
    assert_eq!(
        args[2],
        Reply::Map(vec![
            (b("name"), b("nx_xx")),
            (b("type"), b("oneof")),
            (
                b("flags"),
                Reply::Array(vec![Reply::Simple("optional".into())])
            ),
            (
                b("arguments"),
                Reply::Array(vec![
                    Reply::Map(vec![
                        (b("name"), b("nx")),
                        (b("type"), b("pure-token")),
                        (b("token"), b("NX"))
                    ]),
                    Reply::Map(vec![
                        (b("name"), b("xx")),
                        (b("type"), b("pure-token")),
                        (b("token"), b("XX"))
                    ]),
                ])
            ),
        ])
    );
    let Reply::Map(docs) = t.run("COMMAND DOCS config") else {
        panic!()
    };
    let Reply::Map(fields) = &docs[0].1 else {
        panic!()
    };
    assert!(fields.iter().all(|(k, _)| k != &b("arguments")));
    let subs = fields
        .iter()
        .find(|(k, _)| k == &b("subcommands"))
        .map(|(_, v)| v);
    assert!(
        matches!(subs, Some(Reply::Map(m)) if m[0].0 == b("config|get")),
        "{subs:?}"
    );
}

#[test]
fn info_prints_each_listed_section() {
    let mut t = t();
    for section in INFO_SECTIONS {
        let Reply::Bulk(text) = t.run(&format!("INFO {section}")) else {
            panic!()
        };
        let text = String::from_utf8(text.to_vec()).unwrap();
        let header = text.lines().next().unwrap_or_default().to_lowercase();
        assert_eq!(header, format!("# {section}"), "{text}");
    }
    let Reply::Bulk(all) = t.run("INFO") else {
        panic!()
    };
    let headers: Vec<String> = String::from_utf8(all.to_vec())
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("# ").map(str::to_lowercase))
        .collect();
    assert_eq!(headers, INFO_SECTIONS);
    assert_eq!(t.run("INFO nosuch"), Reply::Bulk(Bytes::new()));
}

#[test]
fn databases_are_separate() {
    let mut t = t();
    assert_eq!(t.run("SET k zero"), ok());
    assert_eq!(t.run("SELECT 9"), ok());
    assert_eq!(t.run("GET k"), Reply::Nil);
    assert_eq!(t.run("SET k nine"), ok());
    assert_eq!(t.run("DBSIZE"), int(1));
    assert_eq!(t.run("SWAPDB 0 9"), ok());
    assert_eq!(t.run("GET k"), b("zero"));
    assert_eq!(t.run("SWAPDB 0 16"), e("ERR invalid second DB index"));
    assert_eq!(t.run("SWAPDB x 1"), e("ERR invalid first DB index"));
    // MOVE: the TTL goes along; a key already there stops it.
    assert_eq!(t.run("PEXPIRE k 5000"), int(1));
    assert_eq!(t.run("MOVE k 3"), int(1));
    assert_eq!(t.run("EXISTS k"), int(0));
    assert_eq!(
        t.run("MOVE k 9"),
        e("ERR source and destination objects are the same")
    );
    assert_eq!(t.run("SELECT 3"), ok());
    assert_eq!(t.run("PTTL k"), int(5000));
    assert_eq!(t.run("SET other x"), ok());
    assert_eq!(t.run("SELECT 0"), ok());
    assert_eq!(t.run("SET other y"), ok());
    assert_eq!(t.run("MOVE other 3"), int(0));
    assert_eq!(t.run("MOVE nothing 3"), int(0));
    assert_eq!(t.run("MOVE other 99"), e("ERR DB index is out of range"));
    // COPY … DB, REPLACE.
    assert_eq!(
        t.run("COPY other other"),
        e("ERR source and destination objects are the same")
    );
    assert_eq!(t.run("COPY other copied DB 3"), int(1));
    assert_eq!(t.run("COPY other copied DB 3"), int(0));
    assert_eq!(t.run("COPY other k DB 3 REPLACE"), int(1));
    assert_eq!(t.run("COPY other mine"), int(1));
    assert_eq!(t.run("GET mine"), b("y"));
    assert_eq!(t.run("COPY other x DB 1 FOO"), e(errors::SYNTAX));
    assert_eq!(t.run("SELECT 3"), ok());
    assert_eq!(t.run("GET copied"), b("y"));
    assert_eq!(t.run("PTTL k"), int(-1));
    // INFO keyspace lists each database with keys.
    let Reply::Bulk(info) = t.run("INFO keyspace") else {
        panic!()
    };
    let info = String::from_utf8(info.to_vec()).unwrap();
    // db0 holds what SWAPDB brought from 9 (k), other and mine.
    assert!(info.contains("db0:keys=3,expires=0"), "{info}");
    assert!(info.contains("db3:keys=3,expires=0"), "{info}");
    // FLUSHDB empties the selected database only; FLUSHALL all of them.
    assert_eq!(t.run("FLUSHDB"), ok());
    assert_eq!(t.run("DBSIZE"), int(0));
    assert_eq!(t.run("SELECT 0"), ok());
    assert_eq!(t.run("DBSIZE"), int(3));
    assert_eq!(t.run("SELECT 9"), ok());
    assert_eq!(t.run("FLUSHALL"), ok());
    assert_eq!(t.run("SELECT 0"), ok());
    assert_eq!(t.run("DBSIZE"), int(0));
}

#[test]
fn config_get_and_set() {
    let mut t = t();
    assert_eq!(
        t.run("CONFIG SET maxmemory 10mb maxmemory-policy allkeys-lru"),
        ok()
    );
    assert_eq!(t.cache.store.max_memory(), 10 * 1024 * 1024);
    assert_eq!(
        t.run("CONFIG GET maxmemory"),
        Reply::Map(vec![(b("maxmemory"), b("10485760"))])
    );
    assert_eq!(
        t.run("CONFIG GET databases"),
        Reply::Map(vec![(b("databases"), b("16"))])
    );
    assert_eq!(
        t.run("CONFIG SET foo bar"),
        e("ERR Unknown option or number of arguments for CONFIG SET - 'foo'")
    );
    assert_eq!(t.run("CONFIG SET set-max-intset-entries 512"), ok());
    assert_eq!(t.run("FUNCTION FLUSH"), ok());
}

#[test]
fn object_and_memory_usage() {
    let mut t = t();
    assert_eq!(t.run("SET n 12345"), ok());
    assert_eq!(t.run("SET s hello"), ok());
    assert_eq!(t.run("OBJECT ENCODING n"), b("int"));
    assert_eq!(t.run("OBJECT ENCODING s"), b("embstr"));
    assert_eq!(t.run("OBJECT ENCODING nothing"), Reply::Nil);
    assert_eq!(t.run("OBJECT REFCOUNT s"), int(1));
    assert_eq!(t.run("OBJECT IDLETIME s"), int(0));
    assert!(t.run("OBJECT FREQ s").is_error());
    assert!(t.run("OBJECT NOPE s").is_error());
    assert_eq!(t.run("SADD set 1 2 3"), int(3));
    assert_eq!(t.run("OBJECT ENCODING set"), b("intset"));
    assert_eq!(t.run("SADD set a"), int(1));
    assert_eq!(t.run("OBJECT ENCODING set"), b("hashtable"));
    let Reply::Integer(n) = t.run("MEMORY USAGE s") else {
        panic!()
    };
    assert!(n > 5);
    assert_eq!(t.run("MEMORY USAGE nothing"), Reply::Nil);
}

#[test]
fn sets() {
    let mut t = t();
    assert_eq!(t.run("SADD s a b c a"), int(3));
    assert_eq!(t.run("SCARD s"), int(3));
    assert_eq!(t.run("SISMEMBER s a"), int(1));
    assert_eq!(
        t.run("SMISMEMBER s a x"),
        Reply::Array(vec![int(1), int(0)])
    );
    assert_eq!(t.run("SREM s a x"), int(1));
    assert_eq!(t.run("TYPE s"), Reply::Simple("set".into()));
    assert_eq!(t.run("SET str v"), ok());
    assert_eq!(t.run("SADD str a"), e(errors::WRONGTYPE));
    assert_eq!(t.run("SINTER s str"), e(errors::WRONGTYPE));
    assert_eq!(t.run("SADD t b z"), int(2));
    assert_eq!(t.run("SINTER s t"), Reply::Array(vec![b("b")]));
    assert_eq!(t.run("SINTER s t missing"), Reply::Array(vec![]));
    assert_eq!(t.run("SINTERCARD 2 s t"), int(1));
    assert_eq!(
        t.run("SINTERCARD 0 s"),
        e("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        t.run("SINTERCARD 3 s t"),
        e("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        t.run("SINTERCARD 2 s t LIMIT -1"),
        e("ERR LIMIT can't be negative")
    );
    assert_eq!(t.run("SUNIONSTORE u s t"), int(3));
    assert_eq!(t.run("SDIFFSTORE d s t"), int(1));
    assert_eq!(t.run("SMEMBERS d"), Reply::Array(vec![b("c")]));
    // An empty result deletes the destination.
    assert_eq!(t.run("SINTERSTORE d s missing"), int(0));
    assert_eq!(t.run("EXISTS d"), int(0));
    assert_eq!(t.run("SMOVE s t c"), int(1));
    assert_eq!(t.run("SMOVE s t nope"), int(0));
    assert_eq!(t.run("SMOVE s str b"), e(errors::WRONGTYPE));
    assert_eq!(t.run("SPOP s"), b("b"));
    assert_eq!(t.run("EXISTS s"), int(0));
    assert_eq!(t.run("SPOP s"), Reply::Nil);
    assert_eq!(t.run("SPOP s 2"), Reply::Array(vec![]));
    assert_eq!(
        t.run("SPOP t -1"),
        e("ERR value is out of range, must be positive")
    );
    let Reply::Array(all) = t.run("SRANDMEMBER u -10") else {
        panic!()
    };
    assert_eq!(all.len(), 10);
    let Reply::Array(some) = t.run("SRANDMEMBER u 2") else {
        panic!()
    };
    assert_eq!(some.len(), 2);
    assert_ne!(some[0], some[1]);
    let Reply::Array(scan) = t.run("SSCAN u 0 COUNT 100") else {
        panic!()
    };
    assert_eq!(scan[0], b("0"));
    assert_eq!(t.run("SSCAN u x"), e("ERR invalid cursor"));
}

fn d(x: f64) -> Reply {
    Reply::Double(x)
}

fn av(items: Vec<Reply>) -> Reply {
    Reply::Array(items)
}

#[test]
fn sorted_sets_add_score_rank() {
    let mut t = t();
    assert_eq!(t.run("ZADD z 1 a 2 b 3 c"), int(3));
    assert_eq!(t.run("ZADD z 1 a"), int(0));
    assert_eq!(t.run("ZADD z CH 5 a 2 b"), int(1));
    assert_eq!(t.run("ZADD z NX 9 a 4 d"), int(1));
    assert_eq!(t.run("ZSCORE z a"), d(5.0));
    assert_eq!(t.run("ZADD z XX 7 e"), int(0));
    assert_eq!(t.run("ZSCORE z e"), Reply::Nil);
    assert_eq!(t.run("ZADD z GT 1 a"), int(0));
    assert_eq!(t.run("ZADD z LT CH 1 a"), int(1));
    assert_eq!(t.run("ZADD z INCR 10 a"), d(11.0));
    assert_eq!(t.run("ZADD z NX INCR 1 a"), Reply::Nil);
    assert_eq!(
        t.run("ZADD z NX XX 1 a"),
        e("ERR XX and NX options at the same time are not compatible")
    );
    assert_eq!(
        t.run("ZADD z GT LT 1 a"),
        e("ERR GT, LT, and/or NX options at the same time are not compatible")
    );
    assert_eq!(
        t.run("ZADD z INCR 1 a 2 b"),
        e("ERR INCR option supports a single increment-element pair")
    );
    assert_eq!(t.run("ZADD z nan a"), e(errors::NOT_FLOAT));
    assert_eq!(t.run("ZADD z 1 a 2"), e(errors::SYNTAX));
    assert_eq!(t.run("ZADD z inf x -inf y"), int(2));
    assert_eq!(
        t.run("ZINCRBY z -inf x"),
        e("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(t.run("ZCARD z"), int(6));
    assert_eq!(t.run("ZRANK z y"), int(0));
    assert_eq!(t.run("ZREVRANK z x"), int(0));
    assert_eq!(t.run("ZRANK z nope"), Reply::Nil);
    assert_eq!(t.run("ZMSCORE z b nope"), av(vec![d(2.0), Reply::Nil]));
    assert_eq!(t.run("ZREM z x y nope"), int(2));
    assert_eq!(t.run("SET s v"), ok());
    assert_eq!(t.run("ZADD s 1 a"), e(errors::WRONGTYPE));
    assert_eq!(t.run("ZSCORE s a"), e(errors::WRONGTYPE));
    assert_eq!(t.run("TYPE z"), Reply::Simple("zset".into()));
}

#[test]
fn sorted_set_ranges() {
    let mut t = t();
    assert_eq!(t.run("ZADD z 1 a 2 b 3 c 4 d"), int(4));
    assert_eq!(
        t.run("ZRANGE z 0 -1"),
        av(vec![b("a"), b("b"), b("c"), b("d")])
    );
    assert_eq!(
        t.run("ZRANGE z 1 2 WITHSCORES"),
        av(vec![b("b"), d(2.0), b("c"), d(3.0)])
    );
    assert_eq!(t.run("ZRANGE z 0 0 REV"), av(vec![b("d")]));
    assert_eq!(t.run("ZREVRANGE z 0 1"), av(vec![b("d"), b("c")]));
    assert_eq!(t.run("ZRANGE z 5 10"), av(vec![]));
    assert_eq!(t.run("ZRANGEBYSCORE z (1 3"), av(vec![b("b"), b("c")]));
    assert_eq!(
        t.run("ZRANGEBYSCORE z -inf +inf LIMIT 1 2"),
        av(vec![b("b"), b("c")])
    );
    assert_eq!(t.run("ZREVRANGEBYSCORE z 3 (1"), av(vec![b("c"), b("b")]));
    assert_eq!(
        t.run("ZRANGE z (4 1 BYSCORE REV LIMIT 0 1"),
        av(vec![b("c")])
    );
    assert_eq!(
        t.run("ZRANGEBYSCORE z x 1"),
        e("ERR min or max is not a float")
    );
    assert_eq!(
        t.run("ZRANGE z 0 1 LIMIT 0 1"),
        e("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    );
    assert_eq!(t.run("ZCOUNT z (1 +inf"), int(3));
    assert_eq!(t.run("ZADD l 0 a 0 b 0 c 0 d"), int(4));
    assert_eq!(t.run("ZRANGEBYLEX l [b (d"), av(vec![b("b"), b("c")]));
    assert_eq!(t.run("ZREVRANGEBYLEX l + [c"), av(vec![b("d"), b("c")]));
    assert_eq!(t.run("ZLEXCOUNT l - +"), int(4));
    assert_eq!(
        t.run("ZRANGEBYLEX l a c"),
        e("ERR min or max not valid string range item")
    );
    assert_eq!(t.run("ZRANGESTORE dst z 1 2"), int(2));
    assert_eq!(t.run("ZRANGE dst 0 -1"), av(vec![b("b"), b("c")]));
    assert_eq!(t.run("ZREMRANGEBYSCORE z 2 3"), int(2));
    assert_eq!(t.run("ZREMRANGEBYRANK z 0 0"), int(1));
    assert_eq!(t.run("ZREMRANGEBYLEX l [a [b"), int(2));
    assert_eq!(t.run("ZPOPMIN z"), av(vec![b("d"), d(4.0)]));
    assert_eq!(t.run("EXISTS z"), int(0));
    assert_eq!(
        t.run("ZPOPMAX l 5"),
        av(vec![b("d"), d(0.0), b("c"), d(0.0)])
    );
    assert_eq!(
        t.run("ZPOPMIN l -1"),
        e("ERR value is out of range, must be positive")
    );
    assert_eq!(t.run("ZADD m 1 a 2 b"), int(2));
    assert_eq!(
        t.run("ZMPOP 1 m MAX COUNT 5"),
        av(vec![
            b("m"),
            av(vec![av(vec![b("b"), d(2.0)]), av(vec![b("a"), d(1.0)])])
        ])
    );
    assert_eq!(t.run("ZMPOP 1 m MIN"), Reply::NilArray);
    assert_eq!(
        t.run("ZMPOP 0 m MIN"),
        e("ERR numkeys should be greater than 0")
    );
}

#[test]
fn sorted_set_algebra() {
    let mut t = t();
    assert_eq!(t.run("ZADD a 1 x 2 y"), int(2));
    assert_eq!(t.run("ZADD b 10 y 20 z"), int(2));
    assert_eq!(t.run("SADD plain z"), int(1));
    assert_eq!(
        t.run("ZUNION 2 a b WITHSCORES"),
        av(vec![b("x"), d(1.0), b("y"), d(12.0), b("z"), d(20.0)])
    );
    assert_eq!(
        t.run("ZINTER 2 a b WEIGHTS 2 1 AGGREGATE MAX WITHSCORES"),
        av(vec![b("y"), d(10.0)])
    );
    assert_eq!(t.run("ZDIFF 2 a b"), av(vec![b("x")]));
    assert_eq!(t.run("ZINTERSTORE out 2 b plain"), int(1));
    assert_eq!(t.run("ZSCORE out z"), d(21.0));
    assert_eq!(t.run("ZUNIONSTORE out 2 nope nothing"), int(0));
    assert_eq!(t.run("EXISTS out"), int(0));
    assert_eq!(t.run("ZINTERCARD 2 a b"), int(1));
    assert_eq!(
        t.run("ZUNION 0 a"),
        e("ERR at least 1 input key is needed for 'zunion' command")
    );
    assert_eq!(
        t.run("ZUNION 1 a WEIGHTS x"),
        e("ERR weight value is not a float")
    );
    assert_eq!(t.run("SET s v"), ok());
    assert_eq!(t.run("ZUNION 2 a s"), e(errors::WRONGTYPE));
    let Reply::Array(scan) = t.run("ZSCAN a 0") else {
        panic!()
    };
    assert_eq!(scan[1], av(vec![b("x"), b("1"), b("y"), b("2")]));
    let Reply::Array(r) = t.run("ZRANDMEMBER a -5 WITHSCORES") else {
        panic!()
    };
    assert_eq!(r.len(), 10);
}

#[test]
fn blocking_pops_answer_at_once_where_they_cannot_block() {
    // Inside EXEC and on the native protocol they do not wait.
    let mut t = t();
    assert_eq!(t.run("BLPOP l 0"), Reply::NilArray);
    assert_eq!(t.run("RPUSH l a b"), int(2));
    assert_eq!(t.run("BLPOP nothing l 1"), av(vec![b("l"), b("a")]));
    assert_eq!(t.run("BRPOP l 1"), av(vec![b("l"), b("b")]));
    assert_eq!(t.run("BLPOP l -1"), e("ERR timeout is negative"));
    assert_eq!(
        t.run("BLPOP l x"),
        e("ERR timeout is not a float or out of range")
    );
    assert_eq!(t.run("ZADD z 1 a 2 b"), int(2));
    assert_eq!(t.run("BZPOPMAX z 0"), av(vec![b("z"), b("b"), d(2.0)]));
    assert_eq!(
        t.run("BZMPOP 0 1 z MIN"),
        av(vec![b("z"), av(vec![av(vec![b("a"), d(1.0)])])])
    );
    assert_eq!(t.run("RPUSH m x y"), int(2));
    assert_eq!(
        t.run("LMPOP 2 none m RIGHT COUNT 5"),
        av(vec![b("m"), av(vec![b("y"), b("x")])])
    );
    assert_eq!(t.run("BLMPOP 0 1 m LEFT"), Reply::NilArray);
    assert_eq!(t.run("SET s v"), ok());
    assert_eq!(t.run("BLPOP s 0"), e(errors::WRONGTYPE));
    assert_eq!(t.run("CLIENT UNBLOCK 12345"), int(0));
    assert_eq!(
        t.run("CLIENT UNBLOCK 12345 MAYBE"),
        e("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    );
}

#[test]
fn doubles_go_out_as_redis_7_0_prints_them() {
    assert_eq!(format_g17(1.5), "1.5");
    assert_eq!(format_g17(2.0), "2");
    assert_eq!(format_g17(0.1), "0.10000000000000001");
    assert_eq!(format_g17(0.820_706_966_249_601_5), "0.82070696624960149");
    assert_eq!(format_g17(-3.25), "-3.25");
    assert_eq!(format_g17(1e17), "1e+17");
    assert_eq!(format_g17(1.5e-7), "1.4999999999999999e-07");
    assert_eq!(format_g17(f64::NEG_INFINITY), "-inf");
    assert_eq!(format_g17(0.0), "0");
}

#[test]
fn hrandfield_and_hincrbyfloat() {
    let mut t = t();
    assert_eq!(t.run("HRANDFIELD nohash"), Reply::Nil);
    assert_eq!(t.run("HRANDFIELD nohash 3"), Reply::Array(vec![]));
    assert_eq!(t.run("HSET h a 1 b 2 c 3"), int(3));
    assert!(matches!(t.run("HRANDFIELD h"), Reply::Bulk(_)));
    assert_eq!(t.run("HRANDFIELD h 0"), Reply::Array(vec![]));
    let Reply::Array(all) = t.run("HRANDFIELD h 10 WITHVALUES") else {
        panic!()
    };
    assert_eq!(all.len(), 6);
    let Reply::Array(repeats) = t.run("HRANDFIELD h -7") else {
        panic!()
    };
    assert_eq!(repeats.len(), 7);
    assert_eq!(
        t.run("HRANDFIELD h -9223372036854775808"),
        Reply::err("ERR value is out of range")
    );
    assert_eq!(
        t.run("HRANDFIELD h 1 WITHSCORES"),
        Reply::err(errors::SYNTAX)
    );
    assert_eq!(t.run("HINCRBYFLOAT h a 0.5"), Reply::bulk(b"1.5"));
    assert_eq!(t.run("HINCRBYFLOAT h new 10.5e2"), Reply::bulk(b"1050"));
    assert_eq!(t.run("HSET h s hello"), int(1));
    assert_eq!(
        t.run("HINCRBYFLOAT h s 1"),
        Reply::err("ERR hash value is not a float")
    );
    assert_eq!(t.run("HINCRBYFLOAT h a x"), Reply::err(errors::NOT_FLOAT));
    assert_eq!(
        t.run("HINCRBYFLOAT h a inf"),
        Reply::err("ERR value is NaN or Infinity")
    );
    // Refused before the key is made.
    assert_eq!(
        t.run("HINCRBYFLOAT fresh f +inf"),
        Reply::err("ERR value is NaN or Infinity")
    );
    assert_eq!(t.run("EXISTS fresh"), int(0));
    // A finite increment that overflows is refused after the sum.
    assert_eq!(t.run("HSET h big 1.7e308"), int(1));
    assert_eq!(
        t.run("HINCRBYFLOAT h big 1.7e308"),
        Reply::err("ERR increment would produce NaN or Infinity")
    );
}
