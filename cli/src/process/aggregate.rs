//! Combining per-file results: totals, `--group-by`, `--top` and `--sort`.
//!
//! Everything here is a pure function of the set of per-file results, sorted
//! with total orders (ties broken by path or key), so the output does not
//! depend on the number of workers or on the order in which files finished.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::count::{Counts, Level};
use super::state::FileId;

/// The result of one counted file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStats {
    /// The path as walked (`--dir` joined with the path below it).
    pub path: PathBuf,
    /// Size on disk and mtime when read (absent if the platform has none).
    pub id: Option<FileId>,
    /// Its counts.
    pub counts: Counts,
    /// Taken from the `--state` file instead of being read.
    pub reused: bool,
}

/// A file or directory that could not be processed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Failure {
    /// The path, when known.
    pub path: Option<PathBuf>,
    /// One-line description.
    pub message: String,
    /// Whether a found file failed, or the walk itself.
    pub kind: FailureKind,
}

/// What failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// A file that matched could not be read (counted in
    /// [`Aggregate::failed`]).
    File,
    /// The walk could not read a directory or an entry: no file was found
    /// there, so nothing is counted in [`Aggregate::found`] for it.
    Walk,
}

/// The aggregate of a run.
///
/// The file counts add up: `found = processed + binary + failed +
/// unfinished`, where `unfinished` is 0 unless the run was cancelled.
#[derive(Clone, Debug, Default)]
pub struct Aggregate {
    /// The run was interrupted: the numbers cover only the files finished.
    pub partial: bool,
    /// Files that matched the globs.
    pub found: u64,
    /// Files counted: read in this run, or reused from the state file.
    pub processed: u64,
    /// Of [`Aggregate::processed`], the files whose counts were reused from
    /// the state file.
    pub reused: u64,
    /// Files skipped as binary.
    pub binary: u64,
    /// Files that could not be read (the [`FailureKind::File`] failures).
    pub failed: u64,
    /// Files found but not finished because the run was cancelled.
    pub unfinished: u64,
    /// Files and directories that failed, sorted.
    pub failures: Vec<Failure>,
    /// Walk warnings (symlink loops, bad ignore rules), sorted.
    pub warnings: Vec<String>,
    /// Sum over the counted files (processed and reused).
    pub totals: Counts,
    /// Per-file results sorted by path, when the engine was asked to keep
    /// them (`ProcessOptions::keep_files`).
    pub files: Vec<FileStats>,
}

impl Aggregate {
    /// Failures of the walk itself (not of a found file).
    pub fn walk_failures(&self) -> usize {
        (self.failures.iter())
            .filter(|f| f.kind == FailureKind::Walk)
            .count()
    }
}

/// What `--group-by` groups on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The directory containing the file.
    Dir,
    /// The file extension (the part after the last dot of the name).
    Ext,
    /// The log level (one row per level, plus `none`).
    Level,
}

/// Sort key for `--sort` (and the ranking of `--top`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
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

impl GroupBy {
    /// The lower-case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Dir => "dir",
            GroupBy::Ext => "ext",
            GroupBy::Level => "level",
        }
    }
}

impl SortKey {
    /// The lower-case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Path => "path",
            SortKey::Bytes => "bytes",
            SortKey::Lines => "lines",
            SortKey::Words => "words",
            SortKey::Errors => "errors",
            SortKey::Warnings => "warnings",
            SortKey::Matches => "matches",
            SortKey::Files => "files",
        }
    }
}

/// One row of a `--group-by` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The directory, extension (`""` for none) or level name.
    pub key: String,
    /// Files in the group (for `level`: files with at least one such line).
    pub files: u64,
    /// The group's counts (for `level`: only `lines` is meaningful).
    pub counts: Counts,
}

/// The errors of a file for ranking: ERROR plus FATAL lines.
pub fn errors(c: &Counts) -> u64 {
    c.levels.get(Level::Error) + c.levels.get(Level::Fatal)
}

fn metric(key: SortKey, c: &Counts, files: u64) -> u64 {
    match key {
        SortKey::Path => 0,
        SortKey::Bytes => c.bytes,
        SortKey::Lines => c.lines,
        SortKey::Words => c.words,
        SortKey::Errors => errors(c),
        SortKey::Warnings => c.levels.get(Level::Warn),
        SortKey::Matches => c.total_matches(),
        SortKey::Files => files,
    }
}

