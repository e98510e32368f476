//! [`Store`]: the per-request storage handle, and its cache of anonymous
//! reads.
//!
//! Every blog operation reaches the database through a `Store`, so a
//! request's storage is chosen once (by [`super::Blog::store`]) and
//! nothing below it knows which database it is: an organization's
//! requests get a `Store` over its own file ([`crate::orgs::Tenant`]).
//!
//! The cache keeps serialized responses to anonymous GETs (the same bytes
//! for every reader) by request line. Every write bumps the store's
//! generation after it commits, and an entry is only served while the
//! generation it was read under is current, so a reply never predates an
//! acknowledged write: an entry computed under generation *g* was read
//! after *g* was set, and *g* is only current until the next commit.
//!
//! On PostgreSQL the generation is the fleet's: every write transaction,
//! on whichever node, bumps the blog's row of `blog_generations` with the
//! write (`agora_db::pg::blog::lock_writes`), and a cached read first
//! reads it (one indexed lookup instead of the query). The same argument
//! holds across nodes: a node serves an entry only while the database
//! still says the generation it was computed under.
//!
//! The cache and its generation ([`Responses`]) can outlive a store: an
//! organization's file is closed and reopened as its handle leaves and
//! re-enters the bounded cache of open files, and every store over that
//! file shares one `Responses` (`crate::orgs::tenants` keeps them), so a
//! reopened file starts warm and a write through any of its stores makes
//! every cached reply stale.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use agora_db::BlogDb;
use agora_db::blog::BlogStore;
use bytes::Bytes;

use super::Error;

/// Storage for one request. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: BlogDb,
    responses: Arc<Responses>,
    /// Whether a write went through this store (its file may then have
    /// WAL frames to checkpoint when it is closed).
    wrote: AtomicBool,
    /// Retries after "database is locked" (see [`Store::busy_retries`]).
    busy_retries: AtomicU64,
}

/// Cached responses and the write generation they are checked against;
/// shared by every [`Store`] over one database.
pub struct Responses {
    /// Bumped after every committed write.
    generation: AtomicU64,
    cache: ReadCache,
}

impl Responses {
    /// An empty cache of up to `capacity` responses.
    pub fn new(capacity: usize) -> Arc<Responses> {
        Arc::new(Responses {
            generation: AtomicU64::new(0),
            cache: ReadCache::new(capacity),
        })
    }

    /// Keeps at most `keep` of the current responses, dropping the stale
    /// ones (for a file that is being closed: what it keeps is what a
    /// reopen finds warm).
    pub fn trim(&self, keep: usize) {
        let generation = self.generation.load(Ordering::Acquire);
        let mut entries = self.cache.lock();
        entries.retain(|_, (g, _)| *g == generation);
        if entries.len() > keep {
            let extra: Vec<String> = entries.keys().skip(keep).cloned().collect();
            for key in extra {
                entries.remove(&key);
            }
        }
    }

    /// The response kept for `key`, if it is current.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let generation = self.generation.load(Ordering::Acquire);
        self.cache.get(key, generation)
    }

    /// How many responses are kept.
    pub fn len(&self) -> usize {
        self.cache.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How many times a busy read or write is tried in all.
const BUSY_TRIES: u32 = 8;

/// Runs `attempt` until it is not [`Error::Busy`], at most [`BUSY_TRIES`]
/// times, waiting 2, 4, 8 … 128 ms between tries (about a quarter of a
/// second in all, on top of SQLite's own busy timeout). Blocking: runs on
/// the blocking pool.
fn retry_busy<T>(inner: &Inner, mut attempt: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let mut tries = 0;
    loop {
        match attempt() {
            Err(Error::Busy(why)) => {
                tries += 1;
                if tries >= BUSY_TRIES {
                    return Err(Error::internal(format!(
                        "{why} (still busy after {tries} tries)"
                    )));
                }
                inner.busy_retries.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%why, tries, "blog: database busy, trying again");
                std::thread::sleep(std::time::Duration::from_millis(2 << tries.min(6)));
            }
            other => return other,
        }
    }
}

