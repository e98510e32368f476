//! A Redis Cluster client library against three agora daemons: redis-rs's
//! `ClusterClient` (what Rust applications use for Redis Cluster)
//! discovers the slots from any node, routes every command to its slot's
//! owner, runs cluster pipelines and hash-tagged multi-key commands, and
//! keeps working — losing no acknowledged write — when a node is killed:
//! it follows the survivors' new slot map (default replication, N=3, W=2).

use std::time::{Duration, Instant};

use redis::Commands as _;
use redis::cluster::{ClusterClient, ClusterConnection, cluster_pipe};

use crate::cluster::{Node, converge};

fn connect(nodes: &[&Node]) -> ClusterConnection {
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("redis://127.0.0.1:{}/", n.port()))
        .collect();
    ClusterClient::builder(urls)
        .retries(20)
        .min_retry_wait(50)
        .max_retry_wait(500)
        .build()
        .expect("a cluster client")
        .get_connection()
        .expect("a cluster connection")
}

#[test]
fn a_cluster_client_library_routes_pipelines_and_survives_a_killed_node() {
    let a = Node::start("lib", "a", &[]);
    let b = Node::start("lib", "b", &[&a]);
    let mut c = Node::start("lib", "c", &[&a, &b]);
    converge(&[&a, &b, &c], 3);
    let mut con = connect(&[&a]);

    // Plain commands, each routed to its key's owner.
    for i in 0..300 {
        let () = con.set(format!("key:{i}"), i).unwrap();
    }
    for i in 0..300 {
        let v: i64 = con.get(format!("key:{i}")).unwrap();
        assert_eq!(v, i);
    }
    let n: i64 = con.incr("counter", 5).unwrap();
    assert_eq!(n, 5);
    let () = con.expire("key:1", 100).unwrap();
    let ttl: i64 = con.ttl("key:1").unwrap();
    assert!((90..=100).contains(&ttl), "{ttl}");
    let gone: i64 = con.del("key:2").unwrap();
    assert_eq!(gone, 1);
    let none: Option<String> = con.get("key:2").unwrap();
    assert_eq!(none, None);
    // Multi-key commands in one slot ({hash tags}) run as one; the
    // client splits MSET/MGET across slots itself; a command it cannot
    // split gets the server's CROSSSLOT.
    let () = con
        .mset(&[("{user:1}:name", "ann"), ("{user:1}:mail", "a@x")])
        .unwrap();
    let both: Vec<String> = con.mget(&["{user:1}:name", "{user:1}:mail"]).unwrap();
    assert_eq!(both, vec!["ann", "a@x"]);
    let () = con.mset(&[("a", "1"), ("b", "2")]).unwrap();
    let split: Vec<String> = con.mget(&["a", "b"]).unwrap();
    assert_eq!(split, vec!["1", "2"]);
    // "a" is slot 15495, "b" slot 3300.
    let cross: redis::RedisResult<()> = redis::cmd("RENAME").arg("a").arg("b").query(&mut con);
    let err = cross.expect_err("keys of two slots");
    assert!(
        err.code() == Some("CROSSSLOT") || err.to_string().contains("CROSSSLOT"),
        "{err}"
    );

    // A cluster pipeline: split by owner, answered in order.
    let mut pipe = cluster_pipe();
    for i in 0..100 {
        pipe.set(format!("p:{i}"), i).ignore();
    }
    for i in 0..100 {
        pipe.get(format!("p:{i}"));
    }
    let got: Vec<i64> = pipe.query(&mut con).unwrap();
    assert_eq!(got, (0..100).collect::<Vec<_>>());

    // Kill c (SIGKILL): the client meets a refused connection or MOVED,
    // reloads the slots from a survivor, and carries on. Every write it
    // was told succeeded is there afterwards.
    c.daemon.child.kill().unwrap();
    c.daemon.child.wait().unwrap();
    let start = Instant::now();
    let mut acked = Vec::new();
    let mut failed = 0;
    let mut i = 0;
    while acked.len() < 300 && start.elapsed() < Duration::from_secs(60) {
        match con.set::<_, _, ()>(format!("after:{i}"), i) {
            Ok(()) => acked.push(i),
            Err(_) => {
                failed += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        i += 1;
    }
    assert_eq!(acked.len(), 300, "writes kept failing ({failed} failures)");
    converge(&[&a, &b], 2);
    let mut con = connect(&[&b]);
    for i in 0..300 {
        if i == 2 {
            continue;
        }
        let v: i64 = con.get(format!("key:{i}")).unwrap();
        assert_eq!(v, i, "key:{i} written before the kill");
    }
    for &i in &acked {
        let v: i64 = con.get(format!("after:{i}")).unwrap();
        assert_eq!(v, i, "after:{i} acknowledged during the failover");
    }
    let got: Vec<i64> = (0..100)
        .map(|i| con.get(format!("p:{i}")).unwrap())
        .collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}
