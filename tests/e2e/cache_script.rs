//! Scripting, keyspace notifications and CLIENT REPLY over real sockets:
//! EVAL writing through redis.call, a looping script that makes other
//! clients wait (BUSY) until SCRIPT KILL from a third one stops it, a
//! transaction that meets a busy script refused whole and a pipeline
//! sent behind the script answered in order,
//! notifications heard by a subscriber on a SET and on an expiry, and a
//! connection that turned its replies off; CLIENT LIST and CLIENT KILL.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use redis::Commands as _;

use crate::support::{Daemon, Home};

fn client(daemon: &Daemon) -> redis::Connection {
    let url = format!("redis://{}/", daemon.ready.resp);
    let con = redis::Client::open(url)
        .expect("client")
        .get_connection()
        .expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    con
}

/// Retries `f` until it returns true, for at most 20 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn eval_writes_and_script_kill_stops_a_busy_script() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut a = client(&daemon);
    let mut b = client(&daemon);

    // redis.call writes through the registry.
    let ok: String = redis::cmd("EVAL")
        .arg("return redis.call('set', KEYS[1], ARGV[1])")
        .arg(1)
        .arg("k")
        .arg("v")
        .query(&mut a)
        .unwrap();
    assert_eq!(ok, "OK");
    let v: String = b.get("k").unwrap();
    assert_eq!(v, "v");
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return redis.call('get', KEYS[1])")
        .query(&mut b)
        .unwrap();
    let v: String = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(1)
        .arg("k")
        .query(&mut a)
        .unwrap();
    assert_eq!(v, "v");

    // A script that never ends: others get BUSY past the threshold, and
    // SCRIPT KILL from a third client stops it.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg(50)
        .query(&mut b)
        .unwrap();
    let addr = daemon.ready.resp;
    let looping = std::thread::spawn(move || {
        let url = format!("redis://{addr}/");
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        redis::cmd("EVAL")
            .arg("while true do end")
            .arg(0)
            .query::<()>(&mut c)
            .unwrap_err()
            .to_string()
    });
    eventually("BUSY while the script runs", || {
        match redis::cmd("PING").query::<String>(&mut b) {
            Err(e) => {
                assert!(e.to_string().contains("BUSY"), "{e}");
                true
            }
            Ok(_) => false,
        }
    });
    let killed: String = redis::cmd("SCRIPT").arg("KILL").query(&mut a).unwrap();
    assert_eq!(killed, "OK");
    let err = looping.join().unwrap();
    assert!(err.contains("killed by user"), "{err}");
    let pong: String = redis::cmd("PING").query(&mut b).unwrap();
    assert_eq!(pong, "PONG");

    // A script that wrote cannot be killed: it runs until the daemon is
    // killed at the end of the test (its client thread is not joined).
    std::thread::spawn(move || {
        let url = format!("redis://{addr}/");
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let _ = redis::cmd("EVAL")
            .arg("redis.call('set', 'w', 1); while true do end")
            .arg(0)
            .query::<()>(&mut c);
    });
    eventually("the writing script is busy", || {
        redis::cmd("PING").query::<String>(&mut b).is_err()
    });
    let err = redis::cmd("SCRIPT")
        .arg("KILL")
        .query::<String>(&mut a)
        .unwrap_err();
    assert!(err.to_string().contains("UNKILLABLE"), "{err}");
    let err = redis::cmd("GET")
        .arg("w")
        .query::<String>(&mut b)
        .unwrap_err();
    assert!(err.to_string().contains("BUSY"), "{err}");
}

