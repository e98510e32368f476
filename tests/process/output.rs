//! What is printed: the table, JSON and CSV, and the exit status.

use crate::{code, json, process, s, stdout, tree, write};

#[test]
fn nothing_matched_exits_1() {
    let t = tree();
    let o = process(&[s(t.path()), "-g", "*.nothing", "--quiet"]);
    assert_eq!(code(&o), 1);
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
        "path,bytes,lines,words,FATAL,ERROR,WARN,INFO,DEBUG,TRACE,none"
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
