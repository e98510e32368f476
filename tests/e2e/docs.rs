//! The man pages in `man/` match the CLI.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::Home;

fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".1"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn man_pages_are_up_to_date() {
    let home = Home::new();
    let fresh = home.path().join("man");
    let out = home.run(&["man", fresh.to_str().unwrap()], None);
    assert!(out.status.success());
    let generated = read_dir(&fresh);
    let committed = read_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../man"));
    let hint = "man/ is out of date with the CLI: run `cargo run -- man man` and commit the result";
    assert_eq!(
        generated.keys().collect::<Vec<_>>(),
        committed.keys().collect::<Vec<_>>(),
        "{hint}"
    );
    for (name, body) in &generated {
        assert!(committed[name] == *body, "{name}: {hint}");
    }
    for page in [
        "agora.1",
        "agora-up.1",
        "agora-daemon.1",
        "agora-ping.1",
        "agora-bench-ping.1",
    ] {
        assert!(generated.contains_key(page), "missing {page}");
    }
}
