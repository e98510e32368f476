//! The command-line flags of `agora process` and their translation into
//! engine options. The doc comments here are the `--help` text and the man
//! page, so they say precisely what each flag does.

use std::path::PathBuf;
use std::time::Duration;

use agora::process::{self, CountOptions, DEFAULT_CHUNK_SIZE, ProcessOptions, build_regex};
use anyhow::bail;
use clap::ValueEnum as _;

/// Text appended to `agora process --help` (and the man page).
pub const AFTER_HELP: &str = "\
LEVELS:
  A line's level is the first of its first 8 whitespace-separated tokens (within its
  first 256 bytes) that, once brackets and punctuation ([](){}<>:;,|\"') are stripped
  from both ends, is exactly FATAL, ERROR, WARN, WARNING (counted as WARN), INFO, DEBUG
  or TRACE - case-sensitive unless --ignore-level-case. logfmt tokens level=X, lvl=X,
  severity=X and loglevel=X are judged by X; any other key=value token never counts.
  So `[ERROR]` and `ERROR:` count, while `retry_on=ERROR`, `ERROR_BUDGET` and `ERRORS`
  do not. A line has at most one level; lines without one are counted as `none`.

See docs/PROCESS.md for the JSON and CSV fields.";

/// Flags of `agora process`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_long_help = AFTER_HELP)]
pub struct ProcessArgs {
    /// Files or directories to process; directories are walked recursively
    /// [default: . when no --dir is given either].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// A directory (or file) to process, like a PATH (repeatable).
    #[arg(long = "dir", value_name = "DIR", action = clap::ArgAction::Append)]
    pub dirs: Vec<PathBuf>,

    /// Only process files matching GLOB (repeatable); a leading `!` excludes.
    ///
    /// ripgrep's -g: gitignore syntax, and when several globs match a path
    /// the last one wins. A glob without `/` is matched against the name; a
    /// glob with a `/` against the path relative to the PATH it was found
    /// under (`*` does not cross `/`, `**` does). An exclude glob that
    /// matches a directory skips it. A file matching an include glob is taken
    /// even if hidden or ignored (not inside a hidden or ignored directory,
    /// though). Without any --glob every file is taken. Quote globs so that
    /// the shell does not expand them.
    #[arg(short = 'g', long = "glob", value_name = "GLOB", action = clap::ArgAction::Append, allow_hyphen_values = true)]
    pub globs: Vec<String>,

    /// Number of worker threads, 1 to 1024 [default: the number of CPUs].
    #[arg(short = 'j', long, value_name = "N")]
    pub workers: Option<usize>,

    /// Also process hidden files and walk hidden directories (names starting
    /// with a dot).
    #[arg(long)]
    pub hidden: bool,

    /// Ignore .gitignore, .ignore and git exclude rules (by default they are
    /// respected as ripgrep does; .gitignore rules only apply inside a git
    /// repository).
    #[arg(long)]
    pub no_ignore: bool,

    /// Unrestricted: `-u` is --no-ignore, `-uu` is --no-ignore --hidden.
    #[arg(short = 'u', action = clap::ArgAction::Count)]
    pub unrestricted: u8,

    /// Descend at most N directory levels below each PATH (0: only the PATH
    /// itself).
    #[arg(short = 'd', long, value_name = "N")]
    pub max_depth: Option<usize>,

    /// Follow symbolic links. Symlink loops are detected, reported on stderr
    /// and not followed.
    #[arg(short = 'L', long)]
    pub follow: bool,

    /// Skip files larger than SIZE: a number of bytes with an optional unit
    /// B, K/KB/KiB, M/MB/MiB or G/GB/GiB, any case, always powers of 1024
    /// (`512K`, `10MiB`, `2gb`), as every size flag of agora.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_filesize: Option<u64>,

    /// Read `*.gz` files through gzip decompression. Their byte counts are of
    /// the decompressed content, and every --glob G also applies as G.gz (so
    /// `-g '*.log'` takes `app.log.gz`).
    #[arg(long)]
    pub decompress: bool,

    /// Also count words, like `wc -w` (runs of bytes other than space, \t, \n,
    /// \v, \f and \r).
    #[arg(long)]
    pub words: bool,

    /// Also count the lines matching REGEX (repeatable; one count per regex).
    ///
    /// Rust regex syntax, matched per line: a match never spans lines and `^`
    /// and `$` match at line boundaries. Lines longer than 64 KiB are
    /// matched in 64 KiB pieces.
    #[arg(short = 'e', long = "regexp", value_name = "REGEX", action = clap::ArgAction::Append, allow_hyphen_values = true)]
    pub regexps: Vec<String>,

    /// With --regexp, count every match instead of matching lines.
    #[arg(long)]
    pub count_matches: bool,

    /// Recognise level words in any case (`error`, `Error`, `ERROR`).
    #[arg(long)]
    pub ignore_level_case: bool,

    /// Also show totals grouped by the file's directory, extension or by
    /// level.
    #[arg(long, value_name = "WHAT", value_enum)]
    pub group_by: Option<GroupBy>,

    /// Also show the N files with the most ERROR (and FATAL) lines, or with
    /// the most --regexp matches when --regexp is given (ties by path).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// Order of the --top, --group-by and --csv rows: `path` ascending, any
    /// other key descending with ties by path [default: path for files and
    /// groups, the ranking key for --top].
    #[arg(long, value_name = "KEY", value_enum)]
    pub sort: Option<SortKey>,

    /// Print CSV instead of the table: one row per processed file (or per
    /// group with --group-by), with the columns of the table's rows, exact
    /// byte counts. Cannot be combined with --json or --top.
    #[arg(long)]
    pub csv: bool,

    /// Exact byte counts in the table instead of human sizes such as
    /// `1.2 MiB` (JSON and CSV always have exact counts).
    #[arg(long)]
    pub bytes: bool,

    /// No progress bar and no summary on stderr (failures are still listed).
    #[arg(long)]
    pub quiet: bool,

    /// Record finished files (path, size, mtime, counts) in FILE, and reuse
    /// the recorded counts of unchanged files: a rerun after an interruption,
    /// or a later run, only reads new or changed files and reports the
    /// combined aggregate.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

/// What `--group-by` groups on (the engine's [`process::GroupBy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    /// The directory containing the file.
    Dir,
    /// The file extension (the part after the last dot of the name).
    Ext,
    /// The log level (one row per level, plus `none`).
    Level,
}

impl From<GroupBy> for process::GroupBy {
    fn from(g: GroupBy) -> Self {
        match g {
            GroupBy::Dir => process::GroupBy::Dir,
            GroupBy::Ext => process::GroupBy::Ext,
            GroupBy::Level => process::GroupBy::Level,
        }
    }
}

/// Sort key for `--sort` (the engine's [`process::SortKey`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    /// Path (files) or group key, ascending.
    Path,
    /// Bytes, descending.
    Bytes,
    /// Lines, descending.
    Lines,
    /// Words, descending.
    Words,
    /// ERROR lines (plus FATAL), descending.
    Errors,
    /// WARN lines, descending.
    Warnings,
    /// Sum of the `--regexp` counts, descending.
    Matches,
    /// Number of files (groups only; files rank as 1), descending.
    Files,
}

