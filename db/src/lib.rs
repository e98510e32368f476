//! agora's storage: one SQLite file, opened in WAL mode, with versioned
//! migrations embedded in the binary; or, for a fleet of daemons, a shared
//! PostgreSQL database ([`pg`], [`Storage`]) for the repositories
//! ported to it so far (docs/FLEET.md).
//!
//! The API is synchronous on purpose: SQLite calls block, so the daemon runs
//! them off its async runtime (`spawn_blocking`). [`Db`] owns one writer
//! connection and a few reader connections; WAL lets readers proceed while
//! the writer writes. Each service gets a typed repository over a
//! `&Connection` (e.g. [`users::Users`]) so SQL stays in this crate.
//!
//! Durability: `synchronous = NORMAL` in WAL mode survives a crash of the
//! process (`kill -9`) with every committed transaction intact; only an OS
//! crash or power loss can lose the last transactions. See
//! docs/ARCHITECTURE.md for why that is the right trade for agora.
#![warn(missing_docs)]

pub mod billing;
pub mod blog;
pub mod chat;
mod error;
pub mod games;
pub mod jobs;
pub mod metrics;
mod migrations;
pub mod orgs;
pub mod pg;
pub mod schema;
pub mod ssh_keys;
mod storage;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use error::Error;
pub use pg::Pg;
use rusqlite::config::DbConfig;
pub use rusqlite::{Connection, OpenFlags, TransactionBehavior, backup};
pub use storage::{Access, BlogDb, DatabaseUrl, Storage};

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How many read-only connections to open next to the writer.
const READERS: usize = 4;

/// Likewise for a tenant file: none, reads share the writer. A daemon
/// holds hundreds of tenant files open and opens one on every cache miss:
/// each extra connection costs two file descriptors (the file and its
/// WAL) and, on a miss, a second open and a second parse of the schema
/// (about half a miss's cost, docs/BENCHMARKS.md "Organizations"); one
/// organization's reads and writes are short enough to take turns.
const TENANT_READERS: usize = 0;

/// The schema version of a tenant file brought up to date (SQLite's
/// `user_version`, which the migrations set).
pub fn tenant_schema_version() -> i64 {
    migrations::tenant_version()
}

/// How [`Db::open_tenant`] treats the file's schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// Check the schema and migrate it when it is behind (creating the
    /// tables of a new file), and make sure the file is in WAL mode.
    Migrate,
    /// The file was migrated by this process already (at start-up or
    /// when it was made): read only its `user_version` (which also proves
    /// it is still a database) and refuse it if it is not the expected
    /// one, rather than run the migration check again.
    Migrated,
}

