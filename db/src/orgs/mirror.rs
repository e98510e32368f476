//! [`Mirror`]: a tenant file's copy of the shared accounts (SQLite only:
//! on PostgreSQL an organization's blog joins the shared `users` itself).

use rusqlite::{Connection, params};

use super::Member;
use crate::Result;

/// A tenant file's mirror of the shared accounts: the blog's queries
/// join `users` for authors' names, bios and images, so the people who
/// act in an organization have a row there with their shared id.
pub struct Mirror<'c> {
    conn: &'c Connection,
}

impl<'c> Mirror<'c> {
    /// The mirror in the tenant file behind `conn`.
    pub fn new(conn: &'c Connection) -> Self {
        Mirror { conn }
    }

    /// Adds or refreshes `member`'s row (no password, no email).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn upsert(&self, member: &Member) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO users (id, name, password_hash, created_at_ms, bio, image) \
                 VALUES (?1, ?2, '', ?3, ?4, ?5) \
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, bio = excluded.bio, \
                 image = excluded.image",
            )?
            .execute(params![
                member.user_id,
                member.name,
                member.joined_at_ms,
                member.bio,
                member.image
            ])?;
        Ok(())
    }
}
