//! The node-to-node data link: TCP on the gossip port's number (gossip
//! is UDP on `--cluster-listen`; the link is TCP on the same address),
//! frames of the wire crate's codec (a 4-byte length, then MessagePack),
//! bounded at [`MAX_FRAME`].
//!
//! - [`Message`]: what nodes say (`Hello`, `Replicate`, `Read` and their
//!   answers); every frame is an [`Envelope`] with a request id;
//! - [`Link`]: the client side, one pooled, multiplexed connection per
//!   peer, opened on first use and again after it breaks; each call has
//!   a timeout;
//! - [`listen`]: the server side; a connection must first say `Hello`
//!   with this cluster's name, then each request is answered by an
//!   [`Answer`] (the replication's, `replicate.rs`), in order.
//!
//! No retry here: a failed call is the caller's to count (quorum) and to
//! keep (hinted handoff).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut as _, Bytes, BytesMut};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::versions::Item;

/// The largest frame a node sends or accepts: a value whose DUMP is
/// larger is not replicated (its write answers NOREPLICAS).
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

/// How long opening a connection to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// What nodes say to each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// The first frame of a connection: who is calling.
    Hello {
        /// The cluster's name (`--cluster`).
        cluster: String,
        /// The caller's `--node-id`.
        node: String,
    },
    /// Take these states where they are newer (a write, read repair, a
    /// hint).
    Replicate {
        /// The keys' states and versions.
        items: Vec<Item>,
    },
    /// Send your states of these keys.
    Read {
        /// The keys.
        keys: Vec<serde_bytes::ByteBuf>,
    },
    /// Deliver this message to your subscribers of `channel` (PUBLISH
    /// on another node: `fanout.rs`). Sent with [`Link::post`]; its
    /// `Done` is not waited for.
    Publish {
        /// The channel.
        channel: serde_bytes::ByteBuf,
        /// The message.
        payload: serde_bytes::ByteBuf,
    },
    /// Anti-entropy's first step (`entropy.rs`): the caller's digests
    /// of the slots it shares with the callee, folded by ranges of
    /// [`super::digests::RANGE`] slots.
    Digests {
        /// Which slots: a bitmap of 16,384 bits, slot 0 in the first
        /// byte's highest bit.
        #[serde(with = "serde_bytes")]
        slots: Vec<u8>,
        /// Per range, the XOR of the named slots' digests.
        ranges: Vec<u64>,
    },
    /// The answer to `Digests`: the callee's digest of every named slot
    /// in the ranges whose digests differ.
    SlotDigests {
        /// (slot, digest).
        slots: Vec<(u16, u64)>,
    },
    /// Anti-entropy's second step: list your keys of these slots.
    ListKeys {
        /// The slots.
        slots: Vec<u16>,
    },
    /// The answer to `ListKeys`: every key with a stamp in those slots
    /// (tombstones included).
    Keys {
        /// (key, version, present).
        keys: Vec<(serde_bytes::ByteBuf, super::hlc::Version, bool)>,
    },
    /// Keys handed over by a node leaving a cluster that does not
    /// replicate (`export.rs`): restore each one you do not hold.
    Import {
        /// The keys' states (version zero: there are none).
        items: Vec<Item>,
    },
    /// `Hello`, `Replicate`, `Publish` or `Import` done.
    Done,
    /// The answer to `Read`.
    Items {
        /// One per key asked, in order.
        items: Vec<Item>,
    },
    /// Not done, and why (a wrong cluster name, a request out of place).
    Refused {
        /// One line.
        reason: String,
    },
}

/// A frame: a request or its answer, matched by `id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// The caller's request number.
    pub id: u64,
    /// The request or answer.
    pub msg: Message,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The peer could not be reached or the connection broke.
    #[error("cannot reach {0}")]
    Unreachable(SocketAddr),
    /// No answer within the timeout.
    #[error("no answer from {0} in time")]
    Timeout(SocketAddr),
    /// The peer refused (wrong cluster name).
    #[error("refused by {0}: {1}")]
    Refused(SocketAddr, String),
    /// The message does not fit in a frame.
    #[error("message too large")]
    TooLarge,
}

