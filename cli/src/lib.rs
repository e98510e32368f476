//! The `agora` package's library: the parts of the binary that other code
//! can drive without the command line.
//!
//! - [`process`]: the engine of `agora process` — walk, count, aggregate,
//!   resume state — with no flags, no printing and no progress bar, so that
//!   a job runner can execute it too.
//!
//! Everything else (argument parsing, subcommands, output) lives in the
//! binary.

pub mod process;
