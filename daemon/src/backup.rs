//! `agora backup` and `agora restore`: a data directory copied while its
//! daemon runs, and put back while none does (docs/DEPLOY.md, "Backups").
//!
//! A backup is a directory: each database (`agora.db`, and every
//! organization's `tenants/ID.db`) copied with SQLite's online backup API
//! in one step, so each copy is one consistent snapshot even while the
//! daemon writes (WAL readers do not block its writer, and its writes do
//! not restart the copy); the key files (`jwt.key`, the SSH host key)
//! copied as they are; and `manifest.json`, which lists every file with
//! its size and SHA-256 and each database's schema version. A restore
//! checks all of that before it replaces anything, refuses a schema newer
//! than this binary knows, and moves each file into place with a rename.
//!
//! Databases are copied one after another, so a backup is consistent per
//! file, not across files: an organization made while the backup runs may
//! be in `agora.db` without its file, which a restore reports and the
//! daemon then recreates empty. PostgreSQL is backed up with its own tools
//! ([`POSTGRES_ADVICE`]).

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use agora_db::schema::{self, SchemaKind};
use agora_db::{Connection, OpenFlags};
use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::datalock;

/// What to tell someone who asks to back up a fleet's PostgreSQL.
pub const POSTGRES_ADVICE: &str = "a fleet's PostgreSQL is backed up with PostgreSQL's own tools: \
     pg_dump --format=custom --file=agora.dump \"$AGORA_DATABASE\", restored into an empty \
     database with pg_restore --no-owner --dbname=\"$AGORA_DATABASE\" agora.dump (docs/DEPLOY.md)";

/// The manifest's name in a backup.
pub const MANIFEST: &str = "manifest.json";

/// Key files copied as they are, when present.
const KEY_FILES: &[&str] = &["jwt.key", crate::ssh::hostkey::FILE];

/// A backup's table of contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The agora version that made it.
    pub agora: String,
    /// When it was made (ms since the epoch).
    pub created_ms: u64,
    /// Every file, by its path relative to the data directory.
    pub files: Vec<Entry>,
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Relative path (`agora.db`, `tenants/3.db`, `jwt.key`).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// A database's schema version (`None` for a key file).
    pub schema: Option<i64>,
}

/// Backs up `data_dir` into `dest`, which must not exist yet (or be an
/// empty directory); `each` hears every file as it is done. The daemon
/// may be running. Answers the manifest written.
///
/// # Errors
/// When `data_dir` has no database, `dest` is not empty, or a file cannot
/// be read or written. A half-made `dest` is removed.
pub fn backup(
    data_dir: &Path,
    dest: &Path,
    mut each: impl FnMut(&Entry),
) -> anyhow::Result<Manifest> {
    let shared = data_dir.join("agora.db");
    if !shared.is_file() {
        bail!(
            "{} has no database (agora.db) to back up",
            data_dir.display()
        );
    }
    if dest.exists()
        && std::fs::read_dir(dest)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} exists and is not an empty directory: back up into a new one",
            dest.display()
        );
    }
    std::fs::create_dir_all(dest.join("tenants"))
        .with_context(|| format!("cannot make {}", dest.display()))?;
    let made = write_backup(data_dir, dest, &mut each);
    if made.is_err() {
        let _ = std::fs::remove_dir_all(dest);
    }
    made
}

