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
    M::up(include_str!("../migrations/0008_orgs.sql")),
    M::up(include_str!("../migrations/0009_org_purge.sql")),
    M::up(include_str!("../migrations/0010_billing.sql")),
    M::up(include_str!("../migrations/0011_ssh_keys.sql")),
    M::up(include_str!("../migrations/0012_cron_runs.sql")),
];

/// A tenant file's schema: an organization's blog (see `orgs`). The same
/// files as the shared database's blog, in the same order, so a blog
/// query runs unchanged on either; append here every later migration that
/// touches `users` or `blog_*`. A tenant's `users` rows mirror the
/// shared accounts of the people who act in that organization (id, name,
/// bio, image; no password, no email).
const TENANT_MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../migrations/0001_users.sql")),
    M::up(include_str!("../migrations/0005_blog.sql")),
];

/// The `user_version` of an up-to-date tenant file.
pub(crate) fn tenant_version() -> i64 {
    TENANT_MIGRATIONS.len() as i64
}

/// Brings the schema to the newest version.
pub(crate) fn apply(conn: &mut Connection) -> crate::Result<()> {
    Migrations::from_slice(MIGRATIONS).to_latest(conn)?;
    Ok(())
}

/// Brings a tenant file's schema to the newest version.
pub(crate) fn apply_tenant(conn: &mut Connection) -> crate::Result<()> {
    Migrations::from_slice(TENANT_MIGRATIONS).to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
        assert!(Migrations::from_slice(TENANT_MIGRATIONS).validate().is_ok());
    }
}
