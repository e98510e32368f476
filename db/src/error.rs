//! The store's error type.

use std::path::PathBuf;

/// What can go wrong talking to SQLite.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database file could not be opened.
    #[error("cannot open database {}: {err}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        err: rusqlite::Error,
    },
    /// Bringing the schema up to date failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A UNIQUE constraint refused the write; the string names what clashed.
    #[error("{0} already exists")]
    Conflict(String),
    /// Any other SQLite error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl Error {
    /// Whether SQLite answered SQLITE_BUSY or SQLITE_LOCKED ("database is
    /// locked"): transient, worth trying again once the lock is gone.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                )
        )
    }

    /// Whether SQLite refused the write because of a UNIQUE or PRIMARY KEY
    /// constraint.
    pub fn is_unique_violation(err: &rusqlite::Error) -> bool {
        matches!(
            err,
            rusqlite::Error::SqliteFailure(e, _)
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    }
}
