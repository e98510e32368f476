//! End-to-end tests of `agora process`, running the real binary on generated
//! trees in temporary directories.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn agora() -> Command {
    Command::new(env!("CARGO_BIN_EXE_agora"))
}

/// Runs `agora process ARGS` and returns the output.
fn process(args: &[&str]) -> Output {
    agora()
        .arg("process")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run agora")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs with `--json` and parses the document.
fn json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let o = process(&all);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}\nstderr: {}", stdout(&o), stderr(&o)));
    (code(&o), v)
}

fn write(path: &Path, content: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A tree with nested dirs, hidden files, a .gitignore inside a git repo, a
/// binary file and a directory that match the pattern, and a non-matching file.
fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(
        &r.join("a.log"),
        b"2024-01-01 INFO start\n2024-01-01 ERROR boom\n",
    );
    write(
        &r.join("sub/b.log"),
        b"[WARN] x\r\n[ERROR] y\r\nERROR_BUDGET 1\nDEBUG retry_on=ERROR",
    );
    write(
        &r.join("sub/deep/er/c.log"),
        b"level=TRACE msg=a\nlevel=FATAL msg=b\n",
    );
    write(&r.join(".hidden.log"), b"ERROR hidden\n");
    write(&r.join(".hid/d.log"), b"ERROR in hidden dir\n");
    write(&r.join("ignored.log"), b"ERROR ignored\n");
    write(&r.join(".gitignore"), b"ignored.log\n");
    fs::create_dir_all(r.join(".git")).unwrap();
    write(&r.join("bin.log"), b"ERROR \0 binary\n");
    fs::create_dir_all(r.join("dir.log")).unwrap();
    write(&r.join("dir.log/inner.txt"), b"ERROR not a log\n");
    write(&r.join("notes.txt"), b"ERROR not a log\n");
    t
}

#[test]
fn default_walk_respects_hidden_and_gitignore() {
    let t = tree();
    let (rc, v) = json(&["--dir", s(t.path()), "--pattern", "*.log", "--quiet"]);
    assert_eq!(rc, 0);
    assert_eq!(v["partial"], false);
    // a.log, sub/b.log, sub/deep/er/c.log and the binary bin.log; not the
    // hidden ones, not the ignored one, not the directory dir.log.
    assert_eq!(v["files"]["found"], 4);
    assert_eq!(v["files"]["processed"], 3);
    assert_eq!(v["files"]["skipped_binary"], 1);
    assert_eq!(v["files"]["failed"], 0);
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
}

#[test]
fn hidden_and_no_ignore_flags() {
    let t = tree();
    let d = s(t.path());
    let found = |extra: &[&str]| {
        let mut args = vec!["--dir", d, "--pattern", "*.log", "--quiet"];
        args.extend_from_slice(extra);
        json(&args).1["files"]["found"].as_u64().unwrap()
    };
    assert_eq!(found(&[]), 4);
    assert_eq!(found(&["--hidden"]), 6);
    assert_eq!(found(&["--no-ignore"]), 5);
    assert_eq!(found(&["-u"]), 5);
    assert_eq!(found(&["--hidden", "--no-ignore"]), 7);
    assert_eq!(found(&["-uu"]), 7);
    assert_eq!(found(&["-uu", "--max-depth", "1"]), 4);
    assert_eq!(found(&["-uu", "--pattern", "!b*"]), 5);
    // A glob with a `/` is matched against the path below --dir.
    assert_eq!(
        found(&["-uu", "--pattern", "sub/**/*.log", "--pattern", "!*.log"]),
        0
    );
    let (_, v) = json(&["--dir", d, "--pattern", "sub/*.log", "--quiet"]);
    assert_eq!(v["files"]["found"], 1);
}

