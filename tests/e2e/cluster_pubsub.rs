//! PUBLISH across the cluster (docs/CLUSTER.md, "Pub/sub"): a message
//! published on one node reaches subscribers on every node — RESP
//! channels and patterns, and a native subscriber (`agora cache
//! subscribe`) — in the order it was published; PUBLISH answers the
//! publishing node's own subscribers, as in Redis Cluster.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::cluster::{NO_REPLICATION, Node, converge, have_redis_cli, three_with};
use crate::support::wait_for;

fn client(node: &Node) -> redis::Connection {
    redis::Client::open(format!("redis://{}/", node.daemon.ready.resp))
        .unwrap()
        .get_connection()
        .unwrap()
}

#[test]
fn publish_on_one_node_reaches_subscribers_on_every_node_in_order() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, c) = three_with("pubsub", &NO_REPLICATION);

    // A channel subscriber on b, a pattern subscriber on c, a native one
    // on c.
    let mut on_b = client(&b);
    let mut on_b = on_b.as_pubsub();
    on_b.subscribe("news").unwrap();
    on_b.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut on_c = client(&c);
    let mut on_c = on_c.as_pubsub();
    on_c.psubscribe("ne*").unwrap();
    on_c.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = c.daemon.ready.listen.to_string();
    c.home.register(&addr, "alice", "alice-password");
    let mut native = c
        .home
        .cmd()
        .args(["--addr", &addr, "--json", "cache", "subscribe", "news"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(native.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["type"], "subscribe", "{first}");

    // a has no subscriber of its own: PUBLISH counts a's only (0), and
    // the others still get it. The gossip view may be a moment behind the
    // subscriptions' confirmations: publish until the first arrives.
    let mut pub_con = client(&a);
    wait_for(
        "a first message across nodes",
        Duration::from_secs(20),
        || {
            let n: i64 = redis::cmd("PUBLISH")
                .arg("news")
                .arg("hello")
                .query(&mut pub_con)
                .unwrap();
            assert_eq!(n, 0);
            on_b.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            on_b.get_message().ok()
        },
    );
    on_b.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Drain the hellos, then a numbered run that must arrive in order,
    // complete, on every subscriber.
    let end = |payload: &str| payload == "end";
    let _: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("end")
        .query(&mut pub_con)
        .unwrap();
    while !end(&on_b.get_message().unwrap().get_payload::<String>().unwrap()) {}
    while !end(&on_c.get_message().unwrap().get_payload::<String>().unwrap()) {}
    loop {
        let v: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        if v["payload"] == "end" {
            break;
        }
    }
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("PUBLISH").arg("news").arg(i.to_string());
    }
    let counts: Vec<i64> = pipe.query(&mut pub_con).unwrap();
    assert!(counts.iter().all(|n| *n == 0));
    for i in 0..200 {
        let msg = on_b.get_message().unwrap();
        assert_eq!(msg.get_channel_name(), "news");
        assert_eq!(msg.get_payload::<String>().unwrap(), i.to_string());
        let msg = on_c.get_message().unwrap();
        assert_eq!(msg.get_pattern::<String>().unwrap(), "ne*");
        assert_eq!(msg.get_payload::<String>().unwrap(), i.to_string());
        let v: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(v["payload"], i.to_string(), "{v}");
    }
    // A subscriber on the publishing node counts there and gets it once.
    let mut on_a = client(&a);
    let mut on_a = on_a.as_pubsub();
    on_a.subscribe("news").unwrap();
    on_a.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("local")
        .query(&mut client(&a))
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        on_a.get_message().unwrap().get_payload::<String>().unwrap(),
        "local"
    );
    assert_eq!(
        on_b.get_message().unwrap().get_payload::<String>().unwrap(),
        "local"
    );
    on_a.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    assert!(on_a.get_message().is_err(), "delivered twice on a");
    // a counts what it handed to b and c.
    let (_, metrics) = crate::support::rt().block_on(a.daemon.http_get("/metrics"));
    let forwarded: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("agora_cluster_pubsub_forwarded_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no forwarded counter in {metrics}"));
    assert!(forwarded >= 2 * 203, "{forwarded}");
    assert!(metrics.contains("agora_cluster_pubsub_dropped_total 0\n"));
    let _ = native.kill();
    let _ = native.wait();
}

