//! Games against the real binary: two CLI bots (shell-script style: `game
//! show --json`, pick a legal move, `game move`) play a whole game found
//! through the matchmaking queue while a third user watches with `game
//! watch --json`; the result, the rating change, the replay and the
//! leaderboard survive `kill -9`.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Daemon, Home};

pub(crate) fn json_of(out: &std::process::Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: {e}"))
}

pub(crate) fn cmd(home: &Home, addr: &str, args: &[&str]) -> Command {
    let mut c = home.cmd();
    c.arg("--addr").arg(addr).args(args);
    c
}

/// One bot's turn, as a shell script would take it: read the state, and
/// if it is its turn, play the first legal move. Returns whether the game
/// is over.
pub(crate) fn bot_turn(home: &Home, addr: &str, me: &str, id: &str) -> bool {
    let state = json_of(
        &home.run(&["--addr", addr, "--json", "game", "show", id], None),
        "show",
    );
    if state["status"] == "finished" {
        return true;
    }
    if state["turn"] == me {
        let mv = state["legal"][0].as_str().expect("a legal move").to_owned();
        let seq = state["seq"].to_string();
        let out = home.run(
            &[
                "--addr", addr, "--json", "game", "move", id, &mv, "--seq", &seq,
            ],
            None,
        );
        let played = json_of(&out, "move");
        assert_eq!(played["move"], mv.as_str());
    }
    false
}

#[test]
fn two_cli_bots_play_a_queued_game_while_a_third_user_watches() {
    let daemon_home = Home::new();
    let mut daemon = Daemon::start(&daemon_home, &[]);
    let addr = daemon.addr.clone();
    let (alice, bob, carol) = (Home::new(), Home::new(), Home::new());
    alice.register(&addr, "alice", "alice-password");
    bob.register(&addr, "bob", "bob-password");
    carol.register(&addr, "carol", "carol-password");

    // Both queue for connect four; the pools pair them.
    let spawn_queue = |home: &Home| {
        cmd(
            home,
            &addr,
            &[
                "--json", "game", "queue", "c4", "--time", "5+0", "--wait", "20s",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let qa = spawn_queue(&alice);
    let qb = spawn_queue(&bob);
    let (sa, sb) = (
        qa.wait_with_output().unwrap(),
        qb.wait_with_output().unwrap(),
    );
    let (sa, sb) = (json_of(&sa, "queue alice"), json_of(&sb, "queue bob"));
    assert_eq!(sa["id"], sb["id"]);
    assert_eq!(sa["kind"], "connect4");
    assert_eq!(sa["status"], "in_progress");
    let id = sa["id"].to_string();

    // Carol watches from the start, a JSON line per event.
    let mut watch = cmd(&carol, &addr, &["--json", "game", "watch", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["type"], "state");
    assert_eq!(first["state"]["spectators"], 1);

    // The bots take turns until the game is over (connect four ends in at
    // most 42 moves; the first legal move is always the leftmost column).
    let mut turns = 0;
    loop {
        let over = bot_turn(&alice, &addr, "alice", &id) || bot_turn(&bob, &addr, "bob", &id);
        if over {
            break;
        }
        turns += 1;
        assert!(turns < 100, "the game never ended");
    }

    // Carol saw every move and the end, then the stream stopped by itself.
    let mut moves = Vec::new();
    let mut ended = None;
    for line in lines {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        match v["type"].as_str() {
            Some("moved") => moves.push(v["move"].as_str().unwrap().to_owned()),
            Some("ended") => ended = Some(v["state"].clone()),
            _ => {}
        }
    }
    let status = watch.wait().unwrap();
    assert!(status.success(), "watch: {status}");
    let ended = ended.expect("the watcher saw the end");
    assert_eq!(ended["moves"], serde_json::json!(moves));
    let result = &ended["result"];
    assert_eq!(result["reason"], "win");
    let winner = result["winner"].as_str().unwrap().to_owned();
    // The leftmost free column each time: the first player completes the
    // bottom row.
    assert_eq!(winner, ended["players"][0].as_str().unwrap());
    let expected: Vec<&str> = ["1"; 6]
        .into_iter()
        .chain(["2"; 6])
        .chain(["3"; 6])
        .chain(["4"])
        .collect();
    assert_eq!(moves, expected, "X completes the bottom row");
    let ratings = result["ratings"].as_array().unwrap();
    assert_eq!(ratings.len(), 2);
    let winner_change = ratings
        .iter()
        .find(|r| r["user"] == winner.as_str())
        .unwrap();
    assert!(winner_change["after"].as_i64() > winner_change["before"].as_i64());

    // Acknowledged means stored: kill -9, restart, everything is there.
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    let daemon = Daemon::start(&daemon_home, &[]);
    let addr = daemon.addr.clone();
    // The sign-ins were saved per address: log in again on the new port.
    for (home, name) in [(&alice, "alice"), (&carol, "carol")] {
        let out = home.run(
            &["--addr", &addr, "login", name, "--password-stdin"],
            Some(&format!("{name}-password\n")),
        );
        assert!(out.status.success());
    }
    let replay = json_of(
        &carol.run(&["--addr", &addr, "--json", "game", "replay", &id], None),
        "replay",
    );
    assert_eq!(replay["state"]["moves"], ended["moves"]);
    assert_eq!(
        replay["positions"].as_array().unwrap().len(),
        moves.len() + 1
    );
    assert_eq!(replay["state"]["result"]["ratings"], result["ratings"]);
    let board = json_of(
        &alice.run(
            &["--addr", &addr, "--json", "game", "leaderboard", "connect4"],
            None,
        ),
        "leaderboard",
    );
    let entries = board["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["user"], winner.as_str());
    assert_eq!(entries[0]["won"], 1);
    let text = alice.run(&["--addr", &addr, "game", "replay", &id], None);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("start") && text.contains("1 2 3 4 5 6 7"),
        "{text}"
    );
}
