//! Scripting semantics against Redis 7.0's (its test suite's
//! expectations, unit/scripting).

use bytes::Bytes;

use super::super::{Client, Ctx, execute};
use crate::cache::reply::Reply;
use crate::cache::{Access, Cache, CacheConfig};

struct T {
    cache: Cache,
    client: Client,
}

fn t() -> T {
    T {
        cache: Cache::new(CacheConfig::default(), std::path::Path::new(".")),
        client: Client::default(),
    }
}

impl T {
    fn run(&mut self, args: &[&str]) -> Reply {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
        let mut ctx = Ctx {
            cache: &self.cache,
            client: &mut self.client,
            now_ms: 1_000_000,
            access: Access::Counted,
        };
        execute(&mut ctx, &args)
    }

    fn eval(&mut self, script: &str, rest: &[&str]) -> Reply {
        let mut args = vec!["EVAL", script];
        args.extend_from_slice(rest);
        self.run(&args)
    }

    fn eval_ro(&mut self, script: &str, rest: &[&str]) -> Reply {
        let mut args = vec!["EVAL_RO", script];
        args.extend_from_slice(rest);
        self.run(&args)
    }
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::from(s.to_string()))
}

fn error_text(reply: &Reply) -> String {
    match reply {
        Reply::Error(e) => e.to_string(),
        other => panic!("not an error: {other:?}"),
    }
}

#[test]
fn values_convert_both_ways_as_redis_does() {
    let mut t = t();
    assert_eq!(t.eval("return 'hello'", &["0"]), bulk("hello"));
    assert_eq!(t.eval("return 100.5", &["0"]), Reply::Integer(100));
    assert_eq!(t.eval("return true", &["0"]), Reply::Integer(1));
    assert_eq!(t.eval("return false", &["0"]), Reply::Nil);
    assert_eq!(
        t.eval("return {ok='fine'}", &["0"]),
        Reply::Simple("fine".into())
    );
    assert_eq!(
        t.eval("return {err='ERR this is an error'}", &["0"]),
        Reply::err("ERR this is an error")
    );
    // Arrays stop at the first nil; nested arrays stay nested.
    assert_eq!(
        t.eval("return {1,2,3,'ciao',{1,2},nil,7}", &["0"]),
        Reply::Array(vec![
            Reply::Integer(1),
            Reply::Integer(2),
            Reply::Integer(3),
            bulk("ciao"),
            Reply::Array(vec![Reply::Integer(1), Reply::Integer(2)]),
        ])
    );
    assert_eq!(
        t.eval(
            "return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}",
            &["2", "a", "b", "c", "d"]
        ),
        Reply::Array(vec![bulk("a"), bulk("b"), bulk("c"), bulk("d")])
    );
    // Replies as Lua sees them.
    t.run(&["SET", "x", "0"]);
    assert_eq!(
        t.eval(
            "local v = redis.pcall('incr', KEYS[1]); return {type(v), v}",
            &["1", "x"]
        ),
        Reply::Array(vec![bulk("number"), Reply::Integer(1)])
    );
    assert_eq!(
        t.eval(
            "local v = redis.pcall('get', 'nokey'); return {type(v), v == false}",
            &["0"]
        ),
        Reply::Array(vec![bulk("boolean"), Reply::Integer(1)])
    );
    assert_eq!(
        t.eval("return redis.pcall('set', 'k', 'v')['ok']", &["0"]),
        bulk("OK")
    );
    // A metatable never runs while the reply is built.
    assert_eq!(
        t.eval(
            "local a = {}; setmetatable(a, {__index=function() redis.call('set','y','1') end}); return a",
            &["0"]
        ),
        Reply::Array(vec![])
    );
    assert_eq!(t.run(&["GET", "y"]), Reply::Nil);
}

