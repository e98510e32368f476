//! The link to the daemon: one task that connects, pings, forwards pushes
//! and reconnects.
//!
//! [`spawn`] starts the task; it reports everything the UI needs as
//! [`ServerEvent`]s on a channel and stops when its `CancellationToken` is
//! cancelled or the UI drops the receiver. It also carries the UI's
//! requests ([`Outgoing`]s on a second channel): while connected each is
//! sent at once (many may be in flight) and answered with a
//! [`ServerEvent::Reply`] carrying its tag; while not connected each fails
//! at once, so the UI never waits on a request nobody will send. [`Backoff`] is the pure retry
//! schedule. This module does not draw and does not touch the terminal.

use std::collections::HashSet;
use std::future::pending;
use std::time::Duration;

use agora_wire::base::SESSIONS_TOPIC;
use agora_wire::{BaseOp, Client, ClientOptions, Error, Hello, Reply};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};
use tokio_util::sync::CancellationToken;

use crate::app::{Outgoing, ServerEvent};

/// Exponential backoff between connection attempts.
///
/// No jitter: a handful of terminals per daemon cannot stampede it, and a
/// deterministic delay is what the status bar promises ("reconnecting in
/// 2s").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry.
    pub first: Duration,
    /// The longest delay.
    pub cap: Duration,
}

impl Default for Backoff {
    /// 250 ms, doubling, at most 5 s.
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(250),
            cap: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1 for the first retry):
    /// `first * 2^(attempt-1)`, capped. Attempt 0 is treated as 1.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.first
            .checked_mul(1 << doublings)
            .map_or(self.cap, |d| d.min(self.cap))
    }
}

/// Everything the connection task needs to know. Not `Debug`: it holds
/// the token.
#[derive(Clone)]
pub struct Config {
    /// The daemon's `host:port`, or several, comma-separated, tried in
    /// turn (another after each lost connection).
    pub addr: String,
    /// The token to sign in with, if any, read at each connection attempt:
    /// signing in from the TUI sends the new one here, so a reconnection
    /// stays signed in.
    pub token: watch::Receiver<Option<String>>,
    /// The client name sent in the hello, e.g. `agora-tui/0.1.0`.
    pub client_name: String,
    /// How often to ping.
    pub ping_every: Duration,
    /// How long to wait for the handshake or for any answer, a pong
    /// included; a connection that stays silent this long counts as lost.
    pub timeout: Duration,
    /// The retry schedule.
    pub backoff: Backoff,
}

impl Config {
    /// Defaults for the TUI: this crate's client name, a ping every second,
    /// a 5 s timeout and the default [`Backoff`]; always `token` (see
    /// [`Config::tokens`] for one that can change).
    pub fn new(addr: impl Into<String>, token: Option<String>) -> Self {
        Config {
            addr: addr.into(),
            token: watch::channel(token).1,
            client_name: format!("agora-tui/{}", env!("CARGO_PKG_VERSION")),
            ping_every: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
        }
    }
}

impl Config {
    /// The same config, signing in with whatever token `tokens` holds at
    /// each attempt.
    pub fn tokens(mut self, tokens: watch::Receiver<Option<String>>) -> Self {
        self.token = tokens;
        self
    }
}

/// Starts the connection task on the current tokio runtime.
pub fn spawn(
    config: Config,
    events: mpsc::Sender<ServerEvent>,
    commands: mpsc::Receiver<Outgoing>,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run(config, events, commands, cancel))
}

/// Answers a request that cannot be sent now.
async fn fail_fast(events: &mpsc::Sender<ServerEvent>, command: Outgoing) -> Result<(), ()> {
    let report = ServerEvent::Reply {
        tag: command.tag,
        result: Err("not connected to the daemon".to_string()),
    };
    events.send(report).await.map_err(|_| ())
}

/// Why a stretch of work ended.
enum Ended {
    /// Cancelled, or nobody is listening any more: stop for good.
    Stop,
    /// The connection was lost or could not be made; retry.
    Lost(String),
}

