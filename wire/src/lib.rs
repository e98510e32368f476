//! The agora protocol, and its Rust SDK.
//!
//! Every agora client and the daemon talk over one TCP connection carrying
//! *frames*: a 4-byte big-endian length followed by one MessagePack value
//! encoded with named fields (so fields can be added without breaking older
//! peers). This crate owns that protocol and the client side of it; no
//! storage, no server.
//!
//! # A tour
//!
//! - **Connect**: [`Session::builder`] takes one or more addresses, a sign-in
//!   (token, or name and password), timeouts, a [`Backoff`] and a
//!   [`transport::Transport`] (TCP by default). The session stays connected,
//!   signs in again after a reconnection and re-subscribes; the chat rooms
//!   it follows resume from their last message.
//! - **Call**: typed calls per service: [`Session::chat`], [`Session::cache`],
//!   [`Session::jobs`], [`Session::games`], [`Session::metrics`]
//!   ([`services`]). [`Session::request`] sends any [`Op`].
//! - **Listen**: [`Session::subscribe`] and [`Session::listen`] return a
//!   [`Subscription`]: a `futures::Stream` of the pushes of one topic.
//! - **Work and play**: [`jobs::Worker`] runs job handlers by kind, with
//!   concurrency, heartbeats and graceful shutdown. [`bots::ChatBot`] answers
//!   commands in rooms, and [`bots::GameBot`] accepts challenges and plays.
//! - **Script**: [`blocking::Session`] does the same without async code.
//! - **Errors**: one [`Error`] enum. [`Error::code`] gives the protocol's
//!   [`ErrorCode`] when the server refused. Nothing panics on server input.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_wire::Error> {
//! use agora_wire::Session;
//! let session = Session::builder(["127.0.0.1:7070", "127.0.0.1:7071"])
//!     .login("alice", "correct horse battery")
//!     .connect()
//!     .await?;
//! println!("ping: {:?}", session.ping().await?);
//! let mut ops = session.chat().follow("ops").await?;
//! session.chat().send("ops", "deploy started").await?;
//! while let Some(message) = ops.next_message().await {
//!     println!("{}: {}", message.from, message.text);
//! }
//! # Ok(()) }
//! ```
//!
//! # The protocol's pieces
//!
//! - [`codec`]: the frame codec ([`FrameCodec`]) with a maximum frame size,
//!   and helpers to encode and decode message bodies;
//! - [`message`]: the envelope — the [`Hello`]/[`Welcome`] handshake,
//!   [`Request`]s with their [`Op`]eration, [`Reply`]s, [`Push`]es of
//!   [`Event`]s and the [`ServerFrame`] the server sends — and the one list
//!   of services ([`Service`]);
//! - one module per service with its operations, replies and events:
//!   [`base`] (ping, accounts, topics), [`chat`], [`cache`], [`jobs`],
//!   [`metrics`], [`game`]; each is defined with [`messages!`], which also
//!   lists every wire name, field and field type so nothing else has to;
//! - [`error`]: the error codes a server answers with ([`ErrorCode`],
//!   [`ErrorBody`]) and this crate's own [`Error`];
//! - [`names`]: validation rules for user names and topics, shared by
//!   server and clients so both give the same message;
//! - [`Client`]: one connection multiplexing concurrent requests (what
//!   [`Session`] is built on).
//!
//! The client side is the `client` feature, on by default. The daemon's
//! view (types and codec only) needs none of it.
//!
//! The byte-level specification lives in `docs/PROTOCOL.md` of the agora
//! repository, and `vectors/` (in this crate) holds the exact frame of
//! every message for other implementations to test against.
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod macros;
#[cfg(test)]
mod strategies;
#[cfg(test)]
mod vectors;

pub mod base;
pub mod cache;
pub mod chat;
pub mod codec;
pub mod error;
pub mod game;
pub mod jobs;
pub mod message;
pub mod metrics;
pub mod names;

#[cfg(feature = "client")]
mod backoff;
#[cfg(feature = "client")]
pub mod blocking;
#[cfg(feature = "client")]
pub mod bots;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
pub mod services;
#[cfg(feature = "client")]
mod session;
#[cfg(feature = "client")]
mod subscription;
#[cfg(feature = "client")]
pub mod transport;

#[cfg(feature = "client")]
pub use backoff::Backoff;
pub use base::{BaseEvent, BaseOp, BaseReply, OrgRole, SessionInfo, SshKeyInfo, UserInfo};
pub use cache::{CacheEvent, CacheOp, CacheReply, CacheValue, ClusterNode};
pub use chat::{ChatEvent, ChatOp, ChatReply};
#[cfg(feature = "client")]
pub use client::{Client, ClientOptions, Pushes, Requester};
pub use codec::{DEFAULT_MAX_FRAME, FrameCodec, decode, encode};
pub use error::{Error, ErrorBody, ErrorCode};
pub use game::{GameEvent, GameOp, GameReply};
pub use jobs::{JobsEvent, JobsOp, JobsReply};
pub use message::{Event, Hello, Op, Push, Reply, Request, ServerFrame, Service, Welcome};
pub use metrics::{MetricsEvent, MetricsOp, MetricsReply};
#[cfg(feature = "client")]
pub use session::{Session, SessionBuilder, Subscription, split_addrs};

/// The protocol version this crate speaks. A server refuses a [`Hello`]
/// whose version it does not support, naming both versions.
pub const PROTOCOL_VERSION: u32 = 1;