/// Encodes an envelope as one frame: length, then body.
fn frame(envelope: &Envelope) -> Result<Bytes, LinkError> {
    let body = agora_wire::encode(envelope).map_err(|_| LinkError::TooLarge)?;
    if body.len() > MAX_FRAME {
        return Err(LinkError::TooLarge);
    }
    let mut out = BytesMut::with_capacity(4 + body.len());
    out.put_u32(body.len() as u32);
    out.extend_from_slice(&body);
    Ok(out.freeze())
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Message>>>>;

/// A value shared between tasks, held across awaits.
type Shared<T> = Arc<tokio::sync::Mutex<T>>;

/// One open connection to a peer.
struct PeerConn {
    out: mpsc::UnboundedSender<Bytes>,
    pending: Pending,
    closed: CancellationToken,
}

/// A peer's connection, or when opening one last failed.
#[derive(Default)]
struct PeerSlot {
    conn: Option<Arc<PeerConn>>,
    failed_at: Option<std::time::Instant>,
}

/// After a failed attempt to open a connection, calls to that peer fail
/// at once for this long (rather than each waiting for its own connect
/// timeout, one after the other).
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Which connection to a peer a call takes: a call made on a
/// single-threaded runtime (a RESP event loop, `resp/loops.rs`) takes its
/// thread's own, whose writer and reader tasks run on that loop too; a
/// call made on the shared multi-threaded runtime takes the shared one.
///
/// Why: a replicated write waits for a replica's acknowledgement. With one
/// connection per peer for the whole node, its writer and reader tasks ran
/// on whichever runtime opened it, so on a node with several loops the
/// writes of every other loop crossed threads twice (to the writer, and
/// from the reader back to the loop that waits): futex wake-ups and
/// context switches on each write's path. On its own loop's connection a
/// write is sent and its acknowledgement read by the loop that waits.
type Lane = Option<std::thread::ThreadId>;

/// The lane of the calling task ([`Lane`]).
fn lane() -> Lane {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::CurrentThread => {
            Some(std::thread::current().id())
        }
        _ => None,
    }
}

/// The client side: pooled connections to the other nodes.
pub struct Link {
    cluster: String,
    node: String,
    timeout: Duration,
    next_id: AtomicU64,
    peers: Mutex<HashMap<(SocketAddr, Lane), Shared<PeerSlot>>>,
    /// The address connections leave from ([`Link::from_ip`]).
    source: Option<std::net::IpAddr>,
    /// Bytes of `Replicate` frames sent (header included).
    pub replicate_bytes: AtomicU64,
    /// `Replicate` frames sent.
    pub replicate_frames: AtomicU64,
}

impl Link {
    /// A link for node `node` of `cluster`, waiting `timeout` per call.
    pub fn new(cluster: &str, node: &str, timeout: Duration) -> Link {
        Link {
            cluster: cluster.to_owned(),
            node: node.to_owned(),
            timeout,
            next_id: AtomicU64::new(1),
            peers: Mutex::new(HashMap::new()),
            source: None,
            replicate_bytes: AtomicU64::new(0),
            replicate_frames: AtomicU64::new(0),
        }
    }

    /// Connections leave from `ip` (the node's gossip address) rather
    /// than whichever address the route picks, as Redis Cluster binds its
    /// bus connections: a peer, a firewall rule or a packet capture then
    /// sees the node's own address. An unspecified `ip` (`0.0.0.0`)
    /// leaves the choice to the route.
    pub fn from_ip(mut self, ip: std::net::IpAddr) -> Link {
        self.source = (!ip.is_unspecified()).then_some(ip);
        self
    }

