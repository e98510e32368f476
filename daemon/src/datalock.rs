//! The data directory's lock (`DIR/agora.lock`, an advisory `flock`): a
//! running daemon holds it shared, `agora migrate` exclusive, so the
//! offline migration never runs under a daemon and no daemon starts under
//! a migration. Several daemons on one directory (which nothing forbids
//! today) share it; the lock goes with the process, `kill -9` included.

use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone holds it in the other mode.
    #[error("{0}")]
    Held(String),
    /// The lock file cannot be made or locked.
    #[error("cannot lock {path}: {err}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
}

/// The lock file of `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("agora.lock")
}

/// Takes the lock as a daemon does: shared, refused while `agora migrate`
/// runs on the directory.
///
/// # Errors
/// [`LockError::Held`] while a migration runs; [`LockError::Io`].
pub fn daemon(data_dir: &Path) -> Result<DataLock, LockError> {
    take(data_dir, libc::LOCK_SH).map_err(|e| match e {
        LockError::Held(_) => LockError::Held(format!(
            "`agora migrate` is running on {}: start the daemon when it is done",
            data_dir.display()
        )),
        other => other,
    })
}

/// Takes the lock as `agora migrate` does: exclusive, refused while a
/// daemon runs on the directory.
///
/// # Errors
/// [`LockError::Held`] while a daemon (or another migration) runs;
/// [`LockError::Io`].
pub fn exclusive(data_dir: &Path) -> Result<DataLock, LockError> {
    take(data_dir, libc::LOCK_EX).map_err(|e| match e {
        LockError::Held(_) => LockError::Held(format!(
            "a daemon (or another `agora migrate`) is using {}: stop it first (the daemon migrates at start-up anyway)",
            data_dir.display()
        )),
        other => other,
    })
}

fn take(data_dir: &Path, mode: libc::c_int) -> Result<DataLock, LockError> {
    let path = path(data_dir);
    let io = |err| LockError::Io {
        path: path.clone(),
        err,
    };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    // SAFETY: flock on a file descriptor this function owns.
    let rc = unsafe { libc::flock(file.as_raw_fd(), mode | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(LockError::Held(String::new()));
        }
        return Err(io(err));
    }
    Ok(DataLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemons_share_the_lock_and_a_migration_excludes_them() {
        let dir = tempfile::tempdir().unwrap();
        let one = daemon(dir.path()).unwrap();
        let two = daemon(dir.path()).unwrap();
        let err = exclusive(dir.path()).unwrap_err();
        assert!(err.to_string().contains("stop it first"), "{err}");
        drop((one, two));
        let migrating = exclusive(dir.path()).unwrap();
        let err = daemon(dir.path()).unwrap_err();
        assert!(err.to_string().contains("agora migrate"), "{err}");
        drop(migrating);
        daemon(dir.path()).unwrap();
    }
}
