//! The daemon's configuration, built by the `agora` binary from flags and
//! `AGORA_*` environment variables.

use std::path::PathBuf;
use std::time::Duration;

/// Everything the daemon needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address of the protocol listener, e.g. `127.0.0.1:7070` (port 0
    /// picks a free port).
    pub listen: String,
    /// Address of the HTTP listener, e.g. `127.0.0.1:7080`.
    pub http: String,
    /// Address of the RESP (cache) listener, e.g. `127.0.0.1:7379`.
    pub resp: String,
    /// Whether RESP clients must `AUTH username password` (an agora
    /// account) before any other command.
    pub resp_require_auth: bool,
    /// Whether RESP clients may stop the daemon with SHUTDOWN.
    pub resp_allow_shutdown: bool,
    /// How many event-loop threads serve RESP connections (at least 1);
    /// see [`crate::resp::loops`].
    pub resp_threads: usize,
    /// How long a RESP loop keeps polling after its last input before it
    /// sleeps (zero: never busy-poll); see [`crate::resp::busy_poll`].
    pub resp_busy_poll: Duration,
    /// The cache service's settings.
    pub cache: crate::cache::CacheConfig,
    /// Join or form a cluster (`--cluster`); `None`: standalone.
    pub cluster: Option<crate::cluster::ClusterConfig>,
    /// Where the database, signing key and snapshots live.
    pub data_dir: PathBuf,
    /// `--database`: `None` or `sqlite:PATH` keeps everything in one
    /// SQLite file (`agora.db` in the data directory by default); a
    /// `postgres://…` URL puts the services ported so far on that shared
    /// database and the others in the data directory's file
    /// (docs/FLEET.md).
    pub database: Option<agora_db::DatabaseUrl>,
    /// Write the bound addresses here (JSON) once listening.
    pub ready_file: Option<PathBuf>,
    /// The largest frame accepted, in bytes.
    pub max_frame: usize,
    /// The most connections served at once; further clients wait in the
    /// kernel's accept queue.
    pub max_connections: usize,
    /// How much undelivered push data makes a client too slow (native
    /// pushes and RESP pub/sub alike).
    pub push_limits: crate::session::PushLimits,
    /// The JWT signing secret; when `None` (and no key file), a key is
    /// generated in the data directory on first start.
    pub jwt_secret: Option<String>,
    /// A file holding the signing key (at least 32 bytes), shared by every
    /// node of a fleet; read at start, never written.
    pub jwt_key_file: Option<PathBuf>,
    /// How long a token stays valid.
    pub token_ttl: Duration,
    /// How long a client may take to send its hello.
    pub handshake_timeout: Duration,
    /// How long shutdown waits for connections to finish.
    pub shutdown_grace: Duration,
    /// TCP keepalive for protocol connections (half-open detection).
    pub keepalive: Keepalive,
    /// Chat rate and size limits, and when presence is coalesced.
    pub chat: crate::chat::Limits,
    /// The blog API's rate limits, body limit and read cache.
    pub blog: crate::blog::BlogConfig,
    /// Load balancers whose `X-Forwarded-For` names the HTTP client
    /// (`--trusted-proxies`; none by default).
    pub trusted_proxies: crate::http::client_ip::TrustedProxies,
    /// Billing: the mock provider and the webhook secret.
    pub billing: crate::billing::BillingConfig,
    /// The job queue's settings.
    pub jobs: crate::jobs::JobsConfig,
    /// The metrics sampler, history retention and alert room.
    pub metrics: crate::metrics::MetricsConfig,
    /// Games: the disconnection grace period and how long challenges wait.
    pub games: crate::game::GameSettings,
    /// The SSH listener (`--ssh`); `None`: off.
    pub ssh: Option<crate::ssh::SshConfig>,
}

impl Config {
    /// Defaults for everything but the data directory.
    pub fn new(data_dir: PathBuf) -> Self {
        Config {
            listen: "127.0.0.1:7070".into(),
            http: "127.0.0.1:7080".into(),
            resp: "127.0.0.1:7379".into(),
            resp_require_auth: false,
            resp_allow_shutdown: false,
            resp_threads: default_resp_threads(),
            resp_busy_poll: Duration::from_micros(50),
            cache: crate::cache::CacheConfig::default(),
            cluster: None,
            data_dir,
            database: None,
            ready_file: None,
            max_frame: agora_wire::DEFAULT_MAX_FRAME,
            max_connections: 16_384,
            push_limits: crate::session::PushLimits::default(),
            jwt_secret: None,
            jwt_key_file: None,
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            handshake_timeout: Duration::from_secs(10),
            shutdown_grace: crate::DEFAULT_SHUTDOWN_GRACE,
            keepalive: Keepalive::default(),
            chat: crate::chat::Limits::default(),
            blog: crate::blog::BlogConfig::default(),
            trusted_proxies: crate::http::client_ip::TrustedProxies::default(),
            billing: crate::billing::BillingConfig::default(),
            jobs: crate::jobs::JobsConfig::default(),
            metrics: crate::metrics::MetricsConfig::default(),
            games: crate::game::GameSettings::default(),
            ssh: None,
        }
    }
}

/// Half the CPUs, at least one: Redis's advice for its I/O threads,
/// because the clients, the rest of the daemon and the kernel's network
/// work need cores too. On a 2-core machine with the load generator
/// local, one loop served 5–10% more requests than two (docs/CACHE.md).
pub fn default_resp_threads() -> usize {
    (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2).max(1)
}

/// TCP keepalive settings: after `idle` without traffic, `probes` probes
/// `interval` apart; a peer that answers none is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the first probe.
    pub idle: Duration,
    /// Time between probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped.
    pub probes: u32,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(15),
            interval: Duration::from_secs(5),
            probes: 3,
        }
    }
}