/// The addresses of a comma-separated list, in order (the whole text when
/// it lists none).
pub fn addresses(list: &str) -> Vec<String> {
    let addrs = agora_wire::split_addrs(list);
    if addrs.is_empty() {
        vec![list.to_owned()]
    } else {
        addrs
    }
}

/// Connects, serves and reconnects until cancelled. See [`spawn`].
pub async fn run(
    config: Config,
    events: mpsc::Sender<ServerEvent>,
    mut commands: mpsc::Receiver<Outgoing>,
    cancel: CancellationToken,
) {
    let mut attempt: u32 = 0;
    // `addr` may list several daemons (a fleet, `a:7070,b:7070`): each
    // lost connection or failed attempt moves on to the next, so a node
    // that is shutting down (its goodbye says to reconnect elsewhere) or
    // gone hands the TUI to another.
    let addrs = addresses(&config.addr);
    let mut turn = 0usize;
    loop {
        let addr = addrs[turn % addrs.len()].as_str();
        let ended =
            connect_and_serve(addr, &config, &events, &mut commands, &cancel, &mut attempt).await;
        let error = match ended {
            Ended::Stop => return,
            Ended::Lost(error) => error,
        };
        turn = turn.wrapping_add(1);
        tracing::debug!(%addr, %error, "connection lost");
        if events
            .send(ServerEvent::Disconnected {
                error: error.clone(),
            })
            .await
            .is_err()
        {
            return;
        }
        attempt = attempt.saturating_add(1);
        let retry_in = config.backoff.delay(attempt);
        let report = ServerEvent::Reconnecting {
            attempt,
            retry_in,
            last_error: error,
        };
        if events.send(report).await.is_err() {
            return;
        }
        let wait = sleep(retry_in);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = &mut wait => break,
                command = commands.recv() => match command {
                    Some(command) => {
                        if fail_fast(&events, command).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
            }
        }
    }
}

/// One connection's life: handshake, subscribe, then ping and forward
/// pushes until it ends. Resets `attempt` once the handshake succeeds.
async fn connect_and_serve(
    addr: &str,
    config: &Config,
    events: &mpsc::Sender<ServerEvent>,
    commands: &mut mpsc::Receiver<Outgoing>,
    cancel: &CancellationToken,
    attempt: &mut u32,
) -> Ended {
    let token = config.token.borrow().clone();
    let hello = Hello::new(config.client_name.clone(), token);
    let options = ClientOptions {
        connect_timeout: config.timeout,
        request_timeout: Some(config.timeout),
        ..ClientOptions::default()
    };
    let connecting = Client::connect_with(addr, hello, options);
    tokio::pin!(connecting);
    let connected = loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ended::Stop,
            result = &mut connecting => break result,
            command = commands.recv() => match command {
                Some(command) => {
                    if fail_fast(events, command).await.is_err() {
                        return Ended::Stop;
                    }
                }
                None => return Ended::Stop,
            },
        }
    };
    let (client, welcome) = match connected {
        Ok(pair) => pair,
        Err(err) => return Ended::Lost(describe(&err)),
    };
    *attempt = 0;
    let report = ServerEvent::Connected {
        session: welcome.session,
        user: welcome.user.map(|u| u.name),
    };
    if events.send(report).await.is_err() {
        return Ended::Stop;
    }
    let mut open = HashSet::new();
    let ended = serve(&client, config, events, commands, cancel, &mut open).await;
    // Requests in flight on a lost connection will never be answered:
    // say so, so the UI can tell the user their message did not go.
    if let Ended::Lost(error) = &ended {
        for tag in open {
            let report = ServerEvent::Reply {
                tag,
                result: Err(format!("connection lost: {error}")),
            };
            if events.send(report).await.is_err() {
                return Ended::Stop;
            }
        }
    }
    ended
}

/// A ping on its way, and when it left.
type PingInFlight<'a> = (Instant, BoxFuture<'a, Result<Reply, Error>>);

