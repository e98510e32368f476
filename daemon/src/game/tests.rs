//! The game service with its real tasks, hub and an SQLite database:
//! challenges, whole games with a spectator, matchmaking, flags and the
//! grace period under tokio's paused clock (no sleeps).

use std::sync::Arc;
use std::time::Duration;

use agora_wire::game::{EndReason, GameState, GameStatus, TimeControl};
use agora_wire::{
    BaseReply, ErrorBody, ErrorCode, Event, GameEvent, GameOp, GameReply, Reply, ServerFrame,
    UserInfo,
};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{Games, Settings};
use crate::hub::Hub;
use crate::service::{Lifecycle as _, Routed, Service as _};
use crate::session::{PushLimits, Session};

const LONG: TimeControl = TimeControl {
    initial_ms: 600_000,
    increment_ms: 0,
};

struct Peer {
    session: Arc<Session>,
    rx: mpsc::UnboundedReceiver<Bytes>,
}

impl Peer {
    /// The game events pushed so far.
    fn events(&mut self) -> Vec<GameEvent> {
        let mut out = Vec::new();
        while let Ok(bytes) = self.rx.try_recv() {
            self.session.dequeued(bytes.len());
            if let Ok(ServerFrame::Push(push)) = agora_wire::decode::<ServerFrame>(&bytes)
                && let Event::Game(e) = push.event
            {
                out.push(e);
            }
        }
        out
    }
}

struct World {
    games: Games,
    _dir: tempfile::TempDir,
    next: u64,
}

impl World {
    fn new(settings: Settings) -> World {
        let dir = tempfile::tempdir().unwrap();
        let db = agora_db::Db::open(&dir.path().join("agora.db")).unwrap();
        for name in ["alice", "bob", "carol"] {
            db.write(|c| agora_db::users::Users::new(c).create(name, "x"))
                .unwrap();
        }
        let storage = agora_db::Storage::Sqlite(db);
        let games = Games::open(storage, Arc::new(Hub::default()), settings).unwrap();
        World {
            games,
            _dir: dir,
            next: 1,
        }
    }

    /// A signed-in session of `name`.
    async fn connect(&mut self, name: &str) -> Peer {
        let (tx, rx) = mpsc::unbounded_channel();
        let session = Arc::new(Session::new(
            self.next,
            "test".into(),
            tx,
            PushLimits::default(),
        ));
        self.next += 1;
        session.set_user(UserInfo {
            id: 0,
            name: name.into(),
        });
        self.games.signed_in(&session).await;
        Peer { session, rx }
    }

