//! One game's state machine, pure: no task, no clock of its own, no I/O.
//! Every method takes the time (`now_ms`), so its tests play whole games,
//! flag clocks and expire grace periods without sleeping.
//!
//! ```text
//! waiting ──accept──▶ in_progress ──▶ finished (win, draw, resign,
//!    │                                  timeout, abandoned, aborted)
//!    └──decline / expiry──────────────▶ finished (aborted)
//! ```
//!
//! Clocks: the player to move loses time from the moment the turn began;
//! a move adds the increment; when the time runs out the player loses
//! (`timeout`) — a move arriving after that is refused. Disconnection: a
//! player whose last connection closes has [`Settings::grace_ms`] to come
//! back (the deadline is shown to everyone); past it the game is lost by
//! abandonment, or aborted (unrated) when the absent player had not moved
//! yet. Their clock keeps running meanwhile.

use agora_wire::game::{
    EndReason, GameResult, GameState, GameStatus, GameSummary, RatingChange, TimeControl,
};
use agora_wire::{ErrorBody, ErrorCode};

use super::rules::{Outcome, Rules, Viewer};

/// Timing rules every game shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long a disconnected player has to come back.
    pub grace_ms: u64,
    /// How long a challenge waits to be accepted.
    pub challenge_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            grace_ms: 30_000,
            challenge_ms: 60_000,
        }
    }
}

/// One game.
#[derive(Debug)]
pub struct Match {
    id: u64,
    players: [String; 2],
    /// Who challenged (index), for a game that began as a challenge.
    challenger: Option<usize>,
    time: TimeControl,
    status: GameStatus,
    rules: Box<dyn Rules>,
    moves: Vec<String>,
    /// Each player's time left when their current (or last) turn began.
    remaining: [u64; 2],
    /// When the current turn began.
    turn_since: u64,
    connected: [bool; 2],
    /// When a disconnected player loses by abandonment (0: connected).
    deadlines: [u64; 2],
    draw_offer: Option<usize>,
    end: Option<(EndReason, Option<usize>)>,
    ratings: Vec<RatingChange>,
    /// When a waiting challenge expires.
    expires_at: u64,
    spectators: u32,
    settings: Settings,
}

/// What a successful move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Played {
    /// The game's seq after it.
    pub seq: u64,
    /// Who played it.
    pub by: usize,
    /// Whether it ended the game.
    pub ended: bool,
}

fn err(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(code, message)
}

impl Match {
    /// A game that starts now between `players` (the first moves first).
    pub fn started(
        id: u64,
        players: [String; 2],
        rules: Box<dyn Rules>,
        time: TimeControl,
        settings: Settings,
        now_ms: u64,
    ) -> Match {
        Match {
            id,
            players,
            challenger: None,
            time,
            status: GameStatus::InProgress,
            rules,
            moves: Vec::new(),
            remaining: [time.initial_ms; 2],
            turn_since: now_ms,
            connected: [true; 2],
            deadlines: [0; 2],
            draw_offer: None,
            end: None,
            ratings: Vec::new(),
            expires_at: 0,
            spectators: 0,
            settings,
        }
    }

    /// A challenge by `players[challenger]`, waiting for the other's
    /// acceptance until `now_ms + settings.challenge_ms`.
    pub fn challenge(
        id: u64,
        players: [String; 2],
        challenger: usize,
        rules: Box<dyn Rules>,
        time: TimeControl,
        settings: Settings,
        now_ms: u64,
    ) -> Match {
        let mut m = Match::started(id, players, rules, time, settings, now_ms);
        m.status = GameStatus::Waiting;
        m.challenger = Some(challenger);
        m.expires_at = now_ms + settings.challenge_ms;
        m
    }

    /// The game's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The players, in turn order.
    pub fn players(&self) -> &[String; 2] {
        &self.players
    }

    /// Where the game is.
    pub fn status(&self) -> GameStatus {
        self.status
    }

