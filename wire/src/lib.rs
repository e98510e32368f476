//! The agora protocol.
//!
//! Every agora client and the daemon talk over one TCP connection carrying
//! *frames*: a 4-byte big-endian length followed by one MessagePack value
//! encoded with named fields (so fields can be added without breaking older
//! peers). This crate owns that protocol and nothing else: no storage, no
//! server. It provides
//!
//! - [`codec`]: the frame codec ([`FrameCodec`]) with a maximum frame size,
//!   and helpers to encode and decode message bodies;
//! - [`message`]: the envelope — the [`Hello`]/[`Welcome`] handshake,
//!   [`Request`]s with their [`Op`]eration, [`Reply`]s, [`Push`]es of
//!   [`Event`]s and the [`ServerFrame`] the server sends — and the one list
//!   of services ([`Service`]);
//! - one module per service with its operations, replies and events:
//!   [`base`] (ping, accounts, topics), [`chat`], [`cache`], [`jobs`]; each is
//!   defined with [`messages!`], which also lists every wire name and field
//!   so nothing else has to;
//! - [`error`]: the error codes a server answers with ([`ErrorCode`],
//!   [`ErrorBody`]) and this crate's own [`Error`];
//! - [`names`]: validation rules for user names and topics, shared by
//!   server and clients so both give the same message;
//! - [`Client`] (feature `client`, on by default): an async client that
//!   multiplexes concurrent requests over one connection.
//!
//! The byte-level specification lives in `docs/PROTOCOL.md` of the agora
//! repository; the doc comments here are the reference for each field.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_wire::Error> {
//! use agora_wire::{BaseOp, BaseReply, Client, Hello, Reply};
//! let (client, welcome) = Client::connect("127.0.0.1:7070", Hello::new("example", None)).await?;
//! println!("connected to agora {}", welcome.server_version);
//! if let Reply::Base(BaseReply::Pong { .. }) = client.request(BaseOp::Ping).await? {
//!     println!("pong");
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

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
pub use session::{Backoff, Session, SessionBuilder, Subscription};

/// The protocol version this crate speaks. A server refuses a [`Hello`]
/// whose version it does not support, naming both versions.
pub const PROTOCOL_VERSION: u32 = 1;
