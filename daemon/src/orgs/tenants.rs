//! [`Tenants`]: each organization's blog file (`tenants/<org-id>.db`
//! under the data directory), opened on demand through a bounded LRU of
//! handles, so 1,000 organizations never need 1,000 open files.
//!
//! What a request gets is a [`Tenant`]: a blog [`Store`] over that one
//! file and nothing else. No function here takes an organization and a
//! query; the only way to reach a file is to hold its `Tenant`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use agora_db::BlogDb;
use agora_db::orgs::Member;
use agora_db::{Db, Pg, Schema};

use crate::blog::store::Responses;
use crate::blog::{Error, Store};

/// How many responses a closed organization's cache keeps (the rest are
/// dropped when its file is closed): what its next request finds warm.
const WARM_RESPONSES: usize = 8;

/// How many organizations' caches (responses, mirrored profiles) are kept
/// per open handle: closed files keep theirs until this many newer ones
/// push them out. With the default 256 handles, 4,096 organizations, each
/// at most [`WARM_RESPONSES`] responses (a 20-article page is ~10 KiB).
const WARM_PER_HANDLE: usize = 16;

/// One organization's blog storage. Cheap to clone.
#[derive(Clone)]
pub struct Tenant {
    inner: Arc<TenantInner>,
}

struct TenantInner {
    org: i64,
    store: Store,
    warm: Arc<Warm>,
    _open: OpenGuard,
    closer: mpsc::SyncSender<Store>,
}

/// How many handles may wait for the closer thread; past that, the one
/// letting a handle go closes it itself (a close without a checkpoint is
/// short), so a closer that falls behind cannot pile up open files.
const CLOSING_QUEUE: usize = 64;

impl Drop for TenantInner {
    /// The file is closed on the closer thread, not on the caller's (a
    /// runtime worker, or the LRU's lock holder), unless that thread is
    /// behind.
    fn drop(&mut self) {
        if let Err(mpsc::TrySendError::Full(store) | mpsc::TrySendError::Disconnected(store)) =
            self.closer.try_send(self.store.clone())
        {
            close(store);
        }
    }
}

/// What an organization keeps across closes and reopens of its file:
/// every handle to that file shares it (see `crate::blog::store`).
struct Warm {
    responses: Arc<Responses>,
    /// Members whose mirrored profile is known current: (bio, image).
    mirrored: Mutex<HashMap<i64, Mirrored>>,
}

/// A mirrored profile: bio and image.
type Mirrored = (Option<String>, Option<String>);

/// Counts open tenant handles; decremented when the last clone goes.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Tenant {
    /// The organization's id.
    pub fn org(&self) -> i64 {
        self.inner.org
    }

    /// The blog storage of this organization's file.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Makes sure `member`'s profile is mirrored in this file (the blog's
    /// queries join `users` for authors), writing only when it changed
    /// since a handle to this file last wrote it.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn mirror(&self, member: &Member) -> Result<(), Error> {
        let profile = (member.bio.clone(), member.image.clone());
        if lock(&self.inner.warm.mirrored).get(&member.user_id) == Some(&profile) {
            return Ok(());
        }
        let row = member.clone();
        self.inner
            .store
            .write(move |blog| Ok(blog.mirror_member(&row)?))
            .await?;
        lock(&self.inner.warm.mirrored).insert(member.user_id, profile);
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section leaves the map whole.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The tenant files and the LRU of open ones. Cheap to clone.
#[derive(Clone)]
pub struct Tenants {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    /// With `--database postgres://…`: every organization's blog is its
    /// rows of the fleet's tables (`BlogDb::Postgres`), no file.
    shared: Option<Pg>,
    capacity: usize,
    cache_entries: usize,
    open: Arc<AtomicUsize>,
    lru: Mutex<Lru>,
    closer: mpsc::SyncSender<Store>,
}

#[derive(Default)]
struct Lru {
    tick: u64,
    handles: HashMap<i64, (Tenant, u64)>,
    /// Kept across closes, at most `capacity * WARM_PER_HANDLE`.
    warm: HashMap<i64, (Arc<Warm>, u64)>,
    /// Files migrated by this process (at start-up or creation): opened
    /// again with [`Schema::Migrated`].
    migrated: HashSet<i64>,
    /// One open at a time per organization: the others wait their turn
    /// and find it in `handles`.
    opening: HashMap<i64, Arc<tokio::sync::Mutex<()>>>,
}

