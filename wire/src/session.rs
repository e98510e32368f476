//! The SDK's client: a [`Session`] stays connected to one of a list of
//! daemons, signs itself in again, and routes pushes to per-topic
//! [`Subscription`] streams.
//!
//! A [`Client`] is one connection; a `Session` owns the current one and a
//! *supervisor* task that reads its pushes. When the connection drops
//! (daemon restarted, node drained, network cut), the supervisor tries the
//! addresses in turn with exponential backoff and jitter ([`Backoff`]),
//! says hello with the session's token, subscribes again to every topic a
//! live [`Subscription`] asked for, and fills each followed chat room's gap
//! from its last delivered sequence number (`chat_history` with `since`)
//! before it passes on newer pushes — so a chat stream neither loses nor
//! repeats a message across a reconnect.
//!
//! Requests are not retried: one sent when the connection dropped fails
//! with [`Error::Closed`] (it may or may not have run). The exception is a
//! goodbye: a daemon that says goodbye (shutting down, or drained for a
//! rolling restart) has answered every request it read, so one left
//! without an answer never ran, and the session sends it again on the next
//! connection. A request made
//! while the session is reconnecting waits for the new connection, up to
//! the request timeout.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_wire::Error> {
//! use agora_wire::Session;
//! let session = Session::builder(["127.0.0.1:7070", "127.0.0.1:7071"])
//!     .client_name("notifier/1.0")
//!     .login("alice", "correct horse battery")
//!     .connect()
//!     .await?;
//! let mut ops = session.chat().follow("ops").await?;
//! session.chat().send("ops", "deploy started").await?;
//! while let Some(message) = ops.next_message().await {
//!     println!("{}: {}", message.from, message.text);
//! }
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::base::{BaseOp, BaseReply, UserInfo};
use crate::chat::{ChatEvent, ChatMessage, ChatOp, ChatReply, MAX_HISTORY};
use crate::client::{Client, ClientOptions, Pushes};
use crate::error::{Error, ErrorCode};
use crate::message::{Hello, Op, Push, Reply, Welcome};
use crate::transport::{Tcp, Transport};

pub use crate::subscription::Subscription;
use crate::subscription::{Router, lock};

/// How a session signs in.
#[derive(Clone)]
enum SignIn {
    Anonymous,
    Token(String),
    Login { name: String, password: String },
}

/// Options for a [`Session`]: see [`Session::builder`].
#[derive(Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct SessionBuilder {
    addrs: Vec<String>,
    client_name: String,
    sign_in: SignIn,
    options: ClientOptions,
    backoff: Backoff,
    reconnect: bool,
    transport: Arc<dyn Transport>,
}

impl std::fmt::Debug for SessionBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("addrs", &self.addrs)
            .field("client_name", &self.client_name)
            .field("signed_in", &!matches!(self.sign_in, SignIn::Anonymous))
            .field("options", &self.options)
            .field("backoff", &self.backoff)
            .field("reconnect", &self.reconnect)
            .finish_non_exhaustive()
    }
}

