//! The agora daemon.
//!
//! One process serves every agora service over one protocol
//! ([`agora_wire`]) plus an HTTP side. This crate is the only one that
//! spawns tasks. The shape:
//!
//! - [`server`]: the accept loop, with a connection limit (shared by the
//!   protocol and RESP listeners);
//! - [`conn`]: one task per connection — handshake, reading frames,
//!   dispatching requests, writing replies and pushes (whose backlog is
//!   held to [`session::PushLimits`]);
//! - [`dispatch`]: from a decoded request to its answer, for any service;
//! - [`service`]: what every service shares (the [`service::Service`]
//!   trait, [`service::Routed`], lifecycle hooks, blocking and error
//!   helpers); [`services`]: the one list of services, which routes each
//!   [`agora_wire::Op`] to the service that owns it;
//! - the services, a module (folder) each: [`base`] (ping, [`accounts`],
//!   topics), [`chat`] (rooms, messages with group commit, private
//!   messages, presence), [`cache`] (the Redis-compatible cache, also
//!   served over RESP by [`resp`] on its own listener), [`jobs`] (the
//!   background job queue: group-commit writer, scheduler, built-in kinds);
//!   [`game`] (matchmaking, live games as actors, clocks, ratings, replays);
//! - [`hub`]: topic pub/sub for pushes;
//! - [`blog`]: the RealWorld blog API's domain (served by [`http`]);
//! - [`orgs`]: organizations (a multi-tenant blog): policy, tenant files;
//! - [`http`]: health checks, Prometheus metrics and the blog API (axum);
//! - [`stats`]: the counters behind `/metrics`;
//! - [`cluster`]: several daemons as one cache (`--cluster`): gossip
//!   membership, slot placement, `CLUSTER …`, `MOVED`;
//! - [`ssh`]: the SSH listener (`--ssh`): the TUI for each session with a
//!   terminal, a few commands for exec requests, keys bound to accounts.
//!
//! [`Daemon::start`] binds everything and returns a [`Running`] handle;
//! cancelling its token shuts down gracefully: stop accepting, finish
//! in-flight requests, say goodbye to clients, checkpoint the database.
#![warn(missing_docs)]

pub mod accounts;
pub mod backup;
pub mod base;
pub mod billing;
pub mod blog;
pub mod cache;
pub mod chat;
pub mod cluster;
mod config;
pub mod conn;
pub mod datalock;
pub mod dispatch;
pub mod game;
pub mod http;
pub mod hub;
pub mod jobs;
pub mod latency;
pub mod loglevel;
pub mod metrics;
pub mod migrate;
pub mod orgs;
mod ready;
pub mod resp;
pub mod server;
pub mod service;
pub mod services;
pub mod session;
pub mod ssh;
pub mod stats;
mod storage;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use agora_db::DatabaseUrl;
pub use config::{Config, Keepalive};
pub use ready::BoundAddrs;

/// The daemon's version, as reported in the handshake and `/metrics`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything a connection or HTTP handler needs, shared behind an `Arc`.
pub struct Shared {
    /// The configuration the daemon was started with.
    pub config: Config,
    /// The node's SQLite store: everything but what `storage` holds.
    pub db: agora_db::Db,
    /// Where the services ported to PostgreSQL keep their data: the same
    /// SQLite store, or the fleet's PostgreSQL (`--database`).
    pub storage: agora_db::Storage,
    /// Topic pub/sub for server pushes.
    pub hub: Arc<hub::Hub>,
    /// Every service.
    pub services: services::Services,
    /// Counters for `/metrics` (shared with the metrics sampler).
    pub stats: Arc<stats::Stats>,
    /// Cancelled when the daemon starts shutting down.
    pub shutdown: CancellationToken,
    /// Cancelled when the drain begins (SIGTERM with a drain period):
    /// `/readyz` answers 503 while everything else still serves, so load
    /// balancers stop sending new clients before the shutdown.
    pub draining: CancellationToken,
    /// When the daemon started.
    pub started: Instant,
    /// The cluster this node belongs to (`--cluster`); `None` for a
    /// standalone daemon.
    pub cluster: Option<Arc<cluster::Cluster>>,
}

