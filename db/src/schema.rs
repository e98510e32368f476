//! Schema versions of the databases agora keeps, read and advanced on
//! purpose (`agora migrate status|up`): the shared SQLite file, an
//! organization's blog file, and a fleet's PostgreSQL database. The
//! daemon migrates to the newest at start-up on its own ([`crate::Db::open`],
//! [`crate::Pg::connect`]) and refuses a schema newer than it knows.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

pub use crate::migrations::{Migration, SchemaKind};
use crate::{Error, Result, migrations};

/// Where a database's schema stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Its version (0: nothing applied yet, or no file).
    pub version: i64,
    /// The newest version this binary knows.
    pub latest: i64,
    /// What `up` would run, oldest first (empty when current or newer).
    pub pending: Vec<Migration>,
}

impl SchemaStatus {
    fn new(version: i64, latest: i64, pending: Vec<Migration>) -> SchemaStatus {
        SchemaStatus {
            version,
            latest,
            pending,
        }
    }

    /// Whether a newer binary migrated it (this one must not use it).
    pub fn is_newer(&self) -> bool {
        self.version > self.latest
    }
}

/// The schema of the SQLite file at `path`, read without changing it; a
/// missing file is at version 0.
///
/// # Errors
/// When the file cannot be read as a database.
pub fn sqlite_status(path: &Path, kind: SchemaKind) -> Result<SchemaStatus> {
    let latest = migrations::latest(kind);
    if !path.exists() {
        return Ok(SchemaStatus::new(
            0,
            latest,
            migrations::between(kind, 0, latest),
        ));
    }
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|err| {
            Error::Open {
                path: path.to_path_buf(),
                err,
            }
        })?;
    let version = migrations::version(&conn).map_err(|err| at(path, err))?;
    Ok(SchemaStatus::new(
        version,
        latest,
        migrations::between(kind, version, latest),
    ))
}

/// Brings the SQLite file at `path` (created if missing) to version
/// `target`, the newest when `None`, in one transaction; answers the
/// migrations that ran.
///
/// # Errors
/// As [`crate::Db::open`]; a target behind the file or unknown.
pub fn sqlite_migrate(
    path: &Path,
    kind: SchemaKind,
    target: Option<i64>,
) -> Result<Vec<Migration>> {
    let mut conn = Connection::open(path).map_err(|err| Error::Open {
        path: path.to_path_buf(),
        err,
    })?;
    crate::configure(&conn).map_err(|err| at(path, err))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|err| at(path, err.into()))?;
    migrations::to(&mut conn, kind, target).map_err(|err| at(path, err))
}

/// The schema of the PostgreSQL database at `url`, read without
/// changing it.
///
/// # Errors
/// When the server cannot be reached or read.
pub fn pg_status(url: &str) -> Result<SchemaStatus> {
    let mut client = crate::pg::connect_plain(url)?;
    let version = crate::pg::migrations::current(&mut client)?;
    let latest = crate::pg::migrations::latest();
    Ok(SchemaStatus::new(
        version,
        latest,
        crate::pg::migrations::between(version, latest),
    ))
}

/// Brings the PostgreSQL database at `url` to version `target` (the
/// newest when `None`) in one transaction, under the lock daemons take to
/// migrate; answers the migrations that ran.
///
/// # Errors
/// As [`crate::Pg::connect`]; a target behind the database or unknown.
pub fn pg_migrate(url: &str, target: Option<i64>) -> Result<Vec<Migration>> {
    let mut client = crate::pg::connect_plain(url)?;
    crate::pg::migrations::apply_to(&mut client, target)
}

/// `err`, naming the file.
fn at(path: &Path, err: Error) -> Error {
    match err {
        Error::Sqlite(err) => Error::Open {
            path: path.to_path_buf(),
            err,
        },
        Error::Schema(why) => Error::Schema(format!("{}: {why}", path.display())),
        other => other,
    }
}
