//! Redis's core beyond strings, hashes and lists, over real sockets with
//! the `redis` crate: databases, sets, sorted sets, transactions with
//! WATCH, blocking pops and moves served by another client, bitmaps,
//! SORT … STORE, DUMP/RESTORE, and snapshots of the new types across a
//! restart.

use std::time::Duration;

use redis::{Commands as _, Value};

use crate::support::{Daemon, Home};

pub(crate) fn client(daemon: &Daemon) -> redis::Connection {
    let url = format!("redis://{}/", daemon.ready.resp);
    let con = redis::Client::open(url)
        .expect("client")
        .get_connection()
        .expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    con
}

#[test]
fn databases_transactions_and_blocking_pops() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut a = client(&daemon);
    let mut b = client(&daemon);

    // Databases: each connection has its own selection.
    let _: () = redis::cmd("SELECT").arg(9).query(&mut a).unwrap();
    let _: () = a.set("k", "nine").unwrap();
    let v: Option<String> = b.get("k").unwrap();
    assert_eq!(v, None);
    let moved: i64 = redis::cmd("MOVE").arg("k").arg(0).query(&mut a).unwrap();
    assert_eq!(moved, 1);
    let v: String = b.get("k").unwrap();
    assert_eq!(v, "nine");
    let err = redis::cmd("SELECT")
        .arg(16)
        .query::<()>(&mut a)
        .unwrap_err();
    assert!(
        err.to_string().contains("DB index is out of range"),
        "{err}"
    );
    let _: () = redis::cmd("SELECT").arg(0).query(&mut a).unwrap();

    // WATCH: a write from another client fails EXEC with a null reply.
    let _: () = redis::cmd("WATCH").arg("k").query(&mut a).unwrap();
    let _: () = b.set("k", "changed").unwrap();
    let result: Value = redis::pipe()
        .atomic()
        .set("k", "mine")
        .get("k")
        .query(&mut a)
        .unwrap();
    assert_eq!(result, Value::Nil);
    let v: String = a.get("k").unwrap();
    assert_eq!(v, "changed");
    // Untouched, the transaction runs.
    let (set, got): (String, String) = redis::pipe()
        .atomic()
        .set("k", "mine")
        .get("k")
        .query(&mut a)
        .unwrap();
    assert_eq!((set.as_str(), got.as_str()), ("OK", "mine"));

    // A blocking pop is served by a push from another client, in order.
    let addr = daemon.ready.resp;
    let waiter = std::thread::spawn(move || {
        let url = format!("redis://{addr}/");
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let got: (String, String) = redis::cmd("BLPOP")
            .arg("jobs")
            .arg(10)
            .query(&mut c)
            .unwrap();
        got
    });
    // Wait until it is blocked.
    let mut blocked = false;
    for _ in 0..200 {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut b).unwrap();
        if info.contains("blocked_clients:1") {
            blocked = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(blocked, "the BLPOP client never blocked");
    let _: i64 = b.rpush("jobs", &["first", "second"]).unwrap();
    assert_eq!(
        waiter.join().unwrap(),
        ("jobs".to_string(), "first".to_string())
    );
    let left: Vec<String> = b.lrange("jobs", 0, -1).unwrap();
    assert_eq!(left, ["second"]);
    // A timeout answers nil.
    let none: Option<(String, String)> = redis::cmd("BLPOP")
        .arg("empty")
        .arg(0.05)
        .query(&mut b)
        .unwrap();
    assert_eq!(none, None);
}

#[test]
fn sets_and_sorted_sets_survive_a_restart() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &["--cache-persist"]);
    let mut con = client(&daemon);
    let _: i64 = con.sadd("s", &["a", "b", "c"]).unwrap();
    let _: i64 = con
        .zadd_multiple("z", &[(1.5, "low"), (10.0, "high")])
        .unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).unwrap();
    let _: () = con.set("in3", "x").unwrap();
    drop(con);
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());

    let daemon = Daemon::start(&home, &["--cache-persist"]);
    let mut con = client(&daemon);
    let mut members: Vec<String> = con.smembers("s").unwrap();
    members.sort();
    assert_eq!(members, ["a", "b", "c"]);
    let ranked: Vec<(String, f64)> = con.zrange_withscores("z", 0, -1).unwrap();
    assert_eq!(
        ranked,
        [("low".to_string(), 1.5), ("high".to_string(), 10.0)]
    );
    let rank: Option<i64> = con.zrank("z", "high").unwrap();
    assert_eq!(rank, Some(1));
    let none: Option<String> = con.get("in3").unwrap();
    assert_eq!(none, None);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).unwrap();
    let v: String = con.get("in3").unwrap();
    assert_eq!(v, "x");
}

