//! Messages the daemon itself posts (alerts into `#alerts`): stored and
//! delivered like any room message, from a sender that is no account.

use agora_wire::ErrorBody;
use tokio::sync::oneshot;

use super::Chat;
use super::writer::{Job, Stored};
use crate::service;

impl Chat {
    /// Posts `text` into `room` as `from` (a name no account need have),
    /// creating the room if needed. Resolves once the message is stored
    /// and published: its (seq, ts_ms).
    ///
    /// # Errors
    /// A bad room name, a text too long or empty, the store busy or
    /// failing.
    pub async fn post_system(&self, room: &str, from: &str, text: String) -> Stored {
        let room = super::handler::room_name(room)?;
        super::handler::check_text(&text)?;
        if !self.inner.lock().rooms.exists(&room) {
            let r = room.clone();
            service::storage(&self.inner.storage, move |s| {
                s.chat(agora_db::Access::Write, |c| c.ensure_room(&r))
            })
            .await?;
            let mut state = self.inner.lock();
            if !state.rooms.exists(&room) {
                state.rooms.add_room(&room, "");
            }
        }
        let (ack, acked) = oneshot::channel();
        self.jobs
            .try_send(Job::Room {
                room,
                from: from.to_owned(),
                text,
                action: false,
                ack,
            })
            .map_err(|_| {
                ErrorBody::new(
                    agora_wire::ErrorCode::Unavailable,
                    "the message store is busy",
                )
            })?;
        acked
            .await
            .map_err(|_| service::internal("the chat writer stopped"))?
    }
}
