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

use std::collections::{BTreeMap, HashSet};
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agora_wire::Session;
use agora_wire::jobs::NewJob;
use serde_json::{Value, json};

use crate::support::{Daemon, Home, bin, postgres_database, rt, wait_for};

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
    fn free() -> Ports {
        let tcp = || {
            TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port()
        };
        let gossip = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free UDP port")
            .port();
        Ports {
            listen: tcp(),
            http: tcp(),
            resp: tcp(),
            gossip,
        }
    }
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

/// HAProxy in front of the nodes: HTTP (mode http, retried elsewhere on a
/// refused connection or an empty response), the native protocol and RESP
/// (mode tcp), each server checked with `GET /readyz` on its HTTP port
/// every 500 ms; a stats page to see what it thinks.
struct Haproxy {
    child: Child,
    http: u16,
    native: u16,
    resp: u16,
    stats: u16,
}

impl Haproxy {
    fn start(dir: &Path, nodes: &[(&str, Ports)]) -> Haproxy {
        let port = || Ports::free().listen;
        let (http, native, resp, stats) = (port(), port(), port(), port());
        let servers = |to: fn(&Ports) -> u16| {
            nodes
                .iter()
                .map(|(id, p)| format!("  server {id} 127.0.0.1:{} check port {}\n", to(p), p.http))
                .collect::<String>()
        };
        let config = format!(
            "global\n  maxconn 4096\n\
             defaults\n  timeout connect 1s\n  timeout client 1h\n  timeout server 1h\n\
             \x20 retries 3\n  option redispatch 1\n\
             \x20 default-server inter 500ms fastinter 250ms downinter 500ms fall 1 rise 2\n\
             frontend stats\n  mode http\n  bind 127.0.0.1:{stats}\n  stats enable\n  stats uri /stats\n\
             frontend http\n  mode http\n  bind 127.0.0.1:{http}\n  default_backend http\n\
             backend http\n  mode http\n  option httpchk GET /readyz\n  http-check expect status 200\n\
             \x20 option http-server-close\n  retry-on conn-failure empty-response\n{}\
             frontend native\n  mode tcp\n  bind 127.0.0.1:{native}\n  default_backend native\n\
             backend native\n  mode tcp\n  option httpchk GET /readyz\n  http-check expect status 200\n{}\
             frontend resp\n  mode tcp\n  bind 127.0.0.1:{resp}\n  default_backend resp\n\
             backend resp\n  mode tcp\n  option httpchk GET /readyz\n  http-check expect status 200\n{}",
            servers(|p| p.http),
            servers(|p| p.listen),
            servers(|p| p.resp),
        );
        let file = dir.join("haproxy.cfg");
        std::fs::write(&file, config).expect("haproxy.cfg");
        let haproxy = haproxy_bin();
        let check = Command::new(&haproxy)
            .args(["-c", "-q", "-f"])
            .arg(&file)
            .output()
            .expect("haproxy -c");
        assert!(
            check.status.success(),
            "haproxy -c: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new(&haproxy)
            .args(["-db", "-f"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn haproxy");
        Haproxy {
            child,
            http,
            native,
            resp,
            stats,
        }
    }

    /// Each (backend, server)'s status on the stats page (UP, DOWN, …).
    fn status(&self) -> BTreeMap<(String, String), String> {
        let Ok((200, csv)) = http(self.stats, "GET", "/stats;csv", None, None) else {
            return BTreeMap::new();
        };
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (Some(px), Some(sv), Some(st)) = (col("pxname"), col("svname"), col("status")) else {
            return BTreeMap::new();
        };
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > st && f[sv] != "FRONTEND" && f[sv] != "BACKEND")
            .map(|f| ((f[px].to_owned(), f[sv].to_owned()), f[st].to_owned()))
            .collect()
    }

    /// Waits until `server` is `want` in every backend; how long it took.
    fn wait(&self, server: &str, want: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let status = self.status();
            let states: Vec<&String> = status
                .iter()
                .filter(|((_, sv), _)| sv == server)
                .map(|(_, st)| st)
                .collect();
            if states.len() == 3 && states.iter().all(|s| s.starts_with(want)) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "HAProxy did not see {server} {want} within {limit:?}: {status:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn haproxy_bin() -> PathBuf {
    let found = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    found.expect("HAProxy is needed (Debian's haproxy package: .ci/run tools installs it)")
}

/// One HTTP/1.1 request on a new connection; (status, body) or why not.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Token {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {head:?}"))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    ))
}

/// The body of a `Transfer-Encoding: chunked` response (HAProxy's stats).
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// What one load stream did: operations acknowledged, failures (and the
/// first few), and the longest stretch without an acknowledgement.
#[derive(Debug)]
struct Tally {
    ok: u64,
    failed: u64,
    retried: u64,
    errors: Vec<String>,
    last_ok: Instant,
    longest_gap: Duration,
}

impl Tally {
    fn new() -> Arc<Mutex<Tally>> {
        Arc::new(Mutex::new(Tally {
            ok: 0,
            failed: 0,
            retried: 0,
            errors: Vec::new(),
            last_ok: Instant::now(),
            longest_gap: Duration::ZERO,
        }))
    }

    fn ok(&mut self) {
        let now = Instant::now();
        self.longest_gap = self.longest_gap.max(now - self.last_ok);
        self.last_ok = now;
        self.ok += 1;
    }

    fn fail(&mut self, why: String) {
        self.failed += 1;
        if self.errors.len() < 8 {
            self.errors.push(why);
        }
    }

    fn retry(&mut self, why: String) {
        self.retried += 1;
        if self.errors.len() < 8 {
            self.errors.push(format!("(retried) {why}"));
        }
    }

    fn report(&self) -> Value {
        json!({
            "ok": self.ok,
            "failed": self.failed,
            "retried": self.retried,
            "longest_pause_ms": self.longest_gap.as_millis() as u64,
            "errors": self.errors,
        })
    }
}

type Shared<T> = Arc<Mutex<T>>;

/// Blog writes through HAProxy: an article, then reading it back. Every
/// request must succeed; the slugs created are kept for the end.
fn blog_writer(
    port: u16,
    token: String,
    stop: Arc<AtomicBool>,
    tally: Shared<Tally>,
    slugs: Shared<Vec<String>>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let article = json!({"article": {"title": format!("rolling {n}"),
            "description": "written during a rolling restart", "body": format!("body {n}")}});
        match http(port, "POST", "/api/articles", Some(&token), Some(&article)) {
            Ok((201, body)) => {
                let slug = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v["article"]["slug"].as_str().map(str::to_owned));
                let Some(slug) = slug else {
                    tally
                        .lock()
                        .unwrap()
                        .fail(format!("POST: no slug in {body}"));
                    continue;
                };
                tally.lock().unwrap().ok();
                slugs.lock().unwrap().push(slug.clone());
                match http(port, "GET", &format!("/api/articles/{slug}"), None, None) {
                    Ok((200, _)) => tally.lock().unwrap().ok(),
                    other => tally.lock().unwrap().fail(format!("GET {slug}: {other:?}")),
                }
            }
            other => tally
                .lock()
                .unwrap()
                .fail(format!("POST /api/articles: {other:?}")),
        }
    }
}

