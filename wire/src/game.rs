//! The game service: real-time turn-based games between two users —
//! matchmaking, challenges, moves with clocks, spectators, ratings and
//! replays. Its operations ([`GameOp`]), replies ([`GameReply`]), events
//! ([`GameEvent`]) and the data they carry. Every wire name starts with
//! `game_`.
//!
//! The daemon is authoritative: a client sends moves in the game's own
//! notation (tic-tac-toe `a1`..`c3`, connect four a column `1`..`7`) and
//! the daemon checks, applies and announces them. Boards are sent as rows
//! of characters, so a client draws any game without knowing its rules.

use serde::{Deserialize, Serialize};

use crate::macros::nil_as_default;

/// The topic of one game's events: `game.ID`. Both players' sessions are
/// subscribed by the daemon; spectators by `game_watch`.
pub fn game_topic(game: u64) -> String {
    format!("game.{game}")
}

/// The topic of a user's game invitations: `game.user.NAME` (every
/// signed-in session of the user is subscribed).
pub fn user_topic(user: &str) -> String {
    format!("game.user.{user}")
}

/// The game types the daemon knows, by wire name.
pub const KINDS: &[&str] = &["tictactoe", "connect4"];

/// The most entries one `game_leaderboard` returns.
pub const MAX_LEADERBOARD: u32 = 500;

crate::messages! {
    /// Game operations. Every one needs a signed-in connection.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum GameOp {
        /// Wait for an opponent in the pools of one or more game types with
        /// one time control; the first pairing starts a game (announced by
        /// [`GameEvent::Started`] on its topic) and takes the user out of
        /// every pool. Queueing again replaces the earlier entry. Answered
        /// with [`GameReply::Queued`].
        Queue {
            /// Game types (see [`KINDS`]), at least one.
            kinds: Vec<String>,
            /// The time control.
            time: TimeControl,
        } = "game_queue",
        /// Leave every pool. Answered with [`crate::BaseReply::Done`].
        Cancel = "game_cancel",
        /// Challenge a named user: a game waiting for their
        /// [`GameOp::Accept`] (or decline, or expiry). Answered with
        /// [`GameReply::State`].
        Challenge {
            /// Who is challenged.
            opponent: String,
            /// The game type.
            kind: String,
            /// The time control.
            time: TimeControl,
        } = "game_challenge",
        /// Accept a challenge: the game starts. Answered with
        /// [`GameReply::State`].
        Accept {
            /// The game's id.
            game: u64,
        } = "game_accept",
        /// Decline a challenge (or withdraw your own): the game is
        /// aborted. Answered with [`GameReply::State`].
        Decline {
            /// The game's id.
            game: u64,
        } = "game_decline",
        /// Play a move. Answered with [`GameReply::Moved`] once applied.
        Move {
            /// The game's id.
            game: u64,
            /// How many moves the game had when this one was chosen (the
            /// state's `seq`): a move made against an older position is
            /// refused, so a resent move is never played twice.
            seq: u64,
            /// The move, in the game's notation.
            play: String,
        } = "game_move",
        /// Resign. Answered with [`GameReply::State`] (the final state).
        Resign {
            /// The game's id.
            game: u64,
        } = "game_resign",
        /// Offer a draw, or accept the opponent's offer (`offer: true`);
        /// decline or withdraw one (`offer: false`). Answered with
        /// [`GameReply::State`].
        Draw {
            /// The game's id.
            game: u64,
            /// Offer/accept, or decline/withdraw.
            #[serde(default, deserialize_with = "nil_as_default")]
            offer: bool,
        } = "game_draw",
        /// Watch a game: the session is subscribed to its topic, and the
        /// answer is the full state. Answered with [`GameReply::State`].
        Watch {
            /// The game's id.
            game: u64,
        } = "game_watch",
        /// Stop watching. Answered with [`crate::BaseReply::Done`].
        Unwatch {
            /// The game's id.
            game: u64,
        } = "game_unwatch",
        /// A game's state, live or finished. Answered with
        /// [`GameReply::State`].
        Show {
            /// The game's id.
            game: u64,
        } = "game_show",
        /// Live games (in progress), and challenges to or from the asking
        /// user. Answered with [`GameReply::Games`].
        List = "game_list",
        /// Ratings, best first, of one game type or of all. Answered with
        /// [`GameReply::Leaderboard`].
        Leaderboard {
            /// Only this game type.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            kind: Option<String>,
            /// At most this many (default 20, at most [`MAX_LEADERBOARD`]).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            limit: Option<u32>,
        } = "game_leaderboard",
        /// A finished game, position by position. Answered with
        /// [`GameReply::Replay`].
        Replay {
            /// The game's id.
            game: u64,
        } = "game_replay",
    }
}