#[test]
fn redis_call_writes_and_errors_carry_redis_texts() {
    let mut t = t();
    assert_eq!(
        t.eval(
            "return redis.call('set', KEYS[1], ARGV[1])",
            &["1", "k", "v"]
        ),
        Reply::ok()
    );
    assert_eq!(t.run(&["GET", "k"]), bulk("v"));
    let e = error_text(&t.eval("return redis.call('lpush', 'k', 'x')", &["0"]));
    assert!(e.starts_with("WRONGTYPE Operation against a key"), "{e}");
    assert!(e.contains("script: f_"), "{e}");
    let e = error_text(&t.eval("redis.call('nosuchcommand')", &["0"]));
    assert!(
        e.contains("Unknown Redis command called from script"),
        "{e}"
    );
    let e = error_text(&t.eval("redis.call('get','a','b','c')", &["0"]));
    assert!(
        e.contains("Wrong number of args calling Redis command from script"),
        "{e}"
    );
    let e = error_text(&t.eval("return redis.call()", &["0"]));
    assert!(e.contains("one argument"), "{e}");
    let e = error_text(&t.eval("return redis.pcall('blpop', 'x', 0)", &["0"]));
    assert!(e.contains("not allowed"), "{e}");
    let e = error_text(&t.eval("return redis.call('ping', {})", &["0"]));
    assert!(e.starts_with("ERR Lua redis lib command arguments must be strings or integers"));
    // pcall gives the error as a table.
    assert_eq!(
        t.eval("return redis.pcall('select', 99)['err']", &["0"]),
        bulk("ERR DB index is out of range")
    );
    // SELECT inside a script does not change the caller's database.
    t.eval(
        "redis.call('select', 5); redis.call('set', 'k', 'five')",
        &["0"],
    );
    assert_eq!(t.run(&["GET", "k"]), bulk("v"));
    assert_eq!(
        t.run(&["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"]),
        bulk("v")
    );
    let e = error_text(&t.run(&["EVAL_RO", "redis.call('del', KEYS[1])", "1", "k"]));
    assert!(
        e.starts_with("ERR Write commands are not allowed from read-only scripts"),
        "{e}"
    );
    assert_eq!(
        error_text(&t.eval("return 1", &["-12"])),
        "ERR Number of keys can't be negative"
    );
    assert_eq!(
        error_text(&t.eval("return 1", &["3", "a"])),
        "ERR Number of keys can't be greater than number of args"
    );
    assert!(error_text(&t.eval("return (", &["0"])).starts_with("ERR Error compiling script"));
    assert_eq!(
        error_text(&t.eval("return redis.error_reply('MY_ERR custom')", &["0"])),
        "MY_ERR custom"
    );
    assert_eq!(
        t.eval("return redis.status_reply('MY_OK')", &["0"]),
        Reply::Simple("MY_OK".into())
    );
}

#[test]
fn globals_are_read_only_and_unsafe_functions_absent() {
    let mut t = t();
    let e = error_text(&t.eval("return a", &["0"]));
    assert!(
        e.contains("Script attempted to access nonexistent global variable 'a'"),
        "{e}"
    );
    for script in [
        "a = 10",
        "setmetatable(_G, {})",
        "local g = getmetatable(_G); g.__index = {}",
        "redis = function() return 1 end",
        "_G = {}",
        "redis.call = function() return 1 end",
        "bit.lshift = function() return 1 end",
    ] {
        let e = error_text(&t.eval(script, &["0"]));
        assert!(
            e.contains("Attempt to modify a readonly table"),
            "{script}: {e}"
        );
    }
    for name in ["loadfile", "dofile", "print", "debug", "os", "io"] {
        let e = error_text(&t.eval(&format!("return {name}"), &["0"]));
        assert!(e.contains("nonexistent global variable"), "{name}: {e}");
    }
    let e = error_text(&t.eval(
        "return loadstring(string.dump(function() return 1 end))()",
        &["0"],
    ));
    assert!(e.contains("attempt to call a nil value"), "{e}");
    assert_eq!(t.eval("return _G", &["0"]), Reply::Array(vec![]));
    assert_eq!(
        t.eval(
            "return {redis.sha1hex(''), redis.sha1hex('Pizza & Mandolino')}",
            &["0"]
        ),
        Reply::Array(vec![
            bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            bulk("74822d82031af7493c20eefa13bd07ec4fada82f"),
        ])
    );
    assert_eq!(
        t.eval("return bit.bor(1,2,4,8,16,32,64,128)", &["0"]),
        Reply::Integer(255)
    );
    assert_eq!(t.eval("return bit.tohex(65535, -4)", &["0"]), bulk("FFFF"));
}

