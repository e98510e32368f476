//! The Games tab's state: a lobby (matchmaking queue, challenges, live
//! games to watch, the leaderboard), a board (keyboard cursor, last move
//! highlighted, clocks counting down, move list, the opponent's
//! connection and grace period, spectators, resign and draw keys) and a
//! replay viewer that steps through a finished game.
//!
//! Like every tab it does no I/O: requests are queued as [`Outgoing`]s
//! and the clock arrives through [`Tab::on_tick`]. The boards come from
//! the daemon as rows of characters, so the tab knows each game's
//! notation (cells `a1`..`c3`, columns `1`..`7`) but none of its rules.
//!
//! - `view`: drawing, as `impl Widget for &GamesState`; `geometry`: where
//!   the board and its cells are on screen, shared by the drawing and the
//!   mouse (a left click on a cell plays there).

mod geometry;
mod view;

use std::any::Any;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use agora_wire::game::{GameState, GameStatus, GameSummary, RatingEntry, TimeControl};
use agora_wire::{Event, GameEvent, GameOp, GameReply, Reply, Service};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::widgets::Widget;

use crate::line_editor::LineEditor;
use crate::tab::{KeyOutcome, Outgoing, Tab};

/// The tab's own keys, for the help popup.
pub const KEYS: [(&str, &str); 11] = [
    (
        "t / f / a",
        "lobby: queue for tic-tac-toe / connect four / either",
    ),
    ("x", "lobby: leave the queue"),
    ("n", "lobby: challenge a user (`NAME ttt|c4`, Enter sends)"),
    ("Up/Down, Enter", "lobby: select a game, open (watch) it"),
    ("y / d", "lobby: accept / decline the selected challenge"),
    ("Arrows, Enter", "board: move the cursor, play there"),
    ("mouse click", "board: play the cell (connect four: the column)"),
    ("D / R", "board: offer or accept a draw / resign"),
    ("p", "board: replay the finished game"),
    ("Left/Right", "replay: step back / forward (Home/End: ends)"),
    ("Esc", "back to the lobby"),
];

/// How often the lobby's lists are asked for again while shown.
const REFRESH: Duration = Duration::from_secs(5);

/// Which screen the tab shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Queue, challenges, live games, leaderboard.
    Lobby,
    /// One game.
    Board,
    /// A finished game, position by position.
    Replay,
}

/// What a reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    List,
    Leaderboard,
    Queue,
    Cancel,
    /// A request whose answer is a game's state to show.
    Open,
    /// A request whose answer only says it worked.
    Done,
    Replay,
}

/// The Games tab.
#[derive(Debug)]
pub struct GamesState {
    user: Option<String>,
    connected: bool,
    screen: Screen,
    live: Vec<GameSummary>,
    leaderboard: Vec<RatingEntry>,
    selected: usize,
    queued: Option<Vec<String>>,
    time: TimeControl,
    prompt: Option<LineEditor>,
    game: Option<GameState>,
    /// When the game's clocks were read (its `now_ms`, on this clock).
    clocks_at: Option<Instant>,
    last_move: Option<String>,
    cursor: (usize, usize),
    replay: Option<(GameState, Vec<Vec<String>>, usize)>,
    message: Option<String>,
    now: Option<Instant>,
    refreshed: Option<Instant>,
    outbox: Vec<Outgoing>,
    pending: HashMap<u64, Pending>,
    next_tag: u64,
    /// Where the tab draws ([`Tab::on_resize`]), for mouse clicks.
    area: Rect,
}

impl GamesState {
    /// A fresh tab for a session believed to be `user`.
    pub fn new(user: Option<String>) -> Self {
        GamesState {
            user,
            connected: false,
            screen: Screen::Lobby,
            live: Vec::new(),
            leaderboard: Vec::new(),
            selected: 0,
            queued: None,
            time: TimeControl {
                initial_ms: 180_000,
                increment_ms: 2_000,
            },
            prompt: None,
            game: None,
            clocks_at: None,
            last_move: None,
            cursor: (1, 1),
            replay: None,
            message: None,
            now: None,
            refreshed: None,
            outbox: Vec::new(),
            pending: HashMap::new(),
            next_tag: 1,
            area: Rect::default(),
        }
    }

    /// The screen shown.
    #[cfg(test)]
    pub fn screen(&self) -> Screen {
        self.screen
    }

    /// The game on the board.
    #[cfg(test)]
    pub fn game(&self) -> Option<&GameState> {
        self.game.as_ref()
    }