/// Reads from `stream` until what arrived ends with `end` (or 20 s
/// passed).
fn read_until(stream: &mut TcpStream, end: &str) -> String {
    let mut got = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while !got.ends_with(end.as_bytes()) && start.elapsed() < Duration::from_secs(20) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn a_busy_script_refuses_transactions_whole_and_answers_its_pipeline() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut a = client(&daemon);
    let mut b = client(&daemon);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("lua-time-limit")
        .arg(10)
        .query(&mut a)
        .unwrap();
    let _: () = a.set("xx", 1).unwrap();
    let busy = |con: &mut redis::Connection| redis::cmd("PING").query::<String>(con).is_err();

    // A client pipelines a looping script and a PING (redis-cli style
    // raw RESP): both get their answers once SCRIPT KILL stops it.
    let mut c = TcpStream::connect(daemon.ready.resp).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let eval = "while 1 do redis.call('ping') end";
    c.write_all(
        format!(
            "*3\r\n$4\r\neval\r\n${}\r\n{eval}\r\n$1\r\n0\r\n*1\r\n$4\r\nping\r\n",
            eval.len()
        )
        .as_bytes(),
    )
    .unwrap();
    eventually("the script is busy", || busy(&mut a));

    // MULTI is allowed while busy, a command refused with BUSY makes the
    // EXEC after the kill fail; an EXEC refused while busy discards the
    // transaction.
    let _: () = redis::cmd("MULTI").query(&mut b).unwrap();
    let err = redis::cmd("INCR")
        .arg("xx")
        .query::<i64>(&mut b)
        .unwrap_err();
    assert!(err.to_string().contains("BUSY"), "{err}");
    let err = redis::cmd("EXEC").query::<()>(&mut b).unwrap_err();
    // (the client names EXECABORT ExecAbortError)
    assert!(
        err.to_string()
            .contains("Transaction discarded because of: BUSY"),
        "{err}"
    );
    let _: () = redis::cmd("MULTI").query(&mut b).unwrap();
    let err = redis::cmd("INCR")
        .arg("xx")
        .query::<i64>(&mut b)
        .unwrap_err();
    assert!(err.to_string().contains("BUSY"), "{err}");

    let killed: String = redis::cmd("SCRIPT").arg("KILL").query(&mut a).unwrap();
    assert_eq!(killed, "OK");
    // The hook sees the kill flag at its next look.
    eventually("the script stopped", || !busy(&mut a));
    let err = redis::cmd("EXEC").query::<()>(&mut b).unwrap_err();
    assert!(err.to_string().contains("previous errors"), "{err}");
    let xx: i64 = a.get("xx").unwrap();
    assert_eq!(xx, 1, "no half of a transaction ran");
    let pong: String = redis::cmd("PING").arg("asdf").query(&mut b).unwrap();
    assert_eq!(pong, "asdf", "b is out of MULTI");

    let replies = read_until(&mut c, "+PONG\r\n");
    assert!(
        replies.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{replies}"
    );
    assert!(replies.ends_with("+PONG\r\n"), "{replies}");
    let err = redis::cmd("SCRIPT")
        .arg("KILL")
        .query::<String>(&mut a)
        .unwrap_err();
    // (the client names NOTBUSY NotBusy)
    assert!(
        err.to_string()
            .contains("No scripts in execution right now"),
        "{err}"
    );
}

#[test]
fn keyspace_notifications_reach_a_subscriber() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut a = client(&daemon);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query(&mut a)
        .unwrap();
    let mut sub = client(&daemon);
    let mut sub = sub.as_pubsub();
    sub.psubscribe("__key*__:*").unwrap();
    let mut next = || {
        let msg = sub.get_message().unwrap();
        let payload: String = msg.get_payload().unwrap();
        (msg.get_channel_name().to_string(), payload)
    };
    let _: () = a.set("foo", "bar").unwrap();
    assert_eq!(next(), ("__keyspace@0__:foo".into(), "set".into()));
    assert_eq!(next(), ("__keyevent@0__:set".into(), "foo".into()));
    // A key set with a TTL expires, and says so.
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("v")
        .arg("PX")
        .arg(50)
        .query(&mut a)
        .unwrap();
    assert_eq!(next(), ("__keyspace@0__:t".into(), "set".into()));
    assert_eq!(next(), ("__keyevent@0__:set".into(), "t".into()));
    assert_eq!(next(), ("__keyspace@0__:t".into(), "expire".into()));
    assert_eq!(next(), ("__keyevent@0__:expire".into(), "t".into()));
    assert_eq!(next(), ("__keyspace@0__:t".into(), "expired".into()));
    assert_eq!(next(), ("__keyevent@0__:expired".into(), "t".into()));
    // A list emptied by a pop: the pop, then del.
    let _: () = a.rpush("l", "x").unwrap();
    let _: String = a.lpop("l", None).unwrap();
    assert_eq!(next(), ("__keyspace@0__:l".into(), "rpush".into()));
    assert_eq!(next(), ("__keyevent@0__:rpush".into(), "l".into()));
    assert_eq!(next(), ("__keyspace@0__:l".into(), "lpop".into()));
    assert_eq!(next(), ("__keyevent@0__:lpop".into(), "l".into()));
    assert_eq!(next(), ("__keyspace@0__:l".into(), "del".into()));
    assert_eq!(next(), ("__keyevent@0__:del".into(), "l".into()));
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

#[test]
fn client_reply_off_and_skip_silence_replies() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut s = TcpStream::connect(daemon.ready.resp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut out = Vec::new();
    for cmd in [
        &["CLIENT", "REPLY", "OFF"][..],
        &["SET", "a", "1"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "ON"],
        &["CLIENT", "REPLY", "SKIP"],
        &["GET", "a"],
        &["INCR", "a"],
    ] {
        out.extend_from_slice(&resp(cmd));
    }
    s.write_all(&out).unwrap();
    // Only CLIENT REPLY ON's answer and INCR's.
    let want = b"+OK\r\n:2\r\n";
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

#[test]
fn client_list_shows_every_connection_and_client_kill_closes_one() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut a = client(&daemon);
    let mut b = client(&daemon);
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("victim")
        .query(&mut b)
        .unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut b).unwrap();
    let b_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut b).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={b_id} ")))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains(" name=victim "), "{line}");
    assert!(line.contains(" db=3 "), "{line}");
    assert_eq!(list.lines().count(), 2, "{list}");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(b_id)
        .query(&mut a)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(redis::cmd("PING").query::<String>(&mut b).is_err());
    eventually("the killed client leaves the list", || {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();
        list.lines().count() == 1
    });
    let err = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("10.0.0.1:1")
        .query::<String>(&mut a)
        .unwrap_err();
    assert!(err.to_string().contains("No such client"), "{err}");
}
