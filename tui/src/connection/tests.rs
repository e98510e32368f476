//! The connection task against closed ports and fake daemons: reconnect
//! schedule, handshake, pings, pushes, requests, tokens.

use agora_wire::{
    BaseEvent, BaseReply, ChatOp, ChatReply, ErrorBody, ErrorCode, FrameCodec, Op, Push, Request,
    ServerFrame, SessionInfo, UserInfo, Welcome, decode, encode,
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

/// The events of a first attempt that is refused: disconnected, then the
/// first retry scheduled.
async fn refused_once(rx: &mut mpsc::Receiver<ServerEvent>) {
    assert!(matches!(next(rx).await, ServerEvent::Disconnected { .. }));
    assert!(matches!(
        next(rx).await,
        ServerEvent::Reconnecting { attempt: 1, .. }
    ));
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
    refused_once(&mut rx).await;
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

#[test]
fn an_address_list_is_split_on_commas() {
    assert_eq!(addresses("a:1"), ["a:1"]);
    assert_eq!(addresses("a:1, b:2,,c:3 "), ["a:1", "b:2", "c:3"]);
    assert_eq!(addresses(""), [""]);
}

#[tokio::test]
async fn with_a_list_a_refused_address_hands_over_to_the_next() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let up = listener.local_addr().expect("addr").to_string();
    let (_hang_up, told) = tokio::sync::oneshot::channel();
    let daemon = tokio::spawn(fake_daemon(listener, told));

    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let config =
        quick(format!("{},{up}", closed_addr())).tokens(watch::channel(Some("tok".into())).1);
    let (_commands, commands_rx) = mpsc::channel(4);
    let task = spawn(config, tx, commands_rx, cancel.clone());

    // The first address refuses: one failed attempt, then the second.
    refused_once(&mut rx).await;
    assert_eq!(
        next(&mut rx).await,
        ServerEvent::Connected {
            session: 7,
            user: Some("alice".into())
        }
    );
    cancel.cancel();
    tokio::time::timeout(GUARD, task)
        .await
        .expect("the task did not stop")
        .expect("the task panicked");
    daemon.abort();
}
