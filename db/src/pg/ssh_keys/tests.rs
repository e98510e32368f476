//! What only PostgreSQL has to show: two nodes binding one key at once.

use std::sync::{Barrier, mpsc};
use std::time::Duration;

use crate::ssh_keys::{NewSshKey, SshKey};
use crate::{Access, Error, Pg, Result, Storage};

fn key(fp: &str) -> NewSshKey<'_> {
    NewSshKey {
        fingerprint: fp,
        algorithm: "ssh-ed25519",
        public_key: "ssh-ed25519 AAAA",
        comment: "",
    }
}

/// Two nodes on one fresh database, and two accounts: alice's and bob's
/// ids.
fn two_nodes() -> (Storage, Storage, i64, i64) {
    let url = crate::pg::testing::database();
    let a = Storage::Postgres(Pg::connect_as(&url, "node-a").unwrap());
    let b = Storage::Postgres(Pg::connect_as(&url, "node-b").unwrap());
    let (alice, bob) = a
        .users(Access::Write, |u| {
            Ok((u.create("alice", "h")?.id, u.create("bob", "h")?.id))
        })
        .unwrap();
    (a, b, alice, bob)
}

/// Node A binds the key to alice and, before it commits, node B tries to
/// bind it to bob: B waits for A, then is told the key is taken — and its
/// transaction goes on (what it does next commits).
#[test]
fn a_key_bound_on_two_nodes_at_once_goes_to_one_account() {
    let (a, b, alice, bob) = two_nodes();
    let (inserted, go) = mpsc::channel();
    let on_b: Result<SshKey> = std::thread::scope(|s| {
        let on_a = s.spawn(|| {
            a.ssh_keys(Access::Write, |k| {
                let added = k.add(alice, key("SHA256:x"))?;
                inserted.send(()).unwrap();
                // B's add runs meanwhile, against our uncommitted row.
                std::thread::sleep(Duration::from_millis(300));
                Ok(added)
            })
        });
        go.recv().unwrap();
        let refused = b
            .ssh_keys(Access::Write, |k| {
                let refused = k.add(bob, key("SHA256:x"));
                k.add(bob, key("SHA256:y"))?;
                Ok(refused)
            })
            .unwrap();
        assert_eq!(on_a.join().unwrap().unwrap().user_id, alice);
        refused
    });
    let err = on_b.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let owner = |fp: &str| {
        b.ssh_keys(Access::Read, |k| k.find(fp))
            .unwrap()
            .map(|k| k.user_id)
    };
    assert_eq!(owner("SHA256:x"), Some(alice));
    assert_eq!(owner("SHA256:y"), Some(bob));
}

/// Many keys, each added by both nodes for different accounts at the same
/// instant: each key goes to exactly one of them, the other hears
/// `Conflict`, never a database error.
#[test]
fn racing_nodes_never_both_win_and_never_fail_otherwise() {
    let (a, b, alice, bob) = two_nodes();
    const KEYS: usize = 20;
    let barrier = Barrier::new(2);
    // No assertion inside: a thread that panicked would leave the other
    // waiting at the barrier for ever.
    let race = |node: &Storage, user: i64| -> Vec<Result<bool, String>> {
        (0..KEYS)
            .map(|i| {
                let fp = format!("SHA256:race{i}");
                barrier.wait();
                match node.ssh_keys(Access::Write, |k| k.add(user, key(&fp))) {
                    Ok(added) if added.user_id == user => Ok(true),
                    Ok(added) => Err(format!("{fp}: added for {}", added.user_id)),
                    Err(Error::Conflict(_)) => Ok(false),
                    Err(other) => Err(format!("{fp}: {other}")),
                }
            })
            .collect()
    };
    let (won_a, won_b) = std::thread::scope(|s| {
        let on_a = s.spawn(|| race(&a, alice));
        let on_b = s.spawn(|| race(&b, bob));
        (on_a.join().unwrap(), on_b.join().unwrap())
    });
    let won_a: Vec<bool> = won_a.into_iter().map(Result::unwrap).collect();
    let won_b: Vec<bool> = won_b.into_iter().map(Result::unwrap).collect();
    for i in 0..KEYS {
        assert!(
            won_a[i] ^ won_b[i],
            "key {i}: a {} b {}",
            won_a[i],
            won_b[i]
        );
        let owner = a
            .ssh_keys(Access::Read, |k| k.find(&format!("SHA256:race{i}")))
            .unwrap()
            .unwrap()
            .user_id;
        assert_eq!(owner, if won_a[i] { alice } else { bob });
    }
}
