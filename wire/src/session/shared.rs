//! What every clone of a [`super::Session`] shares: the current
//! connection, signing in, and the supervisor that reconnects and resumes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::watch;

use super::{SessionBuilder, SignIn};
use crate::base::{BaseOp, BaseReply, UserInfo};
use crate::chat::{ChatEvent, ChatMessage, ChatOp, ChatReply, MAX_HISTORY};
use crate::client::{Client, Pushes};
use crate::error::{Error, ErrorCode};
use crate::message::{Hello, Push, Reply, Welcome};
use crate::subscription::{Router, lock};

pub(crate) struct Shared {
    pub(super) config: SessionBuilder,
    pub(super) token: Mutex<Option<String>>,
    pub(super) current: Mutex<Option<(Arc<Client>, Welcome)>>,
    /// Bumped at each new connection; `u64::MAX` once the session is over.
    pub(super) generation: watch::Sender<u64>,
    pub(super) router: Arc<Router>,
    pub(super) closed: AtomicBool,
    pub(super) next_addr: AtomicU64,
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

    pub(super) fn hello(&self) -> Hello {
        Hello::new(self.config.client_name.clone(), lock(&self.token).clone())
    }

    /// One pass over the addresses, starting after the last one used.
    pub(super) async fn dial_any(&self) -> Result<(Client, Welcome, Pushes), Error> {
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

    pub(super) async fn dial(&self, addr: &str) -> Result<(Client, Welcome, Pushes), Error> {
        let options = self.config.options.clone();
        let io = tokio::time::timeout(options.connect_timeout, self.config.transport.connect(addr))
            .await
            .map_err(|_| Error::Timeout)??;
        let (client, welcome) = Client::handshake(io, self.hello(), options).await?;
        let pushes = client.pushes().await.ok_or(Error::Closed)?;
        Ok((client, welcome, pushes))
    }

    pub(super) fn install(&self, client: Arc<Client>, welcome: Welcome) {
        *lock(&self.current) = Some((client, welcome));
        self.generation.send_modify(|g| *g += 1);
    }

    pub(super) fn end(&self) {
        self.closed.store(true, Ordering::SeqCst);
        *lock(&self.current) = None;
        self.generation.send_replace(u64::MAX);
        self.router.end();
    }

    /// The live connection, waiting up to the request timeout for a
    /// reconnection.
    pub(super) async fn client(&self) -> Result<Arc<Client>, Error> {
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

    pub(super) fn route(&self, push: Push) {
        self.router.route(push);
    }

    /// Logs in with the session's password (if any), keeping the token;
    /// answers the user, or `None` (nothing sent) for another sign-in.
    pub(super) async fn log_in(&self, client: &Client) -> Result<Option<UserInfo>, Error> {
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
    pub(super) async fn sign_in_again(
        &self,
        client: &Client,
        welcome: &mut Welcome,
    ) -> Result<(), Error> {
        if welcome.user.is_none() {
            welcome.user = self.log_in(client).await?;
        }
        Ok(())
    }

    /// After a reconnect: subscribe again, then fill each followed room's
    /// gap, before any push of the new connection is routed.
    pub(super) async fn resume(&self, client: &Client) -> Result<(), Error> {
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
pub(super) async fn supervise(shared: Weak<Shared>, mut pushes: Pushes) {
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
