//! SSH public keys of accounts: parsing a `.pub` line, and the base
//! service's `ssh_key_add`, `ssh_key_list` and `ssh_key_remove` over
//! `agora_db::ssh_keys`, on the daemon's [`agora_db::Storage`] (a fleet's
//! PostgreSQL: a key added through one node signs in on every node).
//!
//! Only ed25519 and ECDSA keys are taken (the daemon's russh is built
//! without RSA: docs/SSH.md, "Security choices").

use agora_db::Access;
use agora_db::ssh_keys::{NewSshKey, SshKey};
use agora_wire::{ErrorBody, ErrorCode, SshKeyInfo, UserInfo};
use russh::keys::{Algorithm, HashAlg, PublicKey};

use crate::service::{blocking, storage, stored};

/// The longest `.pub` line taken.
const MAX_LINE: usize = 8 * 1024;

/// A parsed public key line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    /// `SHA256:…`.
    pub fingerprint: String,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, ….
    pub algorithm: String,
    /// The key without its comment.
    pub public_key: String,
    /// The comment, if the line had one.
    pub comment: String,
}

/// Whether keys of this type may sign in.
pub fn accepted(algorithm: &Algorithm) -> bool {
    matches!(algorithm, Algorithm::Ed25519 | Algorithm::Ecdsa { .. })
}

/// The fingerprint the listener looks keys up by.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Parses one line of an OpenSSH `.pub` file. Pure.
///
/// # Errors
/// A one-line reason when it is not an ed25519 or ECDSA public key.
pub fn parse_line(line: &str) -> Result<ParsedKey, String> {
    let line = line.trim();
    if line.len() > MAX_LINE {
        return Err(format!("a public key line is at most {MAX_LINE} bytes"));
    }
    if line.contains("PRIVATE KEY") {
        return Err("that is a private key: give the .pub file".into());
    }
    let key = PublicKey::from_openssh(line).map_err(|_| {
        "not an OpenSSH public key line (\"ssh-ed25519 AAAA… comment\")".to_string()
    })?;
    let algorithm = key.algorithm();
    if !accepted(&algorithm) {
        return Err(format!(
            "{} keys are not accepted; use an ed25519 (ssh-keygen -t ed25519) or ECDSA key",
            algorithm.as_str()
        ));
    }
    let encoded = key
        .to_openssh()
        .map_err(|_| "cannot encode the key".to_string())?;
    let public_key = encoded.split(' ').take(2).collect::<Vec<_>>().join(" ");
    Ok(ParsedKey {
        fingerprint: fingerprint(&key),
        algorithm: algorithm.as_str().to_owned(),
        public_key,
        comment: key.comment().as_str_lossy().to_owned(),
    })
}

fn info(key: SshKey) -> SshKeyInfo {
    SshKeyInfo {
        fingerprint: key.fingerprint,
        algorithm: key.algorithm,
        comment: key.comment,
        created_at_ms: key.created_at_ms.max(0) as u64,
        last_used_ms: key.last_used_ms.map(|t| t.max(0) as u64),
    }
}

/// `ssh_key_add`.
///
/// # Errors
/// `bad_request` for a line that is not an accepted key, `conflict` when
/// another account holds it.
pub async fn add(
    shared: &agora_db::Storage,
    user: UserInfo,
    line: &str,
) -> Result<SshKeyInfo, ErrorBody> {
    let parsed = parse_line(line).map_err(ErrorBody::bad_request)?;
    let name = user.name.clone();
    let shared = shared.clone();
    let added = blocking(move || {
        shared.ssh_keys(Access::Write, |keys| {
            keys.add(
                user.id,
                NewSshKey {
                    fingerprint: &parsed.fingerprint,
                    algorithm: &parsed.algorithm,
                    public_key: &parsed.public_key,
                    comment: &parsed.comment,
                },
            )
        })
    })
    .await?
    .map_err(|err| match err {
        agora_db::Error::Conflict(_) => ErrorBody::new(
            ErrorCode::Conflict,
            "another account holds that key; remove it there first",
        ),
        other => stored(other),
    })?;
    tracing::info!(user = %name, fingerprint = %added.fingerprint, "SSH key added");
    Ok(info(added))
}

/// `ssh_key_list`.
///
/// # Errors
/// On database errors.
pub async fn list(
    shared: &agora_db::Storage,
    user: UserInfo,
) -> Result<Vec<SshKeyInfo>, ErrorBody> {
    let keys = storage(shared, move |s| {
        s.ssh_keys(Access::Read, |keys| keys.list(user.id))
    })
    .await?;
    Ok(keys.into_iter().map(info).collect())
}