    fn request(&mut self, pending: Pending, op: GameOp) {
        let tag = self.next_tag;
        self.next_tag += 1;
        self.pending.insert(tag, pending);
        self.outbox.push(Outgoing { tag, op: op.into() });
    }

    fn refresh(&mut self) {
        if !self.connected || self.user.is_none() {
            return;
        }
        self.request(Pending::List, GameOp::List);
        self.request(
            Pending::Leaderboard,
            GameOp::Leaderboard {
                kind: None,
                limit: Some(20),
            },
        );
        self.refreshed = self.now;
    }

    /// My seat in the game on the board, if I play in it.
    fn seat(&self) -> Option<usize> {
        let me = self.user.as_deref()?;
        self.game.as_ref()?.players.iter().position(|p| p == me)
    }

    /// Each player's time left now, counting down from the last reading.
    pub fn clocks_now(&self) -> Vec<u64> {
        let Some(game) = &self.game else {
            return Vec::new();
        };
        let elapsed = match (self.now, self.clocks_at) {
            (Some(now), Some(at)) => now.saturating_duration_since(at).as_millis() as u64,
            _ => 0,
        };
        game.clocks_ms
            .iter()
            .zip(&game.players)
            .map(|(ms, p)| {
                if game.status == GameStatus::InProgress && game.turn.as_deref() == Some(p) {
                    ms.saturating_sub(elapsed)
                } else {
                    *ms
                }
            })
            .collect()
    }

    /// Seconds left before a disconnected player loses, per player.
    pub fn grace_left(&self) -> Vec<Option<u64>> {
        let Some(game) = &self.game else {
            return Vec::new();
        };
        let elapsed = match (self.now, self.clocks_at) {
            (Some(now), Some(at)) => now.saturating_duration_since(at).as_millis() as u64,
            _ => 0,
        };
        let now_ms = game.now_ms + elapsed;
        game.deadlines_ms
            .iter()
            .map(|d| (*d != 0).then(|| d.saturating_sub(now_ms).div_ceil(1000)))
            .collect()
    }

    /// Shows `state` on the board.
    fn open(&mut self, state: GameState) {
        let same = self.game.as_ref().is_some_and(|g| g.id == state.id);
        if !same {
            self.cursor = match state.kind.as_str() {
                "connect4" => (0, 3),
                _ => (1, 1),
            };
        }
        self.last_move = state.moves.last().cloned();
        self.game = Some(state);
        self.clocks_at = self.now;
        self.screen = Screen::Board;
    }

    /// The move at the cursor, in the game's notation.
    pub fn cursor_move(&self) -> Option<String> {
        let game = self.game.as_ref()?;
        let (row, col) = self.cursor;
        Some(match game.kind.as_str() {
            "connect4" => (col + 1).to_string(),
            _ => format!("{}{}", (b'a' + col as u8) as char, game.board.len() - row),
        })
    }

    /// The cell of the last move (row from the top, column).
    pub fn last_cell(&self) -> Option<(usize, usize)> {
        let game = self.game.as_ref()?;
        cell_of(&game.kind, &game.board, self.last_move.as_deref()?)
    }

    fn play_cursor(&mut self) {
        let Some(game) = &self.game else { return };
        if game.status != GameStatus::InProgress || self.seat().is_none() {
            self.message = Some("you are watching: spectators cannot move".into());
            return;
        }
        if game.turn != self.user {
            self.message = Some("not your turn".into());
            return;
        }
        let Some(play) = self.cursor_move() else {
            return;
        };
        let (id, seq) = (game.id, game.seq);
        self.request(
            Pending::Done,
            GameOp::Move {
                game: id,
                seq,
                play,
            },
        );
    }

