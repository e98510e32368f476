//! Versioned schema migrations, embedded in the binary.
//!
//! rusqlite_migration tracks the applied version in SQLite's `user_version`
//! header field, so there is no version table to hand-maintain. Add a
//! migration by appending a file `migrations/NNNN_name.sql` and a line below;
//! never edit one that has shipped. Version N is the schema after the Nth
//! migration of a table; all the migrations one call runs run in one
//! transaction, so a failure leaves the file as it was.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use crate::{Error, Result};

/// One migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The version it brings the schema to (1, 2, …).
    pub version: i64,
    /// Its name (the SQL file's stem).
    pub name: String,
}

/// Which schema a SQLite file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// The shared database (`agora.db`).
    Shared,
    /// An organization's blog file (`tenants/ID.db`).
    Tenant,
}

/// The shared database's migrations, oldest first: (file stem, SQL).
const SHARED: &[(&str, &str)] = &[
    ("0001_users", include_str!("../migrations/0001_users.sql")),
    ("0002_chat", include_str!("../migrations/0002_chat.sql")),
    ("0003_away", include_str!("../migrations/0003_away.sql")),
    ("0004_jobs", include_str!("../migrations/0004_jobs.sql")),
    ("0005_blog", include_str!("../migrations/0005_blog.sql")),
    (
        "0006_metrics",
        include_str!("../migrations/0006_metrics.sql"),
    ),
    ("0007_games", include_str!("../migrations/0007_games.sql")),
    ("0008_orgs", include_str!("../migrations/0008_orgs.sql")),
    (
        "0009_org_purge",
        include_str!("../migrations/0009_org_purge.sql"),
    ),
    (
        "0010_billing",
        include_str!("../migrations/0010_billing.sql"),
    ),
    (
        "0011_ssh_keys",
        include_str!("../migrations/0011_ssh_keys.sql"),
    ),
    (
        "0012_cron_runs",
        include_str!("../migrations/0012_cron_runs.sql"),
    ),
];

/// A tenant file's schema: an organization's blog (see `orgs`). The same
/// files as the shared database's blog, in the same order, so a blog
/// query runs unchanged on either; append here every later migration that
/// touches `users` or `blog_*`. A tenant's `users` rows mirror the
/// shared accounts of the people who act in that organization (id, name,
/// bio, image; no password, no email).
const TENANT: &[(&str, &str)] = &[
    ("0001_users", include_str!("../migrations/0001_users.sql")),
    ("0005_blog", include_str!("../migrations/0005_blog.sql")),
];

fn table(kind: SchemaKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        SchemaKind::Shared => SHARED,
        SchemaKind::Tenant => TENANT,
    }
}

/// The newest version of `kind`.
pub(crate) fn latest(kind: SchemaKind) -> i64 {
    table(kind).len() as i64
}

/// The `user_version` of an up-to-date tenant file.
pub(crate) fn tenant_version() -> i64 {
    latest(SchemaKind::Tenant)
}

/// The migrations after `from` up to `to`.
pub(crate) fn between(kind: SchemaKind, from: i64, to: i64) -> Vec<Migration> {
    table(kind)
        .iter()
        .enumerate()
        .map(|(i, (name, _))| Migration {
            version: i as i64 + 1,
            name: (*name).to_owned(),
        })
        .filter(|m| m.version > from && m.version <= to)
        .collect()
}

/// The schema version of `conn` (0 for a new file).
pub(crate) fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Brings the schema to the newest version.
pub(crate) fn apply(conn: &mut Connection) -> Result<()> {
    to(conn, SchemaKind::Shared, None).map(drop)
}

/// Brings a tenant file's schema to the newest version.
pub(crate) fn apply_tenant(conn: &mut Connection) -> Result<()> {
    to(conn, SchemaKind::Tenant, None).map(drop)
}

/// Brings `conn` to version `target` (the newest when `None`), in one
/// transaction; answers the migrations that ran.
///
/// # Errors
/// [`Error::Schema`] when the file is newer than this binary knows, or
/// `target` is unknown or behind the file (migrations only go up);
/// [`Error::Migration`] when a migration fails (nothing of it stays).
pub(crate) fn to(
    conn: &mut Connection,
    kind: SchemaKind,
    target: Option<i64>,
) -> Result<Vec<Migration>> {
    let current = version(conn)?;
    let latest = latest(kind);
    if current > latest {
        return Err(Error::Schema(newer(current, latest)));
    }
    let target = target.unwrap_or(latest);
    check_target(current, target, latest)?;
    if target == current {
        return Ok(Vec::new());
    }
    let migrations = Migrations::new(table(kind).iter().map(|(_, sql)| M::up(sql)).collect());
    migrations
        .to_version(conn, target as usize)
        .map_err(|err| failed(kind, current, err))?;
    Ok(between(kind, current, target))
}

