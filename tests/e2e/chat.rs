//! Chat end to end: several real clients against the real daemon.

use std::time::Duration;

use agora_wire::chat::{LeaveReason, Status};
use agora_wire::{
    BaseOp, BaseReply, ChatEvent, ChatOp, ChatReply, Client, ErrorCode, Event, Hello, Op, Push,
    Reply,
};
use futures::future::join_all;

use crate::support::{Daemon, Home, rt, wait_for};

/// Registers `name` and returns a signed-in client and its token.
async fn user(daemon: &Daemon, name: &str) -> (Client, String) {
    let client = daemon.client(None).await;
    let Reply::Base(BaseReply::Session { token, .. }) = client
        .request(BaseOp::Register {
            name: name.into(),
            password: format!("{name}-password"),
        })
        .await
        .unwrap()
    else {
        panic!("expected a session");
    };
    (client, token)
}

async fn join(client: &Client, room: &str) {
    let reply = client
        .request(ChatOp::Join { room: room.into() })
        .await
        .unwrap();
    assert!(
        matches!(reply, Reply::Chat(ChatReply::Room { .. })),
        "{reply:?}"
    );
}

fn send(room: &str, text: &str) -> Op {
    Op::Chat(ChatOp::Send {
        room: room.into(),
        text: text.into(),
        action: false,
    })
}

/// The next push matching `pick`, skipping others; fails after 10 s.
async fn next_push<T>(
    pushes: &mut agora_wire::Pushes,
    mut pick: impl FnMut(Push) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let push = pushes.recv().await.expect("connection open");
            if let Some(v) = pick(push) {
                return v;
            }
        }
    })
    .await
    .expect("push arrived in time")
}

#[test]
fn room_messages_are_stored_ordered_and_broadcast() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &["--chat-rate", "10000", "--chat-burst", "10000"]);
    rt().block_on(async {
        let (alice, _) = user(&daemon, "alice").await;
        let (bob, bob_token) = user(&daemon, "bob").await;
        // Bob's second terminal: signed in by token, not yet in the room.
        let bob2 = daemon.client(Some(bob_token)).await;
        let mut bob_pushes = bob.pushes().await.unwrap();
        let mut bob2_pushes = bob2.pushes().await.unwrap();
        join(&alice, "General").await;
        join(&bob, "general").await;

        // 100 messages pipelined on one connection keep their order.
        let sends = (1..=100).map(|i| alice.request(send("general", &format!("m{i}"))));
        let acks: Vec<u64> = join_all(sends)
            .await
            .into_iter()
            .map(|r| match r.unwrap() {
                Reply::Chat(ChatReply::Sent { seq, .. }) => seq,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(acks, (1..=100).collect::<Vec<_>>());

        for pushes in [&mut bob_pushes, &mut bob2_pushes] {
            for i in 1..=100u64 {
                let m = next_push(pushes, |p| match p.event {
                    Event::Chat(ChatEvent::Message { message }) => Some(message),
                    _ => None,
                })
                .await;
                assert_eq!(
                    (m.seq, m.text.as_str(), m.from.as_str()),
                    (i, format!("m{i}").as_str(), "alice")
                );
            }
        }

        // History: pages backwards, and "since" fills a gap exactly.
        let Reply::Chat(ChatReply::History { messages, more, .. }) = bob
            .request(ChatOp::History {
                room: "general".into(),
                before: None,
                since: None,
                limit: Some(10),
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(messages.first().unwrap().seq, 91);
        assert_eq!(messages.last().unwrap().seq, 100);
        assert!(more);
        let Reply::Chat(ChatReply::History { messages, more, .. }) = bob
            .request(ChatOp::History {
                room: "general".into(),
                before: None,
                since: Some(95),
                limit: None,
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![96, 97, 98, 99, 100]
        );
        assert!(!more);

        // Leaving is announced and stops delivery.
        alice
            .request(ChatOp::Leave {
                room: "general".into(),
            })
            .await
            .unwrap();
        let left = next_push(&mut bob_pushes, |p| match p.event {
            Event::Chat(ChatEvent::Left { user, reason, .. }) => Some((user, reason)),
            _ => None,
        })
        .await;
        assert_eq!(left, ("alice".to_string(), LeaveReason::Left));
        let err = alice
            .request(send("general", "still here?"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Forbidden));
    });
}

#[test]
fn bad_input_gets_clear_errors() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let anonymous = daemon.client(None).await;
        let err = anonymous.request(ChatOp::Rooms).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Unauthorized));

        let (alice, _) = user(&daemon, "alice").await;
        let err = alice
            .request(ChatOp::Join {
                room: "#bad room".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadRequest));
        assert!(err.to_string().contains("a-z, 0-9"), "{err}");
        let err = alice
            .request(ChatOp::Join {
                room: "x".repeat(65),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadRequest));

        join(&alice, "ops").await;
        let err = alice
            .request(send("ops", &"x".repeat(4097)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::TooLarge));
        assert!(alice.request(send("ops", &"x".repeat(4096))).await.is_ok());
        let err = alice.request(send("ops", "   ")).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadRequest));
        let err = alice
            .request(ChatOp::Dm {
                to: "nobody".into(),
                text: "hi".into(),
                action: false,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::NotFound));

        // The default rate: a burst of 20, then rate_limited with a hint.
        let results =
            join_all((0..30).map(|i| alice.request(send("ops", &format!("burst {i}"))))).await;
        let limited: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(!limited.is_empty(), "some of 30 instant sends are refused");
        let Some(agora_wire::Error::Server(body)) = limited.first() else {
            panic!()
        };
        assert_eq!(body.code, ErrorCode::RateLimited);
        assert!(body.retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 1000));
        // The connection is still fine.
        assert!(alice.request(BaseOp::Ping).await.is_ok());
    });
}

