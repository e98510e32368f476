//! Organizations, their members and invitations: the shared half of the
//! multi-tenant blog (each organization's blog data is in its own file;
//! see [`crate::Db::open_tenant`]).
//!
//! Every change that could leave an organization without an owner
//! (remove, leave, role change, transfer) checks it in the same
//! statement sequence; callers run them in one transaction so the check
//! and the change cannot be interleaved with another writer's.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{Result, now_ms};

mod mirror;
mod store;
pub use mirror::Mirror;
pub use store::OrgStore;

/// Names an organization may not take: they are, or will be, hosts and
/// paths of their own.
pub const RESERVED: &[&str] = &["www", "api", "admin", "t", "static", "assets", "mail"];

/// Checks a slug against DNS-label rules (RFC 1123: 1-63 of `a-z`, `0-9`
/// and `-`, not starting or ending with `-`; upper case is refused rather
/// than folded, so a slug is exactly its subdomain) and [`RESERVED`].
///
/// # Errors
/// A one-line reason.
pub fn check_slug(slug: &str) -> std::result::Result<(), String> {
    if slug.is_empty() || slug.len() > 63 {
        return Err("must be 1 to 63 characters (a DNS label)".into());
    }
    if !slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("may hold only a-z, 0-9 and '-' (a DNS label)".into());
    }
    if slug.starts_with('-') || slug.ends_with('-') {
        return Err("may not start or end with '-'".into());
    }
    if slug.len() >= 4 && &slug[2..4] == "--" {
        // xn--…: punycode labels would show as another name in browsers.
        return Err("may not have '--' in the third and fourth places".into());
    }
    if RESERVED.contains(&slug) {
        return Err(format!("{slug:?} is reserved"));
    }
    Ok(())
}

/// A member's role in one organization, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Everything, including deleting the organization.
    Owner,
    /// Members and moderation.
    Admin,
    /// Writes articles and comments.
    Author,
    /// Reads.
    Viewer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Author, Role::Viewer];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Author => "author",
            Role::Viewer => "viewer",
        }
    }

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

fn role_of(row: &Row<'_>, col: &str) -> rusqlite::Result<Role> {
    let s: String = row.get(col)?;
    Role::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown role {s:?}").into(),
        )
    })
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Row id; also names its file (`tenants/<id>.db`).
    pub id: i64,
    /// The subdomain.
    pub slug: String,
    /// The display name.
    pub name: String,
    /// The plan (`free` until billing arrives).
    pub plan: String,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
}

const ORG_COLUMNS: &str = "o.id, o.slug, o.name, o.plan, o.created_at_ms";

fn org_from_row(row: &Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        id: row.get(0)?,
        slug: row.get(1)?,
        name: row.get(2)?,
        plan: row.get(3)?,
        created_at_ms: row.get(4)?,
    })
}

/// A member of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The account's id.
    pub user_id: i64,
    /// The account's name.
    pub name: String,
    /// The profile fields a tenant file mirrors.
    pub bio: Option<String>,
    /// Likewise.
    pub image: Option<String>,
    /// The role.
    pub role: Role,
    /// When they joined, ms since the epoch.
    pub joined_at_ms: i64,
}

/// An invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The secret the invitee answers with.
    pub token: String,
    /// The organization.
    pub org_id: i64,
    /// The invitee.
    pub user_id: i64,
    /// The role they get by accepting.
    pub role: Role,
    /// After this (ms since the epoch) it cannot be answered.
    pub expires_at_ms: i64,
}

/// Why a change was refused. Each is a clear client error, never a 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The slug is taken (by a live or a deleted organization).
    #[error("is already taken")]
    SlugTaken,
    /// The slug breaks DNS-label rules or is reserved.
    #[error("{0}")]
    BadSlug(String),
    /// No account has that name.
    #[error("no such user")]
    NoSuchUser,
    /// The user is not a member of the organization.
    #[error("is not a member of this organization")]
    NotMember,
    /// The user is a member already.
    #[error("is already a member of this organization")]
    AlreadyMember,
    /// The change would leave the organization without an owner.
    #[error("would leave the organization without an owner (transfer ownership first)")]
    LastOwner,
    /// No invitation has this token, or it is someone else's.
    #[error("no such invitation")]
    NoSuchInvitation,
    /// The invitation expired.
    #[error("has expired")]
    InvitationExpired,
    /// The invitation was accepted or declined already.
    #[error("was answered already")]
    InvitationAnswered,
}

