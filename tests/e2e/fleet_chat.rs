//! Chat across a fleet (issue 18, docs/FLEET.md): daemons sharing one
//! PostgreSQL, each user connected to a different node. Messages reach
//! every node in order and once, numbers stay gapless with several nodes
//! sending to one room, presence is fleet-wide and a SIGKILLed node's
//! users go offline within the node timeout, a listener that lost its
//! connection catches up, and a client that moves to another node resumes
//! from its cursor.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use agora_wire::chat::{LeaveReason, Status};
use agora_wire::{
    BaseOp, BaseReply, ChatEvent, ChatOp, ChatReply, Client, ErrorCode, Event, Op, Reply,
};
use futures::future::join_all;

use crate::support::{Daemon, Home, PrivatePostgres, postgres_database, rt};

const KEY: &str = "fleet-test-key-0123456789abcdef0123456789";

fn node(home: &Home, url: &str, extra: &[&str]) -> Daemon {
    let mut args = vec![
        "--database",
        url,
        "--chat-rate",
        "100000",
        "--chat-burst",
        "100000",
    ];
    args.extend_from_slice(extra);
    Daemon::start_env(home, &args, &[("AGORA_JWT_SECRET", KEY)])
}

pub(crate) async fn register(daemon: &Daemon, name: &str) -> (Client, String) {
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

fn sent_seq(reply: Reply) -> u64 {
    match reply {
        Reply::Chat(ChatReply::Sent { seq, .. }) => seq,
        other => panic!("expected sent, got {other:?}"),
    }
}

/// Room messages pushed to `pushes` until `want` have arrived: (seq,
/// text) in arrival order. Fails after 20 s.
async fn messages(pushes: &mut agora_wire::Pushes, room: &str, want: usize) -> Vec<(u64, String)> {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while got.len() < want {
            let push = pushes.recv().await.expect("connection open");
            if let Event::Chat(ChatEvent::Message { message }) = push.event
                && message.room == room
            {
                got.push((message.seq, message.text));
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {want} messages arrived", got.len()));
    got
}

async fn who(client: &Client) -> BTreeMap<String, Status> {
    match client.request(ChatOp::Who { room: None }).await.unwrap() {
        Reply::Chat(ChatReply::Who { users }) => {
            users.into_iter().map(|p| (p.user, p.status)).collect()
        }
        other => panic!("expected who, got {other:?}"),
    }
}

/// Waits until `check` holds for the fleet-wide `who` seen from `client`.
async fn until_who(client: &Client, what: &str, check: impl Fn(&BTreeMap<String, Status>) -> bool) {
    let start = Instant::now();
    loop {
        let seen = who(client).await;
        if check(&seen) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: who says {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn messages_from_two_nodes_reach_the_third_in_order_once_with_gapless_numbers() {
    let url = postgres_database();
    let homes = [Home::new(), Home::new(), Home::new()];
    let nodes: Vec<Daemon> = homes.iter().map(|h| node(h, &url, &[])).collect();
    rt().block_on(async {
        let (alice, _) = register(&nodes[0], "alice").await;
        let (bob, _) = register(&nodes[1], "bob").await;
        let (carol, _) = register(&nodes[2], "carol").await;
        let mut bob_pushes = bob.pushes().await.unwrap();
        let mut alice_pushes = alice.pushes().await.unwrap();
        join(&bob, "fleet").await;
        join(&alice, "fleet").await;
        // bob (on B) hears alice join on A, as if she joined on B.
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Event::Chat(ChatEvent::Joined { room, user }) =
                    bob_pushes.recv().await.unwrap().event
                    && room == "fleet"
                    && user.user == "alice"
                {
                    break;
                }
            }
        })
        .await
        .expect("bob heard alice join on another node");
        join(&carol, "fleet").await;

        // alice on A and carol on C send at once, pipelined.
        const EACH: usize = 300;
        let from_a = join_all((0..EACH).map(|i| alice.request(send("fleet", &format!("a{i}")))));
        let from_c = join_all((0..EACH).map(|i| carol.request(send("fleet", &format!("c{i}")))));
        let (a, c) = tokio::join!(from_a, from_c);
        let mut acked: Vec<u64> = a
            .into_iter()
            .chain(c)
            .map(|r| sent_seq(r.unwrap()))
            .collect();
        acked.sort_unstable();
        assert_eq!(
            acked,
            (1..=2 * EACH as u64).collect::<Vec<_>>(),
            "numbers from both nodes: no gap, no repeat"
        );

        // bob on B: every message once, in sequence order; each sender's
        // own messages in the order sent.
        for (who, pushes) in [("bob", &mut bob_pushes), ("alice", &mut alice_pushes)] {
            let got = messages(pushes, "fleet", 2 * EACH).await;
            let seqs: Vec<u64> = got.iter().map(|m| m.0).collect();
            assert_eq!(seqs, (1..=2 * EACH as u64).collect::<Vec<_>>(), "{who}");
            for prefix in ["a", "c"] {
                let texts: Vec<&str> = got
                    .iter()
                    .map(|m| m.1.as_str())
                    .filter(|t| t.starts_with(prefix))
                    .collect();
                let sent: Vec<String> = (0..EACH).map(|i| format!("{prefix}{i}")).collect();
                assert_eq!(texts, sent, "{who}: {prefix}'s messages in order");
            }
        }
        // And nothing more: no duplicates trail behind.
        let extra = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                if let Event::Chat(ChatEvent::Message { message }) =
                    bob_pushes.recv().await.unwrap().event
                {
                    return message.seq;
                }
            }
        })
        .await;
        assert!(extra.is_err(), "a duplicate arrived: {extra:?}");
    });
}