/// A UI request on its way: its tag and the answer.
type Answer<'a> = BoxFuture<'a, (u64, Result<Reply, Error>)>;

/// Serves one connection; `open` holds the tags of UI requests in flight.
async fn serve(
    client: &Client,
    config: &Config,
    events: &mpsc::Sender<ServerEvent>,
    commands: &mut mpsc::Receiver<Outgoing>,
    cancel: &CancellationToken,
    open: &mut HashSet<u64>,
) -> Ended {
    let mut pushes = client.pushes().await;
    // Subscribing is a nicety for the Dashboard; a daemon that refuses it
    // is still worth staying connected to.
    let subscribe = BaseOp::Subscribe {
        topics: vec![SESSIONS_TOPIC.to_string()],
    };
    let subscribed = tokio::select! {
        _ = cancel.cancelled() => return Ended::Stop,
        result = client.request(subscribe) => result,
    };
    match subscribed {
        Ok(_) => {}
        Err(err @ Error::Server(_)) => tracing::warn!(%err, "cannot subscribe to sessions"),
        Err(err) => return Ended::Lost(describe(&err)),
    }

    let mut ticker = interval(config.ping_every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // One ping at a time: the request runs inside this select so pushes are
    // forwarded while it waits, and a slow pong delays the next ping rather
    // than piling up requests.
    let mut ping: Option<PingInFlight<'_>> = None;
    let mut answers: FuturesUnordered<Answer<'_>> = FuturesUnordered::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ended::Stop,
            command = commands.recv() => match command {
                Some(Outgoing { tag, op }) => {
                    open.insert(tag);
                    answers.push(Box::pin(async move { (tag, client.request(op).await) }));
                }
                None => return Ended::Stop,
            },
            Some((tag, result)) = answers.next(), if !answers.is_empty() => {
                open.remove(&tag);
                let report = ServerEvent::Reply { tag, result: result.map_err(|e| describe(&e)) };
                if events.send(report).await.is_err() {
                    return Ended::Stop;
                }
            }
            _ = ticker.tick(), if ping.is_none() => {
                ping = Some((Instant::now(), Box::pin(client.request(BaseOp::Ping))));
            }
            result = async {
                match ping.as_mut() {
                    Some((_, answer)) => answer.await,
                    None => pending().await,
                }
            }, if ping.is_some() => {
                let sent = ping.take().map_or_else(Instant::now, |(sent, _)| sent);
                match result {
                    Ok(_) => {
                        if events.send(ServerEvent::Latency(sent.elapsed())).await.is_err() {
                            return Ended::Stop;
                        }
                    }
                    Err(Error::Timeout) => {
                        return Ended::Lost(format!(
                            "no answer to ping within {}s",
                            config.timeout.as_secs_f32()
                        ));
                    }
                    Err(err @ Error::Server(_)) => tracing::warn!(%err, "ping refused"),
                    Err(err) => return Ended::Lost(describe(&err)),
                }
            }
            push = async {
                match pushes.as_mut() {
                    Some(p) => p.recv().await,
                    None => pending().await,
                }
            } => match push {
                Some(push) => {
                    if events.send(ServerEvent::Push(push)).await.is_err() {
                        return Ended::Stop;
                    }
                }
                None => return Ended::Lost(closed_reason(client)),
            },
            _ = client.closed() => return Ended::Lost(closed_reason(client)),
        }
    }
}

fn closed_reason(client: &Client) -> String {
    match client.goodbye() {
        Some(body) => body.to_string(),
        None => "connection closed by the server".to_string(),
    }
}

/// An error in words short enough for the status bar: `connection
/// refused` rather than `Connection refused (os error 111)`.
fn describe(err: &Error) -> String {
    use std::io::ErrorKind as K;
    match err {
        Error::Io(io) => match io.kind() {
            kind @ (K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::TimedOut
            | K::UnexpectedEof
            | K::AddrNotAvailable
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown) => kind.to_string(),
            _ => io.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
