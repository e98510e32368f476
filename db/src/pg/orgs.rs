//! The organizations repository on PostgreSQL: [`PgOrgs`], the same
//! [`OrgStore`] as SQLite's [`crate::orgs::Orgs`] (and the same
//! [`crate::billing::BillingStore`] as [`crate::billing::Billing`]:
//! `pg/billing.rs`), tested by the same suites (`orgs/suite.rs`,
//! `billing/suite.rs`); schema `postgres/0005_tenants.sql` and
//! `postgres/0008_billing.sql`. Organizations, members and invitations
//! are not tenant rows: these queries run as the daemon's own role,
//! across organizations.
//!
//! What differs from one node's SQLite is that several nodes write at
//! once, under READ COMMITTED. So every change that checks something
//! before it writes — an invitation (not a member yet), an answer (still
//! pending, not a member yet), a role change, a removal or a transfer
//! (an owner remains) — first locks its organization's row (`SELECT …
//! FOR UPDATE`): two nodes changing one organization's members take
//! turns, and the second's statements after the lock see the first's
//! commit. The same lock makes [`crate::billing::BillingStore::seats`],
//! called after such a change in its transaction, count every seat
//! another node could be giving at the same time. A taken slug is the
//! unique index's answer (`ON CONFLICT DO NOTHING`: a second node
//! creating the same slug waits for the first and is refused), never an
//! error that would abort the transaction; a deletion, a restore and a
//! purge are single `UPDATE`s whose conditions are checked again on the
//! newest row. Lists sorted by a name (memberships by slug, members by
//! name) sort by bytes (`COLLATE "C"`), as SQLite does, whatever the
//! database's locale.

use postgres::{Row, Transaction};

use crate::orgs::{Answer, Invitation, Member, Org, OrgStore, Refusal, Role, check_slug};
use crate::{Error, Result, now_ms};

/// Organization (and billing) queries inside one PostgreSQL transaction.
pub struct PgOrgs<'a, 't> {
    pub(super) tx: &'a mut Transaction<'t>,
}

impl<'a, 't> PgOrgs<'a, 't> {
    /// The repository inside `tx`.
    pub fn new(tx: &'a mut Transaction<'t>) -> Self {
        PgOrgs { tx }
    }

    /// Locks `org`'s row until the transaction ends (the turn every
    /// membership change takes); answers whether it exists.
    fn lock(&mut self, org: i64) -> Result<bool> {
        Ok(self
            .tx
            .query_opt("SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE", &[&org])?
            .is_some())
    }

    fn owners(&mut self, org: i64) -> Result<i64> {
        Ok(self
            .tx
            .query_one(
                "SELECT count(*) FROM org_members WHERE org_id = $1 AND role = 'owner'",
                &[&org],
            )?
            .get(0))
    }

    fn orgs(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Org>> {
        Ok(self
            .tx
            .query(sql, params)?
            .iter()
            .map(org_from_row)
            .collect())
    }
}

const ORG_COLUMNS: &str = "o.id, o.slug, o.name, o.plan, o.created_at_ms";
const MEMBER_COLUMNS: &str = "u.id, u.name, u.bio, u.image, m.role, m.joined_at_ms";

fn org_from_row(row: &Row) -> Org {
    Org {
        id: row.get(0),
        slug: row.get(1),
        name: row.get(2),
        plan: row.get(3),
        created_at_ms: row.get(4),
    }
}

fn role_at(row: &Row, at: usize) -> Result<Role> {
    let s: &str = row.get(at);
    Role::parse(s).ok_or_else(|| Error::Schema(format!("unknown role {s:?} in org_members")))
}

fn member_from_row(row: &Row) -> Result<Member> {
    Ok(Member {
        user_id: row.get(0),
        name: row.get(1),
        bio: row.get(2),
        image: row.get(3),
        role: role_at(row, 4)?,
        joined_at_ms: row.get(5),
    })
}

impl OrgStore for PgOrgs<'_, '_> {
    fn create(&mut self, slug: &str, name: &str, owner: i64) -> Answer<Org> {
        if let Err(why) = check_slug(slug) {
            return Ok(Err(Refusal::BadSlug(why)));
        }
        let now = now_ms();
        let Some(row) = self.tx.query_opt(
            "INSERT INTO orgs (slug, name, created_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (slug) DO NOTHING RETURNING id, plan",
            &[&slug, &name, &now],
        )?
        else {
            return Ok(Err(Refusal::SlugTaken));
        };
        let id: i64 = row.get(0);
        self.tx.execute(
            "INSERT INTO org_members (org_id, user_id, role, joined_at_ms) \
             VALUES ($1, $2, 'owner', $3)",
            &[&id, &owner, &now],
        )?;
        Ok(Ok(Org {
            id,
            slug: slug.to_owned(),
            name: name.to_owned(),
            plan: row.get(1),
            created_at_ms: now,
        }))
    }