#[test]
fn presence_is_fleet_wide_and_a_killed_nodes_users_go_offline_within_the_timeout() {
    let url = postgres_database();
    let (home_a, home_b) = (Home::new(), Home::new());
    let timeout = ["--fleet-node-timeout", "1s"];
    let a = node(&home_a, &url, &timeout);
    let mut b = node(&home_b, &url, &timeout);
    rt().block_on(async {
        let (alice, _) = register(&a, "alice").await;
        let (bob, _) = register(&b, "bob").await;
        join(&alice, "lobby").await;
        join(&bob, "lobby").await;
        until_who(&alice, "bob online, seen from A", |w| {
            w.get("bob") == Some(&Status::Online)
        })
        .await;
        until_who(&bob, "alice online, seen from B", |w| {
            w.get("alice") == Some(&Status::Online)
        })
        .await;

        // A private message from A reaches bob on B (registered there).
        let mut bob_pushes = bob.pushes().await.unwrap();
        let reply = alice
            .request(ChatOp::Dm {
                to: "bob".into(),
                text: "across the fleet".into(),
                action: false,
            })
            .await
            .unwrap();
        assert!(
            matches!(reply, Reply::Chat(ChatReply::Sent { .. })),
            "{reply:?}"
        );
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Event::Chat(ChatEvent::Direct { message }) =
                    bob_pushes.recv().await.unwrap().event
                {
                    assert_eq!(
                        (message.from.as_str(), message.text.as_str()),
                        ("alice", "across the fleet")
                    );
                    break;
                }
            }
        })
        .await
        .expect("bob got the private message on his node");

        // Away on B shows on A.
        bob.request(ChatOp::Away {
            message: Some("lunch".into()),
        })
        .await
        .unwrap();
        until_who(&alice, "bob away, seen from A", |w| {
            w.get("bob") == Some(&Status::Away)
        })
        .await;

        // B dies without a word: A takes bob offline within the node
        // timeout (1 s) and a heartbeat, and tells the room.
        let mut alice_pushes = alice.pushes().await.unwrap();
        b.signal(libc::SIGKILL);
        let _ = b.wait_exit(Duration::from_secs(10));
        let killed = Instant::now();
        until_who(&alice, "bob offline after B died", |w| {
            w.get("bob") == Some(&Status::Offline)
        })
        .await;
        let took = killed.elapsed();
        assert!(took < Duration::from_secs(5), "took {took:?}");
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Event::Chat(ChatEvent::Left { room, user, reason }) =
                    alice_pushes.recv().await.unwrap().event
                    && room == "lobby"
                    && user == "bob"
                {
                    assert_eq!(reason, LeaveReason::Quit);
                    break;
                }
            }
        })
        .await
        .expect("the room heard bob quit");
        assert_eq!(who(&alice).await.get("alice"), Some(&Status::Online));
    });
}

