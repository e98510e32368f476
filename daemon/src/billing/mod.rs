//! Billing for organizations (docs/BLOG.md, "Billing"): plans with
//! limits, subscriptions at a payment provider, invoices, and the signed
//! webhooks that keep agora's records current.
//!
//! - [`plans`]: the plans, their limits and prices, the checks (pure);
//! - [`lifecycle`]: a subscription's state machine (pure);
//! - [`proration`]: the credit and charge of a plan change (pure);
//! - [`signature`]: `Agora-Signature: t=…,v1=…` HMAC-SHA256 (pure);
//! - [`provider`]: the mock payment provider (`--billing-mock`), which
//!   talks to agora only by HTTP;
//! - [`client`]: agora's client of the provider's API;
//! - [`receiver`]: agora's webhook receiver;
//! - [`domains`]: custom domains, and the table routing reads;
//! - this module: [`Billing`], the operations the `/api/orgs/{slug}/…`
//!   billing routes call, each checked against the policy.
//!
//! Limits are checked where things are added: articles in
//! `http::blog::articles` (counted in the tenant file), members in
//! `orgs` (invitations and their acceptance).

pub mod client;
pub mod domains;
pub mod lifecycle;
pub mod plans;
pub mod proration;
pub mod provider;
pub mod receiver;
pub mod signature;
pub mod transport;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use agora_db::billing::{BillingStore, Invoice, Subscription};
use agora_db::{Access, Storage};
use rand::Rng;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::blog::{Error, Refusal, Store};
use crate::orgs::{Action, Seat};
use lifecycle::Status;
use plans::{Limit, Plan};
use provider::Provider;

/// Billing's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BillingConfig {
    /// Serve the mock provider under `/billing-mock` and bill through it.
    pub mock: bool,
    /// The webhook signing secret; with the mock and none given, one is
    /// made up at start-up (the mock and the receiver share it).
    pub webhook_secret: Option<String>,
    /// How the mock delivers webhooks.
    pub delivery: provider::Delivery,
    /// Trial days of a checkout that does not say.
    pub trial_days: i64,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig {
            mock: false,
            webhook_secret: None,
            delivery: provider::Delivery::default(),
            trial_days: 14,
        }
    }
}

/// The billing service. Cheap to clone.
#[derive(Clone)]
pub struct Billing {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Storage,
    secret: Option<Vec<u8>>,
    provider: Option<Provider>,
    client: OnceLock<client::Client>,
    trial_days: i64,
    domains: domains::Domains,
}

fn refusal(status: u16, field: &'static str, message: impl Into<String>) -> Error {
    Error::Refused(Box::new(Refusal {
        status,
        field,
        message: message.into(),
        detail: None,
    }))
}

fn not_configured() -> Error {
    refusal(
        503,
        "billing",
        "billing is not configured on this daemon (start it with --billing-mock)",
    )
}

/// An organization's usage against its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The plan whose limits apply.
    pub plan: Plan,
    /// Members.
    pub members: i64,
    /// Invitations not yet answered (they count against the member limit).
    pub pending: i64,
    /// Articles in its blog.
    pub articles: i64,
    /// Its custom domain.
    pub custom_domain: Option<String>,
}

impl Usage {
    /// The wire form.
    pub fn to_json(&self) -> Value {
        json!({
            "plan": self.plan.as_str(),
            "members": {
                "used": self.members,
                "pending": self.pending,
                "limit": self.plan.allows(Limit::Members),
            },
            "articles": {
                "used": self.articles,
                "limit": self.plan.allows(Limit::Articles),
            },
            "customDomain": {
                "domain": self.custom_domain,
                "allowed": self.plan.allows(Limit::CustomDomain).is_none(),
            },
        })
    }
}

/// How often a node of a fleet reloads the custom domains other nodes
/// may have changed.
pub const DOMAINS_RELOAD: std::time::Duration = std::time::Duration::from_secs(5);

/// The plan an organization row names (`free` if unknown).
pub fn plan_of(seat: &Seat) -> Plan {
    Plan::parse(&seat.org.plan).unwrap_or(Plan::Free)
}

impl Billing {
    /// The service over the shared database.
    pub fn new(config: &BillingConfig, storage: Storage) -> Billing {
        let secret = match (&config.webhook_secret, config.mock) {
            (Some(s), _) => Some(s.as_bytes().to_vec()),
            (None, true) => {
                let mut rng = rand::rng();
                Some((0..32).map(|_| rng.random::<u8>()).collect())
            }
            (None, false) => None,
        };
        let provider = match (&secret, config.mock) {
            (Some(s), true) => Some(Provider::new(s.clone(), config.delivery)),
            _ => None,
        };
        Billing {
            inner: Arc::new(Inner {
                storage,
                secret,
                provider,
                client: OnceLock::new(),
                trial_days: config.trial_days,
                domains: domains::Domains::default(),
            }),
        }
    }

