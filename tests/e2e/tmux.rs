//! The TUI as a person sees it: driven in a real terminal (tmux, 80x24)
//! with keystrokes, read back with capture-pane. [`Tmux`] also drives the
//! `agora cache` prompt (cache_cli.rs).

use std::process::Command;
use std::time::Duration;

use crate::support::{Daemon, Home, bin, wait_for};

/// A private tmux server running one 80x24 session; killed on drop.
pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    pub(crate) fn start(home: &Home, shell_command: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            // CI installs tmux (.ci/run), so there this cannot skip.
            assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
            eprintln!("skipping: tmux is not installed");
            return None;
        }
        let socket = format!(
            "agora-e2e-{}-{}",
            std::process::id(),
            home.path().file_name()?.to_string_lossy()
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "80",
                "-y",
                "24",
            ])
            .arg(shell_command)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("share"))
            .env("TERM", "xterm-256color")
            .status()
            .expect("run tmux");
        assert!(status.success());
        Some(Tmux { socket })
    }

    pub(crate) fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "t"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(crate) fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(status.success());
    }

    /// Waits until the last non-empty line of the screen ends with `text`
    /// (where the cursor's line is being edited).
    pub(crate) fn wait_for_line_end(&self, text: &str) {
        self.wait_for_screen(text, |screen| {
            screen
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_end().ends_with(text))
        });
    }

    /// Waits until the prompt is back with `answer` on the line above it:
    /// the answer to the line just entered, not an older one that reads
    /// the same (keys sent before the prompt is back may be flushed).
    pub(crate) fn wait_for_answer(&self, prompt: &str, answer: &str) {
        self.wait_for_screen(answer, |screen| {
            let mut lines = screen.lines().rev().filter(|l| !l.trim().is_empty());
            lines.next().is_some_and(|l| l.trim_end().ends_with(prompt))
                && lines.next().is_some_and(|l| l.trim_end() == answer)
        });
    }

    /// Waits until the screen shows `text`; returns the screen.
    /// Resizes the window, as a person dragging their terminal's corner.
    pub(crate) fn resize(&self, width: u16, height: u16) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "resize-window", "-t", "t", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .status()
            .expect("resize-window");
        assert!(status.success());
    }

    /// Waits until `done(screen)`; returns the screen.
    pub(crate) fn wait_for_screen_where(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.wait_for_screen(what, done)
    }

    pub(crate) fn wait_for(&self, text: &str) -> String {
        self.wait_for_screen(text, |screen| screen.contains(text))
    }

    /// Waits until `done(screen)`; returns the screen.
    fn wait_for_screen(&self, text: &str, done: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(
                &format!("{text:?} on screen"),
                // Generous: a loaded CI machine can take long to start a
                // daemon and hash a password; a pass takes what it takes.
                Duration::from_secs(60),
                || {
                    last = self.screen();
                    done(&last).then(|| last.clone())
                },
            )
        }));
        found.unwrap_or_else(|_| panic!("{text:?} never appeared; the screen was:\n{last}"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn up_shows_tabs_and_help_and_quits_cleanly() {
    let home = Home::new();
    let data = home.data();
    let command = format!(
        "'{}' up --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 --data '{}'; echo agora-exit=$?; sleep 60",
        bin(),
        data.display()
    );
    let Some(tmux) = Tmux::start(&home, &command) else {
        return;
    };
    let screen = tmux.wait_for("connected");
    for tab in ["1 Chat", "2 Dashboard", "3 Games", "4 Jobs", "5 Cache"] {
        assert!(screen.contains(tab), "{tab} missing:\n{screen}");
    }
    let user = std::env::var("USER").unwrap_or_default();
    if !user.is_empty() {
        assert!(
            screen.contains(&user.to_lowercase()),
            "signed in as the OS user:\n{screen}"
        );
    }
    // The Chat tab types q, ? and digits into its input line: help is F1
    // and tabs are Alt-digits there.
    tmux.keys(&["F1"]);
    tmux.wait_for("Global keys");
    tmux.keys(&["Escape"]);
    // Escape then Alt-3 (itself ESC 3) in one read would parse as Alt-Esc:
    // wait for the popup to close first.
    tmux.wait_for_screen("the help closed", |screen| !screen.contains("Global keys"));
    tmux.keys(&["M-3"]);
    tmux.wait_for("Live games and challenges");
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("agora-exit=0");
    assert!(
        !screen.contains("1 Chat"),
        "the TUI left the terminal as it was:\n{screen}"
    );
    assert!(data.join("agora.db").exists());
    assert!(data.join("local-account.json").exists());
}

#[test]
fn tui_reconnects_when_the_daemon_restarts() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    let addr = daemon.addr.clone();
    let command = format!(
        "'{}' --addr {addr} tui; echo agora-exit=$?; sleep 60",
        bin()
    );
    let Some(tmux) = Tmux::start(&home, &command) else {
        return;
    };
    tmux.wait_for("connected");
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    tmux.wait_for("reconnecting");
    let _daemon = Daemon::start_on(&home, &addr, &[]);
    let screen = tmux.wait_for("connected");
    assert!(!screen.contains("reconnecting"), "{screen}");
    tmux.keys(&["C-c"]);
    tmux.wait_for("agora-exit=0");
}

#[test]
fn chat_tab_joins_a_room_and_shows_a_sent_message() {
    let home = Home::new();
    let data = home.data();
    let command = format!(
        "'{}' up --listen 127.0.0.1:0 --http 127.0.0.1:0 --data '{}'; echo agora-exit=$?; sleep 60",
        bin(),
        data.display()
    );
    let Some(tmux) = Tmux::start(&home, &command) else {
        return;
    };
    tmux.wait_for("connected");
    tmux.wait_for("No private messages yet");
    tmux.keys(&["-l", "/join general"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("#general — no topic");
    tmux.keys(&["-l", "hello from tmux q1?"]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for(": hello from tmux q1?");
    assert!(screen.contains("#general"), "{screen}");
    assert!(!screen.contains("failed"), "{screen}");
    tmux.keys(&["C-c"]);
    tmux.wait_for("agora-exit=0");
}

#[test]
fn cache_prompt_edits_lines_keeps_history_and_prints_like_redis_cli() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "carol", "carol-password");
    let command = format!(
        "'{}' --addr {} cache; echo agora-exit=$?; sleep 60",
        bin(),
        daemon.addr
    );
    let Some(tmux) = Tmux::start(&home, &command) else {
        return;
    };
    // capture-pane drops trailing spaces. Keys typed before the line
    // editor is back in raw mode may be flushed by it: each line waits for
    // the prompt.
    let prompt = format!("{}>", daemon.addr);
    tmux.wait_for_line_end(&prompt);
    tmux.keys(&["-l", "set greeting \"hello world\""]);
    tmux.keys(&["Enter"]);
    tmux.wait_for_answer(&prompt, "OK");
    tmux.keys(&["-l", "rpush l a b"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for_answer(&prompt, "(integer) 2");
    tmux.keys(&["-l", "lrange l 0 -1"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for_answer(&prompt, "2) \"b\"");
    // Line editing: backspace fixes a typo.
    tmux.keys(&["-l", "get greetingX"]);
    tmux.keys(&["BSpace", "Enter"]);
    tmux.wait_for_answer(&prompt, "\"hello world\"");
    // History: Up recalls `get greeting`, edited into `get nothing`. Wait
    // for the recalled line before editing.
    tmux.keys(&["Up"]);
    tmux.wait_for_line_end("> get greeting");
    tmux.keys(&["BSpace"; 8]);
    tmux.keys(&["-l", "nothing"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for_answer(&prompt, "(nil)");
    tmux.keys(&["-l", "quit"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("agora-exit=0");
    let history = home.path().join("share/agora/cache_history");
    let text =
        std::fs::read_to_string(&history).unwrap_or_else(|e| panic!("{}: {e}", history.display()));
    assert!(text.contains("rpush l a b"), "{text}");
}

#[test]
fn cache_tab_browses_keys_set_from_the_cli() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "erin", "erin-password");
    for (k, v) in [("tmux:greeting", "hello from the cli"), ("tmux:other", "x")] {
        let out = home.run(&["--addr", &daemon.addr, "cache", "set", k, v], None);
        assert!(out.status.success(), "{out:?}");
    }
    let command = format!(
        "'{}' --addr {} tui; echo agora-exit=$?; sleep 60",
        bin(),
        daemon.addr
    );
    let Some(tmux) = Tmux::start(&home, &command) else {
        return;
    };
    tmux.wait_for("connected");
    tmux.keys(&["M-5"]);
    tmux.wait_for("ops/s");
    let screen = tmux.wait_for("hello from the cli");
    assert!(screen.contains("tmux:other"), "{screen}");
    tmux.keys(&["-l", "/other"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Keys /other (1)");
    tmux.keys(&["C-c"]);
    tmux.wait_for("agora-exit=0");
}

#[test]
fn tui_registers_from_its_form_and_saves_the_token() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    let addr = daemon.addr.clone();
    let command = format!(
        "'{}' --addr {addr} tui; echo agora-exit=$?; sleep 60",
        bin()
    );
    let Some(tmux) = Tmux::start(&home, &command) else {
        return;
    };
    // No saved token: the form opens by itself.
    tmux.wait_for(&format!("Sign in to {addr}"));
    tmux.keys(&["C-r"]);
    tmux.wait_for(&format!("Register on {addr}"));
    tmux.keys(&["-l", "dora"]);
    tmux.keys(&["Tab"]);
    tmux.keys(&["-l", "dora-password q1"]);
    tmux.keys(&["Tab"]);
    tmux.keys(&["-l", "dora-password q1"]);
    tmux.keys(&["Enter"]);
    // Signed in: the form is gone, nothing typed reached the chat, and the
    // status bar names the user.
    let screen = tmux.wait_for("│ dora │ connected");
    assert!(!screen.contains("Register on"), "{screen}");
    assert!(
        !screen.contains("q1"),
        "the password went nowhere:\n{screen}"
    );
    assert!(!screen.contains("not signed in"), "{screen}");
    // Saved for the CLI's other commands, as `agora login` does.
    let out = home.run(&["--addr", &addr, "whoami"], None);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("dora"),
        "{out:?}"
    );
    // A reconnection signs in with the new token.
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    tmux.wait_for("reconnecting");
    let _daemon = Daemon::start_on(&home, &addr, &[]);
    let screen = tmux.wait_for("│ dora │ connected");
    assert!(!screen.contains("Sign in to"), "{screen}");
    tmux.keys(&["C-c"]);
    tmux.wait_for("agora-exit=0");
}

/// The Jobs tab at 80x24: jobs enqueued with the CLI show in the counts
/// and the queue table; `R` asks before retrying the dead ones, `y` does
/// it, and the counts change.
#[test]
fn jobs_tab_shows_queues_and_retries_dead_jobs_after_asking() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let addr = daemon.addr.clone();
    home.register(&addr, "fay", "fay-password");
    let agora = |args: &[&str]| {
        let mut all = vec!["--addr", addr.as_str()];
        all.extend_from_slice(args);
        let out = home.run(&all, None);
        assert!(out.status.success(), "{args:?}: {out:?}");
        out
    };
    // Two jobs nobody works, and one the daemon's `fail` kills at once.
    agora(&["jobs", "enqueue", "report.daily", "--queue", "reports"]);
    agora(&["jobs", "enqueue", "report.weekly", "--queue", "reports"]);
    agora(&[
        "jobs",
        "enqueue",
        "fail",
        "--queue",
        "doomed",
        "--max-attempts",
        "1",
    ]);
    wait_for("the dead job", Duration::from_secs(30), || {
        let out = agora(&["--json", "jobs", "stats"]);
        let stats: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (stats["states"]["dead"] == 1).then_some(())
    });
    // Paused, so the retried job stays available rather than dying again.
    agora(&["jobs", "pause", "doomed"]);
    let command = format!(
        "'{}' --addr {addr} tui; echo agora-exit=$?; sleep 60",
        bin()
    );
    let Some(tmux) = Tmux::start(&home, &command) else {
        return;
    };
    tmux.wait_for("connected");
    tmux.keys(&["M-4"]);
    let screen = tmux.wait_for("dead 1");
    assert!(screen.contains("avail 2"), "{screen}");
    assert!(screen.contains("reports"), "{screen}");
    assert!(screen.contains("doomed"), "{screen}");
    assert!(screen.contains("paused"), "{screen}");
    tmux.keys(&["R"]);
    tmux.wait_for("Retry all 1 dead jobs? y/n");
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("dead 0");
    assert!(screen.contains("avail 3"), "{screen}");
    tmux.keys(&["C-c"]);
    tmux.wait_for("agora-exit=0");
}
