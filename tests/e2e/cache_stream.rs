//! Redis streams over real sockets with the `redis` crate: XADD,
//! consumer groups (XREADGROUP, XACK, XPENDING), a blocking XREAD served
//! by an XADD from another connection, WATCH, and a stream with its group across
//! a `--cache-persist` restart.

use std::time::Duration;

use redis::Value;

use crate::cache_core::{client, wait_blocked};
use crate::support::{Daemon, Home};

fn cmd(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::Int(n) => n.to_string(),
        Value::Nil => "(nil)".into(),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(text).collect::<Vec<_>>().join(" "))
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn consumer_groups_and_a_blocking_xread_served_by_another_client() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut a = client(&daemon);
    let mut b = client(&daemon);

    assert_eq!(
        text(&cmd(&mut a, &["XADD", "s", "1-1", "f", "v1"]).unwrap()),
        "1-1"
    );
    assert_eq!(
        text(&cmd(&mut a, &["XADD", "s", "1-*", "f", "v2"]).unwrap()),
        "1-2"
    );
    let err = cmd(&mut a, &["XADD", "s", "1-1", "f", "x"]).unwrap_err();
    assert!(err.to_string().contains("equal or smaller"), "{err}");
    let err = cmd(&mut a, &["LPUSH", "s", "x"]).unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    assert_eq!(text(&cmd(&mut a, &["TYPE", "s"]).unwrap()), "stream");

    // A group reads new entries once; XACK clears the PEL.
    assert_eq!(
        text(&cmd(&mut a, &["XGROUP", "CREATE", "s", "g", "0"]).unwrap()),
        "OK"
    );
    let got = cmd(
        &mut a,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
    )
    .unwrap();
    assert_eq!(text(&got), "[[s [[1-1 [f v1]]]]]");
    let got = cmd(
        &mut b,
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
    )
    .unwrap();
    assert_eq!(text(&got), "[[s [[1-2 [f v2]]]]]");
    let pending = cmd(&mut a, &["XPENDING", "s", "g"]).unwrap();
    assert_eq!(text(&pending), "[2 1-1 1-2 [[alice 1] [bob 1]]]");
    assert_eq!(
        text(&cmd(&mut a, &["XACK", "s", "g", "1-1", "1-2", "9-9"]).unwrap()),
        "2"
    );
    let pending = cmd(&mut a, &["XPENDING", "s", "g", "-", "+", "10"]).unwrap();
    assert_eq!(text(&pending), "[]");

    // A blocking XREAD on `$` is served by an XADD from another client.
    let addr = daemon.ready.resp;
    let waiter = std::thread::spawn(move || {
        let url = format!("redis://{addr}/");
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let got: Value = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(10_000)
            .arg("STREAMS")
            .arg("s")
            .arg("$")
            .query(&mut c)
            .unwrap();
        text(&got)
    });
    wait_blocked(&mut b, 1);
    cmd(&mut b, &["XADD", "s", "5-0", "f", "new"]).unwrap();
    assert_eq!(waiter.join().unwrap(), "[[s [[5-0 [f new]]]]]");

    // WATCH sees a stream write from another client.
    cmd(&mut a, &["WATCH", "s"]).unwrap();
    cmd(&mut b, &["XADD", "s", "*", "f", "w"]).unwrap();
    let result: Value = redis::pipe()
        .atomic()
        .cmd("XLEN")
        .arg("s")
        .query(&mut a)
        .unwrap();
    assert_eq!(result, Value::Nil);

    // A timeout answers nil.
    let none = cmd(&mut a, &["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]).unwrap();
    assert_eq!(none, Value::Nil);
}

#[test]
fn a_stream_and_its_groups_survive_a_restart() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &["--cache-persist"]);
    let mut con = client(&daemon);
    for i in 1..=3 {
        cmd(
            &mut con,
            &["XADD", "events", &format!("{i}-0"), "n", &i.to_string()],
        )
        .unwrap();
    }
    cmd(&mut con, &["XGROUP", "CREATE", "events", "workers", "0"]).unwrap();
    cmd(
        &mut con,
        &[
            "XREADGROUP",
            "GROUP",
            "workers",
            "w1",
            "COUNT",
            "1",
            "STREAMS",
            "events",
            ">",
        ],
    )
    .unwrap();
    cmd(&mut con, &["XDEL", "events", "2-0"]).unwrap();
    drop(con);
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());

    let daemon = Daemon::start(&home, &["--cache-persist"]);
    let mut con = client(&daemon);
    let all = cmd(&mut con, &["XRANGE", "events", "-", "+"]).unwrap();
    assert_eq!(text(&all), "[[1-0 [n 1]] [3-0 [n 3]]]");
    let groups = cmd(&mut con, &["XINFO", "GROUPS", "events"]).unwrap();
    assert_eq!(
        text(&groups),
        // The lag is unknown (nil) with a deleted entry ahead of the group,
        // as Redis 7.0 computes it.
        "[[name workers consumers 1 pending 1 last-delivered-id 1-0 entries-read 1 lag (nil)]]"
    );
    // The group goes on from where it was.
    let next = cmd(
        &mut con,
        &[
            "XREADGROUP",
            "GROUP",
            "workers",
            "w1",
            "STREAMS",
            "events",
            ">",
        ],
    )
    .unwrap();
    assert_eq!(text(&next), "[[events [[3-0 [n 3]]]]]");
    let err = cmd(&mut con, &["XADD", "events", "2-0", "n", "x"]).unwrap_err();
    assert!(err.to_string().contains("equal or smaller"), "{err}");
}
