//! `agora cache …` end to end: the CLI over the native protocol, exit
//! codes and --json, binary-safe stdin, the prompt on a pipe, and pub/sub
//! bridged between RESP and native subscribers.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Output, Stdio};
use std::time::Duration;

use agora_wire::{BaseOp, CacheOp, CacheReply, CacheValue, ErrorCode, Reply};
use serde_bytes::ByteBuf;
use serde_json::{Value, json};

use crate::support::{Daemon, Home, rt, wait_for};

/// A daemon and a home whose CLI is signed in as `alice`.
fn setup() -> (Home, Daemon) {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "alice", "alice-password");
    (home, daemon)
}

fn cache(home: &Home, daemon: &Daemon, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = home.cmd();
    cmd.args(["--addr", &daemon.addr, "cache"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("spawn agora");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().expect("wait agora")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

#[test]
fn set_get_ttl_expire_incr_del_keys_scan_info() {
    let (home, d) = setup();
    let run = |args: &[&str]| cache(&home, &d, args, None);

    let out = run(&["set", "greeting", "hello"]);
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "OK\n"), "{out:?}");
    let out = run(&["get", "greeting"]);
    assert_eq!((code(&out), out.stdout.as_slice()), (0, &b"hello"[..]));
    let out = run(&["--json", "get", "greeting"]);
    assert_eq!(
        json(&out),
        serde_json::json!({"key": "greeting", "value": "hello"})
    );

    // A missing key: exit 1, nothing on stdout.
    let out = run(&["get", "missing"]);
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());

    // --nx refuses an existing key (exit 1), --xx a missing one.
    assert_eq!(code(&run(&["set", "greeting", "x", "--nx"])), 1);
    assert_eq!(code(&run(&["set", "nothere", "x", "--xx"])), 1);
    let out = run(&["--json", "set", "fresh", "v", "--nx", "--ttl", "100s"]);
    assert_eq!(json(&out), serde_json::json!({"key": "fresh", "set": true}));

    let out = run(&["--json", "ttl", "fresh"]);
    let ttl = json(&out)["ttl_ms"].as_i64().unwrap();
    assert!((90_000..=100_000).contains(&ttl), "{ttl}");
    let out = run(&["ttl", "greeting"]);
    assert_eq!(stdout(&out), "none\n");
    assert_eq!(code(&run(&["ttl", "missing"])), 1);

    assert_eq!(code(&run(&["expire", "greeting", "500ms"])), 0);
    let out = run(&["--json", "ttl", "greeting"]);
    assert!(json(&out)["ttl_ms"].as_i64().unwrap() <= 500);
    assert_eq!(code(&run(&["expire", "missing", "10s"])), 1);
    assert_eq!(code(&run(&["expire", "x", "soon"])), 2);

    assert_eq!(stdout(&run(&["incr", "n"])), "1\n");
    let out = run(&["--json", "incr", "n", "-5"]);
    assert_eq!(json(&out), serde_json::json!({"key": "n", "value": -4}));
    // A keyspace error is an error: exit 2, the message on stderr.
    let out = run(&["incr", "fresh"]);
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not an integer"),
        "{out:?}"
    );

    for k in ["user:1", "user:2", "other"] {
        assert_eq!(code(&run(&["set", k, "v"])), 0);
    }
    let out = run(&["keys", "user:*"]);
    let mut keys: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    keys.sort();
    assert_eq!(keys, ["user:1", "user:2"]);
    assert_eq!(code(&run(&["keys", "nomatch*"])), 1);
    let out = run(&["--json", "scan", "--match", "user:*", "--count", "1"]);
    let mut keys: Vec<String> = json(&out)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    assert_eq!(keys, ["user:1", "user:2"]);
    assert_eq!(code(&run(&["scan", "--type", "hash"])), 1);

    let out = run(&["--json", "del", "user:1", "user:2", "ghost"]);
    assert_eq!(json(&out), serde_json::json!({"deleted": 2}));

    let out = run(&["info", "server"]);
    assert!(stdout(&out).contains("redis_version:"), "{out:?}");
    let out = run(&["--json", "info"]);
    assert!(json(&out)["keyspace"]["db0"]["keys"].is_u64(), "{out:?}");
}

