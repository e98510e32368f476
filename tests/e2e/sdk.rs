//! The Rust SDK (`agora_wire::Session`, the bots, the examples) against the
//! real daemon: reconnection with backoff, chat resumed without loss or
//! repeats, a daemon killed and restarted under a session, and the
//! examples (chat bot, game bots, job worker) run as programs.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_wire::{Backoff, Session};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::{Daemon, Home, rt, saved_token};

/// A TCP proxy in front of a daemon whose connections the test can cut,
/// and which can refuse new ones for a while.
struct Proxy {
    addr: String,
    open: Arc<Mutex<bool>>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let open = Arc::new(Mutex::new(true));
        let pipes: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (o, p) = (open.clone(), pipes.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*o.lock().unwrap() {
                    continue; // dropped: the client sees the connection close
                }
                let target = target.clone();
                p.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Proxy { addr, open, pipes }
    }

    /// Cuts every connection, and refuses new ones until `reopen`.
    fn cut(&self) {
        *self.open.lock().unwrap() = false;
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }

    fn reopen(&self) {
        *self.open.lock().unwrap() = true;
    }
}

async fn session(addr: &str, token: &str) -> Session {
    Session::builder([addr])
        .client_name("sdk-e2e")
        .token(token)
        .backoff(Backoff::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
        .request_timeout(Some(Duration::from_secs(20)))
        .connect()
        .await
        .expect("session")
}

async fn next_texts(sub: &mut agora_wire::Subscription, n: usize) -> Vec<(u64, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        let message = tokio::time::timeout(Duration::from_secs(20), sub.next_message())
            .await
            .expect("a message in time")
            .expect("the stream is open");
        got.push((message.seq, message.text));
    }
    got
}

#[test]
fn a_session_resumes_chat_after_a_cut_and_a_daemon_restart() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    let addr = daemon.addr.clone();
    home.register(&addr, "alice", "alice-password");
    let alice_token = saved_token(&home, &addr);
    home.register(&addr, "bob", "bob-password");
    let bob_token = saved_token(&home, &addr);
    rt().block_on(async {
        let proxy = Proxy::start(addr.clone()).await;
        let alice = session(&addr, &alice_token).await;
        alice.chat().join("ops").await.expect("join");
        let bob = session(&proxy.addr, &bob_token).await;
        let mut ops = bob.chat().follow("ops").await.expect("follow");
        for i in 1..=3 {
            alice
                .chat()
                .send("ops", &format!("m{i}"))
                .await
                .expect("send");
        }
        let first = next_texts(&mut ops, 3).await;
        assert_eq!(
            first.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            ["m1", "m2", "m3"]
        );

        // Bob's connection is cut, and stays refused for a while: what
        // alice sends meanwhile reaches him once he is back, in order, once.
        proxy.cut();
        for i in 4..=6 {
            alice
                .chat()
                .send("ops", &format!("m{i}"))
                .await
                .expect("send");
        }
        tokio::time::sleep(Duration::from_millis(300)).await; // some refused attempts
        assert!(!bob.is_connected(), "bob's session saw the cut");
        proxy.reopen();
        for i in 7..=8 {
            alice
                .chat()
                .send("ops", &format!("m{i}"))
                .await
                .expect("send");
        }
        let resumed = next_texts(&mut ops, 5).await;
        assert_eq!(
            resumed.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            ["m4", "m5", "m6", "m7", "m8"]
        );
        assert!(
            resumed.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "{resumed:?}"
        );
        // (The gap may be filled before the new connection is installed.)
        bob.ping().await.expect("ping");
        assert!(bob.connections() >= 2);

        // The daemon is killed (acknowledged messages are durable) and
        // comes back on the same address: both sessions reconnect, sign in
        // again with their tokens, and the room goes on.
        daemon.signal(libc::SIGKILL);
        daemon.wait_exit(Duration::from_secs(10));
        let err = alice.chat().send("ops", "lost?").await;
        assert!(err.is_err(), "a send with the daemon down fails: {err:?}");
        let _again = tokio::task::block_in_place(|| Daemon::start_on(&home, &addr, &[]));
        alice
            .chat()
            .send("ops", "m9")
            .await
            .expect("send after the restart");
        let after = next_texts(&mut ops, 1).await;
        assert_eq!(after[0].1, "m9");
        assert_eq!(after[0].0, resumed[4].0 + 1, "no message lost or repeated");
        assert_eq!(
            bob.whoami()
                .await
                .expect("whoami")
                .map(|u| u.name)
                .as_deref(),
            Some("bob")
        );
    });
}

