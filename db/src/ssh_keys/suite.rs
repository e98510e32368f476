//! The SSH keys repository's suite ([`super::SshKeyStore`]), run once per
//! backend: SQLite's `SshKeys` and PostgreSQL's `PgSshKeys` must agree.

use super::*;
use crate::{Access, Storage};

crate::on_both_backends!(
    add_list_find_remove,
    a_refused_key_leaves_the_transaction_usable,
    touch_records_the_last_use,
);

fn key(fp: &str) -> NewSshKey<'_> {
    NewSshKey {
        fingerprint: fp,
        algorithm: "ssh-ed25519",
        public_key: "ssh-ed25519 AAAA",
        comment: "me@laptop",
    }
}

/// Two accounts, alice and bob: their ids.
fn alice_and_bob(db: &Storage) -> (i64, i64) {
    db.users(Access::Write, |u| {
        Ok((u.create("alice", "h")?.id, u.create("bob", "h")?.id))
    })
    .unwrap()
}

fn add(db: &Storage, user: i64, fp: &str) -> Result<SshKey> {
    db.ssh_keys(Access::Write, |k| k.add(user, key(fp)))
}

fn find(db: &Storage, fp: &str) -> Option<SshKey> {
    db.ssh_keys(Access::Read, |k| k.find(fp)).unwrap()
}

fn remove(db: &Storage, user: i64, fp: &str) -> bool {
    db.ssh_keys(Access::Write, |k| k.remove(user, fp)).unwrap()
}

fn add_list_find_remove(db: &Storage) {
    let (alice, bob) = alice_and_bob(db);
    let added = add(db, alice, "SHA256:a").unwrap();
    assert_eq!(added.user_id, alice);
    assert_eq!(added.fingerprint, "SHA256:a");
    assert_eq!(added.algorithm, "ssh-ed25519");
    assert_eq!(added.public_key, "ssh-ed25519 AAAA");
    assert_eq!(added.comment, "me@laptop");
    assert_eq!(added.last_used_ms, None);
    assert!(added.created_at_ms > 0);
    // Again by the same user: unchanged, no error.
    let again = add(db, alice, "SHA256:a").unwrap();
    assert_eq!(again, added);
    // By another user: refused, and still alice's.
    let taken = add(db, bob, "SHA256:a").unwrap_err();
    assert!(matches!(taken, Error::Conflict(_)), "{taken:?}");
    assert_eq!(find(db, "SHA256:a"), Some(added.clone()));
    add(db, alice, "SHA256:b").unwrap();
    let listed = db.ssh_keys(Access::Read, |k| k.list(alice)).unwrap();
    let mut fingerprints: Vec<&str> = listed.iter().map(|k| k.fingerprint.as_str()).collect();
    fingerprints.sort_unstable();
    assert_eq!(fingerprints, ["SHA256:a", "SHA256:b"]);
    assert!(listed.iter().all(|k| k.user_id == alice));
    assert!(
        db.ssh_keys(Access::Read, |k| k.list(bob))
            .unwrap()
            .is_empty()
    );
    // Bob cannot remove Alice's key; Alice can, once.
    assert!(!remove(db, bob, "SHA256:a"));
    assert!(find(db, "SHA256:a").is_some());
    assert!(remove(db, alice, "SHA256:a"));
    assert!(!remove(db, alice, "SHA256:a"));
    assert_eq!(find(db, "SHA256:a"), None);
    // Once removed, the key is free for bob.
    assert_eq!(add(db, bob, "SHA256:a").unwrap().user_id, bob);
    assert_eq!(
        db.ssh_keys(Access::Read, |k| k.list(alice)).unwrap().len(),
        1
    );
}

/// A refused `add` does not spoil the transaction it ran in: what the
/// caller does next in it commits (on PostgreSQL a failed statement would
/// abort the whole transaction).
fn a_refused_key_leaves_the_transaction_usable(db: &Storage) {
    let (alice, bob) = alice_and_bob(db);
    add(db, alice, "SHA256:a").unwrap();
    let refused = db
        .ssh_keys(Access::Write, |k| {
            let refused = k.add(bob, key("SHA256:a")).unwrap_err();
            k.add(bob, key("SHA256:b"))?;
            assert_eq!(k.list(bob)?.len(), 1);
            Ok(refused)
        })
        .unwrap();
    assert!(matches!(refused, Error::Conflict(_)), "{refused:?}");
    assert_eq!(find(db, "SHA256:b").unwrap().user_id, bob);
    assert_eq!(find(db, "SHA256:a").unwrap().user_id, alice);
}

fn touch_records_the_last_use(db: &Storage) {
    let (alice, _) = alice_and_bob(db);
    add(db, alice, "SHA256:a").unwrap();
    add(db, alice, "SHA256:b").unwrap();
    let before = crate::now_ms();
    db.ssh_keys(Access::Write, |k| k.touch("SHA256:a")).unwrap();
    let used = find(db, "SHA256:a").unwrap().last_used_ms.unwrap();
    assert!(used >= before, "{used} < {before}");
    // Only that key; an unknown key is no error.
    assert_eq!(find(db, "SHA256:b").unwrap().last_used_ms, None);
    db.ssh_keys(Access::Write, |k| k.touch("SHA256:nobody"))
        .unwrap();
    assert_eq!(find(db, "SHA256:nobody"), None);
}
