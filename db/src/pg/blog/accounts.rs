//! Accounts, profiles and follows. The accounts are the shared `users`
//! table, not tenant rows: the blog's sign-up and settings write them
//! through the column grants of `postgres/0007_blog_accounts.sql`.

use postgres::{Row, Transaction};

use super::PgBlog;
use crate::blog::{Account, AccountChanges, Profile, Taken};
use crate::orgs::Member;
use crate::{Error, Result, now_ms};

const ACCOUNT_COLUMNS: &str = "id, name, email, bio, image, password_hash";

fn account_from_row(r: &Row) -> Result<Account> {
    Ok(Account {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        bio: r.try_get("bio")?,
        image: r.try_get("image")?,
        password_hash: r.try_get("password_hash")?,
    })
}

/// Which field of `users` a refused write clashed on: the unique
/// constraint of `name` (`0001_users.sql`) or the unique index on
/// `lower(email)` (`0005_tenants.sql`); `None` for any other error.
fn taken(err: &postgres::Error) -> Option<Taken> {
    if !Error::is_pg_unique_violation(err) {
        return None;
    }
    match err.as_db_error()?.constraint()? {
        "users_name_key" => Some(Taken::Name),
        "users_by_email" => Some(Taken::Email),
        _ => None,
    }
}

/// Runs `write` in a savepoint: a unique violation of `users` is the
/// field it names as taken, and leaves the transaction usable (the
/// savepoint alone is rolled back).
fn guarded(
    tx: &mut Transaction<'_>,
    write: impl FnOnce(&mut Transaction<'_>) -> std::result::Result<Row, postgres::Error>,
) -> Result<std::result::Result<Account, Taken>> {
    let mut savepoint = tx.savepoint("blog_account")?;
    match write(&mut savepoint) {
        Ok(row) => {
            savepoint.commit()?;
            Ok(Ok(account_from_row(&row)?))
        }
        Err(err) => match taken(&err) {
            Some(field) => {
                savepoint.rollback()?;
                Ok(Err(field))
            }
            None => Err(err.into()),
        },
    }
}

impl PgBlog<'_, '_> {
    /// Nothing to do: on PostgreSQL the accounts are the shared table
    /// itself, not a tenant's mirror of it.
    pub(super) fn mirror_member(&mut self, _member: &Member) -> Result<()> {
        Ok(())
    }

    pub(super) fn account(&mut self, id: i64) -> Result<Option<Account>> {
        self.tx
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1"),
                &[&id],
            )?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }

    pub(super) fn account_by_email(&mut self, email: &str) -> Result<Option<Account>> {
        // lower(email): what the unique index `users_by_email` holds.
        self.tx
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE lower(email) = lower($1)"),
                &[&email],
            )?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }

    pub(super) fn user_id(&mut self, name: &str) -> Result<Option<i64>> {
        // Names are stored folded to lower case by the callers: compared
        // as they are, as on SQLite.
        self.tx
            .query_opt("SELECT id FROM users WHERE name = $1", &[&name])?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(Into::into)
    }

    pub(super) fn create_account(
        &mut self,
        name: &str,
        email: &str,
        password_hash: &str,
    ) -> Result<std::result::Result<Account, Taken>> {
        if self.user_id(name)?.is_some() {
            return Ok(Err(Taken::Name));
        }
        if self.account_by_email(email)?.is_some() {
            return Ok(Err(Taken::Email));
        }
        // The organization's lock keeps its own sign-ups apart, but
        // another organization's (another lock, or a protocol sign-up)
        // may take the name or the email between the checks and the
        // insert: the unique indexes then refuse it, and say which.
        guarded(self.tx, |tx| {
            tx.query_one(
                &format!(
                    "INSERT INTO users (name, password_hash, created_at_ms, email) \
                     VALUES ($1, $2, $3, $4) RETURNING {ACCOUNT_COLUMNS}"
                ),
                &[&name, &password_hash, &now_ms(), &email],
            )
        })
    }

    pub(super) fn update_account(
        &mut self,
        id: i64,
        changes: &AccountChanges,
    ) -> Result<std::result::Result<Account, Taken>> {
        if let Some(email) = &changes.email
            && self
                .account_by_email(email)?
                .is_some_and(|other| other.id != id)
        {
            return Ok(Err(Taken::Email));
        }
        // One statement; a field left out keeps its value. The account
        // missing is an error (no row returned), as on SQLite.
        guarded(self.tx, |tx| {
            tx.query_one(
                &format!(
                    "UPDATE users SET email = coalesce($2::text, email), \
                     bio = CASE WHEN $3::bool THEN $4::text ELSE bio END, \
                     image = CASE WHEN $5::bool THEN $6::text ELSE image END, \
                     password_hash = coalesce($7::text, password_hash) \
                     WHERE id = $1 RETURNING {ACCOUNT_COLUMNS}"
                ),
                &[
                    &id,
                    &changes.email,
                    &changes.bio.is_some(),
                    &changes.bio.as_ref().and_then(Option::as_deref),
                    &changes.image.is_some(),
                    &changes.image.as_ref().and_then(Option::as_deref),
                    &changes.password_hash,
                ],
            )
        })
    }

    pub(super) fn profile(&mut self, name: &str, viewer: Option<i64>) -> Result<Option<Profile>> {
        self.tx
            .query_opt(
                "SELECT u.id, u.name, u.bio, u.image, EXISTS(SELECT 1 FROM blog_follows f \
                 WHERE f.org_id = $3 AND f.follower_id = $2 AND f.followee_id = u.id) \
                 FROM users u WHERE u.name = $1",
                &[&name, &viewer, &self.org],
            )?
            .map(|r| -> Result<Profile> {
                Ok(Profile {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    bio: r.try_get(2)?,
                    image: r.try_get(3)?,
                    following: r.try_get(4)?,
                })
            })
            .transpose()
    }

    pub(super) fn set_following(
        &mut self,
        follower: i64,
        followee: i64,
        follow: bool,
    ) -> Result<()> {
        if follow {
            self.tx.execute(
                "INSERT INTO blog_follows (org_id, follower_id, followee_id, created_at_ms) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&self.org, &follower, &followee, &now_ms()],
            )?;
        } else {
            self.tx.execute(
                "DELETE FROM blog_follows \
                 WHERE org_id = $1 AND follower_id = $2 AND followee_id = $3",
                &[&self.org, &follower, &followee],
            )?;
        }
        Ok(())
    }
}