    fn by_slug(&mut self, slug: &str) -> Result<Option<Org>> {
        let row = self.tx.query_opt(
            &format!(
                "SELECT {ORG_COLUMNS} FROM orgs o WHERE o.slug = $1 AND o.deleted_at_ms IS NULL"
            ),
            &[&slug],
        )?;
        Ok(row.as_ref().map(org_from_row))
    }

    fn all(&mut self) -> Result<Vec<Org>> {
        self.orgs(
            &format!(
                "SELECT {ORG_COLUMNS} FROM orgs o WHERE o.deleted_at_ms IS NULL ORDER BY o.id"
            ),
            &[],
        )
    }

    fn of_user(&mut self, user: i64) -> Result<Vec<(Org, Role)>> {
        self.tx
            .query(
                &format!(
                    "SELECT {ORG_COLUMNS}, m.role FROM org_members m JOIN orgs o ON o.id = m.org_id \
                     WHERE m.user_id = $1 AND o.deleted_at_ms IS NULL ORDER BY o.slug COLLATE \"C\""
                ),
                &[&user],
            )?
            .iter()
            .map(|r| Ok((org_from_row(r), role_at(r, 5)?)))
            .collect()
    }

    fn role(&mut self, org: i64, user: i64) -> Result<Option<Role>> {
        self.tx
            .query_opt(
                "SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2",
                &[&org, &user],
            )?
            .map(|r| role_at(&r, 0))
            .transpose()
    }

    fn member(&mut self, org: i64, user: i64) -> Result<Option<Member>> {
        self.tx
            .query_opt(
                &format!(
                    "SELECT {MEMBER_COLUMNS} FROM org_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.org_id = $1 AND m.user_id = $2"
                ),
                &[&org, &user],
            )?
            .map(|r| member_from_row(&r))
            .transpose()
    }

    fn members(&mut self, org: i64) -> Result<Vec<Member>> {
        self.tx
            .query(
                &format!(
                    "SELECT {MEMBER_COLUMNS} FROM org_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.org_id = $1 ORDER BY u.name COLLATE \"C\""
                ),
                &[&org],
            )?
            .iter()
            .map(member_from_row)
            .collect()
    }

    fn invite(
        &mut self,
        org: i64,
        name: &str,
        role: Role,
        by: i64,
        token: &str,
        expires_at_ms: i64,
    ) -> Answer<Invitation> {
        self.lock(org)?;
        let user = self
            .tx
            .query_opt("SELECT id FROM users WHERE name = $1", &[&name])?;
        let Some(user) = user.map(|r| r.get::<_, i64>(0)) else {
            return Ok(Err(Refusal::NoSuchUser));
        };
        if self.role(org, user)?.is_some() {
            return Ok(Err(Refusal::AlreadyMember));
        }
        self.tx.execute(
            "INSERT INTO org_invitations \
             (token, org_id, user_id, role, invited_by, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &token,
                &org,
                &user,
                &role.as_str(),
                &by,
                &now_ms(),
                &expires_at_ms,
            ],
        )?;
        Ok(Ok(Invitation {
            token: token.to_owned(),
            org_id: org,
            user_id: user,
            role,
            expires_at_ms,
        }))
    }

