//! The accounts repository.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{Error, Result, now_ms};

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Unique, already-normalised name.
    pub name: String,
    /// The argon2 PHC string.
    pub password_hash: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

impl User {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<User> {
        Ok(User {
            id: row.get("id")?,
            name: row.get("name")?,
            password_hash: row.get("password_hash")?,
            created_at_ms: row.get("created_at_ms")?,
        })
    }
}

/// Account queries over one connection.
pub struct Users<'c> {
    conn: &'c Connection,
}

impl<'c> Users<'c> {
    /// The repository over `conn`.
    pub fn new(conn: &'c Connection) -> Self {
        Users { conn }
    }

    /// Creates an account.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the name is taken.
    pub fn create(&self, name: &str, password_hash: &str) -> Result<User> {
        let created_at_ms = now_ms();
        self.conn
            .execute(
                "INSERT INTO users (name, password_hash, created_at_ms) VALUES (?1, ?2, ?3)",
                params![name, password_hash, created_at_ms],
            )
            .map_err(|err| {
                if Error::is_unique_violation(&err) {
                    Error::Conflict(format!("user {name:?}"))
                } else {
                    err.into()
                }
            })?;
        Ok(User {
            id: self.conn.last_insert_rowid(),
            name: name.to_owned(),
            password_hash: password_hash.to_owned(),
            created_at_ms,
        })
    }

    /// The account with this name, if any.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn find_by_name(&self, name: &str) -> Result<Option<User>> {
        Ok(self
            .conn
            .query_row(
                "SELECT * FROM users WHERE name = ?1",
                [name],
                User::from_row,
            )
            .optional()?)
    }

    /// The account with this id, if any.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn find_by_id(&self, id: i64) -> Result<Option<User>> {
        Ok(self
            .conn
            .query_row("SELECT * FROM users WHERE id = ?1", [id], User::from_row)
            .optional()?)
    }

    /// How many accounts exist.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Db;

    #[test]
    fn create_find_and_conflict() {
        let db = Db::open_in_memory().unwrap();
        let alice = db.write(|c| Users::new(c).create("alice", "h1")).unwrap();
        assert_eq!(alice.name, "alice");
        let again = db
            .write(|c| Users::new(c).create("alice", "h2"))
            .unwrap_err();
        assert!(matches!(again, Error::Conflict(_)), "{again:?}");
        assert_eq!(again.to_string(), "user \"alice\" already exists");
        let by_id = db.read(|c| Users::new(c).find_by_id(alice.id)).unwrap();
        assert_eq!(by_id, Some(alice));
        assert_eq!(
            db.read(|c| Users::new(c).find_by_name("bob")).unwrap(),
            None
        );
        assert_eq!(db.read(|c| Users::new(c).count()).unwrap(), 1);
    }
}
