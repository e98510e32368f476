//! Versioned schema migrations, embedded in the binary.
//!
//! rusqlite_migration tracks the applied version in SQLite's `user_version`
//! header field, so there is no version table to hand-maintain. Add a
//! migration by appending a file `migrations/NNNN_name.sql` and a line below;
//! never edit one that has shipped.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../migrations/0001_users.sql")),
    M::up(include_str!("../migrations/0002_chat.sql")),
    M::up(include_str!("../migrations/0003_away.sql")),
    M::up(include_str!("../migrations/0004_jobs.sql")),
    M::up(include_str!("../migrations/0005_blog.sql")),
    M::up(include_str!("../migrations/0006_metrics.sql")),
    M::up(include_str!("../migrations/0007_games.sql")),
];

/// Brings the schema to the newest version.
pub(crate) fn apply(conn: &mut Connection) -> crate::Result<()> {
    Migrations::from_slice(MIGRATIONS).to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }
}