impl Tenants {
    /// Tenant files in `dir`, at most `capacity` (at least 1) kept open,
    /// each with a read cache of `cache_entries` responses.
    pub fn new(dir: PathBuf, capacity: usize, cache_entries: usize) -> Tenants {
        Tenants::with_backend(dir, None, capacity, cache_entries)
    }

    /// Every organization's blog in the fleet's PostgreSQL, `capacity`
    /// handles kept (a handle is no file there, only its warm state),
    /// each caching up to `cache_entries` responses, checked against the
    /// organization's generation in the database before each use (any
    /// node's write makes them stale; `crate::blog::store`).
    pub fn shared(pg: Pg, capacity: usize, cache_entries: usize) -> Tenants {
        Tenants::with_backend(PathBuf::new(), Some(pg), capacity, cache_entries)
    }

    fn with_backend(
        dir: PathBuf,
        shared: Option<Pg>,
        capacity: usize,
        cache_entries: usize,
    ) -> Tenants {
        // Closing a SQLite file is blocking I/O (and, after writes, a
        // checkpoint); a handle's last clone may go anywhere (a request
        // on a runtime worker, the LRU under its lock), so it is sent to
        // this thread, which outlives the last sender by nothing.
        let (closer, closing) = mpsc::sync_channel::<Store>(CLOSING_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("agora-tenant-closer".into())
            .spawn(move || {
                for store in closing {
                    close(store);
                }
            });
        if let Err(err) = spawned {
            // Then the handles close where their last clone goes.
            tracing::warn!(%err, "cannot start the tenant file closer; closing inline");
        }
        Tenants {
            inner: Arc::new(Inner {
                dir,
                shared,
                capacity: capacity.max(1),
                cache_entries,
                open: Arc::new(AtomicUsize::new(0)),
                lru: Mutex::new(Lru::default()),
                closer,
            }),
        }
    }

    /// The file of organization `org`.
    pub fn path(&self, org: i64) -> PathBuf {
        self.inner.dir.join(format!("{org}.db"))
    }

    /// How many tenant handles are open now (cached or still in use by a
    /// request; a handle let go is closed by the closer thread right
    /// after).
    pub fn open_files(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// Creates and migrates organization `org`'s file.
    ///
    /// # Errors
    /// [`Error::Internal`] when it cannot be created.
    pub async fn create(&self, org: i64) -> Result<Tenant, Error> {
        if self.inner.shared.is_none() {
            std::fs::create_dir_all(&self.inner.dir).map_err(Error::internal)?;
        }
        self.open_file(org, true).await
    }

    /// The response kept for the anonymous request `key` in `org`'s
    /// cache, if it is current, without opening its file: a page cached
    /// before the file was closed is served while it is closed.
    pub fn cached_response(&self, org: i64, key: &str) -> Option<bytes::Bytes> {
        if self.inner.shared.is_some() {
            // Only the database knows whether it is current.
            return None;
        }
        let warm = lock(&self.inner.lru).warm.get(&org)?.0.clone();
        warm.responses.get(key)
    }

    fn cached(&self, org: i64) -> Option<Tenant> {
        let mut lru = lock(&self.inner.lru);
        lru.tick += 1;
        let tick = lru.tick;
        let (tenant, used) = lru.handles.get_mut(&org)?;
        *used = tick;
        Some(tenant.clone())
    }

    /// Organization `org`'s handle, from the LRU or opened now. A missing
    /// or unreadable file is [`Error::Unavailable`]: that organization
    /// answers 503 while every other one works. Requests that miss the
    /// same organization at once open it once: the first opens, the
    /// others wait for it (not for the LRU's lock, which no open holds).
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn get(&self, org: i64) -> Result<Tenant, Error> {
        if let Some(tenant) = self.cached(org) {
            return Ok(tenant);
        }
        let gate = lock(&self.inner.lru)
            .opening
            .entry(org)
            .or_default()
            .clone();
        let opened = {
            let _turn = gate.lock().await;
            match self.cached(org) {
                Some(tenant) => Ok(tenant),
                None => self.open_file(org, false).await,
            }
        };
        let mut lru = lock(&self.inner.lru);
        if lru.opening.get(&org).is_some_and(|g| Arc::ptr_eq(g, &gate)) {
            lru.opening.remove(&org);
        }
        opened
    }

    /// Opens (and, unless this process did already, migrates) `org`'s
    /// file on the blocking pool.
    async fn open_file(&self, org: i64, create: bool) -> Result<Tenant, Error> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.open_blocking(org, create))
            .await
            .map_err(Error::internal)?
    }

