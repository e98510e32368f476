//! The games repository's suite ([`super::GameStore`]), run once per
//! backend: SQLite's `Games` and PostgreSQL's `PgGames` must agree.

use super::*;
use crate::{Access, Storage};

crate::on_both_backends!(
    a_finished_game_keeps_its_moves_and_rates_both_players,
    unfinished_games_are_aborted_at_start_up,
    the_leaderboard_ranks_by_rating_per_kind,
);

fn new_game(status: &'static str) -> NewGame {
    NewGame {
        kind: "tictactoe".into(),
        first: "alice".into(),
        second: "bob".into(),
        initial_ms: 60_000,
        increment_ms: 0,
        status,
        created_at_ms: 1,
    }
}

fn create(db: &Storage, game: &NewGame) -> i64 {
    db.games(Access::Write, |g| g.create(game)).unwrap()
}

/// Ends game `id` won by the first player (score 1), +10/-10.
fn first_wins(db: &Storage, id: i64) -> Option<[(Rating, Rating); 2]> {
    let ending = Ending {
        id,
        reason: "win".into(),
        winner: Some("alice".into()),
        moves: vec!["a1".into(), "b1".into(), "a2".into()],
        score: Some(1.0),
        ended_at_ms: 9,
    };
    db.games(Access::Write, |g| {
        g.finish(&ending, &mut |a, b, s| {
            assert_eq!(s, 1.0);
            (
                Rating {
                    rating: a.rating + 10.0,
                    ..a
                },
                Rating {
                    rating: b.rating - 10.0,
                    ..b
                },
            )
        })
    })
    .unwrap()
}

fn a_finished_game_keeps_its_moves_and_rates_both_players(db: &Storage) {
    let id = create(db, &new_game("in_progress"));
    let changes = first_wins(db, id).unwrap();
    assert_eq!(changes[0].1.rating, 1510.0);
    let row = db.games(Access::Read, |g| g.find(id)).unwrap().unwrap();
    assert_eq!(row.moves, ["a1", "b1", "a2"]);
    assert_eq!(
        (row.status.as_str(), row.winner.as_deref()),
        ("finished", Some("alice"))
    );
    assert_eq!(row.ratings, Some([(1500.0, 1510.0), (1500.0, 1490.0)]));
    assert_eq!(row.ended_at_ms, Some(9));
    let board = db.games(Access::Read, |g| g.leaderboard(None, 10)).unwrap();
    assert_eq!(board.len(), 2);
    assert_eq!((board[0].user.as_str(), board[0].won), ("alice", 1));
    assert_eq!((board[1].user.as_str(), board[1].lost), ("bob", 1));
    // A second win starts from the first's ratings.
    let again = create(db, &new_game("in_progress"));
    let changes = first_wins(db, again).unwrap();
    assert_eq!((changes[0].0.rating, changes[0].1.rating), (1510.0, 1520.0));
    let alice = db
        .games(Access::Read, |g| g.rating("alice", "tictactoe"))
        .unwrap();
    assert_eq!(alice.rating, 1520.0);
    assert!(
        db.games(Access::Read, |g| g.find(again + 100))
            .unwrap()
            .is_none()
    );
}

fn unfinished_games_are_aborted_at_start_up(db: &Storage) {
    let waiting = create(db, &new_game("waiting"));
    let playing = create(db, &new_game("waiting"));
    db.games(Access::Write, |g| g.start(playing)).unwrap();
    let done = create(db, &new_game("in_progress"));
    first_wins(db, done);
    assert_eq!(
        db.games(Access::Write, |g| g.abort_unfinished(5)).unwrap(),
        2
    );
    for id in [waiting, playing] {
        let row = db.games(Access::Read, |g| g.find(id)).unwrap().unwrap();
        assert_eq!(
            (row.status.as_str(), row.reason.as_deref()),
            ("finished", Some("aborted"))
        );
        assert!(row.ratings.is_none());
    }
    let row = db.games(Access::Read, |g| g.find(done)).unwrap().unwrap();
    assert_eq!(row.reason.as_deref(), Some("win"));
}

fn the_leaderboard_ranks_by_rating_per_kind(db: &Storage) {
    let id = create(db, &new_game("in_progress"));
    first_wins(db, id);
    let mut other = new_game("in_progress");
    other.kind = "connect4".into();
    other.first = "carol".into();
    let id = create(db, &other);
    first_wins(db, id);
    let board = db
        .games(Access::Read, |g| g.leaderboard(Some("connect4"), 10))
        .unwrap();
    let names: Vec<&str> = board.iter().map(|r| r.user.as_str()).collect();
    assert_eq!(names, ["carol", "bob"]);
    let top = db.games(Access::Read, |g| g.leaderboard(None, 2)).unwrap();
    assert_eq!(top.len(), 2);
    assert!(top.iter().all(|r| r.rating.rating == 1510.0), "{top:?}");
    assert_eq!(
        db.games(Access::Read, |g| g.rating("nobody", "connect4"))
            .unwrap(),
        Rating::default()
    );
}
