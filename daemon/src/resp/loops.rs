//! The RESP event loops: a few threads, each running a single-threaded
//! tokio runtime that owns the connections handed to it.
//!
//! Why not the daemon's shared multi-threaded runtime: a cache request is
//! a few hundred nanoseconds of work, so what a connection costs is
//! mostly scheduling. On the work-stealing runtime, each burst of
//! requests woke a second worker to steal (an eventfd write and a futex
//! wait per burst); measured with `perf stat` under
//! `redis-benchmark -P 16`, that was 13× the context switches of
//! redis-server for the same requests. A connection pinned to one
//! single-threaded loop is served the way Redis serves it — one thread
//! polls, reads, executes and writes for many sockets per wake-up — and
//! several loops still let the cache use several cores: the keyspace is
//! sharded behind short locks, so loops rarely wait on each other.
//!
//! Connections are dealt out round-robin as they are accepted. Each loop
//! busy-polls briefly after input ([`super::busy_poll`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How the loops are set up.
#[derive(Debug, Clone, Copy)]
pub struct LoopConfig {
    /// How many loop threads (at least one is started).
    pub threads: usize,
    /// How long a loop keeps polling after its last input; zero turns
    /// busy polling off.
    pub busy_poll: Duration,
    /// How long a loop keeps running after shutdown for its connections
    /// to finish.
    pub grace: Duration,
}

/// Handles to the running loops.
pub struct Loops {
    handles: Vec<Handle>,
    next: AtomicUsize,
    /// Whether their busy polling is paused ([`Loops::pause_busy_poll`]).
    busy_poll_paused: Arc<AtomicBool>,
}

impl Loops {
    /// Starts the loop threads. Each runs until `shutdown` is cancelled
    /// and then until `tracker` is empty or the grace period has passed,
    /// so connections can flush and close.
    pub fn start(
        config: LoopConfig,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> std::io::Result<Loops> {
        let mut handles = Vec::new();
        let busy_poll_paused = Arc::new(AtomicBool::new(false));
        for i in 0..config.threads.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let (shutdown, tracker, paused) =
                (shutdown.clone(), tracker.clone(), busy_poll_paused.clone());
            std::thread::Builder::new()
                .name(format!("agora-resp-{i}"))
                .spawn(move || {
                    runtime.block_on(async {
                        if !config.busy_poll.is_zero() {
                            tokio::spawn(super::busy_poll::spin(config.busy_poll, paused));
                        }
                        shutdown.cancelled().await;
                        let _ = tokio::time::timeout(config.grace, tracker.wait()).await;
                    });
                })?;
        }
        Ok(Loops {
            handles,
            next: AtomicUsize::new(0),
            busy_poll_paused,
        })
    }

    /// Pauses or resumes the loops' busy polling (a no-op when it is off):
    /// a cluster node pauses it while another node of its cluster runs on
    /// the same machine (`cluster/mod.rs`).
    pub fn pause_busy_poll(&self, paused: bool) {
        self.busy_poll_paused.store(paused, Ordering::Relaxed);
    }

    /// Whether busy polling is paused ([`Loops::pause_busy_poll`]).
    pub fn busy_poll_paused(&self) -> bool {
        self.busy_poll_paused.load(Ordering::Relaxed)
    }

    /// Moves `stream` to the next loop and serves it there with `serve`;
    /// completes when the connection ends.
    pub async fn serve<F, Fut>(&self, stream: TcpStream, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        // A socket is registered with one runtime's reactor: take it out
        // of this one and register it with the loop's, on the loop.
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(err) => {
                tracing::debug!(%err, "cannot hand a RESP connection to its loop");
                return;
            }
        };
        let task = self.handles[i].spawn(async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => serve(stream).await,
                Err(err) => tracing::debug!(%err, "cannot register a RESP connection"),
            }
        });
        // Ends when the connection does, or when its loop is dropped.
        let _ = task.await;
    }
}