#[test]
fn script_cache_evalsha_load_exists_flush() {
    let mut t = t();
    t.run(&["SET", "mykey", "myval"]);
    assert_eq!(
        t.eval("return redis.call('get',KEYS[1])", &["1", "mykey"]),
        bulk("myval")
    );
    let sha = "fd758d1589d044dd850a6f05d52f2eefd27f033f";
    assert_eq!(t.run(&["EVALSHA", sha, "1", "mykey"]), bulk("myval"));
    assert_eq!(
        t.run(&["EVALSHA", &sha.to_uppercase(), "1", "mykey"]),
        bulk("myval")
    );
    assert!(error_text(&t.run(&["EVALSHA", "NotValidShaSUM", "0"])).starts_with("NOSCRIPT"));
    assert_eq!(
        t.run(&["SCRIPT", "LOAD", "return 'loaded'"]),
        bulk("b534286061d4b9e4026607613b95c06c06015ae8")
    );
    assert_eq!(
        t.run(&[
            "SCRIPT",
            "EXISTS",
            sha,
            "a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bda"
        ]),
        Reply::Array(vec![Reply::Integer(1), Reply::Integer(0)])
    );
    assert_eq!(t.run(&["SCRIPT", "FLUSH"]), Reply::ok());
    assert!(error_text(&t.run(&["EVALSHA", sha, "1", "mykey"])).starts_with("NOSCRIPT"));
    assert_eq!(
        error_text(&t.run(&["SCRIPT", "KILL"])),
        "NOTBUSY No scripts in execution right now."
    );
    // Shebangs.
    assert_eq!(t.eval("#!lua\nreturn 1", &["0"]), Reply::Integer(1));
    assert!(
        error_text(&t.eval("#!not-lua\nreturn 1", &["0"]))
            .contains("Unexpected engine in script shebang")
    );
    assert!(
        error_text(&t.eval("#!lua badger=data\nreturn 1", &["0"]))
            .contains("Unknown lua shebang option")
    );
    assert!(
        error_text(&t.eval("#!lua flags=allow-oom,what?\nreturn 1", &["0"]))
            .contains("Unexpected flag in script shebang")
    );
    let e = error_text(&t.eval("#!lua flags=no-writes\nredis.call('set','x',1)", &["0"]));
    assert!(
        e.starts_with("ERR Write commands are not allowed from read-only scripts"),
        "{e}"
    );
}

