//! Signed tokens (JWT, HS256).
//!
//! The signing secret comes from `AGORA_JWT_SECRET` (via the config), from
//! the file `--jwt-key-file` names, or from `jwt.key` in the data
//! directory, generated with 32 random bytes on first start and written
//! with mode 0600. A fleet of daemons sharing one PostgreSQL must share
//! the key too (the secret or the file), so a token issued by one node is
//! accepted by every other (docs/FLEET.md). Tokens carry the user id and
//! name and expire after the configured lifetime.

use std::io::Write as _;
use std::path::Path;

use agora_wire::{ErrorBody, ErrorCode, UserInfo};
use anyhow::Context as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::Config;

/// What a token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the user name.
    pub sub: String,
    /// The user id.
    pub uid: i64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
}

/// The signing and verification keys.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: u64,
}

impl Keys {
    /// Loads the secret from the config, from the key file it names, or
    /// from `jwt.key` in the data directory (creating it on first start).
    ///
    /// # Errors
    /// When the key file cannot be read or created, or is shorter than 32
    /// bytes.
    pub fn load(config: &Config) -> anyhow::Result<Keys> {
        let secret = match (&config.jwt_secret, &config.jwt_key_file) {
            (Some(s), _) if !s.is_empty() => s.as_bytes().to_vec(),
            (_, Some(path)) => load_key_file(path)?,
            _ => load_or_create_key(&config.data_dir.join("jwt.key"))?,
        };
        Ok(Keys::from_secret(&secret, config.token_ttl.as_secs()))
    }

    /// Whether `config` names a key every node can share (the secret or a
    /// key file) rather than the data directory's own.
    pub fn is_shared(config: &Config) -> bool {
        config.jwt_secret.as_ref().is_some_and(|s| !s.is_empty()) || config.jwt_key_file.is_some()
    }

    /// Keys from a raw secret.
    pub fn from_secret(secret: &[u8], ttl_secs: u64) -> Keys {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
        }
    }

    /// Issues a token for `user`; returns it and its expiry in ms.
    ///
    /// # Errors
    /// When signing fails (it does not with HS256).
    pub fn issue(&self, user: &UserInfo) -> Result<(String, u64), jsonwebtoken::errors::Error> {
        let iat = crate::now_ms() / 1000;
        let claims = Claims {
            sub: user.name.clone(),
            uid: user.id,
            iat,
            exp: iat + self.ttl_secs,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims.exp * 1000))
    }

    /// Checks a token's signature and expiry.
    ///
    /// # Errors
    /// `unauthorized`, saying whether it expired or is invalid.
    pub fn verify(&self, token: &str) -> Result<Claims, ErrorBody> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| {
                let message = match err.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        "token expired; sign in again (agora login)"
                    }
                    _ => "invalid token; sign in again (agora login)",
                };
                ErrorBody::new(ErrorCode::Unauthorized, message)
            })
    }
}

/// Reads a key file given by the operator: at least 32 bytes, one
/// trailing newline ignored (a key written with `echo` works as well as
/// one from `head -c 32 /dev/urandom`).
fn load_key_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut key = std::fs::read(path)
        .with_context(|| format!("cannot read the signing key file {}", path.display()))?;
    if key.last() == Some(&b'\n') {
        key.pop();
    }
    anyhow::ensure!(
        key.len() >= 32,
        "the signing key file {} holds {} bytes; it needs at least 32",
        path.display(),
        key.len()
    );
    Ok(key)
}

fn load_or_create_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => anyhow::bail!(
            "signing key {} is shorter than 32 bytes; delete it to generate a new one",
            path.display()
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read signing key {}", path.display()));
        }
    }
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create signing key {}", path.display()))?;
    file.write_all(&key)?;
    file.sync_all()?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> UserInfo {
        UserInfo {
            id: 7,
            name: "alice".into(),
        }
    }

    #[test]
    fn issued_token_verifies() {
        let keys = Keys::from_secret(b"0123456789abcdef0123456789abcdef", 3600);
        let (token, exp_ms) = keys.issue(&alice()).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.uid, 7);
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.exp * 1000, exp_ms);
    }

    #[test]
    fn other_key_or_garbage_is_refused() {
        let keys = Keys::from_secret(b"0123456789abcdef0123456789abcdef", 3600);
        let other = Keys::from_secret(b"ffffffffffffffffffffffffffffffff", 3600);
        let (token, _) = other.issue(&alice()).unwrap();
        assert_eq!(
            keys.verify(&token).unwrap_err().code,
            ErrorCode::Unauthorized
        );
        assert!(keys.verify("not.a.jwt").is_err());
    }

    #[test]
    fn expired_token_says_so() {
        let keys = Keys::from_secret(b"0123456789abcdef0123456789abcdef", 0);
        let claims = Claims {
            sub: "alice".into(),
            uid: 7,
            iat: 1,
            exp: 2,
        };
        let token = jsonwebtoken::encode(&Header::default(), &claims, &keys.encoding).unwrap();
        assert!(keys.verify(&token).unwrap_err().message.contains("expired"));
    }

    #[test]
    fn key_file_is_read_as_given_and_must_be_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.key");
        std::fs::write(&path, "0123456789abcdef0123456789abcdef\n").unwrap();
        let mut config = Config::new(dir.path().join("data"));
        config.jwt_key_file = Some(path.clone());
        assert!(Keys::is_shared(&config));
        let from_file = Keys::load(&config).unwrap();
        let same = Keys::from_secret(b"0123456789abcdef0123456789abcdef", 3600);
        let (token, _) = same.issue(&alice()).unwrap();
        assert_eq!(from_file.verify(&token).unwrap().uid, 7);
        // Nothing was generated in the data directory.
        assert!(!dir.path().join("data/jwt.key").exists());
        std::fs::write(&path, "short").unwrap();
        let err = Keys::load(&config).err().unwrap().to_string();
        assert!(err.contains("needs at least 32"), "{err}");
        config.jwt_key_file = Some(dir.path().join("missing.key"));
        let err = format!("{:#}", Keys::load(&config).err().unwrap());
        assert!(err.contains("cannot read the signing key file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn generated_key_is_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        let first = load_or_create_key(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create_key(&path).unwrap(), first);
    }
}
