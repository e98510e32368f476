//! The state machine with explicit times: every transition, clocks,
//! increments, flags, grace periods and stale moves, without a sleep.

use agora_wire::ErrorCode;
use agora_wire::game::{EndReason, GameStatus, TimeControl};

use super::{Match, Settings};
use crate::game::new_game;
use crate::game::rules::Viewer;

const T0: u64 = 1_000_000;

fn time(initial_ms: u64, increment_ms: u64) -> TimeControl {
    TimeControl {
        initial_ms,
        increment_ms,
    }
}

fn ttt(initial_ms: u64, increment_ms: u64) -> Match {
    Match::started(
        7,
        ["alice".into(), "bob".into()],
        new_game("tictactoe").unwrap(),
        time(initial_ms, increment_ms),
        Settings::default(),
        T0,
    )
}

#[test]
fn a_game_is_won_on_the_board() {
    let mut m = ttt(60_000, 0);
    for (i, (who, mv)) in [
        ("alice", "a1"),
        ("bob", "b1"),
        ("alice", "a2"),
        ("bob", "b2"),
    ]
    .into_iter()
    .enumerate()
    {
        let played = m.play(who, i as u64, mv, T0 + 10).unwrap();
        assert_eq!(played.seq, i as u64 + 1);
        assert!(!played.ended);
    }
    let last = m.play("alice", 4, "a3", T0 + 20).unwrap();
    assert!(last.ended);
    assert_eq!(m.status(), GameStatus::Finished);
    assert_eq!(m.end(), Some((EndReason::Win, Some(0))));
    assert_eq!(m.first_score(), Some(1.0));
    let state = m.state(Viewer::Spectator, T0 + 30);
    assert_eq!(state.moves, ["a1", "b1", "a2", "b2", "a3"]);
    assert_eq!(state.result.unwrap().winner.as_deref(), Some("alice"));
    assert!(state.legal.is_empty());
    assert_eq!(state.turn, None);
    // Nothing more is accepted.
    let e = m.play("bob", 5, "c3", T0 + 40).unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
}

#[test]
fn out_of_turn_illegal_stale_and_foreign_moves_change_nothing() {
    let mut m = ttt(60_000, 0);
    m.play("alice", 0, "b2", T0).unwrap();
    let before = m.state(Viewer::Spectator, T0);
    let cases = [
        ("alice", 1, "a1", ErrorCode::Conflict, "not your turn"),
        ("bob", 1, "b2", ErrorCode::BadRequest, "taken"),
        ("bob", 1, "z9", ErrorCode::BadRequest, "not a cell"),
        ("bob", 0, "b2", ErrorCode::Conflict, "stale move"),
        ("bob", 0, "a1", ErrorCode::Conflict, "stale move"),
        ("bob", 5, "a1", ErrorCode::BadRequest, "ahead"),
        ("carol", 1, "a1", ErrorCode::Forbidden, "not playing"),
    ];
    for (who, seq, mv, code, text) in cases {
        let e = m.play(who, seq, mv, T0).unwrap_err();
        assert_eq!(e.code, code, "{who} {seq} {mv}");
        assert!(e.message.contains(text), "{}", e.message);
    }
    assert_eq!(m.state(Viewer::Spectator, T0), before);
    // The duplicate of the move just played is refused, not played twice.
    m.play("bob", 1, "a1", T0).unwrap();
    let e = m.play("bob", 1, "a1", T0).unwrap_err();
    assert!(e.message.contains("stale"));
    assert_eq!(m.moves(), ["b2", "a1"]);
}

#[test]
fn clocks_run_for_the_player_to_move_and_gain_the_increment() {
    let mut m = ttt(10_000, 2_000);
    assert_eq!(m.clocks(T0 + 3_000), [7_000, 10_000]);
    m.play("alice", 0, "a1", T0 + 3_000).unwrap();
    // Alice: 10 - 3 + 2 = 9 s; now Bob's clock runs.
    assert_eq!(m.clocks(T0 + 3_000), [9_000, 10_000]);
    assert_eq!(m.clocks(T0 + 4_500), [9_000, 8_500]);
    m.play("bob", 1, "b1", T0 + 4_500).unwrap();
    assert_eq!(m.clocks(T0 + 4_500), [9_000, 10_500]);
    assert_eq!(m.next_deadline(), Some(T0 + 4_500 + 9_000));
}

#[test]
fn a_flag_loses_on_time_and_a_late_move_is_refused() {
    let mut m = ttt(5_000, 0);
    m.play("alice", 0, "a1", T0 + 1_000).unwrap();
    assert!(!m.tick(T0 + 5_999));
    assert_eq!(m.next_deadline(), Some(T0 + 6_000));
    // Bob's move arrives a millisecond late.
    let e = m.play("bob", 1, "b1", T0 + 6_000).unwrap_err();
    assert!(e.message.contains("over"), "{}", e.message);
    assert_eq!(m.end(), Some((EndReason::Timeout, Some(0))));
    assert_eq!(m.clocks(T0 + 9_000), [4_000, 0]);
    assert_eq!(m.first_score(), Some(1.0));
}