// See: the "Conventions" issue — `--json` printed nothing for a missing
// key, INFO numbers were strings, `subscribe --pattern` was a boolean
// named like a value flag.
#[test]
fn json_is_always_printed_with_consistent_fields() {
    let (home, d) = setup();
    let run = |args: &[&str]| cache(&home, &d, args, None);
    // "Not found" is `null` and exit 1.
    for args in [
        &["--json", "get", "missing"][..],
        &["--json", "ttl", "missing"],
        &["--json", "expire", "missing", "10s"],
    ] {
        let out = run(args);
        assert_eq!(
            (code(&out), stdout(&out).as_str()),
            (1, "null\n"),
            "{args:?}"
        );
    }
    assert_eq!(code(&run(&["set", "k", "v"])), 0);
    let out = run(&["--json", "expire", "k", "90s"]);
    assert_eq!(
        json(&out),
        serde_json::json!({"key": "k", "ttl_ms": 90_000})
    );
    let out = run(&["--json", "ttl", "k"]);
    assert!(json(&out)["ttl_ms"].as_i64().unwrap() > 80_000, "{out:?}");
    let out = run(&["--json", "set", "k", "w", "--nx"]);
    assert_eq!(
        (code(&out), json(&out)),
        (1, serde_json::json!({"key": "k", "set": false}))
    );
    let out = run(&["--json", "keys", "nomatch*"]);
    assert_eq!(
        (code(&out), json(&out)),
        (1, serde_json::json!({"keys": []}))
    );
    let out = run(&["--json", "publish", "nobody", "hi"]);
    assert_eq!(
        json(&out),
        serde_json::json!({"channel": "nobody", "receivers": 0})
    );
    // INFO: numbers are numbers, `k=v,…` values objects.
    let out = run(&["--json", "info", "server", "keyspace"]);
    let info = json(&out);
    assert!(info["server"]["uptime_in_seconds"].is_u64(), "{info}");
    assert_eq!(info["server"]["redis_version"], "7.2.0");
    assert_eq!(info["keyspace"]["db0"]["keys"], 1);
    assert!(info.get("memory").is_none(), "{info}");
    // The boolean --pattern is gone: psubscribe is its own subcommand.
    assert_eq!(code(&run(&["subscribe", "x", "--pattern"])), 2);
}

// See: the "Conventions" issue — bad values were passed on or ignored.
#[test]
fn bad_values_are_refused_with_one_clear_error() {
    let (home, d) = setup();
    let run = |args: &[&str]| cache(&home, &d, args, None);
    let refused = |args: &[&str], says: &[&str]| {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(code(&out), 2, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        for s in says {
            assert!(err.contains(s), "{args:?} should say {s:?}: {err}");
        }
    };
    refused(
        &["scan", "--type", "bogus"],
        &["bogus", "string", "list", "hash"],
    );
    refused(
        &["scan", "--type", "module"],
        &["module", "string, list, hash, set, zset, stream"],
    );
    refused(&["scan", "--count", "0"], &["--count"]);
    refused(
        &["info", "nosuchsection"],
        &[
            "nosuchsection",
            "server",
            "clients",
            "memory",
            "persistence",
            "stats",
            "keyspace",
        ],
    );
    refused(&["expire", "k", "0s"], &["positive"]);
    refused(&["set", "k", "v", "--ttl=-1s"], &["duration"]);
    refused(&["--raw", "get", "k"], &["--raw"]);
    // Valid ones still work; INFO sections in any case, like Redis.
    assert_eq!(code(&run(&["set", "k", "v"])), 0);
    assert_eq!(code(&run(&["scan", "--type", "string", "--count", "1"])), 0);
    let out = run(&["info", "KEYSPACE"]);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "# Keyspace\ndb0:keys=1,expires=0,avg_ttl=0\n")
    );
}