#[test]
fn private_messages_wait_for_offline_users() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    rt().block_on(async {
        let (alice, _) = user(&daemon, "alice").await;
        let (carol, carol_token) = user(&daemon, "carol").await;
        drop(carol);
        for text in ["are you there?", "call me"] {
            let reply = alice
                .request(ChatOp::Dm {
                    to: "Carol".into(),
                    text: text.into(),
                    action: false,
                })
                .await
                .unwrap();
            assert!(matches!(reply, Reply::Chat(ChatReply::Sent { .. })));
        }
        // Carol comes back: told about 2 unread, then reads them.
        let (carol, _) = Client::connect(&daemon.addr, Hello::new("e2e", Some(carol_token)))
            .await
            .unwrap();
        let mut pushes = carol.pushes().await.unwrap();
        let unread = next_push(&mut pushes, |p| match p.event {
            Event::Chat(ChatEvent::Unread { dms }) => Some(dms),
            _ => None,
        })
        .await;
        assert_eq!(unread, 2);
        let Reply::Chat(ChatReply::Dms { messages, unread }) = carol
            .request(ChatOp::Dms {
                with: None,
                limit: None,
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
            vec!["are you there?", "call me"]
        );
        assert_eq!(unread, 0);
        // Online now: a new DM arrives as a push at once.
        alice
            .request(ChatOp::Dm {
                to: "carol".into(),
                text: "welcome back".into(),
                action: false,
            })
            .await
            .unwrap();
        let dm = next_push(&mut pushes, |p| match p.event {
            Event::Chat(ChatEvent::Direct { message }) => Some(message),
            _ => None,
        })
        .await;
        assert_eq!(
            (dm.from.as_str(), dm.text.as_str()),
            ("alice", "welcome back")
        );
    });
}

