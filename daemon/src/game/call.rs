//! A request for one live game, wherever it is hosted: [`Call`] is what a
//! player asks of a game (the operations that need no session of this
//! node), answered with an [`Answered`]. [`Games::call`] hands it to the
//! game's task when the game is live here, relays it to the node hosting
//! it on a fleet ([`super::fleet`]), and otherwise says why it cannot be
//! played (over, or no such game). Both travel between nodes as
//! MessagePack, hence the serde derives.

use agora_wire::game::{GameState, GameSummary};
use agora_wire::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};

use tokio::sync::oneshot;

use super::actor::{Answer, Cmd};
use super::{Games, no_such_game};

/// A request for a live game.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    /// The challenged player accepts.
    Accept { user: String },
    /// A player declines or withdraws a challenge.
    Decline { user: String },
    /// A player moves, against the position `seq`.
    Move {
        user: String,
        seq: u64,
        play: String,
    },
    /// A player resigns.
    Resign { user: String },
    /// A player offers, accepts, declines or withdraws a draw.
    Draw { user: String, offer: bool },
    /// The state.
    Show,
    /// The summary.
    Summary,
    /// A player's first connection (to a node) opened or last one closed.
    Presence { user: String, connected: bool },
}

/// A call's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answered {
    /// The game's state.
    State(Box<GameState>),
    /// The game's `seq` after a move.
    Seq(u64),
    /// The game's summary.
    Summary(Box<GameSummary>),
    /// Done (presence).
    Done,
}

impl Answered {
    /// The state, or an internal error for any other answer.
    pub fn state(self) -> Result<Box<GameState>, ErrorBody> {
        match self {
            Answered::State(s) => Ok(s),
            other => Err(super::internal(format!("expected a state, got {other:?}"))),
        }
    }
}

impl Games {
    /// Runs `call` on `game`: here when it is live here, on its host on a
    /// fleet, else an error saying why (over, or no such game).
    pub(super) async fn call(&self, game: u64, call: Call) -> Result<Answered, ErrorBody> {
        if let Some(answer) = self.call_here(game, call.clone()).await {
            return answer;
        }
        if let Some(relay) = self.inner.relay.get()
            && let Some(answer) = relay.call_elsewhere(game, &call).await
        {
            return answer;
        }
        self.not_live(game).await
    }

    /// Runs `call` on `game` when it is live on this node; `None` when it
    /// is not (or ended before answering).
    pub(super) async fn call_here(
        &self,
        game: u64,
        call: Call,
    ) -> Option<Result<Answered, ErrorBody>> {
        let state = |r: Option<Result<GameState, ErrorBody>>| {
            r.map(|r| r.map(|s| Answered::State(Box::new(s))))
        };
        match call {
            Call::Accept { user } => state(
                self.ask_here(game, |answer| Cmd::Accept { user, answer })
                    .await,
            ),
            Call::Decline { user } => state(
                self.ask_here(game, |answer| Cmd::Decline { user, answer })
                    .await,
            ),
            Call::Move { user, seq, play } => self
                .ask_here(game, |answer| Cmd::Move {
                    user,
                    seq,
                    play,
                    answer,
                })
                .await
                .map(|r| r.map(Answered::Seq)),
            Call::Resign { user } => state(
                self.ask_here(game, |answer| Cmd::Resign { user, answer })
                    .await,
            ),
            Call::Draw { user, offer } => state(
                self.ask_here(game, |answer| Cmd::Draw {
                    user,
                    offer,
                    answer,
                })
                .await,
            ),
            Call::Show => state(self.ask_here(game, |answer| Cmd::Show { answer }).await),
            Call::Summary => self
                .ask_here(game, |answer| Cmd::Summary { answer })
                .await
                .map(|r| r.map(|s| Answered::Summary(Box::new(s)))),
            Call::Presence { user, connected } => self
                .send(game, Cmd::Presence { user, connected })
                .then_some(Ok(Answered::Done)),
        }
    }

    /// Sends `cmd` (built around an answer channel) to `game`'s task when
    /// it is live here and waits for the answer; `None` when it is not
    /// (or ended before answering).
    pub(super) async fn ask_here<T>(
        &self,
        game: u64,
        cmd: impl FnOnce(Answer<T>) -> Cmd,
    ) -> Option<Result<T, ErrorBody>> {
        let (answer, rx) = oneshot::channel();
        if !self.send(game, cmd(answer)) {
            return None;
        }
        rx.await.ok()
    }

    /// Sends `cmd` to `game`'s task when it is live here.
    fn send(&self, game: u64, cmd: Cmd) -> bool {
        let state = self.inner.lock();
        state.live.get(&game).is_some_and(|tx| tx.send(cmd).is_ok())
    }

    /// Why `game` cannot be played: over, or never was.
    pub(super) async fn not_live<T>(&self, game: u64) -> Result<T, ErrorBody> {
        match self.stored(game).await? {
            Some(_) => Err(ErrorBody::new(
                ErrorCode::Conflict,
                format!("game {game} is over (agora game show {game})"),
            )),
            None => Err(no_such_game(game)),
        }
    }
}