// See: the "Conventions" issue — help did not state exit codes or show
// examples.
#[test]
fn help_states_exit_codes_and_examples() {
    let home = Home::new();
    let help = |args: &[&str]| {
        let out = home.run(args, None);
        assert_eq!(code(&out), 0, "{args:?}");
        stdout(&out)
    };
    let text = help(&["cache", "--help"]);
    for want in [
        "Usage: agora cache [OPTIONS] [COMMAND]",
        "Examples:",
        "Exit status:",
        "130",
        "--no-raw",
    ] {
        assert!(
            text.contains(want),
            "agora cache --help lacks {want:?}:\n{text}"
        );
    }
    for sub in [
        "get",
        "set",
        "del",
        "ttl",
        "expire",
        "incr",
        "keys",
        "scan",
        "publish",
        "subscribe",
        "psubscribe",
        "info",
    ] {
        let text = help(&["cache", sub, "--help"]);
        let usage = text
            .lines()
            .find(|l| l.starts_with("Usage: "))
            .unwrap_or_default();
        // Global options are optional: `[OPTIONS]`, never `--addr <ADDR>`.
        assert!(
            usage.starts_with(&format!("Usage: agora cache {sub} [OPTIONS]"))
                && !usage.contains("--"),
            "{sub}: {usage}"
        );
        for want in ["Examples:", "Exit status:", &format!("agora cache {sub}")] {
            assert!(text.contains(want), "{sub} --help lacks {want:?}:\n{text}");
        }
    }
}

// See: the "Conventions" issue — the prompt had no help, hints or
// completion, printed INFO as an escaped string, and refused SUBSCRIBE
// naming internal operations.
#[test]
fn prompt_on_a_terminal_helps_hints_completes_and_subscribes() {
    let (home, d) = setup();
    let command = format!(
        "'{}' --addr {} cache; echo agora-exit=$?; sleep 60",
        crate::support::bin(),
        d.addr
    );
    let Some(tmux) = crate::tmux::Tmux::start(&home, &command) else {
        return;
    };
    let prompt = format!("{}>", d.addr);
    tmux.wait_for(&prompt);
    // The rest of the syntax, greyed, after the name; less what is typed.
    tmux.keys(&["SET "]);
    tmux.wait_for("SET key value [NX|XX] [GET]");
    tmux.keys(&["greeting "]);
    tmux.wait_for("SET greeting value [NX|XX]");
    tmux.keys(&["C-u", "hgetal", "Tab"]);
    tmux.wait_for("hgetall key");
    tmux.keys(&["C-u", "help lpush", "Enter"]);
    tmux.wait_for("summary: Prepend one or multiple elements to a list");
    // Keys sent before the prompt is back may be flushed: wait for it.
    tmux.wait_for_line_end(&prompt);
    tmux.keys(&["set greeting hello", "Enter"]);
    tmux.wait_for_answer(&prompt, "OK");
    tmux.keys(&["info keyspace", "Enter"]);
    tmux.wait_for("db0:keys=1");
    tmux.wait_for_line_end(&prompt);
    tmux.keys(&["subscribe news", "Enter"]);
    tmux.wait_for("Reading messages... (press Ctrl-C to quit)");
    tmux.wait_for("3) (integer) 1");
    let mut con = redis::Client::open(format!("redis://{}/", d.ready.resp))
        .unwrap()
        .get_connection()
        .unwrap();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("extra")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    tmux.wait_for("3) \"extra\"");
    tmux.keys(&["C-c"]);
    wait_for("the subscription to end", Duration::from_secs(10), || {
        let n: i64 = redis::cmd("PUBLISH")
            .arg("news")
            .arg("gone")
            .query(&mut con)
            .unwrap();
        (n == 0).then_some(())
    });
    // Back at the prompt (the terminal echoed ^C).
    tmux.wait_for(&format!("^C\n{prompt}"));
    tmux.keys(&["get greeting", "Enter"]);
    let screen = tmux.wait_for("\"hello\"");
    assert!(!screen.contains("cache_subscribe"), "{screen}");
    assert!(
        !screen.contains("# Keyspace\\r"),
        "INFO printed raw:\n{screen}"
    );
    tmux.keys(&["C-d"]);
    tmux.wait_for("agora-exit=0");
}

