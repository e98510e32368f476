//! Helpers: start the real daemon, connect raw or typed clients, run CLI
//! commands in an isolated home.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use agora_wire::{Client, FrameCodec, Hello, ServerFrame, decode, encode};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_agora")
}

/// Waits for `check` to hold, polling: used only where the only signal is
/// a file or a screen appearing. Fails the test after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An isolated home: config and data directories in a temp dir, so tests
/// never touch the real user's files or each other's.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data(&self) -> PathBuf {
        self.path().join("data")
    }

    /// A command for the binary with this home's environment.
    pub fn cmd(&self) -> Command {
        self.cmd_for(bin())
    }

    /// `program` with this home's environment (HOME, XDG dirs, no
    /// AGORA_ADDR, RUST_LOG or NO_COLOR from the caller).
    pub fn cmd_for(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_DATA_HOME", self.path().join("share"))
            .env_remove("AGORA_ADDR")
            .env_remove("AGORA_TOKEN")
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the binary with `args` (and `stdin` piped in) to completion.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.cmd();
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("spawn agora");
        if let Some(input) = stdin {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().expect("wait agora")
    }
    /// Registers `name` with `password` on the daemon at `addr` through the
    /// CLI, which saves the sign-in in this home; fails the test otherwise.
    pub fn register(&self, addr: &str, name: &str, password: &str) {
        let out = self.run(
            &["--addr", addr, "register", name, "--password-stdin"],
            Some(&format!("{password}\n")),
        );
        assert!(
            out.status.success(),
            "register {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The token `agora login`/`register` saved in `home` for `addr`.
pub fn saved_token(home: &Home, addr: &str) -> String {
    let path = home.path().join("config/agora/credentials.json");
    let store: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("credentials")).unwrap();
    store["servers"][addr]["token"]
        .as_str()
        .expect("a saved token")
        .to_owned()
}

#[derive(Debug, Deserialize, Clone, Copy)]
pub struct Ready {
    pub listen: SocketAddr,
    pub http: SocketAddr,
    pub resp: SocketAddr,
    /// The cluster gossip address, with `--cluster`.
    #[serde(default)]
    pub cluster: Option<SocketAddr>,
    /// The SSH listener, with `--ssh`.
    #[serde(default)]
    pub ssh: Option<SocketAddr>,
    pub pid: u32,
}

/// A running `agora daemon` child process; killed on drop.
pub struct Daemon {
    pub child: Child,
    pub ready: Ready,
    pub addr: String,
}

impl Daemon {
    /// Starts a daemon with its data in `home` on free ports.
    pub fn start(home: &Home, extra: &[&str]) -> Daemon {
        Daemon::start_on(home, "127.0.0.1:0", extra)
    }

    /// Starts a daemon listening on `listen`.
    pub fn start_on(home: &Home, listen: &str, extra: &[&str]) -> Daemon {
        Daemon::start_with(home, listen, extra, &[])
    }

    /// Starts a daemon on free ports with extra environment variables (the
    /// `AGORA_TEST_*` hooks).
    pub fn start_env(home: &Home, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        Daemon::start_with(home, "127.0.0.1:0", extra, env)
    }

    /// Starts a daemon on free ports whose log (stderr) goes to
    /// `HOME/daemon.log`, for tests that look for a log line.
    pub fn start_logged(home: &Home, extra: &[&str]) -> Daemon {
        let log = std::fs::File::create(home.path().join("daemon.log")).expect("log file");
        Daemon::start_full(home, "127.0.0.1:0", extra, &[], Stdio::from(log))
    }

    fn start_with(home: &Home, listen: &str, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        Daemon::start_full(home, listen, extra, env, Stdio::null())
    }

    fn start_full(
        home: &Home,
        listen: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Daemon {
        let ready_file = home.path().join(format!("ready-{}.json", rand_suffix()));
        let data = home.data();
        let mut cmd = home.cmd();
        cmd.args([
            "daemon",
            "--listen",
            listen,
            "--http",
            "127.0.0.1:0",
            "--resp",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(&data)
        .arg("--ready-file")
        .arg(&ready_file)
        .args(extra)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(stderr);
        Daemon::spawn(home, cmd, &ready_file)
    }

    /// Spawns `cmd` (an `agora daemon` command line that names
    /// `ready_file` with --ready-file) and waits for the ready file; a
    /// daemon that exits first fails the test with `HOME/daemon.log`.
    pub fn spawn(home: &Home, mut cmd: Command, ready_file: &Path) -> Daemon {
        let mut child = cmd.spawn().expect("spawn agora daemon");
        let ready: Ready = wait_for("the ready file", Duration::from_secs(20), || {
            if let Ok(Some(status)) = child.try_wait() {
                let log =
                    std::fs::read_to_string(home.path().join("daemon.log")).unwrap_or_default();
                panic!("daemon exited early: {status}\n{log}");
            }
            let bytes = std::fs::read(ready_file).ok()?;
            serde_json::from_slice(&bytes).ok()
        });
        Daemon {
            addr: ready.listen.to_string(),
            child,
            ready,
        }
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) with a pid we own; no memory is involved.
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for exit, failing after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        wait_for("the daemon to exit", limit, || {
            self.child.try_wait().ok().flatten()
        })
    }

    /// A typed client connection.
    pub async fn client(&self, token: Option<String>) -> Client {
        Client::connect(&self.addr, Hello::new("e2e", token))
            .await
            .expect("connect")
            .0
    }

    /// A plain TCP connection to the RESP listener, reads timing out
    /// after 10 s (a test that waits longer has failed).
    pub fn resp_stream(&self) -> std::net::TcpStream {
        let s = std::net::TcpStream::connect(self.ready.resp).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// A raw frame connection that has completed the handshake.
    pub async fn raw(&self) -> Raw {
        self.raw_with(None).await
    }

    /// A raw frame connection signed in with `token` (or anonymous).
    pub async fn raw_with(&self, token: Option<String>) -> Raw {
        let stream = TcpStream::connect(&self.addr).await.expect("connect");
        let mut framed = Framed::new(stream, FrameCodec::default());
        framed
            .send(encode(&Hello::new("e2e-raw", token)).unwrap())
            .await
            .unwrap();
        let welcome = framed.next().await.unwrap().unwrap();
        assert!(matches!(
            decode::<ServerFrame>(&welcome).unwrap(),
            ServerFrame::Welcome(_)
        ));
        Raw { framed }
    }

    /// GETs a path on the HTTP listener; returns (status, body).
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = TcpStream::connect(self.ready.http)
            .await
            .expect("connect http");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.ready.http
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection speaking raw frames, for hostile-input tests.
pub struct Raw {
    pub framed: Framed<TcpStream, FrameCodec>,
}

impl Raw {
    /// Sends one frame body.
    pub async fn send_body(&mut self, body: bytes::Bytes) {
        self.framed.send(body).await.unwrap();
    }

    /// Writes bytes straight to the socket, bypassing framing.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt as _;
        self.framed.get_mut().write_all(bytes).await.unwrap();
    }

    /// The next server frame, or `None` when the server closed.
    pub async fn next(&mut self) -> Option<ServerFrame> {
        let body = tokio::time::timeout(Duration::from_secs(10), self.framed.next())
            .await
            .expect("server answered in time")?
            .ok()?;
        Some(decode(&body).expect("server frames decode"))
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The runtime for async test bodies.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A new, empty PostgreSQL database for one test, on a server this test
/// process starts once with `scripts/pg.sh start` (stopped when the
/// process exits), or on `AGORA_TEST_POSTGRES` when that is set. Never
/// skipped: without PostgreSQL the test fails, saying why.
pub fn postgres_database() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERVER: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let run = |args: &[&str]| {
        pg_sh(args)
            .lines()
            .last()
            .expect("scripts/pg.sh printed no URL")
            .trim()
            .to_owned()
    };
    let server = SERVER.get_or_init(|| match std::env::var("AGORA_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ => run(&["start", "--owner", &std::process::id().to_string()]),
    });
    let name = format!(
        "agora_e2e_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    run(&["createdb", server, &name])
}

/// Runs `scripts/pg.sh ARGS…` and returns what it printed; fails the
/// test, saying why, when it fails.
fn pg_sh(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run scripts/pg.sh");
    assert!(
        out.status.success(),
        "scripts/pg.sh {} failed: the PostgreSQL tests need a server\n{}",
        args[0],
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A PostgreSQL server of one test's own, for tests that stop and start
/// it (the shared one of [`postgres_database`] serves other tests at the
/// same time); deleted on drop.
pub struct PrivatePostgres {
    /// The server's URL (its `postgres` database).
    pub server: String,
}

impl PrivatePostgres {
    fn pg(args: &[&str]) -> String {
        pg_sh(args)
    }

    /// Starts one (stopped when this test process exits, at the latest).
    pub fn start() -> PrivatePostgres {
        let pid = std::process::id().to_string();
        let out = PrivatePostgres::pg(&["start", "--owner", &pid]);
        PrivatePostgres {
            server: out.lines().last().expect("a URL").to_owned(),
        }
    }

    /// A new database on it.
    pub fn database(&self, name: &str) -> String {
        PrivatePostgres::pg(&["createdb", &self.server, name])
    }

    /// Stops the server, keeping its files.
    pub fn down(&self) {
        PrivatePostgres::pg(&["down", &self.server]);
    }

    /// Starts it again on the same port.
    pub fn up(&self) {
        PrivatePostgres::pg(&["up", &self.server]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh"))
            .args(["stop", &self.server])
            .stdin(Stdio::null())
            .output();
    }
}
