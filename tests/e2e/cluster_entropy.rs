//! Anti-entropy (docs/CLUSTER.md, "Anti-entropy") with real processes:
//! a node that comes back empty gets back every key of its slots that
//! nobody wrote meanwhile — no hint and no read brings those, only the
//! digest comparison — and keys deleted while it was away stay deleted.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cluster::{NO_REPLICATION, Node, converge, have_redis_cli, three_with};
use crate::cluster_repl::{Client, QUORUM, is_primary};
use crate::support::wait_for;

/// N=2, W=2, R=1 (R+W>N): each key on two nodes.
const TWO_COPIES: [&str; 6] = [
    "--replicas",
    "2",
    "--write-quorum",
    "2",
    "--read-quorum",
    "1",
];

/// Every key a node holds, by SCAN (keyless: it runs on the node itself).
fn keys_on(node: &Node) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut cursor = "0".to_owned();
    loop {
        let out = node.cli(false, &["SCAN", &cursor, "COUNT", "1000"]);
        let mut lines = out.lines();
        cursor = lines.next().unwrap_or("0").trim().to_owned();
        keys.extend(lines.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()));
        if cursor == "0" {
            return keys;
        }
    }
}

#[test]
fn a_node_back_empty_gets_its_keys_by_anti_entropy_and_deletes_stay() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, c) = three_with("entropy", &QUORUM);
    let mut client = Client::new(&[&a, &b, &c]);
    client.set_values("ae", 300);
    // c dies and loses everything; meanwhile 50 keys are deleted and 50
    // rewritten (those reach the new c as hints), 200 are left alone.
    let mut c = c;
    c.daemon.signal(libc::SIGKILL);
    c.daemon.wait_exit(Duration::from_secs(10));
    let mut client = Client::new(&[&a, &b]);
    for i in 0..50 {
        client.ok(redis::cmd("DEL").arg(format!("ae:{i}")));
    }
    for i in 50..100 {
        client.ok(redis::cmd("SET")
            .arg(format!("ae:{i}"))
            .arg(format!("new{i}")));
    }
    converge(&[&a, &b], 2);
    // The new c reads with R=1 (a per-daemon setting), so GET on it shows
    // its own copy, not a quorum read's.
    let mut flags = QUORUM;
    flags[5] = "1";
    assert_eq!(flags[4], "--read-quorum");
    let c = Node::start_with("entropy", "c", &[&a, &b], &flags);
    converge(&[&a, &b, &c], 3);
    let expected: BTreeSet<String> = (50..300).map(|i| format!("ae:{i}")).collect();
    wait_for(
        "c to hold every live key again",
        Duration::from_secs(60),
        || (keys_on(&c) == expected).then_some(()),
    );
    // The 200 keys nobody touched came by anti-entropy: pulled by c or
    // pushed to it by a and b.
    let synced = c.metric("agora_cluster_antientropy_pulled_keys_total")
        + a.metric("agora_cluster_antientropy_pushed_keys_total")
        + b.metric("agora_cluster_antientropy_pushed_keys_total");
    assert!(synced >= 200, "only {synced} keys came by anti-entropy");
    // c's own copies hold the values (R=1 on c: no quorum read).
    let mut checked = 0;
    for i in 50..300 {
        let key = format!("ae:{i}");
        if !is_primary(&c, &key) {
            continue;
        }
        let want = if i < 100 {
            format!("new{i}")
        } else {
            format!("v{i}")
        };
        assert_eq!(c.cli(false, &["GET", &key]), want, "{key} on c");
        checked += 1;
    }
    assert!(checked > 30, "c is the primary of only {checked} keys");
    // In sync, a round finds no slot differing.
    let differing = a.metric("agora_cluster_antientropy_slots_differing_total");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        a.metric("agora_cluster_antientropy_slots_differing_total"),
        differing,
        "a still finds slots differing once c is in sync"
    );
}

#[test]
fn a_joining_node_takes_its_share_and_the_others_drop_what_they_no_longer_keep() {
    if !have_redis_cli() {
        return;
    }
    // N=2, W=2, R=1 (R+W>N): with two nodes each holds everything; a
    // third takes a share of the slots, and the other two hand over and
    // drop theirs, so every key ends on exactly two nodes.
    let a = Node::start_with("entropy-join", "a", &[], &TWO_COPIES);
    let b = Node::start_with("entropy-join", "b", &[&a], &TWO_COPIES);
    converge(&[&a, &b], 2);
    let mut client = Client::new(&[&a, &b]);
    client.set_values("j", 300);
    assert_eq!(a.cli(false, &["DBSIZE"]), "300");
    let c = Node::start_with("entropy-join", "c", &[&a, &b], &TWO_COPIES);
    converge(&[&a, &b, &c], 3);
    let nodes = [&a, &b, &c];
    wait_for(
        "every key on exactly two nodes, each node holding its share",
        Duration::from_secs(60),
        || {
            let sets: Vec<BTreeSet<String>> = nodes.iter().map(|n| keys_on(n)).collect();
            let counts: Vec<usize> = (0..300)
                .map(|i| {
                    let k = format!("j:{i}");
                    sets.iter().filter(|s| s.contains(&k)).count()
                })
                .collect();
            // Each node replicates about 2/3 of the slots.
            let shares = sets.iter().all(|s| (100..300).contains(&s.len()));
            (shares && counts.iter().all(|&n| n == 2)).then_some(())
        },
    );
    let dropped = nodes
        .iter()
        .filter(|n| {
            n.log()
                .contains("no longer replicates handed to their replicas and dropped")
        })
        .count();
    assert!(dropped >= 1, "no node logged dropping keys it handed over");
    let mut client = Client::new(&nodes);
    client.check_values("j", 300);
}