/// Blog reads through HAProxy: the list and an article written earlier.
fn blog_reader(port: u16, stop: Arc<AtomicBool>, tally: Shared<Tally>, slugs: Shared<Vec<String>>) {
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let path = {
            let slugs = slugs.lock().unwrap();
            match slugs.len() {
                0 => "/api/articles?limit=5".to_owned(),
                len if n.is_multiple_of(2) => format!("/api/articles/{}", slugs[n % len]),
                _ => "/api/articles?limit=5".to_owned(),
            }
        };
        match http(port, "GET", &path, None, None) {
            Ok((200, _)) => tally.lock().unwrap().ok(),
            other => tally.lock().unwrap().fail(format!("GET {path}: {other:?}")),
        }
    }
}

/// Cache writes and reads through HAProxy's RESP port with a Redis
/// client library. A write is acknowledged by its OK; a broken connection
/// or an error reply is retried (counted) on a new connection. A read of
/// an acknowledged key that does not give its value is a lost write.
fn cache_load(port: u16, stop: Arc<AtomicBool>, tally: Shared<Tally>, acked: Shared<Vec<u64>>) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("redis url");
    let connect = || loop {
        match client.get_connection_with_timeout(Duration::from_secs(2)) {
            Ok(c) => {
                let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                return c;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let mut con = connect();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        loop {
            let set: redis::RedisResult<String> = redis::cmd("SET")
                .arg(format!("rk:{n}"))
                .arg(n)
                .query(&mut con);
            match set {
                Ok(ok) if ok == "OK" => break,
                Ok(other) => tally.lock().unwrap().fail(format!("SET rk:{n}: {other}")),
                Err(e) => tally.lock().unwrap().retry(format!("SET rk:{n}: {e}")),
            }
            std::thread::sleep(Duration::from_millis(20));
            con = connect();
        }
        tally.lock().unwrap().ok();
        acked.lock().unwrap().push(n);
        let earlier = 1 + (n.wrapping_mul(2_654_435_761) >> 7) % n;
        let get: redis::RedisResult<Option<u64>> = redis::cmd("GET")
            .arg(format!("rk:{earlier}"))
            .query(&mut con);
        match get {
            Ok(Some(v)) if v == earlier => tally.lock().unwrap().ok(),
            Ok(other) => tally
                .lock()
                .unwrap()
                .fail(format!("GET rk:{earlier} (acknowledged): {other:?}")),
            Err(e) => {
                tally
                    .lock()
                    .unwrap()
                    .retry(format!("GET rk:{earlier}: {e}"));
                con = connect();
            }
        }
    }
}

async fn native(port: u16, token: Option<String>) -> Session {
    let mut builder = Session::builder([format!("127.0.0.1:{port}")])
        .client_name("rolling-restart")
        .request_timeout(Some(Duration::from_secs(20)));
    if let Some(token) = token {
        builder = builder.token(token);
    }
    builder
        .connect()
        .await
        .expect("a native session through HAProxy")
}

struct Native {
    chat: Shared<Tally>,
    jobs: Shared<Tally>,
    sent: Shared<Vec<String>>,
    ids: Shared<Vec<u64>>,
}

/// Chat sends and job enqueues through HAProxy's native port, each on its
/// own session that reconnects (and signs in again) after a goodbye.
async fn native_load(port: u16, token: String, stop: Arc<AtomicBool>, out: &Native) {
    let chatter = native(port, Some(token.clone())).await;
    // Joined on the node this session reached (the follower joined on
    // another, maybe: a fleet shares memberships a moment later).
    chatter.chat().join(ROOM).await.expect("join");
    let worker = native(port, Some(token)).await;
    let chat = async {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let text = format!("m{n}");
            match chatter.chat().send(ROOM, &text).await {
                Ok(_) => {
                    out.chat.lock().unwrap().ok();
                    out.sent.lock().unwrap().push(text);
                }
                Err(e) => out.chat.lock().unwrap().fail(format!("send {text}: {e}")),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let jobs = async {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let job = NewJob {
                kind: "rolling".into(),
                queue: Some("rolling".into()),
                args: Some(format!("{{\"n\":{n}}}")),
                ..NewJob::default()
            };
            match worker.jobs().enqueue(vec![job]).await {
                Ok(ids) => {
                    out.jobs.lock().unwrap().ok();
                    out.ids.lock().unwrap().extend(ids);
                }
                Err(e) => out.jobs.lock().unwrap().fail(format!("enqueue {n}: {e}")),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::join!(chat, jobs);
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
    let ports = [Ports::free(), Ports::free(), Ports::free()];
    let mut nodes: Vec<Node> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let home = Home::new();
        let seeds: Vec<Ports> = ports[..i].to_vec();
        let daemon = spawn(bin(), id, &home, ports[i], &seeds, &db, 0);
        nodes.push(Node {
            id,
            home,
            ports: ports[i],
            daemon,
            starts: 1,
        });
    }
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
