//! The accounts repository on PostgreSQL: [`PgUsers`], the same
//! [`UserStore`] as SQLite's [`crate::users::Users`], tested by the same
//! suite (`users::tests`).

use postgres::{Client, Row};

use crate::users::{User, UserStore};
use crate::{Error, Result, now_ms};

const COLUMNS: &str = "id, name, password_hash, created_at_ms";

fn from_row(row: &Row) -> User {
    User {
        id: row.get(0),
        name: row.get(1),
        password_hash: row.get(2),
        created_at_ms: row.get(3),
    }
}

/// Account queries over one PostgreSQL connection.
pub struct PgUsers<'c> {
    client: &'c mut Client,
}

impl<'c> PgUsers<'c> {
    /// The repository over `client`.
    pub fn new(client: &'c mut Client) -> Self {
        PgUsers { client }
    }
}

impl UserStore for PgUsers<'_> {
    fn create(&mut self, name: &str, password_hash: &str) -> Result<User> {
        let row = self
            .client
            .query_one(
                &format!(
                    "INSERT INTO users (name, password_hash, created_at_ms) \
                     VALUES ($1, $2, $3) RETURNING {COLUMNS}"
                ),
                &[&name, &password_hash, &now_ms()],
            )
            .map_err(|err| {
                if Error::is_pg_unique_violation(&err) {
                    Error::Conflict(format!("user {name:?}"))
                } else {
                    err.into()
                }
            })?;
        Ok(from_row(&row))
    }

    fn find_by_name(&mut self, name: &str) -> Result<Option<User>> {
        Ok(self
            .client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM users WHERE name = $1"),
                &[&name],
            )?
            .as_ref()
            .map(from_row))
    }

    fn find_by_id(&mut self, id: i64) -> Result<Option<User>> {
        Ok(self
            .client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM users WHERE id = $1"),
                &[&id],
            )?
            .as_ref()
            .map(from_row))
    }

    fn count(&mut self) -> Result<i64> {
        Ok(self
            .client
            .query_one("SELECT count(*) FROM users", &[])?
            .get(0))
    }
}
