//! The rolling-restart proof (issue 20, docs/DEPLOY.md "Rolling
//! restarts"): three daemons on one PostgreSQL, a cache cluster in proxy
//! mode, behind HAProxy (Debian's package) that health-checks `/readyz`.
//! While blog reads and writes, chat sends, job enqueues and cache
//! operations run through HAProxy, each node in turn gets SIGTERM, drains
//! (`--drain-period`), exits 0 and is replaced by a new binary (a copy of
//! the one under test, started from another file) on the same ports. The
//! run must end with 0 failed HTTP requests and every acknowledged write
//! (article, chat message, job, cache key) readable, and a chat follower
//! that reconnected through every restart must have missed no message.
//!
//! `scripts/rolling-restart.sh` runs this test longer (AGORA_ROLLING_ROUNDS
//! passes over the three nodes) and prints its report; the figures are in
//! docs/BENCHMARKS.md.

use std::collections::HashSet;
use std::net::{TcpListener, UdpSocket};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Daemon, Home, bin, postgres_database, rt, wait_for};

mod haproxy;
mod load;

use haproxy::{Haproxy, http};
use load::{Native, Shared, Tally, blog_reader, blog_writer, cache_load, native, native_load};

const KEY: &str = "rolling-test-key-0123456789abcdef0123456789";
const DRAIN: Duration = Duration::from_secs(2);
const ROOM: &str = "rolling";

/// One node's fixed addresses: HAProxy's configuration names them, so a
/// restarted node comes back on the same ports.
#[derive(Clone, Copy)]
struct Ports {
    listen: u16,
    http: u16,
    resp: u16,
    gossip: u16,
}

impl Ports {
    /// Four ports free now, all different; the gossip port is free for
    /// both UDP (gossip) and TCP (the cluster link listens on it too).
    fn free() -> Ports {
        let [listen, http, resp] = free_ports();
        let gossip = loop {
            let [port] = free_ports();
            if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
                break port;
            }
        };
        Ports {
            listen,
            http,
            resp,
            gossip,
        }
    }
}

/// `N` different TCP ports free now (each held until all are picked).
fn free_ports<const N: usize>() -> [u16; N] {
    let held: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"));
    held.map(|l| l.local_addr().expect("its address").port())
}

struct Node {
    id: &'static str,
    home: Home,
    ports: Ports,
    daemon: Daemon,
    starts: u32,
}