impl Store {
    /// A store over `db` caching up to `cache_entries` responses.
    pub fn new(db: BlogDb, cache_entries: usize) -> Store {
        Store::with_responses(db, Responses::new(cache_entries))
    }

    /// A store over `db` sharing `responses` with the other stores over
    /// the same database (see the module docs).
    pub fn with_responses(db: BlogDb, responses: Arc<Responses>) -> Store {
        Store {
            inner: Arc::new(Inner {
                db,
                responses,
                wrote: AtomicBool::new(false),
                busy_retries: AtomicU64::new(0),
            }),
        }
    }

    /// The responses this store caches (shared, see the module docs).
    pub fn responses(&self) -> &Arc<Responses> {
        &self.inner.responses
    }

    /// The database under this store.
    pub fn db(&self) -> &BlogDb {
        &self.inner.db
    }

    /// Whether a write went through this store.
    pub fn has_written(&self) -> bool {
        self.inner.wrote.load(Ordering::Acquire)
    }

    /// Runs `f` on a reader connection, on the blocking pool; tries again
    /// (a few times, after a short wait) when SQLite answers "busy".
    ///
    /// # Errors
    /// [`Error::Internal`] when the database fails, stays busy, or `f`
    /// panics.
    pub async fn read<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn BlogStore) -> agora_db::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            retry_busy(&inner, || inner.db.read(&mut f).map_err(Error::from))
        })
        .await
        .map_err(Error::internal)?
    }

    /// Runs `f` in one transaction on the writer, on the blocking pool;
    /// commits when `f` returns `Ok`, rolls back otherwise. On PostgreSQL
    /// it is the organization's tenant transaction, after its blog's
    /// advisory lock ([`BlogDb::write`]). On SQLite the
    /// transaction is `BEGIN IMMEDIATE`: it holds the write lock from its
    /// first statement, so it never has to upgrade a read snapshot
    /// (which SQLite refuses at once, without waiting, when the file
    /// changed under it). When SQLite answers "busy" anyway — another
    /// connection to the file holds the lock longer than the busy
    /// timeout — the transaction is rolled back and run again, a few
    /// times, after a short wait.
    ///
    /// # Errors
    /// `f`'s error, or [`Error::Internal`] when the database fails, stays
    /// busy, or `f` panics.
    pub async fn write<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn BlogStore) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            retry_busy(&inner, || {
                let result = inner.db.write(|blog| Ok(f(blog)));
                // Bumped after the commit: see the module docs.
                inner.responses.generation.fetch_add(1, Ordering::AcqRel);
                inner.wrote.store(true, Ordering::Release);
                result.map_err(Error::from)?
            })
        })
        .await
        .map_err(Error::internal)?
    }

    /// On PostgreSQL, the blog's generation as the fleet's database says
    /// (every node's writes bump it); `None` on SQLite, where this
    /// process's own count is the truth.
    async fn shared_generation(&self) -> Result<Option<u64>, Error> {
        if self.inner.db.sqlite().is_some() {
            return Ok(None);
        }
        let db = self.inner.db.clone();
        let generation = tokio::task::spawn_blocking(move || db.generation())
            .await
            .map_err(Error::internal)??;
        // Kept apart from the local count's values, which only SQLite's
        // entries carry.
        Ok(generation.map(|g| g as u64 | 1 << 63))
    }

    /// How many times a read or write was run again because SQLite was
    /// busy.
    pub fn busy_retries(&self) -> u64 {
        self.inner.busy_retries.load(Ordering::Relaxed)
    }

    /// The cached response to the anonymous request `key`, or the one
    /// `compute` makes (cached unless a write came in between).
    ///
    /// # Errors
    /// `compute`'s.
    pub async fn cached<F, Fut>(&self, key: &str, compute: F) -> Result<Bytes, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, Error>>,
    {
        let responses = &self.inner.responses;
        if responses.cache.capacity == 0 {
            return compute().await;
        }
        // Read before computing: the response then holds every write up
        // to this generation (see the module docs).
        let generation = match self.shared_generation().await? {
            Some(generation) => generation,
            None => responses.generation.load(Ordering::Acquire),
        };
        if let Some(hit) = responses.cache.get(key, generation) {
            return Ok(hit);
        }
        let fresh = compute().await?;
        responses.cache.put(key, generation, fresh.clone());
        Ok(fresh)
    }
}

