//! The cache service: a Redis-compatible in-memory keyspace.
//!
//! - [`store`]: the sharded keyspace (values, TTLs, eviction, memory
//!   accounting) — pure and synchronous;
//! - [`cmd`]: command execution over argument vectors, with Redis's
//!   semantics and error texts, answering a protocol-neutral [`Reply`];
//! - [`expiry`]: active expiry (the 100 ms task) and the ops/sec sampler;
//! - [`pubsub`]: channels and patterns, usable from any protocol;
//! - [`persist`]: snapshots to `DATA/cache.snapshot`;
//! - [`glob`]: Redis's glob matching;
//! - [`native`]: the `cache_*` operations of the native protocol.
//!
//! [`Cache`] is the service's state, shared as an `Arc` (the handle); the
//! RESP listener ([`crate::resp`]) and the native protocol ([`native`])
//! both call [`cmd::execute`] and share the pub/sub registry.

pub mod blocking;
pub mod clients;
pub mod cmd;
pub mod config;
pub mod expiry;
pub mod glob;
pub mod monitor;
pub mod multi;
pub mod native;
pub mod notify;
pub mod persist;
pub mod pubsub;
pub mod reply;
pub mod store;
pub mod stream;
pub mod tracking;
pub mod zset;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use reply::Reply;
pub use store::{Access, Policy, Store};

/// Largest bulk string accepted (Redis's `proto-max-bulk-len` default):
/// the RESP decoder enforces it, CONFIG GET reports it.
pub const MAX_BULK: usize = 512 * 1024 * 1024;

/// How the cache is set up (from `--cache-*` flags).
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Memory limit in bytes; 0 = unlimited.
    pub max_memory: usize,
    /// What to evict when over the limit.
    pub policy: Policy,
    /// Snapshot to `DATA/cache.snapshot` periodically and on shutdown, and
    /// load it on start.
    pub persist: bool,
    /// How often to snapshot when persisting.
    pub snapshot_every: Duration,
    /// Serving as one node of a cluster (`--cluster`): INFO says
    /// `cluster_enabled:1` and SELECT refuses databases other than 0.
    pub cluster: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_memory: 0,
            policy: Policy::NoEviction,
            persist: false,
            snapshot_every: Duration::from_secs(60),
            cluster: false,
        }
    }
}

/// `used_memory`'s estimate of what the running cache uses besides keys
/// and values (the shard tables, the command table, the Lua
/// interpreter, the tasks), as Redis's `used_memory` counts its own (about
/// 870 KB for an empty redis-server 7.0). Set by [`Cache::open`], the
/// daemon's constructor, so that `CONFIG SET maxmemory 1` is over the
/// limit as it is for Redis; [`Cache::new`] (unit tests) leaves it out.
pub const BASE_OVERHEAD: i64 = 512 * 1024;

/// `used_memory`'s estimate per RESP connection: its input and output
/// buffers (16 KiB each).
pub const CLIENT_OVERHEAD: i64 = 32 * 1024;

/// The cache service's shared state.
pub struct Cache {
    /// The keyspace.
    pub store: Store,
    /// Pub/sub channels.
    pub pubsub: pubsub::PubSub,
    /// Counters for INFO.
    pub stats: Stats,
    /// When the service started (ms since the epoch).
    pub started_ms: u64,
    /// The RESP port, for INFO and CONFIG GET port.
    pub port: AtomicU16,
    /// Where snapshots go, when persistence is on.
    pub snapshot: Option<PathBuf>,
    /// The configuration.
    pub config: CacheConfig,
    /// CONFIG GET/SET's parameters.
    pub params: config::Config,
    /// EXEC's exclusion from other commands.
    pub gate: multi::Gate,
    /// WATCHed keys.
    pub watches: multi::Watches,
    /// Connections blocked in BLPOP & co.
    pub blocked: blocking::Blocked,
    /// EVAL's scripts, FUNCTION's libraries, the running script.
    pub scripting: cmd::script::Engine,
    /// INFO commandstats and errorstats.
    pub cmdstats: cmd::stats::CommandStats,
    /// The RESP connections (CLIENT LIST, CLIENT KILL).
    pub clients: clients::Clients,
    /// MONITOR's connections.
    pub monitors: monitor::Monitors,
    /// CLIENT TRACKING's clients and keys.
    pub tracking: tracking::Tracking,
    /// Set by `SHUTDOWN NOSAVE`: no final snapshot on the way out.
    pub nosave: std::sync::atomic::AtomicBool,
}

