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

use agora_db::Pg;
use agora_db::pg::jobs::notice::{self, CHANNEL};
use agora_db::pg::notify::Listener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::writer::Command;

/// What the listener needs: the database and the
/// connection already listening (opened before the writer loaded its
/// counts, so nothing committed in between is missed).
pub struct Following {
    /// The fleet's database.
    pub pg: Pg,
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
            pg: pg.clone(),
        })
    }
}

/// The listener thread: other nodes' notices to the writer until `stop`
/// (or until the writer is gone).
pub fn listen(following: Following, commands: mpsc::Sender<Command>, stop: CancellationToken) {
    let Following { pg, listener, .. } = following;
    crate::storage::follow_notifications(
        &pg,
        Some(listener),
        &[CHANNEL],
        &|| stop.is_cancelled(),
        &mut |notes| {
            notes.into_iter().all(|note| {
                let command = match notice::decode(&note.payload) {
                    Ok(notice) => Command::Remote(notice),
                    Err(err) => {
                        // Another version's node, or a bug: count from
                        // the tables instead.
                        tracing::warn!(%err, from = %note.origin, "jobs: an unreadable notification; reloading");
                        Command::Resync
                    }
                };
                commands.blocking_send(command).is_ok()
            })
        },
        &mut || commands.blocking_send(Command::Resync).is_ok(),
    );
}
