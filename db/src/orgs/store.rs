//! [`OrgStore`]: what the organizations service needs of its storage,
//! whichever backend holds it — [`Orgs`] on SQLite, `pg::orgs::PgOrgs`
//! on a fleet's PostgreSQL. One suite (`orgs/suite.rs`) runs on both.
//!
//! Every method runs inside the transaction [`crate::Storage::orgs`]
//! opens. A change that checks before it writes (an invitation of a
//! member, an answer, a role change, a removal or a transfer that must
//! leave an owner) cannot be split by another writer: on SQLite the
//! transaction is `BEGIN IMMEDIATE`, the single writer's lock; on
//! PostgreSQL, where several nodes write at once, each such change first
//! locks its organization's row (`SELECT … FOR UPDATE`), so two nodes
//! changing one organization's members take turns, the second seeing the
//! first's commit. Creating with a taken slug is decided by the unique
//! index (`ON CONFLICT DO NOTHING`), restoring by a single `UPDATE`.

use super::{Answer, Invitation, Member, Org, Orgs, Role};
use crate::Result;
use crate::billing::{Billing, BillingStore, Invoice, Subscription};

/// The organizations repository, on either backend. Billing's queries
/// come with it ([`BillingStore`] is its supertrait), so a plan's limits
/// are counted in the transaction of the change they limit.
pub trait OrgStore: BillingStore {
    /// Creates an organization with `owner` as its owner; refused for a
    /// bad or taken slug (by a live or a deleted organization).
    fn create(&mut self, slug: &str, name: &str, owner: i64) -> Answer<Org>;
    /// The live (not deleted) organization with this slug.
    fn by_slug(&mut self, slug: &str) -> Result<Option<Org>>;
    /// Every live organization, by id.
    fn all(&mut self) -> Result<Vec<Org>>;
    /// The live organizations `user` belongs to, with their role, by slug.
    fn of_user(&mut self, user: i64) -> Result<Vec<(Org, Role)>>;
    /// `user`'s role in `org`, if a member.
    fn role(&mut self, org: i64, user: i64) -> Result<Option<Role>>;
    /// The member `user` of `org` (with the profile a tenant mirrors).
    fn member(&mut self, org: i64, user: i64) -> Result<Option<Member>>;
    /// The members of `org`, by name.
    fn members(&mut self, org: i64) -> Result<Vec<Member>>;
    /// Invites the account named `name` to `org` with `role`; refused for
    /// an unknown user or a member.
    fn invite(
        &mut self,
        org: i64,
        name: &str,
        role: Role,
        by: i64,
        token: &str,
        expires_at_ms: i64,
    ) -> Answer<Invitation>;
    /// Answers the invitation `token` as `user` (its invitee): accepting
    /// makes them a member. Answers the organization and the role;
    /// refused for an unknown, someone else's, expired or answered
    /// invitation, or a member already.
    fn answer(&mut self, token: &str, user: i64, accept: bool, now: i64) -> Answer<(Org, Role)>;
    /// Gives `user` the role `role` in `org`; refused for a non-member or
    /// the last owner stepping down.
    fn set_role(&mut self, org: i64, user: i64, role: Role) -> Answer<()>;
    /// Removes `user` from `org` (removal or leaving); refused for a
    /// non-member or the last owner.
    fn remove(&mut self, org: i64, user: i64) -> Answer<()>;
    /// Makes member `to` an owner and `from` (an owner) an admin; refused
    /// when `to` is not a member.
    fn transfer(&mut self, org: i64, from: i64, to: i64) -> Answer<()>;
    /// Marks `org` deleted now; answers whether it was live.
    fn mark_deleted(&mut self, org: i64) -> Result<bool> {
        self.mark_deleted_at(org, crate::now_ms())
    }
    /// Marks `org` deleted at `now` (ms since the epoch): it is no longer
    /// found by slug or listed, and its slug stays taken. Answers whether
    /// it was live.
    fn mark_deleted_at(&mut self, org: i64, now: i64) -> Result<bool>;
    /// The deleted organization `slug` whose data is still there (not
    /// purged): the one [`OrgStore::restore`] can bring back.
    fn deleted_by_slug(&mut self, slug: &str) -> Result<Option<Org>>;
    /// Brings back a deleted organization not purged yet, with its
    /// members as they were. Answers whether it did.
    fn restore(&mut self, org: i64) -> Result<bool>;
    /// The organizations deleted at or before `before` (ms since the
    /// epoch) not purged yet, by id.
    fn due_for_purge(&mut self, before: i64) -> Result<Vec<i64>>;
    /// Records that deleted `org`'s data was removed at `now`.
    fn mark_purged(&mut self, org: i64, now: i64) -> Result<()>;
    /// Every organization whose data still exists (live, or deleted and
    /// not purged yet), by id. On SQLite: those whose tenant file should
    /// exist, what `agora migrate` migrates; on PostgreSQL, where an
    /// organization's blog is rows of the shared tables, those whose rows
    /// are not purged.
    fn with_files(&mut self) -> Result<Vec<Org>>;
}