/// Terminates every connection of `url`'s database that is listening for
/// notifications (each node's listeners: chat's, jobs', alerts'); returns
/// how many of them were chat's.
fn cut_listeners(url: &str) -> usize {
    let out = std::process::Command::new("psql")
        .args([
            url,
            "-Atc",
            "SELECT count(*) FILTER (WHERE query LIKE 'LISTEN \"agora_chat\"%') \
             FROM (SELECT query, pg_terminate_backend(pid) FROM pg_stat_activity \
                   WHERE datname = current_database() AND query LIKE 'LISTEN%') AS cut",
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_node_whose_listener_was_cut_catches_up_and_a_moved_client_resumes_from_its_cursor() {
    let url = postgres_database();
    let (home_a, home_b) = (Home::new(), Home::new());
    let a = node(&home_a, &url, &[]);
    let b = node(&home_b, &url, &[]);
    rt().block_on(async {
        let (alice, _) = register(&a, "alice").await;
        let (bob, bob_token) = register(&b, "bob").await;
        join(&alice, "ops").await;
        join(&bob, "ops").await;
        let mut bob_pushes = bob.pushes().await.unwrap();
        for i in 0..10 {
            alice
                .request(send("ops", &format!("before {i}")))
                .await
                .unwrap();
        }
        assert_eq!(messages(&mut bob_pushes, "ops", 10).await.len(), 10);

        // Both nodes lose their listening connections; alice goes on
        // sending at once, while B is deaf.
        assert_eq!(cut_listeners(&url), 2);
        for i in 0..20 {
            alice
                .request(send("ops", &format!("during {i}")))
                .await
                .unwrap();
        }
        let got = messages(&mut bob_pushes, "ops", 20).await;
        assert_eq!(
            got.iter().map(|m| m.0).collect::<Vec<_>>(),
            (11..=30).collect::<Vec<_>>(),
            "B caught up from the table, in order"
        );

        // bob's terminal moves from B to A and asks for what followed the
        // last message it saw: nothing lost, nothing twice.
        drop(bob_pushes);
        drop(bob);
        for i in 0..5 {
            alice
                .request(send("ops", &format!("while away {i}")))
                .await
                .unwrap();
        }
        let moved = a.client(Some(bob_token)).await;
        let Reply::Chat(ChatReply::History { messages, more, .. }) = moved
            .request(ChatOp::History {
                room: "ops".into(),
                before: None,
                since: Some(30),
                limit: Some(100),
            })
            .await
            .unwrap()
        else {
            panic!("expected history");
        };
        assert!(!more);
        assert_eq!(
            messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
            (31..=35).collect::<Vec<_>>()
        );
        assert_eq!(messages[0].text, "while away 0");
    });
}

#[test]
fn a_node_killed_mid_burst_loses_no_acknowledged_message() {
    let url = postgres_database();
    let (home_a, home_b) = (Home::new(), Home::new());
    let mut a = node(&home_a, &url, &[]);
    let b = node(&home_b, &url, &[]);
    rt().block_on(async {
        let (alice, _) = register(&a, "alice").await;
        join(&alice, "burst").await;
        // A flood of pipelined messages; A is SIGKILLed while they land.
        let flood = join_all((0..3_000).map(|i| alice.request(send("burst", &format!("m{i}")))));
        let kill = async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            a.signal(libc::SIGKILL);
        };
        let (replies, ()) = tokio::join!(flood, kill);
        let acked: Vec<(u64, String)> = replies
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| r.ok().map(|r| (sent_seq(r), format!("m{i}"))))
            .collect();
        let _ = a.wait_exit(Duration::from_secs(10));

        // Everything acknowledged is readable through the other node.
        let (reader, _) = register(&b, "reader").await;
        join(&reader, "burst").await;
        let mut stored = BTreeMap::new();
        let mut since = 0;
        loop {
            let Reply::Chat(ChatReply::History { messages, more, .. }) = reader
                .request(ChatOp::History {
                    room: "burst".into(),
                    before: None,
                    since: Some(since),
                    limit: Some(500),
                })
                .await
                .unwrap()
            else {
                panic!("expected history");
            };
            for m in &messages {
                stored.insert(m.seq, m.text.clone());
                since = m.seq;
            }
            if !more {
                break;
            }
        }
        for (seq, text) in &acked {
            assert_eq!(
                stored.get(seq),
                Some(text),
                "acknowledged message {seq} lost"
            );
        }
        let seqs: Vec<u64> = stored.keys().copied().collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "gapless");
        eprintln!(
            "{} acknowledged before the kill, {} stored",
            acked.len(),
            stored.len()
        );
    });
}

