//! SSH public keys of accounts: parsing a `.pub` line, and the base
//! service's `ssh_key_add`, `ssh_key_list` and `ssh_key_remove` over
//! `agora_db::ssh_keys`.
//!
//! Only ed25519 and ECDSA keys are taken (the daemon's russh is built
//! without RSA: docs/SSH.md, "Security choices").

use agora_db::ssh_keys::{NewSshKey, SshKey, SshKeys};
use agora_wire::{ErrorBody, ErrorCode, SshKeyInfo, UserInfo};
use russh::keys::{Algorithm, HashAlg, PublicKey};

use crate::service::{blocking, db, internal};

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
    shared: &agora_db::Db,
    user: UserInfo,
    line: &str,
) -> Result<SshKeyInfo, ErrorBody> {
    let parsed = parse_line(line).map_err(ErrorBody::bad_request)?;
    let name = user.name.clone();
    let shared = shared.clone();
    let stored = blocking(move || {
        shared.write(|c| {
            SshKeys::new(c).add(
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
        other => internal(other),
    })?;
    tracing::info!(user = %name, fingerprint = %stored.fingerprint, "SSH key added");
    Ok(info(stored))
}

/// `ssh_key_list`.
///
/// # Errors
/// On database errors.
pub async fn list(shared: &agora_db::Db, user: UserInfo) -> Result<Vec<SshKeyInfo>, ErrorBody> {
    let keys = db(shared, move |d| d.read(|c| SshKeys::new(c).list(user.id))).await?;
    Ok(keys.into_iter().map(info).collect())
}

/// `ssh_key_remove`.
///
/// # Errors
/// `not_found` when the user holds no such key.
pub async fn remove(
    shared: &agora_db::Db,
    user: UserInfo,
    fingerprint: String,
) -> Result<(), ErrorBody> {
    let shown = fingerprint.clone();
    let removed = db(shared, move |d| {
        d.write(|c| SshKeys::new(c).remove(user.id, &fingerprint))
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