/// Responses by request line, each with the generation it was read under.
struct ReadCache {
    capacity: usize,
    entries: Mutex<HashMap<String, (u64, Bytes)>>,
}

impl ReadCache {
    fn new(capacity: usize) -> ReadCache {
        ReadCache {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Bytes)>> {
        // The map is consistent between statements: a panic elsewhere
        // cannot leave it half-changed.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &str, generation: u64) -> Option<Bytes> {
        if self.capacity == 0 {
            return None;
        }
        match self.lock().get(key) {
            Some((g, bytes)) if *g == generation => Some(bytes.clone()),
            _ => None,
        }
    }

    fn put(&self, key: &str, generation: u64, bytes: Bytes) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(key) {
            // Stale entries first; when all are current, start over: the
            // working set is small (the first pages and popular articles)
            // and refills in a few requests.
            entries.retain(|_, (g, _)| *g == generation);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), (generation, bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_db::Db;

    #[tokio::test]
    async fn a_write_makes_cached_reads_stale() {
        let store = Store::new(BlogDb::Sqlite(Db::open_in_memory().unwrap()), 8);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let read = || async {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok(Bytes::from_static(b"x"))
        };
        store.cached("/a", read).await.unwrap();
        store.cached("/a", read).await.unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        store.write(|_| Ok(())).await.unwrap();
        store.cached("/a", read).await.unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_failed_write_rolls_back() {
        let store = Store::new(BlogDb::Sqlite(Db::open_in_memory().unwrap()), 8);
        let err = store
            .write(|blog| {
                blog.create_account("alice", "a@example.com", "h")?.ok();
                Err::<(), _>(Error::invalid("x", "no"))
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)));
        let found = store
            .read(|blog| blog.account_by_email("a@example.com"))
            .await
            .unwrap();
        assert_eq!(found, None);
    }

    /// A second connection holds the write lock past the writer's busy
    /// timeout: the write is refused with "database is locked", tried
    /// again, and succeeds once the lock is released.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_write_is_tried_again_once_the_lock_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agora.db");
        let db = Db::open(&path).unwrap();
        db.write(|c| Ok(c.busy_timeout(std::time::Duration::from_millis(5))?))
            .unwrap();
        let store = Store::new(BlogDb::Sqlite(db), 8);
        let other = agora_db::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let write = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .write(|blog| Ok(blog.create_account("alice", "a@example.com", "h")?.ok()))
                    .await
            }
        });
        // The write has met the lock (and will try again) before it goes.
        while store.busy_retries() == 0 {
            assert!(!write.is_finished(), "{:?}", write.await);
            tokio::task::yield_now().await;
        }
        other.execute_batch("COMMIT").unwrap();
        write.await.unwrap().unwrap();
        let found = store
            .read(|blog| blog.account_by_email("a@example.com"))
            .await
            .unwrap();
        assert!(found.is_some());
    }

    #[tokio::test]
    async fn stores_sharing_responses_see_each_others_writes() {
        let db = BlogDb::Sqlite(Db::open_in_memory().unwrap());
        let responses = Responses::new(8);
        let first = Store::with_responses(db.clone(), responses.clone());
        let second = Store::with_responses(db, responses.clone());
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let read = || async {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok(Bytes::from_static(b"x"))
        };
        first.cached("/a", read).await.unwrap();
        second.cached("/a", read).await.unwrap();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "the second store starts warm"
        );
        assert!(!first.has_written());
        first.write(|_| Ok(())).await.unwrap();
        assert!(first.has_written() && !second.has_written());
        second.cached("/a", read).await.unwrap();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            2,
            "a write through the first is seen"
        );
        responses.trim(0);
        assert!(responses.is_empty());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = ReadCache::new(2);
        for i in 0..10 {
            cache.put(&i.to_string(), 0, Bytes::new());
            assert!(cache.lock().len() <= 2);
        }
        let off = ReadCache::new(0);
        off.put("a", 0, Bytes::new());
        assert!(off.get("a", 0).is_none());
    }
}