impl From<SortKey> for process::SortKey {
    fn from(k: SortKey) -> Self {
        match k {
            SortKey::Path => process::SortKey::Path,
            SortKey::Bytes => process::SortKey::Bytes,
            SortKey::Lines => process::SortKey::Lines,
            SortKey::Words => process::SortKey::Words,
            SortKey::Errors => process::SortKey::Errors,
            SortKey::Warnings => process::SortKey::Warnings,
            SortKey::Matches => process::SortKey::Matches,
            SortKey::Files => process::SortKey::Files,
        }
    }
}

/// The size parser of every size flag ([`crate::size::parse_size`]), as a
/// byte count.
fn parse_size(text: &str) -> Result<u64, String> {
    crate::size::parse_size(text).and_then(|n| u64::try_from(n).map_err(|e| e.to_string()))
}

impl ProcessArgs {
    /// Whether hidden files are walked (`--hidden` or `-uu`).
    pub fn effective_hidden(&self) -> bool {
        self.hidden || self.unrestricted >= 2
    }

    /// Whether ignore rules are disregarded (`--no-ignore` or `-u`).
    pub fn effective_no_ignore(&self) -> bool {
        self.no_ignore || self.unrestricted >= 1
    }

    /// Rejects values that would otherwise be clamped or ignored, with one
    /// line naming the flag (exit 2). `json` is the global `--json`.
    pub fn validate(&self, json: bool) -> anyhow::Result<()> {
        if json && self.csv {
            bail!("--csv and --json cannot be combined");
        }
        if let Some(n) = self.workers
            && !(1..=1024).contains(&n)
        {
            bail!("-j/--workers must be between 1 and 1024, not {n}");
        }
        if self.top == Some(0) {
            bail!("--top must be at least 1");
        }
        if self.top.is_some() && self.csv {
            bail!(
                "--top does not apply to --csv, which has a row for every file (order them with --sort)"
            );
        }
        if self.bytes && (json || self.csv) {
            bail!("--bytes only changes the table: JSON and CSV always have exact byte counts");
        }
        if self.count_matches && self.regexps.is_empty() {
            bail!("--count-matches needs at least one -e/--regexp");
        }
        if let Some(key) = self.sort {
            let file_rows = self.top.is_some() || (self.csv && self.group_by.is_none());
            let group_rows = self.group_by.is_some();
            let name = key
                .to_possible_value()
                .map_or(String::new(), |v| v.get_name().to_string());
            if !file_rows && !group_rows {
                bail!("--sort orders the rows of --top, --group-by or --csv; give one of them");
            }
            if key == SortKey::Words && !self.words {
                bail!("--sort words needs --words");
            }
            if key == SortKey::Matches && self.regexps.is_empty() {
                bail!("--sort matches needs at least one -e/--regexp");
            }
            if key == SortKey::Files && !group_rows {
                bail!("--sort files orders --group-by rows; files have no file count");
            }
            let level_only = self.group_by == Some(GroupBy::Level) && !file_rows;
            if level_only && !matches!(key, SortKey::Path | SortKey::Files | SortKey::Lines) {
                bail!(
                    "--group-by level rows only have files and lines: --sort {name} does not apply (use path, files or lines)"
                );
            }
        }
        Ok(())
    }

