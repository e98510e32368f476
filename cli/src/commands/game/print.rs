//! How games look on the command line: one JSON shape per thing, the same
//! in every command (docs/CLI.md), and one text form.
//!
//! - a game: `{id, kind, players, time, status, seq, moves, board, turn,
//!   legal, clocks_ms, connected, deadlines_ms, spectators, draw_offer,
//!   result, now_ms}` (`turn`, `draw_offer`, `result` are `null` when
//!   there is none);
//! - a listed game: `{id, kind, players, time, status, seq, spectators}`;
//! - a time control: `{initial_ms, increment_ms, label}`;
//! - a leaderboard entry: `{user, kind, rating, deviation, played, won,
//!   lost, drawn}`.

use std::fmt::Write as _;

use agora_wire::GameEvent;
use agora_wire::game::{GameResult, GameState, GameSummary, RatingEntry, TimeControl};
use serde_json::{Value, json};

/// A time control as JSON.
pub fn time(t: &TimeControl) -> Value {
    json!({
        "initial_ms": t.initial_ms,
        "increment_ms": t.increment_ms,
        "label": t.label(),
    })
}

fn result(r: &GameResult) -> Value {
    json!({
        "reason": r.reason.as_str(),
        "winner": r.winner,
        "ratings": r.ratings.iter().map(|c| json!({
            "user": c.user,
            "before": c.before,
            "after": c.after,
        })).collect::<Vec<_>>(),
    })
}

/// A game as JSON.
pub fn state(s: &GameState) -> Value {
    json!({
        "id": s.id,
        "kind": s.kind,
        "players": s.players,
        "time": time(&s.time),
        "status": s.status.as_str(),
        "seq": s.seq,
        "moves": s.moves,
        "board": s.board,
        "turn": s.turn,
        "legal": s.legal,
        "clocks_ms": s.clocks_ms,
        "connected": s.connected,
        "deadlines_ms": s.deadlines_ms,
        "spectators": s.spectators,
        "draw_offer": s.draw_offer,
        "result": s.result.as_ref().map(result),
        "now_ms": s.now_ms,
    })
}

/// A listed game as JSON.
pub fn summary(g: &GameSummary) -> Value {
    json!({
        "id": g.id,
        "kind": g.kind,
        "players": g.players,
        "time": time(&g.time),
        "status": g.status.as_str(),
        "seq": g.seq,
        "spectators": g.spectators,
    })
}

/// A leaderboard entry as JSON.
pub fn entry(e: &RatingEntry) -> Value {
    json!({
        "user": e.user,
        "kind": e.kind,
        "rating": e.rating,
        "deviation": e.deviation,
        "played": e.played,
        "won": e.won,
        "lost": e.lost,
        "drawn": e.drawn,
    })
}

/// A stream line (`agora game watch --json`) for an event, with its type.
pub fn event_line(e: &GameEvent) -> Value {
    match e {
        GameEvent::Challenged { game } => json!({"type": "challenged", "game": summary(game)}),
        GameEvent::Started { state: s } => json!({"type": "started", "state": state(s)}),
        GameEvent::Moved {
            game,
            seq,
            play,
            by,
            board,
            clocks_ms,
            turn,
            ts_ms,
        } => json!({
            "type": "moved",
            "game": game,
            "seq": seq,
            "move": play,
            "by": by,
            "board": board,
            "clocks_ms": clocks_ms,
            "turn": turn,
            "ts_ms": ts_ms,
        }),
        GameEvent::Ended { state: s } => json!({"type": "ended", "state": state(s)}),
        GameEvent::Presence {
            game,
            player,
            connected,
            deadline_ms,
        } => json!({
            "type": "presence",
            "game": game,
            "player": player,
            "connected": connected,
            "deadline_ms": deadline_ms,
        }),
        GameEvent::Spectators { game, count } => {
            json!({"type": "spectators", "game": game, "count": count})
        }
        GameEvent::DrawOffer { game, by } => json!({"type": "draw_offer", "game": game, "by": by}),
    }
}

/// The first stream line: the state on joining.
pub fn state_line(s: &GameState) -> Value {
    json!({"type": "state", "state": state(s)})
}