    /// The moves so far.
    pub fn moves(&self) -> &[String] {
        &self.moves
    }

    /// How it ended: the reason and the winner's index.
    pub fn end(&self) -> Option<(EndReason, Option<usize>)> {
        self.end
    }

    /// The first player's score for rating (1, 0.5, 0), or `None` when
    /// the game is not over or not rated (aborted).
    pub fn first_score(&self) -> Option<f64> {
        match self.end? {
            (EndReason::Aborted, _) => None,
            (_, Some(0)) => Some(1.0),
            (_, Some(_)) => Some(0.0),
            (_, None) => Some(0.5),
        }
    }

    /// Records the rating changes of a finished, rated game.
    pub fn set_ratings(&mut self, ratings: Vec<RatingChange>) {
        self.ratings = ratings;
    }

    /// The player index of `user`, if playing.
    pub fn seat(&self, user: &str) -> Option<usize> {
        self.players.iter().position(|p| p == user)
    }

    fn seat_or_refuse(&self, user: &str) -> Result<usize, ErrorBody> {
        self.seat(user).ok_or_else(|| {
            err(
                ErrorCode::Forbidden,
                format!("you are not playing in game {}", self.id),
            )
        })
    }

    fn in_progress(&self) -> Result<(), ErrorBody> {
        match self.status {
            GameStatus::InProgress => Ok(()),
            GameStatus::Waiting => Err(err(
                ErrorCode::Conflict,
                format!("game {} has not started: the challenge is waiting", self.id),
            )),
            GameStatus::Finished => Err(err(
                ErrorCode::Conflict,
                format!("game {} is over", self.id),
            )),
        }
    }

    fn finish(&mut self, reason: EndReason, winner: Option<usize>) {
        self.status = GameStatus::Finished;
        self.end = Some((reason, winner));
        self.draw_offer = None;
    }

    /// The challenged player accepts: the game starts now.
    ///
    /// # Errors
    /// Not waiting, not the challenged player.
    pub fn accept(&mut self, user: &str, now_ms: u64) -> Result<(), ErrorBody> {
        let seat = self.seat_or_refuse(user)?;
        if self.status != GameStatus::Waiting {
            return Err(err(
                ErrorCode::Conflict,
                format!("game {} is not a waiting challenge", self.id),
            ));
        }
        if self.challenger == Some(seat) {
            return Err(err(
                ErrorCode::Forbidden,
                "you cannot accept your own challenge",
            ));
        }
        self.status = GameStatus::InProgress;
        self.turn_since = now_ms;
        // A player who is away at the start gets the whole grace period.
        for seat in 0..2 {
            if !self.connected[seat] {
                self.deadlines[seat] = now_ms + self.settings.grace_ms;
            }
        }
        Ok(())
    }

    /// Either player declines (or withdraws) a waiting challenge.
    ///
    /// # Errors
    /// Not waiting, not a player.
    pub fn decline(&mut self, user: &str) -> Result<(), ErrorBody> {
        self.seat_or_refuse(user)?;
        if self.status != GameStatus::Waiting {
            return Err(err(
                ErrorCode::Conflict,
                format!("game {} is not a waiting challenge", self.id),
            ));
        }
        self.finish(EndReason::Aborted, None);
        Ok(())
    }

