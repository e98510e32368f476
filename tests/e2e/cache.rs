//! The cache over RESP: the real binary, driven by the `redis` crate, by
//! raw sockets and by `redis-cli` (when installed).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use redis::{Commands as _, RedisResult, Value};

use crate::support::{Daemon, Home, wait_for};

fn client(daemon: &Daemon) -> redis::Connection {
    let url = format!("redis://{}/", daemon.ready.resp);
    redis::Client::open(url)
        .expect("client")
        .get_connection()
        .expect("connect")
}

fn raw(daemon: &Daemon) -> TcpStream {
    daemon.resp_stream()
}

/// Reads until `expected` bytes arrived (or the peer closed).
fn read_n(s: &mut TcpStream, expected: usize) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < expected {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn strings_ttls_and_errors_through_a_redis_client() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut con = client(&daemon);
    let _: () = con.set("greeting", "hello").unwrap();
    let v: String = con.get("greeting").unwrap();
    assert_eq!(v, "hello");
    let missing: Option<String> = con.get("nope").unwrap();
    assert_eq!(missing, None);
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut con)
        .unwrap();
    let ttl: i64 = con.ttl("t").unwrap();
    assert!((99..=100).contains(&ttl), "{ttl}");
    let n: i64 = con.incr("counter", 5).unwrap();
    assert_eq!(n, 5);
    let _: () = con.hset("h", "f", "v").unwrap();
    let err: RedisResult<String> = con.get("h");
    let err = err.unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
    // Expiry: PX 1, then the key is gone.
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(1)
        .query(&mut con)
        .unwrap();
    wait_for("the key to expire", Duration::from_secs(5), || {
        let v: Option<String> = con.get("short").unwrap();
        v.is_none().then_some(())
    });
    let unknown: RedisResult<Value> = redis::cmd("FOO").arg("a").query(&mut con);
    let unknown = unknown.unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("unknown command 'FOO', with args beginning with: 'a'"),
        "{unknown}"
    );
    // Pipelines answer in order.
    let (a, b, c): (String, i64, Option<String>) = redis::pipe()
        .set("p1", "x")
        .ignore()
        .get("p1")
        .incr("pc", 1)
        .get("nothing")
        .query(&mut con)
        .unwrap();
    assert_eq!((a.as_str(), b, c), ("x", 1, None));
}

#[test]
fn inline_commands_and_big_pipelines_over_a_raw_socket() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut s = raw(&daemon);
    s.write_all(b"SET k \"two words\"\r\nGET k\r\nPING\r\n")
        .unwrap();
    let expected = "+OK\r\n$9\r\ntwo words\r\n+PONG\r\n";
    assert_eq!(read_n(&mut s, expected.len()), expected);
    // 1000 pipelined INCRs in one write: 1000 replies, in order.
    let mut batch = Vec::new();
    for _ in 0..1000 {
        batch.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
    }
    s.write_all(&batch).unwrap();
    let expected: String = (1..=1000).map(|i| format!(":{i}\r\n")).collect();
    assert_eq!(read_n(&mut s, expected.len()), expected);
}