/// `m:ss` (or `h:mm:ss`).
pub fn clock(ms: u64) -> String {
    let secs = ms / 1000;
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else if secs < 10 {
        format!("{}:{:02}.{}", secs / 60, secs % 60, ms % 1000 / 100)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// A board with its coordinates: tic-tac-toe's rows 3-1 and columns a-c,
/// connect four's columns 1-7.
pub fn board(kind: &str, rows: &[String]) -> String {
    let mut out = String::new();
    let width = rows.first().map_or(0, |r| r.chars().count());
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row.chars().map(String::from).collect();
        if kind == "tictactoe" {
            let _ = writeln!(out, "{} {}", rows.len() - i, cells.join(" "));
        } else {
            let _ = writeln!(out, "  {}", cells.join(" "));
        }
    }
    let labels: Vec<String> = if kind == "tictactoe" {
        (0..width)
            .map(|c| ((b'a' + c as u8) as char).to_string())
            .collect()
    } else {
        (1..=width).map(|c| c.to_string()).collect()
    };
    let _ = writeln!(out, "  {}", labels.join(" "));
    out
}

fn status_text(s: &GameState) -> String {
    match &s.result {
        Some(r) => match &r.winner {
            Some(w) => format!("{w} won ({})", r.reason.as_str()),
            None => format!("over ({})", r.reason.as_str()),
        },
        None => s.status.as_str().replace('_', " "),
    }
}

/// A game as text: the header, the players with their clocks, the board,
/// the moves and the result.
pub fn state_text(s: &GameState) -> String {
    let mut out = format!(
        "game {} · {} {} · {} · move {}\n",
        s.id,
        s.kind,
        s.time.label(),
        status_text(s),
        s.seq
    );
    for (i, p) in s.players.iter().enumerate() {
        let mark = if i == 0 { 'X' } else { 'O' };
        let clock_text = s.clocks_ms.get(i).map(|ms| clock(*ms)).unwrap_or_default();
        let mut notes = Vec::new();
        if s.turn.as_deref() == Some(p.as_str()) {
            notes.push("to move".to_owned());
        }
        if s.connected.get(i) == Some(&false) {
            notes.push("disconnected".to_owned());
        }
        if s.draw_offer.as_deref() == Some(p.as_str()) {
            notes.push("offers a draw".to_owned());
        }
        let change = s
            .result
            .as_ref()
            .and_then(|r| r.ratings.iter().find(|c| &c.user == p))
            .map(|c| format!("  {} → {} ({:+})", c.before, c.after, c.after - c.before))
            .unwrap_or_default();
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join(", "))
        };
        let _ = writeln!(out, "  {mark} {p:<16} {clock_text:>8}{notes}{change}");
    }
    out.push_str(&board(&s.kind, &s.board));
    if !s.moves.is_empty() {
        let _ = writeln!(out, "moves: {}", s.moves.join(" "));
    }
    if s.spectators > 0 {
        let _ = writeln!(out, "{} watching", s.spectators);
    }
    out
}

/// A listed game as one line.
pub fn summary_text(g: &GameSummary) -> String {
    format!(
        "{:>6}  {:<10} {:<7} {:<12} {} vs {}  move {}{}",
        g.id,
        g.kind,
        g.time.label(),
        g.status.as_str(),
        g.players.first().map_or("", String::as_str),
        g.players.get(1).map_or("", String::as_str),
        g.seq,
        if g.spectators > 0 {
            format!("  {} watching", g.spectators)
        } else {
            String::new()
        }
    )
}

/// The leaderboard as aligned lines.
pub fn leaderboard_text(entries: &[RatingEntry]) -> String {
    let mut out = format!(
        "{:>4}  {:<16} {:<10} {:>6} {:>4} {:>6} {:>4} {:>4} {:>5}\n",
        "#", "user", "type", "rating", "rd", "played", "won", "lost", "drawn"
    );
    for (i, e) in entries.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>4}  {:<16} {:<10} {:>6} {:>4} {:>6} {:>4} {:>4} {:>5}",
            i + 1,
            e.user,
            e.kind,
            e.rating,
            e.deviation,
            e.played,
            e.won,
            e.lost,
            e.drawn
        );
    }
    out
}

/// An event as text, for `agora game watch`.
pub fn event_text(e: &GameEvent) -> Option<String> {
    Some(match e {
        GameEvent::Challenged { game } => format!("challenged: {}", summary_text(game)),
        GameEvent::Started { state: s } => state_text(s),
        GameEvent::Moved {
            seq,
            play,
            by,
            board: rows,
            clocks_ms,
            ..
        } => {
            let clocks: Vec<String> = clocks_ms.iter().map(|ms| clock(*ms)).collect();
            // The board's kind shows in its width: 3 is tic-tac-toe.
            let kind = if rows.first().is_some_and(|r| r.len() == 3) {
                "tictactoe"
            } else {
                "connect4"
            };
            format!(
                "{seq}. {by} {play}   [{}]\n{}",
                clocks.join(" | "),
                board(kind, rows)
            )
        }
        GameEvent::Ended { state: s } => state_text(s),
        GameEvent::Presence {
            player,
            connected,
            deadline_ms,
            ..
        } => {
            if *connected {
                format!("{player} is back")
            } else {
                let left = deadline_ms.saturating_sub(crate_now_ms());
                format!(
                    "{player} disconnected: {} s to come back before losing",
                    left.div_ceil(1000)
                )
            }
        }
        GameEvent::Spectators { count, .. } => format!("{count} watching"),
        GameEvent::DrawOffer { by, .. } => match by {
            Some(by) => format!("{by} offers a draw"),
            None => "no draw offer".to_owned(),
        },
    })
}

fn crate_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_like_lichess() {
        assert_eq!(clock(180_000), "3:00");
        assert_eq!(clock(65_400), "1:05");
        assert_eq!(clock(9_450), "0:09.4");
        assert_eq!(clock(3_725_000), "1:02:05");
    }

    #[test]
    fn boards_carry_their_coordinates() {
        let rows: Vec<String> = ["..O", ".X.", "X.."].map(String::from).to_vec();
        assert_eq!(
            board("tictactoe", &rows),
            "3 . . O\n2 . X .\n1 X . .\n  a b c\n"
        );
        let rows: Vec<String> = vec![".......".into(), "X......".into()];
        assert_eq!(
            board("connect4", &rows),
            "  . . . . . . .\n  X . . . . . .\n  1 2 3 4 5 6 7\n"
        );
    }
}
