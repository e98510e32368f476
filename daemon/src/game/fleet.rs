//! Games across a fleet of daemons sharing PostgreSQL (docs/FLEET.md,
//! "Games across nodes"). A live game stays an actor on the node that
//! made it (its *host*, `games.node`); a player or spectator connected to
//! any other node plays and watches it through the relay
//! (`agora_db::pg::game_relay`):
//!
//! - **calls**: a [`Call`] for a game this node does not host goes to the
//!   host as a row and a notification; the host runs it on the game's
//!   task and sends the answer back the same way ([`Relay::call_elsewhere`],
//!   [`answer_call`]). A host that does not answer within
//!   [`CALL_TIMEOUT`] gets an `unavailable` error (a node that died is
//!   reaped and its games aborted: `pg::fleet::reap`).
//! - **events**: everything a host publishes on a game's topic (and the
//!   challenges on a player's topic) is also posted for the other nodes,
//!   in order, by one task; each node publishes it to its own sessions
//!   ([`Games::follow_event`]), subscribing the game's players connected
//!   there first, and telling the host they are connected (so their
//!   clocks' grace periods follow where they really are).
//! - a player's first session on a node follows the games other nodes
//!   host for them, and their last one tells those hosts they left.
//!
//! Not relayed: spectators on other nodes are not counted in a game's
//! spectator number, and events sent while a node's listener reconnects
//! are missed (the next event or `game show` brings the state back).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_db::Pg;
use agora_db::pg::game_relay::{self, CHANNEL, Kind, Note};
use agora_wire::game::game_topic;
use agora_wire::{ErrorBody, ErrorCode, GameEvent, decode, encode};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Games;
use super::call::{Answered, Call};
use crate::service::{blocking, internal, stored};
use crate::session::Session;

/// How long a call waits for the host's answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long relay rows are kept (every node has read an event long
/// before; a call or answer that old has no one waiting).
const KEEP: Duration = Duration::from_secs(60);

/// This node's end of the relay.
pub struct Relay {
    pg: Pg,
    node: String,
    /// Calls waiting for an answer, by token.
    waiting: Mutex<HashMap<u64, oneshot::Sender<Result<Answered, ErrorBody>>>>,
    /// Events to post, in the order they were published.
    events: mpsc::UnboundedSender<Vec<u8>>,
    /// Taken by [`spawn`].
    outbox: Mutex<Option<mpsc::UnboundedReceiver<Vec<u8>>>>,
}

#[derive(Serialize, Deserialize)]
struct CallBody {
    token: u64,
    from: String,
    game: u64,
    call: Call,
}

#[derive(Serialize, Deserialize)]
struct AnswerBody {
    token: u64,
    answer: Result<Answered, ErrorBody>,
}

/// An event of a game, as the host sends it to the other nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBody {
    /// The game.
    pub game: u64,
    /// Its players.
    pub players: [String; 2],
    /// The topic it was published on.
    pub topic: String,
    /// The event.
    pub event: GameEvent,
}

/// A game another node hosts, as this node follows it.
#[derive(Default)]
pub struct Remote {
    /// Its players (empty until known).
    players: Vec<String>,
    /// Players connected here whom the host was told about.
    present: BTreeSet<String>,
    /// Sessions here watching it.
    watchers: HashMap<u64, Arc<Session>>,
}

impl Relay {
    /// The relay of the node `pg` connects as.
    pub fn new(pg: Pg) -> Relay {
        let node = pg.node().unwrap_or_default().to_owned();
        let (events, outbox) = mpsc::unbounded_channel();
        Relay {
            pg,
            node,
            waiting: Mutex::new(HashMap::new()),
            events,
            outbox: Mutex::new(Some(outbox)),
        }
    }