fn write_backup(
    data_dir: &Path,
    dest: &Path,
    each: &mut dyn FnMut(&Entry),
) -> anyhow::Result<Manifest> {
    let mut files = Vec::new();
    let mut databases = vec![("agora.db".to_owned(), SchemaKind::Shared)];
    databases.extend(
        crate::migrate::tenant_files(data_dir)
            .into_iter()
            .filter(|(file, _)| file.is_file())
            .filter_map(|(file, _)| {
                let rel = file.strip_prefix(data_dir).ok()?;
                Some((rel.to_string_lossy().into_owned(), SchemaKind::Tenant))
            }),
    );
    for (rel, kind) in databases {
        let to = dest.join(&rel);
        copy_database(&data_dir.join(&rel), &to)?;
        let version = schema::sqlite_status(&to, kind)?.version;
        let entry = entry(&rel, &to, Some(version))?;
        each(&entry);
        files.push(entry);
    }
    for name in KEY_FILES {
        let from = data_dir.join(name);
        if !from.is_file() {
            continue;
        }
        let to = dest.join(name);
        std::fs::copy(&from, &to).with_context(|| format!("cannot copy {}", from.display()))?;
        let entry = entry(name, &to, None)?;
        each(&entry);
        files.push(entry);
    }
    let manifest = Manifest {
        agora: crate::VERSION.to_owned(),
        created_ms: crate::now_ms(),
        files,
    };
    let mut out = File::create(dest.join(MANIFEST))?;
    out.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
    out.sync_all()?;
    Ok(manifest)
}