    fn lobby_key(&mut self, key: KeyEvent) -> KeyOutcome {
        match key.code {
            KeyCode::Char('t') => self.queue(&["tictactoe"]),
            KeyCode::Char('f') => self.queue(&["connect4"]),
            KeyCode::Char('a') => self.queue(&["tictactoe", "connect4"]),
            KeyCode::Char('x') => {
                self.request(Pending::Cancel, GameOp::Cancel);
            }
            KeyCode::Char('n') => {
                self.prompt = Some(LineEditor::default());
                self.message = None;
            }
            KeyCode::Char('r') => self.refresh(),
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.live.len().saturating_sub(1));
            }
            KeyCode::Enter => {
                if let Some(g) = self.live.get(self.selected) {
                    let game = g.id;
                    let mine = self.user.as_ref().is_some_and(|u| g.players.contains(u));
                    let op = if mine {
                        GameOp::Show { game }
                    } else {
                        GameOp::Watch { game }
                    };
                    self.request(Pending::Open, op);
                }
            }
            KeyCode::Char('y') => {
                if let Some(g) = self.selected_challenge() {
                    self.request(Pending::Open, GameOp::Accept { game: g });
                }
            }
            KeyCode::Char('d') => {
                if let Some(g) = self.selected_challenge() {
                    self.request(Pending::Done, GameOp::Decline { game: g });
                    self.message = Some(format!("declined game {g}"));
                }
            }
            _ => return KeyOutcome::NotConsumed,
        }
        KeyOutcome::Consumed
    }

    fn selected_challenge(&self) -> Option<u64> {
        self.live
            .get(self.selected)
            .filter(|g| g.status == GameStatus::Waiting)
            .map(|g| g.id)
    }

    fn queue(&mut self, kinds: &[&str]) {
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        self.queued = Some(kinds.clone());
        self.request(
            Pending::Queue,
            GameOp::Queue {
                kinds,
                time: self.time,
            },
        );
    }

    fn prompt_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let Some(editor) = &mut self.prompt else {
            return KeyOutcome::NotConsumed;
        };
        match key.code {
            KeyCode::Esc => self.prompt = None,
            KeyCode::Enter => {
                let text = editor.submit();
                self.prompt = None;
                let mut words = text.split_whitespace();
                let (Some(user), kind) = (words.next(), words.next()) else {
                    return KeyOutcome::Consumed;
                };
                let kind = match kind.unwrap_or("ttt") {
                    "c4" | "connect4" => "connect4",
                    "ttt" | "tictactoe" => "tictactoe",
                    other => {
                        self.message = Some(format!("{other:?} is not a game: ttt or c4"));
                        return KeyOutcome::Consumed;
                    }
                };
                self.request(
                    Pending::Open,
                    GameOp::Challenge {
                        opponent: user.to_owned(),
                        kind: kind.to_owned(),
                        time: self.time,
                    },
                );
            }
            _ => {
                editor.edit(key);
            }
        }
        KeyOutcome::Consumed
    }

    fn board_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let Some(game) = &self.game else {
            self.screen = Screen::Lobby;
            return KeyOutcome::Consumed;
        };
        let rows = game.board.len();
        let cols = game.board.first().map_or(0, |r| r.chars().count());
        let (id, finished) = (game.id, game.status == GameStatus::Finished);
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.cursor.0 = self.cursor.0.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.cursor.0 = (self.cursor.0 + 1).min(rows.saturating_sub(1));
            }
            KeyCode::Left | KeyCode::Char('h') => self.cursor.1 = self.cursor.1.saturating_sub(1),
            KeyCode::Right | KeyCode::Char('l') => {
                self.cursor.1 = (self.cursor.1 + 1).min(cols.saturating_sub(1));
            }
            KeyCode::Enter | KeyCode::Char(' ') => self.play_cursor(),
            KeyCode::Char('R') if !finished && self.seat().is_some() => {
                self.request(Pending::Done, GameOp::Resign { game: id });
            }
            KeyCode::Char('D') if !finished && self.seat().is_some() => {
                self.request(
                    Pending::Done,
                    GameOp::Draw {
                        game: id,
                        offer: true,
                    },
                );
            }
            KeyCode::Char('p') if finished => {
                self.request(Pending::Replay, GameOp::Replay { game: id });
            }
            KeyCode::Esc => {
                if self.seat().is_none() && !finished {
                    self.request(Pending::Done, GameOp::Unwatch { game: id });
                }
                self.screen = Screen::Lobby;
                self.refresh();
            }
            _ => return KeyOutcome::NotConsumed,
        }
        KeyOutcome::Consumed
    }

    fn replay_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let Some((_, positions, step)) = &mut self.replay else {
            self.screen = Screen::Lobby;
            return KeyOutcome::Consumed;
        };
        let last = positions.len().saturating_sub(1);
        match key.code {
            KeyCode::Left | KeyCode::Char('h') => *step = step.saturating_sub(1),
            KeyCode::Right | KeyCode::Char('l') => *step = (*step + 1).min(last),
            KeyCode::Home | KeyCode::Char('g') => *step = 0,
            KeyCode::End | KeyCode::Char('G') => *step = last,
            KeyCode::Esc => self.screen = Screen::Board,
            _ => return KeyOutcome::NotConsumed,
        }
        KeyOutcome::Consumed
    }

    /// The replay shown: final state, positions, step.
    pub fn replay(&self) -> Option<(&GameState, &[Vec<String>], usize)> {
        self.replay.as_ref().map(|(s, p, i)| (s, p.as_slice(), *i))
    }

    fn on_event(&mut self, event: GameEvent) {
        match event {
            GameEvent::Challenged { game } => {
                self.message = Some(format!(
                    "{} challenges you to {} (select it: y accepts, d declines)",
                    game.players
                        .iter()
                        .find(|p| Some(*p) != self.user.as_ref())
                        .cloned()
                        .unwrap_or_default(),
                    game.kind
                ));
                self.refresh();
            }
            GameEvent::Started { state } => {
                let mine = self
                    .user
                    .as_ref()
                    .is_some_and(|u| state.players.contains(u));
                if mine {
                    self.queued = None;
                    self.message = None;
                    self.open(*state);
                }
            }
            GameEvent::Moved {
                game,
                seq,
                play,
                board,
                clocks_ms,
                turn,
                ..
            } => {
                let Some(g) = self.game.as_mut().filter(|g| g.id == game && seq > g.seq) else {
                    return;
                };
                g.seq = seq;
                g.moves.push(play.clone());
                g.board = board;
                g.clocks_ms = clocks_ms;
                g.turn = (!turn.is_empty()).then_some(turn);
                g.draw_offer = None;
                g.legal.clear();
                self.last_move = Some(play);
                self.clocks_at = self.now;
            }
            GameEvent::Ended { state } => {
                if self.game.as_ref().is_some_and(|g| g.id == state.id) {
                    self.last_move = state.moves.last().cloned();
                    self.game = Some(*state);
                    self.clocks_at = self.now;
                }
                self.refresh();
            }
            GameEvent::Presence {
                game,
                player,
                connected,
                deadline_ms,
            } => {
                if let Some(g) = self.game.as_mut().filter(|g| g.id == game)
                    && let Some(i) = g.players.iter().position(|p| *p == player)
                {
                    if let Some(c) = g.connected.get_mut(i) {
                        *c = connected;
                    }
                    if let Some(d) = g.deadlines_ms.get_mut(i) {
                        *d = deadline_ms;
                    }
                }
            }
            GameEvent::Spectators { game, count } => {
                if let Some(g) = self.game.as_mut().filter(|g| g.id == game) {
                    g.spectators = count;
                }
            }
            GameEvent::DrawOffer { game, by } => {
                if let Some(g) = self.game.as_mut().filter(|g| g.id == game) {
                    g.draw_offer = by;
                }
            }
        }
    }
}

