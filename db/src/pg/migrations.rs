//! PostgreSQL's versioned schema migrations, embedded in the binary.
//!
//! Versioned like SQLite's (`db/migrations/NNNN_name.sql`): the files are
//! `db/migrations/postgres/NNNN_name.sql`, numbered on their own (a
//! service's tables arrive on PostgreSQL when it is ported). The applied
//! versions are rows of `agora_schema`. Every daemon of a fleet runs
//! [`apply`] at start-up: it takes a transaction-scoped advisory lock
//! first, so when three daemons start at once one migrates and the others
//! wait, then find nothing left to do. DDL is transactional in
//! PostgreSQL, so a failed migration leaves the schema as it was. Append
//! new files to [`MIGRATIONS`]; never edit one that has shipped.

use postgres::Client;

use crate::Result;
use crate::migrations::Migration;

/// Every migration, oldest first: (version, name, SQL).
pub(crate) const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "users",
        include_str!("../../migrations/postgres/0001_users.sql"),
    ),
    (
        2,
        "chat",
        include_str!("../../migrations/postgres/0002_chat.sql"),
    ),
    (
        3,
        "fleet",
        include_str!("../../migrations/postgres/0003_fleet.sql"),
    ),
    (
        4,
        "jobs",
        include_str!("../../migrations/postgres/0004_jobs.sql"),
    ),
    (
        5,
        "tenants",
        include_str!("../../migrations/postgres/0005_tenants.sql"),
    ),
    (
        6,
        "games",
        include_str!("../../migrations/postgres/0006_games.sql"),
    ),
    (
        7,
        "blog_accounts",
        include_str!("../../migrations/postgres/0007_blog_accounts.sql"),
    ),
    (
        8,
        "billing",
        include_str!("../../migrations/postgres/0008_billing.sql"),
    ),
    (
        9,
        "ssh_keys",
        include_str!("../../migrations/postgres/0009_ssh_keys.sql"),
    ),
    (
        10,
        "blog_generations",
        include_str!("../../migrations/postgres/0010_blog_generations.sql"),
    ),
    (
        11,
        "game_relay",
        include_str!("../../migrations/postgres/0011_game_relay.sql"),
    ),
    (
        12,
        "game_pool",
        include_str!("../../migrations/postgres/0012_game_pool.sql"),
    ),
];

/// The advisory lock's key: any constant shared by every daemon, here
/// "agora" in ASCII.
const LOCK_KEY: i64 = 0x0061_676f_7261;

/// The newest version.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| i64::from(m.0))
}

/// The migrations after `from` up to `to`.
pub(crate) fn between(from: i64, to: i64) -> Vec<Migration> {
    MIGRATIONS
        .iter()
        .filter(|m| i64::from(m.0) > from && i64::from(m.0) <= to)
        .map(|m| Migration {
            version: i64::from(m.0),
            name: m.1.to_owned(),
        })
        .collect()
}

/// The database's version, read without changing anything (0 before the
/// first migration).
pub(crate) fn current(client: &mut Client) -> Result<i64> {
    let table: Option<String> = client
        .query_one("SELECT to_regclass('agora_schema')::text", &[])?
        .get(0);
    if table.is_none() {
        return Ok(0);
    }
    let version: i32 = client
        .query_one("SELECT coalesce(max(version), 0) FROM agora_schema", &[])?
        .get(0);
    Ok(i64::from(version))
}

/// Brings the schema to the newest version; returns how many migrations
/// ran (0 when another daemon got there first).
///
/// # Errors
/// When a migration fails (nothing of it stays), or the database knows a
/// version newer than this binary's (a newer daemon migrated it).
pub(crate) fn apply(client: &mut Client) -> Result<usize> {
    apply_to(client, None).map(|ran| ran.len())
}

/// Brings the schema to `target` (the newest when `None`) in one
/// transaction, under the advisory lock; answers the migrations that ran.
///
/// # Errors
/// As [`apply`]; a target behind the database or unknown.
pub(crate) fn apply_to(client: &mut Client, target: Option<i64>) -> Result<Vec<Migration>> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS agora_schema (
             version       INTEGER PRIMARY KEY,
             name          TEXT    NOT NULL,
             applied_at_ms BIGINT  NOT NULL
         )",
    )?;
    let current: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM agora_schema", &[])?
        .get(0);
    let current = i64::from(current);
    if current > latest() {
        return Err(crate::Error::Schema(format!(
            "PostgreSQL: {}",
            crate::migrations::newer(current, latest())
        )));
    }
    let target = target.unwrap_or(latest());
    crate::migrations::check_target(current, target, latest())?;
    let mut ran = Vec::new();
    for (version, name, sql) in MIGRATIONS
        .iter()
        .filter(|m| i64::from(m.0) > current && i64::from(m.0) <= target)
    {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO agora_schema (version, name, applied_at_ms) VALUES ($1, $2, $3)",
            &[version, name, &crate::now_ms()],
        )?;
        ran.push(Migration {
            version: i64::from(*version),
            name: (*name).to_owned(),
        });
    }
    tx.commit()?;
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::testing;

    /// Versions are 1, 2, 3 … with no gap: `apply` runs only versions
    /// above the newest recorded, so a gap filled later would never run
    /// on a database migrated in between.
    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.0 as usize, i + 1, "{}", m.1);
        }
    }

    #[test]
    fn three_daemons_starting_at_once_migrate_once() {
        let url = testing::database();
        let runs: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                        apply(&mut client).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut sorted = runs.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 0, MIGRATIONS.len()], "{runs:?}");
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let versions: Vec<i32> = client
            .query("SELECT version FROM agora_schema ORDER BY version", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
        assert_eq!(versions, all);
        assert_eq!(apply(&mut client).unwrap(), 0);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let url = testing::database();
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        apply(&mut client).unwrap();
        client
            .execute(
                "INSERT INTO agora_schema VALUES ($1, 'from the future', 0)",
                &[&(latest() as i32 + 1)],
            )
            .unwrap();
        let err = apply(&mut client).unwrap_err().to_string();
        assert!(err.contains("newer than this agora's"), "{err}");
    }
}