crate::messages! {
    /// Answers of the game service.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum GameReply {
        /// Answer to [`GameOp::Queue`]: waiting in these pools.
        Queued {
            /// The game types.
            kinds: Vec<String>,
            /// The time control.
            time: TimeControl,
        } = "game_queued",
        /// A game's full state.
        State {
            /// The state (boxed: it is the largest message by far).
            state: Box<GameState>,
        } = "game_state",
        /// Answer to [`GameOp::Move`]: applied.
        Moved {
            /// The game.
            game: u64,
            /// The game's `seq` after the move.
            seq: u64,
        } = "game_moved",
        /// Answer to [`GameOp::List`].
        Games {
            /// The games, newest first.
            games: Vec<GameSummary>,
        } = "game_games",
        /// Answer to [`GameOp::Leaderboard`].
        Leaderboard {
            /// The entries, best rating first.
            entries: Vec<RatingEntry>,
        } = "game_leaderboard",
        /// Answer to [`GameOp::Replay`].
        Replay {
            /// The final state.
            state: Box<GameState>,
            /// The board before any move, then after each move.
            positions: Vec<Vec<String>>,
        } = "game_replay",
    }
}

crate::messages! {
    /// Events of the game service, on `game.ID` ([`game_topic`]) and
    /// `game.user.NAME` ([`user_topic`]). Events of one game carry the
    /// game's `seq` where it changes, so a client that fetched the state
    /// skips what it already has.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum GameEvent {
        /// On `game.user.NAME`: NAME was challenged.
        Challenged {
            /// The waiting game.
            game: GameSummary,
        } = "game_challenged",
        /// On `game.ID`: the game started (both players' sessions are
        /// subscribed to its topic first).
        Started {
            /// The full state.
            state: Box<GameState>,
        } = "game_started",
        /// On `game.ID`: a move was played.
        Moved {
            /// The game.
            game: u64,
            /// The game's `seq` after the move.
            seq: u64,
            /// The move, in the game's notation.
            play: String,
            /// Who played it.
            by: String,
            /// The board after it.
            board: Vec<String>,
            /// Each player's remaining time now, in player order.
            clocks_ms: Vec<u64>,
            /// Who moves next; empty when the move ended the game
            /// ([`GameEvent::Ended`] follows once it is stored).
            turn: String,
            /// Server time of the move, ms since the epoch.
            ts_ms: u64,
        } = "game_moved",
        /// On `game.ID`: the game ended.
        Ended {
            /// The final state (with its result).
            state: Box<GameState>,
        } = "game_ended",
        /// On `game.ID`: a player's last connection closed, or one came
        /// back.
        Presence {
            /// The game.
            game: u64,
            /// The player.
            player: String,
            /// Whether connected now.
            connected: bool,
            /// When disconnected: the server time at which the game is
            /// lost by abandonment (0 when connected).
            #[serde(default, deserialize_with = "nil_as_default")]
            deadline_ms: u64,
        } = "game_presence",
        /// On `game.ID`: the number of spectators changed.
        Spectators {
            /// The game.
            game: u64,
            /// How many sessions watch it.
            count: u32,
        } = "game_spectators",
        /// On `game.ID`: a draw was offered, or the offer withdrawn or
        /// declined (`by` absent).
        DrawOffer {
            /// The game.
            game: u64,
            /// Who offers.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            by: Option<String>,
        } = "game_draw_offer",
    }
}

