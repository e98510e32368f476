//! The cluster as users and plain clients see it (docs/CLUSTER.md, issue
//! 17): `agora cluster status` against three real daemons, before and
//! after one is killed; proxy mode serving a plain `redis-cli` (no `-c`)
//! every key, and its clear errors; a transaction whose queued command
//! was redirected failing at EXEC, as in Redis Cluster.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cache::redis_cli;
use crate::cluster::{NO_REPLICATION, Node, converge, have_redis_cli, three_with};
use crate::support::wait_for;

/// The failure timeout of tests/e2e/cluster.rs's nodes.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Three nodes without replication (`--replicas 1`), so that each key
/// lives on its owner only: what these tests count (replication has its
/// own, tests/e2e/cluster_repl.rs).
fn three(name: &str, more: &[&str]) -> (Node, Node, Node) {
    let mut flags = NO_REPLICATION.to_vec();
    flags.extend_from_slice(more);
    three_with(name, &flags)
}

/// `agora cluster status --json` against `node`, signed in as the user
/// registered in its home.
fn status(node: &Node) -> Value {
    let addr = node.daemon.ready.listen.to_string();
    let out = node
        .home
        .run(&["--addr", &addr, "--json", "cluster", "status"], None);
    assert!(
        out.status.success(),
        "cluster status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// Lines sent to one redis-cli connection (stdin), its answers.
fn session(node: &Node, lines: &str) -> String {
    let mut child = Command::new(redis_cli().expect("redis-cli"))
        .args(["-h", "127.0.0.1", "-p", &node.port()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

/// A key not written yet whose slot `owner` owns.
fn key_owned_by(owner: &Node, prefix: &str) -> String {
    (0..1000)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| owns(owner, k) && owner.cli(false, &["EXISTS", k]) == "0")
        .expect("a key of that node")
}

/// Whether `node` owns `key`'s slot (its CLUSTER NODES line lists it).
fn owns(node: &Node, key: &str) -> bool {
    let slot: u32 = node
        .cli(false, &["CLUSTER", "KEYSLOT", key])
        .parse()
        .unwrap();
    let nodes = node.cli(false, &["CLUSTER", "NODES"]);
    let mine = nodes
        .lines()
        .find(|l| l.contains("myself"))
        .expect("its own line");
    mine.split(' ').skip(8).any(|range| {
        let (s, e) = range.split_once('-').unwrap_or((range, range));
        let (s, e): (u32, u32) = (s.parse().unwrap(), e.parse().unwrap());
        (s..=e).contains(&slot)
    })
}

#[test]
fn cluster_status_shows_every_node_its_keys_and_a_killed_one_dead() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, mut c) = three("e2e-status", &[]);
    let addr = a.daemon.ready.listen.to_string();
    a.home.register(&addr, "alice", "alice-password");
    let keys: Vec<String> = (0..40).map(|i| format!("status:{i}")).collect();
    for k in &keys {
        assert_eq!(a.cli(true, &["SET", k, "v"]), "OK");
    }
    let nodes = [&a, &b, &c];
    let dbsize = |n: &Node| -> u64 { n.cli(false, &["DBSIZE"]).parse().unwrap() };
    // Key counts travel by gossip: wait until a reports what each holds.
    let doc = wait_for("every node's key count", Duration::from_secs(30), || {
        let doc = status(&a);
        let listed = doc["nodes"].as_array().unwrap();
        let all = nodes.iter().all(|n| {
            let id = n.cli(false, &["CLUSTER", "MYID"]);
            listed
                .iter()
                .any(|e| e["name"] == id.as_str() && e["keys"].as_u64() == Some(dbsize(n)))
        });
        all.then_some(doc)
    });
    assert_eq!(doc["cluster"], "e2e-status");
    assert_eq!(doc["mode"], "redirect");
    let listed = doc["nodes"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|n| n["state"] == "alive"));
    let slots: u64 = listed.iter().map(|n| n["slots"].as_u64().unwrap()).sum();
    assert_eq!(slots, 16_384);
    assert!(listed.iter().all(|n| n["slots"].as_u64().unwrap() > 4000));
    assert_eq!(doc["totals"]["keys"], keys.len() as u64);
    assert_eq!(
        listed.iter().filter(|n| n["myself"] == true).count(),
        1,
        "{doc}"
    );
    // Nobody replicates yet: no lag is published.
    assert!(listed.iter().all(|n| n["lag"].is_null()));
    // The table for people says the same.
    let out = a.home.run(&["--addr", &addr, "cluster", "status"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("cluster e2e-status (redirect mode): 3 nodes, 3 alive"),
        "{text}"
    );
    assert!(
        text.contains(
            "total: 40 keys held (a replicated key once per copy), 16384 of 16384 slots served"
        ),
        "{text}"
    );

    // SIGKILL c: within the failure timeout (plus gossip rounds) a says
    // it is dead and its slots are the others'.
    c.daemon.signal(libc::SIGKILL);
    c.daemon.wait_exit(Duration::from_secs(5));
    let killed = Instant::now();
    let doc = wait_for("c reported dead", Duration::from_secs(20), || {
        let doc = status(&a);
        let dead = doc["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "c" && n["state"] == "dead" && n["slots"] == 0);
        dead.then_some(doc)
    });
    let took = killed.elapsed();
    eprintln!("cluster status showed the killed node dead after {took:?}");
    // The bound is the timeout plus a gossip round; the slack is for a
    // loaded machine (the status itself is polled, not timed).
    assert!(took < TIMEOUT * 3, "{took:?}");
    assert_eq!(doc["totals"]["dead"], 1);
    assert_eq!(doc["totals"]["slots"], 16_384);
}

#[test]
fn proxy_mode_serves_a_plain_client_every_key_and_says_what_it_refuses() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, mut c) = three("e2e-proxy", &["--cluster-mode", "proxy"]);
    let nodes = [&a, &b, &c];
    // Written and read through every node by redis-cli without -c.
    let keys: Vec<String> = (0..30).map(|i| format!("proxy:{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        let via = nodes[i % 3];
        assert_eq!(via.cli(false, &["SET", k, &format!("v-{k}")]), "OK", "{k}");
    }
    for n in nodes {
        for k in &keys {
            assert_eq!(n.cli(false, &["GET", k]), format!("v-{k}"), "{k}");
        }
        // RESP3 goes through as RESP3.
        assert_eq!(n.cli(false, &["-3", "GET", &keys[0]]), "v-proxy:0");
    }
    // The keys live on their owners: every node holds some.
    let sizes: Vec<u64> = nodes
        .iter()
        .map(|n| n.cli(false, &["DBSIZE"]).parse().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), keys.len() as u64, "{sizes:?}");
    assert!(sizes.iter().all(|&s| s > 0), "{sizes:?}");
    // Errors of the owner come back unchanged; CROSSSLOT stays.
    let remote = key_owned_by(&b, "list:");
    assert_eq!(a.cli(false, &["LPUSH", &remote, "x"]), "1");
    assert!(a.cli(false, &["GET", &remote]).contains("WRONGTYPE"));
    assert!(
        a.cli(false, &["MSET", "foo", "1", "bar", "2"])
            .contains("CROSSSLOT")
    );
    assert_eq!(
        a.cli(
            false,
            &["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "x", "y"]
        ),
        "d\nx\ny"
    );
    // What it cannot forward correctly is refused with a clear error.
    let blocked = a.cli(false, &["BLPOP", &key_owned_by(&b, "empty:"), "1"]);
    assert!(
        blocked.contains("proxy mode does not forward blocking commands")
            && blocked.contains("owned by node b"),
        "{blocked}"
    );
    let txn = session(&a, &format!("MULTI\nSET {remote} 2\nEXEC\n"));
    assert!(txn.contains("EXECABORT"), "{txn}");

    // A dead owner: a clear error naming it, at once, never a hang.
    let on_c = key_owned_by(&c, "dead:");
    c.daemon.signal(libc::SIGKILL);
    c.daemon.wait_exit(Duration::from_secs(5));
    let asked = Instant::now();
    let reply = a.cli(false, &["GET", &on_c]);
    // Before the failure detector moves c's slots: CLUSTERDOWN naming c;
    // after: the new owner answers (empty: no replication yet).
    assert!(
        reply.starts_with("CLUSTERDOWN node c (") || reply.is_empty(),
        "{reply}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
}

#[test]
fn a_transaction_with_a_redirected_command_fails_at_exec() {
    if !have_redis_cli() {
        return;
    }
    let a = Node::start("e2e-multi", "a", &[]);
    let b = Node::start("e2e-multi", "b", &[&a]);
    converge(&[&a, &b], 2);
    let theirs = key_owned_by(&b, "txn:");
    let mine = key_owned_by(&a, "txn:");
    let out = session(
        &a,
        &format!("MULTI\nSET {mine} 1\nSET {theirs} 1\nEXEC\nGET {mine}\n"),
    );
    // redis-cli prints an empty line after an error, and nil as one.
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "OK", "{out}");
    assert_eq!(lines[1], "QUEUED", "{out}");
    assert!(lines[2].starts_with("MOVED "), "{out}");
    assert!(
        lines[3].starts_with("EXECABORT Transaction discarded because of previous errors"),
        "{out}"
    );
    // Nothing of it ran: GET answers nil.
    assert_eq!(lines.len(), 4, "{out}");
    // A transaction on this node's keys still works.
    let ok = session(&a, &format!("MULTI\nSET {mine} 2\nEXEC\n"));
    assert!(ok.contains("QUEUED") && !ok.contains("EXECABORT"), "{ok}");
}
