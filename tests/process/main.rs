//! End-to-end tests of `agora process`, running the real binary on generated
//! trees in temporary directories: choosing files (`walk`), counting and
//! resuming (`counts`), and what is printed (`output`).

mod counts;
mod output;
mod walk;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub fn agora() -> Command {
    Command::new(env!("CARGO_BIN_EXE_agora"))
}

/// Runs `agora process ARGS` and returns the output.
pub fn process(args: &[&str]) -> Output {
    process_with(&[], args)
}

/// Runs `agora process ARGS` with extra environment variables (the test
/// hooks `AGORA_TEST_CHUNK_SIZE`, `AGORA_TEST_STOP_AFTER`,
/// `AGORA_TEST_FILE_DELAY_MS`, which are not command-line flags).
pub fn process_with(env: &[(&str, &str)], args: &[&str]) -> Output {
    agora()
        .arg("process")
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run agora")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs with `--json` and parses the document.
pub fn json(args: &[&str]) -> (i32, Value) {
    json_with(&[], args)
}

/// [`json`] with extra environment variables.
pub fn json_with(env: &[(&str, &str)], args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let o = process_with(env, &all);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}\nstderr: {}", stdout(&o), stderr(&o)));
    (code(&o), v)
}

pub fn write(path: &Path, content: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A tree with nested dirs, hidden files, a .gitignore inside a git repo, a
/// binary file and a directory that match the pattern, and a non-matching file.
pub fn tree() -> tempfile::TempDir {
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

/// Runs `agora process ARGS` in `dir`.
pub fn process_in(dir: &Path, args: &[&str]) -> Output {
    agora()
        .current_dir(dir)
        .arg("process")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run agora")
}

/// Runs `agora process ARGS` so that file permissions apply to it, whoever
/// runs the tests. `probe` is a file of mode 000: when this process can open
/// it anyway (root, or any process with CAP_DAC_OVERRIDE, as in CI), the
/// child runs through setpriv(1) with every capability dropped: the same
/// user, so it can still reach the binary under a private $HOME, but bound
/// by the permission bits like anyone else. Otherwise it runs as is.
pub fn process_bound_by_permissions(probe: &Path, args: &[&str]) -> Output {
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