    /// The fleet's database.
    pub fn pg(&self) -> &Pg {
        &self.pg
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Queues an event this node published for the other nodes.
    pub fn event(&self, body: &EventBody) {
        match encode(body) {
            Ok(bytes) => {
                let _ = self.events.send(bytes.to_vec());
            }
            Err(err) => tracing::error!(%err, "games: cannot encode an event for the fleet"),
        }
    }

    /// Runs `call` on the node hosting `game` when that is another node
    /// and the game is not over; `None` otherwise.
    pub async fn call_elsewhere(
        &self,
        game: u64,
        call: &Call,
    ) -> Option<Result<Answered, ErrorBody>> {
        let id = i64::try_from(game).ok()?;
        let pg = self.pg.clone();
        let host = blocking(move || pg.with(|c| game_relay::host_of(c, id))).await;
        let (host, status) = match host {
            Ok(Ok(found)) => found?,
            Ok(Err(err)) => return Some(Err(stored(err))),
            Err(err) => return Some(Err(err)),
        };
        if status == "finished" || host == self.node {
            return None;
        }
        Some(self.relay(game, &host, call.clone()).await)
    }

    async fn relay(&self, game: u64, host: &str, call: Call) -> Result<Answered, ErrorBody> {
        let token = rand::random::<u64>();
        let (tx, rx) = oneshot::channel();
        self.waiting_calls().insert(token, tx);
        let body = CallBody {
            token,
            from: self.node.clone(),
            game,
            call,
        };
        let posted = match encode(&body) {
            Ok(bytes) => {
                let (pg, host) = (self.pg.clone(), host.to_owned());
                blocking(move || pg.with(|c| game_relay::post(c, Kind::Call, &host, &bytes, now())))
                    .await
                    .and_then(|r| r.map_err(stored))
            }
            Err(err) => Err(internal(err)),
        };
        if let Err(err) = posted {
            self.waiting_calls().remove(&token);
            return Err(err);
        }
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            _ => {
                self.waiting_calls().remove(&token);
                Err(ErrorBody {
                    code: ErrorCode::Unavailable,
                    message: format!(
                        "node {host}, which hosts game {game}, is not answering; retry shortly"
                    ),
                    retry_after_ms: Some(1_000),
                })
            }
        }
    }

    fn waiting_calls(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Result<Answered, ErrorBody>>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A call's answer arrived.
    fn answered(&self, body: AnswerBody) {
        if let Some(tx) = self.waiting_calls().remove(&body.token) {
            let _ = tx.send(body.answer);
        }
    }
}

fn now() -> i64 {
    crate::now_ms() as i64
}

/// Starts the relay's listener thread and its event poster (which also
/// sweeps old rows); both stop when `token` is cancelled.
pub fn spawn(games: &Games, relay: &Arc<Relay>, token: CancellationToken, tracker: &TaskTracker) {
    let outbox = relay
        .outbox
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(outbox) = outbox {
        tracker.spawn(post_events(relay.clone(), outbox, token.clone()));
    }
    let (games, relay) = (games.clone(), relay.clone());
    let runtime = tokio::runtime::Handle::current();
    let started = std::thread::Builder::new()
        .name("agora-games-fleet".into())
        .spawn(move || {
            crate::storage::follow_notifications(
                &relay.pg.clone(),
                None,
                &[CHANNEL],
                &|| token.is_cancelled(),
                &mut |notes| {
                    for note in notes.iter().filter_map(|n| Note::parse(&n.payload)) {
                        if let Err(err) = follow(&games, &relay, &runtime, &note) {
                            tracing::warn!(%err, "games: cannot follow the fleet's relay");
                        }
                    }
                    true
                },
                &mut || true,
            );
        });
    if let Err(err) = started {
        tracing::error!(%err, "cannot start the games' fleet listener");
    }
}

/// Posts events in order; every [`KEEP`], sweeps the rows older than it.
async fn post_events(
    relay: Arc<Relay>,
    mut outbox: mpsc::UnboundedReceiver<Vec<u8>>,
    token: CancellationToken,
) {
    let mut sweep = tokio::time::interval(KEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = sweep.tick() => {
                let pg = relay.pg.clone();
                let before = now() - KEEP.as_millis() as i64;
                if let Ok(Err(err)) = blocking(move || pg.with(|c| game_relay::sweep(c, before))).await {
                    tracing::warn!(%err, "games: cannot sweep the fleet's relay");
                }
            }
            body = outbox.recv() => {
                let Some(body) = body else { return };
                let (pg, node) = (relay.pg.clone(), relay.node.clone());
                let posted = blocking(move || {
                    pg.with(|c| game_relay::post(c, Kind::Event, &node, &body, now()))
                })
                .await;
                if let Ok(Err(err)) = posted {
                    tracing::warn!(%err, "games: an event could not be sent to the fleet");
                }
            }
        }
    }
}

