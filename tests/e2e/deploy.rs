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

/// The datagrams a daemon sends to its NOTIFY_SOCKET, as systemd reads
/// them (`Type=notify`).
#[test]
fn the_daemon_tells_systemd_it_is_ready_alive_and_stopping() {
    let home = Home::new();
    let socket_path = home.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut daemon = Daemon::start_env(
        &home,
        &[],
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let mut buf = [0u8; 4096];
    let mut next = || {
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = next();
    let lines: Vec<&str> = ready.lines().collect();
    assert!(lines.contains(&"READY=1"), "{ready}");
    assert!(
        lines.contains(&format!("MAINPID={}", daemon.ready.pid).as_str()),
        "{ready}"
    );
    assert!(
        ready.contains(&format!("STATUS=serving: protocol {}", daemon.ready.listen)),
        "{ready}"
    );
    // Watchdog pings every 100 ms (half of WATCHDOG_USEC).
    for _ in 0..3 {
        assert_eq!(next().trim_end(), "WATCHDOG=1");
    }
    daemon.signal(libc::SIGTERM);
    let stopping = loop {
        let message = next();
        if message.trim_end() != "WATCHDOG=1" {
            break message;
        }
    };
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping}");
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
}

/// `agora migrate up --to`, `status`, a failure injected into a real
/// file (a table in the newest migration's way): the file is left as it
/// was, the error names the migration; and a daemon refuses a schema
/// newer than it knows with one line saying what to do.
#[test]
fn migrations_go_step_by_step_fail_whole_and_a_newer_schema_is_refused() {
    let home = Home::new();
    let data = home.path().join("data");
    let data_arg = data.to_str().unwrap();
    let status = |home: &Home| -> serde_json::Value {
        let out = home.run(&["migrate", "status", "--data", data_arg, "--json"], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["databases"][0].clone()
    };
    let fresh = status(&home);
    let latest = fresh["latest"].as_i64().unwrap();
    assert_eq!(
        (fresh["version"].as_i64(), fresh["state"].as_str()),
        (Some(0), Some("behind"))
    );
    let pending = fresh["pending"].as_array().unwrap().clone();
    assert_eq!(pending.len() as i64, latest);
    let last = pending.last().unwrap()["name"].as_str().unwrap().to_owned();

    let to = (latest - 2).to_string();
    let out = home.run(&["migrate", "up", "--data", data_arg, "--to", &to], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&home)["version"].as_i64(), Some(latest - 2));

    // The newest migration's table, made ahead of it.
    let file = data.join("agora.db");
    let sql = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../db/migrations/{last}.sql")),
    )
    .unwrap();
    let table: String = sql[sql.find("CREATE TABLE").unwrap() + 12..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch(&format!("CREATE TABLE {table} (x)"))
        .unwrap();
    let out = home.run(&["migrate", "up", "--data", data_arg], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("migration {last} failed")), "{err}");
    let after = status(&home);
    assert_eq!(
        after["version"].as_i64(),
        Some(latest - 2),
        "nothing changed"
    );
    assert_eq!(after["pending"].as_array().unwrap().len(), 2);

    // Out of the way: the rest runs, and the daemon starts on it.
    conn.execute_batch(&format!("DROP TABLE {table}")).unwrap();
    let out = home.run(&["migrate", "up", "--data", data_arg], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&home)["state"], "current");
    drop(Daemon::start(&home, &[]));

    // From the future: refused, with what to do.
    conn.pragma_update(None, "user_version", latest + 5)
        .unwrap();
    drop(conn);
    let out = home.run(
        &[
            "daemon",
            "--data",
            data_arg,
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--resp",
            "127.0.0.1:0",
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = err.lines().last().unwrap_or_default();
    assert!(
        line.contains(&format!(
            "schema version {} is newer than this agora's {latest}",
            latest + 5
        )) && line.contains("restore a backup"),
        "{err}"
    );
    let out = home.run(&["migrate", "status", "--data", data_arg, "--json"], None);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["databases"][0]["state"], "newer");
}

