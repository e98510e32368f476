//! Password hashing with argon2id (the argon2 crate's defaults, OWASP's
//! recommended parameters), off the async runtime.
//!
//! Each hash needs 19 MiB of memory. At most one hash per CPU runs at a
//! time: a flood of logins then queues instead of spawning hundreds of
//! blocking threads that together exhaust memory, and the allocator keeps
//! only a few such buffers around afterwards.

use agora_wire::ErrorBody;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use std::sync::LazyLock;

use tokio::sync::Semaphore;

use crate::service::{blocking, internal};

static HASHING: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// A valid hash of a random password nobody knows, used to spend the same
/// time on unknown user names as on known ones.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3B2Hy2BvoU7U5zUD7Lfr9Y4pgvmtMN0GYNsPkfKZY3M";

/// Hashes a password into a PHC string.
pub async fn hash(password: String) -> Result<String, ErrorBody> {
    let _permit = HASHING.acquire().await.map_err(internal)?;
    blocking(move || {
        let mut raw = [0u8; 16];
        rand::rng().fill_bytes(&mut raw);
        let salt = SaltString::encode_b64(&raw).map_err(internal)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(internal)
    })
    .await?
}

/// Checks a password against a PHC string.
pub async fn verify(password: String, hash: String) -> Result<bool, ErrorBody> {
    let _permit = HASHING.acquire().await.map_err(internal)?;
    blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(internal)?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), h.clone()).await.unwrap());
        assert!(!verify("wrong horse".into(), h).await.unwrap());
    }

    #[tokio::test]
    async fn dummy_hash_parses() {
        assert!(!verify("anything".into(), DUMMY_HASH.into()).await.unwrap());
    }
}