    /// Sends `msg` to the node whose link listens at `addr` and waits for
    /// its answer.
    ///
    /// # Errors
    /// [`LinkError`]: unreachable, no answer in time, refused, too large.
    pub async fn call(&self, addr: SocketAddr, msg: Message) -> Result<Message, LinkError> {
        let replicate = matches!(msg, Message::Replicate { .. });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let bytes = frame(&Envelope { id, msg })?;
        let conn = self.conn(addr).await?;
        let (tx, rx) = oneshot::channel();
        conn.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        if replicate {
            self.replicate_bytes
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            self.replicate_frames.fetch_add(1, Ordering::Relaxed);
        }
        if conn.out.send(bytes).is_err() {
            conn.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            return Err(LinkError::Unreachable(addr));
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(Message::Refused { reason })) => Err(LinkError::Refused(addr, reason)),
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(LinkError::Unreachable(addr)),
            Err(_) => {
                conn.pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                Err(LinkError::Timeout(addr))
            }
        }
    }

    /// Sends `msg` to the node whose link listens at `addr` without
    /// waiting for its answer: calls from one task arrive in the order
    /// they were made (one connection per peer and [`Lane`], written in
    /// order; a task stays on its lane).
    ///
    /// # Errors
    /// [`LinkError`]: unreachable (also for a while after a failed
    /// connect), too large.
    pub async fn post(&self, addr: SocketAddr, msg: Message) -> Result<(), LinkError> {
        // Id 0 is never pending: the answer is read and dropped.
        let bytes = frame(&Envelope { id: 0, msg })?;
        let conn = self.conn(addr).await?;
        conn.out
            .send(bytes)
            .map_err(|_| LinkError::Unreachable(addr))
    }

    /// The open connection to `addr` for the caller's [`Lane`], opened
    /// (with `Hello`) if needed: its tasks run where the caller runs.
    async fn conn(&self, addr: SocketAddr) -> Result<Arc<PeerConn>, LinkError> {
        let slot = self
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((addr, lane()))
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some(conn) = slot.conn.as_ref()
            && !conn.closed.is_cancelled()
        {
            return Ok(conn.clone());
        }
        if slot.failed_at.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
            return Err(LinkError::Unreachable(addr));
        }
        let opened = tokio::time::timeout(CONNECT_TIMEOUT.min(self.timeout), self.open(addr))
            .await
            .map_err(|_| LinkError::Timeout(addr))
            .and_then(|r| r);
        match opened {
            Ok(conn) => {
                *slot = PeerSlot {
                    conn: Some(conn.clone()),
                    failed_at: None,
                };
                Ok(conn)
            }
            Err(err) => {
                slot.failed_at = Some(std::time::Instant::now());
                Err(err)
            }
        }
    }

    async fn open(&self, addr: SocketAddr) -> Result<Arc<PeerConn>, LinkError> {
        let stream = match self.source {
            None => TcpStream::connect(addr).await,
            Some(ip) => connect_from(ip, addr).await,
        }
        .map_err(|_| LinkError::Unreachable(addr))?;
        let _ = stream.set_nodelay(true);
        let (read, mut write) = stream.into_split();
        let hello = frame(&Envelope {
            id: 0,
            msg: Message::Hello {
                cluster: self.cluster.clone(),
                node: self.node.clone(),
            },
        })?;
        write
            .write_all(&hello)
            .await
            .map_err(|_| LinkError::Unreachable(addr))?;
        let mut frames = FramedRead::new(read, agora_wire::FrameCodec::new(MAX_FRAME));
        match next_envelope(&mut frames).await {
            Some(Envelope {
                msg: Message::Done, ..
            }) => {}
            Some(Envelope {
                msg: Message::Refused { reason },
                ..
            }) => {
                tracing::warn!(peer = %addr, %reason, "cluster link refused");
                return Err(LinkError::Refused(addr, reason));
            }
            _ => return Err(LinkError::Unreachable(addr)),
        }
        let (out, mut queue) = mpsc::unbounded_channel::<Bytes>();
        let pending: Pending = Arc::default();
        let closed = CancellationToken::new();
        // The writer: drains the queue, one write per burst.
        let writer_closed = closed.clone();
        tokio::spawn(async move {
            let mut buf = BytesMut::new();
            loop {
                let first = tokio::select! {
                    _ = writer_closed.cancelled() => break,
                    next = queue.recv() => next,
                };
                let Some(first) = first else { break };
                buf.extend_from_slice(&first);
                while buf.len() < 256 * 1024
                    && let Ok(more) = queue.try_recv()
                {
                    buf.extend_from_slice(&more);
                }
                if write.write_all(&buf).await.is_err() {
                    break;
                }
                buf.clear();
            }
            writer_closed.cancel();
        });
        // The reader: hands each answer to its caller.
        let (reader_pending, reader_closed) = (pending.clone(), closed.clone());
        tokio::spawn(async move {
            loop {
                let envelope = tokio::select! {
                    _ = reader_closed.cancelled() => break,
                    e = next_envelope(&mut frames) => e,
                };
                let Some(envelope) = envelope else { break };
                let waiter = reader_pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&envelope.id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(envelope.msg);
                }
            }
            reader_closed.cancel();
            // Callers waiting on this connection fail now.
            reader_pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        });
        Ok(Arc::new(PeerConn {
            out,
            pending,
            closed,
        }))
    }
}

/// The next well-formed envelope, or `None` when the stream ends or
/// breaks (a malformed frame breaks it: peers run the same code).
async fn next_envelope<R: tokio::io::AsyncRead + Unpin>(
    frames: &mut FramedRead<R, agora_wire::FrameCodec>,
) -> Option<Envelope> {
    let body = frames.next().await?.ok()?;
    agora_wire::decode(&body).ok()
}