/// Starts `program` as node `id` (its log appended to HOME/daemon.log).
fn spawn(
    program: &str,
    id: &str,
    home: &Home,
    ports: Ports,
    seeds: &[Ports],
    db: &str,
    n: u32,
) -> Daemon {
    let ready_file = home.path().join(format!("ready-{n}.json"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.path().join("daemon.log"))
        .expect("log file");
    let at = |port: u16| format!("127.0.0.1:{port}");
    let seeds: Vec<String> = seeds.iter().map(|p| at(p.gossip)).collect();
    let mut cmd = home.cmd_for(program);
    cmd.arg("daemon")
        .args(["--listen", &at(ports.listen), "--http", &at(ports.http)])
        .args(["--resp", &at(ports.resp), "--data"])
        .arg(home.data())
        .arg("--ready-file")
        .arg(&ready_file)
        .args(["--database", db, "--drain-period", "2s"])
        .args(["--trusted-proxies", "127.0.0.1"])
        // One test user makes all the load: its limits are raised (a
        // site's limits are per client and per user).
        .args(["--chat-rate", "1000", "--chat-burst", "1000"])
        .args(["--blog-write-rate", "1000", "--blog-write-burst", "1000"])
        .args(["--blog-read-rate", "5000", "--blog-read-burst", "5000"])
        .args([
            "--cluster",
            "rolling",
            "--node-id",
            id,
            "--cluster-mode",
            "proxy",
        ])
        .args([
            "--cluster-listen",
            &at(ports.gossip),
            "--cluster-failure-timeout",
            "2s",
        ])
        .args(["--seeds", &seeds.join(",")])
        .env("AGORA_JWT_SECRET", KEY)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    Daemon::spawn(home, cmd, &ready_file)
}

/// HAProxy, the nodes and the report; the load runs until `stop`.
#[test]
fn a_rolling_restart_under_load_fails_no_request_and_loses_no_write() {
    let rounds: usize = std::env::var("AGORA_ROLLING_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let db = postgres_database();
    let work = Home::new();
    // The "new version": the binary under test, started from another file.
    let next = work.path().join("agora-next");
    std::fs::copy(bin(), &next).expect("copy the binary");
    let next = next.to_str().expect("a UTF-8 path").to_owned();

    let ids = ["a", "b", "c"];
    let mut nodes: Vec<Node> = Vec::new();
    for id in ids {
        let seeds: Vec<Ports> = nodes.iter().map(|n| n.ports).collect();
        // Ports picked free can be taken by another test before the daemon
        // binds them: then it exits at once, and new ones are picked.
        let (home, ports, daemon) = (0..3)
            .find_map(|_| {
                let (home, ports) = (Home::new(), Ports::free());
                let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    spawn(bin(), id, &home, ports, &seeds, &db, 0)
                }));
                started.ok().map(|daemon| (home, ports, daemon))
            })
            .unwrap_or_else(|| panic!("node {id} did not start on free ports, three times"));
        nodes.push(Node {
            id,
            home,
            ports,
            daemon,
            starts: 1,
        });
    }
    let ports: Vec<Ports> = nodes.iter().map(|n| n.ports).collect();
    let proxy = Haproxy::start(
        work.path(),
        &nodes.iter().map(|n| (n.id, n.ports)).collect::<Vec<_>>(),
    );
    for id in ids {
        proxy.wait(id, "UP", Duration::from_secs(20));
    }
    converge(&ports);

    let rt = rt();
    let (user, blog_token) = {
        let body = json!({"user": {"username": "roller", "email": "roller@example.com", "password": "password1"}});
        let (status, body) =
            http(proxy.http, "POST", "/api/users", None, Some(&body)).expect("sign up");
        assert_eq!(status, 201, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        ("roller", v["user"]["token"].as_str().unwrap().to_owned())
    };
    let _ = user;
    let native_token = rt.block_on(async {
        let s = native(proxy.native, None).await;
        s.register("chatter", "chatter-password")
            .await
            .expect("register");
        s.token().expect("a token")
    });
    // The follower: one session through HAProxy, following the room.
    let follower = rt.block_on(native(proxy.native, Some(native_token.clone())));
    let mut room = rt.block_on(follower.chat().follow(ROOM)).expect("follow");
    let received: Shared<Vec<(u64, String)>> = Arc::default();
    let collector = {
        let received = received.clone();
        rt.spawn(async move {
            while let Some(m) = room.next_message().await {
                received.lock().unwrap().push((m.seq, m.text));
            }
        })
    };

    let stop = Arc::new(AtomicBool::new(false));
    // A failed assertion mid-run stops the load too (its threads would
    // otherwise go on for the rest of the test process).
    let _stop_on_drop = StopOnDrop(stop.clone());
    let (writes, reads, cache) = (Tally::new(), Tally::new(), Tally::new());
    let slugs: Shared<Vec<String>> = Arc::default();
    let keys: Shared<Vec<u64>> = Arc::default();
    let out = Arc::new(Native {
        chat: Tally::new(),
        jobs: Tally::new(),
        sent: Arc::default(),
        ids: Arc::default(),
    });
    let mut threads = Vec::new();
    {
        let (stop, tally, slugs, t) = (
            stop.clone(),
            writes.clone(),
            slugs.clone(),
            blog_token.clone(),
        );
        let port = proxy.http;
        threads.push(std::thread::spawn(move || {
            blog_writer(port, t, stop, tally, slugs)
        }));
    }
    {
        let (stop, tally, slugs) = (stop.clone(), reads.clone(), slugs.clone());
        let port = proxy.http;
        threads.push(std::thread::spawn(move || {
            blog_reader(port, stop, tally, slugs)
        }));
    }
    {
        let (stop, tally, keys) = (stop.clone(), cache.clone(), keys.clone());
        let port = proxy.resp;
        threads.push(std::thread::spawn(move || {
            cache_load(port, stop, tally, keys)
        }));
    }
    let checker_token = native_token.clone();
    let native_task = {
        let (stop, out, port) = (stop.clone(), out.clone(), proxy.native);
        rt.spawn(async move { native_load(port, native_token, stop, &out).await })
    };

    // The restarts: each node in turn, `rounds` times.
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let mut restarts = Vec::new();
    for _ in 0..rounds {
        for i in 0..nodes.len() {
            let t0 = Instant::now();
            nodes[i].daemon.signal(libc::SIGTERM);
            let id = nodes[i].id;
            let down = proxy.wait(id, "DOWN", DRAIN);
            let status = nodes[i].daemon.wait_exit(Duration::from_secs(30));
            assert!(
                status.success(),
                "node {id} exited with {status} on SIGTERM"
            );
            let exited = t0.elapsed();
            let seeds: Vec<Ports> = (0..nodes.len())
                .filter(|&j| j != i)
                .map(|j| nodes[j].ports)
                .collect();
            let n = nodes[i].starts;
            nodes[i].daemon = spawn(&next, id, &nodes[i].home, nodes[i].ports, &seeds, &db, n);
            nodes[i].starts += 1;
            proxy.wait(id, "UP", Duration::from_secs(30));
            converge(&ports);
            restarts.push(json!({"node": id, "marked_down_ms": down.as_millis() as u64,
                "exited_ms": exited.as_millis() as u64, "back_ms": t0.elapsed().as_millis() as u64}));
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a load thread panicked");
    }
    rt.block_on(native_task).expect("the native load panicked");
    let elapsed = started.elapsed();

    // Every acknowledged write is there, read through HAProxy.
    let slugs = slugs.lock().unwrap().clone();
    let missing_articles: Vec<&String> = slugs
        .iter()
        .filter(|s| {
            !matches!(
                http(proxy.http, "GET", &format!("/api/articles/{s}"), None, None),
                Ok((200, _))
            )
        })
        .collect();
    let keys = keys.lock().unwrap().clone();
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{}/", proxy.resp))
        .unwrap()
        .get_connection()
        .expect("a RESP connection");
    let lost_keys: Vec<u64> = keys
        .iter()
        .copied()
        .filter(|k| {
            redis::cmd("GET")
                .arg(format!("rk:{k}"))
                .query::<Option<u64>>(&mut con)
                .ok()
                .flatten()
                != Some(*k)
        })
        .collect();
    let ids = out.ids.lock().unwrap().clone();
    let sent = out.sent.lock().unwrap().clone();
    let (missing_jobs, missing_messages, repeats) = rt.block_on(async {
        let checker = native(proxy.native, Some(checker_token)).await;
        let mut missing_jobs = Vec::new();
        for id in &ids {
            if let Err(e) = checker.jobs().get(*id).await {
                missing_jobs.push(format!("{id}: {e}"));
            }
        }
        // The follower catches up on whatever it has not seen yet.
        let deadline = Instant::now() + Duration::from_secs(20);
        let missing = loop {
            let got: HashSet<String> = received
                .lock()
                .unwrap()
                .iter()
                .map(|m| m.1.clone())
                .collect();
            let missing: Vec<String> = sent.iter().filter(|t| !got.contains(*t)).cloned().collect();
            if missing.is_empty() || Instant::now() > deadline {
                break missing;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let seqs: Vec<u64> = received.lock().unwrap().iter().map(|m| m.0).collect();
        let repeats = seqs.windows(2).filter(|w| w[1] <= w[0]).count();
        (missing_jobs, missing, repeats)
    });
    collector.abort();

    let http_failed = writes.lock().unwrap().failed + reads.lock().unwrap().failed;
    let report = json!({
        "rounds": rounds,
        "restarts": restarts,
        "seconds": elapsed.as_secs_f64(),
        "http": {
            "requests": writes.lock().unwrap().ok + reads.lock().unwrap().ok + http_failed,
            "failed": http_failed,
            "writes": writes.lock().unwrap().report(),
            "reads": reads.lock().unwrap().report(),
        },
        "cache": cache.lock().unwrap().report(),
        "chat": out.chat.lock().unwrap().report(),
        "jobs": out.jobs.lock().unwrap().report(),
        "acknowledged": {"articles": slugs.len(), "keys": keys.len(), "messages": sent.len(), "jobs": ids.len()},
        "lost": {"articles": missing_articles.len(), "keys": lost_keys.len(),
                 "messages": missing_messages.len(), "jobs": missing_jobs.len()},
        "follower": {"received": received.lock().unwrap().len(), "out_of_order_or_repeated": repeats,
                     "connections": follower.connections()},
    });
    println!("rolling-restart: {report}");
    if let Ok(path) = std::env::var("AGORA_ROLLING_REPORT") {
        std::fs::write(path, serde_json::to_string_pretty(&report).unwrap()).expect("report file");
    }
    let logs = || {
        nodes
            .iter()
            .map(|n| {
                let log =
                    std::fs::read_to_string(n.home.path().join("daemon.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                format!(
                    "--- node {}:\n{}",
                    n.id,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        http_failed,
        0,
        "failed HTTP requests: {report:#}\n{}",
        logs()
    );
    assert!(
        missing_articles.is_empty(),
        "acknowledged articles lost: {missing_articles:?}"
    );
    assert!(
        lost_keys.is_empty(),
        "acknowledged keys lost: {lost_keys:?}\n{report:#}"
    );
    assert_eq!(cache.lock().unwrap().failed, 0, "{report:#}");
    // Native requests do not fail either: the Session sends again what a
    // goodbye left unanswered.
    assert_eq!(out.chat.lock().unwrap().failed, 0, "{report:#}");
    assert_eq!(out.jobs.lock().unwrap().failed, 0, "{report:#}");
    assert!(
        missing_jobs.is_empty(),
        "acknowledged jobs lost: {missing_jobs:?}"
    );
    assert!(
        missing_messages.is_empty(),
        "the follower missed acknowledged messages: {missing_messages:?}\n{report:#}"
    );
    assert_eq!(
        repeats, 0,
        "the follower saw a message twice or out of order: {report:#}"
    );
    assert!(
        !slugs.is_empty() && !keys.is_empty() && !sent.is_empty() && !ids.is_empty(),
        "{report:#}"
    );
}

/// Sets the flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Waits until every node's cluster view has three nodes and agrees on the
/// slots (CLUSTER INFO and CLUSTER SLOTS on each node's own RESP port).
fn converge(ports: &[Ports]) {
    wait_for("the cluster to converge", Duration::from_secs(30), || {
        let mut views = Vec::new();
        for p in ports {
            let mut con = redis::Client::open(format!("redis://127.0.0.1:{}/", p.resp))
                .ok()?
                .get_connection_with_timeout(Duration::from_secs(1))
                .ok()?;
            let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut con).ok()?;
            if !info.contains("cluster_size:3") || !info.contains("cluster_state:ok") {
                return None;
            }
            let slots: redis::Value = redis::cmd("CLUSTER").arg("SLOTS").query(&mut con).ok()?;
            views.push(format!("{slots:?}"));
        }
        views.windows(2).all(|w| w[0] == w[1]).then_some(())
    });
}
