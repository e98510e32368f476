//! The human table (the default output): the file counts, totals, the level
//! histogram, then on request the `--regexp` totals, the `--top` files and
//! the `--group-by` rows. File and group rows have the CSV's columns
//! ([`super::output::columns`]); bytes are human sizes unless `--bytes`.

use std::fmt::Write as _;

use agora::process::aggregate::{Aggregate, GroupBy};
use agora::process::count::Level;

use super::output::{Column, Row, View, cell, columns, files_summary};
use crate::output::human_bytes;

/// Column alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
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
    fn new(header: Option<&[String]>, aligns: Vec<Align>) -> Table {
        Table {
            aligns,
            rows: header.into_iter().map(<[String]>::to_vec).collect(),
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
                if self.aligns[i] == Align::Right {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                line.push_str(c);
                if self.aligns[i] == Align::Left {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_string()
    } else {
        format!("{:.2}%", part as f64 * 100.0 / whole as f64)
    }
}

fn bytes(n: u64, view: &View) -> String {
    if view.exact_bytes {
        n.to_string()
    } else {
        human_bytes(n)
    }
}

/// File or group rows under the shared column names.
fn rows_table(out: &mut String, view: &View, by: Option<GroupBy>, rows: &[Row<'_>]) {
    let cols = columns(view, by);
    let names: Vec<String> = cols.iter().map(|(n, _)| n.clone()).collect();
    let aligns = (cols.iter())
        .map(|(_, c)| match c {
            Column::Key => Align::Left,
            _ => Align::Right,
        })
        .collect();
    let mut t = Table::new(Some(&names), aligns);
    for &row in rows {
        t.row(
            (cols.iter())
                .map(|&(_, col)| match (row, col) {
                    (Row::Group(g), Column::Key) if g.key.is_empty() => "(none)".into(),
                    _ => cell(row, col, !view.exact_bytes),
                })
                .collect(),
        );
    }
    t.render(out);
}

/// The table. The caller prints nothing instead when no file was found.
pub fn render(agg: &Aggregate, view: &View) -> String {
    let mut out = String::new();
    let t = &agg.totals;
    if agg.partial {
        let finished = agg.found - agg.unfinished;
        let _ = writeln!(
            out,
            "PARTIAL RESULTS: interrupted; {finished} of {} files found so far were finished\n",
            agg.found
        );
    }
    let mut summary = Table::new(None, vec![Align::Left, Align::Left]);
    summary.row(strings(&["files", &files_summary(agg)]));
    summary.row(strings(&["bytes", &bytes(t.bytes, view)]));
    summary.row(strings(&["lines", &t.lines.to_string()]));
    if view.words {
        summary.row(strings(&["words", &t.words.to_string()]));
    }
    let walk = agg.walk_failures();
    if walk > 0 {
        let what = format!("{walk} error(s) reading directories, listed on stderr");
        summary.row(strings(&["walk", &what]));
    }
    summary.render(&mut out);

    out.push('\n');
    let mut levels = Table::new(
        Some(&strings(&["level", "lines", "share"])),
        vec![Align::Left, Align::Right, Align::Right],
    );
    for l in Level::ALL {
        let n = t.levels.get(l);
        levels.row(vec![l.name().into(), n.to_string(), pct(n, t.lines)]);
    }
    let none = t.levels.none();
    levels.row(vec!["none".into(), none.to_string(), pct(none, t.lines)]);
    levels.render(&mut out);

    if !view.regexes.is_empty() {
        out.push('\n');
        let what = if view.count_matches {
            "matches"
        } else {
            "lines"
        };
        // The count comes before the free-form regex so columns stay aligned.
        let mut m = Table::new(
            Some(&strings(&[what, "regexp"])),
            vec![Align::Right, Align::Left],
        );
        for (i, r) in view.regexes.iter().enumerate() {
            let n = t.matches.get(i).copied().unwrap_or(0);
            m.row(vec![n.to_string(), r.clone()]);
        }
        m.render(&mut out);
    }

    if let Some((key, files)) = view.top_rows(agg) {
        let title = key.name().to_uppercase();
        let _ = writeln!(out, "\nTOP {} FILES BY {title}", files.len());
        let rows: Vec<Row<'_>> = files.iter().map(Row::File).collect();
        rows_table(&mut out, view, None, &rows);
    }

    if let Some((by, groups)) = view.groups(agg) {
        let _ = writeln!(out, "\nBY {}", by.name().to_uppercase());
        let rows: Vec<Row<'_>> = groups.iter().map(Row::Group).collect();
        rows_table(&mut out, view, Some(by), &rows);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::process::json::tests::agg;

    fn view() -> View {
        View {
            regexes: vec!["ERR".into()],
            top: Some(3),
            group_by: Some(GroupBy::Ext),
            ..View::default()
        }
    }

    #[test]
    fn mentions_partial() {
        let mut a = agg();
        assert!(!render(&a, &view()).contains("PARTIAL"));
        a.partial = true;
        let t = render(&a, &view());
        assert!(t.starts_with("PARTIAL RESULTS"));
        assert!(t.contains("TOP 1 FILES BY MATCHES"));
        assert!(t.contains("BY EXT"));
    }

    #[test]
    fn human_or_exact_bytes() {
        let mut a = agg();
        a.totals.bytes = 1_258_291;
        let t = render(&a, &view());
        assert!(t.contains("bytes  1.2 MiB\n"), "{t}");
        assert!(t.contains("10 B"), "{t}");
        let exact = View {
            exact_bytes: true,
            ..view()
        };
        let t = render(&a, &exact);
        assert!(t.contains("bytes  1258291\n"), "{t}");
    }
}