#[test]
fn binary_values_round_trip_through_stdin() {
    let (home, d) = setup();
    let value: Vec<u8> = (0..=255u8).chain([b'\n', 0, b'\r', b'\n']).collect();
    let out = cache(&home, &d, &["set", "bin", "-"], Some(&value));
    assert_eq!(code(&out), 0, "{out:?}");
    let out = cache(&home, &d, &["get", "bin"], None);
    assert_eq!(out.stdout, value);
    let out = cache(&home, &d, &["--json", "get", "bin"], None);
    let b64 = json(&out)["value"]["base64"].as_str().unwrap().to_owned();
    assert!(!b64.is_empty());
    // The same bytes through a RESP client.
    let mut con = redis::Client::open(format!("redis://{}/", d.ready.resp))
        .unwrap()
        .get_connection()
        .unwrap();
    let got: Vec<u8> = redis::cmd("GET").arg("bin").query(&mut con).unwrap();
    assert_eq!(got, value);
}

/// A script exercising every reply type, for the pipe tests.
const SCRIPT: &[u8] = b"set \"a key\" \"two\\nlines\"\nget 'a key'\nincr n\nget nothing\n\
rpush l x y\nlrange l 0 -1\nhget l f\nlrange none 0 -1\nhset h f v\nhgetall h\n\
mget n nothing\nset bin \"\\xff\\x00\"\nget bin\nbogus arg\nget \"open\nping\n";

/// What redis-cli 7 prints for SCRIPT with its output piped (`--raw`):
/// strings as they are, integers bare, one element per line, nil as an
/// empty line, an error's text followed by an empty line.
const SCRIPT_RAW: &[u8] = b"OK\ntwo\nlines\n1\n\n2\nx\ny\n\
WRONGTYPE Operation against a key holding the wrong kind of value\n\n\n1\nf\nv\n\
1\n\nOK\n\xff\x00\nERR unknown command 'bogus', with args beginning with: 'arg' \n\n\
Invalid argument(s)\nPONG\n";

