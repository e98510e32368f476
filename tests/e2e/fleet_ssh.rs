//! SSH keys across a fleet (docs/FLEET.md, docs/SSH.md): two daemons on
//! one PostgreSQL, a key added through node A signs its owner in with
//! OpenSSH's client on node B; it is one account's fleet-wide, and
//! removing it through B shuts it out of A.

use crate::ssh::{have_ssh, keygen, ssh, text};
use crate::support::{Daemon, Home, postgres_database};

const KEY: &str = "fleet-test-key-0123456789abcdef0123456789";

fn node(home: &Home, url: &str) -> Daemon {
    Daemon::start_env(
        home,
        &["--database", url, "--ssh", "127.0.0.1:0"],
        &[("AGORA_JWT_SECRET", KEY)],
    )
}

fn ssh_port(daemon: &Daemon) -> u16 {
    daemon
        .ready
        .ssh
        .expect("the ready file names the SSH listener")
        .port()
}

fn log_in(home: &Home, addr: &str, name: &str) {
    let out = home.run(
        &["--addr", addr, "login", name, "--password-stdin"],
        Some(&format!("{name}-password\n")),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_key_added_on_one_node_signs_in_over_ssh_on_another() {
    if !have_ssh() {
        return;
    }
    let url = postgres_database();
    let (home_a, home_b) = (Home::new(), Home::new());
    let a = node(&home_a, &url);
    let b = node(&home_b, &url);
    let (port_a, port_b) = (ssh_port(&a), ssh_port(&b));

    // Alice registers on A and binds her key there.
    let alice = Home::new();
    alice.register(&a.addr, "alice", "alice-password");
    let key = keygen(&alice, "alice");
    let public = format!("{}.pub", key.display());
    let out = alice.run(&["--addr", &a.addr, "ssh", "keys", "add", &public], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("added SHA256:"),
        "{}",
        text(&out.stdout)
    );

    // B knows it: OpenSSH signs her in there.
    let out = ssh(&key, port_b, &[], &["whoami"]);
    assert_eq!(text(&out.stdout), "alice\n", "{}", text(&out.stderr));

    // B lists it, used (B noted the sign-in).
    log_in(&alice, &b.addr, "alice");
    let out = alice.run(&["--addr", &b.addr, "--json", "ssh", "keys", "list"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let keys = listed["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{listed}");
    assert!(keys[0]["last_used_ms"].is_u64(), "{listed}");
    let fingerprint = keys[0]["fingerprint"].as_str().unwrap().to_owned();

    // One key, one account, fleet-wide: Bob cannot take it through B.
    let bob = Home::new();
    bob.register(&b.addr, "bob", "bob-password");
    let out = bob.run(&["--addr", &b.addr, "ssh", "keys", "add", &public], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("another account holds that key"),
        "{}",
        text(&out.stderr)
    );

    // Removed through B, it no longer signs in on A.
    let out = alice.run(
        &["--addr", &b.addr, "ssh", "keys", "rm", &fingerprint],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ssh(&key, port_a, &[], &["whoami"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        !text(&out.stdout).contains("alice"),
        "{}",
        text(&out.stdout)
    );
}