#[test]
fn presence_and_memberships_survive_reconnects_and_restarts() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &[]);
    let runtime = rt();
    let (alice_token, bob_token) = runtime.block_on(async {
        let (alice, alice_token) = user(&daemon, "alice").await;
        let (bob, bob_token) = user(&daemon, "bob").await;
        join(&alice, "lobby").await;
        join(&bob, "lobby").await;
        let mut alice_pushes = alice.pushes().await.unwrap();
        alice
            .request(ChatOp::Away {
                message: Some("lunch".into()),
            })
            .await
            .unwrap();
        let Reply::Chat(ChatReply::Who { users }) = bob
            .request(ChatOp::Who {
                room: Some("lobby".into()),
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        let a = users.iter().find(|u| u.user == "alice").unwrap();
        assert_eq!(
            (a.status, a.away_message.as_deref()),
            (Status::Away, Some("lunch"))
        );
        // Bob's last connection closes: alice sees him quit.
        drop(bob);
        let quit = next_push(&mut alice_pushes, |p| match p.event {
            Event::Chat(ChatEvent::Left { user, reason, .. }) => Some((user, reason)),
            _ => None,
        })
        .await;
        assert_eq!(quit, ("bob".to_string(), LeaveReason::Quit));
        (alice_token, bob_token)
    });

    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
    let daemon = Daemon::start(&home, &[]);
    runtime.block_on(async {
        // Back after a restart: still a member, without joining again.
        let alice = daemon.client(Some(alice_token)).await;
        let bob = daemon.client(Some(bob_token)).await;
        let mut bob_pushes = bob.pushes().await.unwrap();
        let Reply::Chat(ChatReply::Rooms { rooms }) = alice.request(ChatOp::Rooms).await.unwrap()
        else {
            panic!()
        };
        assert!(
            rooms
                .iter()
                .any(|r| r.name == "lobby" && r.joined && r.members == 2)
        );
        alice.request(send("lobby", "still here")).await.unwrap();
        let m = next_push(&mut bob_pushes, |p| match p.event {
            Event::Chat(ChatEvent::Message { message }) => Some(message),
            _ => None,
        })
        .await;
        assert_eq!(m.text, "still here");
        let Reply::Chat(ChatReply::Who { users }) =
            alice.request(ChatOp::Who { room: None }).await.unwrap()
        else {
            panic!()
        };
        // Both are connected; alice's away message outlived the restart
        // (it belongs to her until she clears it).
        let status = |name: &str| {
            let u = users.iter().find(|u| u.user == name).unwrap();
            (u.status, u.away_message.clone())
        };
        assert_eq!(status("bob"), (Status::Online, None));
        assert_eq!(status("alice"), (Status::Away, Some("lunch".into())));
    });
}

/// Alice's status and away message, as `who` sees her.
async fn alice_status(who: &Client) -> (Status, Option<String>) {
    let Reply::Chat(ChatReply::Who { users }) =
        who.request(ChatOp::Who { room: None }).await.unwrap()
    else {
        panic!()
    };
    let a = users.iter().find(|u| u.user == "alice").unwrap().clone();
    (a.status, a.away_message)
}

#[test]
fn away_belongs_to_the_user_until_cleared() {
    // See: issue "Conventions" — `agora chat away TEXT` had no lasting
    // effect once the command's connection closed.
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    home.register(&daemon.addr, "alice", "alice-password");
    let run = |args: &[&str]| {
        let out = home.run(
            &[&["--addr", &daemon.addr, "chat"][..], args].concat(),
            None,
        );
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    run(&["away", "in a meeting"]);
    let runtime = rt();
    runtime.block_on(async {
        let (bob, _) = user(&daemon, "bob").await;
        // The command's connection is gone: alice is offline, and away.
        assert_eq!(
            alice_status(&bob).await,
            (Status::Offline, Some("in a meeting".into()))
        );
        // She comes back in another terminal: still away.
        let token = crate::support::saved_token(&home, &daemon.addr);
        let alice = daemon.client(Some(token)).await;
        assert_eq!(
            alice_status(&bob).await,
            (Status::Away, Some("in a meeting".into()))
        );
        drop(alice);
    });
    run(&["away", "--back"]);
    runtime.block_on(async {
        let (carol, _) = user(&daemon, "carol").await;
        assert_eq!(alice_status(&carol).await.1, None);
    });
}

#[test]
fn acknowledged_messages_survive_sigkill_mid_burst() {
    let home = Home::new();
    let mut daemon = Daemon::start(&home, &["--chat-rate", "100000", "--chat-burst", "100000"]);
    let runtime = rt();
    let acked = runtime.block_on(async {
        let (alice, _) = user(&daemon, "alice").await;
        join(&alice, "burst").await;
        let alice = std::sync::Arc::new(alice);
        // Senders on 4 connections' worth of concurrency, recording each ack.
        let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..2000u32 {
            let (alice, acked) = (alice.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                if let Ok(Reply::Chat(ChatReply::Sent { seq, .. })) =
                    alice.request(send("burst", &format!("b{i}"))).await
                {
                    acked.lock().unwrap().push((seq, format!("b{i}")));
                }
            }));
        }
        // Kill the daemon once some, but not all, are acknowledged.
        let acked_view = acked.clone();
        tokio::task::spawn_blocking(move || {
            wait_for("some acknowledgements", Duration::from_secs(20), || {
                (acked_view.lock().unwrap().len() >= 200).then_some(())
            })
        })
        .await
        .unwrap();
        daemon.signal(libc::SIGKILL);
        join_all(tasks).await;
        acked.lock().unwrap().clone()
    });
    daemon.wait_exit(Duration::from_secs(10));
    assert!(acked.len() >= 200);

    let daemon = Daemon::start(&home, &[]);
    runtime.block_on(async {
        let alice = daemon.client(None).await;
        alice
            .request(BaseOp::Login {
                name: "alice".into(),
                password: "alice-password".into(),
            })
            .await
            .unwrap();
        let mut stored = Vec::new();
        let mut since = 0;
        loop {
            let Reply::Chat(ChatReply::History { messages, more, .. }) = alice
                .request(ChatOp::History {
                    room: "burst".into(),
                    before: None,
                    since: Some(since),
                    limit: Some(500),
                })
                .await
                .unwrap()
            else {
                panic!()
            };
            since = messages.last().map_or(since, |m| m.seq);
            stored.extend(messages);
            if !more {
                break;
            }
        }
        // Contiguous 1..=n: no holes, no duplicates.
        let seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=stored.len() as u64).collect::<Vec<_>>());
        // Every acknowledged message is there, under its acknowledged seq.
        for (seq, text) in &acked {
            let m = &stored[*seq as usize - 1];
            assert_eq!(&m.text, text, "seq {seq}");
        }
        assert!(stored.len() >= acked.len());
    });
}