/// An example program of `agora-wire`, built by `cargo test` (or
/// `cargo build -p agora-wire --examples`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p agora-wire --examples` (cargo test builds it)",
        path.display()
    );
    path
}

/// Starts an example and waits for its `ready` line.
fn start_example(name: &str, addr: &str, token: &str, args: &[&str]) -> Child {
    let mut child = Command::new(example(name))
        .args(args)
        .env("AGORA_ADDR", addr)
        .env("AGORA_TOKEN", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn example");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "ready", "{name} did not start");
    child
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_examples_chat_play_and_work_against_the_daemon() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let addr = daemon.addr.clone();
    let mut tokens = Vec::new();
    for name in ["carol", "botty", "rusty"] {
        home.register(&addr, name, &format!("{name}-password"));
        tokens.push(saved_token(&home, &addr));
    }
    let (carol, botty, rusty) = (&tokens[0], &tokens[1], &tokens[2]);

    // The chat bot answers commands in its room.
    let _bot = Killed(start_example("chat_bot", &addr, botty, &["lobby"]));
    rt().block_on(async {
        let me = session(&addr, carol).await;
        let mut lobby = me.chat().follow("lobby").await.expect("follow");
        me.chat().send("lobby", "!ping").await.expect("send");
        me.chat()
            .send("lobby", "!echo hello there")
            .await
            .expect("send");
        me.chat()
            .send("lobby", "no command here")
            .await
            .expect("send");
        let mut answers = Vec::new();
        while answers.len() < 2 {
            let m = tokio::time::timeout(Duration::from_secs(20), lobby.next_message())
                .await
                .expect("an answer in time")
                .expect("open");
            if m.from == "botty" {
                answers.push(m.text);
            }
        }
        assert_eq!(answers, ["pong", "hello there"]);
    });

    // Two game bots play a whole game: one accepts challenges, the other
    // challenges it and plays until the end.
    let _acceptor = Killed(start_example("game_bot", &addr, botty, &["accept"]));
    let out = Command::new(example("game_bot"))
        .args(["challenge", "botty", "tictactoe"])
        .env("AGORA_ADDR", &addr)
        .env("AGORA_TOKEN", rusty)
        .output()
        .expect("run game_bot");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // First legal move for both on tic-tac-toe: X takes a1, b1, c1 … and
    // wins on the bottom row; the winner is the challenger (X).
    assert_eq!(stdout.trim(), "result Win rusty", "{stdout}");

    // The worker example completes jobs enqueued with the CLI, once each.
    let mut worker = Killed(
        Command::new(example("worker"))
            .args(["sdkq", "4"])
            .env("AGORA_ADDR", &addr)
            .env("AGORA_TOKEN", carol)
            .stdout(Stdio::piped())
            .spawn()
            .expect("worker"),
    );
    let mut ids = Vec::new();
    for i in 0..5 {
        let out = home.run(
            &[
                "--addr",
                &addr,
                "--json",
                "jobs",
                "enqueue",
                "echo",
                "--queue",
                "sdkq",
                "--args",
                &format!("{{\"n\": {i}}}"),
            ],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        ids.push(v["id"].as_u64().unwrap_or_else(|| panic!("an id in {v}")));
    }
    for (i, id) in ids.iter().enumerate() {
        let job = crate::support::wait_for("the job to complete", Duration::from_secs(20), || {
            let out = home.run(
                &["--addr", &addr, "--json", "jobs", "show", &id.to_string()],
                None,
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            (v["state"] == "completed").then_some(v)
        });
        assert_eq!(job["attempt"], 1, "{job}");
        // The CLI shows a JSON result as JSON.
        let result = match &job["result"] {
            serde_json::Value::String(text) => serde_json::from_str(text).expect("json"),
            other => other.clone(),
        };
        assert_eq!(result["n"], i, "{job}");
    }
    let _ = worker.0.kill();
}

#[test]
fn the_blocking_facade_sends_follows_and_runs_commands() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let addr = daemon.addr.clone();
    home.register(&addr, "dora", "dora-password");
    let builder = |who: &str| {
        Session::builder([addr.as_str()])
            .client_name("sdk-blocking")
            .login(who, format!("{who}-password"))
    };
    // No runtime here: the facade brings its own.
    let dora = agora_wire::blocking::Session::connect(builder("dora")).expect("connect");
    let eve = agora_wire::blocking::Session::connect(
        Session::builder([addr.as_str()]).client_name("sdk-blocking"),
    )
    .expect("connect");
    eve.block_on(eve.session().register("eve", "eve-password"))
        .expect("register");
    assert!(dora.ping().expect("ping") < Duration::from_secs(5));
    let mut room = eve.chat_follow("plain").expect("follow");
    dora.block_on(dora.session().chat().join("plain"))
        .expect("join");
    let seq = dora.chat_send("plain", "no async here").expect("send");
    let got = room
        .next_message_timeout(Duration::from_secs(20))
        .expect("a message");
    assert_eq!(
        (got.seq, got.text.as_str(), got.from.as_str()),
        (seq, "no async here", "dora")
    );
    assert_eq!(
        dora.cache_command(["SET", "k", "v"]).expect("set"),
        agora_wire::CacheValue::Simple { value: "OK".into() }
    );
    assert_eq!(
        dora.block_on(dora.session().cache().get(b"k"))
            .expect("get"),
        Some(b"v".to_vec())
    );
    // A wrong password is refused at connect, with the server's code.
    let err = agora_wire::blocking::Session::connect(
        Session::builder([addr.as_str()]).login("dora", "wrong-password"),
    )
    .expect_err("refused");
    assert_eq!(
        err.code(),
        Some(agora_wire::ErrorCode::Unauthorized),
        "{err}"
    );
    // Inside a runtime it says to use the async session instead.
    let inside = rt().block_on(async {
        agora_wire::blocking::Session::connect(Session::builder([addr.as_str()]))
            .expect_err("refused")
    });
    assert!(inside.to_string().contains("async runtime"), "{inside}");
}

#[test]
fn the_ping_example_answers() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let out = Command::new(example("ping"))
        .args([daemon.addr.as_str()])
        .env("AGORA_ADDR", &daemon.addr)
        .output()
        .expect("run ping");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pong"), "{stdout}");
}

#[test]
fn a_session_whose_token_is_refused_after_a_reconnect_ends_and_says_so() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    let addr = daemon.addr.clone();
    home.register(&addr, "fay", "fay-password");
    let token = saved_token(&home, &addr);
    rt().block_on(async {
        let fay = session(&addr, &token).await;
        let mut room = fay.chat().follow("gone").await.expect("follow");
        // The daemon comes back on the same address with other data, and
        // so another signing key: the token means nothing there.
        daemon.signal(libc::SIGKILL);
        daemon.wait_exit(Duration::from_secs(10));
        let elsewhere = Home::new();
        let _other = tokio::task::block_in_place(|| Daemon::start_on(&elsewhere, &addr, &[]));
        // (Fay's own join may still be queued.)
        let drained = tokio::time::timeout(Duration::from_secs(20), async {
            while room.recv().await.is_some() {}
        })
        .await;
        assert!(drained.is_ok(), "the stream did not end");
        assert!(!fay.is_connected());
        let err = fay.ping().await.expect_err("the session is over");
        assert!(matches!(err, agora_wire::Error::Closed), "{err}");
    });
}