/// A time control: each player's initial time and the increment added
/// after each of their moves (lichess's `3+2` is 180000 + 2000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeControl {
    /// Each player's time at the start, ms.
    pub initial_ms: u64,
    /// Added to a player's clock after each of their moves, ms.
    pub increment_ms: u64,
}

impl TimeControl {
    /// The shortest initial time accepted.
    pub const MIN_INITIAL_MS: u64 = 1_000;
    /// The longest initial time accepted (3 hours).
    pub const MAX_INITIAL_MS: u64 = 3 * 3600 * 1000;
    /// The largest increment accepted (3 minutes).
    pub const MAX_INCREMENT_MS: u64 = 180_000;

    /// Checks the limits above.
    ///
    /// # Errors
    /// A sentence naming the limit.
    pub fn check(&self) -> Result<(), String> {
        if !(Self::MIN_INITIAL_MS..=Self::MAX_INITIAL_MS).contains(&self.initial_ms) {
            return Err(format!(
                "initial time {} ms is outside {}..={} ms",
                self.initial_ms,
                Self::MIN_INITIAL_MS,
                Self::MAX_INITIAL_MS
            ));
        }
        if self.increment_ms > Self::MAX_INCREMENT_MS {
            return Err(format!(
                "increment {} ms is above {} ms",
                self.increment_ms,
                Self::MAX_INCREMENT_MS
            ));
        }
        Ok(())
    }

    /// lichess's notation: minutes `+` seconds (`3+2`, `0.5+0`).
    pub fn label(&self) -> String {
        let minutes = self.initial_ms as f64 / 60_000.0;
        let secs = self.increment_ms as f64 / 1000.0;
        format!("{}+{}", trim(minutes), trim(secs))
    }

    /// Parses lichess's notation: minutes `+` seconds, each a
    /// non-negative number (`3+2`, `0.5+0`, `10+5`).
    ///
    /// # Errors
    /// A sentence saying what is wrong, and the limits.
    pub fn parse(text: &str) -> Result<TimeControl, String> {
        let bad = || format!("{text:?} is not a time control: MINUTES+SECONDS, e.g. 3+2 or 0.5+0");
        let (m, s) = text.trim().split_once('+').ok_or_else(bad)?;
        let num = |t: &str| {
            t.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        let (m, s) = (num(m).ok_or_else(bad)?, num(s).ok_or_else(bad)?);
        if m > 1e6 || s > 1e6 {
            return Err(bad());
        }
        let time = TimeControl {
            initial_ms: (m * 60_000.0).round() as u64,
            increment_ms: (s * 1000.0).round() as u64,
        };
        time.check()?;
        Ok(time)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Where a game is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GameStatus {
    /// A challenge waiting to be accepted.
    Waiting,
    /// Being played.
    InProgress,
    /// Over; see its result.
    Finished,
}

impl GameStatus {
    /// The status as text.
    pub fn as_str(self) -> &'static str {
        match self {
            GameStatus::Waiting => "waiting",
            GameStatus::InProgress => "in_progress",
            GameStatus::Finished => "finished",
        }
    }
}

/// How a game ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Won on the board (three in a row, four in a row).
    Win,
    /// Drawn: a full board, or a draw agreed.
    Draw,
    /// A player resigned.
    Resign,
    /// A player's clock ran out.
    Timeout,
    /// A player stayed disconnected past the grace period.
    Abandoned,
    /// Cancelled without a result: a challenge declined or expired, a
    /// player gone before their first move, or the daemon restarted.
    /// Not rated.
    Aborted,
}

impl EndReason {
    /// The reason as text.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Win => "win",
            EndReason::Draw => "draw",
            EndReason::Resign => "resign",
            EndReason::Timeout => "timeout",
            EndReason::Abandoned => "abandoned",
            EndReason::Aborted => "aborted",
        }
    }

    /// The reason from its text.
    pub fn parse(text: &str) -> Option<EndReason> {
        [
            EndReason::Win,
            EndReason::Draw,
            EndReason::Resign,
            EndReason::Timeout,
            EndReason::Abandoned,
            EndReason::Aborted,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// A finished game's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameResult {
    /// How it ended.
    pub reason: EndReason,
    /// Who won; absent for a draw or an aborted game.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner: Option<String>,
    /// Each player's rating change, in player order (empty when not
    /// rated).
    #[serde(default, deserialize_with = "nil_as_default")]
    pub ratings: Vec<RatingChange>,
}

/// One player's rating before and after a game (Glicko-2, rounded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingChange {
    /// The player.
    pub user: String,
    /// The rating before.
    pub before: i64,
    /// The rating after.
    pub after: i64,
}

