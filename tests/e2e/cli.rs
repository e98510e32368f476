//! The CLI as a person or a script uses it: exit codes, one-line errors,
//! `--json`, saved sign-ins.

use crate::support::{Daemon, Home};
use std::process::Command;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ping_against_a_closed_port_is_one_line_and_nonzero() {
    let home = Home::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let out = home.run(&["--addr", &addr, "ping"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "agora: cannot connect to {addr}: connection refused (is \"agora daemon\" running?)"
        )
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn ping_prints_round_trips_and_json() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let out = home.run(
        &["--addr", &daemon.addr, "ping", "-c", "2", "-i", "0"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("pong from").count(), 2, "{text}");
    assert!(text.contains("rtt min/avg/max"));

    let out = home.run(
        &[
            "--addr",
            &daemon.addr,
            "--json",
            "ping",
            "-c",
            "3",
            "-i",
            "0",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["rtt_ms"].as_array().unwrap().len(), 3);
    assert!(v["avg_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let home = Home::new();
    let out = home.run(&["--version"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let rest = text
        .strip_prefix(concat!("agora ", env!("CARGO_PKG_VERSION"), " (commit "))
        .unwrap_or_else(|| panic!("{text}"));
    let (commit, date) = rest
        .strip_suffix(')')
        .and_then(|r| r.split_once(", built "))
        .unwrap_or_else(|| panic!("{text}"));
    // The checkout the binary was built from.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git");
    assert!(head.status.success(), "tests run in a git checkout");
    assert_eq!(
        commit,
        String::from_utf8_lossy(&head.stdout).trim(),
        "{text}"
    );
    let parts: Vec<&str> = date.split('-').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())),
        "{text}"
    );
    // -V stays short, as the man pages show it.
    let short = home.run(&["-V"], None);
    assert_eq!(
        String::from_utf8_lossy(&short.stdout).trim(),
        concat!("agora ", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn agora_token_signs_commands_in_without_a_credentials_file() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let a = daemon.addr.as_str();
    home.register(a, "ivy", "ivy-password");
    let token = crate::support::saved_token(&home, a);
    // Another home: nothing saved there.
    let bare = Home::new();
    let whoami = |token: Option<&str>| {
        let mut cmd = bare.cmd();
        cmd.args(["--addr", a, "--json", "whoami"]);
        if let Some(t) = token {
            cmd.env("AGORA_TOKEN", t);
        }
        cmd.output().expect("run agora")
    };
    let out = whoami(None);
    assert_eq!(out.status.code(), Some(1), "not signed in without it");
    let out = whoami(Some(&token));
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["user"]["name"], "ivy", "{v}");
    let out = whoami(Some("not.a.token"));
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).lines().count() == 1,
        "one clear line: {}",
        stderr(&out)
    );
}

#[test]
fn register_login_whoami_logout() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let a = daemon.addr.as_str();

    let out = home.run(&["--addr", a, "whoami"], None);
    assert_eq!(out.status.code(), Some(1), "not signed in yet");

    let out = home.run(
        &["--addr", a, "register", "Grace", "--password-stdin"],
        Some("hopper-1906\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("signed in as grace"));

    let creds = home.path().join("config/agora/credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&creds).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "credentials are private");
    }

    let out = home.run(&["--addr", a, "--json", "whoami"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["user"]["name"], "grace");

    let out = home.run(&["--addr", a, "logout"], None);
    assert!(out.status.success());
    let out = home.run(&["--addr", a, "whoami"], None);
    assert_eq!(out.status.code(), Some(1));

    let out = home.run(
        &["--addr", a, "login", "grace", "--password-stdin"],
        Some("wrong-password\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim_end(),
        format!("agora: {a}: wrong user name or password")
    );

    let out = home.run(
        &["--addr", a, "login", "grace", "--password-stdin"],
        Some("hopper-1906\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = home.run(&["--addr", a, "whoami"], None);
    assert!(stdout(&out).starts_with("grace "), "{}", stdout(&out));

    // Client-side validation gives the rule before any connection is made.
    let out = home.run(
        &["--addr", a, "register", "bad name", "--password-stdin"],
        Some("whatever-1\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("use only a-z"), "{}", stderr(&out));

    // No terminal and no --password-stdin: a clear error, not a hang.
    let out = home.run(&["--addr", a, "login", "grace"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--password-stdin"));
}

#[test]
fn completions_are_generated() {
    let home = Home::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = home.run(&["completions", shell], None);
        assert!(out.status.success());
        let script = stdout(&out);
        assert!(
            script.contains("whoami") && script.contains("daemon"),
            "{shell}"
        );
    }
}

#[test]
fn bench_ping_reports_throughput() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let out = home.run(
        &[
            "--addr",
            &daemon.addr,
            "--json",
            "bench",
            "ping",
            "--connections",
            "2",
            "--duration",
            "0.3",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["requests"].as_u64().unwrap() > 0);
    assert!(v["p99_us"].as_u64().unwrap() >= v["p50_us"].as_u64().unwrap());
}
