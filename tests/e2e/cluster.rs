//! The cluster (docs/CLUSTER.md) with real processes: three daemons on
//! 127.0.0.1 gossip their way to one view, redis-cli -c and
//! redis-benchmark --cluster use them as a Redis Cluster, a killed node's
//! slots go to the survivors, and a node of another cluster or with a
//! taken id is refused.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::cache::redis_cli;
use crate::support::{Daemon, Home, wait_for};

/// The failure timeout the tests run with: long enough that a node
/// starved of CPU by parallel tests is not declared dead by mistake.
const TIMEOUT: &str = "3s";

/// Flags for nodes without replication (each key on its owner only):
/// what tests that count keys per node, or need no copies, run with.
pub(crate) const NO_REPLICATION: [&str; 6] = [
    "--replicas",
    "1",
    "--write-quorum",
    "1",
    "--read-quorum",
    "1",
];

/// A node: its home (data, log), process and the flags it started with.
pub(crate) struct Node {
    pub(crate) home: Home,
    pub(crate) daemon: Daemon,
    args: Vec<String>,
}

impl Node {
    pub(crate) fn start(cluster: &str, id: &str, seeds: &[&Node]) -> Node {
        Node::start_with(cluster, id, seeds, &[])
    }

    /// A node with more daemon flags (`--replicas`, `--cluster-mode proxy` …).
    pub(crate) fn start_with(cluster: &str, id: &str, seeds: &[&Node], extra: &[&str]) -> Node {
        Node::start_at("127.0.0.1", cluster, id, seeds, extra)
    }

    /// A node whose gossip and link use address `ip` (its cluster traffic
    /// leaves from there too, so a firewall rule can cut it off).
    pub(crate) fn start_at(
        ip: &str,
        cluster: &str,
        id: &str,
        seeds: &[&Node],
        extra: &[&str],
    ) -> Node {
        let home = Home::new();
        let seeds: Vec<String> = seeds
            .iter()
            .map(|n| {
                n.daemon
                    .ready
                    .cluster
                    .expect("a cluster address")
                    .to_string()
            })
            .collect();
        let listen = format!("{ip}:0");
        let mut args = vec![
            "--cluster",
            cluster,
            "--node-id",
            id,
            "--cluster-listen",
            &listen,
            "--cluster-failure-timeout",
            TIMEOUT,
        ];
        let seeds = seeds.join(",");
        if !seeds.is_empty() {
            args.extend(["--seeds", &seeds]);
        }
        args.extend_from_slice(extra);
        let daemon = Daemon::start_logged(&home, &args);
        let args = args.into_iter().map(str::to_owned).collect();
        Node { home, daemon, args }
    }

    /// SIGKILLs the process (if it runs) and starts it again with the same
    /// home and flags: an empty cache, new ports, the same node id.
    pub(crate) fn restart(&mut self) {
        let _ = self.daemon.child.kill();
        let _ = self.daemon.child.wait();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.daemon = Daemon::start_logged(&self.home, &args);
    }

    pub(crate) fn port(&self) -> String {
        self.daemon.ready.resp.port().to_string()
    }

    /// redis-cli against this node (`-c` when `follow`); stdout and
    /// stderr, trimmed.
    pub(crate) fn cli(&self, follow: bool, args: &[&str]) -> String {
        let mut cmd = Command::new(redis_cli().expect("redis-cli"));
        cmd.args(["-h", "127.0.0.1", "-p", &self.port()]);
        if follow {
            cmd.arg("-c");
        }
        let out = cmd.args(args).output().expect("redis-cli");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        text.trim().to_owned()
    }

    pub(crate) fn info_field(&self, field: &str) -> Option<String> {
        let info = self.cli(false, &["CLUSTER", "INFO"]);
        info.lines().find_map(|l| {
            l.trim()
                .strip_prefix(&format!("{field}:"))
                .map(str::to_owned)
        })
    }

    /// A counter or gauge from this node's `/metrics` (0 when absent).
    pub(crate) fn metric(&self, name: &str) -> u64 {
        let (_, metrics) = crate::support::rt().block_on(self.daemon.http_get("/metrics"));
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("daemon.log")).unwrap_or_default()
    }
}

/// False (and the test returns) when redis-cli is missing outside CI.
pub(crate) fn have_redis_cli() -> bool {
    if redis_cli().is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "redis-cli is required in CI"
    );
    eprintln!("redis-cli not installed; skipping");
    false
}

/// Waits until every node serves `size` nodes and the slot maps agree.
pub(crate) fn converge(nodes: &[&Node], size: usize) {
    wait_for("the cluster to converge", Duration::from_secs(30), || {
        let sizes_ok = nodes
            .iter()
            .all(|n| n.info_field("cluster_size").as_deref() == Some(&size.to_string()));
        let slots: Vec<String> = nodes
            .iter()
            .map(|n| n.cli(false, &["CLUSTER", "SLOTS"]))
            .collect();
        (sizes_ok && slots.windows(2).all(|w| w[0] == w[1])).then_some(())
    });
}