impl SessionBuilder {
    /// The name shown in session lists and logs (default
    /// `agora-wire/VERSION`).
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = name.into();
        self
    }

    /// Sign in with a token (from `agora login`, `register` or `login`).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.sign_in = SignIn::Token(token.into());
        self
    }

    /// Sign in with a name and password once connected; reconnections use
    /// the token this returns.
    pub fn login(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.sign_in = SignIn::Login {
            name: name.into(),
            password: password.into(),
        };
        self
    }

    /// How long each request may wait for its answer (default 30 s);
    /// `None` waits forever.
    pub fn request_timeout(mut self, limit: Option<Duration>) -> Self {
        self.options.request_timeout = limit;
        self
    }

    /// How long one connection attempt may take, handshake included
    /// (default 5 s).
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.options.connect_timeout = limit;
        self
    }

    /// The largest frame accepted from the server (default 8 MiB).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.options.max_frame = bytes;
        self
    }

    /// How many pushes each subscription buffers before it drops new ones
    /// (default 4096; see [`Subscription::dropped`]).
    pub fn push_buffer(mut self, pushes: usize) -> Self {
        self.options.push_buffer = pushes.max(1);
        self
    }

    /// The waits between reconnection attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Whether to reconnect when the connection drops (default `true`).
    /// Without, the session ends with its connection.
    pub fn reconnect(mut self, on: bool) -> Self {
        self.reconnect = on;
        self
    }

    /// How to open connections (default [`Tcp`]); see [`crate::transport`].
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Arc::new(transport);
        self
    }

    /// Connects to the first address that answers, signs in, and starts
    /// the supervisor.
    ///
    /// # Errors
    /// The last address's error when none answers ([`Error::Io`],
    /// [`Error::Timeout`]); [`Error::Server`] when the daemon refuses the
    /// hello or the sign-in (`unauthorized`).
    pub async fn connect(self) -> Result<Session, Error> {
        if self.addrs.is_empty() {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no address to connect to",
            )));
        }
        let token = match &self.sign_in {
            SignIn::Token(token) => Some(token.clone()),
            _ => None,
        };
        let buffer = self.options.push_buffer;
        let (unsubscribe, mut unsubscribed) = mpsc::unbounded_channel::<String>();
        let shared = Arc::new(Shared {
            config: self,
            token: Mutex::new(token),
            current: Mutex::new(None),
            generation: watch::channel(0).0,
            router: Arc::new(Router::new(buffer, unsubscribe)),
            closed: AtomicBool::new(false),
            next_addr: AtomicU64::new(0),
        });
        let (client, welcome, pushes) = shared.dial_any().await?;
        let client = Arc::new(client);
        // As before, the first welcome keeps `user` as the daemon sent it.
        shared.log_in(&client).await?;
        shared.install(client, welcome);
        tokio::spawn(supervise(Arc::downgrade(&shared), pushes));
        // Topics no subscription wants any more are given back.
        let weak = Arc::downgrade(&shared);
        tokio::spawn(async move {
            while let Some(topic) = unsubscribed.recv().await {
                let Some(shared) = weak.upgrade() else { return };
                if let Ok(client) = shared.current_client() {
                    let _ = client
                        .request(BaseOp::Unsubscribe {
                            topics: vec![topic],
                        })
                        .await;
                }
            }
        });
        Ok(Session { shared })
    }
}

/// How many times [`Session::request`] sends a request again after a
/// goodbye left it unanswered.
const RESENDS: usize = 3;

pub(crate) struct Shared {
    config: SessionBuilder,
    token: Mutex<Option<String>>,
    current: Mutex<Option<(Arc<Client>, Welcome)>>,
    /// Bumped at each new connection; `u64::MAX` once the session is over.
    generation: watch::Sender<u64>,
    router: Arc<Router>,
    closed: AtomicBool,
    next_addr: AtomicU64,
}

pub(crate) fn unexpected(wanted: &str, got: &Reply) -> Error {
    Error::Malformed(format!("expected a `{wanted}` reply, got `{}`", got.name()))
}

impl Shared {
    /// The live connection now, without waiting.
    pub(crate) fn current_client(&self) -> Result<Arc<Client>, Error> {
        lock(&self.current)
            .as_ref()
            .map(|(c, _)| c.clone())
            .ok_or(Error::Closed)
    }

    fn hello(&self) -> Hello {
        Hello::new(self.config.client_name.clone(), lock(&self.token).clone())
    }

