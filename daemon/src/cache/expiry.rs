//! Active expiry, like Redis's `activeExpireCycle`: every 100 ms, each
//! shard samples 20 keys with a TTL and deletes the expired ones, and
//! repeats while more than a quarter of the sample had expired, within a
//! time budget. Lazy expiry (on access) lives in the store.
//!
//! The cycle itself ([`active_expire_cycle`]) is synchronous and takes the
//! clock as an argument, so tests need no sleeps.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Cache;
use super::store::{SHARDS, Store};

/// How often the cycle runs.
pub const PERIOD: Duration = Duration::from_millis(100);
/// Keys sampled per shard per round (Redis's ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
pub const SAMPLES: usize = 20;
/// Longest a cycle may run: a quarter of the period, as Redis's default.
pub const BUDGET: Duration = Duration::from_millis(25);

/// Runs one cycle over every shard of every database; `over_budget` is polled between
/// rounds. Returns how many keys expired.
pub fn active_expire_cycle(
    store: &Store,
    now_ms: u64,
    mut over_budget: impl FnMut() -> bool,
) -> usize {
    let mut total = 0;
    for db in store.dbs() {
        for i in 0..SHARDS {
            // One lock per round, not per cycle: requests wait at most one
            // round of 20 samples.
            loop {
                let (sampled, expired) = db.lock(i).expire_round(now_ms, SAMPLES);
                total += expired;
                if sampled == 0 || expired * 4 <= sampled {
                    break;
                }
                if over_budget() {
                    return total;
                }
            }
        }
    }
    total
}

/// The background task: a cycle (plus an ops/sec sample) every
/// [`PERIOD`] until `token` is cancelled. `clock` gives ms since the
/// epoch (a parameter so tests can drive it with tokio's paused time).
pub async fn run(cache: Arc<Cache>, token: CancellationToken, clock: fn() -> u64) {
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = clock();
        let started = std::time::Instant::now();
        active_expire_cycle(&cache.store, now, || started.elapsed() > BUDGET);
        super::cmd::events::publish_removals(&cache);
        cache.tracking.flush_pending();
        cache.stats.sample_ops(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::store::{Entry, Value};
    use crate::cache::{CacheConfig, Policy};
    use std::sync::atomic::{AtomicU64, Ordering};

    fn fill(store: &Store, n: u32, expire_at: u64) {
        for i in 0..n {
            let key = format!("k{i}");
            store.db(0).lock_key(key.as_bytes()).insert(
                key.as_bytes(),
                Entry::with_expiry(Value::Str((*b"v").into()), expire_at),
                0,
            );
        }
    }

    #[test]
    fn cycle_collects_most_expired_keys_without_access() {
        let store = Store::new(0, Policy::NoEviction);
        fill(&store, 2000, 1000);
        assert_eq!(active_expire_cycle(&store, 999, || false), 0);
        let expired = active_expire_cycle(&store, 1000, || false);
        // The cycle stops per shard once under 25% of a sample expired, so
        // almost all (usually all) keys go in one cycle.
        assert!(expired > 1500, "{expired}");
        let mut cycles = 0;
        while store.len().0 > 0 && cycles < 100 {
            active_expire_cycle(&store, 1000, || false);
            cycles += 1;
        }
        assert_eq!(store.len(), (0, 0));
    }

    #[test]
    fn cycle_reaches_every_database() {
        let store = Store::new(0, Policy::NoEviction);
        for db in [3, 15] {
            store.db(db).lock_key(b"k").insert(
                b"k",
                Entry::with_expiry(Value::Str((*b"v").into()), 10),
                0,
            );
        }
        assert_eq!(store.len(), (2, 2));
        assert_eq!(active_expire_cycle(&store, 10, || false), 2);
        assert_eq!(store.len(), (0, 0));
    }

    #[test]
    fn cycle_respects_its_budget() {
        let store = Store::new(0, Policy::NoEviction);
        fill(&store, 2000, 10);
        let expired = active_expire_cycle(&store, 10, || true);
        assert!(expired <= SAMPLES, "{expired}");
    }

    static FAKE_NOW: AtomicU64 = AtomicU64::new(0);

    #[tokio::test(start_paused = true)]
    async fn task_expires_keys_and_stops_with_the_token() {
        let cache = Arc::new(Cache::new(
            CacheConfig::default(),
            std::path::Path::new("."),
        ));
        fill(&cache.store, 100, 5_000);
        let token = CancellationToken::new();
        let task = tokio::spawn(run(cache.clone(), token.clone(), || {
            FAKE_NOW.load(Ordering::Relaxed)
        }));
        FAKE_NOW.store(1_000, Ordering::Relaxed);
        tokio::time::advance(Duration::from_millis(250)).await;
        tokio::task::yield_now().await;
        assert_eq!(cache.store.len().0, 100);
        FAKE_NOW.store(5_000, Ordering::Relaxed);
        for _ in 0..20 {
            tokio::time::advance(PERIOD).await;
            tokio::task::yield_now().await;
        }
        assert_eq!(cache.store.len().0, 0);
        token.cancel();
        task.await.unwrap();
    }
}
