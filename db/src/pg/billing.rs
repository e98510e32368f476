//! Billing's queries on PostgreSQL: [`BillingStore`] for [`PgOrgs`],
//! one type for both repositories so the organizations' writes can count
//! seats in their own transaction (schema `postgres/0008_billing.sql`;
//! suite `billing/suite.rs`).
//!
//! The versioned upserts are single statements, `INSERT … ON CONFLICT …
//! DO UPDATE … WHERE excluded.version > stored.version`: when two nodes
//! write one subscription or invoice at once, the second waits for the
//! first's row and compares its version with what the first committed,
//! so an older or equal version never overwrites a newer one. An event is
//! recorded with `ON CONFLICT DO NOTHING`: of two nodes receiving the same
//! delivery, one records it and the other answers "seen". A custom domain
//! is unique by index; a clash is answered `false`, inside a savepoint so
//! the transaction goes on.

use postgres::Row;

use super::orgs::PgOrgs;
use crate::billing::{BillingStore, Invoice, Subscription};
use crate::{Error, Result, now_ms};

const SUBSCRIPTION_COLUMNS: &str = "org_id, subscription_id, plan, status, current_period_start, \
     current_period_end, trial_end, cancel_at_period_end, version";
const INVOICE_COLUMNS: &str = "invoice_id, org_id, status, total, amount_due, amount_paid, \
     attempt_count, created, lines, version";

fn subscription_from_row(r: &Row) -> Subscription {
    Subscription {
        org_id: r.get(0),
        id: r.get(1),
        plan: r.get(2),
        status: r.get(3),
        period_start: r.get(4),
        period_end: r.get(5),
        trial_end: r.get(6),
        cancel_at_period_end: r.get(7),
        version: r.get(8),
    }
}

fn invoice_from_row(r: &Row) -> Invoice {
    Invoice {
        id: r.get(0),
        org_id: r.get(1),
        status: r.get(2),
        total: r.get(3),
        amount_due: r.get(4),
        amount_paid: r.get(5),
        attempt_count: r.get(6),
        created: r.get(7),
        lines: r.get(8),
        version: r.get(9),
    }
}

impl BillingStore for PgOrgs<'_, '_> {
    fn seats(&mut self, org: i64, now_ms: i64) -> Result<(i64, i64)> {
        let row = self.tx.query_one(
            "SELECT (SELECT count(*) FROM org_members WHERE org_id = $1), \
                    (SELECT count(*) FROM org_invitations \
                     WHERE org_id = $1 AND state = 'pending' AND expires_at_ms >= $2)",
            &[&org, &now_ms],
        )?;
        Ok((row.get(0), row.get(1)))
    }

    fn set_plan(&mut self, org: i64, plan: &str) -> Result<()> {
        self.tx
            .execute("UPDATE orgs SET plan = $2 WHERE id = $1", &[&org, &plan])?;
        Ok(())
    }

    fn custom_domain(&mut self, org: i64) -> Result<Option<String>> {
        Ok(self
            .tx
            .query_opt("SELECT custom_domain FROM orgs WHERE id = $1", &[&org])?
            .and_then(|r| r.get(0)))
    }