#[test]
fn the_flag_falls_by_itself_on_tick() {
    let mut m = ttt(5_000, 0);
    assert!(m.tick(T0 + 5_000));
    assert_eq!(m.end(), Some((EndReason::Timeout, Some(1))));
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn reconnecting_inside_the_grace_period_keeps_the_game() {
    let mut m = ttt(600_000, 0);
    m.play("alice", 0, "a1", T0).unwrap();
    m.play("bob", 1, "b1", T0).unwrap();
    assert!(m.set_connected("bob", false, T0 + 100));
    assert!(!m.set_connected("bob", false, T0 + 200), "no change");
    assert_eq!(m.deadline_of("bob"), T0 + 30_100);
    assert_eq!(m.next_deadline(), Some(T0 + 30_100));
    let s = m.state(Viewer::Player(0), T0 + 200);
    assert_eq!(s.connected, [true, false]);
    assert_eq!(s.deadlines_ms, [0, T0 + 30_100]);
    assert!(!m.tick(T0 + 30_099));
    assert!(m.set_connected("bob", true, T0 + 30_099));
    assert!(!m.tick(T0 + 100_000));
    assert_eq!(m.status(), GameStatus::InProgress);
    assert_eq!(m.deadline_of("bob"), 0);
}

#[test]
fn staying_away_past_the_grace_period_loses_by_abandonment() {
    let mut m = ttt(600_000, 0);
    m.play("alice", 0, "a1", T0).unwrap();
    m.play("bob", 1, "b1", T0).unwrap();
    m.set_connected("alice", false, T0 + 1_000);
    assert!(m.tick(T0 + 31_000));
    assert_eq!(m.end(), Some((EndReason::Abandoned, Some(1))));
    assert_eq!(m.first_score(), Some(0.0));
    // Coming back afterwards changes nothing.
    assert!(!m.set_connected("alice", true, T0 + 32_000));
}

#[test]
fn leaving_before_the_first_move_aborts_unrated() {
    let mut m = ttt(600_000, 0);
    m.play("alice", 0, "a1", T0).unwrap();
    m.set_connected("bob", false, T0);
    assert!(m.tick(T0 + 30_000));
    assert_eq!(m.end(), Some((EndReason::Aborted, None)));
    assert_eq!(m.first_score(), None);
}

#[test]
fn a_challenge_is_accepted_declined_or_expires() {
    let new = || {
        Match::challenge(
            3,
            ["bob".into(), "alice".into()],
            1,
            new_game("connect4").unwrap(),
            time(60_000, 0),
            Settings::default(),
            T0,
        )
    };
    let mut m = new();
    assert_eq!(m.status(), GameStatus::Waiting);
    assert!(
        m.play("bob", 0, "4", T0)
            .unwrap_err()
            .message
            .contains("not started")
    );
    assert_eq!(
        m.accept("alice", T0).unwrap_err().code,
        ErrorCode::Forbidden
    );
    assert_eq!(
        m.accept("carol", T0).unwrap_err().code,
        ErrorCode::Forbidden
    );
    m.accept("bob", T0 + 5_000).unwrap();
    assert_eq!(m.status(), GameStatus::InProgress);
    // The clock starts at the acceptance.
    assert_eq!(m.clocks(T0 + 6_000), [59_000, 60_000]);
    assert_eq!(m.accept("bob", T0).unwrap_err().code, ErrorCode::Conflict);

    let mut m = new();
    m.decline("alice").unwrap();
    assert_eq!(m.end(), Some((EndReason::Aborted, None)));

    let mut m = new();
    assert!(!m.tick(T0 + 59_999));
    assert!(m.tick(T0 + 60_000));
    assert_eq!(m.end(), Some((EndReason::Aborted, None)));
}

#[test]
fn resign_and_draws_by_agreement() {
    let mut m = ttt(60_000, 0);
    m.resign("bob", T0).unwrap();
    assert_eq!(m.end(), Some((EndReason::Resign, Some(0))));
    assert!(m.resign("alice", T0).is_err());

    let mut m = ttt(60_000, 0);
    assert!(m.draw("alice", true, T0).unwrap());
    assert_eq!(
        m.state(Viewer::Spectator, T0).draw_offer.as_deref(),
        Some("alice")
    );
    assert!(
        !m.draw("alice", true, T0).unwrap(),
        "offering twice changes nothing"
    );
    assert!(m.draw("bob", false, T0).unwrap(), "declined");
    assert_eq!(m.state(Viewer::Spectator, T0).draw_offer, None);
    m.draw("bob", true, T0).unwrap();
    // A move declines the pending offer.
    m.play("alice", 0, "a1", T0).unwrap();
    assert_eq!(m.state(Viewer::Spectator, T0).draw_offer, None);
    m.draw("alice", true, T0).unwrap();
    assert!(m.draw("bob", true, T0).unwrap());
    assert_eq!(m.end(), Some((EndReason::Draw, None)));
    assert_eq!(m.first_score(), Some(0.5));
    assert_eq!(
        m.draw("carol", true, T0).unwrap_err().code,
        ErrorCode::Forbidden
    );
}

#[test]
fn players_and_spectators_see_the_same_state() {
    let mut m = ttt(60_000, 0);
    m.play("alice", 0, "b2", T0).unwrap();
    m.set_spectators(3);
    let spectator = m.state(Viewer::Spectator, T0 + 5);
    for seat in 0..2 {
        assert_eq!(m.state(Viewer::Player(seat), T0 + 5), spectator);
    }
    assert_eq!(spectator.spectators, 3);
    assert_eq!(spectator.board, ["...", ".X.", "..."]);
    assert_eq!(spectator.legal.len(), 8);
    assert_eq!(spectator.turn.as_deref(), Some("bob"));
}
