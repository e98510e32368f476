//! The engine of `agora process`: a parallel log-statistics file processor.
//!
//! Walks directories (honouring ignore rules like ripgrep), counts bytes,
//! lines, the log-level histogram and optional words and regex matches of
//! every matching file in parallel, and returns the aggregate. See
//! docs/PROCESS.md for the user documentation.
//!
//! This module is the engine only: a plain options struct
//! ([`ProcessOptions`]) in, an [`Aggregate`] (or an [`Error`]) out, and
//! progress reported to an [`Observer`]. It parses no flags, prints nothing
//! and writes to neither stdout nor stderr; the command line (flags, table,
//! JSON, CSV, progress bar) lives in the binary (`commands/process/`). It
//! uses nothing else from this package, so it can move to a crate of its
//! own when the daemon's job queue runs it as a job kind.
//!
//! Module map: [`walk`] (finding files), [`chunk`] (buffered, line-aligned
//! reading), [`count`] (the per-chunk counter), [`engine`] (orchestration),
//! [`aggregate`] (totals, groups, top), [`state`] (the resume file),
//! [`error`] (what stops a run).

pub mod aggregate;
pub mod chunk;
pub mod count;
pub mod engine;
pub mod error;
pub mod state;
pub mod walk;

pub use aggregate::{Aggregate, Failure, FailureKind, FileStats, Group, GroupBy, SortKey};
pub use count::{CountOptions, Counts, Level, build_regex};
pub use engine::{DEFAULT_CHUNK_SIZE, Observer, ProcessOptions, Silent, process};
pub use error::Error;