/// The same on a fleet's PostgreSQL: status reads, `--to` stops there, a
/// dry run changes nothing, and a daemon started after finds nothing to
/// do.
#[test]
fn migrations_on_postgresql_go_step_by_step() {
    let url = crate::support::postgres_database();
    let home = Home::new();
    let status = || -> serde_json::Value {
        let out = home.run(&["migrate", "status", "--database", &url, "--json"], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            doc.to_string().contains(":***@") && !doc.to_string().contains(&url),
            "the password is hidden: {doc}"
        );
        doc["databases"][0].clone()
    };
    let fresh = status();
    let latest = fresh["latest"].as_i64().unwrap();
    assert_eq!(
        (fresh["version"].as_i64(), fresh["state"].as_str()),
        (Some(0), Some("behind"))
    );

    let out = home.run(
        &["migrate", "up", "--database", &url, "--to", "2", "--json"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["files"][0]["to"], 2);
    assert_eq!(status()["version"].as_i64(), Some(2));

    let out = home.run(&["migrate", "up", "--database", &url, "--dry-run"], None);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("version 2 to {latest}; would run"))
    );
    assert_eq!(
        status()["version"].as_i64(),
        Some(2),
        "the dry run changed nothing"
    );

    let out = home.run(&["migrate", "up", "--database", &url, "--to", "1"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only go forward"));

    let out = home.run(&["migrate", "--database", &url], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status()["state"], "current");
    drop(Daemon::start_env(
        &home,
        &["--database", &url],
        &[(
            "AGORA_JWT_SECRET",
            "a-fleet-signing-key-of-at-least-32-bytes",
        )],
    ));
}

/// `agora backup` while a client keeps registering accounts (each
/// acknowledged register is a committed write), then `agora restore` into
/// a new directory: the copy is one consistent snapshot — exactly the
/// first k accounts, for a k no smaller than what was acknowledged when
/// the backup began — and a daemon on it signs them in with the same key.
#[test]
fn a_backup_taken_under_writes_restores_a_consistent_snapshot() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, addr) = (acked.clone(), stop.clone(), daemon.addr.clone());
        std::thread::spawn(move || {
            rt().block_on(async move {
                let client = agora_wire::Session::connect(&addr).await.unwrap();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("user{n:04}");
                    let reply = client
                        .request(BaseOp::Register {
                            name: name.clone(),
                            password: "a-long-password".into(),
                        })
                        .await;
                    assert!(reply.is_ok(), "{name}: {reply:?}");
                    acked.lock().unwrap().push(name);
                    n += 1;
                }
            })
        })
    };
    let acked_len = || acked.lock().unwrap().len();
    crate::support::wait_for("ten accounts", Duration::from_secs(60), || {
        (acked_len() >= 10).then_some(())
    });
    let before = acked_len();
    let dest = home.path().join("backup");
    let data = home.data();
    let out = home.run(
        &[
            "backup",
            dest.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["agora.db", "jwt.key"], "{report}");
    // Writes went on during and after the backup.
    let during = acked_len();
    crate::support::wait_for("writes after the backup", Duration::from_secs(60), || {
        (acked_len() >= during + 3).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    drop(daemon);
    let acked = acked.lock().unwrap().clone();

    let restored = Home::new();
    let target = restored.data();
    let out = restored.run(
        &[
            "restore",
            dest.to_str().unwrap(),
            "--data",
            target.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(target.join("agora.db")).unwrap();
    let mut names: Vec<String> = conn
        .prepare("SELECT name FROM users ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names.sort();
    drop(conn);
    let k = names.len();
    assert!(
        k >= before && k <= acked.len(),
        "{k} accounts: {before} acknowledged before, {} in all",
        acked.len()
    );
    assert_eq!(
        names,
        acked[..k],
        "a snapshot: the first {k} accounts, no gap"
    );
    assert!(k < acked.len(), "writes after the backup are not in it");

    // The restored directory serves: same signing key, the accounts sign in.
    let again = Daemon::start(&restored, &[]);
    rt().block_on(async {
        let client = again.client(None).await;
        let reply = client
            .request(BaseOp::Login {
                name: acked[before - 1].clone(),
                password: "a-long-password".into(),
            })
            .await;
        assert!(reply.is_ok(), "{reply:?}");
    });
    // A second restore over it: refused while the daemon runs, and without --replace.
    let out = restored.run(
        &[
            "restore",
            dest.to_str().unwrap(),
            "--data",
            target.to_str().unwrap(),
            "--replace",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stop it first"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SIGTERM with --drain-period: /readyz turns 503 at once while the daemon
/// still serves new and old clients; when the period ends, connected
/// clients are told to reconnect elsewhere and the daemon exits 0.
#[test]
fn sigterm_drains_then_says_goodbye_with_a_hint() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &["--drain-period", "2s"]);
    rt().block_on(async {
        assert_eq!(daemon.http_get("/readyz").await.0, 200);
        let mut old = daemon.raw().await;
        let started = std::time::Instant::now();
        daemon.signal(libc::SIGTERM);
        let (status, body) = loop {
            let (status, body) = daemon.http_get("/readyz").await;
            if status == 503 || started.elapsed() > Duration::from_secs(1) {
                break (status, body);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(status, 503);
        assert!(body.contains("draining"), "{body}");
        // Still serving: a new client, and /healthz.
        let fresh = daemon.client(None).await;
        fresh
            .request(BaseOp::Ping)
            .await
            .expect("served while draining");
        assert_eq!(daemon.http_get("/healthz").await.0, 200);
        // Then the goodbye, with the hint, after the period.
        match tokio::time::timeout(Duration::from_secs(10), old.next()).await {
            Ok(Some(ServerFrame::Goodbye { error })) => {
                assert_eq!(error.code, ErrorCode::Unavailable);
                assert!(error.message.contains("reconnect"), "{}", error.message);
            }
            other => panic!("expected a goodbye, got {other:?}"),
        }
        assert!(
            started.elapsed() >= Duration::from_millis(1800),
            "the goodbye came after the drain, not {:?} in",
            started.elapsed()
        );
    });
    assert!(daemon.wait_exit(Duration::from_secs(15)).success());
}

/// `agora health`: exit 0 when /readyz answers 200, 1 (Docker's
/// "unhealthy") while draining or when nothing answers, with --json.
#[test]
fn health_exits_0_when_ready_and_1_when_draining_or_gone() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &["--drain-period", "3s"]);
    let http = daemon.ready.http.to_string();
    let out = home.run(&["health", "--http-addr", &http], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{http}/readyz: ready")
    );
    let out = home.run(&["health", "--live", "--json", "--http-addr", &http], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["path"], "/healthz");
    assert_eq!(report["http_status"], 200);
    assert!(report["version"].is_string(), "{report}");

    daemon.signal(libc::SIGTERM);
    let out = crate::support::wait_for("/readyz to turn 503", Duration::from_secs(2), || {
        let out = home.run(&["health", "--json", "--http-addr", &http], None);
        (out.status.code() == Some(1)).then_some(out)
    });
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["http_status"], 503);
    assert_eq!(report["status"], "draining");
    assert_eq!(report["healthy"], false);
    // Alive while draining.
    let live = home.run(&["health", "--live", "--http-addr", &http], None);
    assert_eq!(live.status.code(), Some(0), "{live:?}");
    assert!(daemon.wait_exit(Duration::from_secs(15)).success());

    let out = home.run(&["health", "--http-addr", &http], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("agora: unhealthy: cannot reach"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// `--addr a,b,c`: the CLI tries each in turn, so a stopped node in front
/// of the list does not stop the command; every node down is one line.
#[test]
fn an_address_list_skips_a_node_that_is_down() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let list = format!("{gone},{}", daemon.addr);
    let out = home.run(&["ping", "-c", "1", "--json", "--addr", &list], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = home.run(
        &["ping", "-c", "1", "--addr", &format!("{gone}, {gone}")],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("connection refused"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// Per-request log lines and the filter changed at runtime: an operator
/// turns the `agora::request` lines off and on again without a restart;
/// HTTP answers carry the request id their line has.
#[test]
fn request_lines_follow_the_log_filter_an_operator_sets() {
    let home = Home::new();
    let daemon = Daemon::start_logged(&home, &["--operators", "alice", "--log-format", "json"]);
    let addr = daemon.addr.clone();
    let http = daemon.ready.http.to_string();
    home.register(&addr, "alice", "alice-password");
    let admin = |args: &[&str]| {
        let mut all = vec!["--addr", &addr, "admin", "--http-addr", &http, "log-level"];
        all.extend_from_slice(args);
        home.run(&all, None)
    };
    let log = || std::fs::read_to_string(home.path().join("daemon.log")).unwrap();
    let pings = |log: &str| {
        log.lines()
            .filter(|l| {
                l.contains("\"target\":\"agora::request\"") && l.contains("\"op\":\"ping\"")
            })
            .count()
    };
    let ping = || {
        let out = home.run(&["--addr", &addr, "ping", "-c", "1"], None);
        assert!(out.status.success(), "{out:?}");
    };
    ping();
    let before = crate::support::wait_for("a request line", Duration::from_secs(5), || {
        let n = pings(&log());
        (n >= 1).then_some(n)
    });

    let out = admin(&["--json", "info,agora::request=off"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(said["filter"], "info,agora::request=off");
    ping();
    ping();
    // The change is logged (at warn), and no ping after it is.
    let after_off = log();
    assert!(after_off.contains("log filter changed"), "{after_off}");
    assert_eq!(pings(&after_off), before, "request lines while off");

    let out = admin(&["info"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "log filter: info (was info,agora::request=off)"
    );
    ping();
    crate::support::wait_for("request lines again", Duration::from_secs(5), || {
        (pings(&log()) > before).then_some(())
    });

    // An HTTP request's id: the client's, echoed, and in its line.
    rt().block_on(async {
        let stream = tokio::net::TcpStream::connect(&http).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = hyper::Request::get("/healthz")
            .header("host", &http)
            .header("x-request-id", "trace-me-42")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.headers()["x-request-id"], "trace-me-42");
    });
    crate::support::wait_for("the HTTP request's line", Duration::from_secs(5), || {
        log()
            .lines()
            .any(|l| {
                l.contains("\"request_id\":\"trace-me-42\"")
                    && l.contains("\"route\":\"/healthz\"")
                    && l.contains("\"status\":200")
            })
            .then_some(())
    });

    // Only operators, and only filters.
    home.register(&addr, "bob", "bob-password");
    let out = admin(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("403") && err.contains("operators"), "{err}");
}
