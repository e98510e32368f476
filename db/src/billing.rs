//! Billing's shared tables (`0010_billing.sql`): each organization's
//! customer at the payment provider, the latest known state of its
//! subscription and invoices, and the webhook events already handled.
//!
//! Subscriptions and invoices are written only through
//! [`Billing::apply_subscription`] and [`Billing::apply_invoice`], which
//! keep the newer of what is stored and what is offered (by the
//! provider's version): late, repeated or reordered webhooks never move
//! anything backwards. Article counts are not here: they live in each
//! organization's own file.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{Result, now_ms};

/// What agora knows of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The organization.
    pub org_id: i64,
    /// The provider's id.
    pub id: String,
    /// `team` or `business`.
    pub plan: String,
    /// `trialing`, `active`, `past_due`, `canceled` or `unpaid`.
    pub status: String,
    /// The current period, unix seconds.
    pub period_start: i64,
    /// Likewise.
    pub period_end: i64,
    /// When the trial ends (unix seconds), if it has one.
    pub trial_end: Option<i64>,
    /// Cancelled at the end of the period.
    pub cancel_at_period_end: bool,
    /// The provider's counter: higher is newer.
    pub version: i64,
}

/// What agora knows of an invoice (amounts in cents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// The provider's id.
    pub id: String,
    /// The organization.
    pub org_id: i64,
    /// `draft`, `open`, `paid`, `uncollectible` or `void`.
    pub status: String,
    /// The sum of the lines (negative for a net credit).
    pub total: i64,
    /// What the customer owes after balance.
    pub amount_due: i64,
    /// What was paid.
    pub amount_paid: i64,
    /// Payment attempts so far.
    pub attempt_count: i64,
    /// Created, unix seconds (of the provider's clock).
    pub created: i64,
    /// The line items, the provider's JSON array.
    pub lines: String,
    /// The provider's counter: higher is newer.
    pub version: i64,
}

/// Billing queries over one connection (the shared database).
pub struct Billing<'c> {
    conn: &'c Connection,
}

fn subscription_from_row(r: &Row<'_>) -> rusqlite::Result<Subscription> {
    Ok(Subscription {
        org_id: r.get(0)?,
        id: r.get(1)?,
        plan: r.get(2)?,
        status: r.get(3)?,
        period_start: r.get(4)?,
        period_end: r.get(5)?,
        trial_end: r.get(6)?,
        cancel_at_period_end: r.get::<_, i64>(7)? != 0,
        version: r.get(8)?,
    })
}

fn invoice_from_row(r: &Row<'_>) -> rusqlite::Result<Invoice> {
    Ok(Invoice {
        id: r.get(0)?,
        org_id: r.get(1)?,
        status: r.get(2)?,
        total: r.get(3)?,
        amount_due: r.get(4)?,
        amount_paid: r.get(5)?,
        attempt_count: r.get(6)?,
        created: r.get(7)?,
        lines: r.get(8)?,
        version: r.get(9)?,
    })
}

const SUBSCRIPTION_COLUMNS: &str = "org_id, subscription_id, plan, status, current_period_start, \
     current_period_end, trial_end, cancel_at_period_end, version";
const INVOICE_COLUMNS: &str = "invoice_id, org_id, status, total, amount_due, amount_paid, \
     attempt_count, created, lines, version";

impl<'c> Billing<'c> {
    /// The repository over `conn`.
    pub fn new(conn: &'c Connection) -> Self {
        Billing { conn }
    }