impl Shared {
    /// Opens the data directory, the database and every service: all that
    /// connections need, without listeners ([`Daemon::start`] binds them;
    /// tests drive connections over their own sockets). `shutdown` is the
    /// daemon's token.
    ///
    /// # Errors
    /// When the data directory, the database or a service cannot be opened.
    pub(crate) async fn open(
        config: Config,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Shared> {
        let mut config = config;
        config.cache.cluster = config.cluster.is_some();
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
        let (db, storage) = storage::open(&config).await?;
        let hub = Arc::new(hub::Hub::default());
        let stats = Arc::new(stats::Stats::default());
        let services = services::Services::open(&config, &storage, &db, &hub, &stats).await?;
        Ok(Shared {
            config,
            db,
            storage,
            hub,
            services,
            stats,
            shutdown,
            draining: CancellationToken::new(),
            started: Instant::now(),
            cluster: None,
        })
    }
}

/// A started daemon.
pub struct Running {
    /// Where it listens.
    pub addrs: BoundAddrs,
    /// Cancel to shut down gracefully.
    pub token: CancellationToken,
    /// Cancel to start the drain: `/readyz` turns 503, nothing else
    /// changes until `token` is cancelled.
    pub draining: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Waits until the daemon has shut down (after its token was cancelled)
    /// and returns how the shutdown went.
    ///
    /// # Errors
    /// When the database could not be flushed or a task failed.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("daemon task panicked")?
    }

    /// Cancels the token and waits for the shutdown to finish.
    ///
    /// # Errors
    /// As [`Running::wait`].
    pub async fn stop(self) -> anyhow::Result<()> {
        self.token.cancel();
        self.wait().await
    }
}

/// The daemon: see the crate documentation.
pub struct Daemon;

impl Daemon {
    /// Opens the data directory, binds the listeners and starts serving.
    /// Returns once everything is listening (and the ready file, if asked
    /// for, is written).
    ///
    /// # Errors
    /// When the data directory or database cannot be opened, or an address
    /// cannot be bound; the message names the culprit.
    pub async fn start(config: Config) -> anyhow::Result<Running> {
        tune_allocator();
        let token = CancellationToken::new();
        let shared = Shared::open(config, token.clone()).await?;

        let listener = bind(&shared.config.listen, "protocol").await?;
        let http_listener = bind(&shared.config.http, "HTTP").await?;
        let resp_listener = bind(&shared.config.resp, "RESP").await?;
        let ssh_listener = match shared.config.ssh.clone() {
            Some(config) => Some(ssh::Listener::bind(config, &shared.config.data_dir).await?),
            None => None,
        };
        let mut addrs = BoundAddrs {
            listen: listener.local_addr()?,
            http: http_listener.local_addr()?,
            resp: resp_listener.local_addr()?,
            cluster: None,
            ssh: ssh_listener.as_ref().map(|l| l.local_addr()).transpose()?,
        };

        // The RESP listener serves the cache; INFO and CONFIG GET report its
        // port.
        shared
            .services
            .cache
            .cache()
            .port
            .store(addrs.resp.port(), std::sync::atomic::Ordering::Relaxed);

        // The mock payment provider is served on the HTTP listener and
        // delivers its webhooks there.
        shared.services.billing.set_http_addr(addrs.http);

        // The RESP event loops start before the ready file is written: a
        // daemon that cannot start them fails here rather than leaving a
        // listener nobody serves.
        let tracker = TaskTracker::new();
        // On an error from here on, the loop threads and tasks already
        // started are told to stop (the token) and that nothing will come
        // (the tracker).
        let abandon = |err: anyhow::Error| {
            token.cancel();
            tracker.close();
            err
        };
        let loops = Arc::new(
            resp::loops::Loops::start(
                resp::loops::LoopConfig {
                    threads: shared.config.resp_threads,
                    busy_poll: shared.config.resp_busy_poll,
                    grace: shared.config.shutdown_grace,
                },
                shared.shutdown.clone(),
                tracker.clone(),
            )
            .context("cannot start the RESP event loops")
            .map_err(abandon)?,
        );
        let mut shared = shared;
        if let Some(config) = shared.config.cluster.clone() {
            // The cluster's tasks outlive the daemon's token: on shutdown
            // the node first leaves (hands its keys over), then they stop.
            let cluster_token = CancellationToken::new();
            let cluster =
                cluster::membership::start(config, addrs.resp, cluster_token.clone(), &tracker)
                    .await
                    .map_err(abandon)?;
            let (leaving, shutdown, stop) = (cluster.clone(), token.clone(), cluster_token.clone());
            let draining = shared.draining.clone();
            tracker.spawn(async move {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = draining.cancelled() => {
                        // The others take the slots over during the drain,
                        // while this node still serves.
                        leaving.announce_leaving().await;
                        shutdown.cancelled().await;
                    }
                }
                leaving.leave(cluster::LEAVE_WITHIN).await;
                stop.cancel();
            });
            let token = cluster_token.clone();
            cluster
                .start_link(
                    shared.services.cache.cache().clone(),
                    token.clone(),
                    &tracker,
                    loops.clone(),
                )
                .await
                .map_err(abandon)?;
            addrs.cluster = Some(cluster.gossip);
            let cache = shared.services.cache.cache().clone();
            cluster::status::spawn_publisher(
                cluster.clone(),
                move || cache.store.len().0 as u64,
                token.clone(),
                &tracker,
            );
            shared
                .services
                .cache
                .set_node(cluster::status::Node::Member(cluster.clone()));
            shared.cluster = Some(cluster);
        } else {
            shared
                .services
                .cache
                .set_node(cluster::status::Node::Standalone { resp: addrs.resp });
        }
        let shared = Arc::new(shared);
        if let Some(path) = &shared.config.ready_file {
            ready::write(path, &addrs).map_err(abandon)?;
        }
        ready::notify_ready(&addrs);
        ready::spawn_watchdog(token.clone(), &tracker);
        let (stopping, draining) = (token.clone(), shared.draining.clone());
        tracker.spawn(async move {
            tokio::select! {
                () = stopping.cancelled() => {}
                () = draining.cancelled() => {}
            }
            ready::notify_stopping();
        });
        tracing::info!(listen = %addrs.listen, http = %addrs.http, resp = %addrs.resp, ssh = ?addrs.ssh, data = %shared.config.data_dir.display(), "agora daemon listening");

