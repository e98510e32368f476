//! `agora daemon --ssh`: OpenSSH's own client, in tmux, against the
//! daemon's SSH listener (docs/SSH.md).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use agora_wire::ChatOp;

use crate::support::{Daemon, Home, rt, wait_for};
use crate::tmux::Tmux;

/// Whether OpenSSH's client is here; CI installs it (.ci/run).
pub(crate) fn have_ssh() -> bool {
    let found = Command::new("ssh").arg("-V").output().is_ok()
        && Command::new("ssh-keygen").arg("-?").output().is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "ssh is required in CI");
        eprintln!("skipping: OpenSSH's client is not installed");
    }
    found
}

/// A new ed25519 key pair in `home`; its private key's path.
pub(crate) fn keygen(home: &Home, name: &str) -> PathBuf {
    let key = home.path().join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    key
}

/// The options every connection here uses (no known_hosts, no agent, no
/// other keys, no prompts).
fn ssh_options(key: &Path, port: u16) -> Vec<String> {
    [
        "-i",
        &key.display().to_string(),
        "-p",
        &port.to_string(),
        "-F",
        "/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Runs `ssh … 127.0.0.1 ARGS` without a terminal.
pub(crate) fn ssh(key: &Path, port: u16, extra: &[&str], args: &[&str]) -> Output {
    Command::new("ssh")
        .args(ssh_options(key, port))
        .args(["-o", "BatchMode=yes"])
        .args(extra)
        .arg("127.0.0.1")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A daemon with the SSH listener, a user `alice` and her registered key.
struct Setup {
    home: Home,
    daemon: Daemon,
    key: PathBuf,
    port: u16,
}

fn setup() -> Option<Setup> {
    if !have_ssh() {
        return None;
    }
    let home = Home::new();
    let daemon = Daemon::start_logged(&home, &["--ssh", "127.0.0.1:0"]);
    let port = daemon
        .ready
        .ssh
        .expect("the ready file names the SSH listener")
        .port();
    home.register(&daemon.addr, "alice", "alice-password");
    let key = keygen(&home, "alice");
    let out = home.run(
        &[
            "--addr",
            &daemon.addr,
            "ssh",
            "keys",
            "add",
            &format!("{}.pub", key.display()),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("added SHA256:"),
        "{}",
        text(&out.stdout)
    );
    Some(Setup {
        home,
        daemon,
        key,
        port,
    })
}

#[test]
fn ssh_opens_the_tui_chats_resizes_and_quits() {
    let Some(s) = setup() else { return };
    // Bob, a native client, waits in #general for Alice's message.
    let rt = rt();
    let token = {
        s.home.register(&s.daemon.addr, "bob", "bob-password");
        crate::support::saved_token(&s.home, &s.daemon.addr)
    };
    let bob = rt.block_on(s.daemon.client(Some(token)));
    rt.block_on(bob.request(ChatOp::Join {
        room: "general".into(),
    }))
    .expect("bob joins");
    let mut pushes = rt.block_on(bob.pushes()).expect("pushes");

    let command = format!(
        "ssh {} -t alice@127.0.0.1; echo ssh-exit=$?; sleep 60",
        ssh_options(&s.key, s.port).join(" ")
    );
    let Some(tmux) = Tmux::start(&s.home, &command) else {
        return;
    };
    let screen = tmux.wait_for("connected");
    for tab in ["1 Chat", "2 Dashboard", "5 Cache"] {
        assert!(screen.contains(tab), "{tab} missing:\n{screen}");
    }
    assert!(screen.contains("alice"), "signed in as alice:\n{screen}");
    tmux.keys(&["-l", "/join general"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("#general");
    tmux.keys(&["-l", "hello over ssh"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(": hello over ssh");
    let got = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let push = pushes.recv().await.expect("bob's connection is open");
                let body = format!("{push:?}");
                if body.contains("hello over ssh") {
                    return body;
                }
            }
        })
        .await
    });
    assert!(got.is_ok(), "bob never got alice's message");

    // The layout follows the window: wider, the status bar moves right.
    let before = tmux.screen();
    tmux.resize(120, 30);
    let after = tmux.wait_for_screen_where("the wider layout", |screen| {
        screen.lines().any(|l| l.trim_end().len() > 80)
    });
    assert_ne!(before, after);
    assert!(after.contains("1 Chat"), "{after}");

    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("ssh-exit=0");
    assert!(screen.contains("Goodbye from agora!"), "{screen}");
    let log = std::fs::read_to_string(s.home.path().join("daemon.log")).unwrap_or_default();
    assert!(log.contains("ssh: signed in"), "{log}");
}

#[test]
fn an_unknown_key_is_told_how_to_register() {
    let Some(s) = setup() else { return };
    let stranger = keygen(&s.home, "stranger");
    let command = format!(
        "ssh {} -t 127.0.0.1; echo ssh-exit=$?; sleep 60",
        ssh_options(&stranger, s.port).join(" ")
    );
    let Some(tmux) = Tmux::start(&s.home, &command) else {
        return;
    };
    let screen = tmux.wait_for("ssh-exit=1");
    assert!(screen.contains("not registered"), "{screen}");
    assert!(screen.contains("agora ssh keys add"), "{screen}");
    let (_, metrics) = rt().block_on(s.daemon.http_get("/metrics"));
    assert!(
        metrics.contains("agora_ssh_auth_failures_total 1"),
        "{metrics}"
    );
}

#[test]
fn passwords_are_refused() {
    let Some(s) = setup() else { return };
    let out = ssh(
        &s.key,
        s.port,
        &["-o", "PreferredAuthentications=password"],
        &["whoami"],
    );
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn rsa_keys_are_refused_when_added_and_when_offered() {
    let Some(s) = setup() else { return };
    let rsa = s.home.path().join("rsa");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(&rsa)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    // Binding it to an account: one clear line, a non-zero exit.
    let out = s.home.run(
        &[
            "--addr",
            &s.daemon.addr,
            "ssh",
            "keys",
            "add",
            &format!("{}.pub", rsa.display()),
        ],
        None,
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("ssh-rsa keys are not accepted") && err.lines().count() == 1,
        "{err}"
    );
    // Signing in with it, public keys only: refused.
    let out = ssh(
        &rsa,
        s.port,
        &["-o", "PreferredAuthentications=publickey"],
        &["whoami"],
    );
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn exec_requests_run_commands_as_the_keys_user() {
    let Some(s) = setup() else { return };
    let out = ssh(&s.key, s.port, &[], &["whoami"]);
    assert_eq!(text(&out.stdout), "alice\n", "{}", text(&out.stderr));
    let out = ssh(&s.key, s.port, &[], &["chat", "join", "general"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ssh(
        &s.key,
        s.port,
        &[],
        &["chat", "send", "general", "hi", "from", "exec"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("sent "),
        "{}",
        text(&out.stdout)
    );
    let out = ssh(&s.key, s.port, &[], &["chat", "history", "general"]);
    assert!(
        text(&out.stdout).contains("alice: hi from exec"),
        "{}",
        text(&out.stdout)
    );
    let out = ssh(&s.key, s.port, &[], &["jobs", "stats"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("states"),
        "{}",
        text(&out.stdout)
    );
    let out = ssh(&s.key, s.port, &[], &["rm", "-rf", "/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a command"),
        "{}",
        text(&out.stderr)
    );
    // No command and no terminal: one line, exit 1.
    let out = ssh(&s.key, s.port, &["-T"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("needs a terminal"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn keys_are_listed_and_removed() {
    let Some(s) = setup() else { return };
    let addr = s.daemon.addr.clone();
    let out = s
        .home
        .run(&["--addr", &addr, "--json", "ssh", "keys", "list"], None);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let fingerprint = listed["keys"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(listed["keys"][0]["last_used_ms"].is_null());
    let out = s
        .home
        .run(&["--addr", &addr, "ssh", "keys", "rm", &fingerprint], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = s.home.run(&["--addr", &addr, "ssh", "keys", "list"], None);
    assert_eq!(out.status.code(), Some(1));
    // The key no longer signs Alice in.
    let out = ssh(&s.key, s.port, &[], &["whoami"]);
    assert_ne!(out.status.code(), Some(0));
    let out = s.home.run(
        &[
            "ssh",
            "fingerprint",
            "--data",
            &s.home.data().display().to_string(),
        ],
        None,
    );
    assert!(
        text(&out.stdout).starts_with("SHA256:"),
        "{}",
        text(&out.stdout)
    );
}

/// A TUI session (`ssh -tt`) whose stdout is a pipe nobody drains, and
/// whose stdin is a pipe the test may type into.
fn unread_session(s: &Setup) -> Child {
    Command::new("ssh")
        .args(ssh_options(&s.key, s.port))
        .args(["-tt", "127.0.0.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh")
}

/// Whether the daemon's `/metrics` counts `n` SSH sessions now.
fn ssh_sessions(s: &Setup, n: usize) -> bool {
    let (_, metrics) = rt().block_on(s.daemon.http_get("/metrics"));
    metrics.contains(&format!("agora_ssh_sessions {n}\n"))
}

#[test]
fn fifty_sessions_with_one_stalled_reader_keep_working() {
    let Some(s) = setup() else { return };
    // One client that never reads: ssh -tt with its stdout a pipe nobody
    // drains, so its screen backs up.
    let mut stalled = unread_session(&s);
    // Fifty more, each an exec request, all at once.
    let children: Vec<_> = (0..50)
        .map(|i| {
            Command::new("ssh")
                .args(ssh_options(&s.key, s.port))
                .args([
                    "-o",
                    "BatchMode=yes",
                    "127.0.0.1",
                    "chat",
                    "history",
                    "general",
                    &format!("{}", i % 5 + 1),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("ssh")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("ssh");
        // alice has not joined #general: every one gets the same answer.
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("general"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = ssh(&s.key, s.port, &[], &["whoami"]);
    assert_eq!(text(&out.stdout), "alice\n");
    let _ = stalled.kill();
    let _ = stalled.wait();
    wait_for("the sessions to close", Duration::from_secs(30), || {
        ssh_sessions(&s, 0).then_some(())
    });
}

#[test]
fn a_client_that_stops_reading_is_dropped() {
    let Some(s) = setup() else { return };
    // A TUI session whose screen nobody reads: its stdout is a pipe this
    // test never drains, so once the pipe, OpenSSH's channel window and
    // the sockets are full, the daemon cannot send it anything more.
    let mut stalled = unread_session(&s);
    wait_for("the session to open", Duration::from_secs(30), || {
        ssh_sessions(&s, 1).then_some(())
    });
    // Tab through the tabs: every press redraws most of the screen, some
    // KB that pile up unread until the session is dropped.
    let mut keys = stalled.stdin.take().expect("stdin");
    let log = s.home.path().join("daemon.log");
    let start = std::time::Instant::now();
    let mut presses = 0u64;
    let dropped = loop {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        if said.contains("TUI session dropped") {
            break true;
        }
        if start.elapsed() > Duration::from_secs(120) {
            break false;
        }
        for _ in 0..50 {
            if keys.write_all(b"\t").is_err() {
                break;
            }
            presses += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    assert!(
        dropped,
        "after {presses} tab presses over {:?} the unread session was not dropped",
        start.elapsed()
    );
    wait_for("the session to close", Duration::from_secs(30), || {
        ssh_sessions(&s, 0).then_some(())
    });
    // The daemon and its other sessions are unaffected.
    let out = ssh(&s.key, s.port, &[], &["whoami"]);
    assert_eq!(text(&out.stdout), "alice\n");
    drop(keys);
    let _ = stalled.kill();
    let _ = stalled.wait();
}

#[test]
fn a_dumb_terminal_is_told_why_and_a_daemon_shutdown_says_goodbye() {
    let Some(mut s) = setup() else { return };
    // TERM=dumb: one line saying why, then the exit status 1.
    let out = Command::new("ssh")
        .args(ssh_options(&s.key, s.port))
        .args(["-tt", "127.0.0.1"])
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("ssh");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("cannot draw on a terminal of type \"dumb\""),
        "{}",
        text(&out.stdout)
    );
    // A session open when the daemon stops: the TUI says goodbye and the
    // client exits cleanly.
    let command = format!(
        "ssh {} -t 127.0.0.1; echo ssh-exit=$?; sleep 60",
        ssh_options(&s.key, s.port).join(" ")
    );
    let Some(tmux) = Tmux::start(&s.home, &command) else {
        return;
    };
    tmux.wait_for("connected");
    s.daemon.signal(libc::SIGTERM);
    let screen = tmux.wait_for("ssh-exit=0");
    assert!(
        screen.contains("agora is shutting down. Goodbye!"),
        "{screen}"
    );
    assert!(s.daemon.wait_exit(Duration::from_secs(30)).success());
}
