//! Connections driven over a real loopback socket, against the daemon's
//! real services on a temporary data directory.
//!
//! "A slow request" is a `chat_send` while a test thread holds the
//! database's writer connection: the chat writer cannot commit, so the
//! send stays unanswered until the test lets go. Tests run on a
//! current-thread runtime, so when the test task looks at the request
//! counters the connection task is parked at an await; nothing sleeps.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use agora_wire::{BaseOp, BaseReply, ChatOp, ChatReply, Op, Reply};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::stats::get;

/// Only turns a hang into a failure; nothing waits this long when the
/// code works.
const GIVE_UP: Duration = Duration::from_secs(20);

const PASSWORD: &str = "correct horse battery";

/// A daemon's shared state on a temporary data directory, with users
/// alice and bob; returns alice's token.
async fn daemon() -> (tempfile::TempDir, Arc<Shared>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::Config::new(dir.path().to_path_buf());
    let shared = Arc::new(
        Shared::open(config, CancellationToken::new())
            .await
            .unwrap(),
    );
    let accounts = shared.services.base.accounts();
    let alice = accounts.register("alice", PASSWORD).await.unwrap();
    accounts.register("bob", PASSWORD).await.unwrap();
    (dir, shared, alice.token)
}

/// The client end of one connection served by [`serve`].
struct Client {
    frames: FramedRead<OwnedReadHalf, FrameCodec>,
    sink: FramedWrite<OwnedWriteHalf, FrameCodec>,
}

impl Client {
    /// Connects, says hello with `token`, and reads the welcome.
    async fn connect(shared: &Arc<Shared>, token: Option<String>) -> Client {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = shared.clone();
        tokio::spawn(async move {
            let (stream, peer) = listener.accept().await.unwrap();
            serve(stream, peer, server).await;
        });
        let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut client = Client {
            frames: FramedRead::new(read, FrameCodec::new(agora_wire::DEFAULT_MAX_FRAME)),
            sink: FramedWrite::new(write, FrameCodec::new(agora_wire::DEFAULT_MAX_FRAME)),
        };
        let hello = encode(&Hello::new("conn-tests", token)).unwrap();
        client.sink.send(hello).await.unwrap();
        match client.next().await {
            ServerFrame::Welcome(_) => client,
            other => panic!("expected a welcome, got {other:?}"),
        }
    }

    /// Sends every request in one write, so the daemon reads them together.
    async fn pipeline(&mut self, requests: Vec<(u64, Op)>) {
        for (id, op) in requests {
            self.sink
                .feed(encode(&Request { id, op }).unwrap())
                .await
                .unwrap();
        }
        self.sink.flush().await.unwrap();
    }

    async fn next(&mut self) -> ServerFrame {
        let body = tokio::time::timeout(GIVE_UP, self.frames.next())
            .await
            .expect("the daemon answered")
            .expect("the connection is open")
            .unwrap();
        decode(&body).unwrap()
    }

