//! [`Tenants`]: each organization's blog file (`tenants/<org-id>.db`
//! under the data directory), opened on demand through a bounded LRU of
//! handles, so 1,000 organizations never need 1,000 open files.
//!
//! What a request gets is a [`Tenant`]: a blog [`Store`] over that one
//! file and nothing else. No function here takes an organization and a
//! query; the only way to reach a file is to hold its `Tenant`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use agora_db::Db;
use agora_db::orgs::Member;

use crate::blog::{Error, Store};

/// One organization's blog storage. Cheap to clone.
#[derive(Clone)]
pub struct Tenant {
    inner: Arc<TenantInner>,
}

struct TenantInner {
    org: i64,
    store: Store,
    /// Members whose mirrored profile is known current: (bio, image).
    mirrored: Mutex<HashMap<i64, Mirrored>>,
    _open: OpenGuard,
}

/// A mirrored profile: bio and image.
type Mirrored = (Option<String>, Option<String>);

/// Counts open tenant files; decremented when the last handle goes.
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
    /// since this handle last wrote it.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn mirror(&self, member: &Member) -> Result<(), Error> {
        let profile = (member.bio.clone(), member.image.clone());
        if lock(&self.inner.mirrored).get(&member.user_id) == Some(&profile) {
            return Ok(());
        }
        let row = member.clone();
        self.inner
            .store
            .write(move |blog| Ok(blog.mirror_member(&row)?))
            .await?;
        lock(&self.inner.mirrored).insert(member.user_id, profile);
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
    capacity: usize,
    cache_entries: usize,
    open: Arc<AtomicUsize>,
    lru: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    tick: u64,
    handles: HashMap<i64, (Tenant, u64)>,
}

impl Tenants {
    /// Tenant files in `dir`, at most `capacity` (at least 1) kept open,
    /// each with a read cache of `cache_entries` responses.
    pub fn new(dir: PathBuf, capacity: usize, cache_entries: usize) -> Tenants {
        Tenants {
            inner: Arc::new(Inner {
                dir,
                capacity: capacity.max(1),
                cache_entries,
                open: Arc::new(AtomicUsize::new(0)),
                lru: Mutex::new(Lru::default()),
            }),
        }
    }

    /// The file of organization `org`.
    pub fn path(&self, org: i64) -> PathBuf {
        self.inner.dir.join(format!("{org}.db"))
    }

    /// How many tenant files are open now (cached or still in use by a
    /// request).
    pub fn open_files(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// Creates and migrates organization `org`'s file.
    ///
    /// # Errors
    /// [`Error::Internal`] when it cannot be created.
    pub async fn create(&self, org: i64) -> Result<Tenant, Error> {
        std::fs::create_dir_all(&self.inner.dir).map_err(Error::internal)?;
        self.open_file(org, true).await
    }

    /// Organization `org`'s handle, from the LRU or opened (and migrated)
    /// now. A missing or unreadable file is [`Error::Unavailable`]: that
    /// organization answers 503 while every other one works.
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub async fn get(&self, org: i64) -> Result<Tenant, Error> {
        {
            let mut lru = lock(&self.inner.lru);
            lru.tick += 1;
            let tick = lru.tick;
            if let Some((tenant, used)) = lru.handles.get_mut(&org) {
                *used = tick;
                return Ok(tenant.clone());
            }
        }
        self.open_file(org, false).await
    }

    /// Opens (and migrates) `org`'s file on the blocking pool, where the
    /// handles it pushes out of the LRU are closed too: closing a SQLite
    /// file (a WAL checkpoint, unlinking the `-wal`) is blocking I/O, and
    /// done on a runtime worker, or under the LRU's lock, it stalled every
    /// other organization's requests (scripts/bench-tenancy.sh: 54 req/s
    /// spread over 1,000 organizations against 14,000 on one, before).
    async fn open_file(&self, org: i64, create: bool) -> Result<Tenant, Error> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.open_blocking(org, create))
            .await
            .map_err(Error::internal)?
    }

    fn open_blocking(&self, org: i64, create: bool) -> Result<Tenant, Error> {
        let path = self.path(org);
        let db = open(&path, create).map_err(|why| {
            tracing::error!(org, file = %path.display(), %why, "tenant file unavailable");
            Error::Unavailable(format!(
                "this organization's data is unavailable ({why}); other organizations are not affected"
            ))
        })?;
        self.inner.open.fetch_add(1, Ordering::AcqRel);
        let tenant = Tenant {
            inner: Arc::new(TenantInner {
                org,
                store: Store::new(db, self.inner.cache_entries),
                mirrored: Mutex::new(HashMap::new()),
                _open: OpenGuard(self.inner.open.clone()),
            }),
        };
        // Closed after the lock is released, here on the blocking pool.
        let mut closing: Vec<Tenant> = Vec::new();
        let chosen = {
            let mut lru = lock(&self.inner.lru);
            lru.tick += 1;
            let tick = lru.tick;
            if let Some((already, used)) = lru.handles.get_mut(&org) {
                // Opened concurrently: keep the first, close this one.
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

    /// The handles open now (for housekeeping).
    pub fn open_now(&self) -> Vec<Tenant> {
        lock(&self.inner.lru)
            .handles
            .values()
            .map(|(tenant, _)| tenant.clone())
            .collect()
    }

    /// Closes organization `org`'s file (when it is deleted): later
    /// requests reopen it only if it is asked for again.
    pub fn forget(&self, org: i64) {
        let closing = lock(&self.inner.lru).handles.remove(&org);
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
    /// after trying them all.
    pub fn migrate_all(&self, orgs: &[i64]) -> Vec<(i64, String)> {
        let mut failures = Vec::new();
        for (i, &org) in orgs.iter().enumerate() {
            if let Err(why) = open(&self.path(org), false) {
                failures.push((org, why));
            }
            if (i + 1) % 100 == 0 {
                tracing::info!(done = i + 1, of = orgs.len(), "migrating tenant files");
            }
        }
        failures
    }
}

/// Migrates the tenant file at `path` (which must exist) and closes it.
///
/// # Errors
/// Why it cannot be opened or migrated, in one line.
pub fn migrate_file(path: &Path) -> Result<(), String> {
    open(path, false).map(drop)
}

/// Opens and migrates the file at `path`; unless `create`, a missing
/// file is refused rather than created empty (that would hide the loss).
fn open(path: &Path, create: bool) -> Result<Db, String> {
    if !create && !path.exists() {
        return Err(format!("its file {} is missing", path.display()));
    }
    Db::open_tenant(path).map_err(|err| err.to_string())
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