/// Waits until INFO counts `n` blocked clients.
pub(crate) fn wait_blocked(con: &mut redis::Connection, n: usize) {
    for _ in 0..200 {
        let info: String = redis::cmd("INFO").arg("clients").query(con).unwrap();
        if info.contains(&format!("blocked_clients:{n}\r")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("never saw {n} blocked clients");
}

#[test]
fn blmove_bitmaps_sort_store_and_dump_restore() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let mut con = client(&daemon);

    // BLMOVE waits on its source and is served by a push from another
    // client; the element lands in the destination.
    let addr = daemon.ready.resp;
    let waiter = std::thread::spawn(move || {
        let url = format!("redis://{addr}/");
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let got: String = redis::cmd("BLMOVE")
            .arg("src")
            .arg("dst")
            .arg("RIGHT")
            .arg("LEFT")
            .arg(10)
            .query(&mut c)
            .unwrap();
        got
    });
    wait_blocked(&mut con, 1);
    let _: i64 = con.rpush("src", &["a", "b"]).unwrap();
    assert_eq!(waiter.join().unwrap(), "b");
    let dst: Vec<String> = con.lrange("dst", 0, -1).unwrap();
    assert_eq!(dst, ["b"]);
    let none: Option<String> = redis::cmd("BRPOPLPUSH")
        .arg("empty")
        .arg("dst")
        .arg(0.05)
        .query(&mut con)
        .unwrap();
    assert_eq!(none, None);

    // Bitmaps.
    let old: i64 = redis::cmd("SETBIT")
        .arg("bits")
        .arg(100)
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(old, 0);
    let _: i64 = redis::cmd("SETBIT")
        .arg("bits")
        .arg(3)
        .arg(1)
        .query(&mut con)
        .unwrap();
    let count: i64 = redis::cmd("BITCOUNT").arg("bits").query(&mut con).unwrap();
    assert_eq!(count, 2);
    let len: i64 = con.strlen("bits").unwrap();
    assert_eq!(len, 13);
    let first: i64 = redis::cmd("BITPOS")
        .arg("bits")
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(first, 3);
    let err = redis::cmd("SETBIT")
        .arg("bits")
        .arg(1u64 << 32)
        .arg(1)
        .query::<i64>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("bit offset is not an integer or out of range"),
        "{err}"
    );

    // SORT … STORE.
    let _: i64 = con.rpush("nums", &["3", "10", "1"]).unwrap();
    let stored: i64 = redis::cmd("SORT")
        .arg("nums")
        .arg("DESC")
        .arg("STORE")
        .arg("sorted")
        .query(&mut con)
        .unwrap();
    assert_eq!(stored, 3);
    let sorted: Vec<String> = con.lrange("sorted", 0, -1).unwrap();
    assert_eq!(sorted, ["10", "3", "1"]);

    // DUMP / RESTORE round trip, with a TTL.
    let _: i64 = con.hset("h", "f", "v").unwrap();
    let payload: Vec<u8> = redis::cmd("DUMP").arg("h").query(&mut con).unwrap();
    let _: () = redis::cmd("RESTORE")
        .arg("h2")
        .arg(60_000)
        .arg(&payload)
        .query(&mut con)
        .unwrap();
    let v: String = con.hget("h2", "f").unwrap();
    assert_eq!(v, "v");
    let ttl: i64 = con.pttl("h2").unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
    let mut bad = payload.clone();
    bad[0] ^= 0x40;
    let err = redis::cmd("RESTORE")
        .arg("h3")
        .arg(0)
        .arg(&bad)
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("payload version or checksum are wrong"),
        "{err}"
    );
}