    fn answer(&mut self, token: &str, user: i64, accept: bool, now: i64) -> Answer<(Org, Role)> {
        let Some(org) = self.tx.query_opt(
            "SELECT org_id FROM org_invitations WHERE token = $1",
            &[&token],
        )?
        else {
            return Ok(Err(Refusal::NoSuchInvitation));
        };
        // The organization's turn first; what follows reads after the
        // commit of whoever had it.
        self.lock(org.get(0))?;
        let found = self.tx.query_opt(
            &format!(
                "SELECT {ORG_COLUMNS}, i.role, i.user_id, i.expires_at_ms, i.state \
                 FROM org_invitations i JOIN orgs o ON o.id = i.org_id \
                 WHERE i.token = $1 AND o.deleted_at_ms IS NULL"
            ),
            &[&token],
        )?;
        let Some(found) = found else {
            return Ok(Err(Refusal::NoSuchInvitation));
        };
        let (org, role) = (org_from_row(&found), role_at(&found, 5)?);
        let (invitee, expires, state): (i64, i64, &str) =
            (found.get(6), found.get(7), found.get(8));
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
        self.tx.execute(
            "UPDATE org_invitations SET state = $2 WHERE token = $1",
            &[&token, &state],
        )?;
        if accept {
            if self.role(org.id, user)?.is_some() {
                return Ok(Err(Refusal::AlreadyMember));
            }
            self.tx.execute(
                "INSERT INTO org_members (org_id, user_id, role, joined_at_ms) \
                 VALUES ($1, $2, $3, $4)",
                &[&org.id, &user, &role.as_str(), &now],
            )?;
        }
        Ok(Ok((org, role)))
    }

    fn set_role(&mut self, org: i64, user: i64, role: Role) -> Answer<()> {
        self.lock(org)?;
        let Some(current) = self.role(org, user)? else {
            return Ok(Err(Refusal::NotMember));
        };
        if current == Role::Owner && role != Role::Owner && self.owners(org)? <= 1 {
            return Ok(Err(Refusal::LastOwner));
        }
        self.tx.execute(
            "UPDATE org_members SET role = $3 WHERE org_id = $1 AND user_id = $2",
            &[&org, &user, &role.as_str()],
        )?;
        Ok(Ok(()))
    }

    fn remove(&mut self, org: i64, user: i64) -> Answer<()> {
        self.lock(org)?;
        let Some(current) = self.role(org, user)? else {
            return Ok(Err(Refusal::NotMember));
        };
        if current == Role::Owner && self.owners(org)? <= 1 {
            return Ok(Err(Refusal::LastOwner));
        }
        self.tx.execute(
            "DELETE FROM org_members WHERE org_id = $1 AND user_id = $2",
            &[&org, &user],
        )?;
        Ok(Ok(()))
    }

    fn transfer(&mut self, org: i64, from: i64, to: i64) -> Answer<()> {
        self.lock(org)?;
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

    fn mark_deleted_at(&mut self, org: i64, now: i64) -> Result<bool> {
        Ok(self.tx.execute(
            "UPDATE orgs SET deleted_at_ms = $2 WHERE id = $1 AND deleted_at_ms IS NULL",
            &[&org, &now],
        )? == 1)
    }

    fn deleted_by_slug(&mut self, slug: &str) -> Result<Option<Org>> {
        let row = self.tx.query_opt(
            &format!(
                "SELECT {ORG_COLUMNS} FROM orgs o WHERE o.slug = $1 \
                 AND o.deleted_at_ms IS NOT NULL AND o.purged_at_ms IS NULL"
            ),
            &[&slug],
        )?;
        Ok(row.as_ref().map(org_from_row))
    }

    fn restore(&mut self, org: i64) -> Result<bool> {
        Ok(self.tx.execute(
            "UPDATE orgs SET deleted_at_ms = NULL \
             WHERE id = $1 AND deleted_at_ms IS NOT NULL AND purged_at_ms IS NULL",
            &[&org],
        )? == 1)
    }

    fn due_for_purge(&mut self, before: i64) -> Result<Vec<i64>> {
        Ok(self
            .tx
            .query(
                "SELECT id FROM orgs WHERE deleted_at_ms <= $1 AND purged_at_ms IS NULL \
                 ORDER BY id",
                &[&before],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn mark_purged(&mut self, org: i64, now: i64) -> Result<()> {
        self.tx.execute(
            "UPDATE orgs SET purged_at_ms = $2 WHERE id = $1 AND deleted_at_ms IS NOT NULL",
            &[&org, &now],
        )?;
        Ok(())
    }

    /// Live organizations and deleted ones whose rows are not purged yet:
    /// on PostgreSQL an organization's blog has no file, the name says
    /// what it does on SQLite.
    fn with_files(&mut self) -> Result<Vec<Org>> {
        self.orgs(
            &format!("SELECT {ORG_COLUMNS} FROM orgs o WHERE o.purged_at_ms IS NULL ORDER BY o.id"),
            &[],
        )
    }
}

#[cfg(test)]
mod tests;
