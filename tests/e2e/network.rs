//! What crosses a real network link: a client whose link is cut without a
//! FIN or RST (the half-open case) is found by TCP keepalive and shown as
//! gone. The client runs in a network namespace of its own, joined to the
//! daemon's by a veth pair this test creates and deletes; the daemon probes
//! quickly here (`--keepalive-secs 1 --keepalive-interval-secs 1
//! --keepalive-probes 2`) so the test takes seconds, not the default 30.
//! Needs root and iproute2 (`ip`): CI has both; elsewhere it says so and
//! skips.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agora_wire::chat::{LeaveReason, Status};
use agora_wire::{BaseOp, ChatEvent, ChatOp, ChatReply, Event, Reply};

use crate::support::{Daemon, Home, rt};

/// A network namespace with a veth link to the host; deleted on drop.
struct Netns {
    name: String,
    host_if: String,
    ns_if: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Netns {
    /// Host side 10.213.7.1, namespace side 10.213.7.2: addresses that
    /// exist only on this test's own veth link (this sandbox refuses
    /// traffic to documentation ranges such as 192.0.2.0/24, even locally).
    fn create() -> Option<Netns> {
        let id = std::process::id() % 100_000;
        let ns = Netns {
            name: format!("agora-e2e-{id}"),
            host_if: format!("agh{id}"),
            ns_if: format!("agn{id}"),
        };
        let ok = ip(&["netns", "add", &ns.name])
            && ip(&[
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &ns.ns_if,
            ])
            && ip(&["link", "set", &ns.ns_if, "netns", &ns.name])
            && ip(&["addr", "add", "10.213.7.1/24", "dev", &ns.host_if])
            && ip(&["link", "set", &ns.host_if, "up"])
            && ip(&[
                "netns",
                "exec",
                &ns.name,
                "ip",
                "addr",
                "add",
                "10.213.7.2/24",
                "dev",
                &ns.ns_if,
            ])
            && ip(&[
                "netns", "exec", &ns.name, "ip", "link", "set", &ns.ns_if, "up",
            ])
            && ip(&["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"]);
        ok.then_some(ns)
    }

    /// Cuts the cable: the namespace's side goes down, nothing is sent.
    fn cut(&self) {
        assert!(ip(&[
            "netns",
            "exec",
            &self.name,
            "ip",
            "link",
            "set",
            &self.ns_if,
            "down"
        ]));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.name]);
        ip(&["link", "del", &self.host_if]);
    }
}

#[test]
fn a_half_open_client_is_found_and_shown_offline() {
    let Some(netns) = Netns::create() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to create network namespaces (root, iproute2)"
        );
        eprintln!("skipping: cannot create a network namespace (needs root and iproute2)");
        return;
    };
    let home = Home::new();
    let daemon = Daemon::start_on(
        &home,
        "0.0.0.0:0",
        &[
            "--keepalive-secs",
            "1",
            "--keepalive-interval-secs",
            "1",
            "--keepalive-probes",
            "2",
        ],
    );
    let port = daemon.ready.listen.port();
    let local = format!("127.0.0.1:{port}");
    let runtime = rt();
    let (alice, mut pushes) = runtime.block_on(async {
        let (alice, _) = agora_wire::Client::connect(&local, agora_wire::Hello::new("e2e", None))
            .await
            .unwrap();
        for (c, name) in [(&alice, "alice")] {
            c.request(BaseOp::Register {
                name: name.into(),
                password: "half-open-1".into(),
            })
            .await
            .unwrap();
        }
        alice
            .request(ChatOp::Join {
                room: "lobby".into(),
            })
            .await
            .unwrap();
        let pushes = alice.pushes().await.unwrap();
        (alice, pushes)
    });
    // Bob registers and joins from the host, then his terminal runs in the
    // namespace and reaches the daemon over the veth link.
    home.register(&local, "bob", "half-open-2");
    let out = home.run(&["--addr", &local, "chat", "join", "lobby"], None);
    assert!(out.status.success());
    // The saved sign-in is per address: copy it for the veth address.
    let remote = format!("10.213.7.1:{port}");
    let creds_path = home.path().join("config/agora/credentials.json");
    let creds = std::fs::read_to_string(&creds_path)
        .unwrap()
        .replace(&local, &remote);
    std::fs::write(&creds_path, creds).unwrap();
    let _tail = KillOnDrop(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &netns.name,
                crate::support::bin(),
                "--addr",
                &remote,
                "chat",
                "tail",
                "lobby",
            ])
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("share"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    runtime.block_on(async {
        // Skip the quit of bob's earlier `chat join` command; wait for the
        // terminal in the namespace to bring him online.
        loop {
            let (status, _) = bob_event(&mut pushes).await.expect("bob came online");
            if status == Status::Online {
                break;
            }
        }
        // Cut the link: no FIN, no RST — bob's process is still running.
        netns.cut();
        let cut_at = Instant::now();
        let gone = bob_event(&mut pushes)
            .await
            .expect("bob's half-open connection was noticed");
        assert_eq!(gone.1, Some(LeaveReason::Quit));
        // 1 s idle + 2 probes 1 s apart, plus slack for a busy machine.
        assert!(
            cut_at.elapsed() < Duration::from_secs(15),
            "took {:?}",
            cut_at.elapsed()
        );
        let Reply::Chat(ChatReply::Who { users }) = alice
            .request(ChatOp::Who {
                room: Some("lobby".into()),
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        let bob = users.iter().find(|u| u.user == "bob").unwrap();
        assert_eq!(bob.status, Status::Offline);
    });
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Bob's next presence change as alice sees it: (status, why he left).
async fn bob_event(
    pushes: &mut agora_wire::Pushes,
) -> Result<(Status, Option<LeaveReason>), tokio::time::error::Elapsed> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let push = pushes.recv().await.expect("alice connected");
            match push.event {
                Event::Chat(ChatEvent::Presence { user, .. }) if user.user == "bob" => {
                    return (user.status, None);
                }
                Event::Chat(ChatEvent::Left { user, reason, .. }) if user == "bob" => {
                    return (Status::Offline, Some(reason));
                }
                _ => {}
            }
        }
    })
    .await
}