/// Three nodes a, b, c of cluster `name` with daemon flags `flags`,
/// converged.
pub(crate) fn three_with(name: &str, flags: &[&str]) -> (Node, Node, Node) {
    let a = Node::start_with(name, "a", &[], flags);
    let b = Node::start_with(name, "b", &[&a], flags);
    let c = Node::start_with(name, "c", &[&a, &b], flags);
    converge(&[&a, &b, &c], 3);
    (a, b, c)
}

fn three(name: &str) -> (Node, Node, Node) {
    three_with(name, &[])
}

#[test]
fn three_nodes_serve_redis_cluster_clients() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, c) = three("e2e");
    let nodes = [&a, &b, &c];
    for n in nodes {
        assert_eq!(n.info_field("cluster_state").as_deref(), Some("ok"));
        assert_eq!(
            n.info_field("cluster_slots_assigned").as_deref(),
            Some("16384")
        );
        assert_eq!(n.info_field("cluster_known_nodes").as_deref(), Some("3"));
        let lines = n.cli(false, &["CLUSTER", "NODES"]);
        assert_eq!(lines.lines().count(), 3, "{lines}");
        assert_eq!(
            lines
                .lines()
                .filter(|l| l.contains("myself,master"))
                .count(),
            1
        );
        assert!(
            n.cli(false, &["INFO", "cluster"])
                .contains("cluster_enabled:1")
        );
    }
    assert_eq!(a.cli(false, &["CLUSTER", "KEYSLOT", "foo"]), "12182");
    assert_eq!(a.cli(false, &["CLUSTER", "MYID"]).len(), 40);
    assert_eq!(a.cli(false, &["READONLY"]), "OK");
    let (_, metrics) = crate::support::rt().block_on(a.daemon.http_get("/metrics"));
    assert!(
        metrics.contains("agora_cluster_nodes{state=\"alive\"} 3"),
        "{metrics}"
    );

    // Keys on every node, written through one node and read through each.
    let keys: Vec<String> = (0..30).map(|i| format!("key:{i}")).collect();
    for k in &keys {
        assert_eq!(a.cli(true, &["SET", k, &format!("v-{k}")]), "OK");
    }
    for n in nodes {
        for k in &keys {
            assert_eq!(n.cli(true, &["GET", k]), format!("v-{k}"));
        }
    }
    // Every node holds every key: three replicas on three nodes (the
    // slots' primaries are spread, as the MOVED below shows).
    for n in nodes {
        wait_for(
            "every replica to hold the keys",
            Duration::from_secs(10),
            || {
                let size: usize = n.cli(false, &["DBSIZE"]).parse().unwrap();
                (size == keys.len()).then_some(())
            },
        );
    }
    // Without -c, a key owned elsewhere is a MOVED redirection to the
    // owner's RESP address; the owner answers it.
    let moved = nodes
        .iter()
        .map(|n| n.cli(false, &["GET", "key:0"]))
        .find(|r| r.starts_with("MOVED"))
        .expect("two of three nodes redirect");
    let owner_port = moved.rsplit(':').next().unwrap();
    assert!(moved.starts_with(&format!("MOVED {} 127.0.0.1:", slot_of(&a, "key:0"))));
    let owner = nodes
        .iter()
        .find(|n| n.port() == owner_port)
        .expect("the owner");
    assert_eq!(owner.cli(false, &["GET", "key:0"]), "v-key:0");

    // A script is routed by its keys, so it runs where they live.
    for n in nodes {
        let got = n.cli(
            true,
            &["EVAL", "return redis.call('GET', KEYS[1])", "1", "key:0"],
        );
        assert_eq!(got, "v-key:0");
    }

    // Multi-key commands: one slot (hash tags) or CROSSSLOT.
    assert!(
        a.cli(true, &["MSET", "foo", "1", "bar", "2"])
            .contains("CROSSSLOT Keys in request don't hash to the same slot")
    );
    assert_eq!(
        a.cli(true, &["MSET", "{user}:a", "1", "{user}:b", "2"]),
        "OK"
    );
    assert_eq!(b.cli(true, &["MGET", "{user}:a", "{user}:b"]), "1\n2");
    assert!(
        a.cli(false, &["SELECT", "1"])
            .contains("SELECT is not allowed in cluster mode")
    );
    assert_eq!(a.cli(false, &["SELECT", "0"]), "OK");

    // redis-benchmark reads CLUSTER NODES and sends each node its keys.
    if let Ok(out) = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &a.port(),
            "--cluster",
            "-t",
            "set,get",
            "-n",
            "10000",
            "-q",
        ])
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("SET:") && text.contains("GET:"), "{text}");
    }
}

fn slot_of(node: &Node, key: &str) -> u32 {
    node.cli(false, &["CLUSTER", "KEYSLOT", key])
        .parse()
        .unwrap()
}