/// A raw RESP connection: what was read so far, as text.
struct Raw {
    stream: std::net::TcpStream,
    seen: String,
}

impl Raw {
    fn connect(daemon: &crate::support::Daemon) -> Raw {
        Raw {
            stream: daemon.resp_stream(),
            seen: String::new(),
        }
    }

    fn send(&mut self, args: &[&str]) {
        use std::io::Write as _;
        let mut frame = format!("*{}\r\n", args.len());
        for a in args {
            frame.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.stream.write_all(frame.as_bytes()).unwrap();
    }

    /// Reads until the text seen contains `what` (30 s at most).
    fn wait_for(&mut self, what: &str) -> String {
        self.wait_for_all(&[what.to_owned()])
    }

    /// Reads until the text seen contains each of `whats` (30 s at most).
    fn wait_for_all(&mut self, whats: &[String]) -> String {
        use std::io::Read as _;
        let start = std::time::Instant::now();
        while let Some(what) = whats.iter().find(|w| !self.seen.contains(w.as_str())) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never saw {what:?} in {:?}",
                self.seen
            );
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.stream.read(&mut buf) {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        std::mem::take(&mut self.seen)
    }
}

#[test]
fn sharded_pubsub_is_its_own_namespace_and_answers_like_redis_7() {
    let home = crate::support::Home::new();
    let daemon = crate::support::Daemon::start(&home, &[]);
    let mut sub = Raw::connect(&daemon);
    sub.send(&["SSUBSCRIBE", "orders", "stock"]);
    let said = sub.wait_for(":2\r\n");
    assert!(
        said.contains("$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n"),
        "{said:?}"
    );
    // A plain subscriber of the same name is another namespace.
    let mut plain = Raw::connect(&daemon);
    plain.send(&["SUBSCRIBE", "orders"]);
    plain.wait_for(":1\r\n");
    let mut con = redis::Client::open(format!("redis://{}/", daemon.ready.resp))
        .unwrap()
        .get_connection()
        .unwrap();
    let n: i64 = redis::cmd("SPUBLISH")
        .arg("orders")
        .arg("one")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let said = sub.wait_for("one\r\n");
    assert!(
        said.contains("$8\r\nsmessage\r\n$6\r\norders\r\n$3\r\none\r\n"),
        "{said:?}"
    );
    let n: i64 = redis::cmd("PUBLISH")
        .arg("orders")
        .arg("two")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1, "PUBLISH reaches the plain subscriber only");
    plain.wait_for("two\r\n");
    // Introspection.
    let mut channels: Vec<String> = redis::cmd("PUBSUB")
        .arg("SHARDCHANNELS")
        .query(&mut con)
        .unwrap();
    channels.sort();
    assert_eq!(channels, ["orders", "stock"]);
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("SHARDNUMSUB")
        .arg("orders")
        .arg("none")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        numsub,
        vec![
            redis::Value::BulkString(b"orders".to_vec()),
            redis::Value::Int(1),
            redis::Value::BulkString(b"none".to_vec()),
            redis::Value::Int(0),
        ]
    );
    // In subscribed mode other commands are refused; SUNSUBSCRIBE with no
    // argument leaves every shard channel, counting down.
    sub.send(&["GET", "k"]);
    sub.wait_for("only (P|S)SUBSCRIBE");
    sub.send(&["SUNSUBSCRIBE"]);
    let said = sub.wait_for(":0\r\n");
    assert!(said.contains("sunsubscribe"), "{said:?}");
    let n: i64 = redis::cmd("SPUBLISH")
        .arg("orders")
        .arg("three")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 0);
    // From a script and inside MULTI, as PUBLISH.
    let n: i64 = redis::cmd("EVAL")
        .arg("return redis.call('SPUBLISH', KEYS[1], 'x')")
        .arg(1)
        .arg("orders")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 0);
    let replies: Vec<i64> = redis::pipe()
        .atomic()
        .cmd("SPUBLISH")
        .arg("orders")
        .arg("y")
        .query(&mut con)
        .unwrap();
    assert_eq!(replies, [0]);
}

