//! Helpers for the common programs: a [`ChatBot`] answering commands in
//! rooms, and [`play`]/[`GameBot`] playing games with a move-choosing
//! function. (A job worker is [`crate::jobs::Worker`].)
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_wire::Error> {
//! use agora_wire::Session;
//! use agora_wire::bots::{ChatBot, GameBot};
//! let session = Session::builder(["127.0.0.1:7070"]).login("bot", "bot-password").connect().await?;
//! // Answers `!ping` in #ops until the session ends.
//! let chat = ChatBot::new(session.clone()).command("ping", |_msg, _args| Some("pong".into()));
//! tokio::spawn(async move { chat.run(&["ops"]).await });
//! // Accepts every challenge and plays the first legal move each turn.
//! GameBot::new(session).run(|state| state.legal.first().cloned()).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt as _;

use crate::chat::ChatMessage;
use crate::error::{Error, ErrorCode};
use crate::game::{GameEvent, GameState, GameStatus, user_topic};
use crate::message::Event;
use crate::session::Session;

type Command = Arc<dyn Fn(&ChatMessage, &str) -> Option<String> + Send + Sync>;

/// Answers `!command args` messages in chat rooms.
#[derive(Clone)]
pub struct ChatBot {
    session: Session,
    commands: HashMap<String, Command>,
    prefix: char,
}

impl std::fmt::Debug for ChatBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.commands.keys().collect();
        names.sort();
        f.debug_struct("ChatBot")
            .field("commands", &names)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl ChatBot {
    /// A bot with no commands, answering messages that start with `!`.
    pub fn new(session: Session) -> ChatBot {
        ChatBot {
            session,
            commands: HashMap::new(),
            prefix: '!',
        }
    }

    /// Commands start with `prefix` instead of `!`.
    pub fn prefix(mut self, prefix: char) -> ChatBot {
        self.prefix = prefix;
        self
    }

    /// Answers `!name args` with what `handler` returns (nothing for
    /// `None`). The handler gets the message and the text after the name.
    pub fn command<F>(mut self, name: &str, handler: F) -> ChatBot
    where
        F: Fn(&ChatMessage, &str) -> Option<String> + Send + Sync + 'static,
    {
        self.commands.insert(name.to_owned(), Arc::new(handler));
        self
    }

    /// The answer to `message`, if it is one of this bot's commands.
    pub fn answer(&self, message: &ChatMessage) -> Option<String> {
        let rest = message.text.strip_prefix(self.prefix)?;
        let (name, args) = rest.split_once(' ').unwrap_or((rest, ""));
        let handler = self.commands.get(name)?;
        handler(message, args.trim())
    }

    /// Joins `rooms` and answers commands until the session ends. Its own
    /// messages are never taken for commands.
    ///
    /// # Errors
    /// When joining a room fails; sending an answer that fails is skipped.
    pub async fn run(&self, rooms: &[&str]) -> Result<(), Error> {
        self.start(rooms).await?.serve().await;
        Ok(())
    }

    /// Joins `rooms` and follows them; [`ChatBotRunning::serve`] then
    /// answers. Messages sent after `start` returns are all seen.
    ///
    /// # Errors
    /// As [`ChatBot::run`].
    pub async fn start(&self, rooms: &[&str]) -> Result<ChatBotRunning, Error> {
        let me = self.session.whoami().await?.map(|u| u.name);
        let mut streams = Vec::new();
        for room in rooms {
            streams.push(self.session.chat().follow(room).await?);
        }
        Ok(ChatBotRunning {
            bot: self.clone(),
            me,
            streams,
        })
    }
}

/// A [`ChatBot`] in its rooms: see [`ChatBot::start`].
#[derive(Debug)]
pub struct ChatBotRunning {
    bot: ChatBot,
    me: Option<String>,
    streams: Vec<crate::Subscription>,
}

impl ChatBotRunning {
    /// Answers commands until the session ends.
    pub async fn serve(self) {
        let ChatBotRunning { bot, me, streams } = self;
        let mut pushes = futures::stream::select_all(streams);
        while let Some(push) = pushes.next().await {
            let Event::Chat(crate::chat::ChatEvent::Message { message }) = push.event else {
                continue;
            };
            if Some(&message.from) == me.as_ref() {
                continue;
            }
            if let Some(answer) = bot.answer(&message) {
                let _ = bot.session.chat().send(&message.room, &answer).await;
            }
        }
    }
}

/// Plays `game` for this session's user until it ends, asking `choose`
/// for a move whenever it is their turn (`None` resigns). Answers the
/// final state.
///
/// # Errors
/// As [`crate::services::Games::show`]; a move refused as illegal is an
/// error (the chooser is wrong), a stale one is retried.
pub async fn play<F>(session: &Session, game: u64, mut choose: F) -> Result<GameState, Error>
where
    F: FnMut(&GameState) -> Option<String>,
{
    let me = session
        .whoami()
        .await?
        .map(|u| u.name)
        .ok_or_else(|| not_signed_in("playing a game"))?;
    let games = session.games();
    let mut events = session.listen(&crate::game::game_topic(game));
    loop {
        let state = games.show(game).await?;
        if state.status == GameStatus::Finished {
            return Ok(state);
        }
        if state.turn.as_deref() == Some(me.as_str()) {
            match choose(&state) {
                Some(play) => match games.play(game, state.seq, &play).await {
                    Ok(_) => {}
                    // The state moved on meanwhile: look again.
                    Err(e) if e.code() == Some(ErrorCode::Conflict) => continue,
                    Err(e) => return Err(e),
                },
                None => return games.resign(game).await,
            }
        }
        // Wait for something to happen in the game.
        loop {
            match events.next_event().await {
                None => return Err(Error::Closed),
                Some(Event::Game(
                    GameEvent::Moved { .. } | GameEvent::Ended { .. } | GameEvent::Started { .. },
                )) => break,
                Some(_) => {}
            }
        }
    }
}

fn not_signed_in(what: &str) -> Error {
    Error::Server(crate::ErrorBody::new(
        ErrorCode::Unauthorized,
        format!("{what} needs a signed-in session"),
    ))
}

/// Accepts every challenge to this session's user and plays each game
/// with the same chooser (see [`play`]).
#[derive(Debug, Clone)]
pub struct GameBot {
    session: Session,
}

impl GameBot {
    /// A bot playing as `session`'s user.
    pub fn new(session: Session) -> GameBot {
        GameBot { session }
    }

    /// Accepts challenges and plays them, each game on its own task, until
    /// the session ends.
    ///
    /// # Errors
    /// When the session is not signed in.
    pub async fn run<F>(&self, choose: F) -> Result<(), Error>
    where
        F: Fn(&GameState) -> Option<String> + Clone + Send + Sync + 'static,
    {
        self.start().await?.serve(choose).await;
        Ok(())
    }

    /// Starts listening for challenges; [`GameBotRunning::serve`] then
    /// plays them. Challenges made after `start` returns are all seen.
    ///
    /// # Errors
    /// As [`GameBot::run`].
    pub async fn start(&self) -> Result<GameBotRunning, Error> {
        let me = self
            .session
            .whoami()
            .await?
            .map(|u| u.name)
            .ok_or_else(|| not_signed_in("a game bot"))?;
        let challenges = self.session.listen(&user_topic(&me));
        Ok(GameBotRunning {
            session: self.session.clone(),
            me,
            challenges,
        })
    }
}

/// A [`GameBot`] listening for challenges: see [`GameBot::start`].
#[derive(Debug)]
pub struct GameBotRunning {
    session: Session,
    me: String,
    challenges: crate::Subscription,
}

impl GameBotRunning {
    /// Accepts and plays every challenge until the session ends.
    pub async fn serve<F>(mut self, choose: F)
    where
        F: Fn(&GameState) -> Option<String> + Clone + Send + Sync + 'static,
    {
        while let Some(event) = self.challenges.next_event().await {
            let Event::Game(GameEvent::Challenged { game }) = event else {
                continue;
            };
            if game.players.first() == Some(&self.me) {
                continue; // our own challenge to someone else
            }
            let session = self.session.clone();
            let choose = choose.clone();
            tokio::spawn(async move {
                if session.games().accept(game.id).await.is_ok() {
                    let _ = play(&session, game.id, choose).await;
                }
            });
        }
    }
}
