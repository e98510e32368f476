//! The accounts repository, on both backends.
//!
//! [`UserStore`] is the interface; [`Users`] implements it over a SQLite
//! connection, [`crate::pg::users::PgUsers`] over a PostgreSQL
//! one, and [`crate::Storage::users`] hands out whichever the daemon was
//! started with. One test suite (below) runs against both.

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

/// What the accounts service needs of its storage, whichever backend
/// holds it. Methods take `&mut self` because a PostgreSQL client needs
/// it; SQLite's [`Users`] does not care.
pub trait UserStore {
    /// Creates an account.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the name is taken.
    fn create(&mut self, name: &str, password_hash: &str) -> Result<User>;
    /// The account with this name, if any.
    ///
    /// # Errors
    /// On database errors.
    fn find_by_name(&mut self, name: &str) -> Result<Option<User>>;
    /// The account with this id, if any.
    ///
    /// # Errors
    /// On database errors.
    fn find_by_id(&mut self, id: i64) -> Result<Option<User>>;
    /// How many accounts exist.
    ///
    /// # Errors
    /// On database errors.
    fn count(&mut self) -> Result<i64>;
}

impl UserStore for Users<'_> {
    fn create(&mut self, name: &str, password_hash: &str) -> Result<User> {
        Users::create(self, name, password_hash)
    }
    fn find_by_name(&mut self, name: &str) -> Result<Option<User>> {
        Users::find_by_name(self, name)
    }
    fn find_by_id(&mut self, id: i64) -> Result<Option<User>> {
        Users::find_by_id(self, id)
    }
    fn count(&mut self) -> Result<i64> {
        Users::count(self)
    }
}

/// Account queries over one SQLite connection.
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

    /// Copies an account kept elsewhere (the fleet's PostgreSQL) into this
    /// database under the same id, so this node's SQLite tables that refer
    /// to `users` keep working; a row already there is left alone.
    /// Returns whether the row is now there: `false` when another account
    /// already holds the id or the name (made here before the node joined
    /// a fleet), which the caller reports.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn mirror(&self, user: &User) -> Result<bool> {
        self.conn.execute(
            "INSERT INTO users (id, name, password_hash, created_at_ms) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT DO NOTHING",
            params![user.id, user.name, user.password_hash, user.created_at_ms],
        )?;
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM users WHERE id = ?1 AND name = ?2",
                params![user.id, user.name],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

/// The repository's suite, run once per backend (the apalis/fang
/// pattern): each test takes a fresh, migrated [`crate::Storage`].
#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Access, Db, Storage};

    crate::on_both_backends!(
        create_find_and_conflict,
        ids_grow_and_names_are_exact,
        concurrent_creates_of_one_name_make_one_account,
    );

    fn create_find_and_conflict(storage: &Storage) {
        let alice = storage
            .users(Access::Write, |u| u.create("alice", "h1"))
            .unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.password_hash, "h1");
        assert!(alice.created_at_ms > 0);
        let again = storage
            .users(Access::Write, |u| u.create("alice", "h2"))
            .unwrap_err();
        assert!(matches!(again, Error::Conflict(_)), "{again:?}");
        assert_eq!(again.to_string(), "user \"alice\" already exists");
        let by_id = storage
            .users(Access::Read, |u| u.find_by_id(alice.id))
            .unwrap();
        assert_eq!(by_id, Some(alice.clone()));
        let by_name = storage
            .users(Access::Read, |u| u.find_by_name("alice"))
            .unwrap();
        assert_eq!(by_name, Some(alice));
        assert_eq!(
            storage
                .users(Access::Read, |u| u.find_by_name("bob"))
                .unwrap(),
            None
        );
        assert_eq!(storage.users(Access::Read, |u| u.count()).unwrap(), 1);
    }

    fn ids_grow_and_names_are_exact(storage: &Storage) {
        let a = storage
            .users(Access::Write, |u| u.create("ann", "h"))
            .unwrap();
        let b = storage
            .users(Access::Write, |u| u.create("bea", "h"))
            .unwrap();
        assert!(b.id > a.id, "{} then {}", a.id, b.id);
        // Names arrive folded by the caller; the store compares exactly.
        assert_eq!(
            storage
                .users(Access::Read, |u| u.find_by_name("ANN"))
                .unwrap(),
            None
        );
        assert_eq!(
            storage
                .users(Access::Read, |u| u.find_by_id(b.id + 100))
                .unwrap(),
            None
        );
        assert_eq!(storage.users(Access::Read, |u| u.count()).unwrap(), 2);
    }

    fn concurrent_creates_of_one_name_make_one_account(storage: &Storage) {
        let results: Vec<Result<User>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    s.spawn(move || {
                        storage.users(Access::Write, |u| u.create("cyd", &format!("h{i}")))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let made = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(made, 1, "{results:?}");
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| matches!(e, Error::Conflict(_)))
        );
        assert_eq!(storage.users(Access::Read, |u| u.count()).unwrap(), 1);
    }

    #[test]
    fn mirror_copies_under_the_same_id_once() {
        let db = Db::open_in_memory().unwrap();
        let far = User {
            id: 42,
            name: "dee".into(),
            password_hash: "h".into(),
            created_at_ms: 5,
        };
        assert!(db.write(|c| Users::new(c).mirror(&far)).unwrap());
        assert!(db.write(|c| Users::new(c).mirror(&far)).unwrap());
        assert_eq!(
            db.read(|c| Users::new(c).find_by_id(42)).unwrap(),
            Some(far)
        );
        // A local account already holding the name: not mirrored, said so.
        db.write(|c| Users::new(c).create("eve", "h")).unwrap();
        let clash = User {
            id: 77,
            name: "eve".into(),
            password_hash: "h".into(),
            created_at_ms: 5,
        };
        assert!(!db.write(|c| Users::new(c).mirror(&clash)).unwrap());
    }
}
