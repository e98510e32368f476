//! The protocol against the real daemon: pushes, hostile input, handshake
//! refusals, health and metrics.

use agora_wire::{
    BaseEvent, BaseOp, BaseReply, ErrorCode, Event, Hello, Op, Reply, Request, ServerFrame, encode,
};
use bytes::Bytes;

use crate::support::{Daemon, Home, rt};

#[test]
fn subscribers_see_sessions_open_and_close() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let watcher = daemon.client(None).await;
        let mut pushes = watcher.pushes().await.unwrap();
        let reply = watcher
            .request(BaseOp::Subscribe {
                topics: vec!["sessions".into()],
            })
            .await
            .unwrap();
        assert_eq!(
            reply,
            Reply::Base(BaseReply::Subscribed {
                topics: vec!["sessions".into()]
            })
        );
        let (other, welcome) =
            agora_wire::Client::connect(&daemon.addr, Hello::new("visitor", None))
                .await
                .unwrap();
        let push = pushes.recv().await.unwrap();
        assert_eq!(push.topic, "sessions");
        match push.event {
            Event::Base(BaseEvent::SessionOpened { session }) => {
                assert_eq!(session.id, welcome.session);
                assert_eq!(session.client, "visitor");
            }
            other => panic!("expected session_opened, got {other:?}"),
        }
        drop(other);
        match pushes.recv().await.unwrap().event {
            Event::Base(BaseEvent::SessionClosed { session }) => {
                assert_eq!(session.id, welcome.session)
            }
            other => panic!("expected session_closed, got {other:?}"),
        }
        // Bad topic names are refused with the rule.
        let err = watcher
            .request(BaseOp::Subscribe {
                topics: vec!["Bad Topic".into()],
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadRequest));
        assert!(err.to_string().contains("use only"), "{err}");
        let reply = watcher
            .request(BaseOp::Unsubscribe {
                topics: vec!["sessions".into()],
            })
            .await
            .unwrap();
        assert_eq!(reply, Reply::Base(BaseReply::Subscribed { topics: vec![] }));
    });
}

#[test]
fn hostile_clients_are_dropped_while_others_are_served() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &["--max-frame", "1KiB"]);
    rt().block_on(async {
        let good = daemon.client(None).await;
        let ping = || async {
            good.request(BaseOp::Ping)
                .await
                .expect("good client still served")
        };
        ping().await;

        // An oversize frame: refused from its header, then the connection closes.
        let mut big = daemon.raw().await;
        big.send_bytes(&2048u32.to_be_bytes()).await;
        match big.next().await {
            Some(ServerFrame::Goodbye { error }) => {
                assert_eq!(error.code, ErrorCode::TooLarge);
                assert!(error.message.contains("2048"), "{}", error.message);
            }
            other => panic!("expected goodbye, got {other:?}"),
        }
        assert!(
            big.next().await.is_none(),
            "connection closed after too_large"
        );
        ping().await;

        // Pure garbage: a nonsense length header is refused the same way.
        let mut garbage = daemon.raw().await;
        garbage
            .send_bytes(b"\xff\xfe\xfd\xfcGET / HTTP/1.1\r\n")
            .await;
        assert!(matches!(
            garbage.next().await,
            Some(ServerFrame::Goodbye { .. })
        ));
        ping().await;

        // A well-framed but malformed body: bad_request, and the connection
        // stays usable.
        let mut malformed = daemon.raw().await;
        malformed
            .send_body(Bytes::from_static(b"\xc1\xc1 not msgpack"))
            .await;
        match malformed.next().await {
            Some(ServerFrame::Error { id: 0, error }) => {
                assert_eq!(error.code, ErrorCode::BadRequest)
            }
            other => panic!("expected bad_request, got {other:?}"),
        }
        malformed
            .send_body(
                encode(&Request {
                    id: 5,
                    op: Op::Base(BaseOp::Ping),
                })
                .unwrap(),
            )
            .await;
        assert!(matches!(
            malformed.next().await,
            Some(ServerFrame::Reply {
                id: 5,
                body: Reply::Base(BaseReply::Pong { .. })
            })
        ));

        // An unknown operation keeps its id and names the operation.
        #[derive(serde::Serialize)]
        struct Unknown {
            id: u64,
            op: UnknownOp,
        }
        #[derive(serde::Serialize)]
        struct UnknownOp {
            r#type: &'static str,
        }
        malformed
            .send_body(
                encode(&Unknown {
                    id: 77,
                    op: UnknownOp { r#type: "teleport" },
                })
                .unwrap(),
            )
            .await;
        match malformed.next().await {
            Some(ServerFrame::Error { id: 77, error }) => {
                assert_eq!(error.code, ErrorCode::BadRequest);
                assert!(error.message.contains("teleport"), "{}", error.message);
            }
            other => panic!("expected bad_request for id 77, got {other:?}"),
        }

        // A client that dies mid-frame.
        let mut dying = daemon.raw().await;
        dying.send_bytes(&[0, 0, 0, 100, 1, 2, 3]).await;
        drop(dying);
        ping().await;

        let (status, metrics) = daemon.http_get("/metrics").await;
        assert_eq!(status, 200);
        assert!(
            metrics.contains("agora_frames_rejected_total{reason=\"too_large\"} 2"),
            "{metrics}"
        );
        assert!(metrics.contains("agora_frames_rejected_total{reason=\"malformed\"} 2"));
    });
}

#[test]
fn handshake_refusals_say_why() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let mut hello = Hello::new("old-client", None);
        hello.protocol = 99;
        let err = agora_wire::Client::connect(&daemon.addr, hello)
            .await
            .expect_err("refused");
        let message = err.to_string();
        assert!(
            message.contains("99") && message.contains("version 1"),
            "{message}"
        );

        let err = agora_wire::Client::connect(
            &daemon.addr,
            Hello::new("x", Some("forged.token.here".into())),
        )
        .await
        .expect_err("refused");
        assert_eq!(err.code(), Some(ErrorCode::Unauthorized));
    });
}

#[test]
fn health_endpoints_answer() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let (status, body) = daemon.http_get("/healthz").await;
        assert_eq!(status, 200);
        assert!(body.contains("\"ok\""), "{body}");
        let (status, body) = daemon.http_get("/readyz").await;
        assert_eq!(status, 200);
        assert!(body.contains("ready"), "{body}");
        let (status, _) = daemon.http_get("/nope").await;
        assert_eq!(status, 404);
    });
}