    /// `user` plays `mv`, chosen when the game had `seq` moves.
    ///
    /// # Errors
    /// Not playing, not in progress, a stale or future `seq`, not their
    /// turn, an illegal move, or their time ran out (the game is then
    /// over: see [`Match::end`]). Nothing changes on an error, but for
    /// the flag.
    pub fn play(
        &mut self,
        user: &str,
        seq: u64,
        mv: &str,
        now_ms: u64,
    ) -> Result<Played, ErrorBody> {
        let seat = self.seat_or_refuse(user)?;
        self.tick(now_ms);
        self.in_progress()?;
        let at = self.moves.len() as u64;
        if seq < at {
            return Err(err(
                ErrorCode::Conflict,
                format!("stale move: game {} is at seq {at}, not {seq}", self.id),
            ));
        }
        if seq > at {
            return Err(err(
                ErrorCode::BadRequest,
                format!(
                    "seq {seq} is ahead of game {}, which is at seq {at}",
                    self.id
                ),
            ));
        }
        if self.rules.turn() != seat {
            return Err(err(ErrorCode::Conflict, "not your turn"));
        }
        self.rules
            .play(mv)
            .map_err(|e| err(ErrorCode::BadRequest, e))?;
        let elapsed = now_ms.saturating_sub(self.turn_since);
        self.remaining[seat] =
            self.remaining[seat].saturating_sub(elapsed) + self.time.increment_ms;
        self.turn_since = now_ms;
        self.moves.push(mv.trim().to_ascii_lowercase());
        self.draw_offer = None;
        match self.rules.outcome() {
            Some(Outcome::Win(p)) => self.finish(EndReason::Win, Some(p)),
            Some(Outcome::Draw) => self.finish(EndReason::Draw, None),
            None => {}
        }
        Ok(Played {
            seq: self.moves.len() as u64,
            by: seat,
            ended: self.end.is_some(),
        })
    }

    /// `user` resigns: the opponent wins.
    ///
    /// # Errors
    /// Not playing, not in progress.
    pub fn resign(&mut self, user: &str, now_ms: u64) -> Result<(), ErrorBody> {
        let seat = self.seat_or_refuse(user)?;
        self.tick(now_ms);
        self.in_progress()?;
        self.finish(EndReason::Resign, Some(1 - seat));
        Ok(())
    }

    /// `user` offers a draw or accepts the opponent's (`offer`), or
    /// declines or withdraws one. Returns whether the offer changed.
    ///
    /// # Errors
    /// Not playing, not in progress, a game without draws by agreement.
    pub fn draw(&mut self, user: &str, offer: bool, now_ms: u64) -> Result<bool, ErrorBody> {
        let seat = self.seat_or_refuse(user)?;
        self.tick(now_ms);
        self.in_progress()?;
        if !self.rules.draws_allowed() {
            return Err(err(
                ErrorCode::Forbidden,
                "this game has no draws by agreement",
            ));
        }
        let before = self.draw_offer;
        match (offer, self.draw_offer) {
            (true, Some(p)) if p != seat => self.finish(EndReason::Draw, None),
            (true, _) => self.draw_offer = Some(seat),
            (false, _) => self.draw_offer = None,
        }
        Ok(before != self.draw_offer || self.end.is_some())
    }

    /// A player's connection state changed. Returns whether it changed
    /// anything (the caller announces it).
    pub fn set_connected(&mut self, user: &str, connected: bool, now_ms: u64) -> bool {
        let Some(seat) = self.seat(user) else {
            return false;
        };
        if self.connected[seat] == connected || self.status == GameStatus::Finished {
            return false;
        }
        self.connected[seat] = connected;
        self.deadlines[seat] = if connected {
            0
        } else {
            now_ms + self.settings.grace_ms
        };
        true
    }

    /// The deadline shown for `user` (0 when connected).
    pub fn deadline_of(&self, user: &str) -> u64 {
        self.seat(user).map_or(0, |s| self.deadlines[s])
    }

