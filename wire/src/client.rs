//! An async client: one connection, many concurrent requests.
//!
//! [`Client::connect`] performs the handshake, then hands the socket to a
//! background task (the *driver*) that writes requests, matches replies to
//! their callers by id, and forwards pushes to [`Pushes`]. Callers never
//! touch the socket, so any number of tasks can share one `Client`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::codec::Framed;

use crate::codec::{DEFAULT_MAX_FRAME, FrameCodec, decode, encode};
use crate::error::{Error, ErrorBody};
use crate::message::{Hello, Op, Push, Reply, Request, ServerFrame, Welcome};
use crate::transport::Io;

/// Tunables for [`Client::connect_with`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The largest frame accepted from the server.
    pub max_frame: usize,
    /// How long to wait for the TCP connection and the handshake.
    pub connect_timeout: Duration,
    /// How long a request may wait for its answer; `None` waits forever.
    pub request_timeout: Option<Duration>,
    /// How many pushes to buffer before dropping new ones (see
    /// [`Pushes::dropped`]).
    pub push_buffer: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_frame: DEFAULT_MAX_FRAME,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Some(Duration::from_secs(30)),
            push_buffer: 4096,
        }
    }
}

/// A request on its way to the driver, with the place to send its answer.
struct Outgoing {
    id: u64,
    body: Bytes,
    answer: oneshot::Sender<Result<Reply, Error>>,
}

/// A connection to an agora server. Cheap to share behind an `Arc`; all
/// methods take `&self`. One connection, no reconnection: see
/// [`crate::Session`] for the SDK's self-healing client.
#[derive(Debug)]
pub struct Client {
    outgoing: mpsc::Sender<Outgoing>,
    next_id: AtomicU64,
    request_timeout: Option<Duration>,
    pushes: Mutex<Option<Pushes>>,
    goodbye: Arc<std::sync::Mutex<Option<ErrorBody>>>,
}

/// The stream of pushes for a client's subscriptions. Ends (`recv` returns
/// `None`) when the connection closes.
#[derive(Debug)]
pub struct Pushes {
    rx: mpsc::Receiver<Push>,
    dropped: Arc<AtomicU64>,
}

impl Pushes {
    /// The next push, or `None` once the connection has closed.
    pub async fn recv(&mut self) -> Option<Push> {
        self.rx.recv().await
    }

    /// How many pushes were dropped because this receiver fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Client {
    /// Connects with default options and performs the handshake.
    ///
    /// # Errors
    /// [`Error::Io`] when the connection fails, [`Error::Server`] when the
    /// server refuses the hello (e.g. `unauthorized` for a bad token).
    pub async fn connect(
        addr: impl ToSocketAddrs,
        hello: Hello,
    ) -> Result<(Client, Welcome), Error> {
        Client::connect_with(addr, hello, ClientOptions::default()).await
    }

    /// Connects with the given options and performs the handshake.
    ///
    /// # Errors
    /// As [`Client::connect`], plus [`Error::Timeout`] after
    /// `options.connect_timeout`.
    pub async fn connect_with(
        addr: impl ToSocketAddrs,
        hello: Hello,
        options: ClientOptions,
    ) -> Result<(Client, Welcome), Error> {
        let connect = async {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok::<_, Error>(stream)
        };
        let stream = tokio::time::timeout(options.connect_timeout, connect)
            .await
            .map_err(|_| Error::Timeout)??;
        Client::handshake(Box::new(stream), hello, options).await
    }