/// A handle to the database. Cheap to clone; share it freely.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: Option<PathBuf>,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl Db {
    /// Opens (creating if needed) the database file at `path` and brings its
    /// schema up to date.
    ///
    /// # Errors
    /// When the file cannot be opened or a migration fails.
    pub fn open(path: &Path) -> Result<Db> {
        Db::open_with(path, migrations::apply, READERS)
    }

    /// Opens (creating if needed) an organization's blog file at `path`
    /// and brings its schema (the blog's tables and the `users` mirror)
    /// up to date. A file that is not a database, or whose migration
    /// fails, is an error naming the file.
    ///
    /// # Errors
    /// When the file cannot be opened or a migration fails.
    ///
    /// A tenant connection does not checkpoint on close
    /// (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`), so closing one leaves its
    /// `-wal` and `-shm` in place for the next open: closing and reopening
    /// is what a bounded cache of handles does all day, and a checkpoint,
    /// an unlink and a re-creation of both files on each turn was most of
    /// a miss's cost. Whoever closes a handle that wrote checkpoints it
    /// first ([`Db::checkpoint_passive`]); SQLite's auto-checkpoint keeps
    /// the WAL short meanwhile.
    ///
    /// # Errors
    /// When the file cannot be opened or a migration fails; with
    /// [`Schema::Migrated`], when its version is not the expected one.
    pub fn open_tenant(path: &Path, schema: Schema) -> Result<Db> {
        match schema {
            Schema::Migrate => Db::open_with(path, migrations::apply_tenant, TENANT_READERS),
            Schema::Migrated => Db::open_migrated_tenant(path),
        }
    }

    fn open_migrated_tenant(path: &Path) -> Result<Db> {
        let at = |err: rusqlite::Error| Error::Open {
            path: path.to_path_buf(),
            err,
        };
        let writer = Connection::open(path).map_err(at)?;
        configure(&writer)?;
        writer
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(at)?;
        let version: i64 = writer
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(at)?;
        if version != migrations::tenant_version() {
            return Err(Error::Open {
                path: path.to_path_buf(),
                err: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                    Some(format!(
                        "schema version {version}, expected {}",
                        migrations::tenant_version()
                    )),
                ),
            });
        }
        Ok(Db {
            inner: Arc::new(Inner {
                path: Some(path.to_path_buf()),
                writer: Mutex::new(writer),
                readers: Vec::new(),
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    fn open_with(
        path: &Path,
        migrate: fn(&mut Connection) -> Result<()>,
        readers: usize,
    ) -> Result<Db> {
        let mut writer = Connection::open(path).map_err(|err| Error::Open {
            path: path.to_path_buf(),
            err,
        })?;
        let at = |err: Error| match err {
            Error::Sqlite(err) => Error::Open {
                path: path.to_path_buf(),
                err,
            },
            Error::Schema(why) => Error::Schema(format!("{}: {why}", path.display())),
            other => other,
        };
        configure(&writer).map_err(at)?;
        if readers == TENANT_READERS {
            writer
                .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
                .map_err(|e| at(e.into()))?;
        }
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| at(e.into()))?;
        migrate(&mut writer).map_err(at)?;
        if readers == TENANT_READERS {
            // What the migration wrote goes into the file itself (a
            // tenant connection does not checkpoint on close): the file
            // alone is whole, and a later damage to it is not hidden by
            // a WAL that still holds its first pages.
            writer
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| at(e.into()))?;
        }
        let readers = (0..readers)
            .map(|_| {
                let conn = Connection::open(path)?;
                configure(&conn)?;
                conn.pragma_update(None, "query_only", true)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Db {
            inner: Arc::new(Inner {
                path: Some(path.to_path_buf()),
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    /// A private in-memory database (for tests): one connection serves both
    /// reads and writes.
    ///
    /// # Errors
    /// When a migration fails.
    pub fn open_in_memory() -> Result<Db> {
        Db::in_memory_with(migrations::apply)
    }

    /// A private in-memory tenant database (for tests).
    ///
    /// # Errors
    /// When a migration fails.
    pub fn open_tenant_in_memory() -> Result<Db> {
        Db::in_memory_with(migrations::apply_tenant)
    }

    fn in_memory_with(migrate: fn(&mut Connection) -> Result<()>) -> Result<Db> {
        let mut conn = Connection::open_in_memory()?;
        configure(&conn)?;
        migrate(&mut conn)?;
        Ok(Db {
            inner: Arc::new(Inner {
                path: None,
                writer: Mutex::new(conn),
                readers: Vec::new(),
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Runs `f` with the writer connection. Writers are serialised; keep
    /// the closure short and wrap multi-statement work in a transaction.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        f(&mut lock(&self.inner.writer))
    }

    /// Runs `f` with a read-only connection.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let readers = &self.inner.readers;
        if readers.is_empty() {
            return f(&lock(&self.inner.writer));
        }
        // Round-robin; a reader busy with a long query only delays the
        // callers that land on it, not everyone.
        let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..readers.len() {
            if let Ok(conn) = readers[(start + i) % readers.len()].try_lock() {
                return f(&conn);
            }
        }
        f(&lock(&readers[start % readers.len()]))
    }

    /// Copies what it can of the write-ahead log into the main file
    /// without waiting for anyone (`wal_checkpoint(PASSIVE)`); the WAL
    /// file is kept, to be reused from its start.
    ///
    /// # Errors
    /// When SQLite reports an error.
    pub fn checkpoint_passive(&self) -> Result<()> {
        self.write(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            Ok(())
        })
    }

    /// Copies the write-ahead log into the main file and truncates it, so a
    /// cleanly stopped daemon leaves a single self-contained file.
    ///
    /// # Errors
    /// When SQLite reports an error.
    pub fn checkpoint(&self) -> Result<()> {
        self.write(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
    }
}

/// Settings every connection gets.
pub(crate) fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Locks a connection even if a previous holder panicked: a panic inside a
/// closure leaves no half-applied transaction (rusqlite rolls back on drop),
/// so the connection is still sound.
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Milliseconds since the Unix epoch, the unit every timestamp column uses.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Defines `sqlite::NAME` and `postgres::NAME` for each function `NAME`
/// of the invoking module's suite (the apalis/fang pattern): each takes a
/// fresh, migrated [`Storage`] of that backend.
#[cfg(test)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(&crate::Storage::Sqlite(crate::Db::open_in_memory().unwrap()));
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                let url = crate::pg::testing::database();
                super::$name(&crate::Storage::Postgres(crate::Pg::connect(&url).unwrap()));
            })*
        }
    };
}
#[cfg(test)]
pub(crate) use on_both_backends;

#[cfg(test)]
mod chat_suite;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_database_is_wal_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agora.db");
        {
            let db = Db::open(&path).unwrap();
            let mode: String = db
                .read(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
                .unwrap();
            assert_eq!(mode, "wal");
            db.write(|c| users::Users::new(c).create("alice", "hash"))
                .unwrap();
            db.checkpoint().unwrap();
        }
        let db = Db::open(&path).unwrap();
        let found = db
            .read(|c| users::Users::new(c).find_by_name("alice"))
            .unwrap();
        assert_eq!(found.unwrap().name, "alice");
    }

    #[test]
    fn readers_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("agora.db")).unwrap();
        let err = db
            .read(|c| Ok(c.execute("DELETE FROM users", [])?))
            .unwrap_err();
        assert!(
            err.to_string().contains("readonly") || err.to_string().contains("read"),
            "{err}"
        );
    }
}
