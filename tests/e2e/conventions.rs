//! The conventions every command follows (docs/CLI.md), checked on the
//! real binary: where options go in help, which commands take --addr,
//! commands that need a terminal, colour, man pages.

use std::process::{Command, Output, Stdio};

use crate::support::{Home, bin};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `agora ARGS` under a pseudo-terminal (util-linux `script`), so it
/// sees a terminal on stdin, stdout and stderr; returns what it printed.
fn on_a_terminal(home: &Home, env: &[(&str, &str)], args: &[&str]) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        return None;
    }
    let line = std::iter::once(bin())
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = home.cmd_for("script");
    cmd.args(["-qec", &line, "/dev/null"]).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run script");
    Some(text(&out.stdout))
}

#[test]
fn only_commands_that_talk_to_a_daemon_take_addr() {
    let home = Home::new();
    for args in [
        &["process", "--addr", "127.0.0.1:1", "."][..],
        &["completions", "bash", "--addr", "127.0.0.1:1"],
        &["man", "--addr", "127.0.0.1:1", "/tmp"],
        &["daemon", "--addr", "127.0.0.1:1"],
        &["up", "--addr", "127.0.0.1:1"],
    ] {
        let out = home.run(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("unexpected argument '--addr'"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // Before the command's name it is refused too, with the reason.
    let out = home.run(&["--addr", "127.0.0.1:1", "completions", "bash"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("does not talk to a daemon"), "{err}");
    // Commands that do talk to one take it before or after their name.
    for args in [
        &["--addr", "127.0.0.1:1", "ping", "-c", "1"][..],
        &["ping", "-c", "1", "--addr", "127.0.0.1:1"],
        &["chat", "--addr", "127.0.0.1:1", "rooms"],
        &["chat", "rooms", "--addr", "127.0.0.1:1"],
    ] {
        let out = home.run(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        // It was used: the error names that address.
        assert!(
            text(&out.stderr).contains("127.0.0.1:1"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn help_keeps_global_options_apart_and_usage_does_not_require_them() {
    let home = Home::new();
    let out = home.run(&["chat", "join", "--help"], None);
    assert!(out.status.success());
    let help = text(&out.stdout);
    let usage = help.lines().find(|l| l.starts_with("Usage:")).unwrap();
    assert_eq!(usage, "Usage: agora chat join [OPTIONS] <ROOM>");
    let own = &help[help.find("\nOptions:").unwrap()..help.find("\nConnection:").unwrap()];
    for global in ["--json", "--log-level", "--log-format", "--color", "--addr"] {
        assert!(
            !own.contains(global),
            "{global} among the command's own options:\n{own}"
        );
    }
    let globals = &help[help.find("\nGlobal options:").expect("a global section")..];
    assert!(globals.contains("--json") && globals.contains("--color"));
    // The main commands' --help ends with examples and the exit status.
    for cmd in ["up", "daemon", "tui", "chat", "cache", "process", "ping"] {
        let out = home.run(&[cmd, "--help"], None);
        let help = text(&out.stdout);
        assert!(help.contains("\nExamples:\n"), "{cmd}");
        assert!(help.contains("\nExit status:\n"), "{cmd}");
    }
}

#[test]
fn tui_and_up_say_plainly_that_they_need_a_terminal() {
    let home = Home::new();
    let data = home.path().join("up-data");
    for args in [vec!["tui"], vec!["up", "--data", data.to_str().unwrap()]] {
        let out = home
            .cmd()
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run agora");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("needs a terminal"), "{err}");
        assert!(
            !out.stdout.contains(&0x1b),
            "an escape sequence was written"
        );
    }
    assert!(!data.exists(), "`up` created its data before failing");
}

#[test]
fn no_color_and_color_never_keep_escape_codes_out_of_logs() {
    let home = Home::new();
    // A daemon whose RESP port is taken: it logs its start-up at debug
    // level, then fails.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let resp = taken.local_addr().unwrap().to_string();
    let data = home.path().join("data");
    let args = [
        "--log-level",
        "debug",
        "daemon",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--resp",
        &resp,
    ];
    let Some(coloured) = on_a_terminal(&home, &[], &args) else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert!(
        coloured.contains('\u{1b}'),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = on_a_terminal(&home, &[("NO_COLOR", "1")], &args).unwrap();
    assert!(!plain.contains('\u{1b}'), "NO_COLOR ignored: {plain:?}");
    let never = on_a_terminal(&home, &[], &[&["--color", "never"][..], &args].concat()).unwrap();
    assert!(
        !never.contains('\u{1b}'),
        "--color never ignored: {never:?}"
    );
    // --color always colours even into a pipe.
    let out: Output = home
        .cmd()
        .args(["--color", "always"])
        .args(args)
        .output()
        .unwrap();
    assert!(text(&out.stderr).contains('\u{1b}'));
}

#[test]
fn man_pages_have_the_usual_sections() {
    let home = Home::new();
    let dir = home.path().join("man");
    assert!(
        home.run(&["man", dir.to_str().unwrap()], None)
            .status
            .success()
    );
    let page = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let top = page("agora.1");
    for section in [
        "EXAMPLES",
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "SEE ALSO",
    ] {
        assert!(
            top.contains(&format!(".SH \"{section}\"")),
            "agora.1 lacks {section}"
        );
    }
    // NAME does not repeat the program's name ("agora - agora: …").
    let name = top.split(".SH NAME").nth(1).unwrap();
    assert!(!name.trim_start().starts_with("agora \\- agora"), "{name}");
    for leaf in ["agora-chat-send.1", "agora-cache-get.1", "agora-process.1"] {
        let p = page(leaf);
        for section in ["EXIT STATUS", "ENVIRONMENT", "SEE ALSO"] {
            assert!(
                p.contains(&format!(".SH \"{section}\"")),
                "{leaf} lacks {section}"
            );
        }
    }
}

#[test]
fn bad_values_are_refused_not_clamped() {
    let home = Home::new();
    for args in [
        &["ping", "-c", "0"][..],
        &["chat", "history", "ops", "--limit", "0"],
        &["chat", "history", "ops", "--limit", "1000"],
        &["chat", "dms", "--limit", "501"],
        &["cache", "scan", "--type", "bogus"],
        &["cache", "info", "nosuchsection"],
        &["process", ".", "--top", "3", "--csv"],
    ] {
        let out = home.run(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(!err.is_empty(), "{args:?}: no reason given");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: printed {:?}",
            text(&out.stdout)
        );
    }
}

#[test]
fn register_help_states_the_password_rules() {
    let home = Home::new();
    let help = text(&home.run(&["register", "--help"], None).stdout);
    assert!(help.contains("at least 8"), "{help}");
}

#[test]
fn password_prompts_name_the_user_and_the_daemon() {
    let home = Home::new();
    let daemon = crate::support::Daemon::start(&home, &[]);
    // `script` gives agora a terminal; its input is what we pipe in.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let line = format!("'{}' register carol --addr {}", bin(), daemon.addr);
    let mut child = home
        .cmd_for("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut input = child.stdin.take().unwrap();
        // Typed slowly enough for the prompts to be up.
        for answer in ["correct horse\n", "correct horse\n"] {
            std::thread::sleep(std::time::Duration::from_millis(500));
            input.write_all(answer.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let screen = text(&out.stdout);
    assert!(
        screen.contains(&format!("New password for carol on {}", daemon.addr)),
        "{screen}"
    );
    assert!(screen.contains("Repeat the password for carol"), "{screen}");
    assert!(
        screen.contains("registered and signed in as carol"),
        "{screen}"
    );
}

#[test]
fn errors_suggest_cli_commands_not_tui_slash_commands() {
    let home = Home::new();
    let daemon = crate::support::Daemon::start(&home, &[]);
    home.register(&daemon.addr, "dave", "dave-password");
    for args in [
        &["chat", "send", "ops", "hi"][..],
        &["chat", "history", "ops"],
        &["chat", "tail", "ops"],
    ] {
        let out = home.run(&[&["--addr", &daemon.addr][..], args].concat(), None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("agora chat join ops"), "{args:?}: {err}");
        assert!(!err.contains("/join"), "{args:?}: {err}");
    }
}

#[test]
fn metrics_count_every_op_under_its_own_name() {
    let home = Home::new();
    let daemon = crate::support::Daemon::start(&home, &[]);
    home.register(&daemon.addr, "erin", "erin-password");
    let run = |args: &[&str]| {
        let out = home.run(&[&["--addr", &daemon.addr][..], args].concat(), None);
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {out:?}"
        );
    };
    run(&["cache", "set", "k", "v"]);
    run(&["chat", "rooms"]);
    let metrics = crate::support::rt().block_on(async { daemon.http_get("/metrics").await.1 });
    for line in [
        r#"agora_requests_total{service="cache",op="cache_command"} 1"#,
        r#"agora_requests_total{service="chat",op="chat_rooms"} 1"#,
        r#"agora_requests_total{service="base",op="register"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    assert!(!metrics.contains("op=\"other\""), "{metrics}");
}
