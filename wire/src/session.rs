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

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::base::{BaseOp, BaseReply};
use crate::client::ClientOptions;
use crate::error::Error;
use crate::message::{Op, Reply, Welcome};
use crate::transport::{Tcp, Transport};

pub use crate::subscription::Subscription;
use crate::subscription::{Router, lock};

mod shared;

use shared::supervise;
pub(crate) use shared::{Shared, unexpected};

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
