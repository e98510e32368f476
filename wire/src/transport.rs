//! How a [`crate::Session`] reaches a daemon: any byte stream will do.
//!
//! The daemon speaks plain TCP ([`Tcp`], the default). A [`Transport`]
//! opens a stream to one address of the session's list; implement it to
//! add TLS (wrap the `TcpStream` in `tokio_rustls`'s client), a Unix
//! socket, an SSH tunnel or an in-memory pipe for tests. Everything above
//! the stream — framing, handshake, multiplexing, reconnection — stays the
//! same.
//!
//! ```no_run
//! use agora_wire::transport::{Io, Transport};
//! use futures::future::BoxFuture;
//!
//! /// Connects through a local proxy on a fixed port, whatever the address.
//! struct ViaProxy;
//!
//! impl Transport for ViaProxy {
//!     fn connect<'a>(&'a self, _addr: &'a str) -> BoxFuture<'a, std::io::Result<Box<dyn Io>>> {
//!         Box::pin(async {
//!             let stream = tokio::net::TcpStream::connect("127.0.0.1:9000").await?;
//!             Ok(Box::new(stream) as Box<dyn Io>)
//!         })
//!     }
//! }
//! ```

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connected, bidirectional byte stream.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

impl std::fmt::Debug for dyn Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Io")
    }
}

/// Opens byte streams to addresses.
pub trait Transport: Send + Sync + 'static {
    /// Connects to `addr` (one entry of the session's address list, as the
    /// user wrote it). Timeouts are the caller's.
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<Box<dyn Io>>>;
}

/// Plain TCP with `TCP_NODELAY`: what `agora daemon --listen` speaks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tcp;

impl Transport for Tcp {
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<Box<dyn Io>>> {
        Box::pin(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as Box<dyn Io>)
        })
    }
}
