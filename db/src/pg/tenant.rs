//! Tenant transactions: how the blog's queries reach an organization's
//! rows on PostgreSQL, and only its rows (docs/FLEET.md, "Tenants:
//! row-level security"; schema `postgres/0005_tenants.sql`).
//!
//! [`Pg::tenant`] opens a transaction, switches it to the role
//! [`ROLE`] (`SET LOCAL ROLE`: it owns no table and cannot bypass
//! row-level security) and sets `app.org_id` for the transaction only
//! (`set_config(…, true)`, the parameterised `SET LOCAL`). Every tenant
//! table's policy compares its rows' `org_id` with that setting, so a
//! query that forgets its `WHERE org_id = …` still sees one organization,
//! a write into another is refused, and a transaction without the
//! setting sees nothing. Both end with the transaction: a pooled
//! connection carries nothing over to the next user.

use postgres::Transaction;

use super::Pg;
use crate::Result;

/// The role tenant transactions run as.
pub const ROLE: &str = "agora_tenant";
/// The organization id of the main site's blog (not an organization).
pub const MAIN_SITE: i64 = 0;

/// Makes `tx` a tenant transaction for organization `org_id`.
///
/// # Errors
/// On database errors (the role missing: migrations not run).
pub fn enter(tx: &mut Transaction<'_>, org_id: i64) -> Result<()> {
    tx.batch_execute("SET LOCAL ROLE agora_tenant")?;
    tx.execute(
        "SELECT set_config('app.org_id', $1, true)",
        &[&org_id.to_string()],
    )?;
    Ok(())
}

impl Pg {
    /// Runs `f` in a tenant transaction for organization `org_id`
    /// ([`MAIN_SITE`] for the main blog) and commits it.
    ///
    /// # Errors
    /// Whatever `f` returns (the transaction is rolled back); database
    /// errors.
    pub fn tenant<T>(
        &self,
        org_id: i64,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        self.with(|client| {
            let mut tx = client.transaction()?;
            enter(&mut tx, org_id)?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// Runs `f` in a read-only REPEATABLE READ tenant transaction (one
    /// snapshot for a page and its count).
    ///
    /// # Errors
    /// Whatever `f` returns; database errors.
    pub fn tenant_read<T>(
        &self,
        org_id: i64,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        self.with(|client| {
            let mut tx = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            enter(&mut tx, org_id)?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// Runs `f` in a tenant transaction committed only when it returns
    /// `Ok(Ok(_))` (an `Ok(Err(_))` is the caller's refusal: rolled back).
    ///
    /// # Errors
    /// Database errors.
    pub fn tenant_write<T, E>(
        &self,
        org_id: i64,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<std::result::Result<T, E>>,
    ) -> Result<std::result::Result<T, E>> {
        self.with(|client| {
            let mut tx = client.transaction()?;
            enter(&mut tx, org_id)?;
            let out = f(&mut tx)?;
            if out.is_ok() {
                tx.commit()?;
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests;
