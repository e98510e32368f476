//! The protocol's fine print, as docs/PROTOCOL.md states it, against the
//! real daemon: requests pipelined behind the hello, request id 0, `nil`
//! for optional fields, a sender's own message arriving before its
//! acknowledgement, and signing in again on a signed-in connection.

use agora_wire::chat::ChatMessage;
use agora_wire::{
    BaseOp, BaseReply, CacheReply, ChatEvent, ChatOp, ChatReply, ErrorCode, Event, FrameCodec,
    Hello, Op, Push, Reply, Request, ServerFrame, decode, encode,
};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::support::{Daemon, Home, Raw, rt};

/// A raw connection signed in as a new user `name`.
async fn signed_in(daemon: &Daemon, name: &str) -> Raw {
    let mut raw = daemon.raw().await;
    raw.send_body(
        encode(&Request {
            id: 1,
            op: BaseOp::Register {
                name: name.into(),
                password: "correct horse".into(),
            }
            .into(),
        })
        .unwrap(),
    )
    .await;
    match raw.next().await {
        Some(ServerFrame::Reply {
            id: 1,
            body: Reply::Base(BaseReply::Session { .. }),
        }) => raw,
        other => panic!("register: {other:?}"),
    }
}

/// The answer to request `id`, skipping pushes.
async fn answer(raw: &mut Raw, id: u64) -> Result<Reply, agora_wire::ErrorBody> {
    loop {
        match raw.next().await.expect("an answer") {
            ServerFrame::Reply { id: got, body } if got == id => return Ok(body),
            ServerFrame::Error { id: got, error } if got == id => return Err(error),
            ServerFrame::Push(_) => continue,
            other => panic!("waiting for {id}: {other:?}"),
        }
    }
}

async fn request(
    raw: &mut Raw,
    id: u64,
    op: impl Into<Op>,
) -> Result<Reply, agora_wire::ErrorBody> {
    raw.send_body(encode(&Request { id, op: op.into() }).unwrap())
        .await;
    answer(raw, id).await
}

#[test]
fn requests_may_follow_the_hello_without_waiting_for_the_welcome() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let stream = TcpStream::connect(&daemon.addr).await.unwrap();
        let mut framed = Framed::new(stream, FrameCodec::default());
        // Hello and two requests in one write.
        framed
            .feed(encode(&Hello::new("eager", None)).unwrap())
            .await
            .unwrap();
        for id in [1, 2] {
            framed
                .feed(
                    encode(&Request {
                        id,
                        op: BaseOp::Ping.into(),
                    })
                    .unwrap(),
                )
                .await
                .unwrap();
        }
        framed.flush().await.unwrap();
        let mut frames = Vec::new();
        for _ in 0..3 {
            let body = framed.next().await.unwrap().unwrap();
            frames.push(decode::<ServerFrame>(&body).unwrap());
        }
        assert!(matches!(frames[0], ServerFrame::Welcome(_)), "{frames:?}");
        let mut ids: Vec<u64> = frames[1..]
            .iter()
            .map(|f| match f {
                ServerFrame::Reply {
                    id,
                    body: Reply::Base(BaseReply::Pong { .. }),
                } => *id,
                other => panic!("{other:?}"),
            })
            .collect();
        ids.sort();
        assert_eq!(ids, [1, 2]);
    });
}

#[test]
fn request_id_zero_is_refused_without_running_the_request() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let mut raw = daemon.raw().await;
        let err = request(
            &mut raw,
            0,
            BaseOp::Register {
                name: "zero".into(),
                password: "correct horse".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest);
        assert!(err.message.contains("id 0 is reserved"), "{}", err.message);
        // It did not run: the name is still free.
        let reply = request(
            &mut raw,
            1,
            BaseOp::Register {
                name: "zero".into(),
                password: "correct horse".into(),
            },
        )
        .await;
        assert!(
            matches!(reply, Ok(Reply::Base(BaseReply::Session { .. }))),
            "{reply:?}"
        );
    });
}