impl OrgStore for Orgs<'_> {
    fn create(&mut self, slug: &str, name: &str, owner: i64) -> Answer<Org> {
        Orgs::create(self, slug, name, owner)
    }
    fn by_slug(&mut self, slug: &str) -> Result<Option<Org>> {
        Orgs::by_slug(self, slug)
    }
    fn all(&mut self) -> Result<Vec<Org>> {
        Orgs::all(self)
    }
    fn of_user(&mut self, user: i64) -> Result<Vec<(Org, Role)>> {
        Orgs::of_user(self, user)
    }
    fn role(&mut self, org: i64, user: i64) -> Result<Option<Role>> {
        Orgs::role(self, org, user)
    }
    fn member(&mut self, org: i64, user: i64) -> Result<Option<Member>> {
        Orgs::member(self, org, user)
    }
    fn members(&mut self, org: i64) -> Result<Vec<Member>> {
        Orgs::members(self, org)
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
        Orgs::invite(self, org, name, role, by, token, expires_at_ms)
    }
    fn answer(&mut self, token: &str, user: i64, accept: bool, now: i64) -> Answer<(Org, Role)> {
        Orgs::answer(self, token, user, accept, now)
    }
    fn set_role(&mut self, org: i64, user: i64, role: Role) -> Answer<()> {
        Orgs::set_role(self, org, user, role)
    }
    fn remove(&mut self, org: i64, user: i64) -> Answer<()> {
        Orgs::remove(self, org, user)
    }
    fn transfer(&mut self, org: i64, from: i64, to: i64) -> Answer<()> {
        Orgs::transfer(self, org, from, to)
    }
    fn mark_deleted(&mut self, org: i64) -> Result<bool> {
        Orgs::mark_deleted(self, org)
    }
    fn mark_deleted_at(&mut self, org: i64, now: i64) -> Result<bool> {
        Orgs::mark_deleted_at(self, org, now)
    }
    fn deleted_by_slug(&mut self, slug: &str) -> Result<Option<Org>> {
        Orgs::deleted_by_slug(self, slug)
    }
    fn restore(&mut self, org: i64) -> Result<bool> {
        Orgs::restore(self, org)
    }
    fn due_for_purge(&mut self, before: i64) -> Result<Vec<i64>> {
        Orgs::due_for_purge(self, before)
    }
    fn mark_purged(&mut self, org: i64, now: i64) -> Result<()> {
        Orgs::mark_purged(self, org, now)
    }
    fn with_files(&mut self) -> Result<Vec<Org>> {
        Orgs::with_files(self)
    }
}

/// Billing's queries over the organizations' connection (the same
/// transaction).
impl BillingStore for Orgs<'_> {
    fn seats(&mut self, org: i64, now_ms: i64) -> Result<(i64, i64)> {
        Billing::new(self.conn).seats(org, now_ms)
    }
    fn set_plan(&mut self, org: i64, plan: &str) -> Result<()> {
        Billing::new(self.conn).set_plan(org, plan)
    }
    fn custom_domain(&mut self, org: i64) -> Result<Option<String>> {
        Billing::new(self.conn).custom_domain(org)
    }
    fn custom_domains(&mut self) -> Result<Vec<(String, String)>> {
        Billing::new(self.conn).custom_domains()
    }
    fn set_custom_domain(&mut self, org: i64, domain: Option<&str>) -> Result<bool> {
        Billing::new(self.conn).set_custom_domain(org, domain)
    }
    fn plan(&mut self, org: i64) -> Result<Option<String>> {
        Billing::new(self.conn).plan(org)
    }
    fn customer(&mut self, org: i64) -> Result<Option<(String, Option<String>)>> {
        Billing::new(self.conn).customer(org)
    }
    fn org_of_customer(&mut self, customer: &str) -> Result<Option<i64>> {
        Billing::new(self.conn).org_of_customer(customer)
    }
    fn set_customer(&mut self, org: i64, customer: &str, clock: Option<&str>) -> Result<()> {
        Billing::new(self.conn).set_customer(org, customer, clock)
    }
    fn subscription(&mut self, org: i64) -> Result<Option<Subscription>> {
        Billing::new(self.conn).subscription(org)
    }
    fn apply_subscription(&mut self, sub: &Subscription) -> Result<bool> {
        Billing::new(self.conn).apply_subscription(sub)
    }
    fn apply_invoice(&mut self, invoice: &Invoice) -> Result<bool> {
        Billing::new(self.conn).apply_invoice(invoice)
    }
    fn invoices(&mut self, org: i64) -> Result<Vec<Invoice>> {
        Billing::new(self.conn).invoices(org)
    }
    fn record_event(&mut self, id: &str, kind: &str) -> Result<bool> {
        Billing::new(self.conn).record_event(id, kind)
    }
}