#[test]
fn missing_dir_is_a_one_line_error() {
    let o = process(&["--dir", "/nonexistent/agora-test", "--quiet"]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/agora-test"), "{err}");
}

#[test]
fn invalid_regex_and_glob_are_one_line_errors() {
    let t = tree();
    for args in [["--match", "(unclosed"], ["--pattern", "a[b"]] {
        let o = process(&["--dir", s(t.path()), args[0], args[1], "--quiet"]);
        assert_eq!(code(&o), 2);
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
    let o = process(&["--dir", s(t.path()), "--csv", "--quiet"]);
    assert_eq!(code(&o), 0);
    let o = agora()
        .args([
            "--json",
            "process",
            "--dir",
            s(t.path()),
            "--csv",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "--csv with --json is refused");
}

#[test]
fn nothing_matched_exits_1() {
    let t = tree();
    let o = process(&["--dir", s(t.path()), "--pattern", "*.nothing", "--quiet"]);
    assert_eq!(code(&o), 1);
}

#[test]
fn symlink_loop_is_reported_not_followed() {
    let t = tree();
    let r = t.path();
    std::os::unix::fs::symlink(r, r.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink(r.join("a.log"), r.join("link.log")).unwrap();
    // Without --follow symlinks are not entered (nor counted as files).
    let (rc, v) = json(&["--dir", s(r), "--pattern", "*.log", "--quiet"]);
    assert_eq!(rc, 0);
    assert_eq!(v["files"]["found"], 4);
    let o = process(&[
        "--json",
        "--dir",
        s(r),
        "--pattern",
        "*.log",
        "--quiet",
        "--follow",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"]["found"], 5, "link.log is followed");
    assert!(stderr(&o).contains("symlink loop"), "{}", stderr(&o));
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
}

/// Runs `agora process ARGS` so that file permissions apply to it, whoever
/// runs the tests. `probe` is a file of mode 000: when this process can open
/// it anyway (root, or any process with CAP_DAC_OVERRIDE, as in CI), the
/// child runs through setpriv(1) with every capability dropped: the same
/// user, so it can still reach the binary under a private $HOME, but bound
/// by the permission bits like anyone else. Otherwise it runs as is.
fn process_bound_by_permissions(probe: &Path, args: &[&str]) -> Output {
    let mut cmd = if fs::File::open(probe).is_ok() {
        let mut c = Command::new("setpriv");
        c.args(["--inh-caps=-all", "--bounding-set=-all", "--"])
            .arg(env!("CARGO_BIN_EXE_agora"));
        c
    } else {
        agora()
    };
    let o = cmd
        .arg("process")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run agora (setpriv is in util-linux)");
    assert!(
        !stderr(&o).starts_with("setpriv:"),
        "setpriv failed: {}",
        stderr(&o)
    );
    o
}

#[test]
fn unreadable_file_is_reported_and_does_not_stop_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let t = tree();
    let p = t.path().join("sub/secret.log");
    write(&p, b"ERROR secret\n");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o000)).unwrap();
    let o = process_bound_by_permissions(
        &p,
        &[
            "--json",
            "--dir",
            s(t.path()),
            "--pattern",
            "*.log",
            "--quiet",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"]["failed"], 1);
    assert_eq!(v["files"]["processed"], 3, "the other files were processed");
    assert_eq!(v["levels"]["ERROR"], 2, "secret.log was not counted");
    let err = stderr(&o);
    assert!(
        err.contains("secret.log: Permission denied"),
        "the error path ran: {err}"
    );
}

/// A tree of many files, some big enough to be split into chunks.
fn many() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let levels = ["INFO", "ERROR", "WARN", "DEBUG", "TRACE", "FATAL", "-"];
    for f in 0..60 {
        let mut body = String::new();
        let lines = if f % 10 == 0 { 3000 } else { f * 7 };
        for i in 0..lines {
            let l = levels[(i * 31 + f) % levels.len()];
            body.push_str(&format!(
                "2024-01-01T00:00:{:02} {l} worker-{} request {i} took {}ms\n",
                i % 60,
                f % 4,
                i % 97
            ));
        }
        if f % 3 == 0 {
            body.push_str("ERROR last line without newline");
        }
        write(
            &t.path().join(format!("d{}/e{}/f{f}.log", f % 5, f % 2)),
            body.as_bytes(),
        );
    }
    t
}

#[test]
fn results_identical_whatever_the_workers() {
    let t = many();
    let d = s(t.path());
    let base = [
        "--dir",
        d,
        "--pattern",
        "*.log",
        "--quiet",
        "--words",
        "--match",
        "took 1",
        "--match",
        "r.q",
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let o = process(&args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    };
    for fmt in [&["--csv"][..], &["--top", "5", "--group-by", "dir"][..]] {
        let one = run(&[fmt, &["--workers", "1"]].concat());
        let eight = run(&[fmt, &["--workers", "8"]].concat());
        assert_eq!(one, eight);
        // Tiny chunks: every file is split at offsets inside lines.
        let chunked = run(&[fmt, &["--workers", "8", "--debug-chunk-size", "1000"]].concat());
        assert_eq!(one, chunked);
    }
    let (_, a) = json(&[&base[..], &["--workers", "1"]].concat());
    let (_, b) = json(&[&base[..], &["--workers", "8", "--debug-chunk-size", "333"]].concat());
    assert_eq!(a, b);
    assert_eq!(a["files"]["found"], 60);
}

#[test]
fn state_resume_after_interruption_equals_full_run() {
    let t = many();
    let d = s(t.path());
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("state.jsonl");
    let st = s(&state);
    let common = ["--dir", d, "--pattern", "*.log", "--quiet", "--words"];
    let full = process(&[&common[..], &["--csv"]].concat());
    assert_eq!(code(&full), 0);

    // Interrupted after 10 files (deterministic stand-in for Ctrl-C).
    let first = process(
        &[
            &common[..],
            &["--state", st, "--workers", "1", "--debug-stop-after", "10"],
        ]
        .concat(),
    );
    assert_eq!(code(&first), 130, "{}", stderr(&first));
    assert!(stdout(&first).starts_with("PARTIAL"), "{}", stdout(&first));
    let recorded = fs::read_to_string(&state).unwrap().lines().count() - 1;
    assert!(recorded >= 10, "{recorded} entries recorded");

    // The rerun reads only the rest and reports the combined aggregate.
    let (rc, v) = json(&[&common[..], &["--state", st]].concat());
    assert_eq!(rc, 0);
    assert_eq!(v["partial"], false);
    assert_eq!(v["files"]["reused"].as_u64().unwrap(), recorded as u64);
    assert_eq!(
        v["files"]["processed"].as_u64().unwrap(),
        60 - recorded as u64
    );
    let resumed = process(&[&common[..], &["--state", st, "--csv"]].concat());
    assert_eq!(stdout(&resumed), stdout(&full));
    let (_, full_json) = json(&common);
    for k in ["bytes", "lines", "words", "levels"] {
        assert_eq!(v[k], full_json[k], "{k}");
    }

    // Incremental: only the changed file is read again.
    let changed = t.path().join("d1/e1/f1.log");
    write(&changed, b"ERROR changed\n");
    let (_, v) = json(&[&common[..], &["--state", st]].concat());
    assert_eq!(v["files"]["processed"], 1);
    assert_eq!(v["files"]["reused"], 59);
    let fresh = process(&[&common[..], &["--csv"]].concat());
    let again = process(&[&common[..], &["--state", st, "--csv"]].concat());
    assert_eq!(stdout(&again), stdout(&fresh));

    // Other counting options: the state is not reused.
    let (_, v) = json(&["--dir", d, "--pattern", "*.log", "--quiet", "--state", st]);
    assert_eq!(v["files"]["reused"], 0);
}

#[test]
fn state_refuses_a_foreign_file() {
    let t = tree();
    let f = t.path().join("notes.txt");
    let o = process(&["--dir", s(t.path()), "--quiet", "--state", s(&f)]);
    assert_eq!(code(&o), 2);
    assert_eq!(fs::read(&f).unwrap(), b"ERROR not a log\n");
}

#[test]
fn ctrl_c_prints_partial_aggregate_and_exits_130() {
    let t = many();
    let state_dir = tempfile::tempdir().unwrap();
    let state: PathBuf = state_dir.path().join("state.jsonl");
    // 60 files at 100 ms each take 6 s with one worker: the signal, sent
    // once the first file is recorded, always lands in the middle.
    let child = agora()
        .args([
            "process",
            "--dir",
            s(t.path()),
            "--pattern",
            "*.log",
            "--quiet",
            "--workers",
            "1",
        ])
        .args(["--debug-file-delay-ms", "100", "--state", s(&state)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let entries = fs::read_to_string(&state).map_or(0, |c| c.lines().count().saturating_sub(1));
        if entries > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no file was recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped promptly"
    );
    assert_eq!(code(&o), 130, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("PARTIAL RESULTS"), "{}", stdout(&o));
    assert!(stderr(&o).contains("partial"));
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
    let (_, v) = json(&["--dir", d, "--pattern", "*.log", "--quiet"]);
    assert_eq!(v["files"]["found"], 1);
    let o = process(&[
        "--json",
        "--dir",
        d,
        "--pattern",
        "*.log",
        "--quiet",
        "--decompress",
    ]);
    assert_eq!(code(&o), 2, "bad.log.gz fails");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"]["found"], 3);
    assert_eq!(v["files"]["failed"], 1);
    assert_eq!(v["levels"]["ERROR"], 2);
    assert_eq!(v["lines"], 4);
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
    let (_, v) = json(&["--dir", d, "--quiet", "--top", "2"]);
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
    let (_, v) = json(&[
        "--dir",
        d,
        "--quiet",
        "--group-by",
        "ext",
        "--sort",
        "lines",
    ]);
    let keys: Vec<&str> = v["groups"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["log", "txt"]);
    let o = process(&["--dir", d, "--quiet", "--csv", "--sort", "lines"]);
    let csv = stdout(&o);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "path,bytes,lines,words,FATAL,ERROR,WARN,INFO,DEBUG,TRACE,none"
    );
    assert!(
        lines[1].contains("four.log") && lines[1].contains(",4,"),
        "{csv}"
    );
    assert_eq!(lines.len(), 5);
    let o = process(&[
        "--dir",
        d,
        "--quiet",
        "--group-by",
        "level",
        "--top",
        "1",
        "--match",
        "a$",
    ]);
    let table = stdout(&o);
    assert!(
        table.contains("BY LEVEL") && table.contains("TOP 1 FILES BY MATCHES"),
        "{table}"
    );
}
