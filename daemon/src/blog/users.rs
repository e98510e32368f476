//! Accounts on the blog side: registration and login by email (argon2,
//! the same `users` table and signing key as the protocol's `register`
//! and `login`), the current user, profiles and follows.
//!
//! Names follow agora's rules (1-32 of a-z, 0-9, `_`, `-`, `.`; upper
//! case folded), since the account is also a chat identity. For the same
//! reason a name never changes: chat history and memberships refer to it.
//! Accounts made over the protocol have no email; they sign in to the API
//! with their agora token and set one with `PUT /api/user`.

use agora_db::blog::{Account, AccountChanges, Profile, Taken};
use agora_wire::UserInfo;
use agora_wire::names::{validate_password, validate_user_name};

use super::error::Problems;
use super::{Blog, Error, Store, rules};
use crate::accounts::password;

/// A signed-in user: the account and a token for it.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account.
    pub account: Account,
    /// A JWT the API and the protocol both accept.
    pub token: String,
}

/// What registration asks for; every field is checked.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// The account name.
    pub username: Option<String>,
    /// The email address used to sign in.
    pub email: Option<String>,
    /// The password.
    pub password: Option<String>,
}

/// Changes to the current user; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    /// Must be the current name if given (names never change).
    pub username: Option<String>,
    /// A new email.
    pub email: Option<String>,
    /// A new password.
    pub password: Option<String>,
    /// A new bio (`Some(None)` or empty clears it).
    pub bio: Option<Option<String>>,
    /// A new image URL (`Some(None)` or empty clears it).
    pub image: Option<Option<String>>,
}

fn taken(field: Taken) -> Error {
    match field {
        Taken::Name => Error::invalid("username", "has already been taken"),
        Taken::Email => Error::invalid("email", "has already been taken"),
    }
}

impl Blog {
    /// Creates an account with an email and signs it in.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a blank, malformed or taken field.
    pub async fn register(&self, store: &Store, new: NewUser) -> Result<SignedIn, Error> {
        let mut problems = Problems::default();
        let name = match new.username.as_deref() {
            None | Some("") => {
                problems.add("username", "can't be blank");
                None
            }
            Some(name) => problems.check("username", validate_user_name(name)),
        };
        let email = match new.email.as_deref() {
            None => {
                problems.add("email", "can't be blank");
                None
            }
            Some(email) => problems.check("email", rules::email(email)).map(|()| email),
        };
        let password = match new.password.as_deref() {
            None | Some("") => {
                problems.add("password", "can't be blank");
                None
            }
            Some(p) => problems.check("password", validate_password(p)).map(|()| p),
        };
        problems.finish()?;
        let (Some(name), Some(email), Some(password)) = (name, email, password) else {
            return Err(Error::internal("registration checks passed without values"));
        };
        let hash = password::hash(password.to_owned())
            .await
            .map_err(Error::internal)?;
        let email = email.to_owned();
        let account = store
            .write(move |blog| blog.create_account(&name, &email, &hash)?.map_err(taken))
            .await?;
        tracing::info!(user = %account.name, "account created (blog)");
        self.inner.hooks.user_created(&UserInfo {
            id: account.id,
            name: account.name.clone(),
        });
        self.issue(account)
    }

    /// Checks an email and password.
    ///
    /// # Errors
    /// [`Error::Invalid`] for blank fields; [`Error::Unauthorized`] when
    /// either is wrong (the message does not say which).
    pub async fn login(
        &self,
        store: &Store,
        email: Option<String>,
        password: Option<String>,
    ) -> Result<SignedIn, Error> {
        let mut problems = Problems::default();
        if email.as_deref().is_none_or(str::is_empty) {
            problems.add("email", "can't be blank");
        }
        if password.as_deref().is_none_or(str::is_empty) {
            problems.add("password", "can't be blank");
        }
        problems.finish()?;
        let (email, password) = (email.unwrap_or_default(), password.unwrap_or_default());
        let account = if email.len() <= rules::MAX_EMAIL {
            store
                .read(move |blog| blog.account_by_email(&email))
                .await?
        } else {
            None
        };
        // An unknown email costs the same time as a wrong password.
        let hash = account.as_ref().map_or_else(
            || password::DUMMY_HASH.to_owned(),
            |a| a.password_hash.clone(),
        );
        let ok = password::verify(password, hash)
            .await
            .map_err(Error::internal)?;
        match account {
            Some(account) if ok => self.issue(account),
            _ => Err(Error::Unauthorized("email or password is invalid".into())),
        }
    }