    /// How many members `org` has, and how many invitations are pending
    /// (not answered, not expired at `now_ms`).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn seats(&self, org: i64, now_ms: i64) -> Result<(i64, i64)> {
        let members = self.conn.query_row(
            "SELECT COUNT(*) FROM org_members WHERE org_id = ?1",
            [org],
            |r| r.get(0),
        )?;
        let pending = self.conn.query_row(
            "SELECT COUNT(*) FROM org_invitations \
             WHERE org_id = ?1 AND state = 'pending' AND expires_at_ms >= ?2",
            params![org, now_ms],
            |r| r.get(0),
        )?;
        Ok((members, pending))
    }

    /// Sets the plan whose limits apply to `org`.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn set_plan(&self, org: i64, plan: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE orgs SET plan = ?2 WHERE id = ?1",
            params![org, plan],
        )?;
        Ok(())
    }

    /// `org`'s custom domain.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn custom_domain(&self, org: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT custom_domain FROM orgs WHERE id = ?1", [org], |r| {
                r.get(0)
            })
            .optional()?
            .flatten())
    }

    /// Every organization's custom domain (deleted ones' too: they answer
    /// 404 until purged), as (domain, slug).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn custom_domains(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT custom_domain, slug FROM orgs WHERE custom_domain IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Sets (or, with `None`, clears) `org`'s custom domain.
    ///
    /// Answers false (and changes nothing) when another organization
    /// has it.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn set_custom_domain(&self, org: i64, domain: Option<&str>) -> Result<bool> {
        if let Some(domain) = domain {
            let taken: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id FROM orgs WHERE custom_domain = ?1 AND id != ?2",
                    params![domain, org],
                    |r| r.get(0),
                )
                .optional()?;
            if taken.is_some() {
                return Ok(false);
            }
        }
        self.conn.execute(
            "UPDATE orgs SET custom_domain = ?2 WHERE id = ?1",
            params![org, domain],
        )?;
        Ok(true)
    }

    /// The plan whose limits apply to `org`.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn plan(&self, org: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT plan FROM orgs WHERE id = ?1", [org], |r| r.get(0))
            .optional()?)
    }

    /// `org`'s customer at the provider and its test clock, if it has one.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn customer(&self, org: i64) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT customer_id, test_clock FROM billing_customers WHERE org_id = ?1",
                [org],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The organization whose customer is `customer`.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn org_of_customer(&self, customer: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT org_id FROM billing_customers WHERE customer_id = ?1",
                [customer],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Records `org`'s customer (once; a second call keeps the first).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn set_customer(&self, org: i64, customer: &str, clock: Option<&str>) -> Result<()> {
        self.conn.execute(
            "INSERT INTO billing_customers (org_id, customer_id, test_clock, created_at_ms) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT(org_id) DO NOTHING",
            params![org, customer, clock, now_ms()],
        )?;
        Ok(())
    }

    /// `org`'s subscription as last known.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn subscription(&self, org: i64) -> Result<Option<Subscription>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM billing_subscriptions WHERE org_id = ?1"
                ),
                [org],
                subscription_from_row,
            )
            .optional()?)
    }

    /// Stores `sub` unless what is stored for its organization is as new
    /// or newer (same subscription, version not lower). A different
    /// subscription replaces the old one only with a higher version too
    /// (the provider's versions grow across an organization's
    /// subscriptions). Answers whether it was stored.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn apply_subscription(&self, sub: &Subscription) -> Result<bool> {
        let changed = self.conn.execute(
            &format!(
                "INSERT INTO billing_subscriptions ({SUBSCRIPTION_COLUMNS}, updated_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT(org_id) DO UPDATE SET subscription_id = excluded.subscription_id, \
                 plan = excluded.plan, status = excluded.status, \
                 current_period_start = excluded.current_period_start, \
                 current_period_end = excluded.current_period_end, trial_end = excluded.trial_end, \
                 cancel_at_period_end = excluded.cancel_at_period_end, version = excluded.version, \
                 updated_at_ms = excluded.updated_at_ms \
                 WHERE excluded.version > billing_subscriptions.version"
            ),
            params![
                sub.org_id,
                sub.id,
                sub.plan,
                sub.status,
                sub.period_start,
                sub.period_end,
                sub.trial_end,
                i64::from(sub.cancel_at_period_end),
                sub.version,
                now_ms()
            ],
        )?;
        Ok(changed > 0)
    }

    /// Stores `invoice` unless the stored one is as new or newer.
    /// Answers whether it was stored.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn apply_invoice(&self, invoice: &Invoice) -> Result<bool> {
        let changed = self.conn.execute(
            &format!(
                "INSERT INTO billing_invoices ({INVOICE_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT(invoice_id) DO UPDATE SET status = excluded.status, \
                 total = excluded.total, amount_due = excluded.amount_due, \
                 amount_paid = excluded.amount_paid, attempt_count = excluded.attempt_count, \
                 lines = excluded.lines, version = excluded.version \
                 WHERE excluded.version > billing_invoices.version"
            ),
            params![
                invoice.id,
                invoice.org_id,
                invoice.status,
                invoice.total,
                invoice.amount_due,
                invoice.amount_paid,
                invoice.attempt_count,
                invoice.created,
                invoice.lines,
                invoice.version
            ],
        )?;
        Ok(changed > 0)
    }

    /// `org`'s invoices, newest first.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn invoices(&self, org: i64) -> Result<Vec<Invoice>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {INVOICE_COLUMNS} FROM billing_invoices WHERE org_id = ?1 \
             ORDER BY created DESC, invoice_id DESC"
        ))?;
        let rows = stmt.query_map([org], invoice_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records the webhook event `id`; answers false when it was recorded
    /// before (a repeated delivery).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn record_event(&self, id: &str, kind: &str) -> Result<bool> {
        let inserted = self.conn.execute(
            "INSERT INTO billing_events (event_id, type, received_at_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT(event_id) DO NOTHING",
            params![id, kind, now_ms()],
        )?;
        Ok(inserted > 0)
    }
}

