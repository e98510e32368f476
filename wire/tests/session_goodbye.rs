//! A [`Session`] sends a request again when the daemon's goodbye left it
//! unanswered (a daemon answers everything it read before its goodbye, so
//! such a request never ran), and does not when the connection merely
//! dropped (the request may have run).

use std::time::Duration;

use agora_wire::{
    Backoff, DEFAULT_MAX_FRAME, Error, ErrorBody, ErrorCode, FrameCodec, Reply, Request,
    ServerFrame, Session, Welcome, decode, encode,
};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

type Conn = Framed<TcpStream, FrameCodec>;

/// Accepts a connection and welcomes it.
async fn accept(listener: &TcpListener, session: u64) -> Conn {
    let (socket, _) = listener.accept().await.expect("accept");
    let mut framed = Framed::new(socket, FrameCodec::new(DEFAULT_MAX_FRAME));
    let _hello = framed.next().await;
    let welcome = ServerFrame::Welcome(Welcome {
        server_version: "test".into(),
        protocol: 1,
        session,
        user: None,
        max_frame: DEFAULT_MAX_FRAME as u64,
    });
    framed.send(encode(&welcome).unwrap()).await.unwrap();
    framed
}

/// Reads one request; its id.
async fn read_request(conn: &mut Conn) -> u64 {
    let body = conn.next().await.expect("a request").expect("a frame");
    decode::<Request>(&body).expect("a request").id
}

async fn session(addr: std::net::SocketAddr) -> Session {
    Session::builder([addr.to_string()])
        .backoff(Backoff::new(
            Duration::from_millis(5),
            Duration::from_millis(20),
        ))
        .request_timeout(Some(Duration::from_secs(10)))
        .connect()
        .await
        .expect("connect")
}

fn pong(id: u64) -> bytes::Bytes {
    encode(&ServerFrame::Reply {
        id,
        body: Reply::Base(agora_wire::BaseReply::Pong { server_time_ms: 1 }),
    })
    .unwrap()
}

#[tokio::test]
async fn a_request_left_unanswered_by_a_goodbye_is_sent_again_on_the_next_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut first = accept(&listener, 1).await;
        let _unanswered = read_request(&mut first).await;
        let goodbye = ServerFrame::Goodbye {
            error: ErrorBody::new(ErrorCode::Unavailable, "the server is shutting down"),
        };
        first.send(encode(&goodbye).unwrap()).await.unwrap();
        drop(first);
        let mut second = accept(&listener, 2).await;
        let id = read_request(&mut second).await;
        second.send(pong(id)).await.unwrap();
        second
    });
    let session = session(addr).await;
    session
        .ping()
        .await
        .expect("answered on the second connection");
    assert_eq!(session.connections(), 2);
    drop(server.await.unwrap());
}

#[tokio::test]
async fn a_request_in_flight_when_the_connection_drops_fails_and_is_not_sent_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut first = accept(&listener, 1).await;
        let _maybe_ran = read_request(&mut first).await;
        drop(first); // no goodbye: the request may have run
        let mut second = accept(&listener, 2).await;
        // Nothing may arrive here: the session must not resend.
        tokio::time::timeout(Duration::from_millis(300), second.next())
            .await
            .is_err()
    });
    let session = session(addr).await;
    let err = session.ping().await.expect_err("the connection dropped");
    assert!(matches!(err, Error::Closed), "{err:?}");
    assert!(server.await.unwrap(), "the request was sent again");
}
