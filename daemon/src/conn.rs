//! One connection: handshake, then read → dispatch → reply, with pushes
//! interleaved.
//!
//! Each connection is two tasks. The *reader* (this module's [`serve`])
//! decodes frames, runs requests — several at once, so a slow one does not
//! hold up a ping — and queues encoded replies. The *writer* drains a
//! bounded queue into the socket, batching whatever is queued into one
//! write. Pushes from the hub enter the same queue; when it is full the
//! client is too slow and is closed with a reason (see [`crate::hub`]).
//!
//! A broken frame (oversize, or a socket error) ends the connection with a
//! goodbye frame; a malformed body only earns a `bad_request` reply. A panic
//! while handling a request becomes an `internal` error for that request.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agora_wire::{
    Error as WireError, ErrorBody, ErrorCode, Event, FrameCodec, Hello, PROTOCOL_VERSION, Request,
    ServerFrame, UserInfo, Welcome, decode, encode,
};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::Shared;
use crate::dispatch;
use crate::hub::SESSIONS_TOPIC;
use crate::session::Session;
use crate::stats::{Rejected, incr};

/// Requests one connection may have running at once; past this the reader
/// stops reading, which pushes back on the client through TCP.
const MAX_IN_FLIGHT: usize = 64;

/// How long the writer may spend flushing what is queued, plus a goodbye,
/// once the connection is closing.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(1);

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

type Frames = FramedRead<OwnedReadHalf, FrameCodec>;
type Sink = FramedWrite<OwnedWriteHalf, FrameCodec>;

/// Serves one accepted connection until it closes.
pub async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    incr(&shared.stats.connections_total);
    let _ = stream.set_nodelay(true);
    let (read_half, write_half) = stream.into_split();
    let mut frames = FramedRead::new(read_half, FrameCodec::new(shared.config.max_frame));
    let mut sink = FramedWrite::new(write_half, FrameCodec::new(shared.config.max_frame));

    let (hello, user) = match handshake(&mut frames, &shared).await {
        Ok(ok) => ok,
        Err(Some(reason)) => {
            incr(&shared.stats.handshakes_failed);
            tracing::debug!(%peer, %reason, "handshake refused");
            let _ = tokio::time::timeout(FLUSH_ON_CLOSE, send_goodbye(&mut sink, reason)).await;
            return;
        }
        Err(None) => return,
    };

    let (outbound, queue) = mpsc::channel(shared.config.outbound_queue.max(1));
    let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let session = Arc::new(Session::new(id, hello.client, outbound));
    if let Some(user) = user {
        session.set_user(user);
    }
    let writer = tokio::spawn(write_loop(sink, queue, session.clone()));
    let welcome = ServerFrame::Welcome(Welcome {
        server_version: crate::VERSION.into(),
        protocol: PROTOCOL_VERSION,
        session: id,
        user: session.user(),
        max_frame: shared.config.max_frame as u64,
    });
    if let Ok(bytes) = encode(&welcome) {
        let _ = session.outbound().send(bytes).await;
    }
    let _guard = SessionGuard::open(&shared, &session);
    tracing::debug!(%peer, session = id, "session opened");

    read_loop(&mut frames, &shared, &session).await;

    let _ = writer.await;
    tracing::debug!(%peer, session = id, "session closed");
}

/// Reads the hello and checks its version and token. `Err(None)` means the
/// client went away without a word.
async fn handshake(
    frames: &mut Frames,
    shared: &Shared,
) -> Result<(Hello, Option<UserInfo>), Option<ErrorBody>> {
    let first = match tokio::time::timeout(shared.config.handshake_timeout, frames.next()).await {
        Err(_) => {
            return Err(Some(ErrorBody::bad_request(format!(
                "no hello within {:?}",
                shared.config.handshake_timeout
            ))));
        }
        Ok(None) | Ok(Some(Err(WireError::Io(_)))) => return Err(None),
        Ok(Some(Err(err))) => return Err(Some(frame_error(shared, &err))),
        Ok(Some(Ok(body))) => body,
    };
    let hello: Hello = decode(&first).map_err(|err| {
        shared.stats.count_rejected(Rejected::Malformed);
        Some(ErrorBody::bad_request(format!(
            "expected a hello frame first: {err}"
        )))
    })?;
    if hello.protocol != PROTOCOL_VERSION {
        return Err(Some(ErrorBody::bad_request(format!(
            "unsupported protocol version {}: this server speaks version {PROTOCOL_VERSION}",
            hello.protocol
        ))));
    }
    let user = match &hello.token {
        Some(token) => Some(shared.accounts.authenticate(token).await.map_err(Some)?),
        None => None,
    };
    Ok((hello, user))
}