/// Organization queries over one connection.
pub struct Orgs<'c> {
    conn: &'c Connection,
}

/// What a change answers: a database error, or the change's result or
/// why it was refused (nothing of a refused change is kept once the
/// transaction is rolled back, as [`crate::Storage::orgs`] does).
pub type Answer<T> = Result<std::result::Result<T, Refusal>>;

impl<'c> Orgs<'c> {
    /// The repository over `conn`.
    pub fn new(conn: &'c Connection) -> Self {
        Orgs { conn }
    }

    /// The connection, for another repository in the same transaction
    /// (billing's limits are checked beside the change they limit).
    pub fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// Creates an organization with `owner` as its owner. Run in a
    /// transaction.
    ///
    /// # Errors
    /// On SQLite errors; refusals for a bad or taken slug.
    pub fn create(&self, slug: &str, name: &str, owner: i64) -> Answer<Org> {
        if let Err(why) = check_slug(slug) {
            return Ok(Err(Refusal::BadSlug(why)));
        }
        let now = now_ms();
        let inserted = self.conn.execute(
            "INSERT INTO orgs (slug, name, created_at_ms) VALUES (?1, ?2, ?3)",
            params![slug, name, now],
        );
        match inserted {
            Err(err) if crate::Error::is_unique_violation(&err) => {
                return Ok(Err(Refusal::SlugTaken));
            }
            other => other?,
        };
        let id = self.conn.last_insert_rowid();
        self.conn.execute(
            "INSERT INTO org_members (org_id, user_id, role, joined_at_ms) VALUES (?1, ?2, 'owner', ?3)",
            params![id, owner, now],
        )?;
        Ok(Ok(Org {
            id,
            slug: slug.to_owned(),
            name: name.to_owned(),
            plan: "free".into(),
            created_at_ms: now,
        }))
    }