/// One pipeline through every path of a connection — plain commands,
/// CLIENT REPLY SKIP, MULTI/EXEC, WRONGTYPE — split inside a command
/// across two writes, then replies larger than the output buffer's flush
/// size: every answer in order, none lost or doubled.
#[test]
fn a_pipeline_through_every_path_answers_in_order() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut s = raw(&daemon);
    s.write_all(
        b"SET k 9\r\nCLIENT REPLY SKIP\r\nINCR k\r\nINCR k\r\nHSET h f v\r\n*1\r\n$5\r\nMU",
    )
    .unwrap();
    // What the first write completed is answered before the rest comes.
    let expected = "+OK\r\n:11\r\n:1\r\n";
    assert_eq!(read_n(&mut s, expected.len()), expected);
    s.write_all(
        b"LTI\r\nINCR k\r\nLPUSH h x\r\nEXEC\r\nget k\r\nPING\r\nRPUSH l a b c\r\nLPOP l\r\n\
          HSET h f w\r\nHGET h f\r\nLPUSH h x\r\nINCR h\r\nZADD z 1 m\r\nZADD z CH 1 m\r\n\
          ZADD z CH 2 m\r\nZADD z XX INCR 0 m\r\n",
    )
    .unwrap();
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    let expected = format!(
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:12\r\n{wrongtype}$2\r\n12\r\n+PONG\r\n:3\r\n$1\r\na\r\n\
         :0\r\n$1\r\nw\r\n{wrongtype}{wrongtype}:1\r\n:0\r\n:1\r\n$1\r\n2\r\n"
    );
    assert_eq!(read_n(&mut s, expected.len()), expected);
    // 200 elements of 1000 bytes, read back three times in one pipeline:
    // 600 KB of replies, past the 64 KiB at which a batch is flushed.
    let value = "v".repeat(1000);
    let mut push = b"*202\r\n$5\r\nRPUSH\r\n$3\r\nbig\r\n".to_vec();
    for _ in 0..200 {
        push.extend_from_slice(format!("$1000\r\n{value}\r\n").as_bytes());
    }
    s.write_all(&push).unwrap();
    assert_eq!(read_n(&mut s, 6), ":200\r\n");
    s.write_all(b"LRANGE big 0 -1\r\nLRANGE big 0 -1\r\nLRANGE big 0 -1\r\nPING\r\n")
        .unwrap();
    let element = format!("$1000\r\n{value}\r\n");
    let one = format!("*200\r\n{}", element.repeat(200));
    let expected = format!("{one}{one}{one}+PONG\r\n");
    assert_eq!(read_n(&mut s, expected.len()), expected);
}

#[test]
fn a_protocol_error_closes_only_that_connection() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut good = client(&daemon);
    let _: () = good.set("k", "v").unwrap();
    let mut bad = raw(&daemon);
    bad.write_all(b"*1\r\nxyz\r\n").unwrap();
    let reply = read_n(&mut bad, usize::MAX);
    assert_eq!(reply, "-ERR Protocol error: expected '$', got 'x'\r\n");
    let mut bad = raw(&daemon);
    bad.write_all(b"*1\r\n$999999999999\r\n").unwrap();
    assert_eq!(
        read_n(&mut bad, usize::MAX),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    let v: String = good.get("k").unwrap();
    assert_eq!(v, "v");
}

/// Connections are dealt round-robin to the event loops: six clients on
/// three loops share one keyspace and one set of channels.
#[test]
fn several_event_loops_share_the_keyspace_and_the_channels() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &["--resp-threads", "3"]);
    let mut subscriber = client(&daemon);
    let mut clients: Vec<_> = (0..5).map(|_| client(&daemon)).collect();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.subscribe("loops").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for (i, c) in clients.iter_mut().enumerate() {
        let _: () = c.set(format!("key:{i}"), i).unwrap();
        let _: i64 = c.incr("shared", 1).unwrap();
    }
    for c in &mut clients {
        let values: Vec<i64> = c
            .mget(&["key:0", "key:1", "key:2", "key:3", "key:4"][..])
            .unwrap();
        assert_eq!(values, [0, 1, 2, 3, 4]);
        let shared: i64 = c.get("shared").unwrap();
        assert_eq!(shared, 5);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let n: i64 = c.publish("loops", i).unwrap();
        assert_eq!(n, 1);
        let msg = pubsub.get_message().unwrap();
        assert_eq!(msg.get_payload::<i64>().unwrap(), i as i64);
    }
}

/// CPU time (user + system, in clock ticks) of the daemon's threads
/// named `agora-resp-*`.
fn resp_loop_ticks(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with("agora-resp-") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
        // Fields after the parenthesised name: state is field 3, utime
        // and stime are fields 14 and 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    total
}

