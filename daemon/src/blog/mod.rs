//! The blog: a RealWorld ("Conduit") API with nested comments, cursor
//! pagination, idempotent POSTs and rate limits, over the accounts the
//! rest of agora uses. The HTTP layer is [`crate::http`]'s `blog` module;
//! this one is the domain, with no HTTP types:
//!
//! - [`store`]: [`Store`], the per-request storage handle (the daemon's
//!   database, or an organization's file: [`crate::orgs`]) with its cache
//!   of anonymous reads;
//! - [`users`], [`articles`], [`comments`]: the operations, one function
//!   each, validating their input and answering views or an [`Error`];
//! - [`rules`]: field limits, slugs from titles, timestamps, cursors;
//! - [`limits`]: the token-bucket rate limiter (per client IP and user);
//! - [`error`]: [`Error`], what an operation can answer instead.
//!
//! Accounts are the `users` table of the protocol's `register`/`login`,
//! signed with the same JWT key: a token from one side works on the other.
//! Storage is `agora_db::blog`.

pub mod articles;
pub mod comments;
pub mod error;
pub mod limits;
pub mod rules;
pub mod store;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use articles::CreateCheck;
pub use error::{Error, Refusal};
pub use store::Store;

use crate::accounts::Accounts;
use crate::service::Hooks;

/// How long a response kept for an Idempotency-Key is replayed.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// The blog's settings (from `--blog-*` flags).
#[derive(Debug, Clone)]
pub struct BlogConfig {
    /// Requests allowed per client IP and per user.
    pub limits: limits::RateLimits,
    /// The largest request body accepted, in bytes.
    pub max_body: usize,
    /// Anonymous GET responses kept in memory (0 turns the cache off).
    pub cache_entries: usize,
    /// The base domain: `Host: acme.<domain>` is organization `acme`
    /// (lower case, no port, no trailing dot).
    pub domain: String,
    /// Organizations' files kept open at once.
    pub tenant_handles: usize,
    /// How long a deleted organization's file is kept (and the
    /// organization restorable) before it is removed.
    pub org_delete_grace: std::time::Duration,
}

impl BlogConfig {
    /// How long a deleted organization's file is kept by default
    /// (`--org-delete-grace`): a week.
    pub const ORG_DELETE_GRACE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

    /// Checks and normalizes a `--blog-domain`.
    ///
    /// # Errors
    /// A one-line reason.
    pub fn domain(domain: &str) -> anyhow::Result<String> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        anyhow::ensure!(
            !domain.is_empty()
                && domain.len() <= 253
                && domain.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }),
            "--blog-domain must be a domain name such as blog.example.com"
        );
        Ok(domain)
    }
}

impl Default for BlogConfig {
    fn default() -> Self {
        BlogConfig {
            limits: limits::RateLimits::default(),
            max_body: 1 << 20,
            cache_entries: 4096,
            domain: "blog.localhost".into(),
            tenant_handles: 256,
            org_delete_grace: BlogConfig::ORG_DELETE_GRACE,
        }
    }
}

/// The blog service. Cheap to clone.
#[derive(Clone)]
pub struct Blog {
    inner: Arc<Inner>,
}

struct Inner {
    config: BlogConfig,
    accounts: Accounts,
    hooks: Hooks,
    store: Store,
    limiter: limits::Limiter,
}

impl Blog {
    /// The service over the main site's blog `db` (the daemon's SQLite
    /// file, or the fleet's PostgreSQL), signing with `accounts`' key and
    /// telling `hooks` about new accounts. On PostgreSQL a cached anonymous
    /// read checks the blog's generation in the database first (any
    /// node's write makes it stale; `store`'s module docs).
    pub fn new(config: BlogConfig, db: agora_db::BlogDb, accounts: Accounts, hooks: Hooks) -> Blog {
        let store = Store::new(db, config.cache_entries);
        let limiter = limits::Limiter::new(config.limits);
        Blog {
            inner: Arc::new(Inner {
                config,
                accounts,
                hooks,
                store,
                limiter,
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &BlogConfig {
        &self.inner.config
    }

    /// Tokens and passwords.
    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    /// The rate limiter.
    pub fn limiter(&self) -> &limits::Limiter {
        &self.inner.limiter
    }

    /// The storage of the blog without an organization: the daemon's
    /// database. A request under an organization gets that one's file
    /// instead (`crate::http::blog::site::Scope`); nothing below changes.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Starts the housekeeping task: every minute it forgets idle rate
    /// buckets and responses kept longer than [`IDEMPOTENCY_TTL`].
    pub fn spawn(&self, token: CancellationToken, tracker: &TaskTracker) {
        let blog = self.clone();
        tracker.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tick.tick() => blog.housekeeping().await,
                }
            }
        });
    }

    async fn housekeeping(&self) {
        self.inner.limiter.prune(crate::now_ms());
        let before = crate::now_ms() as i64 - IDEMPOTENCY_TTL.as_millis() as i64;
        match self
            .inner
            .store
            .write(move |blog| Ok(blog.forget_responses(before)?))
            .await
        {
            Ok(n) if n > 0 => tracing::debug!(forgotten = n, "idempotent responses expired"),
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "cannot expire idempotent responses"),
        }
    }
}