/// One consistent copy of the database at `from`, made in one step of the
/// online backup API, then checked.
fn copy_database(from: &Path, to: &Path) -> anyhow::Result<()> {
    let src = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", from.display()))?;
    src.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut dst = Connection::open(to).with_context(|| format!("cannot make {}", to.display()))?;
    {
        use agora_db::backup::{Backup, StepResult};
        let backup = Backup::new(&src, &mut dst)?;
        // -1: every page in one step, so the copy is one snapshot (a copy
        // in several steps starts over whenever the daemon writes).
        let mut waits = 0;
        loop {
            match backup
                .step(-1)
                .with_context(|| format!("cannot copy {}", from.display()))?
            {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked if waits < 100 => {
                    waits += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                _ => bail!("cannot copy {}: the database stays locked", from.display()),
            }
        }
    }
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    let ok: String = dst.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if ok != "ok" {
        bail!("the copy of {} fails its check: {ok}", from.display());
    }
    Ok(())
}

fn entry(rel: &str, path: &Path, schema: Option<i64>) -> anyhow::Result<Entry> {
    let (bytes, sha256) = digest(path)?;
    Ok(Entry {
        path: rel.to_owned(),
        bytes,
        sha256,
        schema,
    })
}

fn digest(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((bytes, hex))
}

/// Reads and checks the backup at `src`: its manifest, every file's size
/// and checksum, and that no schema is newer than this binary's.
///
/// # Errors
/// The first problem found, naming the file.
pub fn verify(src: &Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read(src.join(MANIFEST))
        .with_context(|| format!("{} is not a backup (no {MANIFEST})", src.display()))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .with_context(|| format!("{}: {MANIFEST} cannot be read", src.display()))?;
    if !manifest.files.iter().any(|e| e.path == "agora.db") {
        bail!("{}: the backup has no agora.db", src.display());
    }
    for e in &manifest.files {
        if !safe_relative(&e.path) {
            bail!(
                "{}: {MANIFEST} names a file outside the backup: {:?}",
                src.display(),
                e.path
            );
        }
        let path = src.join(&e.path);
        let (bytes, sha256) = digest(&path)?;
        if (bytes, sha256.as_str()) != (e.bytes, e.sha256.as_str()) {
            bail!(
                "{}: its size or checksum is not the manifest's: the backup is damaged",
                path.display()
            );
        }
        if let Some(version) = e.schema {
            let kind = if e.path == "agora.db" {
                SchemaKind::Shared
            } else {
                SchemaKind::Tenant
            };
            let status = schema::sqlite_status(&path, kind)?;
            if status.version != version {
                bail!(
                    "{}: schema {} but the manifest says {version}",
                    path.display(),
                    status.version
                );
            }
            if status.is_newer() {
                bail!(
                    "{}: schema version {version} is newer than this agora's {}: restore it with the agora {} that made it",
                    path.display(),
                    status.latest,
                    manifest.agora
                );
            }
        }
    }
    Ok(manifest)
}

/// `tenants/3.db`, `agora.db`, `jwt.key`: no absolute paths, no `..`.
fn safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Restores the backup at `src` into `data_dir`: refused while a daemon
/// runs there, and over an existing database unless `replace`. Every
/// file is checked first ([`verify`]); then each is copied beside its
/// place and renamed over it, and stale `-wal`/`-shm` files are removed.
/// Tenant files the restored database no longer names are left alone.
///
/// # Errors
/// What [`verify`] finds; a running daemon; an existing database without
/// `replace`; a file that cannot be written.
pub fn restore(
    src: &Path,
    data_dir: &Path,
    replace: bool,
    mut each: impl FnMut(&Entry),
) -> anyhow::Result<Manifest> {
    let manifest = verify(src)?;
    std::fs::create_dir_all(data_dir.join("tenants"))
        .with_context(|| format!("cannot make {}", data_dir.display()))?;
    let _lock = datalock::exclusive(data_dir)?;
    if data_dir.join("agora.db").exists() && !replace {
        bail!(
            "{} already has a database: pass --replace to overwrite it with the backup",
            data_dir.display()
        );
    }
    for e in &manifest.files {
        let to = data_dir.join(&e.path);
        let tmp = PathBuf::from(format!("{}.restoring", to.display()));
        std::fs::copy(src.join(&e.path), &tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        File::open(&tmp)?.sync_all()?;
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
        }
        std::fs::rename(&tmp, &to).with_context(|| format!("cannot replace {}", to.display()))?;
        each(e);
    }
    if let Ok(dir) = File::open(data_dir) {
        let _ = dir.sync_all();
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_backup_are_refused() {
        assert!(safe_relative("agora.db") && safe_relative("tenants/3.db"));
        for bad in ["", "/etc/passwd", "../x", "tenants/../../x", "./x"] {
            assert!(!safe_relative(bad), "{bad}");
        }
    }

    #[test]
    fn a_backup_restores_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let db = agora_db::Db::open(&{
            std::fs::create_dir_all(&data).unwrap();
            data.join("agora.db")
        })
        .unwrap();
        db.write(|c| {
            agora_db::users::Users::new(c)
                .create("alice", "h")
                .map(drop)
        })
        .unwrap();
        std::fs::write(data.join("jwt.key"), [7u8; 32]).unwrap();
        let dest = dir.path().join("b1");
        let mut seen = Vec::new();
        let manifest = backup(&data, &dest, |e| seen.push(e.path.clone())).unwrap();
        assert_eq!(seen, ["agora.db", "jwt.key"]);
        assert!(manifest.files[0].schema.is_some());
        // Not into a directory that holds something.
        assert!(backup(&data, &dest, |_| {}).is_err());

        // Over the live database: refused without --replace, and while
        // the daemon's lock is held.
        assert!(
            restore(&dest, &data, false, |_| {})
                .unwrap_err()
                .to_string()
                .contains("--replace")
        );
        let held = datalock::daemon(&data).unwrap();
        assert!(restore(&dest, &data, true, |_| {}).is_err());
        drop(held);
        drop(db);
        let fresh = dir.path().join("fresh");
        restore(&dest, &fresh, false, |_| {}).unwrap();
        let back = agora_db::Db::open(&fresh.join("agora.db")).unwrap();
        let alice = back
            .read(|c| agora_db::users::Users::new(c).find_by_name("alice"))
            .unwrap();
        assert!(alice.is_some());
        assert_eq!(std::fs::read(fresh.join("jwt.key")).unwrap(), [7u8; 32]);

        // One flipped byte: refused before anything is replaced.
        let key = dest.join("jwt.key");
        std::fs::write(&key, [8u8; 32]).unwrap();
        let err = restore(&dest, &dir.path().join("other"), false, |_| {}).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        assert!(!dir.path().join("other").join("agora.db").exists());
    }
}