/// Busy polling stops when the traffic does: an idle daemon's RESP loop
/// uses no CPU (a loop that kept spinning would use a whole core, about
/// 50 ticks in the half second watched).
#[test]
fn an_idle_resp_loop_stops_busy_polling() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &["--resp-threads", "1", "--resp-busy-poll", "50"]);
    let mut c = client(&daemon);
    for i in 0..1000 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    // Long past the 50 µs window.
    std::thread::sleep(Duration::from_millis(100));
    let before = resp_loop_ticks(daemon.ready.pid);
    std::thread::sleep(Duration::from_millis(500));
    let used = resp_loop_ticks(daemon.ready.pid) - before;
    assert!(used <= 5, "the idle RESP loop used {used} ticks in 0.5 s");
    // Still serving.
    let v: i64 = c.get("k999").unwrap();
    assert_eq!(v, 999);
}

#[test]
fn pub_sub_between_two_clients() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut sub_con = client(&daemon);
    let mut publisher = client(&daemon);
    let mut pubsub = sub_con.as_pubsub();
    pubsub.subscribe("news").unwrap();
    pubsub.psubscribe("sport.*").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n: i64 = publisher.publish("news", "hello").unwrap();
    assert_eq!(n, 1);
    let msg = pubsub.get_message().unwrap();
    assert_eq!(msg.get_channel_name(), "news");
    assert_eq!(msg.get_payload::<String>().unwrap(), "hello");
    let n: i64 = publisher.publish("sport.tennis", "ace").unwrap();
    assert_eq!(n, 1);
    let msg = pubsub.get_message().unwrap();
    assert_eq!(msg.get_pattern::<String>().unwrap(), "sport.*");
    assert_eq!(msg.get_payload::<String>().unwrap(), "ace");
    let numpat: i64 = redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(numpat, 1);
    // Subscribed RESP2 connections refuse other commands, in Redis's words.
    let mut s = raw(&daemon);
    s.write_all(b"SUBSCRIBE c\r\nGET k\r\n").unwrap();
    let expected = "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n";
    assert_eq!(read_n(&mut s, expected.len()), expected);
}

#[test]
fn auth_checks_agora_accounts() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "alice", "correct horse battery");
    let mut s = raw(&daemon);
    s.write_all(b"AUTH alice wrong\r\nAUTH alice \"correct horse battery\"\r\n")
        .unwrap();
    let expected = "-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n";
    assert_eq!(read_n(&mut s, expected.len()), expected);
}

pub(crate) fn redis_cli() -> Option<&'static str> {
    Command::new("redis-cli")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "redis-cli")
}

#[test]
fn redis_cli_works_against_the_daemon() {
    let Some(cli) = redis_cli() else {
        // .ci/run installs redis-tools, so in CI this cannot skip.
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
    let run = |args: &[&str]| {
        let out = Command::new(cli)
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(run(&["SET", "k", "v"]), "OK");
    assert_eq!(run(&["GET", "k"]), "v");
    assert_eq!(run(&["DBSIZE"]), "1");
    // RESP3 via -3; without a terminal redis-cli prints the raw value.
    assert_eq!(run(&["-3", "HSET", "h", "f", "v"]), "1");
    assert!(run(&["INFO", "keyspace"]).contains("db0:keys=2"));
    assert!(run(&["FOO"]).contains("unknown command 'FOO'"));

    // redis-cli builds `help` (and its hints) from COMMAND DOCS, which the
    // daemon answers from its command table.
    let mut child = Command::new(cli)
        .args(["-h", "127.0.0.1", "-p", &port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"help set\nhelp @hash\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("\x1b[90mkey value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
        "{help}"
    );
    assert!(help.contains("Set the string value of a key"), "{help}");
    assert!(help.contains("HSET"), "{help}");
}

#[test]
fn snapshot_survives_restart_and_corrupt_snapshot_is_moved_aside() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &["--cache-persist"]);
    let mut con = client(&daemon);
    let _: () = con.set("kept", "yes").unwrap();
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg("v")
        .arg("EX")
        .arg(1000)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("gone")
        .arg("v")
        .arg("PX")
        .arg(1)
        .query(&mut con)
        .unwrap();
    let _: () = con.hset("h", "f", "v").unwrap();
    drop(con);
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
    let snapshot = home.data().join("cache.snapshot");
    assert!(snapshot.exists());

    let mut daemon = Daemon::start(&home, &["--cache-persist"]);
    let mut con = client(&daemon);
    let v: String = con.get("kept").unwrap();
    assert_eq!(v, "yes");
    let ttl: i64 = con.ttl("ttl").unwrap();
    assert!((990..=1000).contains(&ttl), "{ttl}");
    let gone: Option<String> = con.get("gone").unwrap();
    assert_eq!(gone, None);
    let f: String = con.hget("h", "f").unwrap();
    assert_eq!(f, "v");
    drop(con);
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());

    std::fs::write(&snapshot, b"AGORACACHE\x01 garbage garbage garbage").unwrap();
    let daemon = Daemon::start(&home, &["--cache-persist"]);
    let mut con = client(&daemon);
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 0);
    let aside = std::fs::read_dir(home.data())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("cache.snapshot.corrupt-")
        });
    assert!(aside, "corrupt snapshot was not moved aside");
}

