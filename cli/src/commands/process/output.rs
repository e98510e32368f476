//! Rendering an [`Aggregate`]: the aligned human table, the JSON document and
//! CSV. Pure functions from the aggregate to a string, so that the output is
//! deterministic and testable; the field names are documented in
//! docs/PROCESS.md and must stay stable.

use std::fmt::Write as _;

use agora::process::aggregate::{self, Aggregate, Failure, FileStats, Group, GroupBy, SortKey};
use agora::process::count::{Counts, Level, Levels};
use serde::Serialize;

/// What to render besides the totals.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// The `--regexp` regexes as given, in order.
    pub regexes: Vec<String>,
    /// Occurrences rather than lines (`--count-matches`).
    pub count_matches: bool,
    /// Words were counted (`--words`).
    pub words: bool,
    /// `--group-by`.
    pub group_by: Option<GroupBy>,
    /// `--top N`.
    pub top: Option<usize>,
    /// `--sort`.
    pub sort: Option<SortKey>,
}

impl View {
    fn top_rows(&self, agg: &Aggregate) -> Option<(SortKey, Vec<FileStats>)> {
        let n = self.top.filter(|&n| n > 0)?;
        let key = self
            .sort
            .unwrap_or_else(|| aggregate::default_top_key(!self.regexes.is_empty()));
        Some((key, aggregate::top(&agg.files, n, key)))
    }

    fn groups(&self, agg: &Aggregate) -> Option<(GroupBy, Vec<Group>)> {
        let by = self.group_by?;
        let mut rows = aggregate::group(&agg.files, by, self.regexes.len());
        if let Some(key) = self.sort {
            aggregate::sort_groups(&mut rows, key);
        }
        Some((by, rows))
    }
}

// ---------------------------------------------------------------- JSON

#[derive(Serialize)]
struct JsonDoc<'a> {
    partial: bool,
    files: JsonFiles,
    bytes: u64,
    lines: u64,
    words: Option<u64>,
    levels: JsonLevels,
    count_matches: bool,
    matches: Vec<JsonMatch<'a>>,
    top: Option<JsonTop>,
    groups: Option<JsonGroups>,
    failures: &'a [Failure],
    warnings: &'a [String],
}

#[derive(Serialize)]
struct JsonFiles {
    found: u64,
    processed: u64,
    reused: u64,
    skipped_binary: u64,
    failed: u64,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct JsonLevels {
    FATAL: u64,
    ERROR: u64,
    WARN: u64,
    INFO: u64,
    DEBUG: u64,
    TRACE: u64,
    none: u64,
}

impl From<&Levels> for JsonLevels {
    fn from(l: &Levels) -> Self {
        JsonLevels {
            FATAL: l.get(Level::Fatal),
            ERROR: l.get(Level::Error),
            WARN: l.get(Level::Warn),
            INFO: l.get(Level::Info),
            DEBUG: l.get(Level::Debug),
            TRACE: l.get(Level::Trace),
            none: l.none(),
        }
    }
}

#[derive(Serialize)]
struct JsonMatch<'a> {
    regex: &'a str,
    count: u64,
}

#[derive(Serialize)]
struct JsonTop {
    by: SortKey,
    files: Vec<JsonRow>,
}

#[derive(Serialize)]
struct JsonGroups {
    by: GroupBy,
    rows: Vec<JsonRow>,
}

#[derive(Serialize)]
struct JsonRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<u64>,
    bytes: u64,
    lines: u64,
    words: Option<u64>,
    levels: JsonLevels,
    matches: Vec<u64>,
}

impl JsonRow {
    fn new(c: &Counts, words: bool) -> JsonRow {
        JsonRow {
            path: None,
            key: None,
            files: None,
            bytes: c.bytes,
            lines: c.lines,
            words: words.then_some(c.words),
            levels: (&c.levels).into(),
            matches: c.matches.clone(),
        }
    }
}

