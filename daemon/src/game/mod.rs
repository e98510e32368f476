//! Games: real-time turn-based games between two users — matchmaking
//! pools, direct challenges, moves with clocks, reconnection, spectators,
//! Glicko-2 ratings and replays.
//!
//! - [`rules`]: the one trait a game implements (position, legal moves,
//!   apply, outcome, views), and the list of games: [`tictactoe`],
//!   [`connect4`];
//! - [`machine`]: one game's state machine (waiting → in_progress →
//!   finished), clocks and grace periods, pure and driven by explicit
//!   times;
//! - [`actor`]: the task that owns one live game;
//! - `call`: one request for a live game, wherever it is hosted;
//! - [`pool`]: matchmaking pools, pure (on a fleet, in PostgreSQL:
//!   `shared_pool`);
//! - [`fleet`]: on a fleet, the relay to and from the other nodes;
//! - [`rating`], Glicko-2.
//!
//! This module holds the service's handle: the live games' command
//! queues, which users play which games, their connected sessions, who
//! watches what, and the pools — one std mutex whose critical sections
//! never await — plus the operations. Topics: `game.ID` (a game's events;
//! both players' sessions are subscribed when it is created or when they
//! sign in, spectators by `game_watch`) and `game.user.NAME` (challenges).
//!
//! Live games are in memory; the database has every game from its
//! creation (so ids are never reused) and, once over, its result, move
//! list and rating changes. A game a crash interrupts is marked aborted
//! at the next start.

mod actor;
mod call;
pub mod connect4;
pub mod fleet;
pub mod machine;
pub mod pool;
pub mod rating;
pub mod rules;
mod shared_pool;
pub mod tictactoe;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use agora_db::games::{GameRow, NewGame};
use agora_db::{Access, Storage};
use agora_wire::game::{
    EndReason, GameResult, GameState, GameStatus, KINDS, MAX_LEADERBOARD, RatingChange,
    RatingEntry, TimeControl, game_topic, user_topic,
};
use agora_wire::names::validate_user_name;
use agora_wire::{BaseReply, ErrorBody, ErrorCode, GameEvent, GameOp, GameReply};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::actor::Cmd;
use self::call::{Answered, Call};
use self::connect4::ConnectFour;
use self::machine::{Match, Settings};
use self::pool::{Entry, Pairing, Pools};
use self::rules::{Rules, Viewer};
use self::tictactoe::TicTacToe;
use crate::hub::Hub;
use crate::service::{Lifecycle, Routed, Service, internal, signed_in, storage};
use crate::session::Session;

pub use self::machine::Settings as GameSettings;

/// The service's time: milliseconds since the epoch, read from tokio's
/// clock, so tests that pause tokio's time control the games' clocks and
/// grace periods too.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_ms: u64,
    start: tokio::time::Instant,
}

impl Clock {
    /// A clock reading the wall time now.
    pub fn new() -> Clock {
        Clock {
            base_ms: crate::now_ms(),
            start: tokio::time::Instant::now(),
        }
    }

    /// Milliseconds since the epoch.
    pub fn now_ms(&self) -> u64 {
        self.base_ms + self.start.elapsed().as_millis() as u64
    }