/// redis-cli against `daemon`'s RESP port: its output, trimmed.
fn cli_out(daemon: &Daemon, args: &[&str]) -> String {
    let out = Command::new(redis_cli().expect("redis-cli"))
        .args(["-p", &daemon.ready.resp.port().to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text.trim().to_owned()
}

#[test]
fn redis_cli_shutdown_stops_the_daemon_only_when_allowed() {
    if redis_cli().is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-cli is required in CI"
        );
        return;
    }
    let home = Home::new();
    // Off by default: an error naming the flag, and the daemon serves on.
    let mut daemon = Daemon::start(&home, &["--cache-persist"]);
    let refused = cli_out(&daemon, &["SHUTDOWN"]);
    assert!(refused.contains("--resp-allow-shutdown"), "{refused}");
    assert_eq!(
        cli_out(&daemon, &["SHUTDOWN", "SAVE", "NOSAVE"]),
        "ERR syntax error"
    );
    assert_eq!(
        cli_out(&daemon, &["SHUTDOWN", "ABORT"]),
        "ERR No shutdown in progress."
    );
    assert_eq!(cli_out(&daemon, &["PING"]), "PONG");
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());

    // Allowed: SHUTDOWN saves the snapshot and exits 0, as SIGTERM does.
    let flags = ["--cache-persist", "--resp-allow-shutdown"];
    let mut daemon = Daemon::start(&home, &flags);
    assert_eq!(cli_out(&daemon, &["SET", "saved", "1"]), "OK");
    let _ = cli_out(&daemon, &["SHUTDOWN"]);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
    let mut daemon = Daemon::start(&home, &flags);
    assert_eq!(cli_out(&daemon, &["GET", "saved"]), "1");
    // NOSAVE: the write after the last snapshot is not kept.
    assert_eq!(cli_out(&daemon, &["SET", "unsaved", "1"]), "OK");
    let _ = cli_out(&daemon, &["SHUTDOWN", "NOSAVE"]);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
    let mut daemon = Daemon::start(&home, &flags);
    assert_eq!(cli_out(&daemon, &["GET", "saved"]), "1");
    assert_eq!(cli_out(&daemon, &["EXISTS", "unsaved"]), "0");
    // Redis's way out of a script that never ends: SHUTDOWN NOSAVE is
    // served while the script keeps everyone else BUSY.
    assert_eq!(
        cli_out(&daemon, &["CONFIG", "SET", "busy-reply-threshold", "100"]),
        "OK"
    );
    let port = daemon.ready.resp.port().to_string();
    let mut script = Command::new(redis_cli().unwrap())
        .args(["-p", &port, "EVAL", "while true do end", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        "the script to make the daemon busy",
        Duration::from_secs(10),
        || {
            cli_out(&daemon, &["GET", "saved"])
                .starts_with("BUSY")
                .then_some(())
        },
    );
    let _ = cli_out(&daemon, &["SHUTDOWN", "NOSAVE"]);
    assert!(daemon.wait_exit(Duration::from_secs(15)).success());
    let _ = script.kill();
    let _ = script.wait();
}

