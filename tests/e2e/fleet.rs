//! The fleet (issue 18, docs/FLEET.md): daemons sharing one PostgreSQL.
//! An account registered on one node signs in on another, and a token
//! issued by one is accepted by the other; a daemon whose database
//! cannot be used exits with one line saying where and why.

use std::time::Duration;

use agora_wire::metrics::{AlertState, METRICS_TOPIC};
use agora_wire::{
    BaseOp, BaseReply, ChatOp, ChatReply, ErrorCode, Event, MetricsEvent, MetricsOp, Op, Reply,
};

use crate::support::{Daemon, Home, postgres_database, rt};

const KEY: &str = "fleet-test-key-0123456789abcdef0123456789";

fn node(home: &Home, url: &str) -> Daemon {
    Daemon::start_env(home, &["--database", url], &[("AGORA_JWT_SECRET", KEY)])
}

fn session(reply: Reply) -> (String, String) {
    match reply {
        Reply::Base(BaseReply::Session { user, token, .. }) => (user.name, token),
        other => panic!("expected a session, got {other:?}"),
    }
}

#[test]
fn token_from_one_node_signs_in_on_another() {
    let url = postgres_database();
    let (home_a, home_b) = (Home::new(), Home::new());
    let a = node(&home_a, &url);
    let b = node(&home_b, &url);
    rt().block_on(async {
        let on_a = a.client(None).await;
        let (name, token) = session(
            on_a.request(Op::Base(BaseOp::Register {
                name: "Alice".into(),
                password: "fleet-pass-1".into(),
            }))
            .await
            .unwrap(),
        );
        assert_eq!(name, "alice");

        // B never saw alice: its hello accepts A's token.
        let on_b = b.client(Some(token)).await;
        let Reply::Base(BaseReply::Whoami { user, .. }) =
            on_b.request(BaseOp::Whoami).await.unwrap()
        else {
            panic!("expected whoami");
        };
        assert_eq!(user.map(|u| u.name).as_deref(), Some("alice"));

        // Chat works on B for an account B never registered (chat's
        // tables are on PostgreSQL with the accounts; fleet_chat.rs tests
        // chat across nodes).
        let joined = on_b
            .request(ChatOp::Join {
                room: "fleet".into(),
            })
            .await
            .unwrap();
        assert!(
            matches!(joined, Reply::Chat(ChatReply::Room { .. })),
            "{joined:?}"
        );
        on_b.request(Op::Chat(ChatOp::Send {
            room: "fleet".into(),
            text: "hello from b".into(),
            action: false,
        }))
        .await
        .unwrap();

        // B signs alice in with her password, and refuses a wrong one.
        let fresh = b.client(None).await;
        let (name, _) = session(
            fresh
                .request(BaseOp::Login {
                    name: "alice".into(),
                    password: "fleet-pass-1".into(),
                })
                .await
                .unwrap(),
        );
        assert_eq!(name, "alice");
        let err = fresh
            .request(BaseOp::Login {
                name: "alice".into(),
                password: "not-her-pass".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Unauthorized));

        // The name is taken fleet-wide: B refuses it too.
        let err = fresh
            .request(Op::Base(BaseOp::Register {
                name: "alice".into(),
                password: "fleet-pass-2".into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Conflict));
    });
}

#[test]
fn another_key_rejects_the_fleets_tokens() {
    let url = postgres_database();
    let (home_a, home_c) = (Home::new(), Home::new());
    let a = node(&home_a, &url);
    let c = Daemon::start_env(
        &home_c,
        &["--database", &url],
        &[("AGORA_JWT_SECRET", "another-key-0123456789abcdef0123456789")],
    );
    rt().block_on(async {
        let (_, token) = session(
            a.client(None)
                .await
                .request(Op::Base(BaseOp::Register {
                    name: "bob".into(),
                    password: "fleet-pass-1".into(),
                }))
                .await
                .unwrap(),
        );
        let err = agora_wire::Client::connect(&c.addr, agora_wire::Hello::new("e2e", Some(token)))
            .await
            .expect_err("a token signed with another key was accepted");
        assert!(err.to_string().contains("invalid token"), "{err}");
    });
}

/// Runs `agora daemon` with `args` expecting it to fail; returns its
/// stderr.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let home = Home::new();
    let out = home
        .cmd()
        .args(["daemon", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(["--resp", "127.0.0.1:0", "--data"])
        .arg(home.data())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run agora daemon");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("agora: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    errors[0].to_owned()
}

#[test]
fn unusable_databases_stop_the_daemon_with_one_line() {
    let key = [("AGORA_JWT_SECRET", KEY)];
    // Nothing listens on port 1.
    let line = refused(
        &["--database", "postgres://agora:hunter22@127.0.0.1:1/agora"],
        &key,
    );
    assert!(
        line.starts_with(
            "agora: cannot use PostgreSQL at 127.0.0.1:1/agora: error connecting to server"
        ),
        "{line}"
    );
    assert!(!line.contains("hunter22"), "{line}");

    // The right server, the wrong password.
    let url = postgres_database();
    let wrong = {
        let (userinfo, rest) = url.split_once('@').unwrap();
        let user = userinfo.rsplit_once(':').unwrap().0;
        format!("{user}:wrong-password@{rest}")
    };
    let line = refused(&["--database", &wrong], &key);
    assert!(line.contains("password authentication failed"), "{line}");
    assert!(!line.contains("wrong-password"), "{line}");

    // Not a URL we know, and PostgreSQL without a fleet-wide key.
    let line = refused(&["--database", "mysql://u:hunter22@h/db"], &key);
    assert!(line.contains("unsupported database URL"), "{line}");
    assert!(!line.contains("hunter22"), "{line}");
    let line = refused(&["--database", &url], &[]);
    assert!(
        line.contains("AGORA_JWT_SECRET or --jwt-key-file"),
        "{line}"
    );
}

#[test]
fn sqlite_url_puts_the_file_where_it_says() {
    let home = Home::new();
    let file = home.path().join("elsewhere.db");
    let url = format!("sqlite:{}", file.display());
    let daemon = Daemon::start(&home, &["--database", &url]);
    rt().block_on(async {
        session(
            daemon
                .client(None)
                .await
                .request(Op::Base(BaseOp::Register {
                    name: "carol".into(),
                    password: "fleet-pass-1".into(),
                }))
                .await
                .unwrap(),
        );
    });
    assert!(file.exists());
    assert!(!home.data().join("agora.db").exists());
}

#[test]
fn an_alert_firing_on_one_node_reaches_a_dashboard_on_another() {
    let url = postgres_database();
    let (home_a, home_b) = (Home::new(), Home::new());
    let a = node(&home_a, &url);
    let b = node(&home_b, &url);
    rt().block_on(async {
        let on_a = a.client(None).await;
        let (_, token) = session(
            on_a.request(Op::Base(BaseOp::Register {
                name: "ops".into(),
                password: "fleet-pass-1".into(),
            }))
            .await
            .unwrap(),
        );
        let on_b = b.client(Some(token)).await;
        let mut pushes = on_b.pushes().await.unwrap();
        on_b.request(BaseOp::Subscribe {
            topics: vec![METRICS_TOPIC.into()],
        })
        .await
        .unwrap();
        // A rule on A that holds at once: A's CPU is always ≥ 0 %.
        on_a.request(MetricsOp::AlertAdd {
            name: "always".into(),
            metric: "cpu.total".into(),
            op: ">=".into(),
            threshold: 0.0,
            for_ms: 0,
            severity: "info".into(),
        })
        .await
        .unwrap();
        let (transition, node) = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let push = pushes.recv().await.expect("B's connection closed");
                if let Event::Metrics(MetricsEvent::AlertChanged {
                    transition: Some(t),
                    node,
                    ..
                }) = push.event
                {
                    return (t, node);
                }
            }
        })
        .await
        .expect("B's dashboard heard of A's alert");
        assert_eq!(
            (transition.rule.as_str(), transition.to),
            ("always", AlertState::Firing)
        );
        assert!(node.is_some_and(|n| !n.is_empty()), "the event names A");
        // B's own rules are its own: the rule is not B's.
        let Reply::Metrics(agora_wire::MetricsReply::Alerts { alerts }) =
            on_b.request(MetricsOp::AlertList).await.unwrap()
        else {
            panic!("expected alerts");
        };
        assert!(alerts.iter().all(|a| a.name != "always"), "{alerts:?}");
    });
}
