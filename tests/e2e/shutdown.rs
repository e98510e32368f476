//! Graceful shutdown and persistence across restarts.

use std::time::{Duration, Instant};

use agora_wire::{BaseOp, BaseReply, ErrorCode, Reply};

use crate::support::{Daemon, Home, rt};

#[test]
fn sigterm_exits_zero_and_accounts_survive_restart() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    let runtime = rt();
    let (token, idle) = runtime.block_on(async {
        let client = daemon.client(None).await;
        let Reply::Base(BaseReply::Session { token, .. }) = client
            .request(BaseOp::Register {
                name: "carol".into(),
                password: "persist-me".into(),
            })
            .await
            .unwrap()
        else {
            panic!("expected a session");
        };
        // An idle connection stays open across the signal: it must be told
        // why it is closed, and must not hold up the exit.
        (token, daemon.client(None).await)
    });

    let asked = Instant::now();
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(10));
    let took = asked.elapsed();
    assert!(status.success(), "daemon exited with {status}");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    runtime.block_on(async {
        idle.closed().await;
        let goodbye = idle.goodbye().expect("a goodbye before the close");
        assert_eq!(goodbye.code, ErrorCode::Unavailable);
    });

    // Same data directory: the account and the signing key are still there.
    let daemon = Daemon::start(&home, &[]);
    runtime.block_on(async {
        let client = daemon.client(Some(token)).await;
        let Reply::Base(BaseReply::Whoami { user, .. }) =
            client.request(BaseOp::Whoami).await.unwrap()
        else {
            panic!("expected whoami");
        };
        assert_eq!(user.unwrap().name, "carol");
        let fresh = daemon.client(None).await;
        assert!(matches!(
            fresh
                .request(BaseOp::Login {
                    name: "carol".into(),
                    password: "persist-me".into()
                })
                .await,
            Ok(Reply::Base(BaseReply::Session { .. }))
        ));
    });
}

#[test]
fn sigkill_loses_no_acknowledged_account() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    let runtime = rt();
    runtime.block_on(async {
        let client = daemon.client(None).await;
        for name in ["dave", "erin", "frank"] {
            client
                .request(BaseOp::Register {
                    name: name.into(),
                    password: "kill-nine!".into(),
                })
                .await
                .unwrap();
        }
    });
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    let daemon = Daemon::start(&home, &[]);
    runtime.block_on(async {
        let client = daemon.client(None).await;
        for name in ["dave", "erin", "frank"] {
            let reply = client
                .request(BaseOp::Login {
                    name: name.into(),
                    password: "kill-nine!".into(),
                })
                .await;
            assert!(
                matches!(reply, Ok(Reply::Base(BaseReply::Session { .. }))),
                "{name}: {reply:?}"
            );
        }
    });
}