#[test]
fn a_killed_client_is_seen_leaving() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &[]);
    let runtime = rt();
    let mut alice_pushes = runtime.block_on(async {
        let (alice, _) = user(&daemon, "alice").await;
        let (bob, _) = user(&daemon, "bob").await;
        join(&alice, "lobby").await;
        join(&bob, "lobby").await;
        drop(bob);
        let pushes = alice.pushes().await.unwrap();
        std::mem::forget(alice); // keep alice connected for the rest of the test
        pushes
    });
    // Bob's terminal: a real `agora chat tail` process.
    let out = home.run(
        &["--addr", &daemon.addr, "login", "bob", "--password-stdin"],
        Some("bob-password\n"),
    );
    assert!(out.status.success());
    let mut tail = home
        .cmd()
        .args(["--addr", &daemon.addr, "chat", "tail", "lobby"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    runtime.block_on(async {
        let online = next_push(&mut alice_pushes, |p| match p.event {
            Event::Chat(ChatEvent::Presence { user, .. }) if user.user == "bob" => {
                Some(user.status)
            }
            _ => None,
        })
        .await;
        assert_eq!(online, Status::Online);
    });
    // SIGKILL: no goodbye from the client, just a dead socket.
    tail.kill().unwrap();
    tail.wait().unwrap();
    runtime.block_on(async {
        let quit = next_push(&mut alice_pushes, |p| match p.event {
            Event::Chat(ChatEvent::Left { user, reason, .. }) => Some((user, reason)),
            _ => None,
        })
        .await;
        assert_eq!(quit, ("bob".to_string(), LeaveReason::Quit));
    });
}

#[test]
fn a_slow_reader_is_disconnected_while_others_keep_receiving() {
    use agora_wire::{FrameCodec, ServerFrame, decode, encode};
    use futures::{SinkExt, StreamExt};

    let home = Home::new();
    let daemon = Daemon::start(
        &home,
        &[
            "--push-limit-hard",
            "8MiB",
            "--chat-rate",
            "1000000",
            "--chat-burst",
            "1000000",
        ],
    );
    rt().block_on(async {
        let (alice, _) = user(&daemon, "alice").await;
        let (bob, _) = user(&daemon, "bob").await;
        let (carol, carol_token) = user(&daemon, "carol").await;
        for c in [&alice, &bob, &carol] {
            join(c, "firehose").await;
        }
        drop(carol);
        let mut bob_pushes = bob.pushes().await.unwrap();

        // Carol's stalled terminal: a tiny receive buffer, and after the
        // welcome it never reads again.
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&daemon.ready.listen.into()).unwrap();
        socket.set_nonblocking(true).unwrap();
        let stream = tokio::net::TcpStream::from_std(socket.into()).unwrap();
        let mut slow = tokio_util::codec::Framed::new(stream, FrameCodec::default());
        slow.send(encode(&Hello::new("stalled", Some(carol_token))).unwrap())
            .await
            .unwrap();
        let welcome = slow.next().await.unwrap().unwrap();
        assert!(matches!(
            decode::<ServerFrame>(&welcome).unwrap(),
            ServerFrame::Welcome(_)
        ));

        // 8,000 messages of 2 KB: far more than the stalled socket, its
        // kernel buffers and its 8 MiB of queued pushes can hold.
        let text = "x".repeat(2000);
        for chunk in 0..40 {
            let sends =
                (0..200).map(|i| alice.request(send("firehose", &format!("{chunk}-{i} {text}"))));
            for r in join_all(sends).await {
                r.unwrap();
            }
            // Bob keeps up: drain what arrived so far.
            while let Ok(Some(_)) =
                tokio::time::timeout(Duration::from_millis(1), bob_pushes.recv()).await
            {
            }
        }
        // Bob got everything (counted through history instead of pushes,
        // then a final live message proves his connection is healthy).
        alice.request(send("firehose", "last")).await.unwrap();
        let last = next_push(&mut bob_pushes, |p| match p.event {
            Event::Chat(ChatEvent::Message { message }) if message.text == "last" => {
                Some(message.seq)
            }
            _ => None,
        })
        .await;
        assert_eq!(last, 8001);

        // The stalled client was dropped with a reason: read what it was
        // sent until the server closed it.
        let mut goodbye = None;
        while let Ok(Some(Ok(body))) =
            tokio::time::timeout(Duration::from_secs(10), slow.next()).await
        {
            if let Ok(ServerFrame::Goodbye { error }) = decode::<ServerFrame>(&body) {
                goodbye = Some(error);
            }
        }
        let goodbye = goodbye.expect("a goodbye before the close");
        assert_eq!(goodbye.code, ErrorCode::Unavailable);
        assert!(goodbye.message.contains("too slow"), "{}", goodbye.message);
        let (_, metrics) = daemon.http_get("/metrics").await;
        assert!(
            !metrics.contains("agora_slow_consumers_total 0"),
            "{metrics}"
        );
    });
}

