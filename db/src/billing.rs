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

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> crate::Db {
        let db = crate::Db::open_in_memory().unwrap();
        db.write(|c| {
            c.execute(
                "INSERT INTO users (id, name, password_hash, created_at_ms) VALUES (1, 'ann', '', 0)",
                [],
            )?;
            crate::orgs::Orgs::new(c).create("acme", "Acme", 1)?.unwrap();
            Ok(())
        })
        .unwrap();
        db
    }

    fn sub(version: i64, status: &str) -> Subscription {
        Subscription {
            org_id: 1,
            id: "sub_1".into(),
            plan: "team".into(),
            status: status.into(),
            period_start: 0,
            period_end: 100,
            trial_end: None,
            cancel_at_period_end: false,
            version,
        }
    }

    #[test]
    fn an_older_subscription_never_overwrites_a_newer_one() {
        let db = setup();
        db.write(|c| {
            let b = Billing::new(c);
            assert!(b.apply_subscription(&sub(2, "active"))?);
            assert!(!b.apply_subscription(&sub(1, "trialing"))?);
            assert!(!b.apply_subscription(&sub(2, "trialing"))?);
            assert_eq!(b.subscription(1)?.unwrap().status, "active");
            assert!(b.apply_subscription(&sub(3, "past_due"))?);
            assert_eq!(b.subscription(1)?.unwrap().status, "past_due");
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn invoices_keep_the_newest_and_events_are_recorded_once() {
        let db = setup();
        db.write(|c| {
            let b = Billing::new(c);
            let mut inv = Invoice {
                id: "in_1".into(),
                org_id: 1,
                status: "paid".into(),
                total: 100,
                amount_due: 100,
                amount_paid: 100,
                attempt_count: 1,
                created: 5,
                lines: "[]".into(),
                version: 2,
            };
            assert!(b.apply_invoice(&inv)?);
            inv.status = "open".into();
            inv.version = 1;
            assert!(!b.apply_invoice(&inv)?);
            assert_eq!(b.invoices(1)?[0].status, "paid");
            assert!(b.record_event("evt_1", "invoice.paid")?);
            assert!(!b.record_event("evt_1", "invoice.paid")?);
            b.set_customer(1, "cus_1", Some("clock_1"))?;
            assert_eq!(b.org_of_customer("cus_1")?, Some(1));
            assert_eq!(b.org_of_customer("cus_2")?, None);
            assert_eq!(b.seats(1, 0)?, (1, 0));
            Ok(())
        })
        .unwrap();
    }
}