/// The billing repository, on either backend: [`Billing`] on SQLite,
/// `pg::orgs::PgOrgs` on a fleet's PostgreSQL (which serves the
/// organizations' queries too, so [`crate::orgs::OrgStore`] has this as
/// its supertrait: a plan's limits are counted in the transaction of the
/// change they limit). One suite (`billing/suite.rs`) runs on both. Each
/// call runs inside the transaction [`crate::Storage::billing`] (or
/// [`crate::Storage::orgs`]) opens.
///
/// The versioned writes are single statements on both backends
/// (`INSERT … ON CONFLICT … DO UPDATE … WHERE excluded.version >
/// stored.version`): on PostgreSQL a second node's write of the same row
/// waits for the first's commit and then compares with what it wrote, so
/// an older or equal version never overwrites a newer one, whichever
/// commits first.
pub trait BillingStore {
    /// How many members `org` has, and how many invitations are pending
    /// (not answered, not expired at `now_ms`). On PostgreSQL, exact for
    /// the rest of a write transaction once one of
    /// [`crate::orgs::OrgStore`]'s membership changes has locked `org`'s
    /// row (call it after the change it limits, as the daemon does).
    fn seats(&mut self, org: i64, now_ms: i64) -> Result<(i64, i64)>;
    /// Sets the plan whose limits apply to `org`.
    fn set_plan(&mut self, org: i64, plan: &str) -> Result<()>;
    /// `org`'s custom domain.
    fn custom_domain(&mut self, org: i64) -> Result<Option<String>>;
    /// Every organization's custom domain (deleted ones' too: they answer
    /// 404 until purged), as (domain, slug), by organization id.
    fn custom_domains(&mut self) -> Result<Vec<(String, String)>>;
    /// Sets (or, with `None`, clears) `org`'s custom domain. Answers false
    /// (and changes nothing) when another organization has it; on
    /// PostgreSQL a unique index decides between two nodes setting one
    /// domain at once.
    fn set_custom_domain(&mut self, org: i64, domain: Option<&str>) -> Result<bool>;
    /// The plan whose limits apply to `org`.
    fn plan(&mut self, org: i64) -> Result<Option<String>>;
    /// `org`'s customer at the provider and its test clock, if it has one.
    fn customer(&mut self, org: i64) -> Result<Option<(String, Option<String>)>>;
    /// The organization whose customer is `customer`.
    fn org_of_customer(&mut self, customer: &str) -> Result<Option<i64>>;
    /// Records `org`'s customer (once; a second call keeps the first).
    fn set_customer(&mut self, org: i64, customer: &str, clock: Option<&str>) -> Result<()>;
    /// `org`'s subscription as last known.
    fn subscription(&mut self, org: i64) -> Result<Option<Subscription>>;
    /// Stores `sub` unless what is stored for its organization is as new
    /// or newer; answers whether it was stored ([`Billing::apply_subscription`]).
    fn apply_subscription(&mut self, sub: &Subscription) -> Result<bool>;
    /// Stores `invoice` unless the stored one is as new or newer; answers
    /// whether it was stored.
    fn apply_invoice(&mut self, invoice: &Invoice) -> Result<bool>;
    /// `org`'s invoices, newest first.
    fn invoices(&mut self, org: i64) -> Result<Vec<Invoice>>;
    /// Records the webhook event `id`; answers false when it was recorded
    /// before (a repeated delivery, possibly to another node).
    fn record_event(&mut self, id: &str, kind: &str) -> Result<bool>;
}

impl BillingStore for Billing<'_> {
    fn seats(&mut self, org: i64, now_ms: i64) -> Result<(i64, i64)> {
        Billing::seats(self, org, now_ms)
    }
    fn set_plan(&mut self, org: i64, plan: &str) -> Result<()> {
        Billing::set_plan(self, org, plan)
    }
    fn custom_domain(&mut self, org: i64) -> Result<Option<String>> {
        Billing::custom_domain(self, org)
    }
    fn custom_domains(&mut self) -> Result<Vec<(String, String)>> {
        Billing::custom_domains(self)
    }
    fn set_custom_domain(&mut self, org: i64, domain: Option<&str>) -> Result<bool> {
        Billing::set_custom_domain(self, org, domain)
    }
    fn plan(&mut self, org: i64) -> Result<Option<String>> {
        Billing::plan(self, org)
    }
    fn customer(&mut self, org: i64) -> Result<Option<(String, Option<String>)>> {
        Billing::customer(self, org)
    }
    fn org_of_customer(&mut self, customer: &str) -> Result<Option<i64>> {
        Billing::org_of_customer(self, customer)
    }
    fn set_customer(&mut self, org: i64, customer: &str, clock: Option<&str>) -> Result<()> {
        Billing::set_customer(self, org, customer, clock)
    }
    fn subscription(&mut self, org: i64) -> Result<Option<Subscription>> {
        Billing::subscription(self, org)
    }
    fn apply_subscription(&mut self, sub: &Subscription) -> Result<bool> {
        Billing::apply_subscription(self, sub)
    }
    fn apply_invoice(&mut self, invoice: &Invoice) -> Result<bool> {
        Billing::apply_invoice(self, invoice)
    }
    fn invoices(&mut self, org: i64) -> Result<Vec<Invoice>> {
        Billing::invoices(self, org)
    }
    fn record_event(&mut self, id: &str, kind: &str) -> Result<bool> {
        Billing::record_event(self, id, kind)
    }
}

#[cfg(test)]
mod suite;