    /// The live (not deleted) organization with this slug.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn by_slug(&self, slug: &str) -> Result<Option<Org>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {ORG_COLUMNS} FROM orgs o WHERE o.slug = ?1 AND o.deleted_at_ms IS NULL"
            ))?
            .query_row([slug], org_from_row)
            .optional()?)
    }

    /// Every live organization, by id.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn all(&self) -> Result<Vec<Org>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ORG_COLUMNS} FROM orgs o WHERE o.deleted_at_ms IS NULL ORDER BY o.id"
        ))?;
        let rows = stmt.query_map([], org_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The live organizations `user` belongs to, with their role, by slug.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn of_user(&self, user: i64) -> Result<Vec<(Org, Role)>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ORG_COLUMNS}, m.role FROM org_members m JOIN orgs o ON o.id = m.org_id \
             WHERE m.user_id = ?1 AND o.deleted_at_ms IS NULL ORDER BY o.slug"
        ))?;
        let rows = stmt.query_map([user], |r| Ok((org_from_row(r)?, role_of(r, "role")?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `user`'s role in `org`, if a member.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn role(&self, org: i64, user: i64) -> Result<Option<Role>> {
        Ok(self
            .conn
            .prepare_cached("SELECT role FROM org_members WHERE org_id = ?1 AND user_id = ?2")?
            .query_row(params![org, user], |r| role_of(r, "role"))
            .optional()?)
    }

    /// The member `user` of `org` (with the profile a tenant mirrors).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn member(&self, org: i64, user: i64) -> Result<Option<Member>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT u.id, u.name, u.bio, u.image, m.role, m.joined_at_ms \
                 FROM org_members m JOIN users u ON u.id = m.user_id \
                 WHERE m.org_id = ?1 AND m.user_id = ?2",
            )?
            .query_row(params![org, user], member_from_row)
            .optional()?)
    }

    /// The members of `org`, by name.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn members(&self, org: i64) -> Result<Vec<Member>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT u.id, u.name, u.bio, u.image, m.role, m.joined_at_ms \
             FROM org_members m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = ?1 ORDER BY u.name",
        )?;
        let rows = stmt.query_map([org], member_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn owners(&self, org: i64) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM org_members WHERE org_id = ?1 AND role = 'owner'",
            [org],
            |r| r.get(0),
        )?)
    }

    /// Invites the account named `name` to `org` with `role`. Run in a
    /// transaction.
    ///
    /// # Errors
    /// On SQLite errors; refusals for an unknown user or a member.
    pub fn invite(
        &self,
        org: i64,
        name: &str,
        role: Role,
        by: i64,
        token: &str,
        expires_at_ms: i64,
    ) -> Answer<Invitation> {
        let user: Option<i64> = self
            .conn
            .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        let Some(user) = user else {
            return Ok(Err(Refusal::NoSuchUser));
        };
        if self.role(org, user)?.is_some() {
            return Ok(Err(Refusal::AlreadyMember));
        }
        self.conn.execute(
            "INSERT INTO org_invitations (token, org_id, user_id, role, invited_by, created_at_ms, expires_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![token, org, user, role.as_str(), by, now_ms(), expires_at_ms],
        )?;
        Ok(Ok(Invitation {
            token: token.to_owned(),
            org_id: org,
            user_id: user,
            role,
            expires_at_ms,
        }))
    }

    /// Answers the invitation `token` as `user` (who must be its
    /// invitee): accepting makes them a member. Run in a transaction.
    /// Answers the organization and the role when accepted.
    ///
    /// # Errors
    /// On SQLite errors; refusals for an unknown, someone else's, expired
    /// or answered invitation.
    pub fn answer(&self, token: &str, user: i64, accept: bool, now: i64) -> Answer<(Org, Role)> {
        let found = self
            .conn
            .query_row(
                &format!(
                    "SELECT {ORG_COLUMNS}, i.role, i.user_id, i.expires_at_ms, i.state \
                     FROM org_invitations i JOIN orgs o ON o.id = i.org_id \
                     WHERE i.token = ?1 AND o.deleted_at_ms IS NULL"
                ),
                [token],
                |r| {
                    Ok((
                        org_from_row(r)?,
                        role_of(r, "role")?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, String>(8)?,
                    ))
                },
            )
            .optional()?;
        let Some((org, role, invitee, expires, state)) = found else {
            return Ok(Err(Refusal::NoSuchInvitation));
        };
        if invitee != user {
            return Ok(Err(Refusal::NoSuchInvitation));
        }
        if state != "pending" {
            return Ok(Err(Refusal::InvitationAnswered));
        }
        if now > expires {
            return Ok(Err(Refusal::InvitationExpired));
        }
        let state = if accept { "accepted" } else { "declined" };
        self.conn.execute(
            "UPDATE org_invitations SET state = ?2 WHERE token = ?1",
            params![token, state],
        )?;
        if accept {
            if self.role(org.id, user)?.is_some() {
                return Ok(Err(Refusal::AlreadyMember));
            }
            self.conn.execute(
                "INSERT INTO org_members (org_id, user_id, role, joined_at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![org.id, user, role.as_str(), now],
            )?;
        }
        Ok(Ok((org, role)))
    }

    /// Gives `user` the role `role` in `org`. Run in a transaction.
    ///
    /// # Errors
    /// On SQLite errors; refusals for a non-member or the last owner
    /// stepping down.
    pub fn set_role(&self, org: i64, user: i64, role: Role) -> Answer<()> {
        let Some(current) = self.role(org, user)? else {
            return Ok(Err(Refusal::NotMember));
        };
        if current == Role::Owner && role != Role::Owner && self.owners(org)? <= 1 {
            return Ok(Err(Refusal::LastOwner));
        }
        self.conn.execute(
            "UPDATE org_members SET role = ?3 WHERE org_id = ?1 AND user_id = ?2",
            params![org, user, role.as_str()],
        )?;
        Ok(Ok(()))
    }

    /// Removes `user` from `org` (removal or leaving). Run in a
    /// transaction.
    ///
    /// # Errors
    /// On SQLite errors; refusals for a non-member or the last owner.
    pub fn remove(&self, org: i64, user: i64) -> Answer<()> {
        let Some(current) = self.role(org, user)? else {
            return Ok(Err(Refusal::NotMember));
        };
        if current == Role::Owner && self.owners(org)? <= 1 {
            return Ok(Err(Refusal::LastOwner));
        }
        self.conn.execute(
            "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2",
            params![org, user],
        )?;
        Ok(Ok(()))
    }

    /// Makes member `to` an owner and `from` (an owner) an admin. Run in
    /// a transaction.
    ///
    /// # Errors
    /// On SQLite errors; [`Refusal::NotMember`] when `to` is not a member.
    pub fn transfer(&self, org: i64, from: i64, to: i64) -> Answer<()> {
        if self.role(org, to)?.is_none() {
            return Ok(Err(Refusal::NotMember));
        }
        if let Err(refusal) = self.set_role(org, to, Role::Owner)? {
            return Ok(Err(refusal));
        }
        if from != to {
            return self.set_role(org, from, Role::Admin);
        }
        Ok(Ok(()))
    }

    /// Marks `org` deleted: it is no longer found by slug or listed, and
    /// its slug stays taken. Answers whether it was live.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn mark_deleted(&self, org: i64) -> Result<bool> {
        self.mark_deleted_at(org, now_ms())
    }

    /// [`Orgs::mark_deleted`] at `now` (ms since the epoch).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn mark_deleted_at(&self, org: i64, now: i64) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE orgs SET deleted_at_ms = ?2 WHERE id = ?1 AND deleted_at_ms IS NULL",
            params![org, now],
        )? == 1)
    }

    /// The deleted organization `slug` whose file is still there (not
    /// purged): the one [`Orgs::restore`] can bring back.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn deleted_by_slug(&self, slug: &str) -> Result<Option<Org>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {ORG_COLUMNS} FROM orgs o WHERE o.slug = ?1 \
                 AND o.deleted_at_ms IS NOT NULL AND o.purged_at_ms IS NULL"
            ))?
            .query_row([slug], org_from_row)
            .optional()?)
    }

    /// Brings back a deleted organization whose file is not purged yet,
    /// with its members as they were. Answers whether it did.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn restore(&self, org: i64) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE orgs SET deleted_at_ms = NULL \
             WHERE id = ?1 AND deleted_at_ms IS NOT NULL AND purged_at_ms IS NULL",
            [org],
        )? == 1)
    }

    /// The organizations deleted at or before `before` (ms since the
    /// epoch) whose file is not purged yet, by id.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn due_for_purge(&self, before: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM orgs WHERE deleted_at_ms <= ?1 AND purged_at_ms IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([before], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records that deleted `org`'s file was removed at `now`.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn mark_purged(&self, org: i64, now: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE orgs SET purged_at_ms = ?2 WHERE id = ?1 AND deleted_at_ms IS NOT NULL",
            params![org, now],
        )?;
        Ok(())
    }

    /// Every organization whose file should exist (live, or deleted and
    /// not purged yet), by id: what `agora migrate` migrates.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn with_files(&self) -> Result<Vec<Org>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ORG_COLUMNS} FROM orgs o WHERE o.purged_at_ms IS NULL ORDER BY o.id"
        ))?;
        let rows = stmt.query_map([], org_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn member_from_row(r: &Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        user_id: r.get(0)?,
        name: r.get(1)?,
        bio: r.get(2)?,
        image: r.get(3)?,
        role: role_of(r, "role")?,
        joined_at_ms: r.get(5)?,
    })
}

#[cfg(test)]
mod suite;
#[cfg(test)]
mod tests;
