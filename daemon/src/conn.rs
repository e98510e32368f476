//! One connection: handshake, then read → dispatch → reply, with pushes
//! interleaved.
//!
//! Each connection is one task that owns both halves of the socket. It
//! decodes frames, answers requests that need no I/O on the spot, keeps up
//! to [`MAX_IN_FLIGHT`] slower ones running concurrently (so a login does
//! not hold up a ping), and writes replies and pushes into one buffered
//! writer that is flushed only when there is nothing more to read — so a
//! pipelining client gets many replies per system call. Pushes from the hub
//! arrive through a bounded queue; when it is full the client is too slow
//! and is closed with a reason (see [`crate::hub`]).
//!
//! A broken frame (oversize, or a socket error) ends the connection with a
//! goodbye frame; a malformed body only earns a `bad_request` reply. A panic
//! while handling a request becomes an `internal` error for that request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agora_wire::{
    Error as WireError, ErrorBody, ErrorCode, FrameCodec, Hello, PROTOCOL_VERSION, Request,
    ServerFrame, UserInfo, Welcome, decode, encode,
};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::Shared;
use crate::dispatch;
use crate::service::Routed;
use crate::session::Session;
use crate::stats::{Rejected, incr};

/// Requests one connection may have running at once; past this the reader
/// stops reading, which pushes back on the client through TCP.
const MAX_IN_FLIGHT: usize = 64;

/// Bytes buffered for the socket before writing more waits for a flush.
const WRITE_BUFFER: usize = 64 * 1024;

/// How long pushes may wait in the buffer for company before they are
/// flushed (replies never wait).
const PUSH_COALESCE: Duration = Duration::from_millis(2);

/// How long the writer may spend flushing what is queued, plus a goodbye,
/// once the connection is closing.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(1);

/// How long a client dropped for reading too slowly has to read its way
/// to the goodbye (it is behind by definition; what was queued for it is
/// freed at once, so the wait holds only the socket).
const SLOW_GOODBYE: Duration = Duration::from_secs(10);

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

type Frames = FramedRead<OwnedReadHalf, FrameCodec>;
type Sink = FramedWrite<OwnedWriteHalf, FrameCodec>;

/// Serves one accepted connection until it closes.
pub async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    incr(&shared.stats.connections_total);
    let _ = stream.set_nodelay(true);
    // A peer that vanished without a FIN (power cut, cable, NAT timeout)
    // is detected by TCP keepalive: by default within about 30 s (15 s
    // idle, then 3 probes 5 s apart), so its user shows offline well within
    // 45 s.
    let k = shared.config.keepalive;
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(k.idle)
        .with_interval(k.interval)
        .with_retries(k.probes);
    let socket = socket2::SockRef::from(&stream);
    let _ = socket.set_tcp_keepalive(&keepalive);
    // Keepalive only probes an idle connection. When the peer vanished with
    // our data still unacknowledged, retransmissions would go on for ~15
    // minutes; the user timeout bounds that by the same total.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = socket.set_tcp_user_timeout(Some(k.idle + k.interval * k.probes));
    let (read_half, write_half) = stream.into_split();
    let mut frames = FramedRead::new(read_half, FrameCodec::new(shared.config.max_frame));
    let mut sink = FramedWrite::new(write_half, FrameCodec::new(shared.config.max_frame));
    sink.set_backpressure_boundary(WRITE_BUFFER);

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

    let (outbound, queue) = mpsc::unbounded_channel();
    let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let session = Arc::new(Session::new(
        id,
        hello.client,
        outbound,
        shared.config.push_limits,
    ));
    if let Some(user) = user {
        session.set_user(user);
    }
    // Subscriptions come before the welcome: a client that acts on the
    // welcome at once must not miss a push sent meanwhile (pushes wait in
    // the queue until the welcome is out).
    let _guard = SessionGuard::open(&shared, &session);
    shared.services.hooks().opened(&session).await;
    let welcome = ServerFrame::Welcome(Welcome {
        server_version: crate::VERSION.into(),
        protocol: PROTOCOL_VERSION,
        session: id,
        user: session.user(),
        max_frame: shared.config.max_frame as u64,
    });
    if let Ok(bytes) = encode(&welcome)
        && sink.send(bytes).await.is_err()
    {
        return;
    }
    tracing::debug!(%peer, session = id, "session opened");

    let mut conn = Conn {
        frames,
        sink,
        queue,
        shared,
        session,
        in_flight: FuturesUnordered::new(),
        replies_unflushed: false,
        push_flush_at: None,
    };
    let reason = conn.run().await;
    conn.close(reason).await;
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
        Some(token) => Some(
            shared
                .services
                .base
                .accounts()
                .authenticate(token)
                .await
                .map_err(Some)?,
        ),
        None => None,
    };
    Ok((hello, user))
}

