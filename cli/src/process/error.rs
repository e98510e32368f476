//! The engine's error: problems that stop a run before it starts or that
//! lose its `--state` records. Per-file problems are not errors; they end up
//! in [`super::Aggregate::failures`] and the run goes on.
//!
//! Messages name paths and globs but never command-line flags: the front end
//! (the CLI, later the job queue) adds that context itself.

use std::io;
use std::path::PathBuf;

/// Why a run could not start, or could not record its state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path to walk does not exist or cannot be accessed.
    #[error("{}: {}", path.display(), io_message(error))]
    Path {
        /// The path as given.
        path: PathBuf,
        /// What `stat` said.
        error: io::Error,
    },
    /// A glob does not compile.
    #[error("invalid glob {glob:?}: {message}")]
    Glob {
        /// The glob as given (with its `!`).
        glob: String,
        /// Why, in one line.
        message: String,
    },
    /// The state file cannot be used: not ours, unreadable, or a write
    /// failed (then the counts of the run are still right, but some files
    /// were not recorded).
    #[error("{}: {message}", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// Why, in one line.
        message: String,
    },
    /// The worker threads could not be started.
    #[error("cannot start the worker pool: {0}")]
    Pool(String),
}

impl Error {
    /// A state-file error from anything displayable.
    pub(crate) fn state(path: &std::path::Path, message: impl std::fmt::Display) -> Error {
        Error::State {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}

/// An I/O error without the "(os error N)" suffix.
pub fn io_message(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
