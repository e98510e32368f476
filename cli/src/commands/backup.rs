//! `agora backup DEST` and `agora restore SRC` (daemon/src/backup.rs has
//! the rules; docs/DEPLOY.md, "Backups").

use std::io::IsTerminal as _;

use agora_daemon::backup::{self, Entry, Manifest, POSTGRES_ADVICE};
use serde_json::json;

use crate::args::deploy::{BackupArgs, RestoreArgs};
use crate::output;

/// Runs `agora backup`.
pub fn backup(args: BackupArgs, json: bool) -> anyhow::Result<u8> {
    if args
        .target
        .database
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    {
        anyhow::bail!("{POSTGRES_ADVICE}");
    }
    let data = match args.target.data {
        Some(d) => d,
        None => crate::credentials::data_dir()?,
    };
    let manifest = backup::backup(&data, &args.dest, progress("backed up"))?;
    report(
        &manifest,
        &args.dest.display().to_string(),
        "backed up",
        json,
    )
}

/// Runs `agora restore`.
pub fn restore(args: RestoreArgs, json: bool) -> anyhow::Result<u8> {
    let data = match args.data {
        Some(d) => d,
        None => crate::credentials::data_dir()?,
    };
    let manifest = backup::restore(&args.src, &data, args.replace, progress("restored"))?;
    report(&manifest, &data.display().to_string(), "restored", json)
}

/// One line per file on a terminal's stderr.
fn progress(verb: &'static str) -> impl FnMut(&Entry) {
    let terminal = std::io::stderr().is_terminal();
    move |e: &Entry| {
        if terminal {
            eprintln!("{verb} {} ({})", e.path, output::human_bytes(e.bytes));
        }
    }
}

fn report(manifest: &Manifest, place: &str, verb: &str, json: bool) -> anyhow::Result<u8> {
    let bytes: u64 = manifest.files.iter().map(|e| e.bytes).sum();
    if json {
        output::json(&json!({
            "path": place,
            "agora": manifest.agora,
            "created_ms": manifest.created_ms,
            "bytes": bytes,
            "files": manifest.files.iter().map(|e| json!({
                "path": e.path,
                "bytes": e.bytes,
                "sha256": e.sha256,
                "schema": e.schema,
            })).collect::<Vec<_>>(),
        }))?;
    } else {
        println!(
            "{verb} {} ({}) in {place}",
            output::count(manifest.files.len(), "file", "files"),
            output::human_bytes(bytes)
        );
    }
    Ok(0)
}