    async fn call(&self, peer: &Peer, op: GameOp) -> Result<GameReply, ErrorBody> {
        let reply = match self.games.route(op, &peer.session) {
            Routed::Done(r) => r,
            Routed::Later(f) => f.await,
        }?;
        match reply {
            Reply::Game(r) => Ok(r),
            Reply::Base(BaseReply::Done) => Ok(GameReply::Games { games: vec![] }),
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn state(&self, peer: &Peer, op: GameOp) -> GameState {
        match self.call(peer, op).await.unwrap() {
            GameReply::State { state } => *state,
            other => panic!("not a state: {other:?}"),
        }
    }

    /// Alice challenges Bob and Bob accepts: (state, alice, bob).
    async fn started(&mut self, time: TimeControl) -> (GameState, Peer, Peer) {
        let alice = self.connect("alice").await;
        let mut bob = self.connect("bob").await;
        let waiting = self
            .state(
                &alice,
                GameOp::Challenge {
                    opponent: "bob".into(),
                    kind: "tictactoe".into(),
                    time,
                },
            )
            .await;
        assert_eq!(waiting.status, GameStatus::Waiting);
        assert!(matches!(bob.events()[..], [GameEvent::Challenged { .. }]));
        let state = self.state(&bob, GameOp::Accept { game: waiting.id }).await;
        assert_eq!(state.status, GameStatus::InProgress);
        (state, alice, bob)
    }
}

fn mover<'a>(state: &GameState, alice: &'a Peer, bob: &'a Peer, seq: usize) -> &'a Peer {
    if state.players[seq % 2] == "alice" {
        alice
    } else {
        bob
    }
}

#[tokio::test]
async fn two_players_finish_a_game_a_spectator_sees_all_and_ratings_change() {
    let mut w = World::new(Settings::default());
    let (state, mut alice, mut bob) = w.started(LONG).await;
    let id = state.id;
    let mut carol = w.connect("carol").await;
    let watched = w.state(&carol, GameOp::Watch { game: id }).await;
    assert_eq!(watched.spectators, 1);
    assert_eq!(watched.seq, 0);
    assert_eq!(
        state.players,
        ["alice", "bob"],
        "the challenger moves first"
    );
    // From here on, players and the spectator hear the same.
    alice.events();
    bob.events();
    carol.events();
    // The first player wins along the left column.
    let moves = ["a1", "b1", "a2", "b2", "a3"];
    for (seq, mv) in moves.iter().enumerate() {
        let who = mover(&state, &alice, &bob, seq);
        let reply = w
            .call(
                who,
                GameOp::Move {
                    game: id,
                    seq: seq as u64,
                    play: (*mv).into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            reply,
            GameReply::Moved {
                game: id,
                seq: seq as u64 + 1
            }
        );
    }
    // A resent last move is refused: the game is over and stored.
    let late = w
        .call(
            &alice,
            GameOp::Move {
                game: id,
                seq: 4,
                play: "a3".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(late.code, ErrorCode::Conflict);
    let seen = carol.events();
    let moved: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            GameEvent::Moved { play, seq, .. } => Some((*seq, play.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        moved,
        (1..=5).zip(moves.map(String::from)).collect::<Vec<_>>()
    );
    let ended = seen.iter().find_map(|e| match e {
        GameEvent::Ended { state } => Some((**state).clone()),
        _ => None,
    });
    let ended = ended.expect("the spectator saw the end");
    let result = ended.result.clone().unwrap();
    assert_eq!(result.reason, EndReason::Win);
    assert_eq!(result.winner.as_deref(), Some(state.players[0].as_str()));
    assert_eq!(result.ratings.len(), 2);
    assert!(result.ratings[0].after > result.ratings[0].before);
    // The players saw the same events as the spectator, spectator counts
    // aside.
    let strip = |v: Vec<GameEvent>| -> Vec<GameEvent> {
        v.into_iter()
            .filter(|e| !matches!(e, GameEvent::Spectators { .. }))
            .collect()
    };
    let a = strip(alice.events());
    assert_eq!(a, strip(seen.clone()));
    assert_eq!(strip(bob.events()), a);
    // Stored: show, replay, leaderboard.
    let shown = w.state(&carol, GameOp::Show { game: id }).await;
    assert_eq!(shown.moves, moves);
    assert_eq!(shown.result.unwrap().ratings, result.ratings);
    let GameReply::Replay { positions, .. } =
        w.call(&carol, GameOp::Replay { game: id }).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(positions.len(), 6);
    assert_eq!(positions[0], ["...", "...", "..."]);
    assert_eq!(positions[5], ended.board);
    let GameReply::Leaderboard { entries } = w
        .call(
            &carol,
            GameOp::Leaderboard {
                kind: Some("tictactoe".into()),
                limit: None,
            },
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].user, state.players[0]);
    assert_eq!((entries[0].won, entries[1].lost), (1, 1));
}

#[tokio::test]
async fn spectators_cannot_act_and_unknown_games_are_not_found() {
    let mut w = World::new(Settings::default());
    let (state, _alice, _bob) = w.started(LONG).await;
    let carol = w.connect("carol").await;
    let e = w
        .call(
            &carol,
            GameOp::Move {
                game: state.id,
                seq: 0,
                play: "a1".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    let e = w
        .call(&carol, GameOp::Resign { game: state.id })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    let e = w
        .call(&carol, GameOp::Show { game: 999 })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = w
        .call(
            &carol,
            GameOp::Challenge {
                opponent: "carol".into(),
                kind: "tictactoe".into(),
                time: LONG,
            },
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("yourself"));
    let e = w
        .call(
            &carol,
            GameOp::Challenge {
                opponent: "dave".into(),
                kind: "tictactoe".into(),
                time: LONG,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = w
        .call(
            &carol,
            GameOp::Queue {
                kinds: vec!["chess".into()],
                time: LONG,
            },
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("unknown game type"));
}

#[tokio::test]
async fn the_queue_pairs_two_users_and_never_one_with_themselves() {
    let mut w = World::new(Settings::default());
    let mut alice = w.connect("alice").await;
    let alice2 = w.connect("alice").await;
    let queue = GameOp::Queue {
        kinds: vec!["connect4".into(), "tictactoe".into()],
        time: LONG,
    };
    w.call(&alice, queue.clone()).await.unwrap();
    w.call(&alice2, queue).await.unwrap();
    tokio::task::yield_now().await;
    assert!(alice.events().is_empty(), "not paired with herself");
    let mut bob = w.connect("bob").await;
    w.call(
        &bob,
        GameOp::Queue {
            kinds: vec!["connect4".into()],
            time: LONG,
        },
    )
    .await
    .unwrap();
    let started = loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if let Some(GameEvent::Started { state }) = bob.events().into_iter().next() {
            break *state;
        }
    };
    assert_eq!(started.kind, "connect4");
    let mut players = started.players.clone();
    players.sort();
    assert_eq!(players, ["alice", "bob"]);
    assert!(matches!(alice.events()[..], [GameEvent::Started { .. }]));
    let GameReply::Games { games } = w.call(&bob, GameOp::List).await.unwrap() else {
        panic!()
    };
    assert_eq!(games.len(), 1);
    assert_eq!(games[0].id, started.id);
}

#[tokio::test(start_paused = true)]
async fn a_flag_falls_by_itself() {
    let mut w = World::new(Settings::default());
    let time = TimeControl {
        initial_ms: 5_000,
        increment_ms: 0,
    };
    let (state, mut alice, _bob) = w.started(time).await;
    alice.events();
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    // The end is stored (on the blocking pool) before it is announced.
    let ended = loop {
        let found = alice.events().into_iter().find_map(|e| match e {
            GameEvent::Ended { state } => Some(*state),
            _ => None,
        });
        if let Some(s) = found {
            break s;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let result = ended.result.unwrap();
    assert_eq!(result.reason, EndReason::Timeout);
    assert_eq!(result.winner.as_deref(), Some(state.players[1].as_str()));
    assert_eq!(ended.clocks_ms[0], 0);
}

#[tokio::test(start_paused = true)]
async fn reconnecting_inside_the_grace_period_resumes_and_staying_away_loses() {
    let mut w = World::new(Settings {
        grace_ms: 30_000,
        challenge_ms: 60_000,
    });
    let (state, alice, mut bob) = w.started(LONG).await;
    let id = state.id;
    // Both play a move, so leaving is a loss, not an abort.
    for seq in 0..2 {
        let who = mover(&state, &alice, &bob, seq);
        let play = ["a1", "b1"][seq].to_owned();
        w.call(
            who,
            GameOp::Move {
                game: id,
                seq: seq as u64,
                play,
            },
        )
        .await
        .unwrap();
    }
    bob.events();
    w.games.closed(&alice.session);
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    let presence = bob.events();
    assert!(
        matches!(&presence[..], [GameEvent::Presence { connected: false, deadline_ms, .. }] if *deadline_ms > 0),
        "{presence:?}"
    );
    tokio::time::sleep(Duration::from_secs(29)).await;
    // Back, on a new connection: the same game, resumed.
    let alice = w.connect("alice").await;
    let resumed = w.state(&alice, GameOp::Show { game: id }).await;
    assert_eq!(resumed.status, GameStatus::InProgress);
    assert_eq!(resumed.seq, 2);
    assert!(resumed.connected.iter().all(|c| *c));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        w.state(&alice, GameOp::Show { game: id }).await.status,
        GameStatus::InProgress
    );
    // Away again, for good this time.
    bob.events();
    w.games.closed(&alice.session);
    tokio::time::sleep(Duration::from_secs(31)).await;
    let ended = loop {
        let found = bob.events().into_iter().find_map(|e| match e {
            GameEvent::Ended { state } => Some(*state),
            _ => None,
        });
        if let Some(s) = found {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let result = ended.result.unwrap();
    assert_eq!(result.reason, EndReason::Abandoned);
    assert_eq!(result.winner.as_deref(), Some("bob"));
}

#[test]
fn every_listed_kind_has_rules() {
    for kind in agora_wire::game::KINDS {
        assert_eq!(super::new_game(kind).unwrap().kind(), *kind);
    }
    assert!(super::new_game("chess").is_none());
    assert!(super::unknown_kind("chess").contains("tictactoe, connect4"));
}
