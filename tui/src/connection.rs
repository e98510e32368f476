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
    /// The daemon's `host:port`.
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

/// Connects, serves and reconnects until cancelled. See [`spawn`].
pub async fn run(
    config: Config,
    events: mpsc::Sender<ServerEvent>,
    mut commands: mpsc::Receiver<Outgoing>,
    cancel: CancellationToken,
) {
    let mut attempt: u32 = 0;
    loop {
        let ended = connect_and_serve(&config, &events, &mut commands, &cancel, &mut attempt).await;
        let error = match ended {
            Ended::Stop => return,
            Ended::Lost(error) => error,
        };
        tracing::debug!(addr = %config.addr, %error, "connection lost");
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
    let connecting = Client::connect_with(config.addr.as_str(), hello, options);
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
mod tests {
    use agora_wire::{
        BaseEvent, BaseReply, ChatOp, ChatReply, ErrorBody, ErrorCode, FrameCodec, Op, Push,
        Request, ServerFrame, SessionInfo, UserInfo, Welcome, decode, encode,
    };
    use futures::{SinkExt, StreamExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::codec::Framed;

    use super::*;

    /// A guard for tests that must not hang; never reached when they pass.
    const GUARD: Duration = Duration::from_secs(10);

    async fn next(rx: &mut mpsc::Receiver<ServerEvent>) -> ServerEvent {
        tokio::time::timeout(GUARD, rx.recv())
            .await
            .expect("no event in time")
            .expect("the task hung up")
    }

    /// An address nobody listens on (bound, then released).
    fn closed_addr() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").to_string()
    }

    /// A config for `addr` that waits `first`, then up to `cap`, between
    /// reconnection attempts.
    fn with_backoff(addr: String, first: Duration, cap: Duration) -> Config {
        Config {
            backoff: Backoff { first, cap },
            ..Config::new(addr, None)
        }
    }

    /// A config whose reconnect wait (an hour) only cancellation can end.
    fn hour_backoff(addr: String) -> Config {
        let hour = Duration::from_secs(3600);
        with_backoff(addr, hour, hour)
    }

    #[test]
    fn backoff_doubles_from_250ms_and_caps_at_5s() {
        let b = Backoff::default();
        let ms: Vec<u128> = (1..=8).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(b.delay(0), Duration::from_millis(250));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn errors_are_described_briefly() {
        let refused = Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(describe(&refused), "connection refused");
        let server = Error::Server(ErrorBody::new(ErrorCode::Unauthorized, "bad token"));
        assert_eq!(describe(&server), "bad token (unauthorized)");
    }

    /// A config whose retries are quick enough to watch for real.
    fn quick(addr: String) -> Config {
        with_backoff(addr, Duration::from_millis(5), Duration::from_millis(10))
    }

    #[tokio::test]
    async fn reports_reconnecting_against_a_closed_port_and_stops_when_cancelled() {
        let addr = closed_addr();

        let (tx, mut rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let (_commands, commands_rx) = mpsc::channel(4);
        let task = spawn(quick(addr), tx, commands_rx, cancel.clone());

        for expected_attempt in 1..=3 {
            let ServerEvent::Disconnected { error } = next(&mut rx).await else {
                panic!("expected Disconnected");
            };
            assert_eq!(error, "connection refused");
            match next(&mut rx).await {
                ServerEvent::Reconnecting {
                    attempt,
                    retry_in,
                    last_error,
                } => {
                    assert_eq!(attempt, expected_attempt);
                    assert_eq!(retry_in, quick(String::new()).backoff.delay(attempt));
                    assert_eq!(last_error, "connection refused");
                }
                other => panic!("expected Reconnecting, got {other:?}"),
            }
        }

        cancel.cancel();
        tokio::time::timeout(GUARD, task)
            .await
            .expect("task did not stop")
            .expect("task panicked");
        // The task is gone, so the channel drains and closes.
        while let Some(event) = rx.recv().await {
            assert!(
                matches!(
                    event,
                    ServerEvent::Disconnected { .. } | ServerEvent::Reconnecting { .. }
                ),
                "{event:?}"
            );
        }
    }

    #[tokio::test]
    async fn cancelling_during_the_backoff_wait_stops_at_once() {
        let addr = closed_addr();
        let (tx, mut rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        // A wait far longer than the guard: only cancellation can end it.
        // (Paused time would not do here: the refused connect is real I/O,
        // and auto-advance could fire the guard before the kernel answers.)
        let config = hour_backoff(addr);
        let (_commands, commands_rx) = mpsc::channel(4);
        let task = spawn(config, tx, commands_rx, cancel.clone());
        assert!(matches!(
            next(&mut rx).await,
            ServerEvent::Disconnected { .. }
        ));
        assert!(matches!(
            next(&mut rx).await,
            ServerEvent::Reconnecting { attempt: 1, .. }
        ));
        cancel.cancel();
        tokio::time::timeout(GUARD, task)
            .await
            .expect("task did not stop")
            .expect("task panicked");
        assert!(rx.recv().await.is_none());
    }

    /// A one-connection fake daemon: welcomes, answers pings and
    /// subscriptions, sends one push, then hangs up when told to.
    async fn fake_daemon(listener: TcpListener, hang_up: tokio::sync::oneshot::Receiver<()>) {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut framed = Framed::new(stream, FrameCodec::default());
        let hello: Hello =
            decode(&framed.next().await.expect("hello").expect("frame")).expect("decode hello");
        assert_eq!(hello.token.as_deref(), Some("tok"));
        assert!(hello.client.starts_with("agora-tui/"));
        let welcome = ServerFrame::Welcome(Welcome {
            server_version: "0.1.0".into(),
            protocol: agora_wire::PROTOCOL_VERSION,
            session: 7,
            user: Some(UserInfo {
                id: 1,
                name: "alice".into(),
            }),
            max_frame: 1 << 20,
        });
        send(&mut framed, &welcome).await;
        let mut hang_up = hang_up;
        loop {
            tokio::select! {
                _ = &mut hang_up => return,
                frame = framed.next() => {
                    let Some(Ok(frame)) = frame else { return };
                    let request: Request = decode(&frame).expect("decode request");
                    let body = match request.op {
                        Op::Base(BaseOp::Ping) => BaseReply::Pong { server_time_ms: 0 }.into(),
                        Op::Base(BaseOp::Subscribe { topics }) => {
                            assert_eq!(topics, [SESSIONS_TOPIC]);
                            BaseReply::Subscribed { topics }.into()
                        }
                        Op::Chat(ChatOp::Rooms) => ChatReply::Rooms { rooms: vec![] }.into(),
                        other => panic!("unexpected {other:?}"),
                    };
                    let subscribed = matches!(body, Reply::Base(BaseReply::Subscribed { .. }));
                    send(&mut framed, &ServerFrame::Reply { id: request.id, body }).await;
                    if subscribed {
                        send(&mut framed, &ServerFrame::Push(session_push())).await;
                    }
                }
            }
        }
    }

    fn session_push() -> Push {
        Push {
            topic: SESSIONS_TOPIC.into(),
            event: BaseEvent::SessionOpened {
                session: SessionInfo {
                    id: 8,
                    user: None,
                    client: "agora-cli/0.1.0".into(),
                },
            }
            .into(),
        }
    }

    async fn send(framed: &mut Framed<TcpStream, FrameCodec>, frame: &ServerFrame) {
        framed
            .send(encode(frame).expect("encode"))
            .await
            .expect("send");
    }

    #[tokio::test]
    async fn connects_pings_forwards_pushes_and_notices_a_drop() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let (hang_up, told) = tokio::sync::oneshot::channel();
        let daemon = tokio::spawn(fake_daemon(listener, told));

        let (tx, mut rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let config = quick(addr).tokens(watch::channel(Some("tok".into())).1);
        let (_commands, commands_rx) = mpsc::channel(4);
        let task = spawn(config, tx, commands_rx, cancel.clone());

        assert_eq!(
            next(&mut rx).await,
            ServerEvent::Connected {
                session: 7,
                user: Some("alice".into())
            }
        );
        // The push and the first pong race; both must come.
        let (mut pushed, mut pinged) = (false, false);
        while !(pushed && pinged) {
            match next(&mut rx).await {
                ServerEvent::Push(push) => {
                    assert_eq!(push, session_push());
                    pushed = true;
                }
                ServerEvent::Latency(rtt) => {
                    assert!(rtt < GUARD);
                    pinged = true;
                }
                other => panic!("unexpected {other:?}"),
            }
        }

        hang_up.send(()).expect("daemon gone early");
        daemon.await.expect("daemon panicked");
        // Pongs already in flight may still arrive before the drop is seen.
        let error = loop {
            match next(&mut rx).await {
                ServerEvent::Latency(_) => continue,
                ServerEvent::Disconnected { error } => break error,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(!error.is_empty());
        assert!(matches!(
            next(&mut rx).await,
            ServerEvent::Reconnecting { attempt: 1, .. }
        ));

        cancel.cancel();
        tokio::time::timeout(GUARD, task)
            .await
            .expect("task did not stop")
            .expect("task panicked");
    }

    #[tokio::test]
    async fn requests_are_answered_by_tag_and_fail_fast_while_disconnected() {
        // Nobody listens: the request fails at once, not after a timeout.
        let closed = closed_addr();
        let (tx, mut rx) = mpsc::channel(16);
        let (commands, commands_rx) = mpsc::channel(4);
        let cancel = CancellationToken::new();
        let config = hour_backoff(closed);
        let task = spawn(config, tx, commands_rx, cancel.clone());
        commands
            .send(Outgoing {
                tag: 9,
                op: ChatOp::Rooms.into(),
            })
            .await
            .expect("send");
        loop {
            match next(&mut rx).await {
                ServerEvent::Reply { tag, result } => {
                    assert_eq!(tag, 9);
                    assert_eq!(result, Err("not connected to the daemon".into()));
                    break;
                }
                ServerEvent::Disconnected { .. } | ServerEvent::Reconnecting { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        cancel.cancel();
        task.await.expect("task panicked");

        // Connected: the reply comes back with the tag.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let (_hang_up, told) = tokio::sync::oneshot::channel();
        let daemon = tokio::spawn(fake_daemon(listener, told));
        let (tx, mut rx) = mpsc::channel(16);
        let (commands, commands_rx) = mpsc::channel(4);
        let cancel = CancellationToken::new();
        let config = quick(addr).tokens(watch::channel(Some("tok".into())).1);
        let task = spawn(config, tx, commands_rx, cancel.clone());
        assert!(matches!(next(&mut rx).await, ServerEvent::Connected { .. }));
        commands
            .send(Outgoing {
                tag: 3,
                op: ChatOp::Rooms.into(),
            })
            .await
            .expect("send");
        loop {
            match next(&mut rx).await {
                ServerEvent::Reply { tag, result } => {
                    assert_eq!(tag, 3);
                    assert_eq!(result, Ok(ChatReply::Rooms { rooms: vec![] }.into()));
                    break;
                }
                ServerEvent::Push(_) | ServerEvent::Latency(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        cancel.cancel();
        task.await.expect("task panicked");
        daemon.abort();
    }

    /// A fake daemon that welcomes each connection, reports the token of
    /// its hello, and hangs up at once.
    async fn token_reporter(listener: TcpListener, seen: mpsc::Sender<Option<String>>) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let mut framed = Framed::new(stream, FrameCodec::default());
            let Some(Ok(frame)) = framed.next().await else {
                continue;
            };
            let hello: Hello = decode(&frame).expect("decode hello");
            let welcome = ServerFrame::Welcome(Welcome {
                server_version: "0.1.0".into(),
                protocol: agora_wire::PROTOCOL_VERSION,
                session: 1,
                user: None,
                max_frame: 1 << 20,
            });
            send(&mut framed, &welcome).await;
            if seen.send(hello.token).await.is_err() {
                return;
            }
        }
    }

    #[tokio::test]
    async fn a_token_given_later_signs_in_the_next_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let (seen_tx, mut seen) = mpsc::channel(16);
        let daemon = tokio::spawn(token_reporter(listener, seen_tx));
        let (tokens, tokens_rx) = watch::channel(None);
        let (tx, mut rx) = mpsc::channel(64);
        let (_commands, commands_rx) = mpsc::channel(4);
        let cancel = CancellationToken::new();
        let task = spawn(
            quick(addr).tokens(tokens_rx),
            tx,
            commands_rx,
            cancel.clone(),
        );
        async fn next_token(seen: &mut mpsc::Receiver<Option<String>>) -> Option<String> {
            tokio::time::timeout(GUARD, seen.recv())
                .await
                .expect("a hello in time")
                .expect("the fake daemon is up")
        }
        assert_eq!(next_token(&mut seen).await, None);
        tokens.send_replace(Some("fresh".into()));
        // The fake hangs up; whichever attempt comes next carries the token.
        loop {
            match next_token(&mut seen).await {
                None => continue,
                Some(token) => {
                    assert_eq!(token, "fresh");
                    break;
                }
            }
        }
        cancel.cancel();
        task.await.expect("task panicked");
        while rx.try_recv().is_ok() {}
        daemon.abort();
    }
}