    /// The tokio instant of a time in ms since the epoch.
    pub fn instant(&self, ms: u64) -> tokio::time::Instant {
        self.start + Duration::from_millis(ms.saturating_sub(self.base_ms))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// The game service. Cheap to clone.
#[derive(Clone)]
pub struct Games {
    inner: Arc<Inner>,
}

/// What the service's handle and every game's task share.
pub struct Inner {
    state: Mutex<State>,
    hub: Arc<Hub>,
    storage: Storage,
    settings: Settings,
    clock: Clock,
    /// Cancelled at shutdown: game tasks stop.
    token: CancellationToken,
    /// On a fleet, the relay to the other nodes ([`fleet`]).
    relay: OnceLock<Arc<fleet::Relay>>,
}

#[derive(Default)]
struct State {
    /// Live games' command queues.
    live: HashMap<u64, mpsc::UnboundedSender<Cmd>>,
    /// Live games that have started (the public list), by id.
    started: BTreeSet<u64>,
    /// Each user's live games.
    by_user: HashMap<String, BTreeSet<u64>>,
    /// Signed-in sessions by user name.
    sessions: HashMap<String, HashMap<u64, Arc<Session>>>,
    /// What each session watches.
    watching: HashMap<u64, BTreeSet<u64>>,
    pools: Pools,
    /// Games other nodes host that players or spectators here follow.
    remote: HashMap<u64, fleet::Remote>,
    /// On a fleet, for the games hosted here: the other nodes each player
    /// is connected to (they said so through the relay). A player is
    /// connected while they have a session here or one of these.
    elsewhere: HashMap<u64, HashMap<String, BTreeSet<String>>>,
}

/// The most game types one `game_queue` names.
const MAX_KINDS: usize = 8;
/// The default number of leaderboard entries.
const DEFAULT_LEADERBOARD: u32 = 20;

impl Games {
    /// Opens the service: games a crash left unfinished are marked
    /// aborted.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub fn open(storage: Storage, hub: Arc<Hub>, settings: Settings) -> anyhow::Result<Games> {
        // On a fleet's PostgreSQL, only this node's: the others' games are
        // live (a node that died takes its own with it: pg::fleet).
        let now = crate::now_ms() as i64;
        let aborted = storage.games(Access::Write, |g| g.abort_unfinished(now))?;
        if aborted > 0 {
            tracing::warn!(aborted, "games left unfinished by the last run are aborted");
        }
        let relay = OnceLock::new();
        if let Storage::Postgres(pg) = &storage {
            let _ = relay.set(Arc::new(fleet::Relay::new(pg.clone())));
        }
        Ok(Games {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                hub,
                storage,
                settings,
                clock: Clock::new(),
                token: CancellationToken::new(),
                relay,
            }),
        })
    }

    /// Starts the matchmaking task (which pairs waiters as their windows
    /// widen, once a second) on `tracker`, and on a fleet the relay
    /// ([`fleet::spawn`]); they and every game's task stop when `token` is
    /// cancelled.
    pub fn spawn(&self, token: CancellationToken, tracker: &TaskTracker) {
        if let Some(relay) = self.inner.relay.get() {
            fleet::spawn(self, relay, token.clone(), tracker);
        }
        let games = self.clone();
        tracker.spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    _ = every.tick() => {
                        if games.inner.relay.get().is_some() {
                            games.pair_shared().await;
                            continue;
                        }
                        let pairs = {
                            let now = games.inner.clock.now_ms();
                            games.inner.lock().pools.pair_all(now)
                        };
                        for pair in pairs {
                            games.start_pairing(pair);
                        }
                    }
                }
            }
            games.inner.token.cancel();
        });
    }

    /// Starts a game for a pairing, in the background; the players hear
    /// of it on the game's topic.
    fn start_pairing(&self, pair: Pairing) {
        let games = self.clone();
        tokio::spawn(async move {
            let mut players = [pair.a, pair.b];
            if rand::random::<bool>() {
                players.swap(0, 1);
            }
            if let Err(err) = games.create(players, None, &pair.kind, pair.time).await {
                tracing::warn!(message = %err.message, "cannot start a paired game");
            }
        });
    }

    /// Creates a game (a challenge by `players[challenger]`, or started
    /// now), starts its task, subscribes both players' sessions to its
    /// topic and announces it.
    async fn create(
        &self,
        players: [String; 2],
        challenger: Option<usize>,
        kind: &str,
        time: TimeControl,
    ) -> Result<GameState, ErrorBody> {
        let rules = new_game(kind).ok_or_else(|| ErrorBody::bad_request(unknown_kind(kind)))?;
        let row = NewGame {
            kind: kind.to_owned(),
            first: players[0].clone(),
            second: players[1].clone(),
            initial_ms: time.initial_ms,
            increment_ms: time.increment_ms,
            status: if challenger.is_some() {
                "waiting"
            } else {
                "in_progress"
            },
            created_at_ms: crate::now_ms() as i64,
        };
        let id = storage(&self.inner.storage, move |s| {
            s.games(Access::Write, |g| g.create(&row))
        })
        .await? as u64;
        let now = self.inner.clock.now_ms();
        let settings = self.inner.settings;
        let mut game = match challenger {
            Some(c) => Match::challenge(id, players.clone(), c, rules, time, settings, now),
            None => Match::started(id, players.clone(), rules, time, settings, now),
        };
        let topic = game_topic(id);
        let (tx, rx) = mpsc::unbounded_channel();
        let sessions: Vec<Arc<Session>> = {
            let mut state = self.inner.lock();
            for p in &players {
                if !state.sessions.contains_key(p) {
                    game.set_connected(p, false, now);
                }
                state.by_user.entry(p.clone()).or_default().insert(id);
            }
            state.live.insert(id, tx);
            if challenger.is_none() {
                state.started.insert(id);
            }
            players
                .iter()
                .flat_map(|p| {
                    state
                        .sessions
                        .get(p)
                        .into_iter()
                        .flat_map(|m| m.values().cloned())
                })
                .collect()
        };
        let topics = [topic.clone()];
        for s in &sessions {
            self.inner.hub.subscribe(s, &topics);
            s.add_topics(&topics);
        }
        let state = game.state(Viewer::Spectator, now);
        match challenger {
            None => {
                self.inner.publish(
                    &game,
                    &topic,
                    GameEvent::Started {
                        state: Box::new(state.clone()),
                    },
                );
            }
            Some(c) => {
                self.inner.publish(
                    &game,
                    &user_topic(&players[1 - c]),
                    GameEvent::Challenged {
                        game: game.summary(),
                    },
                );
            }
        }
        tracing::debug!(game = id, kind, players = ?players, "game created");
        tokio::spawn(actor::run(
            game,
            rx,
            self.inner.clone(),
            self.inner.token.clone(),
        ));
        Ok(state)
    }

    async fn stored(&self, game: u64) -> Result<Option<GameRow>, ErrorBody> {
        let Ok(id) = i64::try_from(game) else {
            return Ok(None);
        };
        storage(&self.inner.storage, move |s| {
            s.games(Access::Read, |g| g.find(id))
        })
        .await
    }

    async fn queue(
        &self,
        user: String,
        kinds: Vec<String>,
        time: TimeControl,
    ) -> Result<GameReply, ErrorBody> {
        let db_user = user.clone();
        let wanted = kinds.clone();
        let ratings = storage(&self.inner.storage, move |s| {
            s.games(Access::Read, |repo| {
                wanted
                    .into_iter()
                    .map(|k| Ok((k.clone(), repo.rating(&db_user, &k)?.rating)))
                    .collect::<agora_db::Result<Vec<_>>>()
            })
        })
        .await?;
        let now = self.inner.clock.now_ms();
        let entry = Entry {
            user,
            kinds: ratings,
            time,
            since_ms: now,
        };
        if self.inner.relay.get().is_some() {
            self.queue_shared(entry).await?;
            return Ok(GameReply::Queued { kinds, time });
        }
        let pair = {
            let mut state = self.inner.lock();
            state.pools.enqueue(entry);
            state.pools.pair_newest(now)
        };
        if let Some(pair) = pair {
            self.start_pairing(pair);
        }
        Ok(GameReply::Queued { kinds, time })
    }

    async fn challenge(
        &self,
        me: String,
        opponent: String,
        kind: String,
        time: TimeControl,
    ) -> Result<GameReply, ErrorBody> {
        let opponent = validate_user_name(&opponent).map_err(ErrorBody::bad_request)?;
        if opponent == me {
            return Err(ErrorBody::bad_request("you cannot challenge yourself"));
        }
        let name = opponent.clone();
        // The accounts' store: on a fleet, everyone registered anywhere.
        let exists = storage(&self.inner.storage, move |s| {
            s.users(Access::Read, |u| u.find_by_name(&name))
        })
        .await?
        .is_some();
        if !exists {
            return Err(ErrorBody::new(
                ErrorCode::NotFound,
                format!("no user named {opponent}"),
            ));
        }
        // The challenger moves first (the challenged chooses to accept).
        let state = self.create([me, opponent], Some(0), &kind, time).await?;
        Ok(GameReply::State {
            state: Box::new(state),
        })
    }

    async fn list(&self, me: &str) -> Result<GameReply, ErrorBody> {
        let ids: BTreeSet<u64> = {
            let state = self.inner.lock();
            let mine = state.by_user.get(me).cloned().unwrap_or_default();
            state.started.union(&mine).copied().collect()
        };
        let ids = ids.into_iter().chain(self.remote_games_of(me));
        let asks = ids
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .rev()
            .map(|id| self.call(id, Call::Summary));
        let games = futures::future::join_all(asks)
            .await
            .into_iter()
            .filter_map(|answer| match answer {
                Ok(Answered::Summary(s)) => Some(*s),
                _ => None,
            })
            .filter(|g| g.status != GameStatus::Finished)
            .collect();
        Ok(GameReply::Games { games })
    }

    async fn show(&self, game: u64) -> Result<GameReply, ErrorBody> {
        match self.call(game, Call::Show).await.and_then(Answered::state) {
            Ok(state) => Ok(GameReply::State { state }),
            Err(e) if e.code == ErrorCode::Conflict => {
                let row = self.stored(game).await?.ok_or_else(|| no_such_game(game))?;
                Ok(GameReply::State {
                    state: Box::new(replay(&row)?.0),
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn replay(&self, game: u64) -> Result<GameReply, ErrorBody> {
        let row = self.stored(game).await?.ok_or_else(|| no_such_game(game))?;
        if row.status != "finished" {
            return Err(ErrorBody::new(
                ErrorCode::Conflict,
                format!("game {game} is not over yet (agora game watch {game})"),
            ));
        }
        let (state, positions) = replay(&row)?;
        Ok(GameReply::Replay {
            state: Box::new(state),
            positions,
        })
    }

    async fn leaderboard(
        &self,
        kind: Option<String>,
        limit: Option<u32>,
    ) -> Result<GameReply, ErrorBody> {
        if let Some(k) = &kind
            && !KINDS.contains(&k.as_str())
        {
            return Err(ErrorBody::bad_request(unknown_kind(k)));
        }
        let limit = limit.unwrap_or(DEFAULT_LEADERBOARD);
        if !(1..=MAX_LEADERBOARD).contains(&limit) {
            return Err(ErrorBody::bad_request(format!(
                "limit {limit} is outside 1..={MAX_LEADERBOARD}"
            )));
        }
        let rows = storage(&self.inner.storage, move |s| {
            s.games(Access::Read, |g| g.leaderboard(kind.as_deref(), limit))
        })
        .await?;
        Ok(GameReply::Leaderboard {
            entries: rows
                .into_iter()
                .map(|r| RatingEntry {
                    user: r.user,
                    kind: r.kind,
                    rating: r.rating.rating.round() as i64,
                    deviation: r.rating.deviation.round() as i64,
                    played: r.played,
                    won: r.won,
                    lost: r.lost,
                    drawn: r.drawn,
                })
                .collect(),
        })
    }

    /// `session` watches `game`: here when it is live here, through its
    /// host on a fleet; a finished game is shown as stored.
    async fn watch(&self, game: u64, session: Arc<Session>) -> Result<GameReply, ErrorBody> {
        let sid = session.id;
        let here = self
            .ask_here(game, |answer| Cmd::Watch {
                session: session.clone(),
                answer,
            })
            .await;
        let watched = match here {
            Some(Ok(state)) => {
                self.inner
                    .lock()
                    .watching
                    .entry(sid)
                    .or_default()
                    .insert(game);
                Ok(Box::new(state))
            }
            Some(Err(e)) => Err(e),
            None => match self.watch_elsewhere(game, &session).await {
                Some(answer) => answer,
                None => self.not_live(game).await,
            },
        };
        match watched {
            Ok(state) => Ok(GameReply::State { state }),
            Err(e) if e.code == ErrorCode::Conflict => self.show(game).await,
            Err(e) => Err(e),
        }
    }

    /// A session signed in: subscribe it to the user's challenges and
    /// live games; the user's first session reconnects them to their
    /// games.
    fn on_signed_in(&self, session: &Arc<Session>) {
        let Some(user) = session.user() else { return };
        let (first, games) = {
            let mut state = self.inner.lock();
            let sessions = state.sessions.entry(user.name.clone()).or_default();
            let first = sessions.is_empty();
            sessions.insert(session.id, session.clone());
            let games: Vec<(u64, mpsc::UnboundedSender<Cmd>)> = state
                .by_user
                .get(&user.name)
                .into_iter()
                .flatten()
                .filter_map(|id| state.live.get(id).map(|tx| (*id, tx.clone())))
                .collect();
            (first, games)
        };
        let mut topics = vec![user_topic(&user.name)];
        topics.extend(games.iter().map(|(id, _)| game_topic(*id)));
        self.inner.hub.subscribe(session, &topics);
        session.add_topics(&topics);
        if first {
            for (_, tx) in games {
                let _ = tx.send(Cmd::Presence {
                    user: user.name.clone(),
                    connected: true,
                });
            }
        }
    }

    /// A session closed or signed out: it stops watching; the user's last
    /// session leaves the pools and starts the grace period in their
    /// games (on a fleet, also those other nodes host).
    fn on_session_closed(&self, session: &Session) {
        let last = self.forget_session(session);
        if self.inner.relay.get().is_some() {
            let user = session.user().filter(|_| last);
            self.leave_remote_games(session, user.as_ref().map(|u| u.name.as_str()));
            if let Some(user) = user {
                let games = self.clone();
                tokio::spawn(async move {
                    if let Err(err) = games.unqueue_shared(user.name).await {
                        tracing::warn!(message = %err.message, "games: cannot leave the fleet's pools");
                    }
                });
            }
        }
    }

    /// Takes `session` out of this node's books; whether it was its
    /// user's last session here.
    fn forget_session(&self, session: &Session) -> bool {
        let mut state = self.inner.lock();
        let watched = state.watching.remove(&session.id).unwrap_or_default();
        for id in watched {
            if let Some(tx) = state.live.get(&id) {
                let _ = tx.send(Cmd::Unwatch {
                    session: session.id,
                });
            }
        }
        let Some(user) = session.user() else {
            return false;
        };
        let Some(sessions) = state.sessions.get_mut(&user.name) else {
            return false;
        };
        sessions.remove(&session.id);
        if !sessions.is_empty() {
            return false;
        }
        state.sessions.remove(&user.name);
        state.pools.remove(&user.name);
        for id in state.by_user.get(&user.name).into_iter().flatten() {
            // Still connected when another node says so.
            let elsewhere = state
                .elsewhere
                .get(id)
                .and_then(|e| e.get(&user.name))
                .is_some_and(|nodes| !nodes.is_empty());
            if let Some(tx) = state.live.get(id)
                && !elsewhere
            {
                let _ = tx.send(Cmd::Presence {
                    user: user.name.clone(),
                    connected: false,
                });
            }
        }
        true
    }
}

/// A new game of `kind`, or `None` for an unknown type. The list of
/// known types is [`agora_wire::game::KINDS`]; a test keeps both equal.
pub fn new_game(kind: &str) -> Option<Box<dyn Rules>> {
    match kind {
        "tictactoe" => Some(Box::new(TicTacToe::default())),
        "connect4" => Some(Box::new(ConnectFour::default())),
        _ => None,
    }
}

/// The error for an unknown game type, naming the known ones.
pub fn unknown_kind(kind: &str) -> String {
    format!(
        "unknown game type {kind:?}; known: {}",
        agora_wire::game::KINDS.join(", ")
    )
}

fn no_such_game(game: u64) -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, format!("no game {game}"))
}

/// A stored game's final state and every position of it, replayed through
/// its rules.
fn replay(row: &GameRow) -> Result<(GameState, Vec<Vec<String>>), ErrorBody> {
    let mut rules = new_game(&row.kind).ok_or_else(|| internal(unknown_kind(&row.kind)))?;
    let mut positions = vec![rules.board()];
    for mv in &row.moves {
        rules.play(mv).map_err(internal)?;
        positions.push(rules.board());
    }
    let players = vec![row.first.clone(), row.second.clone()];
    let status = match row.status.as_str() {
        "waiting" => GameStatus::Waiting,
        "in_progress" => GameStatus::InProgress,
        _ => GameStatus::Finished,
    };
    let result = row
        .reason
        .as_deref()
        .and_then(EndReason::parse)
        .map(|reason| GameResult {
            reason,
            winner: row.winner.clone(),
            ratings: row
                .ratings
                .map(|r| {
                    players
                        .iter()
                        .zip(r)
                        .map(|(user, (before, after))| RatingChange {
                            user: user.clone(),
                            before: before.round() as i64,
                            after: after.round() as i64,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
    let state = GameState {
        id: row.id as u64,
        kind: row.kind.clone(),
        players,
        time: TimeControl {
            initial_ms: row.initial_ms,
            increment_ms: row.increment_ms,
        },
        status,
        seq: row.moves.len() as u64,
        moves: row.moves.clone(),
        board: rules.board(),
        turn: None,
        legal: Vec::new(),
        clocks_ms: Vec::new(),
        connected: Vec::new(),
        deadlines_ms: Vec::new(),
        spectators: 0,
        draw_offer: None,
        result,
        now_ms: crate::now_ms(),
    };
    Ok((state, positions))
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes an event of `game` on `topic` here and, on a fleet, to
    /// the other nodes ([`fleet`]).
    fn publish(&self, game: &Match, topic: &str, event: GameEvent) {
        if let Some(relay) = self.relay.get() {
            relay.event(&fleet::EventBody {
                game: game.id(),
                players: game.players().clone(),
                topic: topic.to_owned(),
                event: event.clone(),
            });
        }
        self.hub.publish(topic, event);
    }

    /// A challenge was accepted: the game is listed publicly.
    fn started(&self, id: u64) {
        self.lock().started.insert(id);
    }

    /// A game's task finished: forget the game and take its players' and
    /// watchers' sessions off its topic.
    fn ended(&self, id: u64, players: &[String; 2], watchers: &HashMap<u64, Arc<Session>>) {
        let sessions: Vec<Arc<Session>> = {
            let mut state = self.lock();
            state.live.remove(&id);
            state.started.remove(&id);
            state.elsewhere.remove(&id);
            for p in players {
                if let Some(games) = state.by_user.get_mut(p) {
                    games.remove(&id);
                    if games.is_empty() {
                        state.by_user.remove(p);
                    }
                }
            }
            for w in watchers.keys() {
                if let Some(set) = state.watching.get_mut(w) {
                    set.remove(&id);
                }
            }
            players
                .iter()
                .flat_map(|p| {
                    state
                        .sessions
                        .get(p)
                        .into_iter()
                        .flat_map(|m| m.values().cloned())
                })
                .chain(watchers.values().cloned())
                .collect()
        };
        let topics = [game_topic(id)];
        for s in sessions {
            self.hub.unsubscribe(s.id, &topics);
            s.remove_topics(&topics);
        }
    }
}

/// Checks a queue's or challenge's game types and time control.
fn check_kinds(kinds: &[String]) -> Result<Vec<String>, ErrorBody> {
    if kinds.is_empty() {
        return Err(ErrorBody::bad_request("name at least one game type"));
    }
    if kinds.len() > MAX_KINDS {
        return Err(ErrorBody::bad_request(format!(
            "at most {MAX_KINDS} game types"
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for k in kinds {
        if !KINDS.contains(&k.as_str()) {
            return Err(ErrorBody::bad_request(unknown_kind(k)));
        }
        if !out.contains(k) {
            out.push(k.clone());
        }
    }
    Ok(out)
}

impl Service for Games {
    type Op = GameOp;

    /// Every game operation needs a signed-in session.
    fn route(&self, op: GameOp, session: &Arc<Session>) -> Routed {
        let user = match signed_in(session) {
            Ok(user) => user.name,
            Err(err) => return Routed::Done(Err(err)),
        };
        let games = self.clone();
        match op {
            GameOp::Queue { kinds, time } => {
                let checked = check_kinds(&kinds)
                    .and_then(|k| time.check().map(|()| k).map_err(ErrorBody::bad_request));
                match checked {
                    Ok(kinds) => Routed::later(async move { games.queue(user, kinds, time).await }),
                    Err(e) => Routed::Done(Err(e)),
                }
            }
            GameOp::Cancel => {
                games.inner.lock().pools.remove(&user);
                Routed::later(async move {
                    games.unqueue_shared(user).await?;
                    Ok(BaseReply::Done)
                })
            }
            GameOp::Challenge {
                opponent,
                kind,
                time,
            } => {
                let checked = check_kinds(std::slice::from_ref(&kind))
                    .and_then(|_| time.check().map_err(ErrorBody::bad_request));
                match checked {
                    Ok(()) => {
                        Routed::later(
                            async move { games.challenge(user, opponent, kind, time).await },
                        )
                    }
                    Err(e) => Routed::Done(Err(e)),
                }
            }
            GameOp::Accept { game } => Routed::later(async move {
                let state = games.call(game, Call::Accept { user }).await?.state()?;
                Ok(GameReply::State { state })
            }),
            GameOp::Decline { game } => Routed::later(async move {
                let state = games.call(game, Call::Decline { user }).await?.state()?;
                Ok(GameReply::State { state })
            }),
            GameOp::Move { game, seq, play } => Routed::later(async move {
                match games.call(game, Call::Move { user, seq, play }).await? {
                    Answered::Seq(seq) => Ok(GameReply::Moved { game, seq }),
                    other => Err(internal(format!("expected a seq, got {other:?}"))),
                }
            }),
            GameOp::Resign { game } => Routed::later(async move {
                let state = games.call(game, Call::Resign { user }).await?.state()?;
                Ok(GameReply::State { state })
            }),
            GameOp::Draw { game, offer } => Routed::later(async move {
                let state = games
                    .call(game, Call::Draw { user, offer })
                    .await?
                    .state()?;
                Ok(GameReply::State { state })
            }),
            GameOp::Watch { game } => {
                let session = session.clone();
                Routed::later(async move { games.watch(game, session).await })
            }
            GameOp::Unwatch { game } => {
                games.unwatch_elsewhere(game, session);
                let mut state = games.inner.lock();
                if let Some(set) = state.watching.get_mut(&session.id) {
                    set.remove(&game);
                }
                if let Some(tx) = state.live.get(&game) {
                    let _ = tx.send(Cmd::Unwatch {
                        session: session.id,
                    });
                }
                Routed::done(Ok(BaseReply::Done))
            }
            GameOp::Show { game } => Routed::later(async move { games.show(game).await }),
            GameOp::List => Routed::later(async move { games.list(&user).await }),
            GameOp::Leaderboard { kind, limit } => {
                Routed::later(async move { games.leaderboard(kind, limit).await })
            }
            GameOp::Replay { game } => Routed::later(async move { games.replay(game).await }),
        }
    }
}

/// Games follow sessions: players reconnect to their games, and a user's
/// last session leaving starts the grace period.
impl Lifecycle for Games {
    fn opened<'a>(&'a self, session: &'a Arc<Session>) -> BoxFuture<'a, ()> {
        self.on_signed_in(session);
        async move { self.follow_remote_games(session).await }.boxed()
    }

    fn signed_in<'a>(&'a self, session: &'a Arc<Session>) -> BoxFuture<'a, ()> {
        self.on_signed_in(session);
        async move { self.follow_remote_games(session).await }.boxed()
    }

    fn signing_out(&self, session: &Session) {
        self.on_session_closed(session);
    }

    fn closed(&self, session: &Session) {
        self.on_session_closed(session);
    }
}

#[cfg(test)]
mod tests;