/// Answers requests from other nodes (`fanout::Answers`).
pub trait Answer: Send + Sync + 'static {
    /// The answer to one request (`Replicate`, `Read`, `Publish`).
    fn answer(&self, msg: Message) -> Message;
}

/// Binds the link's TCP listener on `addr` (the gossip address).
///
/// # Errors
/// When the address is taken.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// A TCP connection to `addr` leaving from `ip` (any free port).
async fn connect_from(ip: std::net::IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = if ip.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(addr).await
}

/// Serves the link until `token` is cancelled: each connection says
/// `Hello` with `cluster`'s name, then its requests are answered in order.
///
/// The connections are served on the shared runtime, not on the RESP
/// event loops: measured with three nodes on two cores, answering on the
/// loops (one thread per node for its clients and its replicas' writes)
/// gave a higher N=3/W=2 SET p99 than the shared runtime's workers
/// (docs/BENCHMARKS.md, Cluster, session 11).
pub fn listen(
    listener: TcpListener,
    cluster: String,
    answer: Arc<dyn Answer>,
    token: CancellationToken,
    tracker: &TaskTracker,
) {
    let conns = tracker.clone();
    tracker.spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = token.cancelled() => break,
                a = listener.accept() => a,
            };
            let Ok((stream, peer)) = accepted else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let (cluster, answer, token) = (cluster.clone(), answer.clone(), token.clone());
            conns.spawn(async move {
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = serve(stream, peer, &cluster, answer.as_ref()) => {}
                }
            });
        }
    });
}

