//! Playing across a fleet (issue 18, docs/FLEET.md "Games across nodes"):
//! a game hosted on node A is challenged, accepted, played, watched and
//! finished by clients connected to node B, through the relay; a player
//! whose terminal moves to B mid-game picks the game up there; refusals
//! come back as the host gave them.

use std::time::Duration;

use agora_wire::game::{GameState, GameStatus, TimeControl};
use agora_wire::{Client, ErrorCode, Event, GameEvent, GameOp, GameReply, Reply};

use crate::fleet_chat::register;
use crate::support::{Daemon, Home, postgres_database, rt};

const KEY: &str = "fleet-test-key-0123456789abcdef0123456789";

fn node(home: &Home, url: &str) -> Daemon {
    Daemon::start_env(home, &["--database", url], &[("AGORA_JWT_SECRET", KEY)])
}

async fn state_of(client: &Client, op: GameOp) -> Box<GameState> {
    match client.request(op).await.unwrap() {
        Reply::Game(GameReply::State { state }) => state,
        other => panic!("expected a state, got {other:?}"),
    }
}

async fn play(client: &Client, game: u64, seq: u64, cell: &str) -> Result<u64, ErrorCode> {
    match client
        .request(GameOp::Move {
            game,
            seq,
            play: cell.into(),
        })
        .await
    {
        Ok(Reply::Game(GameReply::Moved { seq, .. })) => Ok(seq),
        Ok(other) => panic!("expected moved, got {other:?}"),
        Err(agora_wire::Error::Server(e)) => Err(e.code),
        Err(other) => panic!("{other}"),
    }
}