    /// Builds the engine options; an invalid regex is an error naming it.
    pub fn to_options(&self) -> anyhow::Result<ProcessOptions> {
        let mut roots: Vec<PathBuf> = self.dirs.iter().chain(&self.paths).cloned().collect();
        if roots.is_empty() {
            roots.push(PathBuf::from("."));
        }
        let mut opts = ProcessOptions::new(roots, self.globs.clone());
        if let Some(w) = self.workers {
            opts.workers = w;
        }
        // Walking is mostly waiting on the file system; a few threads are
        // plenty and leave the CPUs to the workers.
        opts.walk.threads = opts.workers.clamp(1, 4);
        opts.walk.hidden = self.effective_hidden();
        opts.walk.no_ignore = self.effective_no_ignore();
        opts.walk.max_depth = self.max_depth;
        opts.walk.follow = self.follow;
        opts.walk.max_filesize = self.max_filesize;
        opts.walk.decompress = self.decompress;
        let mut regexes = Vec::with_capacity(self.regexps.len());
        for m in &self.regexps {
            let re = build_regex(m).map_err(|e| {
                anyhow::anyhow!("invalid --regexp {m:?}: {}", one_line(&e.to_string()))
            })?;
            regexes.push(re);
        }
        opts.count = CountOptions {
            words: self.words,
            ignore_level_case: self.ignore_level_case,
            regexes,
            count_matches: self.count_matches,
        };
        opts.keep_files = self.csv || self.top.is_some() || self.group_by.is_some();
        opts.state = self.state.clone();
        // Test hooks: environment variables, not flags, so that nothing
        // meant for tests shows in help, completions or man pages.
        opts.chunk_size = test_hook("AGORA_TEST_CHUNK_SIZE")
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_CHUNK_SIZE);
        opts.stop_after = test_hook("AGORA_TEST_STOP_AFTER");
        opts.file_delay = test_hook("AGORA_TEST_FILE_DELAY_MS").map(Duration::from_millis);
        Ok(opts)
    }
}

/// Collapses a multi-line message (regex errors draw a caret diagram) into
/// one line, as the binary prints errors on one line.
fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '^' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A number from a test hook variable (`AGORA_TEST_*`), if set: chunk
/// size in bytes, stop as if interrupted after N files, sleep N ms before
/// each file. Used by `tests/process`; never documented as a flag.
fn test_hook(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_the_daemons() {
        assert_eq!(parse_size("10"), Ok(10));
        assert_eq!(parse_size("10K"), Ok(10240));
        assert_eq!(parse_size("2m"), Ok(2 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("512mb"), Ok(512 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("1T").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }

    #[test]
    fn one_line_messages() {
        assert_eq!(
            one_line("regex parse error:\n    (\n    ^\nerror: unclosed group"),
            "regex parse error: ( error: unclosed group"
        );
    }
}
