//! What the three output formats share: the [`View`] (what to render besides
//! the totals), the columns of file and group rows, and human sizes.
//!
//! The table ([`super::table`]) and CSV ([`super::csv`]) take their row
//! columns from [`columns`], so both have the same columns with the same
//! names in the same order; only the byte cells differ (human sizes in the
//! table unless `--bytes`, exact integers in CSV, as in JSON
//! ([`super::json`])). Every renderer is a pure function from the aggregate
//! to a string, so the output is deterministic and testable; the names are
//! documented in docs/PROCESS.md and must stay stable.

use crate::output::human_bytes;
use agora::process::aggregate::{self, Aggregate, FileStats, Group, GroupBy, SortKey};
use agora::process::count::{Counts, Level};

/// What to render besides the totals.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// The `--regexp` regexes as given, in order.
    pub regexes: Vec<String>,
    /// Matches rather than matching lines (`--count-matches`).
    pub count_matches: bool,
    /// Words were counted (`--words`).
    pub words: bool,
    /// `--group-by`.
    pub group_by: Option<GroupBy>,
    /// `--top N`.
    pub top: Option<usize>,
    /// `--sort`.
    pub sort: Option<SortKey>,
    /// Exact byte counts in the table (`--bytes`).
    pub exact_bytes: bool,
}

impl View {
    /// The `--top` rows and the key they are ranked by.
    pub fn top_rows(&self, agg: &Aggregate) -> Option<(SortKey, Vec<FileStats>)> {
        let n = self.top.filter(|&n| n > 0)?;
        let key = self
            .sort
            .unwrap_or_else(|| aggregate::default_top_key(!self.regexes.is_empty()));
        Some((key, aggregate::top(&agg.files, n, key)))
    }

    /// The `--group-by` rows, sorted by `--sort` when given.
    pub fn groups(&self, agg: &Aggregate) -> Option<(GroupBy, Vec<Group>)> {
        let by = self.group_by?;
        let mut rows = aggregate::group(&agg.files, by, self.regexes.len());
        if let Some(key) = self.sort {
            aggregate::sort_groups(&mut rows, key);
        }
        Some((by, rows))
    }

    /// The per-file rows of CSV: every counted file, by path or `--sort`.
    pub fn file_rows(&self, agg: &Aggregate) -> Vec<FileStats> {
        let mut files = agg.files.clone();
        if let Some(key) = self.sort {
            aggregate::sort_files(&mut files, key);
        }
        files
    }
}

/// One column of a file or group row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// The file's path, or the group's key.
    Key,
    /// Files in the group.
    Files,
    /// Bytes.
    Bytes,
    /// Lines.
    Lines,
    /// Words (only with `--words`).
    Words,
    /// Lines of a level.
    Level(Level),
    /// Lines without a level.
    NoLevel,
    /// The count of the n-th `--regexp`.
    Match(usize),
}

/// A row: a file, or a group (dir, ext or level).
#[derive(Clone, Copy, Debug)]
pub enum Row<'a> {
    /// One counted file.
    File(&'a FileStats),
    /// One `--group-by` row.
    Group(&'a Group),
}

/// The columns of file rows (`by` = `None`) or group rows, with their names:
/// `path` (or `dir`, `ext`, `level`), `files` for groups, `bytes`, `lines`,
/// `words` with `--words`, the six levels, `none`, and `match:REGEX` per
/// `--regexp`. Level groups only have `level`, `files` and `lines`: the
/// other counts do not apply to them.
pub fn columns(view: &View, by: Option<GroupBy>) -> Vec<(String, Column)> {
    let key = by.map_or("path", GroupBy::name);
    let mut cols = vec![(key.to_string(), Column::Key)];
    if by.is_some() {
        cols.push(("files".into(), Column::Files));
    }
    if by == Some(GroupBy::Level) {
        cols.push(("lines".into(), Column::Lines));
        return cols;
    }
    cols.push(("bytes".into(), Column::Bytes));
    cols.push(("lines".into(), Column::Lines));
    if view.words {
        cols.push(("words".into(), Column::Words));
    }
    for l in Level::ALL {
        cols.push((l.name().into(), Column::Level(l)));
    }
    cols.push(("none".into(), Column::NoLevel));
    for (i, r) in view.regexes.iter().enumerate() {
        cols.push((format!("match:{r}"), Column::Match(i)));
    }
    cols
}

/// The text of a cell; bytes as a human size when `human`. The key is the
/// raw path or group key (an extension group without extension is `""`).
pub fn cell(row: Row<'_>, col: Column, human: bool) -> String {
    let counts: &Counts = match row {
        Row::File(f) => &f.counts,
        Row::Group(g) => &g.counts,
    };
    match col {
        Column::Key => match row {
            Row::File(f) => f.path.to_string_lossy().into_owned(),
            Row::Group(g) => g.key.clone(),
        },
        Column::Files => match row {
            Row::File(_) => "1".into(),
            Row::Group(g) => g.files.to_string(),
        },
        Column::Bytes if human => human_bytes(counts.bytes),
        Column::Bytes => counts.bytes.to_string(),
        Column::Lines => counts.lines.to_string(),
        Column::Words => counts.words.to_string(),
        Column::Level(l) => counts.levels.get(l).to_string(),
        Column::NoLevel => counts.levels.none().to_string(),
        Column::Match(i) => counts.matches.get(i).copied().unwrap_or(0).to_string(),
    }
}

/// The file counts, which add up: `60 found: 58 processed (3 reused from
/// state), 1 skipped (binary), 1 failed` (and `, N unfinished` when
/// interrupted).
pub fn files_summary(agg: &Aggregate) -> String {
    let mut s = format!("{} found: {} processed", agg.found, agg.processed);
    if agg.reused > 0 {
        s.push_str(&format!(" ({} reused from state)", agg.reused));
    }
    s.push_str(&format!(
        ", {} skipped (binary), {} failed",
        agg.binary, agg.failed
    ));
    if agg.unfinished > 0 {
        s.push_str(&format!(", {} unfinished", agg.unfinished));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes((1 << 20) - 1), "1.0 MiB");
        assert_eq!(human_bytes(1_258_291), "1.2 MiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn columns_of_files_and_groups() {
        let view = View {
            regexes: vec!["a,b".into()],
            words: true,
            ..View::default()
        };
        let names = |by| {
            columns(&view, by)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            names(None),
            "path bytes lines words FATAL ERROR WARN INFO DEBUG TRACE none match:a,b"
        );
        assert_eq!(
            names(Some(GroupBy::Dir)),
            "dir files bytes lines words FATAL ERROR WARN INFO DEBUG TRACE none match:a,b"
        );
        assert_eq!(names(Some(GroupBy::Level)), "level files lines");
    }
}