    fn open_blocking(&self, org: i64, create: bool) -> Result<Tenant, Error> {
        let path = self.path(org);
        let (schema, warm) = {
            let mut lru = lock(&self.inner.lru);
            let schema = if !create && lru.migrated.contains(&org) {
                Schema::Migrated
            } else {
                Schema::Migrate
            };
            (schema, self.warm(&mut lru, org))
        };
        let db = match &self.inner.shared {
            Some(pg) => BlogDb::Postgres {
                pg: pg.clone(),
                org,
            },
            None => BlogDb::Sqlite(open(&path, create, schema).map_err(|why| {
                tracing::error!(org, file = %path.display(), %why, "tenant file unavailable");
                Error::Unavailable(format!(
                    "this organization's data is unavailable ({why}); other organizations are not affected"
                ))
            })?),
        };
        self.inner.open.fetch_add(1, Ordering::AcqRel);
        let tenant = Tenant {
            inner: Arc::new(TenantInner {
                org,
                store: Store::with_responses(db, warm.responses.clone()),
                warm,
                _open: OpenGuard(self.inner.open.clone()),
                closer: self.inner.closer.clone(),
            }),
        };
        // Dropped after the lock is released (they only go to the closer).
        let mut closing: Vec<Tenant> = Vec::new();
        let chosen = {
            let mut lru = lock(&self.inner.lru);
            lru.migrated.insert(org);
            lru.tick += 1;
            let tick = lru.tick;
            if let Some((already, used)) = lru.handles.get_mut(&org) {
                // Opened concurrently (`create`, or after a `forget`):
                // keep the first, close this one.
                *used = tick;
                let already = already.clone();
                closing.push(tenant);
                already
            } else {
                while lru.handles.len() >= self.inner.capacity {
                    let Some(oldest) = lru
                        .handles
                        .iter()
                        .min_by_key(|(_, (_, used))| *used)
                        .map(|(id, _)| *id)
                    else {
                        break;
                    };
                    closing.extend(lru.handles.remove(&oldest).map(|(t, _)| t));
                }
                lru.handles.insert(org, (tenant.clone(), tick));
                tenant
            }
        };
        drop(closing);
        Ok(chosen)
    }