/// One incoming connection.
async fn serve(stream: TcpStream, peer: SocketAddr, cluster: &str, answer: &dyn Answer) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut frames = FramedRead::new(read, agora_wire::FrameCodec::new(MAX_FRAME));
    match next_envelope(&mut frames).await {
        Some(Envelope {
            id,
            msg:
                Message::Hello {
                    cluster: theirs,
                    node,
                },
        }) => {
            if theirs != cluster {
                tracing::warn!(%peer, %node, theirs = %theirs, ours = %cluster, "cluster link from another cluster refused");
                let reason = format!("wrong cluster: this is {cluster}, not {theirs}");
                if let Ok(bytes) = frame(&Envelope {
                    id,
                    msg: Message::Refused { reason },
                }) {
                    let _ = write.write_all(&bytes).await;
                }
                return;
            }
            let Ok(bytes) = frame(&Envelope {
                id,
                msg: Message::Done,
            }) else {
                return;
            };
            if write.write_all(&bytes).await.is_err() {
                return;
            }
        }
        _ => {
            tracing::debug!(%peer, "cluster link closed before its hello");
            return;
        }
    }
    let mut out = BytesMut::new();
    loop {
        let Some(envelope) = next_envelope(&mut frames).await else {
            return;
        };
        let msg = match envelope.msg {
            Message::Hello { .. } => Message::Refused {
                reason: "hello twice".into(),
            },
            msg => answer.answer(msg),
        };
        let Ok(bytes) = frame(&Envelope {
            id: envelope.id,
            msg,
        }) else {
            return;
        };
        out.extend_from_slice(&bytes);
        // Answers to requests already received go out together.
        if frames.decoder().frame_ready(frames.read_buffer()) && out.len() < 256 * 1024 {
            continue;
        }
        if write.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::hlc::Version;
    use crate::cluster::versions::State;

    struct Echo;

    impl Answer for Echo {
        fn answer(&self, msg: Message) -> Message {
            match msg {
                Message::Read { keys } => Message::Items {
                    items: keys
                        .into_iter()
                        .map(|k| Item {
                            key: k.into_vec(),
                            version: Version(1, 2),
                            state: Some(State {
                                dump: vec![1, 2, 3],
                                expire_at: 9,
                            }),
                        })
                        .collect(),
                },
                _ => Message::Done,
            }
        }
    }

    async fn server(cluster: &str) -> (SocketAddr, CancellationToken) {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token = CancellationToken::new();
        listen(
            listener,
            cluster.into(),
            Arc::new(Echo),
            token.clone(),
            &TaskTracker::new(),
        );
        (addr, token)
    }

    #[test]
    fn each_single_threaded_runtime_calls_on_its_own_connection() {
        let shared = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (addr, token) = shared.block_on(server("c"));
        let link = Arc::new(Link::new("c", "me", Duration::from_secs(5)));
        let read = move |link: Arc<Link>| async move {
            let keys = vec![serde_bytes::ByteBuf::from(b"k".to_vec())];
            match link.call(addr, Message::Read { keys }).await {
                Ok(Message::Items { items }) => items[0].key.clone(),
                other => panic!("{other:?}"),
            }
        };
        // From the shared runtime, twice: one connection.
        for _ in 0..2 {
            assert_eq!(shared.block_on(read(link.clone())), b"k");
        }
        assert_eq!(link.peers.lock().unwrap().len(), 1);
        // From two single-threaded runtimes (event loops) on their own
        // threads: one more connection each.
        for _ in 0..2 {
            let link = link.clone();
            let key = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(read(link))
            })
            .join()
            .unwrap();
            assert_eq!(key, b"k");
        }
        assert_eq!(link.peers.lock().unwrap().len(), 3);
        token.cancel();
    }

    #[tokio::test]
    async fn calls_are_answered_over_one_pooled_connection() {
        let (addr, token) = server("c").await;
        let link = Link::new("c", "me", Duration::from_secs(5));
        let keys = vec![serde_bytes::ByteBuf::from(b"k".to_vec())];
        let answers = futures::future::join_all(
            (0..50).map(|_| link.call(addr, Message::Read { keys: keys.clone() })),
        )
        .await;
        for a in answers {
            let Message::Items { items } = a.unwrap() else {
                panic!("not items")
            };
            assert_eq!(items[0].key, b"k");
            assert_eq!(items[0].state.as_ref().unwrap().expire_at, 9);
        }
        assert_eq!(link.peers.lock().unwrap().len(), 1);
        let done = link
            .call(addr, Message::Replicate { items: Vec::new() })
            .await;
        assert_eq!(done.unwrap(), Message::Done);
        assert_eq!(link.replicate_frames.load(Ordering::Relaxed), 1);
        assert!(link.replicate_bytes.load(Ordering::Relaxed) > 4);
        // The server stops: calls fail, then succeed again once it is back.
        token.cancel();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(link.call(addr, Message::Read { keys }).await.is_err());
    }

    #[tokio::test]
    async fn another_cluster_is_refused_and_a_silent_peer_times_out() {
        let (addr, _token) = server("ours").await;
        let stranger = Link::new("theirs", "x", Duration::from_secs(5));
        let err = stranger
            .call(addr, Message::Read { keys: Vec::new() })
            .await
            .unwrap_err();
        assert!(matches!(err, LinkError::Refused(..)), "{err}");
        assert!(err.to_string().contains("wrong cluster"), "{err}");
        // A listener that accepts and never answers.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_addr = silent.local_addr().unwrap();
        let link = Link::new("ours", "me", Duration::from_millis(200));
        let err = link
            .call(silent_addr, Message::Read { keys: Vec::new() })
            .await
            .unwrap_err();
        assert!(matches!(err, LinkError::Timeout(_)), "{err}");
        drop(silent);
        let closed = Link::new("ours", "me", Duration::from_secs(1))
            .call(silent_addr, Message::Done)
            .await
            .unwrap_err();
        assert!(matches!(closed, LinkError::Unreachable(_)), "{closed}");
    }

    #[tokio::test]
    async fn connections_leave_from_the_nodes_own_address() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let link =
            Link::new("c", "me", Duration::from_millis(300)).from_ip("127.0.0.7".parse().unwrap());
        let call = tokio::spawn(async move { link.call(addr, Message::Done).await });
        let (_conn, peer) = listener.accept().await.unwrap();
        assert_eq!(peer.ip().to_string(), "127.0.0.7");
        let _ = call.await;
        // Unspecified: the route picks (loopback's 127.0.0.1 here).
        let any =
            Link::new("c", "me", Duration::from_millis(300)).from_ip("0.0.0.0".parse().unwrap());
        assert!(any.source.is_none());
    }

    #[test]
    fn an_oversized_message_is_refused_before_it_is_sent() {
        let item = Item {
            key: b"k".to_vec(),
            version: Version::ZERO,
            state: Some(State {
                dump: vec![0; MAX_FRAME + 1],
                expire_at: 0,
            }),
        };
        let err = frame(&Envelope {
            id: 1,
            msg: Message::Replicate { items: vec![item] },
        })
        .unwrap_err();
        assert!(matches!(err, LinkError::TooLarge));
    }
}