/// Everything about one game: what players and spectators get on
/// joining, and in [`GameEvent::Started`] and [`GameEvent::Ended`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameState {
    /// The game's id.
    pub id: u64,
    /// The game type.
    pub kind: String,
    /// The players in turn order (the first moves first).
    pub players: Vec<String>,
    /// The time control.
    pub time: TimeControl,
    /// Waiting, in progress or finished.
    pub status: GameStatus,
    /// How many moves were played.
    pub seq: u64,
    /// The moves, in order.
    pub moves: Vec<String>,
    /// The board, top row first; each character a cell (`.` empty).
    pub board: Vec<String>,
    /// Who moves next (in progress only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<String>,
    /// The legal moves of the player to move.
    #[serde(default, deserialize_with = "nil_as_default")]
    pub legal: Vec<String>,
    /// Each player's remaining time at `now_ms`, in player order.
    pub clocks_ms: Vec<u64>,
    /// Whether each player is connected, in player order.
    pub connected: Vec<bool>,
    /// For each player, when disconnected, the server time at which the
    /// game is lost by abandonment; 0 when connected.
    pub deadlines_ms: Vec<u64>,
    /// How many sessions watch the game.
    pub spectators: u32,
    /// Who offers a draw, if anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw_offer: Option<String>,
    /// The result, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<GameResult>,
    /// Server time of this snapshot, ms since the epoch.
    pub now_ms: u64,
}

/// A game as listed by `game_list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameSummary {
    /// The game's id.
    pub id: u64,
    /// The game type.
    pub kind: String,
    /// The players in turn order.
    pub players: Vec<String>,
    /// The time control.
    pub time: TimeControl,
    /// Waiting or in progress.
    pub status: GameStatus,
    /// How many moves were played.
    pub seq: u64,
    /// How many sessions watch it.
    pub spectators: u32,
}

/// One line of the leaderboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingEntry {
    /// The user.
    pub user: String,
    /// The game type.
    pub kind: String,
    /// Glicko-2 rating, rounded.
    pub rating: i64,
    /// Rating deviation, rounded.
    pub deviation: i64,
    /// Rated games played.
    pub played: u64,
    /// Won.
    pub won: u64,
    /// Lost.
    pub lost: u64,
    /// Drawn.
    pub drawn: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_controls_parse_like_lichess() {
        let t = TimeControl::parse("3+2").unwrap();
        assert_eq!((t.initial_ms, t.increment_ms), (180_000, 2000));
        assert_eq!(t.label(), "3+2");
        let t = TimeControl::parse("0.5+0").unwrap();
        assert_eq!((t.initial_ms, t.increment_ms), (30_000, 0));
        assert_eq!(t.label(), "0.5+0");
        for bad in [
            "3", "+", "a+b", "-1+2", "0+0", "181+0", "3+181", "inf+0", "NaN+1",
        ] {
            assert!(TimeControl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn end_reasons_round_trip_as_text() {
        for r in ["win", "draw", "resign", "timeout", "abandoned", "aborted"] {
            assert_eq!(EndReason::parse(r).unwrap().as_str(), r);
        }
        assert_eq!(EndReason::parse("bogus"), None);
    }
}