// See: the "Conventions" issue — the prompt on a pipe printed terminal
// formatting (`"bar"`, `1) "a"`), ignored --json and exited 1 on an error.
#[test]
fn prompt_on_a_pipe_prints_raw_like_redis_cli() {
    let (home, d) = setup();
    let out = cache(&home, &d, &[], Some(SCRIPT));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(SCRIPT_RAW)
    );
    assert_eq!(out.stdout, SCRIPT_RAW);
    // An error reply (or a line that does not split) is an error: exit 2.
    assert_eq!(code(&out), 2, "{out:?}");
    // Nil replies are answers, not "nothing to report" (as redis-cli).
    let out = cache(&home, &d, &[], Some(b"get nothing\nget 'a key'\n"));
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "\ntwo\nlines\n"));
    // quit stops reading.
    let out = cache(&home, &d, &[], Some(b"incr n\nquit\nincr n\n"));
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "2\n"));

    // --no-raw forces redis-cli's terminal formatting.
    let out = cache(
        &home,
        &d,
        &["--no-raw"],
        Some(b"get 'a key'\nlrange l 0 -1\nget nothing\nhget l f\n"),
    );
    assert_eq!(
        stdout(&out),
        "\"two\\nlines\"\n1) \"x\"\n2) \"y\"\n(nil)\n\
         (error) WRONGTYPE Operation against a key holding the wrong kind of value\n"
    );
    assert_eq!(code(&out), 2);

    // INFO is text to read as is, in both formats (CRLF and all).
    for flags in [&[][..], &["--no-raw"][..]] {
        let out = cache(&home, &d, flags, Some(b"info keyspace\n"));
        assert_eq!(
            stdout(&out),
            "# Keyspace\r\ndb0:keys=5,expires=0,avg_ttl=0\r\n",
            "{flags:?}"
        );
    }

    // --json: one object per line, each with a type.
    assert_eq!(code(&cache(&home, &d, &[], Some(b"flushall\n"))), 0);
    let out = cache(&home, &d, &["--json"], Some(SCRIPT));
    assert_eq!(code(&out), 2);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines[0], json!({"type": "reply", "value": "OK"}));
    assert_eq!(lines[2], json!({"type": "reply", "value": 1}));
    assert_eq!(lines[3], json!({"type": "reply", "value": null}));
    assert_eq!(lines[5], json!({"type": "reply", "value": ["x", "y"]}));
    assert_eq!(
        lines[6],
        json!({"type": "error", "message": "WRONGTYPE Operation against a key holding the wrong kind of value"})
    );
    assert_eq!(lines[9], json!({"type": "reply", "value": {"f": "v"}}));
    assert_eq!(
        lines[12],
        json!({"type": "reply", "value": {"base64": "/wA="}})
    );
    assert_eq!(
        lines[14],
        json!({"type": "error", "message": "Invalid argument(s): unbalanced quotes"})
    );
    assert_eq!(lines.len(), 16);

    // help works on a pipe too, as plain text (or JSON).
    let out = cache(&home, &d, &[], Some(b"help set\n"));
    assert!(
        stdout(&out).contains("\n  SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]\n  summary: Set the string value of a key\n"),
        "{out:?}"
    );
    let out = cache(&home, &d, &["--json"], Some(b"help get\n"));
    assert_eq!(
        json(&out),
        json!({"type": "help", "command": "GET", "syntax": "key", "summary": "Get the value of a key",
               "group": "string", "since": "1.0.0", "arity": 2})
    );
    // --raw/--no-raw are the prompt's, and do not mix with --json.
    assert_eq!(code(&cache(&home, &d, &["--raw", "get", "x"], None)), 2);
    assert_eq!(
        code(&cache(&home, &d, &["--json", "--no-raw"], Some(b"ping\n"))),
        2
    );
}

