//! `agora migrate`: the daemon's migrations, offline (docs/BLOG.md,
//! "Migrations"): the shared database and every organization's file, with
//! a progress bar on a terminal, every failure reported and the others
//! still migrated. Exit status 0 when every file is migrated, 2 when any
//! failed (after all were tried) or a daemon runs on the directory.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use agora_daemon::migrate::{self, Outcome};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::output;

/// Migrates the data directory `data` (the daemon's default when none).
pub fn run(data: Option<PathBuf>, json: bool) -> anyhow::Result<u8> {
    let dir = match data {
        Some(d) => d,
        None => crate::credentials::data_dir()?,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr()).with_style(style)
    });
    let outcomes = migrate::run(
        &dir,
        |n| {
            if let Some(bar) = &bar {
                bar.set_length(n as u64);
            }
        },
        |o| {
            if let Some(bar) = &bar {
                bar.inc(1);
                bar.set_message(name(o));
                if let Some(why) = &o.error {
                    bar.println(format!("failed: {}: {why}", name(o)));
                }
            }
        },
    )?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
    if json {
        let files: Vec<_> = outcomes
            .iter()
            .map(|o| {
                json!({
                    "file": o.file.display().to_string(),
                    "org": o.org,
                    "ok": o.error.is_none(),
                    "error": o.error,
                })
            })
            .collect();
        output::json(&json!({
            "data_dir": dir.display().to_string(),
            "files": files,
            "migrated": outcomes.len() - failed,
            "failed": failed,
        }))?;
    } else {
        // Failures on stderr, one line each (a terminal saw them above),
        // then the summary on stdout.
        if bar.is_none() {
            for o in outcomes.iter().filter(|o| o.error.is_some()) {
                eprintln!(
                    "agora: failed: {}: {}",
                    name(o),
                    o.error.as_deref().unwrap_or_default()
                );
            }
        }
        println!("{}", summary(&dir, outcomes.len(), failed));
    }
    Ok(if failed == 0 { 0 } else { 2 })
}

/// `migrated 4 files in DIR` or `migrated 3 of 4 files in DIR; 1 failed`.
fn summary(dir: &Path, total: usize, failed: usize) -> String {
    let files = output::count(total, "file", "files");
    if failed == 0 {
        format!("migrated {files} in {}", dir.display())
    } else {
        format!(
            "migrated {} of {files} in {}; {failed} failed",
            total - failed,
            dir.display()
        )
    }
}

fn name(o: &Outcome) -> String {
    match &o.org {
        Some(org) => format!("{org} ({})", o.file.display()),
        None => o.file.display().to_string(),
    }
}