/// A connection after its handshake.
struct Conn {
    frames: Frames,
    sink: Sink,
    /// Pushes from the hub (bounded in bytes by the session's limits).
    queue: mpsc::UnboundedReceiver<Bytes>,
    shared: Arc<Shared>,
    session: Arc<Session>,
    /// Requests waiting for I/O, each resolving to its encoded answer.
    in_flight: FuturesUnordered<BoxFuture<'static, Bytes>>,
    /// Whether the writer holds replies not yet flushed to the socket
    /// (flushed as soon as the input on hand is used up).
    replies_unflushed: bool,
    /// When buffered pushes (and nothing else) must be flushed.
    push_flush_at: Option<tokio::time::Instant>,
}

impl Conn {
    /// Serves until the client leaves, the connection must close, or the
    /// daemon shuts down. Returns the reason to give the client, if any.
    async fn run(&mut self) -> Option<ErrorBody> {
        // The two "stop" signals are awaited by futures made once: making
        // them anew on every turn registers and unregisters a waiter each
        // time, which showed up as a fifth of the daemon's CPU in a busy
        // room.
        let session = self.session.clone();
        let closed = session.closer().requested();
        tokio::pin!(closed);
        let token = self.shared.shutdown.clone();
        let shutdown = token.cancelled();
        tokio::pin!(shutdown);
        loop {
            // Biased: closing first, then output (pushes, finished requests),
            // then input; the flushes come last, so they happen only once
            // nothing else is ready and cover everything written meanwhile.
            // Replies are flushed at once; pushes alone wait up to
            // PUSH_COALESCE so that a busy room costs each member one write
            // per few milliseconds rather than one per message.
            tokio::select! {
                biased;
                _ = &mut closed => return None,
                _ = &mut shutdown => {
                    return Some(ErrorBody::new(
                        ErrorCode::Unavailable,
                        "the server is shutting down: reconnect, to another node if there are several",
                    ));
                }
                Some(push) = self.queue.recv() => {
                    self.session.dequeued(push.len());
                    let replies = self.replies_unflushed;
                    if !self.write(push).await {
                        return None;
                    }
                    self.replies_unflushed = replies;
                    self.push_flush_at
                        .get_or_insert_with(|| tokio::time::Instant::now() + PUSH_COALESCE);
                }
                Some(answer) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    if !self.answer_after_pushes(answer).await {
                        return None;
                    }
                }
                frame = self.frames.next(), if self.in_flight.len() < MAX_IN_FLIGHT => match frame {
                    None | Some(Err(WireError::Io(_))) => return None,
                    Some(Err(err)) => return Some(frame_error(&self.shared, &err)),
                    Some(Ok(body)) => {
                        if !self.on_frame(&body).await {
                            return None;
                        }
                        // Input on hand used up: send the replies now rather
                        // than after another (empty) read.
                        if self.replies_unflushed
                            && !self.frames.decoder().frame_ready(self.frames.read_buffer())
                            && self.flush().await.is_err()
                        {
                            return None;
                        }
                    }
                },
                flushed = self.sink.flush(), if self.replies_unflushed => {
                    self.replies_unflushed = false;
                    self.push_flush_at = None;
                    if flushed.is_err() {
                        return None;
                    }
                }
                _ = sleep_until_or_never(self.push_flush_at), if self.push_flush_at.is_some() => {
                    if self.flush().await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Handles one request frame; `false` means the connection is gone.
    async fn on_frame(&mut self, body: &[u8]) -> bool {
        let request = match decode::<Request>(body) {
            Ok(request) => request,
            Err(err) => {
                self.shared.stats.count_rejected(Rejected::Malformed);
                self.shared.stats.count_error(ErrorCode::BadRequest);
                let frame = ServerFrame::Error {
                    id: request_id(body),
                    error: ErrorBody::bad_request(format!("malformed request: {err}")),
                };
                return match encode(&frame) {
                    Ok(bytes) => self.write(bytes).await,
                    Err(_) => true,
                };
            }
        };
        let barrier = dispatch::is_barrier(&request);
        if barrier {
            // Answers already made go out now: the wait below may be long.
            if self.replies_unflushed && self.flush().await.is_err() {
                return false;
            }
            // Finish everything before it, then run it alone.
            while let Some(answer) = self.in_flight.next().await {
                if !self.answer_after_pushes(answer).await {
                    return false;
                }
            }
        }
        let (routed, started) = dispatch::start(request, &self.shared, &self.session);
        match routed {
            Routed::Done(result) => {
                let answer = dispatch::answer(&self.shared, started, result);
                self.write(answer).await
            }
            Routed::Later(future) => {
                let finish = dispatch::finish(self.shared.clone(), started, future);
                if barrier {
                    let answer = finish.await;
                    self.answer_after_pushes(answer).await
                } else {
                    self.in_flight.push(finish);
                    true
                }
            }
        }
    }

    /// Writes a deferred answer after the pushes already queued. A service
    /// publishes a request's events before it completes the request (a
    /// chat message's push, then its acknowledgement), but the publisher
    /// runs on another thread: the select above may have found the queue
    /// empty just before the push arrived and the answer ready just after.
    /// Whatever was queued before the answer was ready is in the queue now,
    /// so draining it first keeps "events, then the answer" on the wire.
    async fn answer_after_pushes(&mut self, answer: Bytes) -> bool {
        while let Ok(push) = self.queue.try_recv() {
            self.session.dequeued(push.len());
            if !self.write(push).await {
                return false;
            }
        }
        self.write(answer).await
    }

    /// Flushes buffered output, giving up if the connection is asked to
    /// close meanwhile (a client that does not read blocks the flush).
    async fn flush(&mut self) -> Result<(), WireError> {
        self.replies_unflushed = false;
        self.push_flush_at = None;
        tokio::select! {
            biased;
            _ = self.session.closer().requested() => Err(WireError::Closed),
            flushed = self.sink.flush() => flushed,
        }
    }

    /// Buffers a frame for the socket. Waits only when the buffer is over
    /// its limit and the socket is full — a client that does not read —
    /// and gives up if the connection is asked to close meanwhile.
    async fn write(&mut self, bytes: Bytes) -> bool {
        if bytes.is_empty() {
            return true;
        }
        self.replies_unflushed = true;
        if self.sink.write_buffer().len() < WRITE_BUFFER {
            // Below the backpressure boundary feeding never waits, so there
            // is no need to watch for a close meanwhile.
            return self.sink.feed(bytes).await.is_ok();
        }
        tokio::select! {
            biased;
            _ = self.session.closer().requested() => false,
            written = self.sink.feed(bytes) => written.is_ok(),
        }
    }

    /// Finishes the connection: answers requests already started (unless
    /// the client is being dropped for not reading), sends queued pushes and
    /// the goodbye, all bounded in time, then closes the socket.
    async fn close(mut self, reason: Option<ErrorBody>) {
        // No more requests: long polls still waiting give up now, before
        // they take something (a job) their client would never see.
        self.session.end_input();
        let dropped_for_slowness = self.session.closer().is_requested();
        let reason = reason.or_else(|| self.session.closer().take_reason());
        let wait = if dropped_for_slowness {
            // Free what was queued for it now, not after the wait.
            self.queue.close();
            while let Ok(push) = self.queue.try_recv() {
                self.session.dequeued(push.len());
            }
            SLOW_GOODBYE
        } else {
            FLUSH_ON_CLOSE
        };
        // The goodbye goes out only after the answer to every request
        // read: a client may then send again, elsewhere, any request the
        // goodbye left unanswered, knowing it never ran (the SDKs do).
        // When the answers cannot be written in time, neither is the
        // goodbye, and the client cannot tell (the connection just ends).
        let _ = tokio::time::timeout(wait, async {
            while let Some(answer) = self.in_flight.next().await {
                self.sink.feed(answer).await?;
            }
            if !dropped_for_slowness {
                while let Ok(push) = self.queue.try_recv() {
                    self.sink.feed(push).await?;
                }
            }
            match reason {
                Some(reason) => send_goodbye(&mut self.sink, reason).await,
                None => self.sink.flush().await,
            }
        })
        .await;
        let _ = self.sink.get_mut().shutdown().await;
    }
}

/// Sleeps until `at`, or forever when there is no deadline.
async fn sleep_until_or_never(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
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

/// Counts the session as open and, on drop (however the connection ends,
/// even by a panic), runs every service's `closed` hook.
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
        SessionGuard {
            shared: shared.clone(),
            session: session.clone(),
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.shared
            .stats
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
        self.shared.services.hooks().closed(&self.session);
        self.session.close_quietly();
    }
}

#[cfg(test)]
mod tests;