#[test]
fn chat_rides_out_a_postgresql_restart_with_clear_errors_and_no_daemon_restart() {
    let pg = PrivatePostgres::start();
    let url = pg.database("fleet_restart");
    let (home_a, home_b) = (Home::new(), Home::new());
    let a = node(&home_a, &url, &[]);
    let b = node(&home_b, &url, &[]);
    rt().block_on(async {
        let (alice, _) = register(&a, "alice").await;
        let (bob, _) = register(&b, "bob").await;
        join(&alice, "ops").await;
        join(&bob, "ops").await;
        let mut bob_pushes = bob.pushes().await.unwrap();
        for i in 0..5 {
            alice
                .request(send("ops", &format!("before {i}")))
                .await
                .unwrap();
        }
        assert_eq!(messages(&mut bob_pushes, "ops", 5).await.len(), 5);

        // The database goes away: sends fail at once, with a clear
        // error that says to retry (not a hang, not "internal").
        pg.down();
        let started = Instant::now();
        let err = alice.request(send("ops", "during")).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Unavailable), "{err}");
        assert!(err.to_string().contains("database is unavailable"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        // The load balancer is told: not ready while the database is away.
        let (status, body) = a.http_get("/readyz").await;
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("postgres"), "{body}");
        // The blog says so too: 503 naming the database, not a bare 500.
        let (status, body) = b.http_get("/api/articles").await;
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("\"database\""), "{body}");

        // Back: the same daemons recover; a client retrying gets through,
        // the other node hears it, and the numbers go on without a gap.
        pg.up();
        let started = Instant::now();
        let seq = loop {
            match alice.request(send("ops", "after")).await {
                Ok(reply) => break sent_seq(reply),
                Err(err) => {
                    assert_eq!(err.code(), Some(ErrorCode::Unavailable), "{err}");
                    assert!(
                        started.elapsed() < Duration::from_secs(20),
                        "no recovery: {err}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        assert_eq!(seq, 6, "nothing half-stored during the outage");
        let got = messages(&mut bob_pushes, "ops", 1).await;
        assert_eq!(got, vec![(6, "after".to_owned())]);
        let (status, body) = a.http_get("/readyz").await;
        assert_eq!(status, 200, "{body}");
        // A pooled connection the outage broke fails once, as 503; a
        // retry gets through.
        let started = Instant::now();
        loop {
            let (status, body) = b.http_get("/api/articles").await;
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "{body}");
            assert!(started.elapsed() < Duration::from_secs(20), "{body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Presence and the listener came back too.
        until_who(&alice, "bob online after the restart", |w| {
            w.get("bob") == Some(&Status::Online)
        })
        .await;
    });
}