/// The cell a move filled: tic-tac-toe's named cell, or connect four's
/// topmost piece in the column.
fn cell_of(kind: &str, board: &[String], mv: &str) -> Option<(usize, usize)> {
    if kind == "connect4" {
        let col = mv.parse::<usize>().ok()?.checked_sub(1)?;
        let row = board
            .iter()
            .position(|r| r.chars().nth(col).is_some_and(|c| c != '.'))?;
        return Some((row, col));
    }
    let b = mv.as_bytes();
    if b.len() != 2 {
        return None;
    }
    let col = b[0].checked_sub(b'a')? as usize;
    let row = (b[1].checked_sub(b'0')? as usize).checked_sub(1)?;
    Some((board.len().checked_sub(row + 1)?, col))
}

impl Default for GamesState {
    fn default() -> Self {
        GamesState::new(None)
    }
}

impl Tab for GamesState {
    fn title(&self) -> &'static str {
        "Games"
    }

    fn keys(&self) -> &'static [(&'static str, &'static str)] {
        &KEYS
    }

    fn types_text(&self) -> bool {
        self.prompt.is_some()
    }

    fn follows(&self) -> Option<Service> {
        Some(Service::Game)
    }

    fn handle_key(&mut self, key: KeyEvent) -> KeyOutcome {
        if key.modifiers.contains(KeyModifiers::CONTROL)
            || key.modifiers.contains(KeyModifiers::ALT)
        {
            return KeyOutcome::NotConsumed;
        }
        if self.prompt.is_some() {
            return self.prompt_key(key);
        }
        match self.screen {
            Screen::Lobby => self.lobby_key(key),
            Screen::Board => self.board_key(key),
            Screen::Replay => self.replay_key(key),
        }
    }

    fn on_connected(&mut self, user: Option<&str>) {
        self.connected = true;
        self.user = user.map(str::to_owned);
        self.pending.clear();
        // A game on the board resumes: ask for its state again.
        if let Some(g) = &self.game
            && g.status != GameStatus::Finished
        {
            let game = g.id;
            let op = if self.seat().is_some() {
                GameOp::Show { game }
            } else {
                GameOp::Watch { game }
            };
            self.request(Pending::Open, op);
        }
    }

    fn on_disconnected(&mut self) {
        self.connected = false;
        self.pending.clear();
        self.queued = None;
    }

    fn on_push(&mut self, event: Event) {
        if let Event::Game(e) = event {
            self.on_event(e);
        }
    }

    fn on_reply(&mut self, tag: u64, result: Result<Reply, String>) {
        let Some(pending) = self.pending.remove(&tag) else {
            return;
        };
        let reply = match result {
            Ok(Reply::Game(r)) => r,
            Ok(_) => return,
            Err(e) => {
                if pending == Pending::Queue {
                    self.queued = None;
                }
                self.message = Some(e);
                return;
            }
        };
        match (pending, reply) {
            (Pending::List, GameReply::Games { games }) => {
                self.live = games;
                self.selected = self.selected.min(self.live.len().saturating_sub(1));
            }
            (Pending::Leaderboard, GameReply::Leaderboard { entries }) => {
                self.leaderboard = entries;
            }
            (Pending::Queue, GameReply::Queued { .. }) => {}
            (Pending::Open, GameReply::State { state }) => {
                if state.status == GameStatus::Waiting {
                    self.message = Some(format!(
                        "challenge sent: game {} waits for {}",
                        state.id,
                        state
                            .players
                            .iter()
                            .find(|p| Some(*p) != self.user.as_ref())
                            .cloned()
                            .unwrap_or_default()
                    ));
                    self.refresh();
                } else {
                    self.open(*state);
                }
            }
            (Pending::Replay, GameReply::Replay { state, positions }) => {
                let last = positions.len().saturating_sub(1);
                self.replay = Some((*state, positions, last));
                self.screen = Screen::Replay;
            }
            _ => {}
        }
        if pending == Pending::Cancel {
            self.queued = None;
        }
    }

    fn on_show(&mut self) {
        self.refresh();
    }

    fn on_tick(&mut self, now: Instant, shown: bool) {
        self.now = Some(now);
        if self.clocks_at.is_none() && self.game.is_some() {
            self.clocks_at = Some(now);
        }
        let due = self
            .refreshed
            .is_none_or(|at| now.saturating_duration_since(at) >= REFRESH);
        if shown && self.screen == Screen::Lobby && due {
            self.refresh();
            self.refreshed = Some(now);
        }
    }

    fn handle_mouse(&mut self, mouse: MouseEvent) -> KeyOutcome {
        if mouse.kind != MouseEventKind::Down(MouseButton::Left)
            || self.screen != Screen::Board
            || self.prompt.is_some()
        {
            return KeyOutcome::NotConsumed;
        }
        let Some(game) = &self.game else {
            return KeyOutcome::NotConsumed;
        };
        let rows = game.board.len();
        let cols = game.board.first().map_or(0, |r| r.chars().count());
        let [body, _] = geometry::split(self.area);
        let board = geometry::board_screen(body).board;
        let at = Position::new(mouse.column, mouse.row);
        let Some((row, col)) = geometry::cell_at(board, rows, cols, at) else {
            return KeyOutcome::NotConsumed;
        };
        // Connect four plays a column: any cell of it will do.
        self.cursor = match game.kind.as_str() {
            "connect4" => (self.cursor.0, col),
            _ => (row, col),
        };
        self.play_cursor();
        KeyOutcome::Consumed
    }

    fn on_resize(&mut self, area: Rect) {
        self.area = area;
    }

    fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    fn render(&self, area: Rect, buf: &mut Buffer) {
        view::Games { state: self }.render(area, buf);
    }

    fn cursor(&self, area: Rect) -> Option<Position> {
        let editor = self.prompt.as_ref()?;
        let x = area.x + view::PROMPT.len() as u16 + editor.cursor_column() as u16;
        Some(Position::new(
            x.min(area.right().saturating_sub(1)),
            area.bottom().saturating_sub(1),
        ))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests;
