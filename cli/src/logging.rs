//! Logging through tracing: readable on a terminal, JSON for machines, to
//! a file when the terminal belongs to the TUI.

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

use crate::args::{ColorChoice, LogFormat};

/// The filter: `--log-level`, else RUST_LOG, else `default`.
fn filter(level: Option<&str>, default: &str) -> EnvFilter {
    match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    }
}

/// Logs to stderr, coloured per `color` (NO_COLOR and a pipe turn colour
/// off under `auto`). The filter sits behind a reload handle, installed as
/// the daemon's [`agora_daemon::loglevel`] control, so operators can change
/// it while the daemon runs (`agora admin log-level`).
pub fn to_stderr(level: Option<&str>, format: LogFormat, color: ColorChoice, default: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let initial = filter(level, default);
    let shown = initial.to_string();
    let (filter_layer, handle) = tracing_subscriber::reload::Layer::new(initial);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter_layer);
    let installed = match format {
        LogFormat::Json => registry.with(fmt.json()).try_init(),
        LogFormat::Human => registry
            .with(fmt.with_ansi(color.enabled(std::io::stderr().is_terminal())))
            .try_init(),
    };
    if installed.is_ok() {
        agora_daemon::loglevel::install(
            shown,
            Box::new(move |text| {
                let new = EnvFilter::try_new(text).map_err(|e| e.to_string())?;
                handle.reload(new).map_err(|e| e.to_string())
            }),
        );
    }
}

/// Logs to a file (appending): the TUI owns the terminal.
pub fn to_file(path: &Path, level: Option<&str>, format: LogFormat) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open log file {}", path.display()))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level, "info"))
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file));
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
    Ok(())
}
