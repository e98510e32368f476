//! Opening the daemon's storage as `--database` says: the SQLite file
//! every service uses, and, with `postgres://…`, the fleet's PostgreSQL
//! for the services ported to it (docs/FLEET.md).

use agora_db::pg::notify::Notification;
use agora_db::{DatabaseUrl, Db, Pg, Storage};
use anyhow::Context as _;
use std::time::Duration;

use crate::Config;

/// The services whose data is on PostgreSQL with `--database
/// postgres://…`; the rest stay in the node's SQLite file.
pub const PORTED: &[&str] = &[
    "accounts",
    "chat",
    "jobs",
    "games",
    "blog",
    "organizations",
    "billing",
    "ssh keys",
];

/// The services still in the node's SQLite file on PostgreSQL.
pub const NOT_PORTED: &[&str] = &["metrics"];

/// Opens the node's SQLite file and the [`Storage`] of the ported
/// services (that same file, or PostgreSQL).
///
/// # Errors
/// When the file cannot be opened or migrated; when PostgreSQL cannot be
/// reached, refuses the credentials or cannot be migrated (one line:
/// where and why); on PostgreSQL without a signing key shared by the
/// fleet.
pub(crate) async fn open(config: &Config) -> anyhow::Result<(Db, Storage)> {
    let (sqlite, shared) = match &config.database {
        None => (config.data_dir.join("agora.db"), None),
        Some(DatabaseUrl::Sqlite(path)) => (path.clone(), None),
        Some(DatabaseUrl::Postgres(url)) => {
            anyhow::ensure!(
                crate::accounts::token::Keys::is_shared(config),
                "with --database postgres://… every node must sign tokens with the same key: \
                 set AGORA_JWT_SECRET or --jwt-key-file FILE (docs/FLEET.md)"
            );
            (config.data_dir.join("agora.db"), Some(url.clone()))
        }
    };
    let db = {
        let path = sqlite.clone();
        tracing::debug!(file = %path.display(), "opening the database (migrating it when behind)");
        tokio::task::spawn_blocking(move || Db::open(&path))
            .await
            .context("database open panicked")??
    };
    let Some(url) = shared else {
        return Ok((db.clone(), Storage::Sqlite(db)));
    };
    // A name of its own for this run of the daemon: the fleet's tables
    // and notifications tell nodes apart by it (docs/FLEET.md).
    let node = format!("n{:012x}", rand::random::<u64>() >> 16);
    let pg = {
        let node = node.clone();
        tokio::task::spawn_blocking(move || Pg::connect_as(&url, &node))
            .await
            .context("PostgreSQL connect panicked")??
    };
    tracing::info!(
        database = %format!("postgres://{}", pg.place()),
        %node,
        ported = %PORTED.join(", "),
        "these services are shared through PostgreSQL (and tokens: one key)"
    );
    tracing::warn!(
        file = %sqlite.display(),
        not_ported = %NOT_PORTED.join(", "),
        "these services are not on PostgreSQL yet: each node keeps them in its own SQLite file, \
         unshared (docs/FLEET.md)"
    );
    Ok((db, Storage::Postgres(pg)))
}

/// Follows `channels` until `stop` says so, on a thread of the caller's:
/// `on_notes` gets what other nodes sent (this node's own skipped: it
/// published them itself), `on_reconnect` runs after the listening
/// connection broke and was made again — notifications sent meanwhile are
/// gone, so it catches up from the tables. Each returns `false` to stop.
/// A connection that cannot be made is tried again every 500 ms. `first`
/// is a listener already made (before its owner loaded what it follows).
pub fn follow_notifications(
    pg: &Pg,
    first: Option<agora_db::pg::notify::Listener>,
    channels: &[&str],
    stop: &dyn Fn() -> bool,
    on_notes: &mut dyn FnMut(Vec<Notification>) -> bool,
    on_reconnect: &mut dyn FnMut() -> bool,
) {
    let node = pg.node().unwrap_or_default().to_owned();
    let mut listener = first;
    let mut broke = false;
    while !stop() {
        let Some(l) = listener.as_mut() else {
            match pg.listener(channels) {
                Ok(fresh) => {
                    listener = Some(fresh);
                    if std::mem::take(&mut broke) && !on_reconnect() {
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, ?channels, "cannot listen to the fleet yet");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
            continue;
        };
        match l.wait(Duration::from_millis(250)) {
            Ok(notes) => {
                let theirs: Vec<Notification> =
                    notes.into_iter().filter(|n| n.origin != node).collect();
                if !theirs.is_empty() && !on_notes(theirs) {
                    return;
                }
            }
            Err(err) => {
                tracing::warn!(%err, ?channels, "the fleet's notifications stopped; reconnecting");
                listener = None;
                broke = true;
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}