impl Cache {
    /// A cache loaded from its snapshot, when persistence is on (a corrupt
    /// snapshot is moved aside and the cache starts empty).
    ///
    /// # Errors
    /// When loading panicked.
    pub async fn open(
        config: CacheConfig,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Arc<Cache>> {
        let cache = Arc::new(Cache::new(config, data_dir));
        cache.store.add_overhead(BASE_OVERHEAD);
        if let Some(path) = cache.snapshot.clone() {
            let loader = cache.clone();
            let keys = tokio::task::spawn_blocking(move || {
                persist::load_or_quarantine(&loader.store, &path, crate::now_ms())
            })
            .await
            .map_err(|_| anyhow::anyhow!("snapshot load panicked"))?;
            tracing::info!(keys, "cache snapshot loaded");
        }
        Ok(cache)
    }

    /// A new, empty cache. `data_dir` is where the snapshot lives.
    pub fn new(config: CacheConfig, data_dir: &std::path::Path) -> Cache {
        let store = Store::new(config.max_memory, config.policy);
        let params = config::Config::new(&store, 0);
        if config.cluster {
            params.set_internal("cluster-enabled", "yes".into());
        }
        Cache {
            params,
            gate: multi::Gate::default(),
            watches: multi::Watches::default(),
            blocked: blocking::Blocked::default(),
            scripting: cmd::script::Engine::default(),
            cmdstats: cmd::stats::CommandStats::default(),
            clients: clients::Clients::default(),
            monitors: monitor::Monitors::default(),
            tracking: tracking::Tracking::default(),
            nosave: std::sync::atomic::AtomicBool::new(false),
            store,
            pubsub: pubsub::PubSub::default(),
            stats: Stats::default(),
            started_ms: crate::now_ms(),
            port: AtomicU16::new(0),
            snapshot: config.persist.then(|| data_dir.join(persist::FILE_NAME)),
            config,
        }
    }
}

/// Counters for INFO.
#[derive(Default)]
pub struct Stats {
    /// Commands executed.
    pub commands: AtomicU64,
    /// RESP connections accepted since start.
    pub connections_total: AtomicU64,
    /// RESP connections open now.
    pub connected: AtomicU64,
    /// When the last snapshot was written (ms since the epoch).
    pub last_save_ms: AtomicU64,
    /// Changes since the last snapshot (INFO's
    /// `rdb_changes_since_last_save`): one per write that changed
    /// something (SETBIT and BITFIELD count what they changed themselves).
    pub dirty: AtomicU64,
    ops: Mutex<OpsSampler>,
}

/// Redis's instantaneous_ops_per_sec: the mean of the last 16 samples
/// taken every 100 ms.
#[derive(Default)]
struct OpsSampler {
    last_ms: u64,
    last_commands: u64,
    samples: [u64; 16],
    next: usize,
}

impl Stats {
    /// Takes one ops/sec sample (called every 100 ms by the expiry task).
    pub fn sample_ops(&self, now_ms: u64) {
        let commands = self.commands.load(Ordering::Relaxed);
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        if ops.last_ms != 0 && now_ms > ops.last_ms {
            let rate = (commands - ops.last_commands) * 1000 / (now_ms - ops.last_ms);
            let i = ops.next;
            ops.samples[i] = rate;
            ops.next = (i + 1) % ops.samples.len();
        }
        ops.last_ms = now_ms;
        ops.last_commands = commands;
    }

    /// Commands per second, averaged over the last 1.6 s.
    pub fn ops_per_sec(&self) -> u64 {
        let ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        ops.samples.iter().sum::<u64>() / ops.samples.len() as u64
    }
}

/// Starts the cache's background tasks (active expiry, snapshots) on
/// `tracker`; they stop when `token` is cancelled (the snapshot task
/// writes a last snapshot first).
pub fn spawn(cache: Arc<Cache>, token: CancellationToken, tracker: &TaskTracker) {
    tracker.spawn(expiry::run(cache.clone(), token.clone(), crate::now_ms));
    if cache.snapshot.is_some() {
        tracker.spawn(persist::run(cache, token));
    }
}