    /// The next answer (pushes are skipped).
    async fn answer(&mut self) -> (u64, Result<Reply, ErrorBody>) {
        loop {
            match self.next().await {
                ServerFrame::Reply { id, body } => return (id, Ok(body)),
                ServerFrame::Error { id, error } => return (id, Err(error)),
                ServerFrame::Push(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Sends one request and returns its answer.
    async fn call(&mut self, id: u64, op: impl Into<Op>) -> Result<Reply, ErrorBody> {
        self.pipeline(vec![(id, op.into())]).await;
        let (got, result) = self.answer().await;
        assert_eq!(got, id);
        result
    }

    /// The next `n` answers, in the order they came.
    async fn answers(&mut self, n: usize) -> Vec<(u64, Result<Reply, ErrorBody>)> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(self.answer().await);
        }
        out
    }
}

/// Holds the database's writer connection until dropped, so nothing can
/// commit meanwhile (the chat writer included).
struct WriterHeld {
    release: Option<std_mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriterHeld {
    async fn hold(shared: &Shared) -> WriterHeld {
        let (held_tx, held_rx) = tokio::sync::oneshot::channel();
        let (release, wait) = std_mpsc::channel::<()>();
        let db = shared.db.clone();
        let thread = std::thread::spawn(move || {
            db.write(|_| {
                let _ = held_tx.send(());
                let _ = wait.recv();
                Ok(())
            })
            .unwrap();
        });
        held_rx.await.unwrap();
        WriterHeld {
            release: Some(release),
            thread: Some(thread),
        }
    }
}

impl Drop for WriterHeld {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How many requests named `name` the daemon has started.
fn started(shared: &Shared, name: &str) -> u64 {
    let index = Op::names().position(|(_, n)| n == name).unwrap();
    get(&shared.stats.requests[index])
}

/// Lets the daemon run until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    tokio::time::timeout(GIVE_UP, async {
        while !done() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never happened: {what}"));
}

fn send(room: &str, text: &str) -> Op {
    ChatOp::Send {
        room: room.into(),
        text: text.into(),
        action: false,
    }
    .into()
}

fn join(room: &str) -> Op {
    ChatOp::Join { room: room.into() }.into()
}

fn ids(answers: &[(u64, Result<Reply, ErrorBody>)]) -> Vec<u64> {
    answers.iter().map(|(id, _)| *id).collect()
}

#[test]
fn request_id_is_recovered_from_a_bad_request() {
    #[derive(serde::Serialize)]
    struct Bad {
        id: u64,
        op: u8,
    }
    let body = encode(&Bad { id: 42, op: 3 }).unwrap();
    assert_eq!(request_id(&body), 42);
    assert_eq!(request_id(b"\xc1garbage"), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_request_does_not_hold_up_a_later_ping() {
    let (_dir, shared, alice) = daemon().await;
    let mut client = Client::connect(&shared, Some(alice)).await;
    client.call(1, join("r")).await.unwrap();

    let held = WriterHeld::hold(&shared).await;
    client
        .pipeline(vec![(10, send("r", "slow")), (11, BaseOp::Ping.into())])
        .await;
    let (id, pong) = client.answer().await;
    assert_eq!(id, 11, "the ping waited for the send");
    assert!(matches!(pong, Ok(Reply::Base(BaseReply::Pong { .. }))));
    drop(held);
    let (id, sent) = client.answer().await;
    assert_eq!(id, 10);
    assert!(matches!(
        sent,
        Ok(Reply::Chat(ChatReply::Sent { seq: 1, .. }))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn answers_made_before_a_barrier_are_sent_while_it_waits() {
    let (_dir, shared, alice) = daemon().await;
    let mut client = Client::connect(&shared, Some(alice)).await;
    client.call(1, join("r")).await.unwrap();

    let held = WriterHeld::hold(&shared).await;
    let login = BaseOp::Login {
        name: "bob".into(),
        password: PASSWORD.into(),
    };
    client
        .pipeline(vec![
            (10, send("r", "slow")),
            (11, BaseOp::Ping.into()),
            (12, login.into()),
        ])
        .await;
    // The login waits for the stuck send; the pong, answered before the
    // login arrived, must not wait with it.
    let (id, pong) = client.answer().await;
    assert_eq!(id, 11, "the pong was held back behind the barrier");
    assert!(matches!(pong, Ok(Reply::Base(BaseReply::Pong { .. }))));
    drop(held);
    let answers = client.answers(2).await;
    assert_eq!(ids(&answers), [10, 12]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_login_waits_for_earlier_requests_and_holds_back_later_ones() {
    let (_dir, shared, alice) = daemon().await;
    let mut client = Client::connect(&shared, Some(alice)).await;
    client.call(1, join("r")).await.unwrap();

    let held = WriterHeld::hold(&shared).await;
    let login = BaseOp::Login {
        name: "bob".into(),
        password: PASSWORD.into(),
    };
    client
        .pipeline(vec![
            (10, send("r", "slow")),
            (11, login.into()),
            (12, BaseOp::Whoami.into()),
        ])
        .await;
    until("the send started", || started(&shared, "chat_send") >= 1).await;
    // The connection is parked: the login waits for the send, and the
    // whoami behind it is not even read.
    assert_eq!(
        started(&shared, "login"),
        0,
        "the login ran beside the send"
    );
    assert_eq!(
        started(&shared, "whoami"),
        0,
        "the whoami overtook the login"
    );
    drop(held);

    let answers = client.answers(3).await;
    assert_eq!(ids(&answers), [10, 11, 12]);
    assert!(matches!(
        answers[0].1,
        Ok(Reply::Chat(ChatReply::Sent { seq: 1, .. }))
    ));
    let Ok(Reply::Base(BaseReply::Session { user, .. })) = &answers[1].1 else {
        panic!("login: {:?}", answers[1].1);
    };
    assert_eq!(user.name, "bob");
    let Ok(Reply::Base(BaseReply::Whoami { user, .. })) = &answers[2].1 else {
        panic!("whoami: {:?}", answers[2].1);
    };
    assert_eq!(user.as_ref().map(|u| u.name.as_str()), Some("bob"));
}

#[tokio::test(flavor = "current_thread")]
async fn chat_join_and_chat_leave_wait_for_earlier_requests_and_hold_back_later_ones() {
    let (_dir, shared, alice) = daemon().await;
    let mut client = Client::connect(&shared, Some(alice)).await;
    client.call(1, join("r")).await.unwrap();
    let joins = started(&shared, "chat_join");

    let held = WriterHeld::hold(&shared).await;
    client
        .pipeline(vec![
            (10, send("r", "slow")),
            (11, join("s")),
            (12, send("s", "in s")),
            (13, ChatOp::Leave { room: "s".into() }.into()),
            (14, send("s", "after leaving")),
        ])
        .await;
    until("the send started", || started(&shared, "chat_send") >= 1).await;
    assert_eq!(
        started(&shared, "chat_join"),
        joins,
        "the join ran beside the send"
    );
    drop(held);

    let answers = client.answers(5).await;
    assert_eq!(ids(&answers), [10, 11, 12, 13, 14]);
    assert!(matches!(
        answers[0].1,
        Ok(Reply::Chat(ChatReply::Sent { seq: 1, .. }))
    ));
    assert!(
        matches!(&answers[1].1, Ok(Reply::Chat(ChatReply::Room { room, .. })) if room.name == "s")
    );
    // The send behind the join saw the membership...
    assert!(matches!(
        answers[2].1,
        Ok(Reply::Chat(ChatReply::Sent { seq: 1, .. }))
    ));
    // ...the leave waited for that send to be stored...
    assert!(matches!(answers[3].1, Ok(Reply::Base(BaseReply::Done))));
    // ...and the send behind the leave saw the membership gone.
    assert!(
        matches!(&answers[4].1, Err(e) if e.code == ErrorCode::Forbidden),
        "{:?}",
        answers[4].1
    );
}

#[tokio::test(flavor = "current_thread")]
async fn request_id_0_is_answered_bad_request_unrun_and_the_connection_goes_on() {
    let (_dir, shared, _) = daemon().await;
    let mut client = Client::connect(&shared, None).await;
    let subscribe = BaseOp::Subscribe {
        topics: vec!["news".into()],
    };
    let refused = client.call(0, subscribe.clone()).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadRequest);
    assert_eq!(shared.hub.subscribers("news"), 0);
    assert!(client.call(1, subscribe).await.is_ok());
    assert_eq!(shared.hub.subscribers("news"), 1);
}