#[test]
fn optional_fields_accept_nil() {
    // Encoded with explicit nils, as a client in another language might.
    #[derive(Serialize)]
    struct Send<'a> {
        r#type: &'a str,
        room: &'a str,
        text: &'a str,
        action: Option<bool>,
    }
    #[derive(Serialize)]
    struct Subscribe<'a> {
        r#type: &'a str,
        channels: Option<Vec<serde_bytes::ByteBuf>>,
        patterns: Option<Vec<serde_bytes::ByteBuf>>,
    }
    #[derive(Serialize)]
    struct Raw<T> {
        id: u64,
        op: T,
    }
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let mut raw = signed_in(&daemon, "nils").await;
        let joined = request(&mut raw, 2, ChatOp::Join { room: "ops".into() }).await;
        assert!(
            matches!(joined, Ok(Reply::Chat(ChatReply::Room { .. }))),
            "{joined:?}"
        );
        let send = Raw {
            id: 3,
            op: Send {
                r#type: "chat_send",
                room: "ops",
                text: "hello",
                action: None,
            },
        };
        raw.send_body(encode(&send).unwrap()).await;
        let sent = answer(&mut raw, 3).await;
        assert!(
            matches!(sent, Ok(Reply::Chat(ChatReply::Sent { .. }))),
            "{sent:?}"
        );
        let sub = Raw {
            id: 4,
            op: Subscribe {
                r#type: "cache_subscribe",
                channels: None,
                patterns: Some(vec![serde_bytes::ByteBuf::from(b"news.*".to_vec())]),
            },
        };
        raw.send_body(encode(&sub).unwrap()).await;
        match answer(&mut raw, 4).await {
            Ok(Reply::Cache(CacheReply::Subscribed { channels, patterns })) => {
                assert!(channels.is_empty());
                assert_eq!(patterns.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn a_sender_sees_its_own_message_pushed_before_the_acknowledgement() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let mut raw = signed_in(&daemon, "echo").await;
        assert!(
            request(&mut raw, 2, ChatOp::Join { room: "ops".into() })
                .await
                .is_ok()
        );
        for (id, text) in [(3u64, "one"), (4, "two"), (5, "three")] {
            raw.send_body(
                encode(&Request {
                    id,
                    op: ChatOp::Send {
                        room: "ops".into(),
                        text: text.into(),
                        action: false,
                    }
                    .into(),
                })
                .unwrap(),
            )
            .await;
            // The push with the message comes first, then the answer with
            // the same sequence number.
            let pushed: ChatMessage = loop {
                match raw.next().await.expect("a frame") {
                    ServerFrame::Push(Push {
                        event: Event::Chat(ChatEvent::Message { message }),
                        ..
                    }) => break message,
                    ServerFrame::Push(_) => continue,
                    other => panic!("expected the push first, got {other:?}"),
                }
            };
            assert_eq!(pushed.text, text);
            match raw.next().await.expect("the answer") {
                ServerFrame::Reply {
                    id: got,
                    body: Reply::Chat(ChatReply::Sent { seq, .. }),
                } => {
                    assert_eq!(got, id);
                    assert_eq!(seq, pushed.seq);
                }
                other => panic!("expected chat_sent, got {other:?}"),
            }
        }
    });
}

#[test]
fn signing_in_again_as_someone_else_switches_the_whole_session() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let mut raw = signed_in(&daemon, "first").await;
        let topics = request(
            &mut raw,
            2,
            BaseOp::Subscribe {
                topics: vec!["sessions".into()],
            },
        )
        .await;
        assert!(topics.is_ok());
        let second = request(
            &mut raw,
            3,
            BaseOp::Register {
                name: "second".into(),
                password: "correct horse".into(),
            },
        )
        .await;
        assert!(matches!(second, Ok(Reply::Base(BaseReply::Session { .. }))));
        match request(&mut raw, 4, BaseOp::Whoami).await {
            Ok(Reply::Base(BaseReply::Whoami { user, session })) => {
                assert_eq!(user.map(|u| u.name).as_deref(), Some("second"));
                assert_eq!(session.user.as_deref(), Some("second"));
            }
            other => panic!("{other:?}"),
        }
        // The first user's subscriptions went with them; chat and games
        // subscribed the new user to their own topics.
        match request(
            &mut raw,
            5,
            BaseOp::Unsubscribe {
                topics: vec!["sessions".into()],
            },
        )
        .await
        {
            Ok(Reply::Base(BaseReply::Subscribed { topics })) => {
                assert_eq!(topics, ["chat.user.second", "game.user.second"]);
            }
            other => panic!("{other:?}"),
        }
        // Logging in again as the same user changes nothing but the token.
        let again = request(
            &mut raw,
            6,
            BaseOp::Login {
                name: "second".into(),
                password: "correct horse".into(),
            },
        )
        .await;
        assert!(matches!(again, Ok(Reply::Base(BaseReply::Session { .. }))));
        match request(
            &mut raw,
            7,
            BaseOp::Subscribe {
                topics: vec!["x".into()],
            },
        )
        .await
        {
            Ok(Reply::Base(BaseReply::Subscribed { topics })) => {
                assert_eq!(topics, ["chat.user.second", "game.user.second", "x"]);
            }
            other => panic!("{other:?}"),
        }
    });
}
