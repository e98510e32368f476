//! One task per live game: it owns the game's [`Match`], takes commands
//! from an mpsc queue, publishes events on the game's topic, and wakes up
//! by itself when a clock, a grace period or a challenge runs out. Since
//! only this task touches the game, commands are applied one at a time in
//! arrival order and events go out in the order things happened; a
//! spectator subscribed by this task between two events gets the state
//! and then every later event, with no gap and no repeat.
//!
//! When the game ends, the task stores it (result, move list, rating
//! changes: one transaction), then announces it, answers the request that
//! ended it, unsubscribes everyone from the topic and stops.

use std::collections::HashMap;
use std::sync::Arc;

use agora_db::Access;
use agora_db::games::Ending;
use agora_wire::game::{GameState, GameSummary, RatingChange, game_topic};
use agora_wire::{ErrorBody, GameEvent};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::machine::Match;
use super::rules::Viewer;
use super::{Inner, rating};
use crate::session::Session;

/// An answer channel.
pub type Answer<T> = oneshot::Sender<Result<T, ErrorBody>>;

/// What a game's task is asked to do.
pub enum Cmd {
    /// The challenged player accepts.
    Accept {
        user: String,
        answer: Answer<GameState>,
    },
    /// A player declines or withdraws a challenge.
    Decline {
        user: String,
        answer: Answer<GameState>,
    },
    /// A player moves.
    Move {
        user: String,
        seq: u64,
        play: String,
        answer: Answer<u64>,
    },
    /// A player resigns.
    Resign {
        user: String,
        answer: Answer<GameState>,
    },
    /// A player offers, accepts, declines or withdraws a draw.
    Draw {
        user: String,
        offer: bool,
        answer: Answer<GameState>,
    },
    /// A session starts watching (players just get the state).
    Watch {
        session: Arc<Session>,
        answer: Answer<GameState>,
    },
    /// A session stops watching.
    Unwatch { session: u64 },
    /// The state, for `game_show`.
    Show { answer: Answer<GameState> },
    /// The summary, for `game_list`.
    Summary { answer: Answer<GameSummary> },
    /// A player's first connection opened or last one closed.
    Presence { user: String, connected: bool },
}

/// The game's task. Runs until the game ends or `token` is cancelled.
pub async fn run(
    mut game: Match,
    mut commands: mpsc::UnboundedReceiver<Cmd>,
    inner: Arc<Inner>,
    token: CancellationToken,
) {
    let clock = inner.clock;
    let topic = game_topic(game.id());
    let mut watchers: HashMap<u64, Arc<Session>> = HashMap::new();
    // A request that ended the game, answered once the game is stored.
    let mut pending: Option<Pending> = None;
    loop {
        if game.end().is_some() {
            break;
        }
        let deadline = game.next_deadline().map(|ms| clock.instant(ms));
        let wake = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = token.cancelled() => return,
            () = wake => {
                game.tick(clock.now_ms());
            }
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                let now = clock.now_ms();
                pending = handle(&mut game, cmd, now, &inner, &topic, &mut watchers);
            }
        }
    }
    finish_game(&mut game, &inner, &topic, &watchers).await;
    let now = clock.now_ms();
    match pending {
        Some(Pending::Move(answer)) => {
            let _ = answer.send(Ok(game.moves().len() as u64));
        }
        Some(Pending::State(answer)) => {
            let _ = answer.send(Ok(game.state(Viewer::Spectator, now)));
        }
        None => {}
    }
    // Commands that raced with the end see a finished game.
    commands.close();
    while let Ok(cmd) = commands.try_recv() {
        handle(&mut game, cmd, now, &inner, &topic, &mut watchers);
    }
}

/// An answer held back until the game that the request ended is stored.
enum Pending {
    Move(Answer<u64>),
    State(Answer<GameState>),
}

