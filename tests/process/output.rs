//! What is printed: the table, JSON and CSV, and the exit status.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::{code, json, process, process_bound_by_permissions, s, stderr, stdout, tree, write};

#[test]
fn nothing_found_prints_nothing_and_exits_1() {
    let t = tree();
    let d = s(t.path());
    for extra in [&[][..], &["--csv"], &["--top", "3", "--group-by", "dir"]] {
        let mut args = vec![d, "-g", "*.nothing"];
        args.extend_from_slice(extra);
        let o = process(&args);
        assert_eq!(code(&o), 1, "{extra:?}");
        assert_eq!(stdout(&o), "", "no table of zeros with {extra:?}");
        assert_eq!(stderr(&o), "agora: no file matched\n");
        args.push("--quiet");
        assert_eq!(stderr(&process(&args)), "", "--quiet");
    }
    // JSON: the usual document with zero counts and empty lists.
    let (rc, v) = json(&[d, "-g", "*.nothing", "--quiet", "--top", "3", "-e", "x"]);
    assert_eq!(rc, 1);
    assert_eq!(v["partial"], false);
    for k in [
        "found",
        "processed",
        "reused",
        "skipped_binary",
        "failed",
        "unfinished",
    ] {
        assert_eq!(v["files"][k], 0, "{k}");
    }
    assert_eq!(v["bytes"], 0);
    assert_eq!(v["levels"]["none"], 0);
    assert_eq!(v["matches"][0]["count"], 0);
    assert_eq!(v["top"]["files"], Value::Array(vec![]));
    assert!(v["groups"].is_null());
    assert_eq!(v["failures"], Value::Array(vec![]));
}

