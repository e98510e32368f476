//! `agora migrate`: brings every database of a data directory to the
//! newest schema while no daemon runs — the shared database
//! (`agora.db`) and every organization's blog file
//! (`tenants/<id>.db`) that should exist (live organizations, and
//! deleted ones not purged yet). The daemon does the same at start-up;
//! this is the way to do it ahead of time, and to see which file fails.
//!
//! It takes the data directory's lock exclusively ([`crate::datalock`]),
//! so it refuses to run under a daemon. A file that fails is reported
//! with its reason and the others are still migrated.

use std::path::{Path, PathBuf};

use agora_db::Db;
use agora_db::orgs::Orgs as Repo;

use crate::datalock;

/// One file's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The file.
    pub file: PathBuf,
    /// The organization whose blog it is (its slug); `None` for the
    /// shared database, or a tenant file found on disk when the shared
    /// database could not say whose it is.
    pub org: Option<String>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// Migrates the databases of `data_dir`: `total` is told how many files
/// there are once they are known, `each` hears every file's outcome as
/// it is done (the shared database first). Answers every outcome.
///
/// A directory without a database gets a new one, as the daemon would
/// make at start-up.
///
/// # Errors
/// When a daemon runs on `data_dir` (its lock is held).
pub fn run(
    data_dir: &Path,
    total: impl FnOnce(usize),
    mut each: impl FnMut(&Outcome),
) -> anyhow::Result<Vec<Outcome>> {
    let shared_path = data_dir.join("agora.db");
    let _lock = datalock::exclusive(data_dir)?;
    let tenants_dir = data_dir.join("tenants");
    let (shared, tenants) =
        match Db::open(&shared_path).and_then(|db| db.read(|c| Repo::new(c).with_files())) {
            Ok(orgs) => (
                Outcome {
                    file: shared_path,
                    org: None,
                    error: None,
                },
                orgs.into_iter()
                    .map(|o| (tenants_dir.join(format!("{}.db", o.id)), Some(o.slug)))
                    .collect::<Vec<_>>(),
            ),
            Err(err) => (
                Outcome {
                    file: shared_path,
                    org: None,
                    error: Some(err.to_string()),
                },
                // Whose files they are is unknown: migrate what is there.
                on_disk(&tenants_dir),
            ),
        };
    total(1 + tenants.len());
    each(&shared);
    let mut outcomes = vec![shared];
    for (file, org) in tenants {
        let error = crate::orgs::tenants::migrate_file(&file).err();
        let outcome = Outcome { file, org, error };
        each(&outcome);
        outcomes.push(outcome);
    }
    Ok(outcomes)
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

    #[test]
    fn every_file_is_tried_and_a_daemon_is_not_run_under() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh");
        let outcomes = run(&fresh, |_| {}, |_| {}).unwrap();
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
        let outcomes = run(dir.path(), |n| told = n, |o| seen.push(o.clone())).unwrap();
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
        let err = run(dir.path(), |_| {}, |_| {}).unwrap_err();
        assert!(err.to_string().contains("stop it first"), "{err}");
        drop(lock);
    }
}
