//! Cluster replication (docs/CLUSTER.md, "Replication") with real
//! processes: three daemons with N=3, W=2, R=2. A write acknowledged at
//! quorum survives SIGKILL of N−W nodes; with more gone, writes and
//! reads are refused (CLUSTERDOWN: no majority) rather than lost or stale; a key deleted while a
//! replica was paused does not come back; concurrent INCRs are counted
//! once each across the death of their primary; a paused replica gets its
//! hints when it returns; a BLPOP served after waiting and a MULTI/EXEC
//! are replicated, so neither is undone by a failover.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cluster::{Node, converge, have_redis_cli, three_with};
use crate::support::wait_for;

pub(crate) const QUORUM: [&str; 6] = [
    "--replicas",
    "3",
    "--write-quorum",
    "2",
    "--read-quorum",
    "2",
];

fn three(name: &str) -> (Node, Node, Node) {
    three_with(name, &QUORUM)
}

/// What became of a command sent to the cluster.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Its reply.
    Done(redis::Value),
    /// An error reply other than a redirection (e.g. NOREPLICAS).
    Refused(String),
    /// The connection broke after it was sent: it may or may not have
    /// run.
    Unknown,
}

/// A cluster client that follows MOVED, as redis-cli -c does, and tries
/// the other nodes while one is unreachable.
pub(crate) struct Client {
    nodes: Vec<SocketAddr>,
    conns: HashMap<SocketAddr, redis::Connection>,
    next: usize,
}

impl Client {
    pub(crate) fn new(nodes: &[&Node]) -> Client {
        Client {
            nodes: nodes.iter().map(|n| n.daemon.ready.resp).collect(),
            conns: HashMap::new(),
            next: 0,
        }
    }

    fn conn(&mut self, addr: SocketAddr) -> Option<&mut redis::Connection> {
        match self.conns.entry(addr) {
            std::collections::hash_map::Entry::Occupied(e) => Some(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                let client = redis::Client::open(format!("redis://{addr}/")).ok()?;
                let conn = client
                    .get_connection_with_timeout(Duration::from_secs(2))
                    .ok()?;
                conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
                Some(e.insert(conn))
            }
        }
    }

    /// Runs `cmd`, following redirections and skipping unreachable
    /// nodes, for up to 30 s.
    fn run(&mut self, cmd: &redis::Cmd) -> Outcome {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut addr = self.nodes[self.next % self.nodes.len()];
        while Instant::now() < deadline {
            let Some(conn) = self.conn(addr) else {
                // Not reachable (killed): the command did not run; try
                // another node, which redirects until it sees the death.
                self.next += 1;
                addr = self.nodes[self.next % self.nodes.len()];
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            match cmd.query::<redis::Value>(conn) {
                Ok(value) => return Outcome::Done(value),
                Err(err) if err.kind() == redis::ErrorKind::Moved => {
                    let (host, _) = err.redirect_node().expect("a MOVED target");
                    addr = host.parse().expect("an address");
                }
                Err(err) if err.is_io_error() || err.is_connection_dropped() => {
                    self.conns.remove(&addr);
                    return Outcome::Unknown;
                }
                Err(err) if err.code() == Some("CLUSTERDOWN") => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(err) => return Outcome::Refused(err.to_string()),
            }
        }
        panic!("no node served {} within 30 s", show(cmd));
    }

    /// SETs `{prefix}:{i}` to `v{i}` for every `i` below `n`.
    pub(crate) fn set_values(&mut self, prefix: &str, n: usize) {
        for i in 0..n {
            self.ok(redis::cmd("SET")
                .arg(format!("{prefix}:{i}"))
                .arg(format!("v{i}")));
        }
    }

    /// Checks that `{prefix}:{i}` reads `v{i}` for every `i` below `n`.
    pub(crate) fn check_values(&mut self, prefix: &str, n: usize) {
        for i in 0..n {
            let got = self.ok(redis::cmd("GET").arg(format!("{prefix}:{i}")));
            assert_eq!(
                got,
                redis::Value::BulkString(format!("v{i}").into_bytes()),
                "{prefix}:{i}"
            );
        }
    }

    /// Runs `cmd` until it completes (retrying when its fate is unknown:
    /// only for idempotent commands) and returns its reply.
    pub(crate) fn ok(&mut self, cmd: &redis::Cmd) -> redis::Value {
        for _ in 0..100 {
            match self.run(cmd) {
                Outcome::Done(v) => return v,
                Outcome::Unknown => std::thread::sleep(Duration::from_millis(50)),
                Outcome::Refused(e) => panic!("{}: {e}", show(cmd)),
            }
        }
        panic!("{} never completed", show(cmd));
    }
}

/// A command as sent, for messages.
fn show(cmd: &redis::Cmd) -> String {
    String::from_utf8_lossy(&cmd.get_packed_command()).replace("\r\n", " ")
}

fn text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(i) => i.to_string(),
        redis::Value::Nil => "(nil)".into(),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            let mut parts: Vec<String> = items.iter().map(text).collect();
            parts.sort();
            parts.join(",")
        }
        other => format!("{other:?}"),
    }
}