    /// `org`'s warm state, made if there is none; the least recently used
    /// ones no handle holds are dropped past the bound.
    fn warm(&self, lru: &mut Lru, org: i64) -> Arc<Warm> {
        lru.tick += 1;
        let tick = lru.tick;
        if let Some((warm, used)) = lru.warm.get_mut(&org) {
            *used = tick;
            return warm.clone();
        }
        let bound = self.inner.capacity.saturating_mul(WARM_PER_HANDLE);
        if lru.warm.len() >= bound {
            // Only a state no handle shares may go: a handle still open
            // (even one out of the LRU, in use by a request) must keep
            // sharing its state with the next one, or a write through it
            // would not make the other's cached responses stale.
            let idle = lru
                .warm
                .iter()
                .filter(|(_, (w, _))| {
                    Arc::strong_count(w) == 1 && Arc::strong_count(&w.responses) == 1
                })
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id);
            if let Some(idle) = idle {
                lru.warm.remove(&idle);
            }
        }
        let warm = Arc::new(Warm {
            responses: Responses::new(self.inner.cache_entries),
            mirrored: Mutex::new(HashMap::new()),
        });
        lru.warm.insert(org, (warm.clone(), tick));
        warm
    }

    /// The handles open now (for housekeeping).
    pub fn open_now(&self) -> Vec<Tenant> {
        lock(&self.inner.lru)
            .handles
            .values()
            .map(|(tenant, _)| tenant.clone())
            .collect()
    }

    /// Closes organization `org`'s file (when it is deleted) and drops
    /// what it kept warm: later requests reopen (and check) it only if it
    /// is asked for again.
    pub fn forget(&self, org: i64) {
        let closing = {
            let mut lru = lock(&self.inner.lru);
            lru.migrated.remove(&org);
            lru.warm.remove(&org);
            lru.handles.remove(&org)
        };
        drop(closing);
    }

    /// Removes organization `org`'s file for good (after its deletion's
    /// grace): closes its handle in the LRU first, then removes the file
    /// and its `-wal` and `-shm`. A file already gone is not an error.
    ///
    /// # Errors
    /// When a file exists and cannot be removed.
    pub fn purge(&self, org: i64) -> std::io::Result<()> {
        self.forget(org);
        if let Some(pg) = &self.inner.shared {
            // Its rows, in its own tenant transaction (row-level security
            // confines the deletes to them).
            let blog = BlogDb::Postgres {
                pg: pg.clone(),
                org,
            };
            return blog
                .write(|b| b.clear().map(Ok::<_, std::convert::Infallible>))
                .map(|_| ())
                .map_err(std::io::Error::other);
        }
        let path = self.path(org);
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            match std::fs::remove_file(&file) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        Ok(())
    }

    /// Migrates every file in `orgs` (ids), one at a time, without
    /// keeping them open; answers the failures, each with its reason,
    /// after trying them all. The others are opened later without the
    /// migration check.
    pub fn migrate_all(&self, orgs: &[i64]) -> Vec<(i64, String)> {
        if self.inner.shared.is_some() {
            // One schema for all, migrated with the fleet's database.
            return Vec::new();
        }
        let mut failures = Vec::new();
        for (i, &org) in orgs.iter().enumerate() {
            match open(&self.path(org), false, Schema::Migrate) {
                Ok(_) => {
                    lock(&self.inner.lru).migrated.insert(org);
                }
                Err(why) => failures.push((org, why)),
            }
            if (i + 1) % 100 == 0 {
                tracing::info!(done = i + 1, of = orgs.len(), "migrating tenant files");
            }
        }
        failures
    }
}

/// Closes a tenant file: checkpoints it first if it was written through
/// this handle (a tenant connection does not checkpoint on close, see
/// `agora_db::Db::open_tenant`), then trims its shared cache to what a
/// reopen should find warm. The connection closes when the store's last
/// clone goes (here, unless a request still holds one).
fn close(store: Store) {
    if store.has_written()
        && let Some(db) = store.db().sqlite()
        && let Err(err) = db.checkpoint_passive()
    {
        tracing::warn!(%err, "tenant file: checkpoint on close failed (the WAL keeps the data)");
    }
    store.responses().trim(WARM_RESPONSES);
}

/// File descriptors one open tenant handle holds: the file, its `-wal`
/// and its `-shm` (one connection, `agora_db::Db::open_tenant`).
pub const FDS_PER_HANDLE: usize = 3;

/// How many tenant handles fit this process's descriptors: raises the
/// soft `RLIMIT_NOFILE` to the hard one (where the system lets it), then
/// answers `wanted`, or less when `wanted` handles would take more than
/// half the soft limit (the other half is for connections, the shared
/// database and the rest), logging why. Never below 16.
pub fn fit_handles(wanted: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return wanted;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    let soft = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
    let fit = (soft / 2 / FDS_PER_HANDLE).max(16);
    if wanted > fit {
        tracing::warn!(
            wanted,
            fit,
            nofile = soft,
            "--blog-tenant-handles lowered to fit the open-file limit (3 descriptors a handle, half the limit)"
        );
        return fit;
    }
    wanted
}