#[test]
fn a_node_stopped_cleanly_hands_its_keys_over_before_it_exits() {
    if !have_redis_cli() {
        return;
    }
    // N=2 over three nodes: each key on two of them. c stops with
    // SIGTERM: it says it is leaving, so a and b take its slots at once,
    // pushes its keys to the slots' new replicas, then exits; a and b
    // then hold every key, with its value.
    let (a, b, mut c) = three_with("entropy-leave", &TWO_COPIES);
    let mut client = Client::new(&[&a, &b, &c]);
    client.set_values("l", 300);
    c.daemon.signal(libc::SIGTERM);
    assert!(c.daemon.wait_exit(Duration::from_secs(30)).success());
    // Its pushes race the anti-entropy between a and b, which starts as
    // soon as they see c leaving: either may copy a key first, so the
    // count c pushed may be anything; that it left, is logged.
    let log = c.log();
    assert!(
        log.contains("left the cluster: keys handed over"),
        "c did not leave cleanly: {log}"
    );
    wait_for("a and b to hold every key", Duration::from_secs(30), || {
        (a.cli(false, &["DBSIZE"]) == "300" && b.cli(false, &["DBSIZE"]) == "300").then_some(())
    });
    let mut client = Client::new(&[&a, &b]);
    client.check_values("l", 300);
}

#[test]
fn without_replication_a_node_stopped_cleanly_hands_its_keys_to_the_new_owners() {
    if !have_redis_cli() {
        return;
    }
    // N=1: each key on its owner only, no versions. c stops with SIGTERM:
    // a and b take its slots, and c sends them its keys (the only copies)
    // before it exits (that a newer key on the new owner is kept is
    // export.rs's unit test).
    let (a, b, mut c) = three_with("export-leave", &NO_REPLICATION);
    let mut client = Client::new(&[&a, &b, &c]);
    client.set_values("x", 300);
    client.ok(redis::cmd("EXPIRE").arg("x:0").arg(3600));
    let held = c.cli(false, &["DBSIZE"]);
    assert_ne!(held, "0", "c holds some of the keys");
    c.daemon.signal(libc::SIGTERM);
    assert!(c.daemon.wait_exit(Duration::from_secs(30)).success());
    let log = c.log();
    assert!(
        log.lines()
            .any(|l| l.contains("left the cluster: keys handed over")
                && l.contains(&format!("keys={held}"))),
        "c did not hand its {held} keys over: {log}"
    );
    converge(&[&a, &b], 2);
    let sizes: Vec<u64> = [&a, &b]
        .iter()
        .map(|n| n.cli(false, &["DBSIZE"]).parse().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), 300, "{sizes:?}");
    let mut client = Client::new(&[&a, &b]);
    client.check_values("x", 300);
    let ttl = client.ok(redis::cmd("TTL").arg("x:0"));
    assert!(matches!(ttl, redis::Value::Int(t) if t > 3000), "{ttl:?}");
}

#[test]
fn flushall_on_one_node_empties_its_slots_everywhere_and_nothing_comes_back() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, c) = three_with("entropy-flush", &QUORUM);
    let mut client = Client::new(&[&a, &b, &c]);
    for i in 0..100 {
        client.ok(redis::cmd("SET").arg(format!("f:{i}")).arg("v"));
    }
    let sizes = |nodes: &[&Node]| -> Vec<String> {
        nodes.iter().map(|n| n.cli(false, &["DBSIZE"])).collect()
    };
    assert_eq!(sizes(&[&a, &b, &c]), ["100", "100", "100"]);
    // N=3 on three nodes: a replicates every slot, so its FLUSHALL's
    // tombstones reach every copy.
    assert_eq!(a.cli(false, &["FLUSHALL"]), "OK");
    wait_for("every node empty", Duration::from_secs(10), || {
        (sizes(&[&a, &b, &c]) == ["0", "0", "0"]).then_some(())
    });
    // Past a tombstone sweep (every 10 s) and anti-entropy rounds, the
    // keys have not come back from anywhere.
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(sizes(&[&a, &b, &c]), ["0", "0", "0"]);
    // The same from inside a transaction (on b) and a script (on c).
    let flushes: [(&Node, redis::Pipeline); 2] = [
        (&b, {
            let mut p = redis::pipe();
            p.atomic().cmd("FLUSHALL");
            p
        }),
        (&c, {
            let mut p = redis::pipe();
            p.cmd("EVAL").arg("return redis.call('FLUSHALL')").arg(0);
            p
        }),
    ];
    for (node, flush) in flushes {
        for i in 0..50 {
            client.ok(redis::cmd("SET").arg(format!("f:{i}")).arg("again"));
        }
        wait_for(
            "every node to hold the keys",
            Duration::from_secs(10),
            || (sizes(&[&a, &b, &c]) == ["50", "50", "50"]).then_some(()),
        );
        let mut con = redis::Client::open(format!("redis://{}/", node.daemon.ready.resp))
            .unwrap()
            .get_connection()
            .unwrap();
        let _: redis::Value = flush.query(&mut con).unwrap();
        wait_for("every node empty again", Duration::from_secs(10), || {
            (sizes(&[&a, &b, &c]) == ["0", "0", "0"]).then_some(())
        });
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(sizes(&[&a, &b, &c]), ["0", "0", "0"]);
    }
}
