//! The Games tab's state and drawing: lobby, queue, a board with its
//! cursor, clocks counting down, the opponent's grace period, moves from
//! pushes, and a replay; snapshots at 80x24.

use std::time::{Duration, Instant};

use agora_wire::game::{
    EndReason, GameResult, GameState, GameStatus, GameSummary, RatingChange, RatingEntry,
    TimeControl,
};
use agora_wire::{Event, GameEvent, GameOp, GameReply, Op, Reply};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::*;

const BLITZ: TimeControl = TimeControl {
    initial_ms: 180_000,
    increment_ms: 2_000,
};

fn press(s: &mut GamesState, code: KeyCode) -> KeyOutcome {
    s.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ops(s: &mut GamesState) -> Vec<(u64, Op)> {
    s.take_outbox().into_iter().map(|o| (o.tag, o.op)).collect()
}

fn screen(s: &GamesState) -> String {
    let area = Rect::new(0, 0, 80, 24);
    let mut buf = Buffer::empty(area);
    s.render(area, &mut buf);
    (0..24)
        .map(|y| {
            let row: String = (0..80).map(|x| buf[(x, y)].symbol()).collect();
            row.trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn state(moves: &[&str], board: [&str; 3]) -> GameState {
    GameState {
        id: 7,
        kind: "tictactoe".into(),
        players: vec!["alice".into(), "bob".into()],
        time: BLITZ,
        status: GameStatus::InProgress,
        seq: moves.len() as u64,
        moves: moves.iter().map(|m| (*m).to_owned()).collect(),
        board: board.map(String::from).to_vec(),
        turn: Some(
            if moves.len().is_multiple_of(2) {
                "alice"
            } else {
                "bob"
            }
            .into(),
        ),
        legal: vec![],
        clocks_ms: vec![175_000, 178_500],
        connected: vec![true, true],
        deadlines_ms: vec![0, 0],
        spectators: 2,
        draw_offer: None,
        result: None,
        now_ms: 1_000_000,
    }
}

fn signed_in() -> (GamesState, Instant) {
    let mut s = GamesState::new(None);
    s.on_connected(Some("alice"));
    let t0 = Instant::now();
    s.on_tick(t0, true);
    (s, t0)
}

#[test]
fn the_lobby_asks_for_games_and_ratings_and_queues() {
    let (mut s, _) = signed_in();
    let sent = ops(&mut s);
    assert!(
        sent.iter()
            .any(|(_, op)| matches!(op, Op::Game(GameOp::List)))
    );
    assert!(
        sent.iter()
            .any(|(_, op)| matches!(op, Op::Game(GameOp::Leaderboard { .. })))
    );
    press(&mut s, KeyCode::Char('a'));
    let sent = ops(&mut s);
    let Op::Game(GameOp::Queue { kinds, time }) = &sent[0].1 else {
        panic!("{sent:?}")
    };
    assert_eq!(kinds, &["tictactoe", "connect4"]);
    assert_eq!(*time, BLITZ);
    assert!(screen(&s).contains("waiting for an opponent: tictactoe, connect4 · 3+2"));
    // Matched: the board opens by itself.
    s.on_push(Event::Game(GameEvent::Started {
        state: Box::new(state(&[], ["...", "...", "..."])),
    }));
    assert_eq!(s.screen(), Screen::Board);
}

#[test]
fn the_cursor_plays_its_cell_and_pushes_move_the_game() {
    let (mut s, t0) = signed_in();
    ops(&mut s);
    s.on_push(Event::Game(GameEvent::Started {
        state: Box::new(state(&[], ["...", "...", "..."])),
    }));
    // The cursor starts in the centre: b2. Right, Down: c1.
    press(&mut s, KeyCode::Right);
    press(&mut s, KeyCode::Down);
    assert_eq!(s.cursor_move().as_deref(), Some("c1"));
    press(&mut s, KeyCode::Enter);
    let sent = ops(&mut s);
    assert!(
        matches!(&sent[..], [(_, Op::Game(GameOp::Move { game: 7, seq: 0, play }))] if play == "c1"),
        "{sent:?}"
    );
    s.on_push(Event::Game(GameEvent::Moved {
        game: 7,
        seq: 1,
        play: "c1".into(),
        by: "alice".into(),
        board: vec!["...".into(), "...".into(), "..X".into()],
        clocks_ms: vec![177_000, 180_000],
        turn: "bob".into(),
        ts_ms: 1_003_000,
    }));
    assert_eq!(s.last_cell(), Some((2, 2)));
    // Bob's turn: Enter refuses, nothing is sent.
    press(&mut s, KeyCode::Enter);
    assert!(ops(&mut s).is_empty());
    // Bob's clock counts down between pushes.
    s.on_tick(t0 + Duration::from_millis(2_500), true);
    assert_eq!(s.clocks_now(), [177_000, 177_500]);
    // A stale push changes nothing.
    s.on_push(Event::Game(GameEvent::Moved {
        game: 7,
        seq: 1,
        play: "a1".into(),
        by: "alice".into(),
        board: vec![],
        clocks_ms: vec![],
        turn: "bob".into(),
        ts_ms: 0,
    }));
    assert_eq!(s.game().unwrap().moves, ["c1"]);
}

#[test]
fn snapshot_board_with_last_move_clocks_and_a_disconnected_opponent() {
    let (mut s, t0) = signed_in();
    ops(&mut s);
    let mut g = state(&["b2", "a1", "c3"], ["..X", ".X.", "O.."]);
    g.connected = vec![true, false];
    g.deadlines_ms = vec![0, 1_024_000];
    s.on_reply(
        99,
        Ok(Reply::Game(GameReply::State {
            state: Box::new(g.clone()),
        })),
    );
    // Not a reply to anything asked: ignored.
    assert_eq!(s.screen(), Screen::Lobby);
    s.on_push(Event::Game(GameEvent::Started { state: Box::new(g) }));
    s.on_tick(t0 + Duration::from_millis(4_000), true);
    let text = screen(&s);
    assert!(text.contains("disconnected: 20 s to come back"), "{text}");
    insta::assert_snapshot!("games_board", text);
}

#[test]
fn snapshot_lobby_and_a_finished_game_replayed() {
    let (mut s, _) = signed_in();
    let tags: Vec<u64> = ops(&mut s).into_iter().map(|(t, _)| t).collect();
    s.on_reply(
        tags[0],
        Ok(Reply::Game(GameReply::Games {
            games: vec![
                GameSummary {
                    id: 9,
                    kind: "connect4".into(),
                    players: vec!["carol".into(), "dave".into()],
                    time: BLITZ,
                    status: GameStatus::InProgress,
                    seq: 12,
                    spectators: 3,
                },
                GameSummary {
                    id: 8,
                    kind: "tictactoe".into(),
                    players: vec!["bob".into(), "alice".into()],
                    time: BLITZ,
                    status: GameStatus::Waiting,
                    seq: 0,
                    spectators: 0,
                },
            ],
        })),
    );
    s.on_reply(
        tags[1],
        Ok(Reply::Game(GameReply::Leaderboard {
            entries: vec![RatingEntry {
                user: "alice".into(),
                kind: "tictactoe".into(),
                rating: 1662,
                deviation: 290,
                played: 1,
                won: 1,
                lost: 0,
                drawn: 0,
            }],
        })),
    );
    insta::assert_snapshot!("games_lobby", screen(&s));
    // Accept the selected challenge (second line).
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Char('y'));
    let sent = ops(&mut s);
    assert!(
        matches!(&sent[..], [(_, Op::Game(GameOp::Accept { game: 8 }))]),
        "{sent:?}"
    );

    let mut g = state(&["a1", "b1", "a2", "b2", "a3"], ["X..", "XO.", "XO."]);
    g.status = GameStatus::Finished;
    g.turn = None;
    g.result = Some(GameResult {
        reason: EndReason::Win,
        winner: Some("alice".into()),
        ratings: vec![
            RatingChange {
                user: "alice".into(),
                before: 1500,
                after: 1662,
            },
            RatingChange {
                user: "bob".into(),
                before: 1500,
                after: 1338,
            },
        ],
    });
    s.on_reply(
        sent[0].0,
        Ok(Reply::Game(GameReply::State {
            state: Box::new(g.clone()),
        })),
    );
    assert_eq!(s.screen(), Screen::Board);
    press(&mut s, KeyCode::Char('p'));
    let sent = ops(&mut s);
    assert!(matches!(
        &sent[..],
        [(_, Op::Game(GameOp::Replay { game: 7 }))]
    ));
    let positions = vec![
        vec!["...".into(), "...".into(), "...".into()],
        vec!["...".into(), "...".into(), "X..".into()],
        vec!["...".into(), "...".into(), "XO.".into()],
    ];
    s.on_reply(
        sent[0].0,
        Ok(Reply::Game(GameReply::Replay {
            state: Box::new(g),
            positions,
        })),
    );
    assert_eq!(s.replay().unwrap().2, 2, "opens at the end");
    press(&mut s, KeyCode::Left);
    insta::assert_snapshot!("games_replay", screen(&s));
    press(&mut s, KeyCode::Home);
    assert_eq!(s.replay().unwrap().2, 0);
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.screen(), Screen::Board);
}

#[test]
fn spectators_cannot_move_and_the_challenge_prompt_types() {
    let (mut s, _) = signed_in();
    ops(&mut s);
    press(&mut s, KeyCode::Char('n'));
    assert!(s.types_text());
    for c in "bob c4".chars() {
        press(&mut s, KeyCode::Char(c));
    }
    press(&mut s, KeyCode::Enter);
    let sent = ops(&mut s);
    assert!(
        matches!(&sent[..], [(_, Op::Game(GameOp::Challenge { opponent, kind, .. }))] if opponent == "bob" && kind == "connect4"),
        "{sent:?}"
    );
    let mut g = state(&[], ["...", "...", "..."]);
    g.players = vec!["carol".into(), "dave".into()];
    g.turn = Some("carol".into());
    s.on_reply(
        sent[0].0,
        Ok(Reply::Game(GameReply::State { state: Box::new(g) })),
    );
    press(&mut s, KeyCode::Enter);
    assert!(ops(&mut s).is_empty());
    assert!(screen(&s).contains("spectators cannot move"));
}

#[test]
fn a_click_on_a_cell_plays_there_and_elsewhere_does_nothing() {
    let (mut s, _) = signed_in();
    ops(&mut s);
    let area = Rect::new(0, 0, 80, 24);
    s.on_resize(area);
    s.on_push(Event::Game(GameEvent::Started {
        state: Box::new(state(&["b2", "a1"], ["...", ".X.", "O.."])),
    }));
    // Where the cells are, read from the drawing: the column labels' line,
    // then a line per row, three cells per column.
    let drawn = screen(&s);
    let (y0, line) = drawn
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(" a  b  c"))
        .expect("the column labels");
    let xa = line.find(" a  b  c").unwrap() as u16 + 1;
    let click = |x: u16, y: usize| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y as u16,
        modifiers: KeyModifiers::NONE,
    };
    // The labels and a right click do nothing.
    assert_eq!(s.handle_mouse(click(xa, y0)), KeyOutcome::NotConsumed);
    let right = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Right),
        ..click(xa + 6, y0 + 1)
    };
    assert_eq!(s.handle_mouse(right), KeyOutcome::NotConsumed);
    assert!(ops(&mut s).is_empty());
    // The top right cell is c3.
    assert_eq!(s.handle_mouse(click(xa + 6, y0 + 1)), KeyOutcome::Consumed);
    let sent = ops(&mut s);
    assert!(
        matches!(&sent[..], [(_, Op::Game(GameOp::Move { game: 7, seq: 2, play }))] if play == "c3"),
        "{sent:?}"
    );
    assert_eq!(s.cursor_move().as_deref(), Some("c3"));
    // b1, clicked on its left edge.
    assert_eq!(s.handle_mouse(click(xa + 2, y0 + 3)), KeyOutcome::Consumed);
    assert_eq!(s.cursor_move().as_deref(), Some("b1"));
}