/// Opens the file at `path`; unless `create`, a missing file is refused
/// rather than created empty (that would hide the loss).
fn open(path: &Path, create: bool, schema: Schema) -> Result<Db, String> {
    if !create && !path.exists() {
        return Err(format!("its file {} is missing", path.display()));
    }
    Db::open_tenant(path, schema).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_thousand_organizations_never_hold_more_than_the_bound_open() {
        let dir = tempfile::tempdir().unwrap();
        let tenants = Tenants::new(dir.path().to_path_buf(), 16, 4);
        // One file made and migrated, copied to 999 more (making each
        // afresh costs a minute on a busy machine, and is tested below).
        drop(tenants.create(1).await.unwrap());
        tenants.forget(1);
        assert_eq!(tenants.open_files(), 0);
        for org in 2..=1000 {
            std::fs::copy(tenants.path(1), tenants.path(org)).unwrap();
        }
        for org in (1..=1000).rev() {
            let tenant = tenants.get(org).await.unwrap();
            assert_eq!(tenant.org(), org);
            tenant.store().read(|blog| blog.tags()).await.unwrap();
            drop(tenant);
            assert!(tenants.open_files() <= 16, "{} open", tenants.open_files());
        }
        assert_eq!(tenants.open_files(), 16);
    }

    #[test]
    fn the_handle_bound_fits_the_descriptor_limit() {
        assert_eq!(fit_handles(16), 16);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: reads the struct given.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        let soft = limit.rlim_cur as usize;
        if soft < usize::MAX / 2 {
            let fit = fit_handles(usize::MAX / 2);
            assert!(
                fit * FDS_PER_HANDLE <= soft / 2 || fit == 16,
                "{fit} for {soft}"
            );
        }
    }

    /// Two requests missing the same organization at once open it once:
    /// one handle, both get it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_open_a_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let tenants = Tenants::new(dir.path().to_path_buf(), 4, 4);
        drop(tenants.create(1).await.unwrap());
        tenants.forget(1);
        let (a, b) = tokio::join!(tenants.get(1), tenants.get(1));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(Arc::ptr_eq(&a.inner, &b.inner), "opened twice");
        assert_eq!(tenants.open_files(), 1);
    }

    /// A file closed and reopened keeps its cached responses (and a write
    /// still makes them stale); the WAL stays for the next open.
    #[tokio::test]
    async fn a_reopened_file_starts_warm() {
        let dir = tempfile::tempdir().unwrap();
        let tenants = Tenants::new(dir.path().to_path_buf(), 1, 4);
        for org in [1, 2] {
            drop(tenants.create(org).await.unwrap());
        }
        let calls = AtomicUsize::new(0);
        let read = || async {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok(bytes::Bytes::from_static(b"page"))
        };
        let first = tenants.get(1).await.unwrap();
        first.store().cached("/api/articles", read).await.unwrap();
        drop(first);
        // Opening 2 pushes 1 out (capacity 1); 1 comes back warm.
        drop(tenants.get(2).await.unwrap());
        let again = tenants.get(1).await.unwrap();
        again.store().cached("/api/articles", read).await.unwrap();
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "served from the kept cache"
        );
        again.store().write(|_| Ok(())).await.unwrap();
        again.store().cached("/api/articles", read).await.unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 2, "a write makes it stale");
        let wal = format!("{}-wal", tenants.path(2).display());
        assert!(
            std::path::Path::new(&wal).exists(),
            "the WAL is kept on close"
        );
    }

    #[tokio::test]
    async fn the_most_recently_used_stay_open() {
        let dir = tempfile::tempdir().unwrap();
        let tenants = Tenants::new(dir.path().to_path_buf(), 2, 4);
        for org in 1..=3 {
            tenants.create(org).await.unwrap();
        }
        // 2 and 3 are open; using 2 makes 3 the one to go.
        tenants.get(2).await.unwrap();
        tenants.get(1).await.unwrap();
        let lru = lock(&tenants.inner.lru);
        let mut open: Vec<i64> = lru.handles.keys().copied().collect();
        open.sort_unstable();
        assert_eq!(open, vec![1, 2]);
    }

    #[tokio::test]
    async fn a_missing_or_corrupt_file_is_unavailable_and_others_work() {
        let dir = tempfile::tempdir().unwrap();
        let tenants = Tenants::new(dir.path().to_path_buf(), 8, 4);
        for org in 1..=3 {
            tenants.create(org).await.unwrap();
        }
        // Closed (SQLite folds the WAL back in on the last close).
        drop(tenants);
        let tenants = Tenants::new(dir.path().to_path_buf(), 8, 4);
        std::fs::remove_file(tenants.path(1)).unwrap();
        std::fs::write(tenants.path(2), vec![7u8; 8192]).unwrap();
        for org in [1, 2] {
            let err = tenants.get(org).await.err().expect("unavailable");
            assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
        }
        assert!(!tenants.path(1).exists(), "a missing file is not recreated");
        tenants.get(3).await.unwrap();
        let failures = tenants.migrate_all(&[1, 2, 3]);
        let failed: Vec<i64> = failures.iter().map(|(org, _)| *org).collect();
        assert_eq!(failed, vec![1, 2]);
        assert!(failures[0].1.contains("missing"), "{}", failures[0].1);
    }
}