    /// The mock provider, when `--billing-mock` is on.
    pub fn provider(&self) -> Option<&Provider> {
        self.inner.provider.as_ref()
    }

    /// Tells billing where the daemon's HTTP listener is: the mock is
    /// served there, and delivers its webhooks there.
    pub fn set_http_addr(&self, mut addr: SocketAddr) {
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        if let Some(provider) = &self.inner.provider {
            provider.set_target(format!("http://{addr}/api/billing/webhook"));
            let _ = self.inner.client.set(client::Client::new(
                transport::Http::default(),
                format!("http://{addr}/billing-mock"),
            ));
        }
    }

    /// Starts the mock's webhook deliveries and, on a fleet's
    /// PostgreSQL, the reload of the custom domains every
    /// [`DOMAINS_RELOAD`]: another node may have set one (this node
    /// reloads at once after its own changes).
    pub fn spawn(&self, token: CancellationToken, tracker: &TaskTracker) {
        if let Some(provider) = &self.inner.provider {
            provider.spawn(token.clone(), tracker);
        }
        if self.inner.storage.is_shared() {
            let billing = self.clone();
            tracker.spawn(async move {
                let mut tick = tokio::time::interval(DOMAINS_RELOAD);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = token.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    if let Err(err) = billing.reload_domains().await {
                        tracing::warn!(%err, "cannot reload the custom domains");
                    }
                }
            });
        }
    }

    fn client(&self) -> Result<&client::Client, Error> {
        self.inner.client.get().ok_or_else(not_configured)
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn BillingStore) -> agora_db::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        self.run(Access::Read, f).await
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn BillingStore) -> agora_db::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        self.run(Access::Write, f).await
    }

    /// Runs `f` in one transaction of the shared database (committed when
    /// it returns `Ok`), on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        access: Access,
        f: impl FnOnce(&mut dyn BillingStore) -> agora_db::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let storage = self.inner.storage.clone();
        let run = move || {
            storage
                .billing(access, |repo| {
                    f(repo).map(Ok::<_, std::convert::Infallible>)
                })
                .map(|done| done.unwrap_or_else(|never| match never {}))
        };
        tokio::task::spawn_blocking(run)
            .await
            .map_err(Error::internal)?
            .map_err(Error::from)
    }

    /// The seat's organization's usage; `store` is its blog (the tenant
    /// file), where articles are counted.
    ///
    /// # Errors
    /// [`Error::Denied`]; storage failures.
    pub async fn usage(&self, seat: &Seat, store: &Store) -> Result<Usage, Error> {
        seat.allow(Action::ViewUsage, false)?;
        let org = seat.org.id;
        let now = crate::now_ms() as i64;
        let ((members, pending), custom_domain) = self
            .read(move |repo| Ok((repo.seats(org, now)?, repo.custom_domain(org)?)))
            .await?;
        let articles = store.read(|blog| blog.article_count()).await?;
        Ok(Usage {
            plan: plan_of(seat),
            members,
            pending,
            articles,
            custom_domain,
        })
    }

    /// The check that refuses one more article in the seat's
    /// organization when its plan is full (402), or `None` when the plan
    /// has no article limit. It runs inside the creating transaction
    /// ([`crate::blog::CreateCheck`]), so the count it reads is the one
    /// the insert follows: concurrent creations at the limit cannot both
    /// pass.
    pub fn article_check(seat: &Seat) -> Option<crate::blog::CreateCheck> {
        let plan = plan_of(seat);
        plan.allows(Limit::Articles)?;
        Some(Box::new(move |blog| {
            let articles = blog.article_count()?;
            plans::check_add(plan, Limit::Articles, articles, 1)
                .map_err(|over| over.into_error(402))
        }))
    }

    /// What agora knows of the seat's organization's billing.
    ///
    /// # Errors
    /// [`Error::Denied`].
    pub async fn overview(&self, seat: &Seat) -> Result<Value, Error> {
        seat.allow(Action::ViewBilling, false)?;
        let org = seat.org.id;
        let (sub, customer, domain) = self
            .read(move |repo| {
                Ok((
                    repo.subscription(org)?,
                    repo.customer(org)?,
                    repo.custom_domain(org)?,
                ))
            })
            .await?;
        let (customer, clock) = customer.map_or((None, None), |(c, k)| (Some(c), k));
        Ok(json!({
            "plan": seat.org.plan,
            "customDomain": domain,
            "customer": customer,
            "testClock": clock,
            "subscription": sub.as_ref().map(subscription_json),
        }))
    }

    /// Starts a checkout for `plan`: answers the session's id and URL on
    /// the provider, where the card form is.
    ///
    /// # Errors
    /// [`Error::Denied`]; 422 for a plan that is not sold; 409 when a
    /// subscription is live already; the provider's refusals.
    pub async fn checkout(
        &self,
        seat: &Seat,
        plan: &str,
        trial_days: Option<i64>,
    ) -> Result<Value, Error> {
        seat.allow(Action::ManageBilling, false)?;
        let plan = match Plan::parse(plan) {
            Some(Plan::Free) | None => {
                return Err(Error::invalid("plan", "must be team or business"));
            }
            Some(p) => p,
        };
        let trial_days = trial_days.unwrap_or(self.inner.trial_days);
        if !(0..=365).contains(&trial_days) {
            return Err(Error::invalid("trialDays", "must be 0 to 365"));
        }
        let client = self.client()?;
        let org = seat.org.id;
        let (sub, customer) = self
            .read(move |repo| Ok((repo.subscription(org)?, repo.customer(org)?)))
            .await?;
        if let Some(sub) = sub.filter(|s| Status::parse(&s.status).is_some_and(Status::is_live)) {
            return Err(refusal(
                409,
                "subscription",
                format!(
                    "this organization has a {} subscription already; change its plan with PUT /api/orgs/{}/plan",
                    sub.status, seat.org.slug
                ),
            ));
        }
        let customer = match customer {
            Some((id, _)) => id,
            None => {
                let made = client
                    .call(
                        "POST",
                        "/v1/customers",
                        Some(json!({ "org": seat.org.slug })),
                    )
                    .await?;
                let id = made["id"].as_str().unwrap_or_default().to_owned();
                let clock = made["test_clock"].as_str().map(str::to_owned);
                let (stored, clock2) = (id.clone(), clock.clone());
                self.write(move |repo| repo.set_customer(org, &stored, clock2.as_deref()))
                    .await?;
                // Another checkout may have raced this one: keep the first.
                self.read(move |repo| repo.customer(org))
                    .await?
                    .map_or(id, |(c, _)| c)
            }
        };
        let session = client
            .call(
                "POST",
                "/v1/checkout/sessions",
                Some(json!({ "customer": customer, "plan": plan.as_str(), "trial_days": trial_days })),
            )
            .await?;
        Ok(json!({
            "id": session["id"],
            "url": session["url"],
            "plan": plan.as_str(),
            "trialDays": trial_days,
        }))
    }

    /// Moves the seat's organization to `plan`: a paid plan changes the
    /// live subscription (prorated by the provider); `free` cancels it at
    /// the end of the period. A plan that cannot hold the current usage
    /// is refused (409) whichever way it goes.
    ///
    /// # Errors
    /// [`Error::Denied`]; 422 unknown plan; 409 does not fit; 402 no
    /// subscription to change (checkout first); the provider's refusals.
    pub async fn change_plan(
        &self,
        seat: &Seat,
        plan: &str,
        store: &Store,
    ) -> Result<Value, Error> {
        seat.allow(Action::ManageBilling, false)?;
        let Some(target) = Plan::parse(plan) else {
            return Err(Error::invalid("plan", "must be free, team or business"));
        };
        let usage = self.usage(seat, store).await?;
        plans::check_fits(
            target,
            usage.members + usage.pending,
            usage.articles,
            usage.custom_domain.is_some(),
        )
        .map_err(|over| over.into_error(409))?;
        let org = seat.org.id;
        let sub = self.read(move |repo| repo.subscription(org)).await?;
        let live = sub.filter(|s| Status::parse(&s.status).is_some_and(Status::is_live));
        match (target, live) {
            (Plan::Free, None) => {}
            (Plan::Free, Some(sub)) => {
                self.update(org, &sub.id, json!({ "cancel_at_period_end": true }))
                    .await?;
            }
            (_, None) => {
                return Err(refusal(
                    402,
                    "subscription",
                    format!(
                        "no subscription to change: start one with POST /api/orgs/{}/checkout",
                        seat.org.slug
                    ),
                ));
            }
            (paid, Some(sub)) => {
                self.update(org, &sub.id, json!({ "plan": paid.as_str() }))
                    .await?;
            }
        }
        let seat = self.refreshed(seat).await?;
        self.overview(&seat).await
    }

    /// Cancels (at the end of the period) or resumes the subscription.
    ///
    /// # Errors
    /// [`Error::Denied`]; 404 without a live subscription.
    pub async fn set_cancel(&self, seat: &Seat, cancel: bool) -> Result<Value, Error> {
        seat.allow(Action::ManageBilling, false)?;
        let org = seat.org.id;
        let sub = self.read(move |repo| repo.subscription(org)).await?;
        let Some(sub) = sub.filter(|s| Status::parse(&s.status).is_some_and(Status::is_live))
        else {
            return Err(Error::NotFound("subscription"));
        };
        self.update(org, &sub.id, json!({ "cancel_at_period_end": cancel }))
            .await?;
        self.overview(seat).await
    }

    /// The invoices, newest first.
    ///
    /// # Errors
    /// [`Error::Denied`].
    pub async fn invoices(&self, seat: &Seat) -> Result<Vec<Value>, Error> {
        seat.allow(Action::ViewBilling, false)?;
        let org = seat.org.id;
        let list = self.read(move |repo| repo.invoices(org)).await?;
        Ok(list.iter().map(invoice_json).collect())
    }

    /// Asks the provider to change subscription `id` and stores its
    /// answer (the webhooks that follow then change nothing).
    async fn update(&self, org: i64, id: &str, change: Value) -> Result<(), Error> {
        let answer = self
            .client()?
            .call("POST", &format!("/v1/subscriptions/{id}"), Some(change))
            .await?;
        let sub = receiver::subscription_of(org, &answer).map_err(Error::internal)?;
        self.write(move |repo| receiver::apply_subscription(repo, &sub))
            .await?;
        Ok(())
    }

    async fn refreshed(&self, seat: &Seat) -> Result<Seat, Error> {
        let mut seat = seat.clone();
        let org = seat.org.id;
        let plan = self.read(move |repo| repo.plan(org)).await?;
        if let Some(plan) = plan {
            seat.org.plan = plan;
        }
        Ok(seat)
    }

    /// Handles one webhook delivery: `signature` is the `Agora-Signature`
    /// header. Answers the status and a JSON body.
    pub async fn receive(&self, signature: Option<String>, body: bytes::Bytes) -> (u16, Value) {
        let Some(secret) = self.inner.secret.clone() else {
            return (
                503,
                json!({ "errors": { "billing": ["webhooks are not configured (--billing-webhook-secret)"] } }),
            );
        };
        let now = crate::now_ms() as i64 / 1000;
        if let Err(why) = signature::verify(&secret, signature.as_deref(), &body, now) {
            tracing::warn!(%why, "billing webhook refused");
            return (400, json!({ "errors": { "signature": [why.to_string()] } }));
        }
        let storage = self.inner.storage.clone();
        let handled = tokio::task::spawn_blocking(move || {
            storage.billing(Access::Write, |repo| receiver::handle(repo, &body))
        })
        .await;
        match handled {
            Ok(Ok(Ok(receiver::Outcome::Duplicate))) => {
                (200, json!({ "received": true, "duplicate": true }))
            }
            Ok(Ok(Ok(receiver::Outcome::Handled { changed }))) => {
                (200, json!({ "received": true, "changed": changed }))
            }
            Ok(Ok(Err(rejection))) => {
                tracing::warn!(%rejection, "billing webhook refused");
                let status = match rejection {
                    receiver::Rejection::UnknownCustomer(_) => 404,
                    receiver::Rejection::Malformed(_) => 400,
                };
                (
                    status,
                    json!({ "errors": { "event": [rejection.to_string()] } }),
                )
            }
            Ok(Err(err)) if err.is_busy() => (
                503,
                json!({ "errors": { "server": ["busy; the provider retries"] } }),
            ),
            Ok(Err(err)) => {
                tracing::error!(%err, "billing webhook: storage failed");
                (
                    503,
                    json!({ "errors": { "server": ["storage failed; the provider retries"] } }),
                )
            }
            Err(err) => {
                tracing::error!(%err, "billing webhook: task failed");
                (
                    503,
                    json!({ "errors": { "server": ["internal error; the provider retries"] } }),
                )
            }
        }
    }
}

fn subscription_json(s: &Subscription) -> Value {
    json!({
        "id": s.id,
        "plan": s.plan,
        "status": s.status,
        "currentPeriodStart": s.period_start,
        "currentPeriodEnd": s.period_end,
        "trialEnd": s.trial_end,
        "cancelAtPeriodEnd": s.cancel_at_period_end,
    })
}

fn invoice_json(i: &Invoice) -> Value {
    let lines: Value = serde_json::from_str(&i.lines).unwrap_or(Value::Array(Vec::new()));
    json!({
        "id": i.id,
        "status": i.status,
        "currency": "usd",
        "total": i.total,
        "amountDue": i.amount_due,
        "amountPaid": i.amount_paid,
        "attemptCount": i.attempt_count,
        "created": i.created,
        "lines": lines,
    })
}
