//! Counting: the same numbers whatever the workers and chunks, resuming
//! with `--state`, and Ctrl-C.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{agora, code, json, json_with, process, process_with, s, stderr, stdout, tree, write};

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
        d, "-g", "*.log", "--quiet", "--words", "-e", "took 1", "-e", "r.q",
    ];
    let run = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let o = process_with(env, &args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    };
    for fmt in [&["--csv"][..], &["--top", "5", "--group-by", "dir"][..]] {
        let one = run(&[], &[fmt, &["--workers", "1"]].concat());
        let eight = run(&[], &[fmt, &["--workers", "8"]].concat());
        assert_eq!(one, eight);
        // Tiny chunks: every file is split at offsets inside lines.
        let chunked = run(
            &[("AGORA_TEST_CHUNK_SIZE", "1000")],
            &[fmt, &["--workers", "8"]].concat(),
        );
        assert_eq!(one, chunked);
    }
    let (_, a) = json(&[&base[..], &["--workers", "1"]].concat());
    let (_, b) = json_with(
        &[("AGORA_TEST_CHUNK_SIZE", "333")],
        &[&base[..], &["--workers", "8"]].concat(),
    );
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
    let common = [d, "-g", "*.log", "--quiet", "--words"];
    let full = process(&[&common[..], &["--csv"]].concat());
    assert_eq!(code(&full), 0);

    // Interrupted after 10 files (deterministic stand-in for Ctrl-C).
    let first = process_with(
        &[("AGORA_TEST_STOP_AFTER", "10")],
        &[&common[..], &["--state", st, "--workers", "1"]].concat(),
    );
    assert_eq!(code(&first), 130, "{}", stderr(&first));
    assert!(stdout(&first).starts_with("PARTIAL"), "{}", stdout(&first));
    let recorded = fs::read_to_string(&state).unwrap().lines().count() - 1;
    assert!(recorded >= 10, "{recorded} entries recorded");
    // A JSON Lines stream: every line says what it is.
    let text = fs::read_to_string(&state).unwrap();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let want = if i == 0 { "header" } else { "file" };
        assert_eq!(v["type"], want, "line {i}: {line}");
    }

    // The rerun reads only the rest and reports the combined aggregate.
    let (rc, v) = json(&[&common[..], &["--state", st]].concat());
    assert_eq!(rc, 0);
    assert_eq!(v["partial"], false);
    assert_eq!(v["files"]["reused"].as_u64().unwrap(), recorded as u64);
    // Processed counts the reused files too, so the counts add up.
    assert_eq!(v["files"]["processed"], 60);
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
    assert_eq!(v["files"]["processed"], 60);
    assert_eq!(v["files"]["reused"], 59, "only the changed file was read");
    let fresh = process(&[&common[..], &["--csv"]].concat());
    let again = process(&[&common[..], &["--state", st, "--csv"]].concat());
    assert_eq!(stdout(&again), stdout(&fresh));

    // Other counting options: the state is not reused.
    let (_, v) = json(&[d, "-g", "*.log", "--quiet", "--state", st]);
    assert_eq!(v["files"]["reused"], 0);
}

#[test]
fn state_refuses_a_foreign_file() {
    let t = tree();
    let f = t.path().join("notes.txt");
    let o = process(&[s(t.path()), "--quiet", "--state", s(&f)]);
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
            s(t.path()),
            "-g",
            "*.log",
            "--quiet",
            "--workers",
            "1",
        ])
        .env("AGORA_TEST_FILE_DELAY_MS", "100")
        .args(["--state", s(&state)])
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