/// The next game event pushed to `pushes` that `pick` keeps; fails after
/// 10 s.
async fn next<T>(
    pushes: &mut agora_wire::Pushes,
    what: &str,
    pick: impl Fn(GameEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let push = pushes.recv().await.expect("connection open");
            if let Event::Game(event) = push.event
                && let Some(found) = pick(event)
            {
                return found;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} arrived"))
}

fn moved(game: u64) -> impl Fn(GameEvent) -> Option<(u64, String, String)> {
    move |e| match e {
        GameEvent::Moved {
            game: g,
            seq,
            play,
            by,
            ..
        } if g == game => Some((seq, play, by)),
        _ => None,
    }
}

/// Waits until `game`'s state, asked through `client`, shows both
/// players connected; fails after 10 s.
async fn until_both_connected(client: &Client, game: u64) {
    let start = std::time::Instant::now();
    loop {
        let seen = state_of(client, GameOp::Show { game }).await;
        if seen.connected == [true, true] {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not both connected: {:?}",
            seen.connected
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_game_hosted_on_one_node_is_played_and_watched_from_another() {
    let url = postgres_database();
    let (home_a, home_b) = (Home::new(), Home::new());
    let a = node(&home_a, &url);
    let b = node(&home_b, &url);
    rt().block_on(async {
        let (alice, alice_token) = register(&a, "alice").await;
        let (bob, _) = register(&b, "bob").await;
        let (carol, _) = register(&b, "carol").await;
        let mut bob_pushes = bob.pushes().await.unwrap();
        let mut carol_pushes = carol.pushes().await.unwrap();

        // alice, on A, challenges bob, on B: A hosts the game.
        let challenge = state_of(
            &alice,
            GameOp::Challenge {
                opponent: "bob".into(),
                kind: "tictactoe".into(),
                time: TimeControl {
                    initial_ms: 120_000,
                    increment_ms: 0,
                },
            },
        )
        .await;
        let id = challenge.id;
        let challenged = next(&mut bob_pushes, "challenge", |e| match e {
            GameEvent::Challenged { game } => Some(game),
            _ => None,
        })
        .await;
        assert_eq!(challenged.id, id);
        assert_eq!(challenged.players, ["alice", "bob"]);

        let accepted = state_of(&bob, GameOp::Accept { game: id }).await;
        assert_eq!(accepted.status, GameStatus::InProgress);
        let watched = state_of(&carol, GameOp::Watch { game: id }).await;
        assert_eq!((watched.id, watched.seq), (id, 0));

        // Not bob's turn: refused by the host, as the host says it.
        let refused = play(&bob, id, 0, "a1").await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(play(&alice, id, 0, "a1").await, Ok(1));
        for pushes in [&mut bob_pushes, &mut carol_pushes] {
            assert_eq!(
                next(pushes, "alice's move", moved(id)).await,
                (1, "a1".into(), "alice".into())
            );
        }
        assert_eq!(play(&bob, id, 1, "b2").await, Ok(2));
        assert_eq!(
            next(&mut carol_pushes, "bob's move", moved(id)).await,
            (2, "b2".into(), "bob".into())
        );

        // The host hears that bob, on B, is connected: his clock has no
        // grace period running.
        until_both_connected(&alice, id).await;

        // alice's terminal moves to B and picks the game up there: the
        // new connection opens before the old one closes, and the host
        // still counts her connected (through B) once A's is gone.
        let alice_on_b = b.client(Some(alice_token)).await;
        let mut alice_pushes = alice_on_b.pushes().await.unwrap();
        let shown = state_of(&alice_on_b, GameOp::Show { game: id }).await;
        drop(alice);
        let alice = alice_on_b;
        until_both_connected(&alice, id).await;
        assert_eq!(
            (shown.seq, shown.moves.clone()),
            (2, vec!["a1".into(), "b2".into()])
        );
        let listed = match alice.request(GameOp::List).await.unwrap() {
            Reply::Game(GameReply::Games { games }) => games,
            other => panic!("expected games, got {other:?}"),
        };
        assert!(listed.iter().any(|g| g.id == id), "{listed:?}");
        assert_eq!(play(&alice, id, 2, "a2").await, Ok(3));
        assert_eq!(play(&bob, id, 3, "c3").await, Ok(4));
        // Her own move comes first: she follows the game on B now.
        let seen = next(&mut alice_pushes, "bob's move on B", |e| {
            moved(id)(e).filter(|m| m.2 == "bob")
        })
        .await;
        assert_eq!(seen, (4, "c3".into(), "bob".into()));
        // A resent move (the position moved on) is refused, not replayed.
        assert!(play(&alice, id, 2, "a3").await.is_err());
        assert_eq!(play(&alice, id, 4, "a3").await, Ok(5), "three in a row");

        for (who, pushes) in [
            ("alice", &mut alice_pushes),
            ("bob", &mut bob_pushes),
            ("carol", &mut carol_pushes),
        ] {
            let end = next(pushes, "the end", |e| match e {
                GameEvent::Ended { state } if state.id == id => Some(state),
                _ => None,
            })
            .await;
            let result = end.result.expect("a result");
            assert_eq!(result.winner.as_deref(), Some("alice"), "seen by {who}");
        }
        let over = play(&bob, id, 5, "c1").await;
        assert_eq!(over, Err(ErrorCode::Conflict), "the game is over");
        let replayed = match carol.request(GameOp::Replay { game: id }).await.unwrap() {
            Reply::Game(GameReply::Replay { state, .. }) => state,
            other => panic!("expected a replay, got {other:?}"),
        };
        assert_eq!(replayed.moves, ["a1", "b2", "a2", "c3", "a3"]);
    });
}

#[test]
fn players_queued_on_different_nodes_are_paired_and_play() {
    let url = postgres_database();
    let (home_a, home_b) = (Home::new(), Home::new());
    let a = node(&home_a, &url);
    let b = node(&home_b, &url);
    rt().block_on(async {
        let (alice, _) = register(&a, "alice").await;
        let (bob, _) = register(&b, "bob").await;
        let mut alice_pushes = alice.pushes().await.unwrap();
        let mut bob_pushes = bob.pushes().await.unwrap();
        let queue = GameOp::Queue {
            kinds: vec!["tictactoe".into()],
            time: TimeControl {
                initial_ms: 60_000,
                increment_ms: 0,
            },
        };
        for client in [&alice, &bob] {
            let reply = client.request(queue.clone()).await.unwrap();
            assert!(
                matches!(reply, Reply::Game(GameReply::Queued { .. })),
                "{reply:?}"
            );
        }
        let started = |e| match e {
            GameEvent::Started { state } => Some(state),
            _ => None,
        };
        let for_alice = next(&mut alice_pushes, "alice's game", started).await;
        let for_bob = next(&mut bob_pushes, "bob's game", started).await;
        assert_eq!(for_alice.id, for_bob.id, "one game for both");
        let mut players = for_alice.players.clone();
        players.sort();
        assert_eq!(players, ["alice", "bob"]);
        // Whoever moves first does, from their own node; the other sees it.
        let id = for_alice.id;
        let (first, mut other_pushes) = if for_alice.players[0] == "alice" {
            (&alice, bob_pushes)
        } else {
            (&bob, alice_pushes)
        };
        assert_eq!(play(first, id, 0, "b2").await, Ok(1));
        assert_eq!(
            next(&mut other_pushes, "the first move", moved(id)).await.0,
            1
        );
        // Cancelled on one node, a player is no longer paired anywhere.
        let (carol, _) = register(&a, "carol").await;
        let (dave, _) = register(&b, "dave").await;
        carol.request(queue.clone()).await.unwrap();
        let cancelled = carol.request(GameOp::Cancel).await.unwrap();
        assert!(matches!(cancelled, Reply::Base(_)), "{cancelled:?}");
        let mut dave_pushes = dave.pushes().await.unwrap();
        dave.request(queue.clone()).await.unwrap();
        let nothing = tokio::time::timeout(
            Duration::from_millis(2_500),
            next(&mut dave_pushes, "", started),
        )
        .await;
        assert!(nothing.is_err(), "dave was paired with a cancelled player");
    });
}