#[test]
fn functions_load_call_list_delete() {
    let mut t = t();
    assert_eq!(t.run(&["FUNCTION", "FLUSH"]), Reply::ok());
    let lib = "#!lua name=test\nredis.register_function('test', function(KEYS, ARGV)\n return redis.call('set', KEYS[1], ARGV[1]) \nend)";
    assert_eq!(t.run(&["FUNCTION", "LOAD", lib]), bulk("test"));
    assert_eq!(
        error_text(&t.run(&["FUNCTION", "LOAD", lib])),
        "ERR Library 'test' already exists"
    );
    assert_eq!(t.run(&["FUNCTION", "LOAD", "REPLACE", lib]), bulk("test"));
    assert_eq!(t.run(&["FCALL", "test", "1", "k", "v"]), Reply::ok());
    assert_eq!(t.run(&["GET", "k"]), bulk("v"));
    assert_eq!(
        error_text(&t.run(&["FCALL_RO", "test", "1", "k", "v"])),
        "ERR Can not execute a script with write flag using *_ro command."
    );
    let ro = "#!lua name=ro\nredis.register_function{function_name='get', callback=function(KEYS, ARGV) return redis.call('get', KEYS[1]) end, flags={'no-writes'}}";
    assert_eq!(t.run(&["FUNCTION", "LOAD", ro]), bulk("ro"));
    assert_eq!(t.run(&["FCALL_RO", "get", "1", "k"]), bulk("v"));
    assert_eq!(
        error_text(&t.run(&["FCALL", "nope", "0"])),
        "ERR Function not found"
    );
    assert_eq!(
        error_text(&t.run(&["FUNCTION", "LOAD", "return 1"])),
        "ERR Missing library metadata"
    );
    assert_eq!(
        error_text(&t.run(&["FUNCTION", "LOAD", "#!lua name=empty\nlocal a = 1"])),
        "ERR No functions registered"
    );
    match t.run(&["FUNCTION", "LIST", "LIBRARYNAME", "r*"]) {
        Reply::Array(libs) => assert_eq!(libs.len(), 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(t.run(&["FUNCTION", "DELETE", "ro"]), Reply::ok());
    assert_eq!(
        error_text(&t.run(&["FUNCTION", "DELETE", "ro"])),
        "ERR Library not found"
    );
    assert_eq!(t.run(&["FUNCTION", "FLUSH", "ASYNC"]), Reply::ok());
    assert_eq!(
        error_text(&t.run(&["FCALL", "test", "0"])),
        "ERR Function not found"
    );
}

#[test]
fn struct_is_there_and_library_errors_read_as_lua_errors() {
    let mut t = t();
    assert_eq!(
        t.eval(
            "return struct.unpack('>I2', struct.pack('>I2', 258))",
            &["0"]
        ),
        Reply::Integer(258)
    );
    assert_eq!(
        t.eval("return struct.size('!bd')", &["0"]),
        Reply::Integer(16)
    );
    let e = error_text(&t.eval("struct.pack = nil", &["0"]));
    assert!(e.contains("Attempt to modify a readonly table"), "{e}");
    // A Rust library's error is placed like luaL_error's, without mlua's
    // wrapping.
    let e = error_text(&t.eval("\nreturn struct.pack('z')", &["0"]));
    assert!(
        e.starts_with(
            "ERR user_script:2: bad argument #1 to 'pack' (invalid format option 'z') script: f_"
        ),
        "{e}"
    );
}

#[test]
fn calls_with_many_arguments_allow_oom_and_sorted_sets() {
    let mut t = t();
    // unpack of ~8000 values goes past a C function's stack slots.
    assert_eq!(
        t.eval(
            "local a = {} for i=1,7999 do a[i] = 1 end return redis.call('lpush', 'l', unpack(a))",
            &["0"]
        ),
        Reply::Integer(7999)
    );
    // SORT BY a constant of a set is ordered inside a script.
    t.run(&["SADD", "s", "b", "aa", "a", "c"]);
    assert_eq!(
        t.eval("return redis.call('sort', KEYS[1], 'by', '_')", &["1", "s"]),
        Reply::Array(["a", "aa", "b", "c"].map(bulk).to_vec())
    );
    t.run(&["CONFIG", "SET", "maxmemory", "1"]);
    let e = error_text(&t.eval("return redis.call('set', 'x', 1)", &["1", "x"]));
    assert!(e.starts_with("OOM "), "{e}");
    assert_eq!(
        t.eval(
            "#!lua flags=allow-oom\nreturn redis.call('set', 'x', 1)",
            &["1", "x"]
        ),
        Reply::Simple("OK".into())
    );
}

#[test]
fn a_commands_error_counts_once_in_the_error_stats() {
    let mut t = t();
    t.run(&["SET", "x", "1"]);
    t.run(&["CONFIG", "RESETSTAT"]);
    let e = error_text(&t.eval("return redis.call('lpush', 'x', 1)", &["1", "x"]));
    assert!(e.starts_with("WRONGTYPE"), "{e}");
    let e = error_text(&t.eval_ro("return redis.call('set', 'x', 1)", &["1", "x"]));
    assert!(e.contains("Write commands are not allowed"), "{e}");
    let Reply::Bulk(info) = t.run(&["INFO", "errorstats"]) else {
        panic!("INFO")
    };
    let info = String::from_utf8_lossy(&info).into_owned();
    assert!(info.contains("errorstat_WRONGTYPE:count=1\r\n"), "{info}");
    assert!(info.contains("errorstat_ERR:count=1\r\n"), "{info}");
    let Reply::Bulk(info) = t.run(&["INFO", "commandstats"]) else {
        panic!("INFO")
    };
    let info = String::from_utf8_lossy(&info).into_owned();
    assert!(info.contains("cmdstat_set:calls=0,"), "{info}");
    assert!(info.contains("cmdstat_eval:calls=1,"), "{info}");
    assert!(info.contains("cmdstat_eval_ro:calls=1,"), "{info}");
    let eval = info
        .lines()
        .find(|l| l.starts_with("cmdstat_eval:"))
        .unwrap();
    assert!(eval.ends_with("rejected_calls=0,failed_calls=1"), "{eval}");
    let set = info
        .lines()
        .find(|l| l.starts_with("cmdstat_set:"))
        .unwrap();
    assert!(set.ends_with("rejected_calls=1,failed_calls=0"), "{set}");
}
