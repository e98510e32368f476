//! Jobs across a fleet's nodes (docs/FLEET.md, "Jobs across nodes").
//!
//! Each node's writer announces what its transaction changed on
//! `agora_jobs` (`agora_db::pg::jobs::notice`), delivered on commit. This
//! thread listens and hands other nodes' notices to the writer
//! ([`Command::Remote`]), which counts them, publishes them on the `jobs`
//! topic and wakes the claims and the scheduler they concern — as if the
//! change had been made here. A broken connection is made again, and the
//! writer told to reload ([`Command::Resync`]): notifications sent
//! meanwhile are gone.

use std::time::Duration;

use agora_db::Pg;
use agora_db::pg::jobs::notice::{self, CHANNEL};
use agora_db::pg::notify::Listener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::writer::Command;

/// What the listener needs: the database, this node's name, and the
/// connection already listening (opened before the writer loaded its
/// counts, so nothing committed in between is missed).
pub struct Following {
    /// The fleet's database.
    pub pg: Pg,
    /// This node's name: its own notices are skipped.
    pub node: String,
    /// Listening on [`CHANNEL`].
    pub listener: Listener,
}

impl Following {
    /// Starts listening on `pg` (before the writer loads).
    ///
    /// # Errors
    /// When no connection can be made.
    pub fn start(pg: &Pg) -> agora_db::Result<Following> {
        Ok(Following {
            listener: pg.listener(&[CHANNEL])?,
            node: pg.node().unwrap_or_default().to_owned(),
            pg: pg.clone(),
        })
    }
}

/// The listener thread: other nodes' notices to the writer until `stop`
/// (or until the writer is gone).
pub fn listen(following: Following, commands: mpsc::Sender<Command>, stop: CancellationToken) {
    let Following {
        pg,
        node,
        mut listener,
    } = following;
    while !stop.is_cancelled() {
        let notes = match listener.wait(Duration::from_millis(250)) {
            Ok(notes) => notes,
            Err(err) => {
                tracing::warn!(%err, "jobs: the fleet's notifications stopped; reconnecting");
                std::thread::sleep(Duration::from_millis(500));
                match pg.listener(&[CHANNEL]) {
                    Ok(fresh) => {
                        listener = fresh;
                        if commands.blocking_send(Command::Resync).is_err() {
                            return;
                        }
                    }
                    Err(err) => tracing::warn!(%err, "jobs: cannot listen yet"),
                }
                continue;
            }
        };
        for note in notes {
            if note.origin == node {
                continue; // Published here at commit.
            }
            match notice::decode(&note.payload) {
                Ok(notice) => {
                    if commands.blocking_send(Command::Remote(notice)).is_err() {
                        return;
                    }
                }
                Err(err) => {
                    // Another version's node, or a bug: count from the
                    // tables instead.
                    tracing::warn!(%err, from = %note.origin, "jobs: an unreadable notification; reloading");
                    if commands.blocking_send(Command::Resync).is_err() {
                        return;
                    }
                }
            }
        }
    }
}
