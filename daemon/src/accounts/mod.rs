//! Accounts: registration, sign-in and tokens.
//!
//! Passwords are hashed with argon2 ([`password`]) on the blocking pool, so
//! a burst of logins cannot stall the async runtime. Sign-in returns a JWT
//! ([`token`]) that later connections present in their hello and that the
//! HTTP API will accept too.
//!
//! The accounts live in the daemon's [`Storage`]: the SQLite file, or the
//! fleet's PostgreSQL (`--database postgres://…`), where every node sees
//! the same accounts and, signing with the same key, accepts the same
//! tokens. The services not yet ported to PostgreSQL keep their tables in
//! the node's SQLite file, whose own `users` rows they refer to; so on
//! PostgreSQL an account is copied into that file ([`Users::mirror`],
//! same id) the first time this node creates, signs in or authenticates
//! it (docs/FLEET.md).

pub mod password;
pub mod token;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use agora_db::users::{User, Users};
use agora_db::{Access, Db, Error as DbError, Storage};
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
    /// Where the accounts are.
    users: Storage,
    /// The node's SQLite file, where accounts kept in PostgreSQL are
    /// mirrored for the services not ported yet.
    db: Db,
    /// Ids already mirrored into `db` by this process (PostgreSQL only).
    mirrored: Arc<Mutex<HashSet<i64>>>,
    keys: token::Keys,
}

impl Accounts {
    /// Loads or creates the signing key (see [`token::Keys::load`]); the
    /// accounts are in `users`, `db` is the node's SQLite file.
    ///
    /// # Errors
    /// When the key file cannot be read or written.
    pub fn open(config: &Config, users: Storage, db: Db) -> anyhow::Result<Accounts> {
        let keys = token::Keys::load(config)?;
        Ok(Accounts {
            users,
            db,
            mirrored: Arc::default(),
            keys,
        })
    }

    /// Where the accounts are (the organizations and billing tables are
    /// beside them).
    pub fn storage(&self) -> &Storage {
        &self.users
    }

    /// Whether the accounts are the fleet's, in PostgreSQL.
    pub fn is_shared(&self) -> bool {
        self.users.is_shared()
    }

    /// On PostgreSQL, copies `user` into the node's SQLite file once (see
    /// the module's documentation). A clash with an account made in that
    /// file before the node joined a fleet is logged, not fatal: the
    /// account still signs in; the unported services may not know it.
    async fn mirror(&self, user: &User) -> Result<(), ErrorBody> {
        if !self.users.is_shared() || self.lock_mirrored().contains(&user.id) {
            return Ok(());
        }
        let (db, copy) = (self.db.clone(), user.clone());
        let mirrored = blocking(move || db.write(|c| Users::new(c).mirror(&copy)))
            .await?
            .map_err(internal)?;
        // Remembered either way: a clash is reported once per process.
        self.lock_mirrored().insert(user.id);
        if !mirrored {
            tracing::warn!(
                user = %user.name,
                id = user.id,
                "this node's SQLite file holds another account with this name or id; \
                 services not yet on PostgreSQL will not see this one (docs/FLEET.md)"
            );
        }
        Ok(())
    }

    fn lock_mirrored(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.mirrored
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        let users = self.users.clone();
        let user = blocking(move || users.users(Access::Write, |u| u.create(&name, &hash)))
            .await?
            .map_err(|err| match err {
                DbError::Conflict(what) => {
                    ErrorBody::new(ErrorCode::Conflict, format!("{what} already exists"))
                }
                other => internal(other),
            })?;
        tracing::info!(user = %user.name, "account created");
        self.mirror(&user).await?;
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
        let users = self.users.clone();
        let user = blocking(move || users.users(Access::Read, |u| u.find_by_name(&name)))
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
            Some(user) if ok => {
                self.mirror(&user).await?;
                self.sign_in(user)
            }
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
        let users = self.users.clone();
        let user = blocking(move || users.users(Access::Read, |u| u.find_by_id(claims.uid)))
            .await?
            .map_err(internal)?
            .ok_or_else(|| {
                ErrorBody::new(
                    ErrorCode::Unauthorized,
                    "the token's account no longer exists",
                )
            })?;
        self.mirror(&user).await?;
        Ok(UserInfo {
            id: user.id,
            name: user.name,
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
