//! Typed calls per service, on a [`Session`]: `session.chat()`,
//! `session.cache()`, `session.jobs()`, `session.games()`,
//! `session.metrics()`.
//!
//! Each method sends one operation and unpacks the reply it documents;
//! an answer of another shape is [`Error::Malformed`]. Everything the
//! protocol has and these do not wrap stays one [`Session::request`] away.

use serde_bytes::ByteBuf;

use crate::base::{BaseOp, BaseReply, UserInfo};
use crate::cache::{CacheOp, CacheReply, CacheValue};
use crate::chat::{ChatMessage, ChatOp, ChatReply, Presence, RoomInfo, room_topic};
use crate::error::Error;
use crate::game::{GameOp, GameReply, GameState, GameSummary, TimeControl, game_topic};
use crate::jobs::{Job, JobsOp, JobsReply, NewJob};
use crate::message::Reply;
use crate::metrics::{MetricsOp, MetricsReply};
use crate::session::{Session, Subscription, unexpected};

impl Session {
    /// Creates an account and signs this session in (reconnections use
    /// the new token).
    ///
    /// # Errors
    /// `conflict` when the name is taken, `bad_request` for a name or
    /// password against the rules.
    pub async fn register(&self, name: &str, password: &str) -> Result<UserInfo, Error> {
        self.sign_in(BaseOp::Register {
            name: name.into(),
            password: password.into(),
        })
        .await
    }

    /// Signs this session in (reconnections use the new token).
    ///
    /// # Errors
    /// `unauthorized` for a wrong name or password.
    pub async fn login(&self, name: &str, password: &str) -> Result<UserInfo, Error> {
        self.sign_in(BaseOp::Login {
            name: name.into(),
            password: password.into(),
        })
        .await
    }

    async fn sign_in(&self, op: BaseOp) -> Result<UserInfo, Error> {
        match self.request(op).await? {
            Reply::Base(BaseReply::Session { user, token, .. }) => {
                self.set_token(token);
                Ok(user)
            }
            other => Err(unexpected("session", &other)),
        }
    }

    /// Who this session is signed in as, if anyone.
    ///
    /// # Errors
    /// As [`Session::request`].
    pub async fn whoami(&self) -> Result<Option<UserInfo>, Error> {
        match self.request(BaseOp::Whoami).await? {
            Reply::Base(BaseReply::Whoami { user, .. }) => Ok(user),
            other => Err(unexpected("whoami", &other)),
        }
    }

    /// The chat service.
    pub fn chat(&self) -> Chat<'_> {
        Chat { session: self }
    }

    /// The cache (Redis commands over the native protocol).
    pub fn cache(&self) -> Cache<'_> {
        Cache { session: self }
    }

    /// The job queue.
    pub fn jobs(&self) -> Jobs<'_> {
        Jobs { session: self }
    }

    /// Turn-based games.
    pub fn games(&self) -> Games<'_> {
        Games { session: self }
    }

    /// Live metrics.
    pub fn metrics(&self) -> Metrics<'_> {
        Metrics { session: self }
    }
}

/// Chat calls: see [`Session::chat`].
#[derive(Debug, Clone, Copy)]
pub struct Chat<'a> {
    session: &'a Session,
}

