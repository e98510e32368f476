//! Custom domains (the business plan's): [`Domains`], the table from a
//! custom domain to its organization that routing reads on every request
//! (`crate::http::blog::site`), and [`check_domain`], what a custom domain
//! may be.
//!
//! The table is loaded from the shared database at start-up and reloaded
//! whole after every change of a domain (`Billing::set_domain`): changes
//! are rare, reads are per request, so reads take a read lock on a map
//! and nothing else. A domain is unique across organizations (the shared
//! database refuses a taken one, 409). The table holds every stored
//! domain; whether it routes is decided per request by the organization's
//! plan (see `site::layer`): below business, the domain stays stored (an
//! upgrade brings it back) but requests to it answer 404.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use agora_db::{Access, Storage};

use serde_json::Value;

use super::plans::{self, Limit};
use super::{Billing, plan_of, refusal};
use crate::blog::Error;
use crate::orgs::{Action, Seat};

/// Custom domain → organization slug. Cheap to clone.
#[derive(Clone, Default)]
pub struct Domains {
    table: Arc<RwLock<HashMap<String, String>>>,
}

impl Domains {
    /// The slug of the organization whose custom domain `host` (a host
    /// name, lower case, without port or final dot) is.
    pub fn slug_of(&self, host: &str) -> Option<String> {
        self.table
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(host)
            .cloned()
    }

    /// Reloads the table from the shared database (blocking: call it on
    /// the blocking pool).
    ///
    /// # Errors
    /// A storage failure (the table is left as it was).
    pub fn reload(&self, storage: &Storage) -> agora_db::Result<()> {
        let rows = storage
            .billing(Access::Read, |repo| {
                repo.custom_domains().map(Ok::<_, std::convert::Infallible>)
            })?
            .unwrap_or_else(|never| match never {});
        let table: HashMap<String, String> = rows.into_iter().collect();
        *self.table.write().unwrap_or_else(|p| p.into_inner()) = table;
        Ok(())
    }
}

impl Billing {
    /// Sets (or clears) the custom domain: the business plan's. `base`
    /// is the blog's base domain (a custom domain may not be under it).
    /// The routing table ([`Billing::domains`]) is reloaded after.
    ///
    /// # Errors
    /// [`Error::Denied`]; 402 on another plan; 422 not a domain; 409 taken.
    pub async fn set_domain(
        &self,
        seat: &Seat,
        domain: Option<String>,
        base: &str,
    ) -> Result<Value, Error> {
        seat.allow(Action::ManageBilling, false)?;
        let domain = match domain {
            Some(d) => {
                plans::check_add(plan_of(seat), Limit::CustomDomain, 0, 1)
                    .map_err(|over| over.into_error(402))?;
                Some(check_domain(&d, base)?)
            }
            None => None,
        };
        let org = seat.org.id;
        let stored = self
            .write(move |repo| repo.set_custom_domain(org, domain.as_deref()))
            .await;
        if !stored? {
            return Err(refusal(
                409,
                "domain",
                "another organization has this domain",
            ));
        }
        self.reload_domains().await?;
        self.overview(seat).await
    }

    /// The custom domains' routing table.
    pub fn domains(&self) -> &Domains {
        &self.inner.domains
    }

    /// Reloads the custom domains' routing table from the shared database.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn reload_domains(&self) -> Result<(), Error> {
        let (storage, domains) = (self.inner.storage.clone(), self.inner.domains.clone());
        tokio::task::spawn_blocking(move || domains.reload(&storage))
            .await
            .map_err(Error::internal)?
            .map_err(Error::from)
    }
}

/// `domain` normalized (trimmed, lower case, no final dot) if it can be a
/// custom domain: a host name of at least two DNS labels, not the blog's
/// base domain `base` nor under it (those are routed by subdomain).
///
/// # Errors
/// [`Error::Invalid`] (422) saying why.
pub fn check_domain(domain: &str, base: &str) -> Result<String, Error> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if d.len() > 253 || !d.contains('.') || !d.split('.').all(label_ok) {
        return Err(Error::invalid(
            "domain",
            "must be a domain name such as blog.example.com",
        ));
    }
    let base = base.trim_end_matches('.').to_ascii_lowercase();
    if d == base || d.ends_with(&format!(".{base}")) {
        return Err(Error::invalid(
            "domain",
            format!("must not be {base} or under it (organizations there are routed by subdomain)"),
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_domain_is_a_host_name_outside_the_base_domain() {
        assert_eq!(
            check_domain(" Blog.Acme.COM. ", "blog.localhost").unwrap(),
            "blog.acme.com"
        );
        for bad in [
            "localhost",
            "-a.example.com",
            "a..example.com",
            "a_b.example.com",
            "blog.localhost",
            "acme.blog.localhost",
            "exa mple.com",
            "",
        ] {
            assert!(check_domain(bad, "blog.localhost").is_err(), "{bad}");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(check_domain(&long, "blog.localhost").is_err());
    }
}