    /// Applies whatever time made happen by `now_ms`: a challenge
    /// expired, a flag fell, a grace period ran out (the earliest of
    /// them). Returns whether the game ended.
    pub fn tick(&mut self, now_ms: u64) -> bool {
        match self.status {
            GameStatus::Finished => false,
            GameStatus::Waiting => {
                if now_ms >= self.expires_at {
                    self.finish(EndReason::Aborted, None);
                    return true;
                }
                false
            }
            GameStatus::InProgress => {
                let mut events: Vec<(u64, EndReason, Option<usize>)> = Vec::new();
                let turn = self.rules.turn();
                events.push((self.flag_at(), EndReason::Timeout, Some(1 - turn)));
                for seat in 0..2 {
                    let at = self.deadlines[seat];
                    if at != 0 {
                        let moved = self.moves.len() > seat;
                        if moved {
                            events.push((at, EndReason::Abandoned, Some(1 - seat)));
                        } else {
                            events.push((at, EndReason::Aborted, None));
                        }
                    }
                }
                events.sort_by_key(|e| e.0);
                match events.first() {
                    Some(&(at, reason, winner)) if at <= now_ms => {
                        if reason == EndReason::Timeout {
                            self.remaining[turn] = 0;
                            self.turn_since = at;
                        }
                        self.finish(reason, winner);
                        true
                    }
                    _ => false,
                }
            }
        }
    }

    fn flag_at(&self) -> u64 {
        self.turn_since + self.remaining[self.rules.turn()]
    }

    /// When [`Match::tick`] next has something to do, if ever.
    pub fn next_deadline(&self) -> Option<u64> {
        match self.status {
            GameStatus::Finished => None,
            GameStatus::Waiting => Some(self.expires_at),
            GameStatus::InProgress => {
                let mut at = self.flag_at();
                for d in self.deadlines {
                    if d != 0 {
                        at = at.min(d);
                    }
                }
                Some(at)
            }
        }
    }

    /// Each player's time left at `now_ms`.
    pub fn clocks(&self, now_ms: u64) -> [u64; 2] {
        let mut clocks = self.remaining;
        if self.status == GameStatus::InProgress {
            let turn = self.rules.turn();
            clocks[turn] = clocks[turn].saturating_sub(now_ms.saturating_sub(self.turn_since));
        }
        clocks
    }

    /// The spectator count.
    pub fn spectators(&self) -> u32 {
        self.spectators
    }

    /// Sets the spectator count.
    pub fn set_spectators(&mut self, n: u32) {
        self.spectators = n;
    }

    /// The player to move, by name.
    pub fn turn_name(&self) -> Option<&str> {
        (self.status == GameStatus::InProgress).then(|| self.players[self.rules.turn()].as_str())
    }

    /// The board as `viewer` sees it.
    pub fn board(&self, viewer: Viewer) -> Vec<String> {
        self.rules.view(viewer)
    }

    /// The whole state as `viewer` sees it at `now_ms`.
    pub fn state(&self, viewer: Viewer, now_ms: u64) -> GameState {
        let in_progress = self.status == GameStatus::InProgress;
        GameState {
            id: self.id,
            kind: self.rules.kind().to_owned(),
            players: self.players.to_vec(),
            time: self.time,
            status: self.status,
            seq: self.moves.len() as u64,
            moves: self.moves.clone(),
            board: self.rules.view(viewer),
            turn: self.turn_name().map(str::to_owned),
            legal: if in_progress {
                self.rules.legal_moves()
            } else {
                Vec::new()
            },
            clocks_ms: self.clocks(now_ms).to_vec(),
            connected: self.connected.to_vec(),
            deadlines_ms: self.deadlines.to_vec(),
            spectators: self.spectators,
            draw_offer: self.draw_offer.map(|p| self.players[p].clone()),
            result: self.end.map(|(reason, winner)| GameResult {
                reason,
                winner: winner.map(|w| self.players[w].clone()),
                ratings: self.ratings.clone(),
            }),
            now_ms,
        }
    }

    /// The game as `game_list` shows it.
    pub fn summary(&self) -> GameSummary {
        GameSummary {
            id: self.id,
            kind: self.rules.kind().to_owned(),
            players: self.players.to_vec(),
            time: self.time,
            status: self.status,
            seq: self.moves.len() as u64,
            spectators: self.spectators,
        }
    }
}

#[cfg(test)]
mod tests;