    /// Performs the handshake over a connected byte stream (TCP, TLS, a
    /// Unix socket, an in-memory pipe: see [`crate::transport`]) and
    /// starts the driver.
    ///
    /// # Errors
    /// As [`Client::connect_with`].
    pub async fn handshake(
        io: Box<dyn Io>,
        hello: Hello,
        options: ClientOptions,
    ) -> Result<(Client, Welcome), Error> {
        let handshake = async {
            let mut framed = Framed::new(io, FrameCodec::new(options.max_frame));
            framed.send(encode(&hello)?).await?;
            let first = framed.next().await.ok_or(Error::Closed)??;
            match decode::<ServerFrame>(&first)? {
                ServerFrame::Welcome(welcome) => Ok((framed, welcome)),
                ServerFrame::Error { error, .. } | ServerFrame::Goodbye { error } => {
                    Err(Error::Server(error))
                }
                other => Err(Error::Malformed(format!(
                    "expected a welcome, got {other:?}"
                ))),
            }
        };
        let (framed, welcome) = tokio::time::timeout(options.connect_timeout, handshake)
            .await
            .map_err(|_| Error::Timeout)??;

        let (outgoing, outgoing_rx) = mpsc::channel(1024);
        let (push_tx, push_rx) = mpsc::channel(options.push_buffer.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let goodbye = Arc::new(std::sync::Mutex::new(None));
        let driver = Driver {
            framed,
            outgoing: outgoing_rx,
            pending: HashMap::new(),
            pushes: push_tx,
            dropped: dropped.clone(),
            goodbye: goodbye.clone(),
        };
        tokio::spawn(driver.run());
        let client = Client {
            outgoing,
            next_id: AtomicU64::new(1),
            request_timeout: options.request_timeout,
            pushes: Mutex::new(Some(Pushes {
                rx: push_rx,
                dropped,
            })),
            goodbye,
        };
        Ok((client, welcome))
    }

    /// Sends a request and waits for its answer.
    ///
    /// # Errors
    /// [`Error::Server`] when the server answers with an error;
    /// [`Error::Closed`] (or the server's goodbye as [`Error::Server`]) when
    /// the connection is gone; [`Error::Timeout`] after the request timeout.
    pub async fn request(&self, op: impl Into<Op>) -> Result<Reply, Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = encode(&Request { id, op: op.into() })?;
        let (answer, answered) = oneshot::channel();
        // Queued at once when there is room: requests started one after
        // another from one task go out in that order. (`send().await`
        // alone may yield to tokio's cooperative budget even with room,
        // and a request started later would overtake it.)
        let queued = match self.outgoing.try_send(Outgoing { id, body, answer }) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(out)) => self.outgoing.send(out).await.is_ok(),
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        };
        if !queued {
            return Err(self.closed_error());
        }
        let wait = async {
            match answered.await {
                Ok(result) => result,
                Err(_) => Err(self.closed_error()),
            }
        };
        match self.request_timeout {
            Some(limit) => tokio::time::timeout(limit, wait)
                .await
                .map_err(|_| Error::Timeout)?,
            None => wait.await,
        }
    }

    /// Takes the push stream. Only the first call gets it; later calls get
    /// `None`.
    pub async fn pushes(&self) -> Option<Pushes> {
        self.pushes.lock().await.take()
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.outgoing.is_closed()
    }

    /// Waits until the connection closes.
    pub async fn closed(&self) {
        self.outgoing.closed().await
    }

    /// Why the server closed the connection, if it said so.
    pub fn goodbye(&self) -> Option<ErrorBody> {
        self.goodbye.lock().ok().and_then(|g| g.clone())
    }

    fn closed_error(&self) -> Error {
        match self.goodbye() {
            Some(body) => Error::Server(body),
            None => Error::Closed,
        }
    }
}

/// Owns the socket: writes requests, routes answers and pushes.
struct Driver {
    framed: Framed<Box<dyn Io>, FrameCodec>,
    outgoing: mpsc::Receiver<Outgoing>,
    pending: HashMap<u64, oneshot::Sender<Result<Reply, Error>>>,
    pushes: mpsc::Sender<Push>,
    dropped: Arc<AtomicU64>,
    goodbye: Arc<std::sync::Mutex<Option<ErrorBody>>>,
}

impl Driver {
    async fn run(mut self) {
        loop {
            tokio::select! {
                next = self.outgoing.recv() => {
                    let Some(first) = next else { break };
                    if self.write_batch(first).await.is_err() {
                        break;
                    }
                }
                frame = self.framed.next() => {
                    let Some(Ok(body)) = frame else { break };
                    if !self.route(&body) {
                        break;
                    }
                }
            }
        }
        // Everyone still waiting learns the connection is gone.
        let goodbye = self.goodbye.lock().ok().and_then(|g| g.clone());
        for (_, answer) in self.pending.drain() {
            let err = match &goodbye {
                Some(body) => Error::Server(body.clone()),
                None => Error::Closed,
            };
            let _ = answer.send(Err(err));
        }
    }

    /// Writes one request and any others already queued, then flushes once:
    /// under load many requests share a single write system call.
    async fn write_batch(&mut self, first: Outgoing) -> Result<(), Error> {
        let mut next = Some(first);
        while let Some(out) = next {
            self.pending.insert(out.id, out.answer);
            self.framed.feed(out.body).await?;
            next = self.outgoing.try_recv().ok();
        }
        self.framed.flush().await
    }

    /// Handles one server frame; `false` means the connection is over.
    fn route(&mut self, body: &[u8]) -> bool {
        match decode::<ServerFrame>(body) {
            Ok(ServerFrame::Reply { id, body }) => {
                if let Some(answer) = self.pending.remove(&id) {
                    let _ = answer.send(Ok(body));
                }
                true
            }
            Ok(ServerFrame::Error { id, error }) => {
                if let Some(answer) = self.pending.remove(&id) {
                    let _ = answer.send(Err(Error::Server(error)));
                }
                true
            }
            Ok(ServerFrame::Push(push)) => {
                if self.pushes.try_send(push).is_err() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                true
            }
            Ok(ServerFrame::Goodbye { error }) => {
                if let Ok(mut g) = self.goodbye.lock() {
                    *g = Some(error);
                }
                false
            }
            // A second welcome is a protocol violation; ignore it.
            Ok(ServerFrame::Welcome(_)) => true,
            // An undecodable frame (a newer server's, or a broken one) is
            // skipped; when it names a waiting request, that request fails
            // at once rather than at its timeout.
            Err(e) => {
                if let Some(answer) = frame_id(body).and_then(|id| self.pending.remove(&id)) {
                    let _ = answer.send(Err(e));
                }
                true
            }
        }
    }
}

