//! `agora migrate status|up`: the schema of the daemon's databases, seen
//! and advanced offline (docs/DEPLOY.md, "Migrations"): the shared
//! database (a data directory's agora.db, or a fleet's PostgreSQL) and
//! every organization's file. `up` shows a progress bar on a terminal,
//! reports every failure and still migrates the others.
//!
//! Exit status: `status` 0 when every database could be read (pending
//! migrations or not), 2 when one cannot be or is newer; `up` 0
//! when every database was migrated, 2 when any failed (after all were
//! tried) or a daemon runs on the directory.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use agora_daemon::migrate::{self, FileStatus, Outcome, Plan, Step as Migration, redact};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::args::deploy::{MigrateArgs, MigrateCommand, MigrateTarget, MigrateUpArgs};
use crate::output;

/// Runs `agora migrate …`.
pub fn run(args: MigrateArgs, json: bool) -> anyhow::Result<u8> {
    match args.command {
        Some(MigrateCommand::Status(target)) => status(target, json),
        Some(MigrateCommand::Up(up)) => self::up(up, json),
        None => self::up(args.up, json),
    }
}

/// Where the databases are: a PostgreSQL URL, or a data directory.
enum Place {
    Postgres(String),
    Dir(PathBuf),
}

fn place(target: MigrateTarget) -> anyhow::Result<Place> {
    match target.database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Place::Postgres(url))
        }
        Some(url) if !url.is_empty() => anyhow::bail!(
            "--database {}: agora migrate takes a postgres:// URL; SQLite files are found \
             through --data DIR",
            redact(&url)
        ),
        _ => Ok(Place::Dir(match target.data {
            Some(d) => d,
            None => crate::credentials::data_dir()?,
        })),
    }
}

fn status(target: MigrateTarget, json: bool) -> anyhow::Result<u8> {
    let (location, files) = match place(target)? {
        Place::Postgres(url) => (redact(&url), vec![migrate::status_pg(&url)]),
        Place::Dir(dir) => (dir.display().to_string(), migrate::status(&dir)),
    };
    let state = |f: &FileStatus| match &f.status {
        Err(_) => "error",
        Ok(s) if s.is_newer() => "newer",
        Ok(s) if s.pending.is_empty() => "current",
        Ok(_) => "behind",
    };
    if json {
        let databases: Vec<Value> = files
            .iter()
            .map(|f| {
                let (version, latest, pending, error) = match &f.status {
                    Ok(s) => (
                        json!(s.version),
                        json!(s.latest),
                        migrations(&s.pending),
                        Value::Null,
                    ),
                    Err(e) => (Value::Null, Value::Null, json!([]), json!(e)),
                };
                json!({
                    "database": f.database,
                    "org": f.org,
                    "state": state(f),
                    "version": version,
                    "latest": latest,
                    "pending": pending,
                    "error": error,
                })
            })
            .collect();
        output::json(&json!({ "location": location, "databases": databases }))?;
    } else {
        for f in &files {
            let what = name(&f.database, f.org.as_deref());
            let line = match &f.status {
                Err(e) => format!("{what}: cannot read: {e}"),
                Ok(s) if s.is_newer() => format!(
                    "{what}: version {}, newer than this agora's {}: upgrade agora",
                    s.version, s.latest
                ),
                Ok(s) if s.pending.is_empty() => {
                    format!("{what}: version {}, up to date", s.version)
                }
                Ok(s) => format!(
                    "{what}: version {} of {}; pending: {}",
                    s.version,
                    s.latest,
                    names(&s.pending)
                ),
            };
            println!("{line}");
        }
    }
    let states: Vec<&str> = files.iter().map(state).collect();
    Ok(if states.iter().any(|s| *s == "error" || *s == "newer") {
        2
    } else {
        0
    })
}

fn up(args: MigrateUpArgs, json: bool) -> anyhow::Result<u8> {
    let plan = Plan {
        target: args.to,
        dry_run: args.dry_run,
    };
    let (location, outcomes) = match place(args.target)? {
        Place::Postgres(url) => (redact(&url), vec![migrate::run_pg(&url, plan)]),
        Place::Dir(dir) => {
            let outcomes = with_progress(|total, each| migrate::run(&dir, plan, total, each))?;
            (dir.display().to_string(), outcomes)
        }
    };
    let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
    if json {
        let files: Vec<Value> = outcomes
            .iter()
            .map(|o| {
                json!({
                    "file": o.database,
                    "org": o.org,
                    "ok": o.error.is_none(),
                    "error": o.error,
                    "from": o.from,
                    "to": o.to(),
                    "applied": migrations(&o.applied),
                })
            })
            .collect();
        output::json(&json!({
            "data_dir": location,
            "dry_run": plan.dry_run,
            "files": files,
            "migrated": outcomes.len() - failed,
            "failed": failed,
        }))?;
    } else {
        // Failures on stderr, one line each, then each change and the
        // summary on stdout.
        for o in outcomes.iter().filter(|o| o.error.is_some()) {
            eprintln!(
                "agora: failed: {}: {}",
                name(&o.database, o.org.as_deref()),
                o.error.as_deref().unwrap_or_default()
            );
        }
        let verb = if plan.dry_run { "would run" } else { "ran" };
        for o in outcomes.iter().filter(|o| !o.applied.is_empty()) {
            println!(
                "{}: version {} to {}; {verb} {}",
                name(&o.database, o.org.as_deref()),
                o.from.unwrap_or_default(),
                o.to().unwrap_or_default(),
                names(&o.applied)
            );
        }
        println!(
            "{}",
            summary(&location, outcomes.len(), failed, plan.dry_run)
        );
    }
    Ok(if failed == 0 { 0 } else { 2 })
}

/// Runs `work` with a progress bar on a terminal.
fn with_progress(
    work: impl FnOnce(&mut dyn FnMut(usize), &mut dyn FnMut(&Outcome)) -> anyhow::Result<Vec<Outcome>>,
) -> anyhow::Result<Vec<Outcome>> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr()).with_style(style)
    });
    let outcomes = work(
        &mut |n| {
            if let Some(bar) = &bar {
                bar.set_length(n as u64);
            }
        },
        &mut |o| {
            if let Some(bar) = &bar {
                bar.inc(1);
                bar.set_message(name(&o.database, o.org.as_deref()));
            }
        },
    )?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    Ok(outcomes)
}

fn migrations(list: &[Migration]) -> Value {
    list.iter()
        .map(|m| json!({ "version": m.version, "name": m.name }))
        .collect()
}

/// `0011_ssh_keys, 0012_cron_runs`.
fn names(list: &[Migration]) -> String {
    list.iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `migrated 4 files in DIR` or `migrated 3 of 4 files in DIR; 1 failed`
/// (a dry run: `dry run: 4 files checked in DIR, nothing changed`).
fn summary(location: &str, total: usize, failed: usize, dry_run: bool) -> String {
    let files = output::count(total, "file", "files");
    if dry_run {
        let failed = if failed == 0 {
            String::new()
        } else {
            format!("; {failed} would fail")
        };
        return format!("dry run: {files} checked in {location}, nothing changed{failed}");
    }
    if failed == 0 {
        format!("migrated {files} in {location}")
    } else {
        format!(
            "migrated {} of {files} in {location}; {failed} failed",
            total - failed,
        )
    }
}

fn name(database: &str, org: Option<&str>) -> String {
    match org {
        Some(org) => format!("{org} ({database})"),
        None => database.to_owned(),
    }
}
