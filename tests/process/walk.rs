//! Choosing files: paths, globs, hidden and ignore rules (compared with
//! ripgrep's), symlinks, unreadable files, compressed files.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{
    code, json, process, process_bound_by_permissions, process_in, s, stderr, stdout, tree, write,
};

/// Lists the files `agora process ARGS` counts, run in `dir`, from its CSV.
fn agora_files(dir: &Path, args: &[&str]) -> Vec<String> {
    let mut all = vec!["--csv", "--quiet"];
    all.extend_from_slice(args);
    let o = process_in(dir, &all);
    assert!(code(&o) <= 1, "{args:?}: {}", stderr(&o));
    let mut files: Vec<String> = stdout(&o)
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    files.sort();
    files
}

/// Lists what `rg --files ARGS` lists in `dir`, or `None` without rg.
fn rg_files(dir: &Path, args: &[&str]) -> Option<Vec<String>> {
    let o = Command::new("rg")
        .current_dir(dir)
        .arg("--files")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let mut files: Vec<String> = stdout(&o).lines().map(String::from).collect();
    files.sort();
    Some(files)
}

/// The rules of ripgrep's `-g`, hidden and ignore flags for the same
/// arguments. The expected lists are what `rg --files` (ripgrep 13.0.0)
/// printed on this tree; when rg is installed (CI installs it), the test
/// also compares with the rg at hand.
#[test]
fn file_selection_matches_ripgrep() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join(".git")).unwrap();
    for f in [
        "a.log",
        "sub/b.log",
        "sub/deep/c.log",
        ".hidden.log",
        ".hid/d.log",
        ".hid/e.txt",
        "ignored.log",
        "igdir/f.log",
        "dir.log/inner.txt",
        "notes.txt",
        "app/y.log",
        "app/x/z.log",
        "other/app/w.log",
    ] {
        write(&r.join(f), format!("INFO {f}\n").as_bytes());
    }
    write(&r.join(".gitignore"), b"ignored.log\nigdir/\n");
    let visible = "a.log app/x/z.log app/y.log other/app/w.log sub/b.log sub/deep/c.log";
    let cases: &[(&[&str], String)] = &[
        (&[], format!("{visible} dir.log/inner.txt notes.txt")),
        // An include glob takes hidden and ignored files it matches, but
        // does not open hidden or ignored directories.
        (
            &["-g", "*.log"],
            format!("{visible} .hidden.log ignored.log"),
        ),
        (
            &["-g", "*.log", "--hidden"],
            format!("{visible} .hidden.log ignored.log .hid/d.log"),
        ),
        (
            &["-g", "*.log", "-u"],
            format!("{visible} .hidden.log ignored.log igdir/f.log"),
        ),
        (
            &["-g", "*.log", "-uu"],
            format!("{visible} .hidden.log ignored.log igdir/f.log .hid/d.log"),
        ),
        (
            &["--hidden"],
            format!(
                "{visible} dir.log/inner.txt notes.txt .gitignore .hid/d.log .hid/e.txt .hidden.log"
            ),
        ),
        (
            &["-u"],
            format!("{visible} dir.log/inner.txt notes.txt ignored.log igdir/f.log"),
        ),
        (&["-g", "!*.txt"], visible.to_string()),
        // An exclude glob prunes a directory.
        (
            &["-g", "!sub"],
            "a.log app/x/z.log app/y.log dir.log/inner.txt notes.txt other/app/w.log".into(),
        ),
        (&["-g", "sub/*.log"], "sub/b.log".into()),
        (&["-g", "/app/*.log"], "app/y.log".into()),
        (&["-g", "**/app/*.log"], "app/y.log other/app/w.log".into()),
        // The last matching glob wins.
        (
            &["-g", "*.log", "-g", "!a*"],
            ".hidden.log ignored.log sub/b.log sub/deep/c.log".into(),
        ),
        (
            &["-g", "!a*", "-g", "*.log"],
            ".hidden.log a.log ignored.log sub/b.log sub/deep/c.log".into(),
        ),
        (&["-g", ".*"], ".gitignore .hidden.log".into()),
        (
            &["-g", "*.log", "-g", "!sub/"],
            ".hidden.log a.log app/x/z.log app/y.log ignored.log other/app/w.log".into(),
        ),
        (
            &["-g", "*.log", "--max-depth", "1"],
            ".hidden.log a.log ignored.log".into(),
        ),
        (&["-g", ".hid/*"], "".into()),
    ];
    let rg_at_hand = rg_files(r, &[]).is_some();
    if !rg_at_hand {
        eprintln!("rg is not installed: comparing with recorded listings only");
    }
    for (args, expected) in cases {
        let mut expected: Vec<String> = expected.split_whitespace().map(String::from).collect();
        expected.sort();
        let ours = agora_files(r, args);
        assert_eq!(ours, expected, "agora process {args:?}");
        if let Some(theirs) = rg_files(r, args) {
            assert_eq!(ours, theirs, "agora process {args:?} vs rg --files");
        }
    }
}

