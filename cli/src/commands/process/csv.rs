//! CSV (`--csv`): one row per counted file, or per group with `--group-by`,
//! under a header. The columns are the table's ([`super::output::columns`]):
//! same names, same order. Bytes are exact integers, as in JSON.

use agora::process::aggregate::Aggregate;

use super::output::{Row, View, cell, columns};

/// Appends a field, quoted as RFC 4180 says when it holds a comma, a quote
/// or a line break.
fn field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// The CSV text: rows by path (or `--sort`), or the `--group-by` rows.
pub fn render(agg: &Aggregate, view: &View) -> String {
    let groups = view.groups(agg);
    let files;
    let (by, rows): (_, Vec<Row<'_>>) = match &groups {
        Some((by, g)) => (Some(*by), g.iter().map(Row::Group).collect()),
        None => {
            files = view.file_rows(agg);
            (None, files.iter().map(Row::File).collect())
        }
    };
    let cols = columns(view, by);
    let mut out = String::new();
    for (i, (name, _)) in cols.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(&mut out, name);
    }
    out.push('\n');
    for row in rows {
        for (i, (_, col)) in cols.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, &cell(row, *col, false));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::process::json::tests::agg;

    #[test]
    fn quotes_fields() {
        let view = View {
            regexes: vec!["E,R".into()],
            ..View::default()
        };
        assert_eq!(
            render(&agg(), &view),
            "path,bytes,lines,FATAL,ERROR,WARN,INFO,DEBUG,TRACE,none,\"match:E,R\"\n\
             \"a,b \"\"q\"\".log\",10,2,0,1,0,0,0,0,1,1\n"
        );
    }
}
