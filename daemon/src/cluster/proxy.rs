//! Proxy mode (`--cluster-mode proxy`, docs/CLUSTER.md): a plain client
//! (one that cannot follow `-MOVED`) is served by the node it reached,
//! which forwards each command whose slot is owned elsewhere to the owner's
//! advertised RESP address and relays the owner's reply byte for byte.
//!
//! - [`Mode`]: redirect (Redis Cluster's contract, the default) or proxy;
//! - [`Pool`]: idle RESP connections per owner and protocol version
//!   (RESP2, or RESP3 after `HELLO 3`), reused across client connections
//!   of the same RESP event loop (a socket belongs to the runtime that
//!   opened it: each loop is one thread with its own runtime, so the pool
//!   is keyed by thread too); a connection that failed or timed out is
//!   dropped, never reused;
//! - [`reply_len`]: where the first complete RESP2/RESP3 reply ends in a
//!   buffer, so a reply is relayed unchanged without being decoded.
//!
//! What is not forwarded (blocking commands, transactions, WATCH,
//! pub/sub) is decided by the RESP connection (`resp/conn/cluster.rs`),
//! which answers those with a clear error instead. Timeouts: a connection
//! must open within [`CONNECT_TIMEOUT`] and a reply arrive within
//! [`REPLY_TIMEOUT`]; an owner that misses either is answered as a
//! `-CLUSTERDOWN` error naming it, never a hang.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How a node answers a command whose slot another node owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `-MOVED slot ip:port`, as Redis Cluster does (the default).
    #[default]
    Redirect,
    /// Forward it to the owner and relay the owner's reply.
    Proxy,
}

impl Mode {
    /// `redirect` or `proxy`, as the flag spells it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Redirect => "redirect",
            Mode::Proxy => "proxy",
        }
    }

    /// The mode a flag value names, in any case.
    pub fn parse(text: &str) -> Option<Mode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "redirect" => Some(Mode::Redirect),
            "proxy" => Some(Mode::Proxy),
            _ => None,
        }
    }
}

/// How long opening a connection to an owner may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long an owner may take to answer one forwarded command.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle connections kept per owner and protocol version.
const IDLE_PER_OWNER: usize = 16;

/// Why a command could not be forwarded.
#[derive(Debug)]
pub enum ForwardError {
    /// No connection could be opened (refused, unreachable, timed out).
    Unreachable(String),
    /// The owner did not answer in time.
    Timeout,
    /// The connection broke or the owner sent something that is not RESP.
    Broken(String),
}

impl ForwardError {
    /// The error a client gets: `CLUSTERDOWN`, naming the owner.
    pub fn reply_text(&self, owner: &str, addr: SocketAddr, slot: u16) -> String {
        let who = format!("node {owner} ({addr}), the owner of slot {slot},");
        match self {
            ForwardError::Unreachable(why) => {
                format!("CLUSTERDOWN {who} is unreachable: {why}")
            }
            ForwardError::Timeout => format!(
                "CLUSTERDOWN {who} did not answer within {}s",
                REPLY_TIMEOUT.as_secs()
            ),
            ForwardError::Broken(why) => {
                format!("CLUSTERDOWN {who} closed the forwarded request: {why}")
            }
        }
    }
}

/// Where an idle connection may be reused: the thread (so the runtime)
/// that opened it, the owner's address, and whether it speaks RESP3.
type Slot = (ThreadId, SocketAddr, bool);

/// Idle upstream connections, by thread, owner address and protocol
/// version.
#[derive(Debug)]
pub struct Pool {
    idle: Mutex<HashMap<Slot, Vec<TcpStream>>>,
    reply_timeout: Duration,
}

impl Default for Pool {
    fn default() -> Pool {
        Pool::with_reply_timeout(REPLY_TIMEOUT)
    }
}

impl Pool {
    /// A pool whose owners must answer within `reply_timeout`.
    pub fn with_reply_timeout(reply_timeout: Duration) -> Pool {
        Pool {
            idle: Mutex::default(),
            reply_timeout,
        }
    }

    /// Sends `args` to `owner` (in RESP3 when `resp3`) and returns its
    /// reply's bytes, unchanged.
    ///
    /// # Errors
    /// When no connection opens, the owner does not answer in time, or
    /// the connection breaks; an idle connection that turns out closed
    /// (the owner restarted) is replaced once by a fresh one.
    pub async fn forward(
        &self,
        owner: SocketAddr,
        resp3: bool,
        args: &[Bytes],
    ) -> Result<Bytes, ForwardError> {
        let request = encode_command(args);
        let limit = self.reply_timeout;
        if let Some(mut conn) = self.take(owner, resp3) {
            match tokio::time::timeout(limit, round_trip(&mut conn, &request)).await {
                Ok(Ok(reply)) => {
                    self.put(owner, resp3, conn);
                    return Ok(reply);
                }
                // Closed while idle before it answered anything: the
                // request never ran there; try a new connection.
                Ok(Err(RoundTrip::ClosedEarly)) => {}
                Ok(Err(RoundTrip::Failed(why))) => return Err(ForwardError::Broken(why)),
                Err(_) => return Err(ForwardError::Timeout),
            }
        }
        let mut conn = connect(owner, resp3, limit).await?;
        match tokio::time::timeout(limit, round_trip(&mut conn, &request)).await {
            Ok(Ok(reply)) => {
                self.put(owner, resp3, conn);
                Ok(reply)
            }
            Ok(Err(RoundTrip::ClosedEarly)) => {
                Err(ForwardError::Broken("connection closed".into()))
            }
            Ok(Err(RoundTrip::Failed(why))) => Err(ForwardError::Broken(why)),
            Err(_) => Err(ForwardError::Timeout),
        }
    }

