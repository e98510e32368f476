//! `agora org`, `agora blog --org` and `agora migrate` end to end: the
//! real binary against a real daemon (docs/BLOG.md, "Organizations").
//! An organization is created, a member invited and accepted, an article
//! posted with `--org` shows there and not in the blog without an
//! organization, the last owner cannot step down; `agora migrate`
//! migrates every file of a stopped daemon, reports a corrupt one without
//! hiding the others, and refuses to run under a daemon.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Daemon, Home};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `agora ARGS` in `home` against `daemon` (protocol and HTTP addresses).
fn agora(home: &Home, daemon: &Daemon, args: &[&str], stdin: Option<&str>) -> Output {
    let http = daemon.ready.http.to_string();
    let mut cmd = home.cmd();
    cmd.env("AGORA_ADDR", &daemon.addr)
        .env("AGORA_HTTP", &http)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(std::process::Stdio::piped());
    }
    let mut child = cmd.spawn().expect("spawn agora");
    if let Some(input) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("wait agora")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Fails with exit status 2 and one line on stderr containing `says`.
fn refused(out: &Output, says: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}{}", text(&out.stdout));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(says), "{stderr:?} does not say {says:?}");
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("JSON")
}

#[test]
fn orgcli_members_invitations_roles_and_blog_with_org() {
    let (alice, bob) = (Home::new(), Home::new());
    let daemon = Daemon::start(&alice, &[]);
    alice.register(&daemon.addr, "alice", "alice-password");
    bob.register(&daemon.addr, "bob", "bob-password");

    ok(&agora(
        &alice,
        &daemon,
        &["org", "create", "acme", "--name", "Acme"],
        None,
    ));
    let list = json(&agora(&alice, &daemon, &["--json", "org", "list"], None));
    assert_eq!(list["orgs"][0]["slug"], "acme");
    assert_eq!(list["orgs"][0]["role"], "owner");
    assert_eq!(list["orgs"][0]["name"], "Acme");

    // Invite: the token alone on stdout; bob accepts it.
    let token = ok(&agora(
        &alice,
        &daemon,
        &["org", "invite", "acme", "bob", "--role", "author"],
        None,
    ));
    let token = token.trim();
    assert!(token.len() >= 16 && !token.contains(' '), "{token:?}");
    refused(
        &agora(&alice, &daemon, &["org", "accept", token], None),
        "no such invitation",
    );
    let joined = ok(&agora(&bob, &daemon, &["org", "accept", token], None));
    assert_eq!(joined.trim(), "joined acme as author");
    refused(
        &agora(&bob, &daemon, &["org", "accept", token], None),
        "answered already",
    );
    let members = json(&agora(
        &bob,
        &daemon,
        &["--json", "org", "members", "acme"],
        None,
    ));
    let names: Vec<(&str, &str)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["username"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(names, vec![("alice", "owner"), ("bob", "author")]);

    // Bob posts in acme; acme lists it, the blog without an organization
    // does not.
    ok(&agora(
        &bob,
        &daemon,
        &[
            "blog",
            "--org",
            "acme",
            "post",
            "new",
            "--title",
            "Acme only",
            "--description",
            "d",
        ],
        Some("inside acme"),
    ));
    let page = json(&agora(
        &bob,
        &daemon,
        &["--json", "blog", "--org", "acme", "posts"],
        None,
    ));
    assert_eq!(page["count"], 1, "{page}");
    assert_eq!(page["articles"][0]["slug"], "acme-only");
    let out = agora(&bob, &daemon, &["blog", "posts"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(out.stdout.is_empty());
    let shown = ok(&agora(
        &alice,
        &daemon,
        &["blog", "show", "acme-only", "--org", "acme"],
        None,
    ));
    assert!(shown.contains("inside acme"), "{shown}");
    refused(
        &agora(&alice, &daemon, &["blog", "--org", "nope", "posts"], None),
        "no organization \"nope\"",
    );
    refused(
        &agora(
            &alice,
            &daemon,
            &["blog", "--org", "nope", "show", "x"],
            None,
        ),
        "no organization \"nope\"",
    );

    // The last owner cannot step down, leave, or be removed.
    refused(
        &agora(
            &alice,
            &daemon,
            &["org", "role", "acme", "alice", "viewer"],
            None,
        ),
        "would leave the organization without an owner (transfer ownership first)",
    );
    refused(
        &agora(&alice, &daemon, &["org", "remove", "acme", "alice"], None),
        "without an owner",
    );
    refused(
        &agora(
            &bob,
            &daemon,
            &["org", "role", "acme", "bob", "admin"],
            None,
        ),
        "refused in acme",
    );
    // A transfer, then alice leaves.
    ok(&agora(
        &alice,
        &daemon,
        &["org", "transfer", "acme", "bob"],
        None,
    ));
    ok(&agora(
        &alice,
        &daemon,
        &["org", "remove", "acme", "alice"],
        None,
    ));
    let out = agora(&alice, &daemon, &["org", "list"], None);
    assert_eq!(out.status.code(), Some(1));
    // Deleting asks on a terminal; here, --yes or nothing.
    refused(
        &agora(&bob, &daemon, &["org", "delete", "acme"], None),
        "pass --yes",
    );
    ok(&agora(
        &bob,
        &daemon,
        &["org", "delete", "acme", "--yes"],
        None,
    ));
    refused(
        &agora(&bob, &daemon, &["blog", "--org", "acme", "posts"], None),
        "no organization \"acme\"",
    );
}

#[test]
fn orgcli_migrate_reports_a_corrupt_tenant_file_and_refuses_under_a_daemon() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "alice", "alice-password");
    for org in ["acme", "globex", "initech"] {
        ok(&agora(&home, &daemon, &["org", "create", org], None));
    }
    let data = home.data();
    let data_arg = data.to_str().unwrap().to_owned();
    // Under a running daemon: refused, nothing touched.
    let out = home.run(&["migrate", "--data", &data_arg], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("stop it first"),
        "{}",
        text(&out.stderr)
    );
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(20)).success());

    // globex (id 2) is corrupt; the others are fine.
    let tenants = data.join("tenants");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(tenants.join(format!("2.db{suffix}")));
    }
    std::fs::write(tenants.join("2.db"), vec![0x5a; 4096]).unwrap();
    let out = home.run(&["migrate", "--data", &data_arg], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("migrated 3 of 4 files in ")
            && stdout.trim_end().ends_with("; 1 failed"),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("globex") && stderr.contains("2.db"),
        "{stderr}"
    );

    let out = home.run(&["--json", "migrate", "--data", &data_arg], None);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["migrated"], 3);
    assert_eq!(report["failed"], 1);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    assert_eq!(files[0]["org"], Value::Null, "the shared database first");
    let failed: Vec<&Value> = files.iter().filter(|f| f["ok"] == false).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["org"], "globex");
    assert!(
        failed[0]["error"].as_str().unwrap().contains("2.db"),
        "{report}"
    );

    // Repaired (removed from the organizations by deleting it is not
    // possible offline; restore a good copy instead): all good, exit 0.
    std::fs::copy(tenants.join("1.db"), tenants.join("2.db")).unwrap();
    let out = home.run(&["migrate", "--data", &data_arg], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("migrated 4 files in "));
    // And the daemon starts on it.
    let _daemon = Daemon::start(&home, &[]);
}