/// `ssh_key_remove`.
///
/// # Errors
/// `not_found` when the user holds no such key.
pub async fn remove(
    shared: &agora_db::Storage,
    user: UserInfo,
    fingerprint: String,
) -> Result<(), ErrorBody> {
    let shown = fingerprint.clone();
    let removed = storage(shared, move |s| {
        s.ssh_keys(Access::Write, |keys| keys.remove(user.id, &fingerprint))
    })
    .await?;
    if removed {
        tracing::info!(fingerprint = %shown, "SSH key removed");
        Ok(())
    } else {
        Err(ErrorBody::new(
            ErrorCode::NotFound,
            format!("you have no SSH key {shown}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use agora_db::Storage;

    use super::*;

    // `ssh-keygen -t ed25519 -C me@laptop`, and its `ssh-keygen -l`.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICdDGAhJNjHM+5QmCGsfirRGSxPPtgV57LHlamDeH4Cz me@laptop";
    const FINGERPRINT: &str = "SHA256:fJnrU4bvWJXVK6dPsxhoBUDub39nULTQ/8TznQpIxBA";

    #[test]
    fn an_ed25519_line_parses_with_its_fingerprint_and_comment() {
        let parsed = parse_line(ED25519).unwrap();
        assert_eq!(parsed.algorithm, "ssh-ed25519");
        assert_eq!(parsed.comment, "me@laptop");
        assert_eq!(parsed.fingerprint, FINGERPRINT);
        assert!(!parsed.public_key.contains("me@laptop"));
        assert!(ED25519.starts_with(&parsed.public_key));
    }

    /// Two handles on one backend, as two nodes of a fleet hold; Alice
    /// and Bob.
    async fn two_nodes(url: Option<String>) -> (Storage, Storage, UserInfo, UserInfo) {
        tokio::task::spawn_blocking(move || {
            let (a, b) = match url {
                Some(url) => (
                    Storage::Postgres(agora_db::Pg::connect_as(&url, "node-a").unwrap()),
                    Storage::Postgres(agora_db::Pg::connect_as(&url, "node-b").unwrap()),
                ),
                None => {
                    let db = agora_db::Db::open_in_memory().unwrap();
                    (Storage::Sqlite(db.clone()), Storage::Sqlite(db))
                }
            };
            let user = |name: &str| {
                let u = a
                    .users(Access::Write, |users| users.create(name, "h"))
                    .unwrap();
                UserInfo {
                    id: u.id,
                    name: u.name,
                }
            };
            let (alice, bob) = (user("alice"), user("bob"));
            (a, b, alice, bob)
        })
        .await
        .unwrap()
    }

    /// Added through one node, listed and refused to another account
    /// through the other, removed there.
    async fn keys_are_the_fleets(url: Option<String>) {
        let (a, b, alice, bob) = two_nodes(url).await;
        let added = add(&a, alice.clone(), ED25519).await.unwrap();
        assert_eq!(added.fingerprint, FINGERPRINT);
        let listed = list(&b, alice.clone()).await.unwrap();
        assert_eq!(listed, vec![added.clone()]);
        // Adding it again is no error; to Bob, a conflict.
        assert_eq!(add(&b, alice.clone(), ED25519).await.unwrap(), added);
        let err = add(&b, bob.clone(), ED25519).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::Conflict, "{}", err.message);
        let err = remove(&b, bob, FINGERPRINT.into()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        remove(&b, alice.clone(), FINGERPRINT.into()).await.unwrap();
        assert!(list(&a, alice).await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_are_shared_on_sqlite() {
        keys_are_the_fleets(None).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_are_shared_by_the_nodes_of_a_fleet_on_postgres() {
        let url = tokio::task::spawn_blocking(agora_db::pg::testing::database)
            .await
            .unwrap();
        keys_are_the_fleets(Some(url)).await;
    }

    #[test]
    fn other_lines_get_a_reason() {
        assert!(
            parse_line("")
                .unwrap_err()
                .contains("not an OpenSSH public key")
        );
        assert!(
            parse_line("ssh-ed25519 !!!")
                .unwrap_err()
                .contains("not an OpenSSH")
        );
        assert!(
            parse_line("-----BEGIN OPENSSH PRIVATE KEY-----")
                .unwrap_err()
                .contains("private key")
        );
        assert!(
            parse_line(&"a".repeat(MAX_LINE + 1))
                .unwrap_err()
                .contains("at most")
        );
    }
}
