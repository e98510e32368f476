//! Games across a fleet (issue 18, docs/FLEET.md "Games across nodes"):
//! a game played on node A is replayed and ranked from node B (results
//! and ratings are shared); a node restarting aborts only its own
//! unfinished games, and a node that dies takes its live games with it
//! once the others reap it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::games::{bot_turn, cmd, json_of};
use crate::support::{Daemon, Home, postgres_database};

const KEY: &str = "fleet-test-key-0123456789abcdef0123456789";

fn node(home: &Home, url: &str) -> Daemon {
    Daemon::start_env(
        home,
        &["--database", url, "--fleet-node-timeout", "1s"],
        &[("AGORA_JWT_SECRET", KEY)],
    )
}

/// Alice and Bob queue for connect four on `addr`; the game's id.
fn paired(alice: &Home, bob: &Home, addr: &str) -> String {
    let queue = |home: &Home| {
        cmd(
            home,
            addr,
            &[
                "--json", "game", "queue", "c4", "--time", "5+0", "--wait", "20s",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (qa, qb) = (queue(alice), queue(bob));
    let sa = json_of(&qa.wait_with_output().unwrap(), "queue alice");
    let sb = json_of(&qb.wait_with_output().unwrap(), "queue bob");
    assert_eq!(sa["id"], sb["id"]);
    sa["id"].to_string()
}

/// A game alice challenges bob to on `addr`, accepted there: that node
/// hosts it (a paired game is hosted by whichever node pairs it, and
/// every node of a fleet pairs the shared pools).
fn challenged(alice: &Home, bob: &Home, addr: &str) -> String {
    let state = json_of(
        &cmd(
            alice,
            addr,
            &["--json", "game", "challenge", "bob", "c4", "--time", "5+0"],
        )
        .output()
        .unwrap(),
        "challenge",
    );
    let id = state["id"].to_string();
    let accepted = json_of(
        &cmd(bob, addr, &["--json", "game", "accept", &id])
            .output()
            .unwrap(),
        "accept",
    );
    assert_eq!(accepted["status"], "in_progress", "{accepted}");
    id
}

fn replay(home: &Home, addr: &str, id: &str) -> Value {
    json_of(
        &home.run(&["--addr", addr, "--json", "game", "replay", id], None),
        "replay",
    )
}

fn log_in(home: &Home, addr: &str, name: &str) {
    let out = home.run(
        &["--addr", addr, "login", name, "--password-stdin"],
        Some(&format!("{name}-password\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_game_played_on_one_node_is_replayed_and_ranked_on_another_and_dies_with_its_node() {
    let url = postgres_database();
    let (home_a, home_b) = (Home::new(), Home::new());
    let mut a = node(&home_a, &url);
    let mut b = node(&home_b, &url);
    let (alice, bob) = (Home::new(), Home::new());
    alice.register(&a.addr, "alice", "alice-password");
    bob.register(&a.addr, "bob", "bob-password");

    // A whole game on A.
    let id = paired(&alice, &bob, &a.addr);
    let mut turns = 0;
    while !(bot_turn(&alice, &a.addr, "alice", &id) || bot_turn(&bob, &a.addr, "bob", &id)) {
        turns += 1;
        assert!(turns < 100, "the game never ended");
    }
    let on_a = replay(&alice, &a.addr, &id);

    // B replays it and ranks its players: the result is the fleet's.
    log_in(&alice, &b.addr, "alice");
    let on_b = replay(&alice, &b.addr, &id);
    assert_eq!(on_b["state"]["moves"], on_a["state"]["moves"]);
    assert_eq!(on_b["state"]["result"], on_a["state"]["result"]);
    let board = json_of(
        &alice.run(
            &[
                "--addr",
                &b.addr,
                "--json",
                "game",
                "leaderboard",
                "connect4",
            ],
            None,
        ),
        "leaderboard",
    );
    let entries = board["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{board}");
    assert_eq!(entries[0]["won"], 1);

    // A second game, hosted by A; B restarting does not abort it.
    let live = challenged(&alice, &bob, &a.addr);
    b.signal(libc::SIGKILL);
    b.wait_exit(Duration::from_secs(10));
    let b = node(&home_b, &url);
    log_in(&alice, &b.addr, "alice");
    let shown = json_of(
        &alice.run(&["--addr", &a.addr, "--json", "game", "show", &live], None),
        "show",
    );
    assert_eq!(shown["status"], "in_progress");
    assert!(
        !bot_turn(&alice, &a.addr, "alice", &live),
        "A's game goes on"
    );

    // A dies: B reaps it, and its live game with it.
    a.signal(libc::SIGKILL);
    a.wait_exit(Duration::from_secs(10));
    let start = Instant::now();
    loop {
        // Refused while the game is not over.
        let out = alice.run(
            &["--addr", &b.addr, "--json", "game", "replay", &live],
            None,
        );
        if out.status.success() {
            let state: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(state["state"]["result"]["reason"], "aborted", "{state}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