#[test]
fn shutdown_with_open_resp_clients_exits_zero() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    let mut con = client(&daemon);
    let _: () = con.set("k", "v").unwrap();
    let mut idle = raw(&daemon);
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    // The idle connection was closed by the server.
    assert_eq!(read_n(&mut idle, 1), "");
}

#[test]
fn with_require_auth_commands_wait_for_auth() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &["--resp-require-auth"]);
    home.register(&daemon.addr, "alice", "correct horse battery");
    let mut s = raw(&daemon);
    s.write_all(
        b"GET k\r\nHELLO 3\r\nAUTH alice wrong\r\nSET k v\r\nAUTH alice \"correct horse battery\"\r\nSET k v\r\nGET k\r\n",
    )
    .unwrap();
    let expected = concat!(
        "-NOAUTH Authentication required.\r\n",
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        "-NOAUTH Authentication required.\r\n",
        "+OK\r\n",
        "+OK\r\n",
        "$1\r\nv\r\n",
    );
    assert_eq!(read_n(&mut s, expected.len()), expected);
    // A client library authenticating through its URL works too.
    let url = format!(
        "redis://alice:correct%20horse%20battery@{}/",
        daemon.ready.resp
    );
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");
}

/// `cache_command` with `quiet`: what the TUI's Cache tab sends, so its
/// own browsing does not show up in the ops/s and hit ratio it draws.
#[test]
fn quiet_native_commands_leave_info_statistics_alone() {
    use agora_wire::{BaseOp, CacheOp, CacheReply, CacheValue, Reply};
    use serde_bytes::ByteBuf;

    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    crate::support::rt().block_on(async {
        let client = daemon.client(None).await;
        client
            .request(BaseOp::Register {
                name: "quinn".into(),
                password: "quinn-password".into(),
            })
            .await
            .expect("register");
        let run = |args: &[&str], quiet: bool| {
            let op = CacheOp::Command {
                args: args
                    .iter()
                    .map(|a| ByteBuf::from(a.as_bytes().to_vec()))
                    .collect(),
                quiet,
            };
            let client = &client;
            async move {
                match client.request(op).await.expect("cache_command") {
                    Reply::Cache(CacheReply::Value { value }) => value,
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
        // (total_commands_processed, keyspace_hits, keyspace_misses),
        // read quietly so that reading them changes nothing.
        let stats = || async {
            let value = run(&["INFO", "stats"], true).await;
            let text = String::from_utf8(value.as_bytes().expect("bulk").to_vec()).unwrap();
            let field = |name: &str| -> u64 {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or_else(|| panic!("{name} in {text}"))
            };
            (
                field("total_commands_processed"),
                field("keyspace_hits"),
                field("keyspace_misses"),
            )
        };
        run(&["SET", "k", "value"], false).await;
        let before = stats().await;
        assert_eq!(before.0, 1, "the SET counted, the quiet INFO did not");
        for _ in 0..5 {
            for args in [
                &["SCAN", "0", "MATCH", "*", "COUNT", "200"][..],
                &["TYPE", "k"],
                &["PTTL", "k"],
                &["STRLEN", "k"],
                &["GETRANGE", "k", "0", "1023"],
                &["GET", "missing"],
            ] {
                let value = run(args, true).await;
                assert!(!matches!(value, CacheValue::Error { .. }), "{value:?}");
            }
        }
        assert_eq!(
            run(&["GET", "k"], true).await,
            CacheValue::bulk(b"value".to_vec())
        );
        assert_eq!(stats().await, before);
        run(&["GET", "k"], false).await;
        run(&["GET", "missing"], false).await;
        let (commands, hits, misses) = before;
        assert_eq!(stats().await, (commands + 2, hits + 1, misses + 1));
    });
}
