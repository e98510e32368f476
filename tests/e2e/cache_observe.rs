//! Watching the cache from outside: `redis-cli monitor` seeing every
//! client's commands (RESP and the native `cache_command` op) in Redis's
//! format, and CLIENT TRACKING's invalidations as RESP3 pushes and as
//! RESP2 messages on `__redis__:invalidate`, over raw sockets.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::support::{Daemon, Home};

fn raw(daemon: &Daemon) -> TcpStream {
    daemon.resp_stream()
}

/// Sends commands (inline) and reads until the reply text ends with
/// `until`.
fn ask(s: &mut TcpStream, commands: &str, until: &str) -> String {
    s.write_all(commands.as_bytes()).unwrap();
    read_until(s, until)
}

fn read_until(s: &mut TcpStream, until: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).ends_with(until) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn monitor_shows_every_clients_commands_with_secrets_redacted() {
    let Some(cli) = crate::cache::redis_cli() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-cli is required in CI"
        );
        eprintln!("redis-cli not installed; skipping");
        return;
    };
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let port = daemon.ready.resp.port().to_string();
    let mut child = Command::new(cli)
        .args(["-h", "127.0.0.1", "-p", &port, "monitor"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli monitor");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "OK");

    let mut s = raw(&daemon);
    let addr = s.local_addr().unwrap().to_string();
    ask(
        &mut s,
        "SET greeting \"hello world\"\r\nGET greeting\r\nCONFIG GET maxmemory\r\nAUTH someone secret\r\nMULTI\r\nINCR n\r\nEXEC\r\nSELECT 3\r\nEVAL \"return redis.call('set', KEYS[1], 'v')\" 1 lua-key\r\nNOSUCH\r\n",
        "-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
    );
    // The native protocol's commands show too.
    crate::support::rt().block_on(async {
        use agora_wire::{BaseOp, CacheOp};
        use serde_bytes::ByteBuf;
        let client = daemon.client(None).await;
        client
            .request(BaseOp::Register {
                name: "mona".into(),
                password: "mona-password".into(),
            })
            .await
            .expect("register");
        let op = CacheOp::Command {
            args: vec![ByteBuf::from(b"DBSIZE".to_vec())],
            quiet: false,
        };
        client.request(op).await.expect("cache_command");
    });

    let mut seen = Vec::new();
    for _ in 0..9 {
        seen.push(lines.next().unwrap().unwrap());
    }
    // `1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`.
    let shape = |line: &str, db: u32, origin: &str, args: &str| {
        let (time, rest) = line.split_once(' ').expect("a time");
        let (secs, micros) = time.split_once('.').expect("seconds.micros");
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
        assert_eq!(rest, format!("[{db} {origin}] {args}"), "{line}");
    };
    shape(&seen[0], 0, &addr, r#""SET" "greeting" "hello world""#);
    shape(&seen[1], 0, &addr, r#""GET" "greeting""#);
    // CONFIG is administrative (not shown); AUTH's arguments are hidden.
    shape(&seen[2], 0, &addr, r#""AUTH" "(redacted)" "(redacted)""#);
    // A transaction shows MULTI, then its commands as EXEC runs them.
    shape(&seen[3], 0, &addr, r#""MULTI""#);
    shape(&seen[4], 0, &addr, r#""INCR" "n""#);
    shape(&seen[5], 0, &addr, r#""EXEC""#);
    shape(&seen[6], 3, &addr, r#""SELECT" "3""#);
    // A script shows before the commands it runs, which come from `lua`.
    assert!(
        seen[7].contains(&format!("[3 {addr}] \"EVAL\"")),
        "{}",
        seen[7]
    );
    shape(&seen[8], 3, "lua", r#""set" "lua-key" "v""#);
    // The unknown command was not shown; the native one was.
    let native = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        native.contains("[0 native:") && native.ends_with("\"DBSIZE\""),
        "{native}"
    );

    // RESET ends monitoring: the connection answers commands again.
    let mut m = raw(&daemon);
    assert_eq!(ask(&mut m, "MONITOR\r\n", "+OK\r\n"), "+OK\r\n");
    assert_eq!(ask(&mut m, "RESET\r\n", "+RESET\r\n"), "+RESET\r\n");
    ask(&mut s, "PING\r\n", "+PONG\r\n");
    assert_eq!(ask(&mut m, "PING\r\n", "+PONG\r\n"), "+PONG\r\n");
}

#[test]
fn tracking_invalidates_by_push_redirect_and_broadcast() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut writer = raw(&daemon);

    // RESP3: the tracking client's own connection gets the push.
    let mut r3 = raw(&daemon);
    let hello = ask(&mut r3, "HELLO 3\r\n", "*0\r\n");
    assert!(hello.contains("proto"), "{hello}");
    assert_eq!(ask(&mut r3, "CLIENT TRACKING ON\r\n", "+OK\r\n"), "+OK\r\n");
    ask(&mut writer, "SET k1 a\r\nSET k2 a\r\n", "+OK\r\n+OK\r\n");
    assert_eq!(ask(&mut r3, "GET k1\r\n", "$1\r\na\r\n"), "$1\r\na\r\n");
    // k2 was not read: only k1 is invalidated, once.
    ask(
        &mut writer,
        "SET k2 b\r\nSET k1 b\r\nSET k1 c\r\n",
        "+OK\r\n+OK\r\n+OK\r\n",
    );
    let push = read_until(&mut r3, "\r\n$2\r\nk1\r\n");
    assert_eq!(push, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk1\r\n");
    let info = ask(&mut r3, "CLIENT TRACKINGINFO\r\n", "*0\r\n");
    assert!(
        info.contains("$2\r\non\r\n") && info.contains(":0\r\n"),
        "{info}"
    );

    // RESP2 redirect: a subscriber of __redis__:invalidate gets messages.
    let mut target = raw(&daemon);
    let id = ask(&mut target, "CLIENT ID\r\n", "\r\n");
    let id = id.trim().trim_start_matches(':').to_owned();
    ask(&mut target, "SUBSCRIBE __redis__:invalidate\r\n", ":1\r\n");
    let mut r2 = raw(&daemon);
    let on = format!("CLIENT TRACKING ON REDIRECT {id}\r\n");
    assert_eq!(ask(&mut r2, &on, "+OK\r\n"), "+OK\r\n");
    assert_eq!(
        ask(&mut r2, "CLIENT GETREDIR\r\n", "\r\n"),
        format!(":{id}\r\n")
    );
    ask(&mut r2, "MGET m1 m2\r\n", "$-1\r\n$-1\r\n");
    ask(&mut writer, "DEL m2\r\nSET m2 x\r\n", ":0\r\n+OK\r\n");
    let msg = read_until(&mut target, "$2\r\nm2\r\n");
    assert_eq!(
        msg,
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$2\r\nm2\r\n"
    );

    // BCAST with a prefix: every write under it, none outside; FLUSHALL
    // sends a null invalidation.
    let mut b = raw(&daemon);
    ask(&mut b, "HELLO 3\r\n", "*0\r\n");
    let on = "CLIENT TRACKING ON BCAST PREFIX user: NOLOOP\r\n";
    assert_eq!(ask(&mut b, on, "+OK\r\n"), "+OK\r\n");
    ask(
        &mut writer,
        "SET other 1\r\nMSET user:1 a user:2 b\r\n",
        "+OK\r\n+OK\r\n",
    );
    let push = read_until(&mut b, "$6\r\nuser:2\r\n");
    assert_eq!(
        push,
        ">2\r\n$10\r\ninvalidate\r\n*2\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n"
    );
    // NOLOOP: its own writes are not sent back.
    ask(&mut b, "SET user:3 c\r\nPING\r\n", "+PONG\r\n");
    ask(&mut writer, "FLUSHALL\r\n", "+OK\r\n");
    assert_eq!(
        read_until(&mut b, "_\r\n"),
        ">2\r\n$10\r\ninvalidate\r\n_\r\n"
    );

    // A bad option answers Redis's error.
    let err = ask(&mut b, "CLIENT TRACKING ON PREFIX x\r\n", "\r\n");
    assert_eq!(
        err,
        "-ERR PREFIX option requires BCAST mode to be enabled\r\n"
    );
}
