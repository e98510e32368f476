//! `agora org plan|usage|invoices` (billing's leaves of `agora org`) and
//! the daemon's `--billing-*` flags.

use clap::{Args, Subcommand};

/// `agora org plan|usage|invoices` (flattened into `agora org`).
#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Show the organization's plan and subscription, or change the plan
    /// (free, team, business). Moving from free to a paid plan starts a
    /// checkout and prints its URL; moving to free cancels the
    /// subscription at the end of the period. A plan too small for the
    /// current members or articles is refused.
    Plan {
        /// The organization's slug.
        org: String,
        /// The plan to move to.
        plan: Option<String>,
    },
    /// Members and articles against the plan's limits.
    Usage {
        /// The organization's slug.
        org: String,
    },
    /// The organization's invoices, newest first, with their lines.
    Invoices {
        /// The organization's slug.
        org: String,
    },
}

/// The daemon's billing flags.
#[derive(Debug, Args, Clone)]
pub struct BillingDaemonArgs {
    /// Serve the mock payment provider under /billing-mock on the HTTP
    /// listener and bill organizations through it (docs/BLOG.md,
    /// "Billing"). Off by default.
    #[arg(long, env = "AGORA_BILLING_MOCK")]
    pub billing_mock: bool,

    /// The webhook signing secret shared with the payment provider.
    /// Default with --billing-mock: a random one per start. Prefer the
    /// environment variable or --billing-webhook-secret-file to the flag,
    /// which other users can see in `ps`.
    #[arg(
        long,
        env = "AGORA_BILLING_WEBHOOK_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub billing_webhook_secret: Option<String>,

    /// Read the webhook signing secret from this file (trailing
    /// whitespace ignored).
    #[arg(long, value_name = "FILE", conflicts_with = "billing_webhook_secret")]
    pub billing_webhook_secret_file: Option<std::path::PathBuf>,

    /// The mock's chance (0 to 1) of delivering an event twice.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub billing_mock_duplicates: f64,

    /// The mock's chance (0 to 1) of delivering one change's events
    /// newest first.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub billing_mock_reorder: f64,

    /// Trial days of a checkout that does not say.
    #[arg(long, default_value_t = 14, value_name = "DAYS")]
    pub billing_trial_days: i64,
}

impl BillingDaemonArgs {
    /// The daemon's billing settings.
    pub fn config(&self) -> anyhow::Result<agora_daemon::billing::BillingConfig> {
        let rate = |name: &str, p: f64| -> anyhow::Result<f64> {
            anyhow::ensure!(
                (0.0..=1.0).contains(&p),
                "--billing-mock-{name} must be between 0 and 1"
            );
            Ok(p)
        };
        anyhow::ensure!(
            (0..=365).contains(&self.billing_trial_days),
            "--billing-trial-days must be 0 to 365"
        );
        let secret = match &self.billing_webhook_secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot read --billing-webhook-secret-file {}: {e}",
                        path.display()
                    )
                })?;
                Some(text.trim_end().to_owned())
            }
            None => self.billing_webhook_secret.clone(),
        };
        if let Some(s) = &secret {
            anyhow::ensure!(!s.is_empty(), "the billing webhook secret is empty");
        }
        Ok(agora_daemon::billing::BillingConfig {
            mock: self.billing_mock,
            webhook_secret: secret,
            delivery: agora_daemon::billing::provider::Delivery {
                duplicate_rate: rate("duplicates", self.billing_mock_duplicates)?,
                reorder_rate: rate("reorder", self.billing_mock_reorder)?,
                ..Default::default()
            },
            trial_days: self.billing_trial_days,
        })
    }
}