#[test]
fn levels_follow_the_rule() {
    let t = tree();
    let r = t.path();
    // Paths are positional; a file given explicitly is always taken.
    let (rc, v) = json(&[s(&r.join("a.log")), s(&r.join("sub")), "--quiet"]);
    assert_eq!(rc, 0);
    assert_eq!(v["partial"], false);
    assert_eq!(v["files"]["found"], 3);
    assert_eq!(v["files"]["processed"], 3);
    assert_eq!(v["lines"], 8);
    let l = &v["levels"];
    assert_eq!(
        l["ERROR"], 2,
        "ERROR_BUDGET and retry_on=ERROR are not ERROR lines"
    );
    assert_eq!(l["WARN"], 1);
    assert_eq!(l["INFO"], 1);
    assert_eq!(l["DEBUG"], 1);
    assert_eq!(l["TRACE"], 1);
    assert_eq!(l["FATAL"], 1);
    assert_eq!(l["none"], 1);
    // The binary file is skipped, the directory named dir.log never read.
    let (_, v) = json(&[
        s(r),
        "-g",
        "*.log",
        "-g",
        "!.*",
        "-g",
        "!ignored.log",
        "--quiet",
    ]);
    assert_eq!(v["files"]["found"], 4);
    assert_eq!(v["files"]["skipped_binary"], 1);
}

#[test]
fn paths_are_positional_with_dir_and_default_to_the_current_directory() {
    let t = tree();
    let r = t.path();
    let found = |dir: &Path, args: &[&str]| {
        let mut all = vec!["--json", "--quiet", "-g", "*.log", "-g", "!bin.log"];
        all.extend_from_slice(args);
        let o = process_in(dir, &all);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["files"]["found"].as_u64().unwrap()
    };
    // Neither a PATH nor --dir: `.`, shown without `./`.
    assert_eq!(found(r, &[]), 5);
    assert_eq!(found(r, &["."]), 5);
    assert_eq!(found(r, &["sub"]), 2);
    assert_eq!(found(r, &["sub", "--dir", "a.log"]), 3);
    // Overlapping paths count a file once.
    assert_eq!(found(r, &[".", "sub", "--dir", "./sub/deep"]), 5);
    let o = process_in(r, &["--csv", "--quiet", "-g", "a.log"]);
    assert_eq!(
        stdout(&o).lines().nth(1).unwrap().split(',').next(),
        Some("a.log")
    );
    // An explicit file is taken whatever the globs, as in ripgrep.
    assert_eq!(found(r, &["notes.txt"]), 1);
}

