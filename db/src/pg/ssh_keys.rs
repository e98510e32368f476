//! The SSH keys repository on PostgreSQL: [`PgSshKeys`], the same
//! [`SshKeyStore`] as SQLite's [`crate::ssh_keys::SshKeys`], tested by the
//! same suite (`ssh_keys/suite.rs`); schema `postgres/0009_ssh_keys.sql`.
//!
//! What differs from one node's SQLite, where the writer's lock orders
//! every `add`: two nodes may bind one key at the same moment. The insert
//! is `ON CONFLICT (fingerprint) DO NOTHING`, which waits for the other
//! transaction holding that fingerprint and then inserts nothing if it
//! committed; the row then read says whose the key is. So one of two
//! racing accounts gets the key and the other a [`Error::Conflict`], and
//! no statement fails inside the caller's transaction (a unique violation
//! would abort it). There is no limit on keys per account, on either
//! backend, so nothing else needs a lock.

use postgres::types::ToSql;
use postgres::{Row, Transaction};

use crate::ssh_keys::{NewSshKey, SshKey, SshKeyStore};
use crate::{Error, Result, now_ms};

const COLUMNS: &str =
    "fingerprint, user_id, algorithm, public_key, comment, created_at_ms, last_used_ms";

fn from_row(row: &Row) -> SshKey {
    SshKey {
        fingerprint: row.get(0),
        user_id: row.get(1),
        algorithm: row.get(2),
        public_key: row.get(3),
        comment: row.get(4),
        created_at_ms: row.get(5),
        last_used_ms: row.get(6),
    }
}

fn conflict(fingerprint: &str) -> Error {
    Error::Conflict(format!("SSH key {fingerprint}"))
}

/// SSH key queries inside one PostgreSQL transaction.
pub struct PgSshKeys<'a, 't> {
    tx: &'a mut Transaction<'t>,
}

impl<'a, 't> PgSshKeys<'a, 't> {
    /// The repository inside `tx`.
    pub fn new(tx: &'a mut Transaction<'t>) -> Self {
        PgSshKeys { tx }
    }
}

impl SshKeyStore for PgSshKeys<'_, '_> {
    fn add(&mut self, user_id: i64, key: NewSshKey<'_>) -> Result<SshKey> {
        // A key another node inserts and deletes between our insert and
        // our read is neither ours nor anyone's: try again (twice is
        // plenty; a third miss is reported as a conflict).
        for _ in 0..3 {
            let params: [&(dyn ToSql + Sync); 6] = [
                &key.fingerprint,
                &user_id,
                &key.algorithm,
                &key.public_key,
                &key.comment,
                &now_ms(),
            ];
            let inserted = self
                .tx
                .query_opt(
                    &format!(
                        "INSERT INTO ssh_keys \
                         (fingerprint, user_id, algorithm, public_key, comment, created_at_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (fingerprint) DO NOTHING RETURNING {COLUMNS}"
                    ),
                    &params,
                )
                .map_err(|err| {
                    if Error::is_pg_unique_violation(&err) {
                        conflict(key.fingerprint)
                    } else {
                        err.into()
                    }
                })?;
            if let Some(row) = inserted {
                return Ok(from_row(&row));
            }
            // Held already (perhaps committed by another node a moment
            // ago: READ COMMITTED reads it in this new statement).
            match self.find(key.fingerprint)? {
                Some(held) if held.user_id == user_id => return Ok(held),
                Some(_) => return Err(conflict(key.fingerprint)),
                None => continue,
            }
        }
        Err(conflict(key.fingerprint))
    }

    fn list(&mut self, user_id: i64) -> Result<Vec<SshKey>> {
        Ok(self
            .tx
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM ssh_keys WHERE user_id = $1 \
                     ORDER BY created_at_ms, fingerprint"
                ),
                &[&user_id],
            )?
            .iter()
            .map(from_row)
            .collect())
    }

    fn remove(&mut self, user_id: i64, fingerprint: &str) -> Result<bool> {
        let n = self.tx.execute(
            "DELETE FROM ssh_keys WHERE user_id = $1 AND fingerprint = $2",
            &[&user_id, &fingerprint],
        )?;
        Ok(n > 0)
    }

    fn find(&mut self, fingerprint: &str) -> Result<Option<SshKey>> {
        Ok(self
            .tx
            .query_opt(
                &format!("SELECT {COLUMNS} FROM ssh_keys WHERE fingerprint = $1"),
                &[&fingerprint],
            )?
            .as_ref()
            .map(from_row))
    }

    fn touch(&mut self, fingerprint: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE ssh_keys SET last_used_ms = $2 WHERE fingerprint = $1",
            &[&fingerprint, &now_ms()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
