//! The JSON document of `agora --json process`: one object whose field
//! names are documented in docs/PROCESS.md and stable. Every count is an
//! exact integer (bytes too); there are no timings, so the same tree always
//! gives the same bytes of output. With nothing found it is the same
//! document with zero counts and empty lists.

use agora::process::aggregate::{Aggregate, Failure, GroupBy, SortKey};
use agora::process::count::{Counts, Level, Levels};
use serde::Serialize;

use super::output::View;

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
    unfinished: u64,
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

/// The JSON document (pretty-printed, no trailing newline).
pub fn render(agg: &Aggregate, view: &View) -> String {
    let t = &agg.totals;
    let doc = JsonDoc {
        partial: agg.partial,
        files: JsonFiles {
            found: agg.found,
            processed: agg.processed,
            reused: agg.reused,
            skipped_binary: agg.binary,
            failed: agg.failed,
            unfinished: agg.unfinished,
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use agora::process::aggregate::{FailureKind, FileStats};

    pub(crate) fn agg() -> Aggregate {
        let mut c = Counts::new(1);
        c.bytes = 10;
        c.lines = 2;
        c.levels.0[1] = 1;
        c.levels.0[6] = 1;
        c.matches[0] = 1;
        Aggregate {
            found: 3,
            processed: 1,
            binary: 1,
            failed: 1,
            failures: vec![Failure {
                path: Some("x".into()),
                message: "x: Permission denied".into(),
                kind: FailureKind::File,
            }],
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

    #[test]
    fn json_fields() {
        let view = View {
            regexes: vec!["ERR".into()],
            top: Some(3),
            group_by: Some(GroupBy::Ext),
            ..View::default()
        };
        let s = render(&agg(), &view);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        let f = &v["files"];
        assert_eq!(f["skipped_binary"], 1);
        assert_eq!(
            f["found"],
            f["processed"].as_u64().unwrap()
                + f["skipped_binary"].as_u64().unwrap()
                + f["failed"].as_u64().unwrap()
                + f["unfinished"].as_u64().unwrap()
        );
        assert_eq!(v["failures"][0]["kind"], "file");
        assert_eq!(v["levels"]["ERROR"], 1);
        assert_eq!(v["matches"][0]["regex"], "ERR");
        assert_eq!(v["top"]["by"], "matches");
        assert_eq!(v["groups"]["rows"][0]["key"], "log");
        assert!(v["words"].is_null());
    }
}