#[test]
fn short_flags_mean_what_ripgreps_do() {
    let t = tree();
    let r = s(t.path());
    let long = json(&[
        r,
        "--glob",
        "*.log",
        "--workers",
        "2",
        "--follow",
        "--max-depth",
        "2",
        "--regexp",
        "ERR",
        "--quiet",
    ]);
    let short = json(&[
        r, "-g", "*.log", "-j", "2", "-L", "-d", "2", "-e", "ERR", "--quiet",
    ]);
    assert_eq!(long, short);
    assert_eq!(short.1["files"]["found"], 5, "{}", short.1);
    assert_eq!(short.1["matches"][0]["regex"], "ERR");
    // The old names are gone (--pattern is a switch of another command,
    // --match is reserved for globs elsewhere).
    for old in [["--pattern", "*.log"], ["--match", "ERR"]] {
        let o = process(&[r, old[0], old[1], "--quiet"]);
        assert_eq!(code(&o), 2, "{old:?} is rejected");
    }
}

#[test]
fn missing_path_is_a_one_line_error() {
    for args in [
        ["--dir", "/nonexistent/agora-test"],
        [".", "/nonexistent/agora-test"],
    ] {
        let o = process(&[args[0], args[1], "--quiet"]);
        assert_eq!(code(&o), 2);
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("/nonexistent/agora-test: No such file"),
            "{err}"
        );
    }
}

#[test]
fn invalid_regex_and_glob_are_one_line_errors() {
    let t = tree();
    for args in [["-e", "(unclosed"], ["-g", "a["], ["-g", "!"]] {
        let o = process(&[s(t.path()), args[0], args[1], "--quiet"]);
        assert_eq!(code(&o), 2);
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
    let o = process(&[s(t.path()), "-g", "a["]);
    assert!(
        stderr(&o).contains("invalid --glob \"a[\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn symlink_loop_is_reported_not_followed() {
    let t = tree();
    let r = t.path();
    std::os::unix::fs::symlink(r, r.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink(r.join("a.log"), r.join("link.log")).unwrap();
    // Without --follow symlinks are not entered (nor counted as files).
    let (rc, v) = json(&[s(r), "-g", "*.log", "--quiet"]);
    assert_eq!(rc, 0);
    assert_eq!(v["files"]["found"], 6);
    let o = process(&["--json", s(r), "-g", "*.log", "--quiet", "--follow"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"]["found"], 7, "link.log is followed");
    assert!(stderr(&o).contains("symlink loop"), "{}", stderr(&o));
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn unreadable_file_is_reported_and_does_not_stop_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let t = tree();
    let p = t.path().join("sub/secret.log");
    write(&p, b"ERROR secret\n");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o000)).unwrap();
    let o = process_bound_by_permissions(&p, &["--json", s(t.path()), "-g", "*.log", "--quiet"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"]["failed"], 1);
    // a, b, c, .hidden and ignored.log; bin.log is binary.
    assert_eq!(v["files"]["processed"], 5, "the other files were processed");
    assert_eq!(v["levels"]["ERROR"], 4, "secret.log was not counted");
    let err = stderr(&o);
    assert!(
        err.contains("secret.log: Permission denied"),
        "the error path ran: {err}"
    );
}

#[test]
fn decompress_reads_gz() {
    use std::io::Write;
    let t = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"INFO a\nERROR b\nERROR c\n").unwrap();
    write(&t.path().join("old.log.gz"), &gz.finish().unwrap());
    write(&t.path().join("new.log"), b"WARN d\n");
    write(&t.path().join("bad.log.gz"), b"not gzip at all, but text");
    let d = s(t.path());
    let (_, v) = json(&[d, "-g", "*.log", "--quiet"]);
    assert_eq!(v["files"]["found"], 1);
    let o = process(&["--json", d, "-g", "*.log", "--quiet", "--decompress"]);
    assert_eq!(code(&o), 2, "bad.log.gz fails");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"]["found"], 3);
    assert_eq!(v["files"]["failed"], 1);
    assert_eq!(v["levels"]["ERROR"], 2);
    assert_eq!(v["lines"], 4);
}