    fn custom_domains(&mut self) -> Result<Vec<(String, String)>> {
        Ok(self
            .tx
            .query(
                "SELECT custom_domain, slug FROM orgs WHERE custom_domain IS NOT NULL ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn set_custom_domain(&mut self, org: i64, domain: Option<&str>) -> Result<bool> {
        // The index decides (another node may be setting the same domain
        // right now); its refusal is rolled back to the savepoint alone.
        let mut savepoint = self.tx.savepoint("set_custom_domain")?;
        match savepoint.execute(
            "UPDATE orgs SET custom_domain = $2 WHERE id = $1",
            &[&org, &domain],
        ) {
            Ok(_) => {
                savepoint.commit()?;
                Ok(true)
            }
            Err(err) if Error::is_pg_unique_violation(&err) => {
                savepoint.rollback()?;
                Ok(false)
            }
            Err(err) => Err(err.into()),
        }
    }

    fn plan(&mut self, org: i64) -> Result<Option<String>> {
        Ok(self
            .tx
            .query_opt("SELECT plan FROM orgs WHERE id = $1", &[&org])?
            .map(|r| r.get(0)))
    }

    fn customer(&mut self, org: i64) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .tx
            .query_opt(
                "SELECT customer_id, test_clock FROM billing_customers WHERE org_id = $1",
                &[&org],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }

    fn org_of_customer(&mut self, customer: &str) -> Result<Option<i64>> {
        Ok(self
            .tx
            .query_opt(
                "SELECT org_id FROM billing_customers WHERE customer_id = $1",
                &[&customer],
            )?
            .map(|r| r.get(0)))
    }

    fn set_customer(&mut self, org: i64, customer: &str, clock: Option<&str>) -> Result<()> {
        self.tx.execute(
            "INSERT INTO billing_customers (org_id, customer_id, test_clock, created_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (org_id) DO NOTHING",
            &[&org, &customer, &clock, &now_ms()],
        )?;
        Ok(())
    }

    fn subscription(&mut self, org: i64) -> Result<Option<Subscription>> {
        Ok(self
            .tx
            .query_opt(
                &format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM billing_subscriptions WHERE org_id = $1"
                ),
                &[&org],
            )?
            .as_ref()
            .map(subscription_from_row))
    }

    fn apply_subscription(&mut self, sub: &Subscription) -> Result<bool> {
        let changed = self.tx.execute(
            &format!(
                "INSERT INTO billing_subscriptions ({SUBSCRIPTION_COLUMNS}, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (org_id) DO UPDATE SET subscription_id = excluded.subscription_id, \
                 plan = excluded.plan, status = excluded.status, \
                 current_period_start = excluded.current_period_start, \
                 current_period_end = excluded.current_period_end, trial_end = excluded.trial_end, \
                 cancel_at_period_end = excluded.cancel_at_period_end, version = excluded.version, \
                 updated_at_ms = excluded.updated_at_ms \
                 WHERE excluded.version > billing_subscriptions.version"
            ),
            &[
                &sub.org_id,
                &sub.id,
                &sub.plan,
                &sub.status,
                &sub.period_start,
                &sub.period_end,
                &sub.trial_end,
                &sub.cancel_at_period_end,
                &sub.version,
                &now_ms(),
            ],
        )?;
        Ok(changed > 0)
    }

    fn apply_invoice(&mut self, invoice: &Invoice) -> Result<bool> {
        let changed = self.tx.execute(
            &format!(
                "INSERT INTO billing_invoices ({INVOICE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (invoice_id) DO UPDATE SET status = excluded.status, \
                 total = excluded.total, amount_due = excluded.amount_due, \
                 amount_paid = excluded.amount_paid, attempt_count = excluded.attempt_count, \
                 lines = excluded.lines, version = excluded.version \
                 WHERE excluded.version > billing_invoices.version"
            ),
            &[
                &invoice.id,
                &invoice.org_id,
                &invoice.status,
                &invoice.total,
                &invoice.amount_due,
                &invoice.amount_paid,
                &invoice.attempt_count,
                &invoice.created,
                &invoice.lines,
                &invoice.version,
            ],
        )?;
        Ok(changed > 0)
    }

    fn invoices(&mut self, org: i64) -> Result<Vec<Invoice>> {
        Ok(self
            .tx
            .query(
                &format!(
                    "SELECT {INVOICE_COLUMNS} FROM billing_invoices WHERE org_id = $1 \
                     ORDER BY created DESC, invoice_id COLLATE \"C\" DESC"
                ),
                &[&org],
            )?
            .iter()
            .map(invoice_from_row)
            .collect())
    }

    fn record_event(&mut self, id: &str, kind: &str) -> Result<bool> {
        Ok(self.tx.execute(
            "INSERT INTO billing_events (event_id, type, received_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (event_id) DO NOTHING",
            &[&id, &kind, &now_ms()],
        )? > 0)
    }
}