/// found = processed + skipped + failed (+ unfinished), in the JSON, the
/// table and the summary on stderr that goes with CSV; a directory the walk
/// cannot read is a failure of its own kind, not a file.
#[test]
fn file_counts_add_up_in_every_format() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(&r.join("ok1.log"), b"INFO a\n");
    write(&r.join("sub/ok2.log"), b"ERROR b\n");
    write(&r.join("bin.log"), b"ERROR \0\n");
    write(&r.join("secret.log"), b"ERROR c\n");
    write(&r.join("locked/x.log"), b"ERROR d\n");
    let secret = r.join("secret.log");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(r.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("state");
    let run = |extra: &[&str]| {
        let mut args = vec![s(r), "--state", s(&state)];
        args.extend_from_slice(extra);
        process_bound_by_permissions(&secret, &args)
    };

    for round in ["first", "reusing the state"] {
        let o = run(&["--json"]);
        assert_eq!(code(&o), 2, "{round}: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let f = &v["files"];
        let n = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(
            (n("found"), n("processed"), n("skipped_binary"), n("failed")),
            (4, 2, 1, 1),
            "{round}: {v}"
        );
        assert_eq!(
            n("found"),
            n("processed") + n("skipped_binary") + n("failed") + n("unfinished")
        );
        let reused = if round == "first" { 0 } else { 2 };
        assert_eq!(n("reused"), reused, "{round}");
        let kinds: Vec<&str> = (v["failures"].as_array().unwrap().iter())
            .map(|f| f["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["walk", "file"], "{round}: {v}");
    }

    let o = run(&[]);
    let table = stdout(&o);
    assert!(
        table.starts_with(
            "files  4 found: 2 processed (2 reused from state), 1 skipped (binary), 1 failed\n"
        ),
        "{table}"
    );
    assert!(
        table.contains("\nwalk   1 error(s) reading directories"),
        "{table}"
    );
    let o = run(&["--csv"]);
    assert_eq!(
        stdout(&o).lines().count(),
        1 + 2,
        "a row per processed file"
    );
    let summary = stderr(&o).lines().last().unwrap().to_string();
    assert!(
        summary.starts_with(
            "agora: files 4 found: 2 processed (2 reused from state), 1 skipped (binary), 1 failed; "
        ),
        "{summary}"
    );
}

#[test]
fn sizes_are_human_in_the_table_and_exact_elsewhere() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let line = b"2024-01-01 INFO a line of exactly 40 B.\n";
    write(&r.join("big.log"), &line.repeat(31_458)); // 1,258,320 bytes
    write(&r.join("small.log"), b"ERROR x\n");
    let d = s(r);
    let table = stdout(&process(&[d, "--quiet", "--top", "2"]));
    assert!(table.contains("\nbytes  1.2 MiB\n"), "{table}");
    assert!(
        table.contains("1.2 MiB") && table.contains("8 B"),
        "{table}"
    );
    let exact = stdout(&process(&[d, "--quiet", "--top", "2", "--bytes"]));
    assert!(exact.contains("\nbytes  1258328\n"), "{exact}");
    assert!(
        exact.contains("1258320") && !exact.contains("MiB"),
        "{exact}"
    );
    let (_, v) = json(&[d, "--quiet", "--top", "1"]);
    assert_eq!(v["bytes"], 1_258_328);
    assert_eq!(v["top"]["files"][0]["bytes"], 8);
    let csv = stdout(&process(&[d, "--quiet", "--csv"]));
    assert!(csv.contains("big.log,1258320,"), "{csv}");
    // --max-filesize takes the sizes of every size flag of agora.
    for size in ["1MiB", "1M", "1mb", "1048576", "1024KiB"] {
        let (_, v) = json(&[d, "--quiet", "--max-filesize", size]);
        assert_eq!(v["files"]["found"], 1, "--max-filesize {size}");
    }
    let o = process(&[d, "--quiet", "--max-filesize", "1T"]);
    assert_eq!(code(&o), 2);
}

/// The header of the table's file and group rows is the CSV header.
#[test]
fn csv_columns_are_the_tables() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(&r.join("x/one.log"), b"ERROR a\nERROR b\nINFO c\n");
    write(&r.join("y/two.log"), b"WARN a\n");
    let d = s(r);
    let header_after = |table: &str, title: &str| -> Vec<String> {
        let mut lines = table.lines().skip_while(|l| !l.starts_with(title));
        lines
            .next()
            .unwrap_or_else(|| panic!("no {title} in {table}"));
        lines
            .next()
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let csv_header = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![d, "--quiet", "--csv"];
        args.extend_from_slice(extra);
        let out = stdout(&process(&args));
        out.lines()
            .next()
            .unwrap()
            .split(',')
            .map(String::from)
            .collect()
    };
    for extra in [&[][..], &["--words", "-e", "ERR", "-e", "WARN"]] {
        let mut args = vec![d, "--quiet", "--top", "9", "--group-by", "dir"];
        args.extend_from_slice(extra);
        let table = stdout(&process(&args));
        let files = header_after(&table, "TOP ");
        assert_eq!(files, csv_header(extra), "{table}");
        assert_eq!(files[0], "path");
        let groups = header_after(&table, "BY DIR");
        let by_dir = [&["--group-by", "dir"][..], extra].concat();
        assert_eq!(groups, csv_header(&by_dir), "{table}");
    }
    let table = stdout(&process(&[d, "--quiet", "--group-by", "level"]));
    assert_eq!(
        header_after(&table, "BY LEVEL"),
        ["level", "files", "lines"]
    );
    assert_eq!(
        csv_header(&["--group-by", "level"]),
        ["level", "files", "lines"]
    );
}

/// Every number in the JSON document is an integer: counts and sizes are
/// exact, and there are no timings.
#[test]
fn json_numbers_are_integers() {
    fn check(v: &Value, at: &str) {
        match v {
            Value::Number(n) => assert!(n.is_u64(), "{at} = {n}"),
            Value::Array(a) => a.iter().for_each(|x| check(x, at)),
            Value::Object(o) => o.iter().for_each(|(k, x)| check(x, &format!("{at}.{k}"))),
            _ => {}
        }
    }
    let t = tree();
    let (_, v) = json(&[
        s(t.path()),
        "--quiet",
        "--words",
        "-e",
        "ERR",
        "--top",
        "3",
        "--group-by",
        "ext",
    ]);
    check(&v, "");
    assert!(v["bytes"].is_u64() && v["files"]["found"].is_u64());
}

#[test]
fn top_group_sort_and_csv() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(&r.join("x/one.log"), b"ERROR a\nERROR b\nINFO c\n");
    write(&r.join("x/two.txt"), b"ERROR a\n");
    write(&r.join("y/three.log"), b"ERROR a\nERROR b\n");
    write(&r.join("y/four.log"), b"INFO a\nINFO b\nINFO c\nINFO d\n");
    let d = s(r);
    let (_, v) = json(&[d, "--quiet", "--top", "2"]);
    let top: Vec<&str> = v["top"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(top.len(), 2);
    assert!(
        top[0].ends_with("x/one.log") && top[1].ends_with("y/three.log"),
        "{top:?}"
    );
    let (_, v) = json(&[d, "--quiet", "--group-by", "ext", "--sort", "lines"]);
    let keys: Vec<&str> = v["groups"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["log", "txt"]);
    let o = process(&[d, "--quiet", "--csv", "--sort", "lines"]);
    let csv = stdout(&o);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "path,bytes,lines,FATAL,ERROR,WARN,INFO,DEBUG,TRACE,none"
    );
    assert!(
        lines[1].contains("four.log") && lines[1].contains(",4,"),
        "{csv}"
    );
    assert_eq!(lines.len(), 5);
    let o = process(&[
        d,
        "--quiet",
        "--group-by",
        "level",
        "--top",
        "1",
        "-e",
        "a$",
    ]);
    let table = stdout(&o);
    assert!(
        table.contains("BY LEVEL") && table.contains("TOP 1 FILES BY MATCHES"),
        "{table}"
    );
}

/// Values that used to be clamped or silently ignored are refused with one
/// line on stderr and exit 2.
#[test]
fn bad_values_are_one_line_errors() {
    let t = tree();
    let d = s(t.path());
    let cases: &[&[&str]] = &[
        &["--top", "0"],
        &["--top", "3", "--csv"],
        &["-j", "0"],
        &["--workers", "1025"],
        &["--bytes", "--csv"],
        &["--bytes", "--json"],
        &["--count-matches"],
        &["--sort", "lines"],
        &["--sort", "words", "--top", "3"],
        &["--sort", "matches", "--top", "3"],
        &["--sort", "files", "--top", "3"],
        &["--sort", "bytes", "--group-by", "level"],
        &["--csv", "--json"],
    ];
    for args in cases {
        let o = process(&[&[d, "--quiet"], *args].concat());
        assert_eq!(code(&o), 2, "{args:?}: {}", stdout(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("agora: -"), "{args:?}: {err}");
        assert_eq!(stdout(&o), "", "{args:?}");
    }
    // What is allowed still is.
    for args in [
        &["--top", "1", "--sort", "lines"][..],
        &["--csv", "--sort", "bytes"],
        &["--group-by", "level", "--sort", "files"],
        &["--group-by", "dir", "--sort", "files", "--csv"],
        &["--bytes"],
        &["-j", "1024"],
    ] {
        let o = process(&[&[d, "--quiet"], args].concat());
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
}
