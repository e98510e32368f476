//! `agora cache …` end to end: the CLI over the native protocol, exit
//! codes and --json, binary-safe stdin, the prompt on a pipe, and pub/sub
//! bridged between RESP and native subscribers.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Output, Stdio};
use std::time::Duration;

use agora_wire::{BaseOp, CacheOp, CacheReply, CacheValue, ErrorCode, Reply};
use serde_bytes::ByteBuf;
use serde_json::Value;

use crate::support::{Daemon, Home, rt};

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
    assert!(json(&out)["keyspace"]["db0"].is_string(), "{out:?}");
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

#[test]
fn prompt_reads_commands_from_a_pipe() {
    let (home, d) = setup();
    let script = b"set \"a key\" \"two\\nlines\"\nget 'a key'\nincr n\nget nothing\nrpush l x y\nlrange l 0 -1\nhget l f\nquit\nget never\n";
    let out = cache(&home, &d, &[], Some(script));
    assert_eq!(
        stdout(&out),
        "OK\n\"two\\nlines\"\n(integer) 1\n(nil)\n(integer) 2\n1) \"x\"\n2) \"y\"\n\
         (error) WRONGTYPE Operation against a key holding the wrong kind of value\n"
    );
    // An error reply makes the exit code 1.
    assert_eq!(code(&out), 1);
    let out = cache(
        &home,
        &d,
        &["--json"],
        Some(b"lrange l 0 -1\nget nothing\n"),
    );
    assert_eq!(stdout(&out), "[\"x\",\"y\"]\nnull\n");
    assert_eq!(code(&out), 0);
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
        let err = client.request(CacheOp::Command { args: vec![] }).await;
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
            "subscribe",
            "sport.*",
            "--pattern",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut con = redis::Client::open(format!("redis://{}/", d.ready.resp))
        .unwrap()
        .get_connection()
        .unwrap();
    // Publish until the subscription is in place (it is set up
    // asynchronously by the child).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = redis::cmd("PUBLISH")
            .arg("sport.ski")
            .arg("powder")
            .query(&mut con)
            .unwrap();
        if n == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no native subscriber");
        std::thread::sleep(Duration::from_millis(50));
    }
    let line = lines.next().unwrap().unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"channel": "sport.ski", "pattern": "sport.*", "payload": "powder"})
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
    assert!(stdout(&out).ends_with("(integer) 102400\n"), "{out:?}");
}
