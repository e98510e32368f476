//! Accounts over the protocol: register, conflicts, validation, login,
//! tokens in the hello.

use agora_wire::{BaseOp, BaseReply, ErrorCode, Op, Reply};

use crate::support::{Daemon, Home, rt};

fn register(name: &str, password: &str) -> Op {
    Op::Base(BaseOp::Register {
        name: name.into(),
        password: password.into(),
    })
}

#[test]
fn register_login_and_token_sign_in() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let client = daemon.client(None).await;
        let Reply::Base(BaseReply::Session { user, token, .. }) = client
            .request(register("Alice", "s3cret-pass"))
            .await
            .unwrap()
        else {
            panic!("expected a session");
        };
        assert_eq!(user.name, "alice", "names are folded to lower case");

        // The same connection is now signed in.
        let Reply::Base(BaseReply::Whoami { user: me, session }) =
            client.request(BaseOp::Whoami).await.unwrap()
        else {
            panic!("expected whoami");
        };
        assert_eq!(me.as_ref().map(|u| u.name.as_str()), Some("alice"));
        assert_eq!(session.user.as_deref(), Some("alice"));

        // Taken, invalid, too short.
        let err = client
            .request(register("ALICE", "another-pass"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Conflict));
        let err = client
            .request(register("no spaces", "another-pass"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadRequest));
        let err = client.request(register("bob", "short")).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadRequest));
        assert!(err.to_string().contains("at least 8"), "{err}");

        // Login: wrong password and unknown user look the same.
        let other = daemon.client(None).await;
        let wrong = other
            .request(BaseOp::Login {
                name: "alice".into(),
                password: "nope-nope".into(),
            })
            .await
            .unwrap_err();
        let unknown = other
            .request(BaseOp::Login {
                name: "zed".into(),
                password: "nope-nope".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), Some(ErrorCode::Unauthorized));
        assert_eq!(wrong.to_string(), unknown.to_string());
        let Reply::Base(BaseReply::Session { user, .. }) = other
            .request(BaseOp::Login {
                name: "alice".into(),
                password: "s3cret-pass".into(),
            })
            .await
            .unwrap()
        else {
            panic!("expected a session");
        };
        assert_eq!(user.name, "alice");

        // A token signs a new connection in at the handshake.
        let (_c, welcome) =
            agora_wire::Client::connect(&daemon.addr, agora_wire::Hello::new("e2e", Some(token)))
                .await
                .unwrap();
        assert_eq!(welcome.user.map(|u| u.name).as_deref(), Some("alice"));
    });
}