/// Follows one relay notification (on the listener thread).
fn follow(
    games: &Games,
    relay: &Arc<Relay>,
    runtime: &tokio::runtime::Handle,
    note: &Note,
) -> agora_db::Result<()> {
    match note.kind {
        Kind::Call if note.node == relay.node => {
            let Some(bytes) = relay.pg.with(|c| game_relay::take(c, note.id))? else {
                return Ok(());
            };
            match decode::<CallBody>(&bytes) {
                Ok(body) => {
                    runtime.spawn(answer_call(games.clone(), relay.clone(), body));
                }
                Err(err) => tracing::warn!(%err, "games: a malformed call from the fleet"),
            }
        }
        Kind::Answer if note.node == relay.node => {
            if let Some(bytes) = relay.pg.with(|c| game_relay::take(c, note.id))? {
                match decode::<AnswerBody>(&bytes) {
                    Ok(body) => relay.answered(body),
                    Err(err) => tracing::warn!(%err, "games: a malformed answer from the fleet"),
                }
            }
        }
        Kind::Event => {
            if let Some(bytes) = relay.pg.with(|c| game_relay::read(c, note.id))? {
                match decode::<EventBody>(&bytes) {
                    Ok(body) => {
                        let games = games.clone();
                        let _guard = runtime.enter();
                        games.follow_event(body);
                    }
                    Err(err) => tracing::warn!(%err, "games: a malformed event from the fleet"),
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Runs a call another node relayed here and sends its answer back.
async fn answer_call(games: Games, relay: Arc<Relay>, body: CallBody) {
    let here = match body.call {
        Call::Presence { user, connected } => {
            games.presence_from(body.game, &body.from, user, connected)
        }
        call => games.call_here(body.game, call).await,
    };
    let answer = match here {
        Some(answer) => answer,
        None => games.not_live(body.game).await,
    };
    let reply = AnswerBody {
        token: body.token,
        answer,
    };
    let bytes = match encode(&reply) {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::error!(%err, "games: cannot encode an answer for the fleet");
            return;
        }
    };
    let (pg, to) = (relay.pg.clone(), body.from);
    let posted =
        blocking(move || pg.with(|c| game_relay::post(c, Kind::Answer, &to, &bytes, now()))).await;
    if let Ok(Err(err)) = posted {
        tracing::warn!(%err, "games: an answer could not be sent to the fleet");
    }
}

impl Games {
    /// Publishes an event another node's game sent: the game's players
    /// connected here follow its topic first (and their presence goes to
    /// the host); when it ended, everyone here stops following it.
    pub(super) fn follow_event(&self, body: EventBody) {
        let EventBody {
            game,
            players,
            topic,
            event,
        } = body;
        let topics = [game_topic(game)];
        let ended = matches!(event, GameEvent::Ended { .. });
        let mut arrived = Vec::new();
        {
            let mut guard = self.inner.lock();
            let state = &mut *guard;
            // Followed only where someone here plays or watches it.
            let here = players.iter().any(|p| state.sessions.contains_key(p));
            if !here && !state.remote.contains_key(&game) {
                drop(guard);
                self.inner.hub.publish(&topic, event);
                return;
            }
            let remote = state.remote.entry(game).or_default();
            remote.players = players.to_vec();
            for p in &players {
                let Some(sessions) = state.sessions.get(p) else {
                    continue;
                };
                if remote.present.insert(p.clone()) {
                    for s in sessions.values() {
                        self.inner.hub.subscribe(s, &topics);
                        s.add_topics(&topics);
                    }
                    arrived.push(p.clone());
                }
            }
        }
        self.inner.hub.publish(&topic, event);
        if ended {
            let Some(remote) = self.inner.lock().remote.remove(&game) else {
                return;
            };
            let sessions: Vec<Arc<Session>> = {
                let state = self.inner.lock();
                remote
                    .present
                    .iter()
                    .filter_map(|p| state.sessions.get(p))
                    .flat_map(|m| m.values().cloned())
                    .chain(remote.watchers.values().cloned())
                    .collect()
            };
            for s in sessions {
                self.inner.hub.unsubscribe(s.id, &topics);
                s.remove_topics(&topics);
            }
            return;
        }
        for user in arrived {
            self.tell_host(game, user, true);
        }
    }

    /// Another node says `user` connected to it or left it, for `game`
    /// hosted here: the game's task hears whether the player is connected
    /// anywhere (a session here, or another node's); `None` when the game
    /// is not live here.
    fn presence_from(
        &self,
        game: u64,
        node: &str,
        user: String,
        connected: bool,
    ) -> Option<Result<Answered, ErrorBody>> {
        let mut guard = self.inner.lock();
        let state = &mut *guard;
        let tx = state.live.get(&game)?;
        let nodes = state
            .elsewhere
            .entry(game)
            .or_default()
            .entry(user.clone())
            .or_default();
        if connected {
            nodes.insert(node.to_owned());
        } else {
            nodes.remove(node);
        }
        let connected = !nodes.is_empty() || state.sessions.contains_key(&user);
        let _ = tx.send(super::actor::Cmd::Presence { user, connected });
        Some(Ok(Answered::Done))
    }

    /// Tells `game`'s host, in the background, that `user` connected to
    /// this node or left it.
    fn tell_host(&self, game: u64, user: String, connected: bool) {
        let games = self.clone();
        tokio::spawn(async move {
            if let Some(relay) = games.inner.relay.get()
                && let Some(Err(err)) = relay
                    .call_elsewhere(game, &Call::Presence { user, connected })
                    .await
            {
                tracing::debug!(message = %err.message, game, "games: presence not relayed");
            }
        });
    }

    /// A user's first session here: follow the games other nodes host
    /// for them.
    pub(super) async fn follow_remote_games(&self, session: &Arc<Session>) {
        let (Some(relay), Some(user)) = (self.inner.relay.get(), session.user()) else {
            return;
        };
        let (pg, name, node) = (relay.pg.clone(), user.name.clone(), relay.node.clone());
        let games = match blocking(move || {
            pg.with(|c| game_relay::hosted_elsewhere(c, &name, &node))
        })
        .await
        {
            Ok(Ok(games)) => games,
            Ok(Err(err)) => {
                tracing::warn!(%err, "games: cannot look up a player's games on other nodes");
                return;
            }
            Err(_) => return,
        };
        let mut arrived = Vec::new();
        {
            let mut state = self.inner.lock();
            for (id, _host) in games {
                let id = id.max(0) as u64;
                let topics = [game_topic(id)];
                self.inner.hub.subscribe(session, &topics);
                session.add_topics(&topics);
                let remote = state.remote.entry(id).or_default();
                if remote.present.insert(user.name.clone()) {
                    arrived.push(id);
                }
            }
        }
        for id in arrived {
            self.tell_host(id, user.name.clone(), true);
        }
    }

    /// A user's last session here closed: the hosts of their games
    /// elsewhere hear of it; `session` stops watching games elsewhere.
    pub(super) fn leave_remote_games(&self, session: &Session, user: Option<&str>) {
        let mut left = Vec::new();
        {
            let mut state = self.inner.lock();
            for (id, remote) in &mut state.remote {
                remote.watchers.remove(&session.id);
                if let Some(user) = user
                    && remote.present.remove(user)
                {
                    left.push((*id, user.to_owned()));
                }
            }
            // Nobody here follows these any more.
            state
                .remote
                .retain(|_, r| !r.present.is_empty() || !r.watchers.is_empty());
        }
        for (id, user) in left {
            self.tell_host(id, user, false);
        }
    }

    /// `session` watches a game another node hosts: the state from the
    /// host, and the game's events from here on.
    pub(super) async fn watch_elsewhere(
        &self,
        game: u64,
        session: &Arc<Session>,
    ) -> Option<Result<Box<agora_wire::game::GameState>, ErrorBody>> {
        let relay = self.inner.relay.get()?;
        let topics = [game_topic(game)];
        // Subscribed first: no event between the state and the stream is
        // missed (one already in the state may come again; its seq says).
        self.inner.hub.subscribe(session, &topics);
        let answer = relay.call_elsewhere(game, &Call::Show).await;
        match answer {
            Some(Ok(answered)) => {
                let state = answered.state();
                if let Ok(s) = &state {
                    session.add_topics(&topics);
                    let mut guard = self.inner.lock();
                    let remote = guard.remote.entry(game).or_default();
                    remote.players.clone_from(&s.players);
                    remote.watchers.insert(session.id, session.clone());
                } else {
                    self.inner.hub.unsubscribe(session.id, &topics);
                }
                Some(state)
            }
            other => {
                self.inner.hub.unsubscribe(session.id, &topics);
                other.map(|r| r.and_then(Answered::state))
            }
        }
    }

    /// `session` stops watching a game another node hosts.
    pub(super) fn unwatch_elsewhere(&self, game: u64, session: &Session) {
        let removed = self
            .inner
            .lock()
            .remote
            .get_mut(&game)
            .and_then(|r| r.watchers.remove(&session.id));
        if removed.is_some() {
            let topics = [game_topic(game)];
            self.inner.hub.unsubscribe(session.id, &topics);
            session.remove_topics(&topics);
        }
    }

    /// The games other nodes host that `user` plays, as followed here.
    pub(super) fn remote_games_of(&self, user: &str) -> Vec<u64> {
        self.inner
            .lock()
            .remote
            .iter()
            .filter(|(_, r)| r.players.iter().any(|p| p == user) || r.present.contains(user))
            .map(|(id, _)| *id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_bodies_round_trip() {
        let call = CallBody {
            token: 7,
            from: "n1".into(),
            game: 3,
            call: Call::Move {
                user: "ann".into(),
                seq: 2,
                play: "4".into(),
            },
        };
        let back: CallBody = decode(&encode(&call).unwrap()).unwrap();
        assert_eq!((back.token, back.from, back.game), (7, "n1".into(), 3));
        assert_eq!(back.call, call.call);
        let answer = AnswerBody {
            token: 7,
            answer: Err(ErrorBody::new(ErrorCode::Conflict, "not your turn")),
        };
        let back: AnswerBody = decode(&encode(&answer).unwrap()).unwrap();
        assert_eq!(back.answer, answer.answer);
        let event = EventBody {
            game: 3,
            players: ["ann".into(), "bob".into()],
            topic: game_topic(3),
            event: GameEvent::DrawOffer {
                game: 3,
                by: Some("ann".into()),
            },
        };
        assert_eq!(
            decode::<EventBody>(&encode(&event).unwrap()).unwrap(),
            event
        );
    }
}