    /// One pass over the addresses, starting after the last one used.
    async fn dial_any(&self) -> Result<(Client, Welcome, Pushes), Error> {
        let addrs = &self.config.addrs;
        let mut last = Error::Closed;
        for _ in 0..addrs.len() {
            let i = self.next_addr.fetch_add(1, Ordering::Relaxed) as usize % addrs.len();
            match self.dial(&addrs[i]).await {
                Ok(done) => {
                    // Start from this address next time.
                    self.next_addr.store(i as u64, Ordering::Relaxed);
                    return Ok(done);
                }
                // A refused sign-in will not get better at another node.
                Err(Error::Server(body)) if body.code == ErrorCode::Unauthorized => {
                    return Err(Error::Server(body));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn dial(&self, addr: &str) -> Result<(Client, Welcome, Pushes), Error> {
        let options = self.config.options.clone();
        let io = tokio::time::timeout(options.connect_timeout, self.config.transport.connect(addr))
            .await
            .map_err(|_| Error::Timeout)??;
        let (client, welcome) = Client::handshake(io, self.hello(), options).await?;
        let pushes = client.pushes().await.ok_or(Error::Closed)?;
        Ok((client, welcome, pushes))
    }

    fn install(&self, client: Arc<Client>, welcome: Welcome) {
        *lock(&self.current) = Some((client, welcome));
        self.generation.send_modify(|g| *g += 1);
    }

    fn end(&self) {
        self.closed.store(true, Ordering::SeqCst);
        *lock(&self.current) = None;
        self.generation.send_replace(u64::MAX);
        self.router.end();
    }

    /// The live connection, waiting up to the request timeout for a
    /// reconnection.
    async fn client(&self) -> Result<Arc<Client>, Error> {
        // Only subscribed to installs once none is up, then looked at again.
        let mut changes: Option<watch::Receiver<u64>> = None;
        let wait = async {
            loop {
                if self.closed.load(Ordering::SeqCst) {
                    return Err(Error::Closed);
                }
                if let Some((client, _)) = lock(&self.current).as_ref()
                    && !client.is_closed()
                {
                    return Ok(client.clone());
                }
                let Some(changes) = changes.as_mut() else {
                    changes = Some(self.generation.subscribe());
                    continue;
                };
                if changes.changed().await.is_err() {
                    return Err(Error::Closed);
                }
            }
        };
        match self.config.options.request_timeout {
            Some(limit) => tokio::time::timeout(limit, wait)
                .await
                .map_err(|_| Error::Timeout)?,
            None => wait.await,
        }
    }

    fn route(&self, push: Push) {
        self.router.route(push);
    }

    /// Logs in with the session's password (if any), keeping the token;
    /// answers the user, or `None` (nothing sent) for another sign-in.
    async fn log_in(&self, client: &Client) -> Result<Option<UserInfo>, Error> {
        let SignIn::Login { name, password } = &self.config.sign_in else {
            return Ok(None);
        };
        let op = BaseOp::Login {
            name: name.clone(),
            password: password.clone(),
        };
        match client.request(op).await? {
            Reply::Base(BaseReply::Session { token, user, .. }) => {
                *lock(&self.token) = Some(token);
                Ok(Some(user))
            }
            other => Err(unexpected("session", &other)),
        }
    }

    /// After a reconnect without a token (it was refused): log in again
    /// with the session's password.
    async fn sign_in_again(&self, client: &Client, welcome: &mut Welcome) -> Result<(), Error> {
        if welcome.user.is_none() {
            welcome.user = self.log_in(client).await?;
        }
        Ok(())
    }

    /// After a reconnect: subscribe again, then fill each followed room's
    /// gap, before any push of the new connection is routed.
    async fn resume(&self, client: &Client) -> Result<(), Error> {
        let (topics, cursors) = self.router.resumable();
        for chunk in topics.chunks(64) {
            client
                .request(BaseOp::Subscribe {
                    topics: chunk.to_vec(),
                })
                .await?;
        }
        for (topic, mut since) in cursors {
            let Some(room) = topic.strip_prefix("chat.room.") else {
                continue;
            };
            loop {
                let op = ChatOp::History {
                    room: room.to_owned(),
                    before: None,
                    since: Some(since),
                    limit: Some(MAX_HISTORY),
                };
                let (messages, more) = match client.request(op).await? {
                    Reply::Chat(ChatReply::History { messages, more, .. }) => (messages, more),
                    other => return Err(unexpected("chat_history", &other)),
                };
                let progressed = messages.last().is_some_and(|m| m.seq > since);
                for message in messages {
                    since = since.max(message.seq);
                    self.route(chat_push(&topic, message));
                }
                if !more || !progressed {
                    break;
                }
            }
        }
        Ok(())
    }
}

fn chat_push(topic: &str, message: ChatMessage) -> Push {
    Push {
        topic: topic.to_owned(),
        event: ChatEvent::Message { message }.into(),
    }
}

/// Reads the current connection's pushes; reconnects when it ends.
async fn supervise(shared: Weak<Shared>, mut pushes: Pushes) {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64)
        | 1;
    loop {
        while let Some(push) = pushes.recv().await {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            shared.route(push);
        }
        let Some(strong) = shared.upgrade() else {
            return;
        };
        if strong.closed.load(Ordering::SeqCst) || !strong.config.reconnect {
            strong.end();
            return;
        }
        let backoff = strong.config.backoff.clone();
        drop(strong);
        let started = tokio::time::Instant::now();
        let mut attempt = 0u32;
        pushes = loop {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            tokio::time::sleep(backoff.jittered(attempt, seed)).await;
            attempt = attempt.saturating_add(1);
            let Some(shared) = shared.upgrade() else {
                return;
            };
            if shared.closed.load(Ordering::SeqCst) {
                return;
            }
            match shared.dial_any().await {
                Ok((client, mut welcome, pushes)) => {
                    let client = Arc::new(client);
                    if shared.sign_in_again(&client, &mut welcome).await.is_ok()
                        && shared.resume(&client).await.is_ok()
                    {
                        shared.install(client, welcome);
                        break pushes;
                    }
                }
                // The token was refused (expired, or the fleet's key
                // changed): with a password, sign in afresh; without, the
                // session cannot come back.
                Err(Error::Server(body)) if body.code == ErrorCode::Unauthorized => {
                    if matches!(shared.config.sign_in, SignIn::Login { .. }) {
                        *lock(&shared.token) = None;
                    } else {
                        shared.end();
                        return;
                    }
                }
                Err(_) => {}
            }
            if backoff
                .give_up_after
                .is_some_and(|limit| started.elapsed() >= limit)
            {
                shared.end();
                return;
            }
        };
    }
}

/// A self-healing connection to an agora fleet: see the module docs.
/// Cheap to clone; every clone is the same session.
#[derive(Clone)]
pub struct Session {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("addrs", &self.shared.config.addrs)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

/// The addresses in a comma-separated list (`a:7070, b:7070`), in order,
/// without blanks: how `--addr` and `AGORA_ADDR` name a fleet's nodes.
pub fn split_addrs(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Session {
    /// Options for a session to `addrs` (each `host:port`; an entry may
    /// also list several, comma-separated).
    pub fn builder<I, S>(addrs: I) -> SessionBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let addrs = addrs
            .into_iter()
            .flat_map(|a| split_addrs(a.as_ref()))
            .collect();
        SessionBuilder {
            addrs,
            client_name: concat!("agora-wire/", env!("CARGO_PKG_VERSION")).to_owned(),
            sign_in: SignIn::Anonymous,
            options: ClientOptions::default(),
            backoff: Backoff::default(),
            reconnect: true,
            transport: Arc::new(Tcp),
        }
    }

    /// Connects anonymously with the default options.
    ///
    /// # Errors
    /// As [`SessionBuilder::connect`].
    pub async fn connect(addr: &str) -> Result<Session, Error> {
        Session::builder([addr]).connect().await
    }

    /// Sends any operation and waits for its answer (the typed calls of
    /// [`Session::chat`] and the others are built on this).
    ///
    /// # Errors
    /// [`Error::Server`] with the daemon's code; [`Error::Closed`] when the
    /// connection dropped with the request in flight (it may have run);
    /// [`Error::Timeout`]. A request the daemon's goodbye left unanswered
    /// (it never ran) is sent again on the next connection, up to
    /// three times, rather than fail.
    pub async fn request(&self, op: impl Into<Op>) -> Result<Reply, Error> {
        let op = op.into();
        let mut client = self.shared.client().await?;
        for _ in 0..RESENDS {
            match client.request(op.clone()).await {
                // A daemon answers every request it has read before it
                // says goodbye (shutting down, draining): one the goodbye
                // left unanswered never ran, so it goes to the next
                // connection rather than fail.
                Err(Error::Server(body))
                    if self.shared.config.reconnect && client.goodbye().as_ref() == Some(&body) =>
                {
                    client.closed().await;
                    client = self.shared.client().await?;
                }
                other => return other,
            }
        }
        client.request(op).await
    }

    /// The welcome of the current connection (`None` while reconnecting).
    pub fn welcome(&self) -> Option<Welcome> {
        lock(&self.shared.current).as_ref().map(|(_, w)| w.clone())
    }

    /// Whether a connection is up now.
    pub fn is_connected(&self) -> bool {
        lock(&self.shared.current)
            .as_ref()
            .is_some_and(|(c, _)| !c.is_closed())
    }

    /// How many connections this session has made (1 until the first
    /// reconnection).
    pub fn connections(&self) -> u64 {
        let g = *self.shared.generation.borrow();
        if g == u64::MAX { 0 } else { g }
    }

    /// The token the session signs in with, if any.
    pub fn token(&self) -> Option<String> {
        lock(&self.shared.token).clone()
    }

    /// Liveness check; the round trip's duration.
    ///
    /// # Errors
    /// As [`Session::request`].
    pub async fn ping(&self) -> Result<Duration, Error> {
        let start = std::time::Instant::now();
        match self.request(BaseOp::Ping).await? {
            Reply::Base(BaseReply::Pong { .. }) => Ok(start.elapsed()),
            other => Err(unexpected("pong", &other)),
        }
    }

    /// Receives the pushes of `topic`: subscribes the connection (now and
    /// after every reconnection) and returns the stream. Topics the daemon
    /// subscribes by itself (chat rooms, games) are better followed with
    /// [`Session::listen`], or [`crate::services::Chat::follow`].
    ///
    /// # Errors
    /// `bad_request` for an invalid topic; as [`Session::request`].
    pub async fn subscribe(&self, topic: &str) -> Result<Subscription, Error> {
        let sub = Subscription::new(&self.shared.router, topic, true);
        self.request(BaseOp::Subscribe {
            topics: vec![topic.to_owned()],
        })
        .await?;
        Ok(sub)
    }

    /// Receives the pushes of `topic` without asking the daemon: for topics
    /// it subscribes the connection to by itself (`chat.room.NAME` of
    /// joined rooms, `chat.user.NAME`, `game.ID` of your games,
    /// `game.user.NAME`, `metrics` after `metrics_watch`).
    pub fn listen(&self, topic: &str) -> Subscription {
        Subscription::new(&self.shared.router, topic, false)
    }

    /// Ends the session: closes the connection, ends every subscription.
    pub fn close(&self) {
        self.shared.end();
    }

    pub(crate) fn set_token(&self, token: String) {
        *lock(&self.shared.token) = Some(token);
    }

    /// Notes the last chat message of `topic` delivered, so a reconnection
    /// resumes after it.
    pub(crate) fn follow_from(&self, topic: &str, seq: u64) {
        self.shared.router.follow_from(topic, seq);
    }
}

impl crate::client::Requester for Session {
    fn request_op(&self, op: Op) -> futures::future::BoxFuture<'_, Result<Reply, Error>> {
        Box::pin(Session::request(self, op))
    }

    fn recovers(&self) -> bool {
        self.shared.config.reconnect
    }
}