/// Applies one command; returns the answer to hold when it ended the game.
fn handle(
    game: &mut Match,
    cmd: Cmd,
    now: u64,
    inner: &Inner,
    topic: &str,
    watchers: &mut HashMap<u64, Arc<Session>>,
) -> Option<Pending> {
    let id = game.id();
    let state = |game: &Match| game.state(Viewer::Spectator, now);
    match cmd {
        Cmd::Accept { user, answer } => {
            match game.accept(&user, now) {
                Ok(()) => {
                    let s = state(game);
                    inner.publish(
                        game,
                        topic,
                        GameEvent::Started {
                            state: Box::new(s.clone()),
                        },
                    );
                    inner.started(id);
                    let _ = answer.send(Ok(s));
                }
                Err(e) => {
                    let _ = answer.send(Err(e));
                }
            }
            None
        }
        Cmd::Decline { user, answer } => match game.decline(&user) {
            Ok(()) => Some(Pending::State(answer)),
            Err(e) => {
                let _ = answer.send(Err(e));
                None
            }
        },
        Cmd::Move {
            user,
            seq,
            play,
            answer,
        } => match game.play(&user, seq, &play, now) {
            Ok(played) => {
                let clocks = game.clocks(now).to_vec();
                let turn = game.turn_name().map_or_else(String::new, str::to_owned);
                inner.publish(
                    game,
                    topic,
                    GameEvent::Moved {
                        game: id,
                        seq: played.seq,
                        play: game.moves().last().cloned().unwrap_or_default(),
                        by: game.players()[played.by].clone(),
                        board: game.board(Viewer::Spectator),
                        clocks_ms: clocks,
                        turn,
                        ts_ms: now,
                    },
                );
                if played.ended {
                    Some(Pending::Move(answer))
                } else {
                    let _ = answer.send(Ok(played.seq));
                    None
                }
            }
            Err(e) => {
                let _ = answer.send(Err(e));
                None
            }
        },
        Cmd::Resign { user, answer } => match game.resign(&user, now) {
            Ok(()) => Some(Pending::State(answer)),
            Err(e) => {
                let _ = answer.send(Err(e));
                None
            }
        },
        Cmd::Draw {
            user,
            offer,
            answer,
        } => match game.draw(&user, offer, now) {
            Ok(changed) => {
                if game.end().is_some() {
                    return Some(Pending::State(answer));
                }
                if changed {
                    let by = state(game).draw_offer;
                    inner.publish(game, topic, GameEvent::DrawOffer { game: id, by });
                }
                let _ = answer.send(Ok(state(game)));
                None
            }
            Err(e) => {
                let _ = answer.send(Err(e));
                None
            }
        },
        Cmd::Watch { session, answer } => {
            let player = session.user().is_some_and(|u| game.seat(&u.name).is_some());
            if !player && game.end().is_none() && !watchers.contains_key(&session.id) {
                let topics = [topic.to_owned()];
                inner.hub.subscribe(&session, &topics);
                session.add_topics(&topics);
                watchers.insert(session.id, session);
                game.set_spectators(watchers.len() as u32);
                inner.publish(
                    game,
                    topic,
                    GameEvent::Spectators {
                        game: id,
                        count: game.spectators(),
                    },
                );
            }
            let _ = answer.send(Ok(state(game)));
            None
        }
        Cmd::Unwatch { session } => {
            if let Some(s) = watchers.remove(&session) {
                let topics = [topic.to_owned()];
                inner.hub.unsubscribe(session, &topics);
                s.remove_topics(&topics);
                game.set_spectators(watchers.len() as u32);
                if game.end().is_none() {
                    inner.publish(
                        game,
                        topic,
                        GameEvent::Spectators {
                            game: id,
                            count: game.spectators(),
                        },
                    );
                }
            }
            None
        }
        Cmd::Show { answer } => {
            let _ = answer.send(Ok(state(game)));
            None
        }
        Cmd::Summary { answer } => {
            let _ = answer.send(Ok(game.summary()));
            None
        }
        Cmd::Presence { user, connected } => {
            if game.set_connected(&user, connected, now) {
                inner.publish(
                    game,
                    topic,
                    GameEvent::Presence {
                        game: id,
                        player: user.clone(),
                        connected,
                        deadline_ms: game.deadline_of(&user),
                    },
                );
            }
            None
        }
    }
}

/// Stores the finished game (and its rating changes), announces it, and
/// takes it out of the live list and everyone off its topic. A storage
/// failure is logged; the game is still announced as it ended.
async fn finish_game(
    game: &mut Match,
    inner: &Arc<Inner>,
    topic: &str,
    watchers: &HashMap<u64, Arc<Session>>,
) {
    let (reason, winner) = game.end().expect("finished");
    let players = game.players().clone();
    let ending = Ending {
        id: game.id() as i64,
        reason: reason.as_str().to_owned(),
        winner: winner.map(|w| players[w].clone()),
        moves: game.moves().to_vec(),
        score: game.first_score(),
        ended_at_ms: inner.clock.now_ms() as i64,
    };
    let storage = inner.storage.clone();
    let stored = tokio::task::spawn_blocking(move || {
        storage.games(Access::Write, |g| g.finish(&ending, &mut rating::rate))
    })
    .await;
    match stored {
        Ok(Ok(Some([(a, a2), (b, b2)]))) => game.set_ratings(vec![
            RatingChange {
                user: players[0].clone(),
                before: a.rating.round() as i64,
                after: a2.rating.round() as i64,
            },
            RatingChange {
                user: players[1].clone(),
                before: b.rating.round() as i64,
                after: b2.rating.round() as i64,
            },
        ]),
        Ok(Ok(None)) => {}
        Ok(Err(err)) => tracing::error!(%err, game = game.id(), "cannot store a finished game"),
        Err(err) => tracing::error!(%err, game = game.id(), "storing a finished game panicked"),
    }
    let now = inner.clock.now_ms();
    inner.publish(
        game,
        topic,
        GameEvent::Ended {
            state: Box::new(game.state(Viewer::Spectator, now)),
        },
    );
    inner.ended(game.id(), &players, watchers);
}