#[test]
fn room_and_membership_limits_are_enforced() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &["--chat-max-rooms", "2", "--chat-max-members", "2"]);
    rt().block_on(async {
        let (alice, _) = user(&daemon, "alice").await;
        let (bob, _) = user(&daemon, "bob").await;
        let (carol, _) = user(&daemon, "carol").await;
        join(&alice, "one").await;
        join(&alice, "two").await;
        let err = alice
            .request(ChatOp::Join {
                room: "three".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Forbidden));
        assert!(err.to_string().contains("2 rooms"), "{err}");
        // Re-joining a room one is already in is not a new membership.
        join(&alice, "one").await;
        join(&bob, "one").await;
        let err = carol
            .request(ChatOp::Join { room: "one".into() })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Forbidden));
        assert!(err.to_string().contains("full"), "{err}");
        // Leaving frees the place.
        bob.request(ChatOp::Leave { room: "one".into() })
            .await
            .unwrap();
        join(&carol, "one").await;
    });
}

/// Above `--chat-presence-threshold` members, a room's members are told of
/// joins, leaves and sign-outs by `chat_members` digests, not one by one.
#[test]
fn large_rooms_get_member_digests_instead_of_each_join() {
    let home = Home::new();
    let daemon = Daemon::start(
        &home,
        &[
            "--chat-presence-threshold",
            "3",
            "--chat-presence-interval",
            "200ms",
        ],
    );
    rt().block_on(async {
        let mut clients = Vec::new();
        for name in ["u1", "u2", "u3", "u4", "u5"] {
            clients.push(user(&daemon, name).await.0);
        }
        let mut first = clients[0].pushes().await.unwrap();
        let mut fifth = clients[4].pushes().await.unwrap();
        for c in &clients[..4] {
            join(c, "big").await;
        }
        // The fifth joiner is told the count, and some of the members.
        let Reply::Chat(ChatReply::Room { room, members }) = clients[4]
            .request(ChatOp::Join { room: "big".into() })
            .await
            .unwrap()
        else {
            panic!("expected the room")
        };
        assert_eq!(room.members, 5);
        assert_eq!(members.len(), 3, "at most the threshold listed");

        // u1 saw the first three joins one by one (the room had at most
        // three members), then digests up to five members. Pushes of one
        // topic keep their order, so a one-by-one announcement of u4 or u5
        // would have come before the digest that counts them.
        let mut one_by_one = Vec::new();
        let mut in_digests = Vec::new();
        let online = next_push(&mut first, |p| match p.event {
            Event::Chat(ChatEvent::Joined { user, .. }) => {
                one_by_one.push(user.user);
                None
            }
            Event::Chat(ChatEvent::Members {
                room,
                members,
                online,
                joined,
                left,
                more,
            }) => {
                assert_eq!(room, "big");
                assert!(left.is_empty() && !more);
                in_digests.extend(joined);
                (members == 5).then_some(online)
            }
            _ => None,
        })
        .await;
        assert_eq!(online, 5);
        assert_eq!(one_by_one, ["u1", "u2", "u3"]);
        in_digests.sort();
        assert_eq!(in_digests, ["u4", "u5"]);
        // The joiner's own terminals hear of its join on its user topic.
        let echo = next_push(&mut fifth, |p| match p.event {
            Event::Chat(ChatEvent::Joined { user, .. }) if user.user == "u5" => Some(p.topic),
            _ => None,
        })
        .await;
        assert_eq!(echo, "chat.user.u5");

        // Leaving and signing out are digested too, with exact counts.
        clients[3]
            .request(ChatOp::Leave { room: "big".into() })
            .await
            .unwrap();
        let u3 = clients.remove(2);
        drop(u3);
        let mut left_in_digests = Vec::new();
        let (members, online) = next_push(&mut first, |p| match p.event {
            Event::Chat(ChatEvent::Left { user, .. }) => panic!("{user} announced by itself"),
            Event::Chat(ChatEvent::Members {
                left,
                members,
                online,
                ..
            }) => {
                left_in_digests.extend(left);
                (online == 3).then_some((members, online))
            }
            _ => None,
        })
        .await;
        assert_eq!((members, online), (4, 3));
        assert_eq!(left_in_digests, ["u4"]);
        let Reply::Chat(ChatReply::Who { users }) = clients[0]
            .request(ChatOp::Who {
                room: Some("big".into()),
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        let who: Vec<_> = users.iter().map(|u| (u.user.as_str(), u.status)).collect();
        assert_eq!(
            who,
            [
                ("u1", Status::Online),
                ("u2", Status::Online),
                ("u3", Status::Offline),
                ("u5", Status::Online)
            ]
        );
    });
}
