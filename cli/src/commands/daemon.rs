//! `agora daemon`: run the server in the foreground until a signal.

use std::path::PathBuf;

use agora_daemon::{Config, Daemon};
use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};

use crate::args::{DaemonArgs, ListenArgs};
use crate::credentials;

/// The configuration for a daemon listening and storing as `listeners`
/// says, everything else at its defaults.
pub fn base_config(listeners: &ListenArgs) -> anyhow::Result<Config> {
    let data_dir: PathBuf = match &listeners.data {
        Some(d) => d.clone(),
        None => credentials::data_dir()?,
    };
    let mut config = Config::new(data_dir);
    config.listen = listeners.listen.clone();
    config.http = listeners.http.clone();
    config.resp = listeners.resp.clone();
    Ok(config)
}

/// Builds the daemon configuration from the flags.
pub fn config(args: &DaemonArgs) -> anyhow::Result<Config> {
    let mut config = base_config(&args.listeners)?;
    config.resp_require_auth = args.resp_require_auth;
    config.resp_allow_shutdown = args.resp_allow_shutdown;
    if let Some(n) = args.resp_threads {
        config.resp_threads = n.into();
    }
    config.resp_busy_poll = std::time::Duration::from_micros(args.resp_busy_poll);
    config.cache.max_memory = args.cache_max_memory;
    config.cache.policy = args.cache_policy;
    config.cache.persist = args.cache_persist;
    config.ready_file = args.ready_file.clone();
    config.max_frame = args.max_frame;
    config.max_connections = args.max_connections.max(1);
    config.push_limits = agora_daemon::session::PushLimits {
        hard: args.push_limit_hard,
        soft: args.push_limit_soft.min(args.push_limit_hard),
        soft_ms: args.push_limit_soft_secs.saturating_mul(1000),
    };
    config.trusted_proxies =
        agora_daemon::http::client_ip::TrustedProxies::parse(&args.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))?;
    config.jwt_secret = args.jwt_secret.clone();
    config.jwt_key_file = args.jwt_key_file.clone();
    if let Some(url) = &args.database {
        config.database = Some(
            agora_daemon::DatabaseUrl::parse(url)
                .map_err(|e| anyhow::anyhow!("--database: {e}"))?,
        );
    }
    anyhow::ensure!(
        args.keepalive_secs > 0 && args.keepalive_interval_secs > 0 && args.keepalive_probes > 0,
        "--keepalive-secs, --keepalive-interval-secs and --keepalive-probes must be at least 1"
    );
    config.keepalive = agora_daemon::Keepalive {
        idle: std::time::Duration::from_secs(args.keepalive_secs),
        interval: std::time::Duration::from_secs(args.keepalive_interval_secs),
        probes: args.keepalive_probes,
    };
    anyhow::ensure!(
        args.chat_rate > 0.0 && args.chat_burst >= 1.0,
        "--chat-rate must be positive and --chat-burst at least 1"
    );
    config.chat = agora_daemon::chat::Limits {
        rate: agora_daemon::chat::limits::Rate {
            per_sec: args.chat_rate,
            burst: args.chat_burst,
        },
        rooms_per_user: args.chat_max_rooms,
        members_per_room: args.chat_max_members,
        presence_threshold: args.chat_presence_threshold,
        presence_interval: args.chat_presence_interval,
        node_timeout: args.fleet_node_timeout,
    };
    anyhow::ensure!(
        args.fleet_node_timeout >= std::time::Duration::from_millis(250),
        "--fleet-node-timeout must be at least 250ms"
    );
    config.blog = args.blog.config()?;
    config.cluster = args.cluster.config()?;
    config.ssh = args.ssh.config();
    config.billing = args.billing.config()?;
    config.jobs = agora_daemon::jobs::JobsConfig {
        retention: args.jobs_retention,
    };
    let m = &args.metrics;
    anyhow::ensure!(
        m.metrics_interval >= std::time::Duration::from_millis(100),
        "--metrics-interval must be at least 100ms"
    );
    anyhow::ensure!(
        m.metrics_keep_raw <= m.metrics_keep_minutes
            && m.metrics_keep_minutes <= m.metrics_keep_hours,
        "--metrics-keep-raw, --metrics-keep-minutes and --metrics-keep-hours must grow in that order"
    );
    config.metrics.interval = m.metrics_interval;
    config.metrics.retention = agora_daemon::metrics::history::Retention {
        raw: m.metrics_keep_raw,
        minute: m.metrics_keep_minutes,
        hour: m.metrics_keep_hours,
    };
    config.metrics.alert_room = match m.metrics_alert_room.as_str() {
        "none" | "" => None,
        room => Some(
            agora_wire::names::validate_room(room)
                .map_err(|e| anyhow::anyhow!("--metrics-alert-room: {e}"))?,
        ),
    };
    config.games.grace_ms = args.game_grace.as_millis() as u64;
    config.metrics.alert_job_queue = match &m.alerts_job_queue {
        None => None,
        Some(queue) => Some(
            agora_wire::jobs::validate_queue(queue)
                .map_err(|e| anyhow::anyhow!("--alerts-job-queue: {e}"))?,
        ),
    };
    config.metrics.operators = m
        .operators
        .iter()
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    Ok(config)
}

/// Runs until SIGINT or SIGTERM, then drains for --drain-period (readyz
/// 503, still serving) and shuts down gracefully (exit 0). A second signal
/// during the drain or the shutdown exits at once with 130.
pub async fn run(args: DaemonArgs) -> anyhow::Result<u8> {
    let config = config(&args)?;
    // Held until the process ends: `agora migrate` refuses to run under it.
    let _lock = agora_daemon::datalock::daemon(&config.data_dir)?;
    let running = Daemon::start(config).await?;
    let mut term = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        // SHUTDOWN from a RESP client (--resp-allow-shutdown) logs itself.
        () = running.token.cancelled() => {}
    }
    if !running.token.is_cancelled() && !args.drain_period.is_zero() {
        running.draining.cancel();
        tracing::info!(
            period = ?args.drain_period,
            "draining: /readyz answers 503, still serving until the period ends"
        );
        tokio::select! {
            () = tokio::time::sleep(args.drain_period) => {}
            () = running.token.cancelled() => {}
            _ = term.recv() => return Ok(130),
            _ = int.recv() => return Ok(130),
        }
    }
    let token = running.token.clone();
    token.cancel();
    tokio::select! {
        result = running.wait() => result.map(|()| 0),
        _ = term.recv() => Ok(130),
        _ = int.recv() => Ok(130),
    }
}
