//! `agora migrate`: the schema of every database of a deployment, seen
//! and advanced on purpose — the shared database (`agora.db`, or a
//! fleet's PostgreSQL) and every organization's blog file
//! (`tenants/<id>.db`) that should exist (live organizations, and deleted
//! ones not purged yet). The daemon migrates to the newest at start-up on
//! its own; this is the way to do it ahead of time, one version at a time
//! (`--to`), as a dry run, and to see which file fails.
//!
//! Migrating takes the data directory's lock exclusively
//! ([`crate::datalock`]), so it refuses to run under a daemon; `status`
//! and dry runs only read. A file that fails is reported with its reason
//! and the others are still migrated; each file's migrations run in one
//! transaction, so a failed one is left as it was.

use std::path::{Path, PathBuf};

use agora_db::Connection;
use agora_db::orgs::Orgs as Repo;
use agora_db::schema::{self, Migration, SchemaKind, SchemaStatus};

use crate::datalock;

pub use agora_db::pg::redact;
pub use agora_db::schema::Migration as Step;

/// What to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plan {
    /// The shared schema's version to reach (the newest when `None`).
    /// Organizations' files have their own short history: with a target
    /// they are left alone.
    pub target: Option<i64>,
    /// Say what would run; change nothing.
    pub dry_run: bool,
}

/// One database's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The file, or PostgreSQL's `host:port/dbname`.
    pub database: String,
    /// The organization whose blog it is (its slug); `None` for the
    /// shared database, or a tenant file found on disk when the shared
    /// database could not say whose it is.
    pub org: Option<String>,
    /// Its version before.
    pub from: Option<i64>,
    /// The migrations that ran (with a dry run: would run).
    pub applied: Vec<Migration>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl Outcome {
    fn failed(database: String, org: Option<String>, error: String) -> Outcome {
        Outcome {
            database,
            org,
            from: None,
            applied: Vec::new(),
            error: Some(error),
        }
    }

    /// Its version after (with a dry run: would be).
    pub fn to(&self) -> Option<i64> {
        self.applied.last().map(|m| m.version).or(self.from)
    }
}

/// One database's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    /// The file, or PostgreSQL's `host:port/dbname`.
    pub database: String,
    /// As [`Outcome::org`].
    pub org: Option<String>,
    /// Where its schema stands, or why it cannot be read.
    pub status: Result<SchemaStatus, String>,
}