/// The JSON document (one line, no trailing newline).
pub fn json(agg: &Aggregate, view: &View) -> String {
    let t = &agg.totals;
    let doc = JsonDoc {
        partial: agg.partial,
        files: JsonFiles {
            found: agg.found,
            processed: agg.processed,
            reused: agg.reused,
            skipped_binary: agg.binary,
            failed: agg.failures.len() as u64,
        },
        bytes: t.bytes,
        lines: t.lines,
        words: view.words.then_some(t.words),
        levels: (&t.levels).into(),
        count_matches: view.count_matches,
        matches: view
            .regexes
            .iter()
            .enumerate()
            .map(|(i, r)| JsonMatch {
                regex: r,
                count: t.matches.get(i).copied().unwrap_or(0),
            })
            .collect(),
        top: view.top_rows(agg).map(|(by, files)| JsonTop {
            by,
            files: files
                .iter()
                .map(|f| JsonRow {
                    path: Some(f.path.to_string_lossy().into_owned()),
                    ..JsonRow::new(&f.counts, view.words)
                })
                .collect(),
        }),
        groups: view.groups(agg).map(|(by, rows)| JsonGroups {
            by,
            rows: rows
                .iter()
                .map(|g| JsonRow {
                    key: Some(g.key.clone()),
                    files: Some(g.files),
                    ..JsonRow::new(&g.counts, view.words)
                })
                .collect(),
        }),
        failures: &agg.failures,
        warnings: &agg.warnings,
    };
    // Serialising plain structs of numbers and strings cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

// ---------------------------------------------------------------- CSV

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn csv_counts(out: &mut String, c: &Counts, words: bool, n_matches: usize) {
    let _ = write!(out, ",{},{},", c.bytes, c.lines);
    if words {
        let _ = write!(out, "{}", c.words);
    }
    for v in c.levels.0 {
        let _ = write!(out, ",{v}");
    }
    for i in 0..n_matches {
        let _ = write!(out, ",{}", c.matches.get(i).copied().unwrap_or(0));
    }
    out.push('\n');
}

fn csv_header(out: &mut String, first: &[&str], regexes: &[String]) {
    out.push_str(&first.join(","));
    out.push_str(",bytes,lines,words,FATAL,ERROR,WARN,INFO,DEBUG,TRACE,none");
    for r in regexes {
        out.push(',');
        csv_field(out, &format!("match:{r}"));
    }
    out.push('\n');
}

/// CSV: one row per file sorted by path (or `--sort`), or one row per group
/// with `--group-by`. The `words` column is empty without `--words`.
pub fn csv(agg: &Aggregate, view: &View) -> String {
    let mut out = String::new();
    if let Some((_, rows)) = view.groups(agg) {
        csv_header(&mut out, &["key", "files"], &view.regexes);
        for g in &rows {
            csv_field(&mut out, &g.key);
            let _ = write!(out, ",{}", g.files);
            csv_counts(&mut out, &g.counts, view.words, view.regexes.len());
        }
        return out;
    }
    csv_header(&mut out, &["path"], &view.regexes);
    let mut files = agg.files.clone();
    if let Some(key) = view.sort {
        aggregate::sort_files(&mut files, key);
    }
    for f in &files {
        csv_field(&mut out, &f.path.to_string_lossy());
        csv_counts(&mut out, &f.counts, view.words, view.regexes.len());
    }
    out
}

// ---------------------------------------------------------------- table

/// Column alignment.
#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// A minimal aligned text table.
struct Table {
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str], aligns: Vec<Align>) -> Table {
        Table {
            aligns,
            rows: vec![header.iter().map(|s| s.to_string()).collect()],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String) {
        let n = self.aligns.len();
        let mut widths = vec![0; n];
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        for r in &self.rows {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate().take(n) {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = widths[i] - c.chars().count();
                match self.aligns[i] {
                    Align::Left if i + 1 == n => line.push_str(c),
                    Align::Left => {
                        line.push_str(c);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(c);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

/// Bytes in binary units, e.g. `1.5 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_string()
    } else {
        format!("{:.2}%", part as f64 * 100.0 / whole as f64)
    }
}

fn counts_header(first: &[&str], view: &View) -> (Vec<String>, Vec<Align>) {
    let mut h: Vec<String> = first.iter().map(|s| s.to_string()).collect();
    h.extend(["BYTES", "LINES"].map(String::from));
    if view.words {
        h.push("WORDS".into());
    }
    h.extend(["FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"].map(String::from));
    for i in 0..view.regexes.len() {
        h.push(format!("MATCH{}", i + 1));
    }
    let mut a = vec![Align::Right; h.len()];
    a[0] = Align::Left;
    (h, a)
}

fn counts_cells(c: &Counts, view: &View) -> Vec<String> {
    let mut v = vec![c.bytes.to_string(), c.lines.to_string()];
    if view.words {
        v.push(c.words.to_string());
    }
    for l in Level::ALL {
        v.push(c.levels.get(l).to_string());
    }
    for i in 0..view.regexes.len() {
        v.push(c.matches.get(i).copied().unwrap_or(0).to_string());
    }
    v
}

/// The human table.
pub fn table(agg: &Aggregate, view: &View) -> String {
    let mut out = String::new();
    let t = &agg.totals;
    if agg.partial {
        let finished = agg.processed + agg.reused + agg.binary;
        let _ = writeln!(
            out,
            "PARTIAL RESULTS: interrupted; {finished} of {} files found so far were finished\n",
            agg.found
        );
    }
    let mut files = format!("{} found, {} processed", agg.found, agg.processed);
    if agg.reused > 0 {
        let _ = write!(files, ", {} reused from state", agg.reused);
    }
    let _ = write!(
        files,
        ", {} skipped (binary), {} failed",
        agg.binary,
        agg.failures.len()
    );
    let mut summary = Table::new(&["", ""], vec![Align::Left, Align::Left]);
    summary.rows.clear();
    summary.row(vec!["files".into(), files]);
    summary.row(vec![
        "bytes".into(),
        format!("{} ({})", t.bytes, human_bytes(t.bytes)),
    ]);
    summary.row(vec!["lines".into(), t.lines.to_string()]);
    if view.words {
        summary.row(vec!["words".into(), t.words.to_string()]);
    }
    summary.render(&mut out);

    out.push('\n');
    let mut levels = Table::new(
        &["LEVEL", "LINES", "SHARE"],
        vec![Align::Left, Align::Right, Align::Right],
    );
    for l in Level::ALL {
        let n = t.levels.get(l);
        levels.row(vec![l.name().into(), n.to_string(), pct(n, t.lines)]);
    }
    levels.row(vec![
        "none".into(),
        t.levels.none().to_string(),
        pct(t.levels.none(), t.lines),
    ]);
    levels.render(&mut out);

    if !view.regexes.is_empty() {
        out.push('\n');
        let what = if view.count_matches {
            "OCCURRENCES"
        } else {
            "LINES"
        };
        // The count comes before the free-form regex so columns stay aligned.
        let mut m = Table::new(
            &["MATCH", what, "REGEX"],
            vec![Align::Left, Align::Right, Align::Left],
        );
        for (i, r) in view.regexes.iter().enumerate() {
            m.row(vec![
                format!("MATCH{}", i + 1),
                t.matches.get(i).copied().unwrap_or(0).to_string(),
                r.clone(),
            ]);
        }
        m.render(&mut out);
    }

    if let Some((key, files)) = view.top_rows(agg) {
        let _ = writeln!(
            out,
            "\nTOP {} FILES BY {}",
            files.len(),
            key.name().to_uppercase()
        );
        let (mut h, mut a) = counts_header(&["#"], view);
        h.push("PATH".into());
        a[0] = Align::Right;
        a.push(Align::Left);
        let hr: Vec<&str> = h.iter().map(String::as_str).collect();
        let mut tb = Table::new(&hr, a);
        for (i, f) in files.iter().enumerate() {
            let mut cells = vec![(i + 1).to_string()];
            cells.extend(counts_cells(&f.counts, view));
            cells.push(f.path.to_string_lossy().into_owned());
            tb.row(cells);
        }
        tb.render(&mut out);
    }

    if let Some((by, rows)) = view.groups(agg) {
        let title = match by {
            GroupBy::Dir => "DIR",
            GroupBy::Ext => "EXT",
            GroupBy::Level => "LEVEL",
        };
        let _ = writeln!(out, "\nBY {title}");
        if by == GroupBy::Level {
            let mut tb = Table::new(
                &[title, "FILES", "LINES"],
                vec![Align::Left, Align::Right, Align::Right],
            );
            for g in &rows {
                tb.row(vec![
                    g.key.clone(),
                    g.files.to_string(),
                    g.counts.lines.to_string(),
                ]);
            }
            tb.render(&mut out);
        } else {
            let (mut h, mut a) = counts_header(&["FILES"], view);
            h.push(title.into());
            a[0] = Align::Right;
            a.push(Align::Left);
            let hr: Vec<&str> = h.iter().map(String::as_str).collect();
            let mut tb = Table::new(&hr, a);
            for g in &rows {
                let mut cells = vec![g.files.to_string()];
                cells.extend(counts_cells(&g.counts, view));
                cells.push(if g.key.is_empty() {
                    "(none)".into()
                } else {
                    g.key.clone()
                });
                tb.row(cells);
            }
            tb.render(&mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg() -> Aggregate {
        let mut c = Counts::new(1);
        c.bytes = 10;
        c.lines = 2;
        c.levels.0[1] = 1;
        c.levels.0[6] = 1;
        c.matches[0] = 1;
        Aggregate {
            found: 2,
            processed: 1,
            binary: 1,
            totals: c.clone(),
            files: vec![FileStats {
                path: "a,b \"q\".log".into(),
                id: None,
                counts: c,
                reused: false,
            }],
            ..Aggregate::default()
        }
    }

    fn view() -> View {
        View {
            regexes: vec!["ERR".into()],
            top: Some(3),
            group_by: Some(GroupBy::Ext),
            ..View::default()
        }
    }

    #[test]
    fn csv_quotes_paths() {
        let v = View {
            group_by: None,
            ..view()
        };
        let s = csv(&agg(), &v);
        assert_eq!(
            s,
            "path,bytes,lines,words,FATAL,ERROR,WARN,INFO,DEBUG,TRACE,none,match:ERR\n\
             \"a,b \"\"q\"\".log\",10,2,,0,1,0,0,0,0,1,1\n"
        );
    }

    #[test]
    fn json_fields() {
        let s = json(&agg(), &view());
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["files"]["skipped_binary"], 1);
        assert_eq!(v["levels"]["ERROR"], 1);
        assert_eq!(v["matches"][0]["regex"], "ERR");
        assert_eq!(v["top"]["by"], "matches");
        assert_eq!(v["groups"]["rows"][0]["key"], "log");
        assert!(v["words"].is_null());
    }

    #[test]
    fn table_mentions_partial() {
        let mut a = agg();
        assert!(!table(&a, &view()).contains("PARTIAL"));
        a.partial = true;
        let t = table(&a, &view());
        assert!(t.starts_with("PARTIAL RESULTS"));
        assert!(t.contains("TOP 1 FILES BY MATCHES"));
        assert!(t.contains("BY EXT"));
    }
}
