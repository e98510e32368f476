//! Deployment: the daemon's config file (`--config`, `agora config
//! check`).

use std::time::Duration;

use agora_wire::{BaseOp, ErrorCode, ServerFrame};

use crate::support::{Daemon, Home, rt};

/// Whether a 2 KiB frame header is refused as too large by `daemon`.
fn refuses_2kib(daemon: &Daemon) -> bool {
    rt().block_on(async {
        let mut raw = daemon.raw().await;
        raw.send_bytes(&2048u32.to_be_bytes()).await;
        let answer = tokio::time::timeout(Duration::from_millis(500), raw.next()).await;
        let refused = matches!(
            answer,
            Ok(Some(ServerFrame::Goodbye { ref error })) if error.code == ErrorCode::TooLarge
        );
        // The daemon still serves.
        daemon
            .client(None)
            .await
            .request(BaseOp::Ping)
            .await
            .unwrap();
        refused
    })
}

#[test]
fn a_config_file_sits_under_flags_and_environment_and_over_defaults() {
    let home = Home::new();
    let file = home.path().join("agora.toml");
    // `listen` is nonsense, but the harness's --listen flag overrides it.
    std::fs::write(
        &file,
        "# agora daemon settings\nlisten = \"nowhere\"\nmax_frame = \"1KiB\"\ncache_persist = true\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let from_file = Daemon::start(&home, &["--config", path]);
    assert!(refuses_2kib(&from_file), "the file's max_frame applies");
    drop(from_file);

    let other = Home::new();
    let env = Daemon::start_env(
        &other,
        &[],
        &[("AGORA_CONFIG", path), ("AGORA_MAX_FRAME", "64KiB")],
    );
    assert!(!refuses_2kib(&env), "AGORA_MAX_FRAME overrides the file");
    drop(env);
    let defaults = Daemon::start(&Home::new(), &[]);
    assert!(
        !refuses_2kib(&defaults),
        "without the file: the default 8MiB"
    );
}

#[test]
fn a_wrong_config_file_stops_the_daemon_with_the_key_named() {
    let home = Home::new();
    let file = home.path().join("agora.toml");
    let path = file.to_str().unwrap();
    let cases = [
        ("max_frme = \"1KiB\"\n", "unknown key `max_frme`"),
        ("max-frame = \"1KiB\"\n", "`max_frame`"),
        ("max_frame = \"lots\"\n", "max_frame: invalid value 'lots'"),
        ("cache_persist = \"yes\"\n", "cache_persist: a switch"),
        ("listen = [\"a\", \"b\"]\n", "listen: takes one value"),
        ("max_frame = \n", "(line 1)"),
        ("node_id = \"n1\"\n", "--cluster"),
        ("json = true\n", "unknown key `json`"),
    ];
    for (text, says) in cases {
        std::fs::write(&file, text).unwrap();
        for args in [
            vec![
                "daemon",
                "--config",
                path,
                "--data",
                "d",
                "--listen",
                "127.0.0.1:0",
            ],
            vec!["config", "check", path],
        ] {
            let out = home.run(&args, None);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{text}: {err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(err.starts_with(&format!("agora: {path}")), "{err}");
            assert!(err.contains(says), "{text}: {err}");
        }
    }
    let out = home.run(&["config", "check", "/nonexistent/agora.toml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config file"));
}

#[test]
fn config_check_prints_the_effective_settings_with_secrets_masked() {
    let home = Home::new();
    let file = home.path().join("agora.toml");
    std::fs::write(
        &file,
        "database = \"postgres://agora:pa55word@db:5432/agora\"\nmax_frame = \"1MiB\"\n\
         cluster = \"c1\"\nseeds = [\"a:7946\", \"b:7946\"]\ncache_persist = true\nhttp = \"0.0.0.0:80\"\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let mut cmd = home.cmd();
    cmd.args(["config", "check", path, "--json"])
        .env("AGORA_HTTP", "127.0.0.1:8080")
        .env("AGORA_JWT_SECRET", "a-very-secret-signing-key-of-32-bytes");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("pa55word") && !text.contains("a-very-secret"),
        "{text}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let setting = |key: &str| {
        doc["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {doc}"))
            .clone()
    };
    let pair = |key: &str| {
        let s = setting(key);
        (s["value"].clone(), s["source"].as_str().unwrap().to_owned())
    };
    assert_eq!(doc["file"], path);
    assert_eq!(
        pair("max_frame"),
        (serde_json::json!(["1MiB"]), "file".into())
    );
    assert_eq!(
        pair("http"),
        (serde_json::json!(["127.0.0.1:8080"]), "env".into())
    );
    assert_eq!(
        pair("resp"),
        (serde_json::json!(["127.0.0.1:7379"]), "default".into())
    );
    assert_eq!(
        pair("seeds"),
        (serde_json::json!(["a:7946", "b:7946"]), "file".into())
    );
    assert_eq!(
        pair("cache_persist"),
        (serde_json::json!(["true"]), "file".into())
    );
    assert_eq!(pair("ssh"), (serde_json::Value::Null, "unset".into()));
    assert_eq!(
        pair("database"),
        (
            serde_json::json!(["postgres://agora:********@db:5432/agora"]),
            "file".into()
        )
    );
    assert_eq!(
        pair("jwt_secret"),
        (serde_json::json!(["********"]), "env".into())
    );
    assert_eq!(setting("jwt_secret")["secret"], true);

    // The text form is a config file itself: checked again it gives the
    // same values.
    let out = home.run(&["config", "check", path], None);
    assert!(out.status.success());
    let printed = home.path().join("printed.toml");
    std::fs::write(&printed, &out.stdout).unwrap();
    let again = home.run(&["config", "check", printed.to_str().unwrap()], None);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let values = |o: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(o)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split("  #").next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(values(&out.stdout), values(&again.stdout));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("seeds = [\"a:7946\", \"b:7946\"]  # file")
    );
}