#[test]
fn shard_channels_are_routed_to_their_slot_owner() {
    if !have_redis_cli() {
        return;
    }
    let a = Node::start_with("spubsub", "a", &[], &NO_REPLICATION);
    let b = Node::start_with("spubsub", "b", &[&a], &NO_REPLICATION);
    converge(&[&a, &b], 2);
    // A channel whose slot b owns: on a it is MOVED, on b it works.
    let channel = (0..1000)
        .map(|i| format!("ch{i}"))
        .find(|c| a.cli(false, &["SPUBLISH", c, "x"]).starts_with("MOVED"))
        .expect("a channel owned by b");
    assert_eq!(b.cli(false, &["SPUBLISH", &channel, "x"]), "0");
    let mut sub = Raw::connect(&b.daemon);
    sub.send(&["SSUBSCRIBE", &channel]);
    sub.wait_for(":1\r\n");
    assert_eq!(b.cli(false, &["SPUBLISH", &channel, "hello"]), "1");
    sub.wait_for("hello\r\n");
    // redis-cli -c follows the redirection from a.
    assert_eq!(a.cli(true, &["SPUBLISH", &channel, "again"]), "1");
    sub.wait_for("again\r\n");
    // Channels of different slots in one SSUBSCRIBE: CROSSSLOT.
    let mut other = Raw::connect(&b.daemon);
    other.send(&["SSUBSCRIBE", "{x}1", "{y}2"]);
    other.wait_for("CROSSSLOT");
}

#[test]
fn shard_subscribers_are_told_when_their_slot_moves_away() {
    if !have_redis_cli() {
        return;
    }
    let a = Node::start_with("smove", "a", &[], &NO_REPLICATION);
    let b = Node::start_with("smove", "b", &[&a], &NO_REPLICATION);
    converge(&[&a, &b], 2);
    let owned_by_b = |c: &String| !b.cli(false, &["SPUBLISH", c, "x"]).starts_with("MOVED");
    let channels: Vec<String> = (0..1000)
        .map(|i| format!("sm{i}"))
        .filter(owned_by_b)
        .take(60)
        .collect();
    let mut sub = Raw::connect(&b.daemon);
    for c in &channels {
        sub.send(&["SSUBSCRIBE", c]);
    }
    sub.wait_for(":60\r\n");
    // A third node takes about a third of the slots, some from b.
    let c = Node::start_with("smove", "c", &[&a, &b], &NO_REPLICATION);
    converge(&[&a, &b, &c], 3);
    let (kept, moved): (Vec<String>, Vec<String>) = channels.into_iter().partition(owned_by_b);
    assert!(!moved.is_empty() && !kept.is_empty(), "{kept:?} {moved:?}");
    // Each subscription to a moved channel ends with a sunsubscribe push;
    // the others go on.
    let notice = |ch: &str| format!("sunsubscribe\r\n${}\r\n{ch}\r\n", ch.len());
    let notices: Vec<String> = moved.iter().map(|ch| notice(ch)).collect();
    let seen = sub.wait_for_all(&notices);
    for ch in &kept {
        assert!(!seen.contains(&notice(ch)), "{ch} was not moved: {seen}");
    }
    assert_eq!(b.cli(false, &["SPUBLISH", &kept[0], "still"]), "1");
    sub.wait_for("still\r\n");
    assert!(c.cli(true, &["SPUBLISH", &moved[0], "gone"]).ends_with('0'));
}