/// The `id` of a server frame that did not decode as a whole, if it has
/// one.
fn frame_id(body: &[u8]) -> Option<u64> {
    let value = rmpv::decode::read_value(&mut &body[..]).ok()?;
    let map = value.as_map()?;
    map.iter()
        .find(|(k, _)| k.as_str() == Some("id"))
        .and_then(|(_, v)| v.as_u64())
        .filter(|id| *id != 0)
}

/// Anything that answers requests: a [`Client`] (one connection) or a
/// [`crate::Session`] (reconnecting). Helpers such as
/// [`crate::jobs::Worker`] and the bots take either.
pub trait Requester: Send + Sync + 'static {
    /// Sends `op` and waits for its answer.
    fn request_op(&self, op: Op) -> futures::future::BoxFuture<'_, Result<Reply, Error>>;

    /// Whether a failed connection comes back by itself (a session), so a
    /// helper should wait and go on rather than stop.
    fn recovers(&self) -> bool {
        false
    }

    /// Sends `op` and waits for its answer.
    fn request(&self, op: impl Into<Op>) -> futures::future::BoxFuture<'_, Result<Reply, Error>>
    where
        Self: Sized,
    {
        self.request_op(op.into())
    }
}

impl Requester for Client {
    fn request_op(&self, op: Op) -> futures::future::BoxFuture<'_, Result<Reply, Error>> {
        Box::pin(Client::request(self, op))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use futures::{SinkExt, StreamExt};
    use rmpv::Value;
    use tokio::net::TcpListener;
    use tokio_util::codec::Framed;

    use super::*;
    use crate::{BaseOp, BaseReply, ErrorCode};

    fn frame(value: Value) -> Bytes {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &value).expect("write");
        out.into()
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A fake server that welcomes, then answers request 1 with garbage,
    /// 2 with a reply of an unknown type, 3 with an unknown error code, 4
    /// properly, and sends junk that answers nothing in between.
    #[tokio::test]
    async fn bad_server_frames_fail_their_request_or_are_skipped_and_never_panic() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.expect("accept");
            let mut framed = Framed::new(socket, FrameCodec::new(DEFAULT_MAX_FRAME));
            let _hello = framed.next().await;
            let welcome = ServerFrame::Welcome(Welcome {
                server_version: "9.9.9".into(),
                protocol: 1,
                session: 1,
                user: None,
                max_frame: DEFAULT_MAX_FRAME as u64,
            });
            framed
                .send(encode(&welcome).expect("encode"))
                .await
                .expect("send");
            for _ in 0..4 {
                let _ = framed.next().await;
            }
            let junk = [
                Bytes::from_static(&[0xc1]), // never valid MessagePack
                frame(Value::from(7)),
                frame(map(vec![("type", "teleport".into()), ("id", 99.into())])),
                frame(map(vec![
                    ("type", "reply".into()),
                    ("id", 1.into()),
                    ("body", Value::from("?")),
                ])),
                frame(map(vec![
                    ("type", "reply".into()),
                    ("id", 2.into()),
                    ("body", map(vec![("type", "brand_new_reply".into())])),
                ])),
                frame(map(vec![
                    ("type", "error".into()),
                    ("id", 3.into()),
                    (
                        "error",
                        map(vec![("code", "quota".into()), ("message", "over".into())]),
                    ),
                ])),
                frame(map(vec![
                    ("type", "reply".into()),
                    ("id", 4.into()),
                    (
                        "body",
                        map(vec![("type", "pong".into()), ("server_time_ms", 5.into())]),
                    ),
                ])),
            ];
            for j in junk {
                framed.send(j).await.expect("send");
            }
            std::future::pending::<()>().await;
        });
        let options = ClientOptions {
            request_timeout: Some(Duration::from_secs(10)),
            ..ClientOptions::default()
        };
        let (client, welcome) = Client::connect_with(addr, Hello::new("t", None), options)
            .await
            .expect("connect");
        assert_eq!(welcome.server_version, "9.9.9");
        let (one, two, three, four) = tokio::join!(
            client.request(BaseOp::Ping),
            client.request(BaseOp::Ping),
            client.request(BaseOp::Ping),
            client.request(BaseOp::Ping),
        );
        assert!(matches!(one, Err(Error::Malformed(_))), "{one:?}");
        assert!(matches!(two, Err(Error::Malformed(_))), "{two:?}");
        let three = three.expect_err("an error");
        assert_eq!(three.code(), Some(ErrorCode::Internal), "{three}");
        assert!(
            matches!(four, Ok(Reply::Base(BaseReply::Pong { server_time_ms: 5 }))),
            "{four:?}"
        );
        assert!(!client.is_closed());
    }
}
