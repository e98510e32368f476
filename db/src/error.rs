//! The store's error type (SQLite and PostgreSQL).

use std::path::PathBuf;

/// What can go wrong talking to the database.
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
    /// PostgreSQL cannot be used: a malformed URL, an unreachable server,
    /// refused credentials. One line: where, and the driver's reason.
    #[error("cannot use PostgreSQL at {place}: {reason}")]
    Connect {
        /// `host:port/dbname`, or the URL with its password hidden.
        place: String,
        /// Why, on one line.
        reason: String,
    },
    /// The schema is not one this binary can use.
    #[error("{0}")]
    Schema(String),
    /// Any other PostgreSQL error. Not a `source`: [`crate::pg::reason`]
    /// already says all of it, the server's message included, on one line.
    #[error("database error: {}", crate::pg::reason(.0))]
    Postgres(postgres::Error),
}

impl From<postgres::Error> for Error {
    fn from(err: postgres::Error) -> Error {
        Error::Postgres(err)
    }
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

    /// Whether PostgreSQL rolled the transaction back to resolve a
    /// conflict with another one (SQLSTATE 40001 serialization failure,
    /// 40P01 deadlock): nothing of it stayed, and running it again is the
    /// documented answer.
    pub fn is_pg_conflict(&self) -> bool {
        matches!(self, Error::Postgres(err) if err.code().is_some_and(|c| {
            *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                || *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
        }))
    }

    /// Whether the database could not be reached (PostgreSQL down,
    /// restarting, or the connection lost): transient, worth a retry once
    /// it is back, unlike an error in what was asked.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Connect { .. } => true,
            Error::Postgres(err) => {
                err.is_closed()
                    || err.code().is_some_and(|c| {
                        let code = c.code();
                        // 08: connection exception; 57P: the server is
                        // shutting down or starting.
                        code.starts_with("08") || code.starts_with("57P")
                    })
                    || (err.as_db_error().is_none()
                        && std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>()))
            }
            _ => false,
        }
    }

    /// Whether PostgreSQL refused the write because of a UNIQUE or
    /// PRIMARY KEY constraint (SQLSTATE 23505).
    pub fn is_pg_unique_violation(err: &postgres::Error) -> bool {
        err.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
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
