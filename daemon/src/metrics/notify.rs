//! Where alert transitions are announced besides the `metrics` topic.
//!
//! [`AlertHook`] is the seam: the services list hands the metrics service
//! a list of hooks, and each hears every firing and resolved transition
//! of a rule that is not silenced. [`ChatAlerts`] posts into a chat room
//! (`#alerts` by default). The job queue's hook (enqueue a notification
//! job) is another implementation, added in `services.rs` once the Jobs
//! service exists: nothing here needs to change for it.

use agora_wire::metrics::{Alert, AlertState};
use futures::FutureExt as _;
use futures::future::BoxFuture;

use super::alerts::Change;
use crate::chat::Chat;

/// Hears the transitions worth telling people about.
pub trait AlertHook: Send + Sync {
    /// `change` happened to `alert` (its state after the change). Called
    /// for firing and resolved transitions of rules not silenced.
    fn announce<'a>(&'a self, change: &'a Change, alert: &'a Alert) -> BoxFuture<'a, ()>;
}

/// Posts alerts into a chat room.
pub struct ChatAlerts {
    chat: Chat,
    room: String,
}

/// The sender shown for the daemon's alert messages.
pub const ALERT_SENDER: &str = "agora";

impl ChatAlerts {
    /// Posts into `room` through `chat`.
    pub fn new(chat: Chat, room: String) -> ChatAlerts {
        ChatAlerts { chat, room }
    }
}

/// The chat line for a transition: `[FIRING] hot (warning): cpu.total > 90
/// — now 97.3`.
pub fn alert_text(change: &Change, alert: &Alert) -> String {
    let label = match change.to {
        AlertState::Firing => "FIRING",
        AlertState::Resolved => "RESOLVED",
        AlertState::Pending => "PENDING",
        AlertState::Ok => "OK",
    };
    format!(
        "[{label}] {} ({}): {} {} {} for {}s, now {:.1}",
        alert.name,
        alert.severity,
        alert.metric,
        alert.op,
        alert.threshold,
        alert.for_ms / 1000,
        change.value
    )
}

impl AlertHook for ChatAlerts {
    fn announce<'a>(&'a self, change: &'a Change, alert: &'a Alert) -> BoxFuture<'a, ()> {
        async move {
            let text = alert_text(change, alert);
            if let Err(err) = self.chat.post_system(&self.room, ALERT_SENDER, text).await {
                tracing::warn!(room = %self.room, error = %err.message, "cannot post an alert");
            }
        }
        .boxed()
    }
}