/// Key `i`'s write and how to read it back, with the expected answer:
/// five types, and a TTL on every third key.
fn write_of(i: usize) -> (redis::Cmd, redis::Cmd, String) {
    let mut write = redis::Cmd::new();
    let mut read = redis::Cmd::new();
    let expected = match i % 5 {
        0 => {
            write.arg("SET").arg(format!("s:{i}")).arg(format!("v{i}"));
            read.arg("GET").arg(format!("s:{i}"));
            format!("v{i}")
        }
        1 => {
            write.arg("RPUSH").arg(format!("l:{i}")).arg("a").arg(i);
            read.arg("LRANGE").arg(format!("l:{i}")).arg(0).arg(-1);
            let mut v = ["a".to_owned(), i.to_string()];
            v.sort();
            v.join(",")
        }
        2 => {
            write.arg("HSET").arg(format!("h:{i}")).arg("f").arg(i);
            read.arg("HGET").arg(format!("h:{i}")).arg("f");
            i.to_string()
        }
        3 => {
            write.arg("SADD").arg(format!("set:{i}")).arg("x").arg("y");
            read.arg("SMEMBERS").arg(format!("set:{i}"));
            "x,y".into()
        }
        _ => {
            write.arg("ZADD").arg(format!("z:{i}")).arg(i).arg("m");
            read.arg("ZSCORE").arg(format!("z:{i}")).arg("m");
            i.to_string()
        }
    };
    (write, read, expected)
}

fn key_of(i: usize) -> String {
    match i % 5 {
        0 => format!("s:{i}"),
        1 => format!("l:{i}"),
        2 => format!("h:{i}"),
        3 => format!("set:{i}"),
        _ => format!("z:{i}"),
    }
}

/// Whether `node` is the primary of `key`: it answers instead of
/// redirecting.
pub(crate) fn is_primary(node: &Node, key: &str) -> bool {
    !node.cli(false, &["TYPE", key]).starts_with("MOVED")
}

#[test]
fn acknowledged_writes_survive_the_loss_of_n_minus_w_nodes() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, mut c) = three("repl-kill");
    let mut client = Client::new(&[&a, &b, &c]);
    for i in 0..1000 {
        let (write, _, _) = write_of(i);
        client.ok(&write);
        if i % 3 == 0 {
            let ok = client.ok(redis::cmd("EXPIRE").arg(key_of(i)).arg(3600));
            assert_eq!(text(&ok), "1");
        }
    }
    // N=3 on three nodes: every node holds every key.
    for n in [&a, &b, &c] {
        wait_for(
            "every replica to hold the keys",
            Duration::from_secs(10),
            || (n.cli(false, &["DBSIZE"]) == "1000").then_some(()),
        );
    }
    // N−W = 1: one node may go.
    c.daemon.signal(libc::SIGKILL);
    c.daemon.wait_exit(Duration::from_secs(5));
    let mut client = Client::new(&[&a, &b]);
    for i in 0..1000 {
        let (_, read, expected) = write_of(i);
        assert_eq!(text(&client.ok(&read)), expected, "key {i}");
        if i % 3 == 0 {
            let ttl = client.ok(redis::cmd("TTL").arg(key_of(i)));
            let ttl: i64 = text(&ttl).parse().unwrap();
            assert!(ttl > 3000 && ttl <= 3600, "key {i}: ttl {ttl}");
        }
    }
    converge(&[&a, &b], 2);
    // Two live replicas still make W=2: writes are acknowledged.
    for i in 1000..1100 {
        let (write, _, _) = write_of(i);
        client.ok(&write);
    }
    // A second node goes: more than N−W. Writes and reads are refused
    // rather than acknowledged on one copy or answered stale: NOREPLICAS
    // while a still counts b, then CLUSTERDOWN (a hears from one node of
    // three: no majority).
    let mut b = b;
    b.daemon.signal(libc::SIGKILL);
    b.daemon.wait_exit(Duration::from_secs(5));
    converge(&[&a], 1);
    let refused = wait_for("a write to be refused", Duration::from_secs(30), || {
        let reply = a.cli(false, &["SET", "late", "x"]);
        reply.starts_with("CLUSTERDOWN").then_some(reply)
    });
    assert_eq!(refused, "CLUSTERDOWN The cluster is down");
    assert_eq!(
        a.cli(false, &["GET", "s:0"]),
        "CLUSTERDOWN The cluster is down"
    );
    assert_eq!(a.info_field("cluster_state").as_deref(), Some("fail"));
    assert_eq!(a.metric("agora_cluster_majority"), 0);
    // The survivor still holds every acknowledged write (and perhaps the
    // refused one: a write refused after it ran stays where it ran).
    let size: usize = a.cli(false, &["DBSIZE"]).parse().unwrap();
    assert!(size == 1100 || size == 1101, "dbsize {size}");
}