    fn issue(&self, account: Account) -> Result<SignedIn, Error> {
        let signed = self
            .inner
            .accounts
            .issue(UserInfo {
                id: account.id,
                name: account.name.clone(),
            })
            .map_err(Error::internal)?;
        Ok(SignedIn {
            account,
            token: signed.token,
        })
    }

    /// The account of user `id` (the current user).
    ///
    /// # Errors
    /// [`Error::Unauthorized`] when it no longer exists.
    pub async fn current_user(&self, store: &Store, id: i64) -> Result<Account, Error> {
        store
            .read(move |blog| blog.account(id))
            .await?
            .ok_or_else(|| Error::Unauthorized("the token's account no longer exists".into()))
    }

    /// Applies `changes` to user `id`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad or taken field, a name change, or no
    /// field at all.
    pub async fn update_user(
        &self,
        store: &Store,
        id: i64,
        name: &str,
        changes: UpdateUser,
    ) -> Result<Account, Error> {
        let mut problems = Problems::default();
        if let Some(wanted) = &changes.username
            && validate_user_name(wanted).ok().as_deref() != Some(name)
        {
            problems.add(
                "username",
                "can't be changed: agora accounts keep their name (chat history refers to it)",
            );
        }
        if let Some(email) = &changes.email {
            problems.check("email", rules::email(email));
        }
        if let Some(p) = &changes.password {
            problems.check("password", validate_password(p));
        }
        let bio = changes.bio.as_ref().map(|b| {
            problems
                .check("bio", rules::optional(b.as_deref(), rules::MAX_BIO))
                .flatten()
        });
        let image = changes.image.as_ref().map(|i| {
            problems
                .check("image", rules::optional(i.as_deref(), rules::MAX_IMAGE))
                .flatten()
        });
        let nothing = changes.username.is_none()
            && changes.email.is_none()
            && changes.password.is_none()
            && changes.bio.is_none()
            && changes.image.is_none();
        if nothing {
            problems.add("user", "give at least one field to change");
        }
        problems.finish()?;
        let password_hash = match changes.password {
            Some(p) => Some(password::hash(p).await.map_err(Error::internal)?),
            None => None,
        };
        let db_changes = AccountChanges {
            email: changes.email,
            bio,
            image,
            password_hash,
        };
        store
            .write(move |blog| blog.update_account(id, &db_changes)?.map_err(taken))
            .await
    }

    /// The profile of `name` as `viewer` sees it.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such user.
    pub async fn profile(
        &self,
        store: &Store,
        name: &str,
        viewer: Option<i64>,
    ) -> Result<Profile, Error> {
        let Ok(name) = validate_user_name(name) else {
            return Err(Error::NotFound("profile"));
        };
        store
            .read(move |blog| blog.profile(&name, viewer))
            .await?
            .ok_or(Error::NotFound("profile"))
    }

    /// Makes `viewer` follow `name` (or stop), and returns the profile.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown user; [`Error::Invalid`] for
    /// following oneself.
    pub async fn follow(
        &self,
        store: &Store,
        viewer: i64,
        name: &str,
        follow: bool,
    ) -> Result<Profile, Error> {
        let Ok(name) = validate_user_name(name) else {
            return Err(Error::NotFound("profile"));
        };
        store
            .write(move |blog| {
                let Some(target) = blog.user_id(&name)? else {
                    return Err(Error::NotFound("profile"));
                };
                if target == viewer && follow {
                    return Err(Error::invalid("username", "can't follow yourself"));
                }
                blog.set_following(viewer, target, follow)?;
                blog.profile(&name, Some(viewer))?
                    .ok_or(Error::NotFound("profile"))
            })
            .await
    }
}