/// Reads requests until the client leaves, the connection must close, or
/// the daemon shuts down; then finishes the requests still running.
async fn read_loop(frames: &mut Frames, shared: &Arc<Shared>, session: &Arc<Session>) {
    let mut in_flight: FuturesUnordered<BoxFuture<'static, Bytes>> = FuturesUnordered::new();
    let mut reason: Option<ErrorBody> = None;
    loop {
        tokio::select! {
            biased;
            _ = session.closer().requested() => break,
            _ = shared.shutdown.cancelled() => {
                reason = Some(ErrorBody::new(ErrorCode::Unavailable, "the server is shutting down"));
                break;
            }
            Some(reply) = in_flight.next(), if !in_flight.is_empty() => {
                if !queue(session, reply).await {
                    break;
                }
            }
            frame = frames.next(), if in_flight.len() < MAX_IN_FLIGHT => match frame {
                None | Some(Err(WireError::Io(_))) => break,
                Some(Err(err)) => {
                    reason = Some(frame_error(shared, &err));
                    break;
                }
                Some(Ok(body)) => match decode::<Request>(&body) {
                    Ok(request) => {
                        shared.stats.count_request(request.op.name());
                        if dispatch::is_barrier(&request.op) {
                            // Finish everything before it, then run it alone.
                            while let Some(reply) = in_flight.next().await {
                                queue(session, reply).await;
                            }
                            let reply = run(request, shared.clone(), session.clone()).await;
                            if !queue(session, reply).await {
                                break;
                            }
                        } else {
                            in_flight.push(run(request, shared.clone(), session.clone()).boxed());
                        }
                    }
                    Err(err) => {
                        shared.stats.count_rejected(Rejected::Malformed);
                        shared.stats.count_error(ErrorCode::BadRequest);
                        let frame = ServerFrame::Error {
                            id: request_id(&body),
                            error: ErrorBody::bad_request(format!("malformed request: {err}")),
                        };
                        if let Ok(bytes) = encode(&frame)
                            && !queue(session, bytes).await
                        {
                            break;
                        }
                    }
                },
            },
        }
    }
    // Requests already started get their answers, unless the client is
    // being dropped for not reading.
    if !session.closer().is_requested() {
        while let Some(reply) = in_flight.next().await {
            if !queue(session, reply).await {
                break;
            }
        }
    }
    match reason {
        Some(reason) => session.close(reason),
        None => session.close_quietly(),
    }
}

/// Runs one request to its encoded answer. A panic in the handler is caught
/// here and answered as an internal error: it costs this request, not the
/// connection or the daemon.
async fn run(request: Request, shared: Arc<Shared>, session: Arc<Session>) -> Bytes {
    let id = request.id;
    let result = AssertUnwindSafe(dispatch::handle(request.op, &shared, &session))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            incr(&shared.stats.handler_panics);
            tracing::error!(
                session = session.id,
                request = id,
                "request handler panicked"
            );
            Err(ErrorBody::new(
                ErrorCode::Internal,
                "internal error; see the daemon's log",
            ))
        });
    let frame = match result {
        Ok(body) => ServerFrame::Reply { id, body },
        Err(error) => {
            shared.stats.count_error(error.code);
            ServerFrame::Error { id, error }
        }
    };
    encode(&frame).unwrap_or_else(|err| {
        tracing::error!(%err, "cannot encode reply");
        Bytes::new()
    })
}

/// Queues a frame for the writer, giving up if the connection is closing.
/// Returns whether the connection is still usable.
async fn queue(session: &Session, bytes: Bytes) -> bool {
    if bytes.is_empty() {
        return true;
    }
    tokio::select! {
        sent = session.outbound().send(bytes) => sent.is_ok(),
        _ = session.closer().requested() => false,
    }
}

/// Writes queued frames, many per system call, until the session closes;
/// then flushes what is left (bounded in time) and says goodbye.
async fn write_loop(mut sink: Sink, mut queue: mpsc::Receiver<Bytes>, session: Arc<Session>) {
    loop {
        tokio::select! {
            _ = session.closer().requested() => break,
            next = queue.recv() => {
                let Some(first) = next else { break };
                let written = async {
                    sink.feed(first).await?;
                    while let Ok(more) = queue.try_recv() {
                        sink.feed(more).await?;
                    }
                    sink.flush().await
                };
                // A client that stops reading blocks the flush; the close
                // signal (from the hub, on a full queue) gets us out.
                let ok = tokio::select! {
                    r = written => r.is_ok(),
                    _ = session.closer().requested() => false,
                };
                if !ok {
                    break;
                }
            }
        }
    }
    let reason = session.closer().take_reason();
    let _ = tokio::time::timeout(FLUSH_ON_CLOSE, async {
        while let Ok(more) = queue.try_recv() {
            sink.feed(more).await?;
        }
        match reason {
            Some(reason) => send_goodbye(&mut sink, reason).await,
            None => sink.flush().await,
        }
    })
    .await;
    let _ = sink.get_mut().shutdown().await;
}

async fn send_goodbye(sink: &mut Sink, error: ErrorBody) -> Result<(), WireError> {
    let bytes = encode(&ServerFrame::Goodbye { error })?;
    sink.send(bytes).await
}

/// Turns a framing error into the goodbye that explains it.
fn frame_error(shared: &Shared, err: &WireError) -> ErrorBody {
    match err {
        WireError::FrameTooLarge { .. } => {
            shared.stats.count_rejected(Rejected::TooLarge);
            shared.stats.count_error(ErrorCode::TooLarge);
            ErrorBody::new(ErrorCode::TooLarge, err.to_string())
        }
        other => ErrorBody::bad_request(other.to_string()),
    }
}

/// The id of a request that failed to decode, if its `id` field is
/// readable; 0 otherwise.
fn request_id(body: &[u8]) -> u64 {
    #[derive(Deserialize)]
    struct IdOnly {
        id: u64,
    }
    decode::<IdOnly>(body).map_or(0, |r| r.id)
}

/// Announces the session and, on drop (however the connection ends, even by
/// a panic), unsubscribes it and announces its departure.
struct SessionGuard {
    shared: Arc<Shared>,
    session: Arc<Session>,
}

impl SessionGuard {
    fn open(shared: &Arc<Shared>, session: &Arc<Session>) -> Self {
        shared
            .stats
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        shared.hub.publish(
            SESSIONS_TOPIC,
            Event::SessionOpened {
                session: session.info(),
            },
        );
        SessionGuard {
            shared: shared.clone(),
            session: session.clone(),
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let shared = &self.shared;
        shared
            .hub
            .unsubscribe(self.session.id, &self.session.topics());
        shared
            .stats
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
        shared.hub.publish(
            SESSIONS_TOPIC,
            Event::SessionClosed {
                session: self.session.info(),
            },
        );
        self.session.close_quietly();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
