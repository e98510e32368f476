//! The `agora` package's library: the parts of the binary that other code
//! can drive without the command line.
//!
//! - [`process`]: the parallel file processor behind `agora process` — walk,
//!   process, aggregate — independent of printing, so that a job runner can
//!   execute it too.
//!
//! Everything else (argument parsing, subcommands) lives in the binary.

pub mod process;