#[test]
fn a_deleted_key_does_not_come_back_from_a_paused_replica() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, c) = three("repl-delete");
    let mut client = Client::new(&[&a, &b, &c]);
    // Keys c keeps as a replica but not as the primary.
    let keys: Vec<String> = (0..400)
        .map(|i| format!("del:{i}"))
        .filter(|k| !is_primary(&c, k))
        .take(40)
        .collect();
    for k in &keys {
        client.ok(redis::cmd("SET").arg(k).arg("old"));
    }
    wait_for("c to hold the keys", Duration::from_secs(10), || {
        (c.cli(false, &["DBSIZE"]) == keys.len().to_string()).then_some(())
    });
    c.daemon.signal(libc::SIGSTOP);
    for k in &keys {
        assert_eq!(text(&client.ok(redis::cmd("DEL").arg(k))), "1");
    }
    c.daemon.signal(libc::SIGCONT);
    // c still held "old" when it returned; the deletes' versions win.
    wait_for(
        "c to drop the deleted keys",
        Duration::from_secs(30),
        || (c.cli(false, &["DBSIZE"]) == "0").then_some(()),
    );
    converge(&[&a, &b, &c], 3);
    let mut client = Client::new(&[&c, &a, &b]);
    for k in &keys {
        assert_eq!(text(&client.ok(redis::cmd("GET").arg(k))), "(nil)", "{k}");
        assert_eq!(text(&client.ok(redis::cmd("EXISTS").arg(k))), "0", "{k}");
    }
    for n in [&a, &b, &c] {
        assert_eq!(n.cli(false, &["DBSIZE"]), "0");
    }
}

