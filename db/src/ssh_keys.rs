//! SSH public keys bound to accounts (the daemon's SSH listener signs a
//! key's owner in; docs/SSH.md).
//!
//! A key is known by its fingerprint (OpenSSH's `SHA256:…`), computed by
//! the caller from the parsed key: this crate stores text and knows no
//! SSH. One key belongs to one account; adding a key another account
//! holds is a [`Error::Conflict`].
//!
//! [`SshKeyStore`] is the repository on either backend: [`SshKeys`] over
//! a SQLite connection, `pg::ssh_keys::PgSshKeys` over a fleet's
//! PostgreSQL (schema `postgres/0009_ssh_keys.sql`).

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{Error, Result, now_ms};

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKey {
    /// `SHA256:` and the unpadded base64 of the key's SHA-256.
    pub fingerprint: String,
    /// The owner.
    pub user_id: i64,
    /// The key type, e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// The key in OpenSSH's one-line form, without the comment.
    pub public_key: String,
    /// The comment of the line it was added from (often `user@host`).
    pub comment: String,
    /// When it was added, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// When it last signed someone in, if ever.
    pub last_used_ms: Option<i64>,
}

impl SshKey {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<SshKey> {
        Ok(SshKey {
            fingerprint: row.get("fingerprint")?,
            user_id: row.get("user_id")?,
            algorithm: row.get("algorithm")?,
            public_key: row.get("public_key")?,
            comment: row.get("comment")?,
            created_at_ms: row.get("created_at_ms")?,
            last_used_ms: row.get("last_used_ms")?,
        })
    }
}

/// A key to add.
#[derive(Debug, Clone, Copy)]
pub struct NewSshKey<'a> {
    /// See [`SshKey::fingerprint`].
    pub fingerprint: &'a str,
    /// See [`SshKey::algorithm`].
    pub algorithm: &'a str,
    /// See [`SshKey::public_key`].
    pub public_key: &'a str,
    /// See [`SshKey::comment`].
    pub comment: &'a str,
}

/// Key queries over one connection.
pub struct SshKeys<'c> {
    conn: &'c Connection,
}

impl<'c> SshKeys<'c> {
    /// The repository over `conn`.
    pub fn new(conn: &'c Connection) -> Self {
        SshKeys { conn }
    }

    /// Binds a key to `user_id`. Adding a key the same user already holds
    /// changes nothing and answers the stored key.
    ///
    /// # Errors
    /// [`Error::Conflict`] when another account holds the key.
    pub fn add(&self, user_id: i64, key: NewSshKey<'_>) -> Result<SshKey> {
        if let Some(held) = self.find(key.fingerprint)? {
            if held.user_id == user_id {
                return Ok(held);
            }
            return Err(Error::Conflict(format!("SSH key {}", key.fingerprint)));
        }
        self.conn.execute(
            "INSERT INTO ssh_keys (fingerprint, user_id, algorithm, public_key, comment, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                key.fingerprint,
                user_id,
                key.algorithm,
                key.public_key,
                key.comment,
                now_ms()
            ],
        )
        .map_err(|err| {
            if Error::is_unique_violation(&err) {
                Error::Conflict(format!("SSH key {}", key.fingerprint))
            } else {
                err.into()
            }
        })?;
        self.find(key.fingerprint)?
            .ok_or_else(|| Error::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The keys of `user_id`, oldest first.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn list(&self, user_id: i64) -> Result<Vec<SshKey>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT * FROM ssh_keys WHERE user_id = ?1 ORDER BY created_at_ms, fingerprint",
        )?;
        let rows = stmt.query_map([user_id], SshKey::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes `user_id`'s key; whether there was one (another account's
    /// key is not touched).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn remove(&self, user_id: i64, fingerprint: &str) -> Result<bool> {
        let n = self.conn.execute(
            "DELETE FROM ssh_keys WHERE user_id = ?1 AND fingerprint = ?2",
            params![user_id, fingerprint],
        )?;
        Ok(n > 0)
    }

    /// The key with this fingerprint, if any.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn find(&self, fingerprint: &str) -> Result<Option<SshKey>> {
        Ok(self
            .conn
            .query_row(
                "SELECT * FROM ssh_keys WHERE fingerprint = ?1",
                [fingerprint],
                SshKey::from_row,
            )
            .optional()?)
    }

    /// Records that the key signed someone in now.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn touch(&self, fingerprint: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE ssh_keys SET last_used_ms = ?2 WHERE fingerprint = ?1",
            params![fingerprint, now_ms()],
        )?;
        Ok(())
    }
}

/// The SSH keys repository, on either backend: [`SshKeys`] on SQLite,
/// `pg::ssh_keys::PgSshKeys` on a fleet's PostgreSQL (every node then
/// knows every key); one suite (`ssh_keys/suite.rs`) runs on both. Each
/// call runs inside the transaction [`crate::Storage::ssh_keys`] opens.
pub trait SshKeyStore {
    /// Binds a key to `user_id`. Adding a key the same user already holds
    /// changes nothing and answers the stored key.
    ///
    /// # Errors
    /// [`Error::Conflict`] when another account holds the key (on
    /// PostgreSQL also when another node binds it to another account at
    /// the same moment: one of the two wins); the transaction stays
    /// usable after it.
    fn add(&mut self, user_id: i64, key: NewSshKey<'_>) -> Result<SshKey>;
    /// The keys of `user_id`, oldest first.
    fn list(&mut self, user_id: i64) -> Result<Vec<SshKey>>;
    /// Removes `user_id`'s key; whether there was one (another account's
    /// key is not touched).
    fn remove(&mut self, user_id: i64, fingerprint: &str) -> Result<bool>;
    /// The key with this fingerprint, if any.
    fn find(&mut self, fingerprint: &str) -> Result<Option<SshKey>>;
    /// Records that the key signed someone in now.
    fn touch(&mut self, fingerprint: &str) -> Result<()>;
}

impl SshKeyStore for SshKeys<'_> {
    fn add(&mut self, user_id: i64, key: NewSshKey<'_>) -> Result<SshKey> {
        SshKeys::add(self, user_id, key)
    }
    fn list(&mut self, user_id: i64) -> Result<Vec<SshKey>> {
        SshKeys::list(self, user_id)
    }
    fn remove(&mut self, user_id: i64, fingerprint: &str) -> Result<bool> {
        SshKeys::remove(self, user_id, fingerprint)
    }
    fn find(&mut self, fingerprint: &str) -> Result<Option<SshKey>> {
        SshKeys::find(self, fingerprint)
    }
    fn touch(&mut self, fingerprint: &str) -> Result<()> {
        SshKeys::touch(self, fingerprint)
    }
}

#[cfg(test)]
mod suite;