        let resp = (resp_listener, loops);
        if let Some(ssh_listener) = ssh_listener {
            tracker.spawn(ssh::accept_loop(
                shared.clone(),
                ssh_listener,
                addrs.listen,
                tracker.clone(),
            ));
        }
        let draining = shared.draining.clone();
        let task = tokio::spawn(serve(shared, tracker, listener, http_listener, resp));
        Ok(Running {
            addrs,
            token,
            draining,
            task,
        })
    }
}

async fn bind(addr: &str, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for {what} on {addr}"))
}

/// Runs both listeners until the token is cancelled, then drains.
async fn serve(
    shared: Arc<Shared>,
    tracker: TaskTracker,
    listener: TcpListener,
    http_listener: TcpListener,
    (resp_listener, resp_loops): (TcpListener, Arc<resp::loops::Loops>),
) -> anyhow::Result<()> {
    let http = tracker.spawn(http::serve(shared.clone(), http_listener));
    // The services' background tasks (the cache's expiry and snapshots)
    // and the RESP accept loop share the tracker: shutdown waits for them
    // too, which is how the final snapshot gets written before exit.
    shared.services.spawn(shared.shutdown.clone(), &tracker);
    tracker.spawn(resp::accept_loop(
        shared.clone(),
        resp_listener,
        resp_loops,
        tracker.clone(),
    ));
    server::accept_loop(shared.clone(), listener, &tracker).await;

    // Shutdown: connections see the token, finish what they are doing and
    // close; give them the grace period, then flush the database.
    tracker.close();
    let grace = shared.config.shutdown_grace;
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(
            still_open = tracker.len(),
            "grace period of {grace:?} over; closing remaining connections"
        );
    }
    http.abort();
    let db = shared.db.clone();
    tokio::task::spawn_blocking(move || db.checkpoint())
        .await
        .context("checkpoint panicked")?
        .context("cannot flush the database")?;
    tracing::info!("agora daemon stopped");
    Ok(())
}

/// Makes glibc's malloc serve every allocation of 1 MiB or more with its
/// own mapping, returned to the system when freed. By default glibc raises
/// that threshold after the first large free, so each thread that ever
/// hashed a password (19 MiB a time) would keep that memory resident.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's tunables; it is called before
    // the daemon's threads allocate large blocks, and any value is safe.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The default grace period for shutdown: the issue promises an exit
/// within 5 s, and the database flush needs a moment after this.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// Parses a listen address for error messages that name the flag.
pub fn parse_addr(addr: &str) -> Option<SocketAddr> {
    addr.parse().ok()
}