    fn take(&self, owner: SocketAddr, resp3: bool) -> Option<TcpStream> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let here = std::thread::current().id();
        idle.get_mut(&(here, owner, resp3)).and_then(Vec::pop)
    }

    fn put(&self, owner: SocketAddr, resp3: bool, conn: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let here = std::thread::current().id();
        let list = idle.entry((here, owner, resp3)).or_default();
        if list.len() < IDLE_PER_OWNER {
            list.push(conn);
        }
    }

    /// Idle connections kept for `owner` (tests).
    #[cfg(test)]
    fn idle_for(&self, owner: SocketAddr) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.iter()
            .filter(|((_, a, _), _)| *a == owner)
            .map(|(_, v)| v.len())
            .sum()
    }
}

/// Opens a connection to `owner`; in RESP3 it says `HELLO 3` first.
async fn connect(
    owner: SocketAddr,
    resp3: bool,
    limit: Duration,
) -> Result<TcpStream, ForwardError> {
    let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(owner)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) => return Err(ForwardError::Unreachable(err.to_string())),
        Err(_) => {
            return Err(ForwardError::Unreachable(format!(
                "no connection within {}s",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
    };
    let _ = conn.set_nodelay(true);
    if resp3 {
        let hello = encode_command(&[Bytes::from_static(b"HELLO"), Bytes::from_static(b"3")]);
        match tokio::time::timeout(limit, round_trip(&mut conn, &hello)).await {
            Ok(Ok(reply)) if !reply.starts_with(b"-") => {}
            Ok(Ok(reply)) => {
                return Err(ForwardError::Broken(
                    String::from_utf8_lossy(&reply[1..]).trim().to_owned(),
                ));
            }
            Ok(Err(_)) => return Err(ForwardError::Broken("connection closed".into())),
            Err(_) => return Err(ForwardError::Timeout),
        }
    }
    Ok(conn)
}

/// How a round trip failed.
enum RoundTrip {
    /// The connection was closed before any byte of a reply came.
    ClosedEarly,
    /// Anything else.
    Failed(String),
}

/// Writes one request and reads exactly one reply.
async fn round_trip(conn: &mut TcpStream, request: &[u8]) -> Result<Bytes, RoundTrip> {
    conn.write_all(request)
        .await
        .map_err(|_| RoundTrip::ClosedEarly)?;
    let mut buf = BytesMut::with_capacity(512);
    loop {
        let read = match conn.read_buf(&mut buf).await {
            Ok(n) => n,
            // Reset before any reply: a connection the owner closed while
            // it was idle (it restarted or died).
            Err(_) if buf.is_empty() => return Err(RoundTrip::ClosedEarly),
            Err(e) => return Err(RoundTrip::Failed(e.to_string())),
        };
        if read == 0 {
            return Err(if buf.is_empty() {
                RoundTrip::ClosedEarly
            } else {
                RoundTrip::Failed("connection closed mid-reply".into())
            });
        }
        match reply_len(&buf) {
            Ok(Some(n)) if n == buf.len() => return Ok(buf.freeze()),
            // More than one reply to one request: not a state to reuse.
            Ok(Some(_)) => return Err(RoundTrip::Failed("unexpected extra reply".into())),
            Ok(None) => {}
            Err(why) => return Err(RoundTrip::Failed(why.into())),
        }
    }
}

/// A command as a RESP array of bulk strings.
pub fn encode_command(args: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Nesting deeper than this is refused (no reply of ours nests so deep).
const MAX_DEPTH: usize = 128;

/// The length of the first complete RESP2/RESP3 reply at the start of
/// `buf`: `Ok(None)` while it is incomplete.
///
/// # Errors
/// When the bytes are not RESP.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, &'static str> {
    let mut pos = 0;
    Ok(skip(buf, &mut pos, 0)?.then_some(pos))
}

/// The line at `pos` (without its CRLF), moving `pos` past it.
fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = buf.get(*pos..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    *pos += end + 2;
    Some(&rest[..end])
}

fn number(text: &[u8]) -> Result<i64, &'static str> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or("a bad length in a RESP reply")
}

/// Moves `pos` past one value; `Ok(false)` when `buf` ends first.
fn skip(buf: &[u8], pos: &mut usize, depth: usize) -> Result<bool, &'static str> {
    if depth > MAX_DEPTH {
        return Err("a RESP reply nested too deep");
    }
    let Some(&kind) = buf.get(*pos) else {
        return Ok(false);
    };
    *pos += 1;
    let Some(head) = line(buf, pos) else {
        return Ok(false);
    };
    match kind {
        b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Ok(true),
        b'$' | b'!' | b'=' => {
            let n = number(head)?;
            if n < 0 {
                return Ok(true);
            }
            let end = *pos + n as usize + 2;
            if buf.len() < end {
                return Ok(false);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err("a bulk string without its CRLF");
            }
            *pos = end;
            Ok(true)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = number(head)?;
            if n < 0 {
                return Ok(true);
            }
            let items = if matches!(kind, b'%' | b'|') {
                n * 2
            } else {
                n
            };
            for _ in 0..items {
                if !skip(buf, pos, depth + 1)? {
                    return Ok(false);
                }
            }
            // An attribute comes before the value it describes.
            if kind == b'|' {
                return skip(buf, pos, depth + 1);
            }
            Ok(true)
        }
        _ => Err("not a RESP reply"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_in_any_case() {
        assert_eq!(Mode::parse("Proxy"), Some(Mode::Proxy));
        assert_eq!(Mode::parse("redirect"), Some(Mode::Redirect));
        assert_eq!(Mode::parse("forward"), None);
        assert_eq!(Mode::default().name(), "redirect");
    }

    #[test]
    fn reply_len_finds_the_end_of_one_reply_of_every_kind() {
        let whole: &[&[u8]] = &[
            b"+OK\r\n",
            b"-ERR no\r\n",
            b":42\r\n",
            b"$5\r\nhello\r\n",
            b"$-1\r\n",
            b"$0\r\n\r\n",
            b"*-1\r\n",
            b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
            b"%1\r\n+k\r\n$2\r\nvv\r\n",
            b"~2\r\n,1.5\r\n#t\r\n",
            b"_\r\n",
            b"(12345678901234567890\r\n",
            b"=8\r\ntxt:abcd\r\n",
            b"|1\r\n+ttl\r\n:3\r\n$1\r\nx\r\n",
            b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n",
        ];
        for reply in whole {
            assert_eq!(reply_len(reply), Ok(Some(reply.len())), "{reply:?}");
            // Every strict prefix is incomplete.
            for cut in 0..reply.len() {
                assert_eq!(reply_len(&reply[..cut]), Ok(None), "{reply:?} cut at {cut}");
            }
            // What follows is not part of it.
            let mut two = reply.to_vec();
            two.extend_from_slice(b"+NEXT\r\n");
            assert_eq!(reply_len(&two), Ok(Some(reply.len())));
        }
        // A binary bulk string holding CRLF is taken by its length.
        assert_eq!(reply_len(b"$4\r\n\r\n\r\n\r\n"), Ok(Some(10)));
        assert!(reply_len(b"?what\r\n").is_err());
        assert!(reply_len(b"$x\r\n").is_err());
        assert!(reply_len(b"$1\r\nabc\r\n").is_err());
    }

    #[test]
    fn commands_are_encoded_as_arrays_of_bulk_strings() {
        let args = [Bytes::from_static(b"SET"), Bytes::from_static(b"k\r\n")];
        assert_eq!(
            encode_command(&args),
            b"*2\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n".to_vec()
        );
    }

    /// A one-shot RESP server: answers each request with `reply`.
    async fn server(reply: &'static [u8]) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = conn.read(&mut buf).await {
                        if n == 0 || conn.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn replies_are_relayed_unchanged_and_connections_reused() {
        let addr = server(b"$3\r\nbar\r\n").await;
        let pool = Pool::default();
        let get = [Bytes::from_static(b"GET"), Bytes::from_static(b"foo")];
        let reply = pool.forward(addr, false, &get).await.unwrap();
        assert_eq!(&reply[..], b"$3\r\nbar\r\n");
        assert_eq!(pool.idle_for(addr), 1);
        pool.forward(addr, false, &get).await.unwrap();
        assert_eq!(pool.idle_for(addr), 1, "the idle connection was reused");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_clear_error_not_a_hang() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap();
        drop(free);
        let pool = Pool::default();
        let err = pool
            .forward(addr, false, &[Bytes::from_static(b"PING")])
            .await
            .unwrap_err();
        let text = err.reply_text("b", addr, 7);
        assert!(
            text.starts_with(&format!(
                "CLUSTERDOWN node b ({addr}), the owner of slot 7, is unreachable:"
            )),
            "{text}"
        );
    }

    #[tokio::test]
    async fn an_owner_that_never_answers_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts, reads, never answers.
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 64];
            while conn.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        });
        let pool = Pool::with_reply_timeout(Duration::from_millis(100));
        let err = pool
            .forward(addr, false, &[Bytes::from_static(b"PING")])
            .await
            .unwrap_err();
        assert!(matches!(err, ForwardError::Timeout), "{err:?}");
        assert_eq!(pool.idle_for(addr), 0, "a timed-out connection is dropped");
    }
}