impl Chat<'_> {
    /// Sends `op` (a message), answering the sequence number or id stored.
    async fn sent(&self, op: ChatOp) -> Result<u64, Error> {
        match self.session.request(op).await? {
            Reply::Chat(ChatReply::Sent { seq, .. }) => Ok(seq),
            other => Err(unexpected("chat_sent", &other)),
        }
    }

    /// Joins `room` (creating it), answering the room and who is in it.
    ///
    /// # Errors
    /// `bad_request` for an invalid room name; as [`Session::request`].
    pub async fn join(&self, room: &str) -> Result<(RoomInfo, Vec<Presence>), Error> {
        match self
            .session
            .request(ChatOp::Join { room: room.into() })
            .await?
        {
            Reply::Chat(ChatReply::Room { room, members }) => Ok((room, members)),
            other => Err(unexpected("chat_room", &other)),
        }
    }

    /// Joins `room` and follows its events from now on, across
    /// reconnections: messages missed while the connection was down are
    /// fetched and delivered in order, none twice.
    ///
    /// # Errors
    /// As [`Chat::join`].
    pub async fn follow(&self, room: &str) -> Result<Subscription, Error> {
        let topic = room_topic(room);
        // Listen first, so nothing published after the join is missed;
        // the cursor then skips what the join already covers.
        let sub = self.session.listen(&topic);
        let (info, _) = self.join(room).await?;
        self.session.follow_from(&topic, info.last_seq);
        Ok(sub)
    }

    /// Leaves `room`.
    ///
    /// # Errors
    /// As [`Session::request`].
    pub async fn leave(&self, room: &str) -> Result<(), Error> {
        done(
            self.session
                .request(ChatOp::Leave { room: room.into() })
                .await?,
        )
    }

    /// Sends `text` to `room`; answers its sequence number once stored.
    ///
    /// # Errors
    /// `forbidden` when not a member, `too_large` past
    /// [`crate::chat::MAX_MESSAGE`]; as [`Session::request`].
    pub async fn send(&self, room: &str, text: &str) -> Result<u64, Error> {
        self.sent(ChatOp::Send {
            room: room.into(),
            text: text.into(),
            action: false,
        })
        .await
    }

    /// Sends a private message to `user`; answers its id.
    ///
    /// # Errors
    /// `not_found` for an unknown user; as [`Session::request`].
    pub async fn dm(&self, user: &str, text: &str) -> Result<u64, Error> {
        self.sent(ChatOp::Dm {
            to: user.into(),
            text: text.into(),
            action: false,
        })
        .await
    }

    /// The messages of `room` after sequence number `since`, oldest first
    /// (at most `limit`, up to [`crate::chat::MAX_HISTORY`]).
    ///
    /// # Errors
    /// As [`Session::request`].
    pub async fn history_since(
        &self,
        room: &str,
        since: u64,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, Error> {
        let op = ChatOp::History {
            room: room.into(),
            before: None,
            since: Some(since),
            limit: Some(limit),
        };
        match self.session.request(op).await? {
            Reply::Chat(ChatReply::History { messages, .. }) => Ok(messages),
            other => Err(unexpected("chat_history", &other)),
        }
    }

    /// Every room.
    ///
    /// # Errors
    /// As [`Session::request`].
    pub async fn rooms(&self) -> Result<Vec<RoomInfo>, Error> {
        match self.session.request(ChatOp::Rooms).await? {
            Reply::Chat(ChatReply::Rooms { rooms }) => Ok(rooms),
            other => Err(unexpected("chat_rooms", &other)),
        }
    }
}

/// Cache calls: see [`Session::cache`].
#[derive(Debug, Clone, Copy)]
pub struct Cache<'a> {
    session: &'a Session,
}

impl Cache<'_> {
    /// Runs one Redis command (`["SET", "k", "v"]`), answering its value.
    /// A Redis error (`WRONGTYPE …`) is a [`CacheValue::Error`], not an
    /// `Err`, as in a Redis pipeline.
    ///
    /// # Errors
    /// As [`Session::request`].
    pub async fn command<I, A>(&self, args: I) -> Result<CacheValue, Error>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args = args
            .into_iter()
            .map(|a| ByteBuf::from(a.as_ref().to_vec()))
            .collect();
        match self
            .session
            .request(CacheOp::Command { args, quiet: false })
            .await?
        {
            Reply::Cache(CacheReply::Value { value }) => Ok(value),
            other => Err(unexpected("cache", &other)),
        }
    }

    /// `GET key`: the value, or `None`.
    ///
    /// # Errors
    /// `Err(Error::Server)` with code `bad_request` for a key holding
    /// another type; as [`Session::request`].
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        match self.command([&b"GET"[..], key]).await? {
            CacheValue::Bulk { value } => Ok(Some(value)),
            CacheValue::Nil => Ok(None),
            other => Err(cache_error(other)),
        }
    }

    /// `SET key value`.
    ///
    /// # Errors
    /// As [`Cache::get`].
    pub async fn set(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        match self.command([&b"SET"[..], key, value]).await? {
            CacheValue::Simple { .. } => Ok(()),
            other => Err(cache_error(other)),
        }
    }

    /// `DEL key…`: how many existed.
    ///
    /// # Errors
    /// As [`Cache::get`].
    pub async fn del(&self, keys: &[&[u8]]) -> Result<i64, Error> {
        let mut args: Vec<&[u8]> = vec![b"DEL"];
        args.extend_from_slice(keys);
        match self.command(args).await? {
            CacheValue::Integer { value } => Ok(value),
            other => Err(cache_error(other)),
        }
    }
}

fn cache_error(value: CacheValue) -> Error {
    let message = match value {
        CacheValue::Error { message } => message,
        other => format!("unexpected cache value {other:?}"),
    };
    Error::Server(crate::ErrorBody::bad_request(message))
}

/// Job queue calls: see [`Session::jobs`]. Work a queue with
/// [`crate::jobs::Worker`], which takes a session.
#[derive(Debug, Clone, Copy)]
pub struct Jobs<'a> {
    session: &'a Session,
}

