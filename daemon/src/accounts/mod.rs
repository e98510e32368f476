//! Accounts: registration, sign-in and tokens.
//!
//! Passwords are hashed with argon2 ([`password`]) on the blocking pool, so
//! a burst of logins cannot stall the async runtime. Sign-in returns a JWT
//! ([`token`]) that later connections present in their hello and that the
//! HTTP API will accept too.

pub mod password;
pub mod token;

use agora_db::users::{User, Users};
use agora_db::{Db, Error as DbError};
use agora_wire::names::{validate_password, validate_user_name};
use agora_wire::{ErrorBody, ErrorCode, UserInfo};

use crate::Config;
use crate::service::{blocking, internal};

/// A signed-in user with a fresh token.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who.
    pub user: UserInfo,
    /// The bearer token.
    pub token: String,
    /// When it expires, ms since the epoch.
    pub expires_at_ms: u64,
}

/// The accounts service. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    db: Db,
    keys: token::Keys,
}

impl Accounts {
    /// Loads or creates the signing key (see [`token::Keys::load`]).
    ///
    /// # Errors
    /// When the key file cannot be read or written.
    pub fn open(config: &Config, db: Db) -> anyhow::Result<Accounts> {
        let keys = token::Keys::load(config)?;
        Ok(Accounts { db, keys })
    }

    /// Creates an account and signs it in.
    ///
    /// # Errors
    /// `bad_request` for a name or password that breaks the rules,
    /// `conflict` for a taken name.
    pub async fn register(&self, name: &str, password: &str) -> Result<SignedIn, ErrorBody> {
        let name = validate_user_name(name).map_err(ErrorBody::bad_request)?;
        validate_password(password).map_err(ErrorBody::bad_request)?;
        let hash = password::hash(password.to_owned()).await?;
        let db = self.db.clone();
        let user = blocking(move || db.write(|c| Users::new(c).create(&name, &hash)))
            .await?
            .map_err(|err| match err {
                DbError::Conflict(what) => {
                    ErrorBody::new(ErrorCode::Conflict, format!("{what} already exists"))
                }
                other => internal(other),
            })?;
        tracing::info!(user = %user.name, "account created");
        self.sign_in(user)
    }

    /// Checks a name and password.
    ///
    /// # Errors
    /// `unauthorized` when either is wrong (the message does not say which).
    pub async fn login(&self, name: &str, password: &str) -> Result<SignedIn, ErrorBody> {
        let wrong = || ErrorBody::new(ErrorCode::Unauthorized, "wrong user name or password");
        let Ok(name) = validate_user_name(name) else {
            return Err(wrong());
        };
        let db = self.db.clone();
        let user = blocking(move || db.read(|c| Users::new(c).find_by_name(&name)))
            .await?
            .map_err(internal)?;
        // Verify against a dummy hash when the user does not exist, so the
        // response time does not reveal which names are taken.
        let hash = user.as_ref().map_or_else(
            || password::DUMMY_HASH.to_owned(),
            |u| u.password_hash.clone(),
        );
        let ok = password::verify(password.to_owned(), hash).await?;
        match user {
            Some(user) if ok => self.sign_in(user),
            _ => Err(wrong()),
        }
    }

    /// Resolves a token to its user.
    ///
    /// # Errors
    /// `unauthorized` when the token is invalid, expired, or its user no
    /// longer exists.
    pub async fn authenticate(&self, token: &str) -> Result<UserInfo, ErrorBody> {
        let claims = self.keys.verify(token)?;
        let db = self.db.clone();
        let user = blocking(move || db.read(|c| Users::new(c).find_by_id(claims.uid)))
            .await?
            .map_err(internal)?;
        user.map(|u| UserInfo {
            id: u.id,
            name: u.name,
        })
        .ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::Unauthorized,
                "the token's account no longer exists",
            )
        })
    }

    /// Issues a fresh token for `user`, an account that exists (the blog
    /// API's sign-up and sign-in check the password themselves).
    ///
    /// # Errors
    /// `internal` when signing fails.
    pub fn issue(&self, user: UserInfo) -> Result<SignedIn, ErrorBody> {
        let (token, expires_at_ms) = self.keys.issue(&user).map_err(internal)?;
        Ok(SignedIn {
            user,
            token,
            expires_at_ms,
        })
    }

    /// Checks a token's signature and expiry without looking its user up
    /// (cheap enough to run before every request, as the blog's rate
    /// limiter does to count requests per user).
    ///
    /// # Errors
    /// `unauthorized` when it is invalid or expired.
    pub fn verify(&self, token: &str) -> Result<token::Claims, ErrorBody> {
        self.keys.verify(token)
    }

    fn sign_in(&self, user: User) -> Result<SignedIn, ErrorBody> {
        let info = UserInfo {
            id: user.id,
            name: user.name,
        };
        let (token, expires_at_ms) = self.keys.issue(&info).map_err(internal)?;
        Ok(SignedIn {
            user: info,
            token,
            expires_at_ms,
        })
    }
}