#[test]
fn concurrent_incrs_are_counted_once_across_the_death_of_their_primary() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, c) = three("repl-incr");
    let nodes = [a, b, c];
    let primary = nodes
        .iter()
        .position(|n| is_primary(n, "counter"))
        .expect("a primary");
    let acked = Arc::new(AtomicU64::new(0));
    let unknown = Arc::new(AtomicU64::new(0));
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.daemon.ready.resp).collect();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, unknown) = (acked.clone(), unknown.clone());
            let mut addrs = addrs.clone();
            addrs.rotate_left(w % 3);
            std::thread::spawn(move || {
                let mut client = Client {
                    nodes: addrs,
                    conns: HashMap::new(),
                    next: 0,
                };
                for _ in 0..400 {
                    match client.run(redis::cmd("INCR").arg("counter")) {
                        Outcome::Done(_) => acked.fetch_add(1, Ordering::Relaxed),
                        // Sent, then the connection broke, or the primary
                        // ran it but too few replicas acknowledged: it may
                        // have counted.
                        Outcome::Unknown | Outcome::Refused(_) => {
                            unknown.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    wait_for("INCRs under way", Duration::from_secs(30), || {
        (acked.load(Ordering::Relaxed) >= 200).then_some(())
    });
    let mut nodes = nodes;
    nodes[primary].daemon.signal(libc::SIGKILL);
    nodes[primary].daemon.wait_exit(Duration::from_secs(5));
    for w in workers {
        w.join().expect("a worker");
    }
    let survivors: Vec<&Node> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != primary)
        .map(|(_, n)| n)
        .collect();
    let mut client = Client::new(&survivors);
    let total: u64 = text(&client.ok(redis::cmd("GET").arg("counter")))
        .parse()
        .unwrap();
    let (acked, unknown) = (
        acked.load(Ordering::Relaxed),
        unknown.load(Ordering::Relaxed),
    );
    eprintln!("counter {total}: {acked} acknowledged, {unknown} of unknown fate");
    assert!(acked > 200 + 100, "too few INCRs after the kill: {acked}");
    assert!(
        total >= acked && total <= acked + unknown,
        "counter {total}, acknowledged {acked}, unknown {unknown}"
    );
}

#[test]
fn a_paused_replica_gets_its_hints_when_it_returns() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, c) = three("repl-hints");
    let mut client = Client::new(&[&a, &b, &c]);
    let keys: Vec<String> = (0..400)
        .map(|i| format!("hint:{i}"))
        .filter(|k| !is_primary(&c, k))
        .take(50)
        .collect();
    c.daemon.signal(libc::SIGSTOP);
    for k in &keys {
        client.ok(redis::cmd("SET").arg(k).arg("v"));
    }
    // The writes were acknowledged by the primary and the other replica;
    // c's copies wait as hints.
    wait_for("hints for c", Duration::from_secs(10), || {
        let pending: u64 = [&a, &b]
            .iter()
            .map(|n| n.metric("agora_cluster_hints_pending"))
            .sum();
        (pending >= keys.len() as u64).then_some(())
    });
    c.daemon.signal(libc::SIGCONT);
    wait_for("the hints replayed", Duration::from_secs(30), || {
        [&a, &b]
            .iter()
            .any(|n| n.log().contains("hinted handoff: replayed"))
            .then_some(())
    });
    wait_for("c to hold the keys", Duration::from_secs(30), || {
        (c.cli(false, &["DBSIZE"]) == keys.len().to_string()).then_some(())
    });
}

#[test]
fn a_pop_served_after_waiting_is_replicated_and_survives_failover() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, c) = three("repl-bpop");
    let nodes = [a, b, c];
    let key = "queue:jobs";
    let primary = nodes
        .iter()
        .position(|n| is_primary(n, key))
        .expect("a primary");
    // A consumer blocks on the primary; a producer's push wakes it.
    let addr = nodes[primary].daemon.ready.resp;
    let consumer = std::thread::spawn(move || {
        let client = redis::Client::open(format!("redis://{addr}/")).expect("client");
        let mut conn = client.get_connection().expect("connection");
        redis::cmd("BLPOP")
            .arg(key)
            .arg(20)
            .query::<Vec<String>>(&mut conn)
            .expect("BLPOP")
    });
    wait_for("the consumer to block", Duration::from_secs(10), || {
        nodes[primary]
            .cli(false, &["INFO", "clients"])
            .contains("blocked_clients:1")
            .then_some(())
    });
    let mut client = Client::new(&[&nodes[0], &nodes[1], &nodes[2]]);
    client.ok(redis::cmd("RPUSH").arg(key).arg("job-1"));
    assert_eq!(consumer.join().expect("consumer"), [key, "job-1"]);
    // The replicas had the pushed element; the pop must reach them too, or
    // the job comes back when the primary dies.
    let mut nodes = Vec::from(nodes);
    let mut dead = nodes.remove(primary);
    dead.daemon.signal(libc::SIGKILL);
    dead.daemon.wait_exit(Duration::from_secs(10));
    converge(&[&nodes[0], &nodes[1]], 2);
    let mut client = Client::new(&[&nodes[0], &nodes[1]]);
    assert_eq!(
        text(&client.ok(redis::cmd("LLEN").arg(key))),
        "0",
        "the popped job came back after failover"
    );
}

#[test]
fn a_transaction_is_replicated_and_survives_failover() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, c) = three("repl-multi");
    let mut nodes = vec![a, b, c];
    let (counter, list) = ("{order}:count", "{order}:items");
    let primary = nodes
        .iter()
        .position(|n| is_primary(n, counter))
        .expect("a primary");
    let addr = nodes[primary].daemon.ready.resp;
    let client = redis::Client::open(format!("redis://{addr}/")).expect("client");
    let mut conn = client.get_connection().expect("connection");
    let (count, len): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("INCRBY")
        .arg(counter)
        .arg(5)
        .cmd("RPUSH")
        .arg(list)
        .arg("a")
        .arg("b")
        .query(&mut conn)
        .expect("MULTI/EXEC");
    assert_eq!((count, len), (5, 2));
    let mut dead = nodes.remove(primary);
    dead.daemon.signal(libc::SIGKILL);
    dead.daemon.wait_exit(Duration::from_secs(10));
    converge(&[&nodes[0], &nodes[1]], 2);
    let mut client = Client::new(&[&nodes[0], &nodes[1]]);
    assert_eq!(text(&client.ok(redis::cmd("GET").arg(counter))), "5");
    assert_eq!(
        text(&client.ok(redis::cmd("LRANGE").arg(list).arg(0).arg(-1))),
        "a,b"
    );
}