impl Jobs<'_> {
    /// Sends `op` (about one job), answering the job.
    async fn job(&self, op: JobsOp) -> Result<Job, Error> {
        match self.session.request(op).await? {
            Reply::Jobs(JobsReply::Job { job }) => Ok(*job),
            other => Err(unexpected("jobs_job", &other)),
        }
    }

    /// Enqueues jobs in one durable transaction; answers their ids (a job
    /// whose unique key is taken answers the existing job's id).
    ///
    /// # Errors
    /// `bad_request` for an invalid job; as [`Session::request`].
    pub async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<u64>, Error> {
        match self.session.request(JobsOp::Enqueue { jobs }).await? {
            Reply::Jobs(JobsReply::Enqueued { ids, .. }) => Ok(ids),
            other => Err(unexpected("jobs_enqueued", &other)),
        }
    }

    /// One job, with its state and history.
    ///
    /// # Errors
    /// `not_found`; as [`Session::request`].
    pub async fn get(&self, id: u64) -> Result<Job, Error> {
        self.job(JobsOp::Get { id }).await
    }

    /// Cancels a job (a running one is told at its next heartbeat).
    ///
    /// # Errors
    /// `not_found`, `conflict` when already finished; as
    /// [`Session::request`].
    pub async fn cancel(&self, id: u64) -> Result<Job, Error> {
        self.job(JobsOp::Cancel { id }).await
    }
}

/// Game calls: see [`Session::games`]; [`crate::bots::GameBot`] plays.
#[derive(Debug, Clone, Copy)]
pub struct Games<'a> {
    session: &'a Session,
}

impl Games<'_> {
    async fn state(&self, op: GameOp) -> Result<GameState, Error> {
        match self.session.request(op).await? {
            Reply::Game(GameReply::State { state }) => Ok(*state),
            other => Err(unexpected("game_state", &other)),
        }
    }

    /// Challenges `opponent` to a game of `kind` (`tictactoe`, `connect4`).
    ///
    /// # Errors
    /// `not_found` for an unknown user, `bad_request` for yourself or an
    /// unknown kind; as [`Session::request`].
    pub async fn challenge(
        &self,
        opponent: &str,
        kind: &str,
        time: TimeControl,
    ) -> Result<GameState, Error> {
        self.state(GameOp::Challenge {
            opponent: opponent.into(),
            kind: kind.into(),
            time,
        })
        .await
    }

    /// Accepts a challenge.
    ///
    /// # Errors
    /// `forbidden` unless challenged; as [`Session::request`].
    pub async fn accept(&self, game: u64) -> Result<GameState, Error> {
        self.state(GameOp::Accept { game }).await
    }

    /// Plays `play` in `game`, chosen when the game had `seq` moves.
    /// Answers the game's new move count.
    ///
    /// # Errors
    /// `conflict` for a stale `seq` or not your turn, `bad_request` for an
    /// illegal move; as [`Session::request`].
    pub async fn play(&self, game: u64, seq: u64, play: &str) -> Result<u64, Error> {
        let op = GameOp::Move {
            game,
            seq,
            play: play.into(),
        };
        match self.session.request(op).await? {
            Reply::Game(GameReply::Moved { seq, .. }) => Ok(seq),
            other => Err(unexpected("game_moved", &other)),
        }
    }

    /// A game's full state.
    ///
    /// # Errors
    /// `not_found`; as [`Session::request`].
    pub async fn show(&self, game: u64) -> Result<GameState, Error> {
        self.state(GameOp::Show { game }).await
    }

    /// Resigns.
    ///
    /// # Errors
    /// As [`Session::request`].
    pub async fn resign(&self, game: u64) -> Result<GameState, Error> {
        self.state(GameOp::Resign { game }).await
    }

    /// Watches a game: its state now, and its events from then on.
    ///
    /// # Errors
    /// `not_found`; as [`Session::request`].
    pub async fn watch(&self, game: u64) -> Result<(GameState, Subscription), Error> {
        let sub = self.session.listen(&game_topic(game));
        Ok((self.state(GameOp::Watch { game }).await?, sub))
    }

    /// Games in progress and open challenges to or from you.
    ///
    /// # Errors
    /// As [`Session::request`].
    pub async fn list(&self) -> Result<Vec<GameSummary>, Error> {
        match self.session.request(GameOp::List).await? {
            Reply::Game(GameReply::Games { games }) => Ok(games),
            other => Err(unexpected("game_games", &other)),
        }
    }
}

/// Metrics calls: see [`Session::metrics`].
#[derive(Debug, Clone, Copy)]
pub struct Metrics<'a> {
    session: &'a Session,
}

impl Metrics<'_> {
    /// Starts watching live metrics as a viewer named `view`; answers the
    /// last minute of samples, and the stream of the `metrics` topic.
    ///
    /// # Errors
    /// As [`Session::request`].
    pub async fn watch(
        &self,
        view: &str,
    ) -> Result<(Vec<crate::metrics::Sample>, Subscription), Error> {
        let sub = self.session.listen(crate::metrics::METRICS_TOPIC);
        match self
            .session
            .request(MetricsOp::Watch { view: view.into() })
            .await?
        {
            Reply::Metrics(MetricsReply::Watching { recent, .. }) => Ok((recent, sub)),
            other => Err(unexpected("metrics_watching", &other)),
        }
    }
}

fn done(reply: Reply) -> Result<(), Error> {
    match reply {
        Reply::Base(BaseReply::Done) => Ok(()),
        other => Err(unexpected("done", &other)),
    }
}