#[test]
fn a_killed_node_is_declared_dead_and_its_slots_go_to_the_others() {
    if !have_redis_cli() {
        return;
    }
    let (a, b, mut c) = three("e2e-kill");
    let c_id = c.cli(false, &["CLUSTER", "MYID"]);
    c.daemon.signal(libc::SIGKILL);
    c.daemon.wait_exit(Duration::from_secs(5));
    let killed = Instant::now();
    // The bound: the failure timeout (3 s) plus gossip rounds; the limit
    // here only keeps a broken detector from hanging the test.
    for n in [&a, &b] {
        wait_for("the dead node marked fail", Duration::from_secs(20), || {
            let nodes = n.cli(false, &["CLUSTER", "NODES"]);
            nodes
                .lines()
                .any(|l| l.starts_with(&c_id) && l.contains("master,fail "))
                .then_some(())
        });
    }
    eprintln!("dead node detected after {:?}", killed.elapsed());
    converge(&[&a, &b], 2);
    // Every slot is served again: keys whose primary was c can be written
    // and read (what c held is on its replicas: tests/e2e/cluster_repl.rs).
    for i in 0..30 {
        let k = format!("after:{i}");
        assert_eq!(b.cli(true, &["SET", &k, "x"]), "OK");
        assert_eq!(a.cli(true, &["GET", &k]), "x");
    }
    assert_eq!(a.info_field("cluster_known_nodes").as_deref(), Some("3"));
    let (_, metrics) = crate::support::rt().block_on(a.daemon.http_get("/metrics"));
    assert!(
        metrics.contains("agora_cluster_nodes{state=\"dead\"} 1"),
        "{metrics}"
    );
}

#[test]
fn another_cluster_name_and_a_taken_node_id_are_refused() {
    if !have_redis_cli() {
        return;
    }
    let a = Node::start("alpha", "a", &[]);
    let stranger = Node::start("beta", "x", &[&a]);
    let twin = Node::start("alpha", "a", &[&a]);
    let b = Node::start("alpha", "b", &[&a]);
    // a hears from b and from its twin, never from the other cluster.
    wait_for("a to see b and the twin", Duration::from_secs(30), || {
        (a.info_field("cluster_known_nodes").as_deref() == Some("3")).then_some(())
    });
    let stranger_id = stranger.cli(false, &["CLUSTER", "MYID"]);
    assert!(!a.cli(false, &["CLUSTER", "NODES"]).contains(&stranger_id));
    wait_for(
        "the stranger's refusal in the log",
        Duration::from_secs(30),
        || {
            let log = stranger.log();
            (log.contains("wrong cluster") || log.contains("no cluster seed has answered"))
                .then_some(())
        },
    );
    // The twin started second: it serves no slots, and says why.
    wait_for(
        "the duplicate id in the twin's log",
        Duration::from_secs(30),
        || {
            twin.log()
                .contains("duplicate cluster node id")
                .then_some(())
        },
    );
    assert_eq!(a.info_field("cluster_size").as_deref(), Some("2"));
    let twin_nodes = twin.cli(false, &["CLUSTER", "NODES"]);
    let mine = twin_nodes.lines().find(|l| l.contains("myself")).unwrap();
    assert!(
        mine.contains("noaddr") && mine.split(' ').count() == 8,
        "{mine}"
    );
    drop(b);
}

#[test]
fn unreachable_seeds_are_retried_while_the_node_serves_and_it_stops_cleanly() {
    if !have_redis_cli() {
        return;
    }
    // Nothing listens on a port that was just free.
    let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let seed = free.local_addr().unwrap().to_string();
    drop(free);
    let home = Home::new();
    let args = [
        "--cluster",
        "lonely",
        "--node-id",
        "solo",
        "--cluster-listen",
        "127.0.0.1:0",
        "--seeds",
        &seed,
    ];
    let mut daemon = Daemon::start_logged(&home, &args);
    let port = daemon.ready.resp.port().to_string();
    let cli = |args: &[&str]| {
        let out = Command::new(redis_cli().unwrap())
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
            .unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        text.trim().to_owned()
    };
    wait_for(
        "the unreachable seed in the log",
        Duration::from_secs(30),
        || {
            let log = std::fs::read_to_string(home.path().join("daemon.log")).unwrap_or_default();
            log.contains("no cluster seed has answered yet")
                .then_some(())
        },
    );
    // Alone, it owns every slot and serves; a write needs two copies
    // (--write-quorum 2 by default), which it cannot make alone.
    assert!(cli(&["CLUSTER", "INFO"]).contains("cluster_size:1"));
    let set = cli(&["SET", "k", "v"]);
    assert!(
        set.contains("NOREPLICAS Not enough good replicas to write."),
        "{set}"
    );
    let get = cli(&["GET", "k"]);
    assert!(
        get.contains("NOREPLICAS Not enough good replicas to read."),
        "{get}"
    );
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
}