/// Migrates the databases of `data_dir` per `plan`: `total` is told how
/// many files there are once they are known, `each` hears every file's
/// outcome as it is done (the shared database first). Answers every
/// outcome.
///
/// A directory without a database gets a new one, as the daemon would
/// make at start-up (not with a dry run).
///
/// # Errors
/// When a daemon runs on `data_dir` (its lock is held; not asked for a
/// dry run).
pub fn run(
    data_dir: &Path,
    plan: Plan,
    total: impl FnOnce(usize),
    mut each: impl FnMut(&Outcome),
) -> anyhow::Result<Vec<Outcome>> {
    let shared_path = data_dir.join("agora.db");
    let _lock = if plan.dry_run {
        None
    } else {
        Some(datalock::exclusive(data_dir)?)
    };
    let shared = sqlite(&shared_path, SchemaKind::Shared, None, plan);
    let tenants = if plan.target.is_some() {
        Vec::new()
    } else {
        tenant_files(data_dir)
    };
    total(1 + tenants.len());
    each(&shared);
    let mut outcomes = vec![shared];
    for (file, org) in tenants {
        let outcome = if !file.exists() {
            Outcome::failed(
                display(&file),
                org,
                format!("its file {} is missing", file.display()),
            )
        } else {
            sqlite(&file, SchemaKind::Tenant, org, plan)
        };
        each(&outcome);
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Migrates the PostgreSQL database at `url` per `plan`.
pub fn run_pg(url: &str, plan: Plan) -> Outcome {
    let database = agora_db::pg::redact(url);
    let status = match schema::pg_status(url) {
        Ok(status) => status,
        Err(err) => return Outcome::failed(database, None, err.to_string()),
    };
    let result = if plan.dry_run {
        would_run(&status, plan.target)
    } else {
        schema::pg_migrate(url, plan.target).map_err(|e| e.to_string())
    };
    outcome(database, None, status.version, result)
}

/// The schema of every database of `data_dir`, read only.
pub fn status(data_dir: &Path) -> Vec<FileStatus> {
    let shared_path = data_dir.join("agora.db");
    let mut files = vec![FileStatus {
        database: display(&shared_path),
        org: None,
        status: schema::sqlite_status(&shared_path, SchemaKind::Shared).map_err(|e| e.to_string()),
    }];
    for (file, org) in tenant_files(data_dir) {
        let status = if file.exists() {
            schema::sqlite_status(&file, SchemaKind::Tenant).map_err(|e| e.to_string())
        } else {
            Err(format!("its file {} is missing", file.display()))
        };
        files.push(FileStatus {
            database: display(&file),
            org,
            status,
        });
    }
    files
}

/// The schema of the PostgreSQL database at `url`.
pub fn status_pg(url: &str) -> FileStatus {
    FileStatus {
        database: agora_db::pg::redact(url),
        org: None,
        status: schema::pg_status(url).map_err(|e| e.to_string()),
    }
}

fn sqlite(path: &Path, kind: SchemaKind, org: Option<String>, plan: Plan) -> Outcome {
    let status = match schema::sqlite_status(path, kind) {
        Ok(status) => status,
        Err(err) => return Outcome::failed(display(path), org, err.to_string()),
    };
    let result = if plan.dry_run {
        would_run(&status, plan.target)
    } else {
        schema::sqlite_migrate(path, kind, plan.target).map_err(|e| e.to_string())
    };
    outcome(display(path), org, status.version, result)
}

/// What `up` would run from `status`, or why it would refuse.
fn would_run(status: &SchemaStatus, target: Option<i64>) -> Result<Vec<Migration>, String> {
    if status.is_newer() {
        return Err(format!(
            "schema version {} is newer than this agora's {}",
            status.version, status.latest
        ));
    }
    let target = target.unwrap_or(status.latest);
    if target > status.latest || target < status.version {
        return Err(format!(
            "cannot go from version {} to {target} (this agora's newest is {}; migrations only go forward)",
            status.version, status.latest
        ));
    }
    Ok(status
        .pending
        .iter()
        .filter(|m| m.version <= target)
        .cloned()
        .collect())
}

fn outcome(
    database: String,
    org: Option<String>,
    from: i64,
    result: Result<Vec<Migration>, String>,
) -> Outcome {
    // The database's errors name it; the outcome names it once.
    let result = result.map_err(|e| {
        e.strip_prefix(&format!("{database}: "))
            .map_or(e.clone(), str::to_owned)
    });
    match result {
        Ok(applied) => Outcome {
            database,
            org,
            from: Some(from),
            applied,
            error: None,
        },
        Err(error) => Outcome {
            from: Some(from),
            ..Outcome::failed(database, org, error)
        },
    }
}

/// The organizations' files that should exist, by what the shared
/// database says (read only); when it cannot say, the files on disk.
pub(crate) fn tenant_files(data_dir: &Path) -> Vec<(PathBuf, Option<String>)> {
    let tenants_dir = data_dir.join("tenants");
    let shared = data_dir.join("agora.db");
    let orgs = Connection::open_with_flags(&shared, agora_db::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(agora_db::Error::from)
        .and_then(|conn| Repo::new(&conn).with_files());
    match orgs {
        Ok(orgs) => orgs
            .into_iter()
            .map(|o| (tenants_dir.join(format!("{}.db", o.id)), Some(o.slug)))
            .collect(),
        // Whose files they are is unknown: what is there.
        Err(_) => on_disk(&tenants_dir),
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// The `*.db` files in `dir`, by name.
fn on_disk(dir: &Path) -> Vec<(PathBuf, Option<String>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .collect();
    files.sort();
    files.into_iter().map(|p| (p, None)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_db::Db;

    #[test]
    fn every_file_is_tried_and_a_daemon_is_not_run_under() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh");
        let outcomes = run(&fresh, Plan::default(), |_| {}, |_| {}).unwrap();
        assert_eq!(outcomes.len(), 1, "a new directory: its database made");
        assert!(outcomes[0].error.is_none() && fresh.join("agora.db").is_file());
        let db = Db::open(&dir.path().join("agora.db")).unwrap();
        let ids = db
            .write(|c| {
                let owner = agora_db::users::Users::new(c).create("alice", "h")?.id;
                let repo = Repo::new(c);
                let mut ids = Vec::new();
                for slug in ["acme", "globex", "initech"] {
                    ids.push(repo.create(slug, slug, owner)?.unwrap().id);
                }
                Ok(ids)
            })
            .unwrap();
        drop(db);
        let tenants = dir.path().join("tenants");
        std::fs::create_dir_all(&tenants).unwrap();
        for id in &ids {
            drop(
                Db::open_tenant(&tenants.join(format!("{id}.db")), agora_db::Schema::Migrate)
                    .unwrap(),
            );
        }
        std::fs::write(tenants.join(format!("{}.db", ids[1])), vec![9u8; 4096]).unwrap();
        let mut seen = Vec::new();
        let mut told = 0;
        let outcomes = run(
            dir.path(),
            Plan::default(),
            |n| told = n,
            |o| seen.push(o.clone()),
        )
        .unwrap();
        assert_eq!(told, 4);
        assert_eq!(seen, outcomes);
        let failed: Vec<Option<&str>> = outcomes
            .iter()
            .filter(|o| o.error.is_some())
            .map(|o| o.org.as_deref())
            .collect();
        assert_eq!(failed, vec![Some("globex")]);
        assert_eq!(outcomes[0].org, None, "the shared database first");
        // Under a daemon: refused.
        let lock = datalock::daemon(dir.path()).unwrap();
        let err = run(dir.path(), Plan::default(), |_| {}, |_| {}).unwrap_err();
        assert!(err.to_string().contains("stop it first"), "{err}");
        // A dry run and the status only read: allowed under a daemon.
        let dry = Plan {
            dry_run: true,
            ..Plan::default()
        };
        let outcomes = run(dir.path(), dry, |_| {}, |_| {}).unwrap();
        assert!(outcomes[0].applied.is_empty() && outcomes[0].error.is_none());
        assert_eq!(status(dir.path()).len(), 4);
        drop(lock);
    }

    #[test]
    fn a_target_version_is_reached_step_by_step_and_a_dry_run_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let plan = |target, dry_run| Plan { target, dry_run };
        let shared = |o: &[Outcome]| o[0].clone();
        let first = shared(&run(dir.path(), plan(Some(3), false), |_| {}, |_| {}).unwrap());
        assert_eq!((first.from, first.to()), (Some(0), Some(3)));
        assert_eq!(first.applied.len(), 3);
        let [now] = status(dir.path()).try_into().unwrap();
        let now = now.status.unwrap();
        assert_eq!(now.version, 3);
        assert_eq!(now.pending.first().map(|m| m.version), Some(4));

        let dry = shared(&run(dir.path(), plan(None, true), |_| {}, |_| {}).unwrap());
        assert_eq!((dry.from, dry.to()), (Some(3), Some(now.latest)));
        assert_eq!(dry.applied, now.pending, "what would run");
        let [after] = status(dir.path()).try_into().unwrap();
        assert_eq!(
            after.status.unwrap().version,
            3,
            "the dry run changed nothing"
        );

        let back = shared(&run(dir.path(), plan(Some(2), false), |_| {}, |_| {}).unwrap());
        assert!(back.error.unwrap().contains("only go forward"));
        let up = shared(&run(dir.path(), plan(None, false), |_| {}, |_| {}).unwrap());
        assert_eq!(up.to(), Some(now.latest));
        assert_eq!(up.applied, now.pending);
        let again = shared(&run(dir.path(), plan(None, false), |_| {}, |_| {}).unwrap());
        assert!(again.applied.is_empty() && again.error.is_none());
    }
}