/// A failed migration on one line: which, why, and that nothing changed.
fn failed(kind: SchemaKind, current: i64, err: rusqlite_migration::Error) -> Error {
    let rusqlite_migration::Error::RusqliteError { query, err } = err else {
        return Error::Migration(err);
    };
    let name = table(kind)
        .iter()
        .find(|(_, sql)| *sql == query)
        .map_or("a migration", |(name, _)| name);
    let why = match &err {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    };
    Error::Schema(format!(
        "migration {name} failed: {why}; nothing was changed (still at version {current})"
    ))
}

/// Why a schema at `current` cannot be used by a binary that knows
/// `latest`.
pub(crate) fn newer(current: i64, latest: i64) -> String {
    format!(
        "schema version {current} is newer than this agora's {latest} (a newer agora \
         migrated it): run that agora, or restore a backup taken before the upgrade"
    )
}

/// Whether `target` is a version to migrate to from `current`.
pub(crate) fn check_target(current: i64, target: i64, latest: i64) -> Result<()> {
    if !(0..=latest).contains(&target) {
        return Err(Error::Schema(format!(
            "there is no schema version {target}: this agora's are 0 to {latest}"
        )));
    }
    if target < current {
        return Err(Error::Schema(format!(
            "the schema is at version {current}, past {target}: migrations only go \
             forward (restore a backup taken before to go back)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        for kind in [SchemaKind::Shared, SchemaKind::Tenant] {
            let m = Migrations::new(table(kind).iter().map(|(_, sql)| M::up(sql)).collect());
            assert!(m.validate().is_ok());
        }
    }

    #[test]
    fn files_are_numbered_in_order() {
        for (i, (name, _)) in SHARED.iter().enumerate() {
            assert_eq!(name[..4].parse::<usize>().unwrap(), i + 1, "{name}");
        }
    }

    /// The table the last migration makes, injected ahead of it, fails
    /// that migration: the one before it, run in the same call, is
    /// undone too, and the version stays.
    #[test]
    fn a_failed_migration_leaves_the_file_as_it_was() {
        let mut conn = Connection::open_in_memory().unwrap();
        let latest = latest(SchemaKind::Shared);
        let ran = to(&mut conn, SchemaKind::Shared, Some(latest - 2)).unwrap();
        assert_eq!(ran.len() as i64, latest - 2);
        let last_sql = SHARED.last().unwrap().1;
        let made = created_table(last_sql).expect("the last migration makes a table");
        let before_last = created_table(SHARED[SHARED.len() - 2].1).unwrap();
        conn.execute_batch(&format!("CREATE TABLE {made} (x)"))
            .unwrap();
        let err = to(&mut conn, SchemaKind::Shared, None).unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains(&format!("{} failed", SHARED.last().unwrap().0)),
            "{err}"
        );
        assert!(
            err.contains(&format!("still at version {}", latest - 2)),
            "{err}"
        );
        assert_eq!(version(&conn).unwrap(), latest - 2);
        let exists: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = ?1",
                [&before_last],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(exists, 0, "{before_last} was rolled back");
        conn.execute_batch(&format!("DROP TABLE {made}")).unwrap();
        assert_eq!(to(&mut conn, SchemaKind::Shared, None).unwrap().len(), 2);
        assert_eq!(version(&conn).unwrap(), latest);
    }

    #[test]
    fn newer_unknown_and_backward_targets_are_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        let latest = latest(SchemaKind::Shared);
        let err = to(&mut conn, SchemaKind::Shared, Some(latest + 1)).unwrap_err();
        assert!(err.to_string().contains("no schema version"), "{err}");
        to(&mut conn, SchemaKind::Shared, None).unwrap();
        let err = to(&mut conn, SchemaKind::Shared, Some(1)).unwrap_err();
        assert!(err.to_string().contains("only go forward"), "{err}");
        conn.pragma_update(None, "user_version", latest + 3)
            .unwrap();
        let err = to(&mut conn, SchemaKind::Shared, None).unwrap_err();
        assert!(err.to_string().contains("newer than this agora's"), "{err}");
    }

    fn created_table(sql: &str) -> Option<String> {
        let at = sql.find("CREATE TABLE")? + "CREATE TABLE".len();
        let rest = sql[at..].trim_start();
        let rest = rest
            .strip_prefix("IF NOT EXISTS")
            .unwrap_or(rest)
            .trim_start();
        Some(
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect(),
        )
    }
}