/// The same script through redis-cli (RESP) and `agora cache` (native)
/// prints the same bytes.
#[test]
fn prompt_on_a_pipe_matches_redis_cli_byte_for_byte() {
    let Some(cli) = crate::cache::redis_cli() else {
        // .ci/run installs redis-tools, so in CI this cannot skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-cli is required in CI"
        );
        eprintln!("redis-cli not installed; skipping");
        return;
    };
    let (home, d) = setup();
    let script = [SCRIPT, b"info keyspace\nflushall\n"].concat();
    let ours = cache(&home, &d, &[], Some(&script));
    let mut child = std::process::Command::new(cli)
        .args(["-h", "127.0.0.1", "-p", &d.ready.resp.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli");
    child.stdin.take().unwrap().write_all(&script).unwrap();
    let theirs = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    assert_eq!(ours.stdout, theirs.stdout);
}

#[test]
fn prompt_subscribes_on_a_pipe_until_interrupted() {
    let (home, d) = setup();
    let mut child = home
        .cmd()
        .args(["--addr", &d.addr, "cache"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"psubscribe news.* other\nget never\n")
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().unwrap().unwrap();
    assert_eq!(
        [next(), next(), next(), next(), next(), next()],
        ["psubscribe", "news.*", "1", "psubscribe", "other", "2"]
    );
    let mut con = redis::Client::open(format!("redis://{}/", d.ready.resp))
        .unwrap()
        .get_connection()
        .unwrap();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news.today")
        .arg("hello")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        [next(), next(), next(), next()],
        ["pmessage", "news.*", "news.today", "hello"]
    );
    // Ctrl-C ends it (nothing more can be read from a pipe): exit 130.
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    drop(stdin);
}

#[test]
fn native_ops_need_sign_in_and_mirror_errors() {
    let home = Home::new();
    let d = Daemon::start(&home, &[]);
    rt().block_on(async {
        let anon = d.client(None).await;
        let err = anon
            .request(CacheOp::Command {
                args: vec![ByteBuf::from(b"PING".to_vec())],
                quiet: false,
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, agora_wire::Error::Server(b) if b.code == ErrorCode::Unauthorized),
            "{err:?}"
        );
        let client = d.client(None).await;
        client
            .request(BaseOp::Register {
                name: "bob".into(),
                password: "bob-password".into(),
            })
            .await
            .unwrap();
        let ask = |args: &[&str]| {
            client.request(CacheOp::Command {
                args: args
                    .iter()
                    .map(|a| ByteBuf::from(a.as_bytes().to_vec()))
                    .collect(),
                quiet: false,
            })
        };
        ask(&["HSET", "h", "f", "v"]).await.unwrap();
        let Reply::Cache(CacheReply::Value { value }) = ask(&["GET", "h"]).await.unwrap() else {
            panic!("expected a cache reply");
        };
        assert!(
            matches!(&value, CacheValue::Error { message } if message.starts_with("WRONGTYPE")),
            "{value:?}"
        );
        let err = ask(&["SUBSCRIBE", "x"]).await.unwrap_err();
        assert!(
            matches!(&err, agora_wire::Error::Server(b) if b.code == ErrorCode::BadRequest),
            "{err:?}"
        );
        let err = client
            .request(CacheOp::Command {
                args: vec![],
                quiet: false,
            })
            .await;
        assert!(err.is_err());
    });
}

#[test]
fn pubsub_bridges_resp_and_native() {
    let (home, d) = setup();
    // RESP subscriber, native publisher (`agora cache publish`).
    let mut sub_con = redis::Client::open(format!("redis://{}/", d.ready.resp))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut pubsub = sub_con.as_pubsub();
    pubsub.subscribe("news").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let out = cache(
        &home,
        &d,
        &["publish", "news", "-"],
        Some(b"from \xffnative"),
    );
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "1\n"), "{out:?}");
    let msg = pubsub.get_message().unwrap();
    assert_eq!(msg.get_channel_name(), "news");
    assert_eq!(msg.get_payload_bytes(), b"from \xffnative");
    drop(pubsub);

    // Native subscriber (`agora cache subscribe` child), RESP publisher.
    let mut child = home
        .cmd()
        .args([
            "--addr",
            &d.addr,
            "--json",
            "cache",
            "psubscribe",
            "sport.*",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Every line of the stream has a type: first the confirmation, as
    // Redis sends it, so a script knows when the subscription is in place.
    let line = lines.next().unwrap().unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"type": "psubscribe", "pattern": "sport.*", "count": 1})
    );
    let mut con = redis::Client::open(format!("redis://{}/", d.ready.resp))
        .unwrap()
        .get_connection()
        .unwrap();
    // The confirmation came after the subscription was in place.
    let n: i64 = redis::cmd("PUBLISH")
        .arg("sport.ski")
        .arg("powder")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let line = lines.next().unwrap().unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"type": "message", "channel": "sport.ski", "pattern": "sport.*", "payload": "powder"})
    );
    // The native subscriber shows up in PUBSUB NUMPAT, and disappears with
    // its session.
    let numpat: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut con).unwrap();
    assert_eq!(numpat, 1);
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let numpat: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut con).unwrap();
        if numpat == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "subscription leaked");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_reply_over_the_frame_limit_is_refused_not_a_hang_up() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--max-frame", "64KiB"]);
    home.register(&d.addr, "dave", "dave-password");
    let mut con = redis::Client::open(format!("redis://{}/", d.ready.resp))
        .unwrap()
        .get_connection()
        .unwrap();
    let big = vec![b'x'; 100 * 1024];
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut con)
        .unwrap();
    let out = cache(&home, &d, &["get", "big"], None);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("frame limit"), "{err}");
    // The connection survives: the prompt answers the next line.
    let out = cache(&home, &d, &[], Some(b"get big\nstrlen big\n"));
    assert!(stdout(&out).ends_with("\n\n102400\n"), "{out:?}");
    assert_eq!(code(&out), 2);
}