/// Sorts files by `key` (numbers descending), ties by path ascending.
pub fn sort_files(files: &mut [FileStats], key: SortKey) {
    files.sort_by(|a, b| {
        metric(key, &b.counts, 1)
            .cmp(&metric(key, &a.counts, 1))
            .then_with(|| a.path.cmp(&b.path))
    });
}

/// Sorts groups by `key` (numbers descending), ties by key ascending.
pub fn sort_groups(groups: &mut [Group], key: SortKey) {
    groups.sort_by(|a, b| {
        metric(key, &b.counts, b.files)
            .cmp(&metric(key, &a.counts, a.files))
            .then_with(|| a.key.cmp(&b.key))
    });
}

/// The `n` files ranking highest by `key`: by default ERROR lines, or the
/// `--regexp` total when regexes were given.
pub fn top(files: &[FileStats], n: usize, key: SortKey) -> Vec<FileStats> {
    let mut v = files.to_vec();
    sort_files(&mut v, key);
    v.truncate(n);
    v
}

/// The default ranking key of `--top`.
pub fn default_top_key(has_matches: bool) -> SortKey {
    if has_matches {
        SortKey::Matches
    } else {
        SortKey::Errors
    }
}

/// Groups files. Rows come sorted by key unless re-sorted by the caller.
pub fn group(files: &[FileStats], by: GroupBy, n_matches: usize) -> Vec<Group> {
    match by {
        GroupBy::Level => {
            let rows: Vec<Group> = Level::ALL
                .iter()
                .map(|l| (l.name().to_string(), *l as usize))
                .chain(std::iter::once(("none".to_string(), 6)))
                .map(|(key, slot)| {
                    let mut counts = Counts::new(n_matches);
                    let mut n = 0;
                    for f in files {
                        let lines = f.counts.levels.0[slot];
                        if lines > 0 {
                            n += 1;
                            counts.lines += lines;
                        }
                    }
                    Group {
                        key,
                        files: n,
                        counts,
                    }
                })
                .collect();
            // Level rows keep severity order; only an explicit --sort moves them.
            rows
        }
        GroupBy::Dir | GroupBy::Ext => {
            let mut map: BTreeMap<String, (u64, Counts)> = BTreeMap::new();
            for f in files {
                let key = match by {
                    GroupBy::Dir => dir_key(&f.path),
                    _ => ext_key(&f.path),
                };
                let slot = map
                    .entry(key)
                    .or_insert_with(|| (0, Counts::new(n_matches)));
                slot.0 += 1;
                slot.1.add(&f.counts);
            }
            map.into_iter()
                .map(|(key, (files, counts))| Group { key, files, counts })
                .collect()
        }
    }
}

fn dir_key(path: &Path) -> String {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_string_lossy().into_owned(),
        _ => ".".to_string(),
    }
}

fn ext_key(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, errors: u64, lines: u64) -> FileStats {
        let mut counts = Counts::new(0);
        counts.levels.0[Level::Error as usize] = errors;
        counts.levels.0[6] = lines - errors;
        counts.lines = lines;
        FileStats {
            path: path.into(),
            id: None,
            counts,
            reused: false,
        }
    }

    #[test]
    fn top_ties_broken_by_path() {
        let files = vec![f("b", 2, 5), f("a", 2, 3), f("c", 9, 9), f("d", 0, 1)];
        let t = top(&files, 3, SortKey::Errors);
        let names: Vec<_> = t.iter().map(|f| f.path.to_str().unwrap()).collect();
        assert_eq!(names, ["c", "a", "b"]);
    }

    #[test]
    fn groups() {
        let files = vec![f("x/a.log", 1, 2), f("x/b.txt", 0, 3), f("c", 1, 1)];
        let by_dir = group(&files, GroupBy::Dir, 0);
        assert_eq!(
            by_dir.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
            [".", "x"]
        );
        assert_eq!(by_dir[1].counts.lines, 5);
        let by_ext = group(&files, GroupBy::Ext, 0);
        assert_eq!(
            by_ext.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
            ["", "log", "txt"]
        );
        let by_level = group(&files, GroupBy::Level, 0);
        assert_eq!(by_level[1].key, "ERROR");
        assert_eq!(by_level[1].files, 2);
        assert_eq!(by_level[6].counts.lines, 4);
    }
}
