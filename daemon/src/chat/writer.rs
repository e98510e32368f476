//! Group commit: one thread stores every chat message.
//!
//! Senders queue a [`Job`] and wait for its acknowledgement. The thread
//! takes whatever is queued (up to [`MAX_BATCH`]) and stores the batch in
//! one transaction, which numbers each room's messages after the room's
//! newest (on PostgreSQL with other nodes' writers taking turns), and only
//! after the commit are the messages published and the senders
//! acknowledged (the fan-out itself runs on the async runtime, in
//! [`publish_loop`], in sequence order per room, with the messages other
//! nodes stored). One
//! transaction per batch instead of per message is what keeps persistence
//! from capping throughput; publishing after the commit is what makes every
//! message anyone has seen survive a `kill -9`.

use std::sync::Arc;

use agora_db::chat::{DirectMessage as DirectRow, Message as MessageRow};
use agora_db::{Access, Storage};
use agora_wire::chat::{ChatMessage, DirectMessage};
use agora_wire::{ChatEvent, ErrorBody};
use tokio::sync::{mpsc, oneshot};

use super::order::Order;
use super::{Inner, room_topic, user_topic};

/// The most messages committed in one transaction.
pub const MAX_BATCH: usize = 1024;

/// What a sender learns once its message is stored: (seq or id, ts_ms).
pub type Stored = Result<(u64, u64), ErrorBody>;
/// Where the writer sends [`Stored`].
pub type Ack = oneshot::Sender<Stored>;
/// Where a sender waits for [`Stored`].
pub type Acked = oneshot::Receiver<Stored>;

/// A message waiting to be stored.
pub enum Job {
    /// A room message.
    Room {
        /// The room.
        room: String,
        /// The sender.
        from: String,
        /// The text.
        text: String,
        /// `/me`.
        action: bool,
        /// Where to acknowledge.
        ack: Ack,
    },
    /// A private message.
    Direct {
        /// The sender.
        from: String,
        /// The recipient.
        to: String,
        /// The text.
        text: String,
        /// `/me`.
        action: bool,
        /// Where to acknowledge.
        ack: Ack,
    },
}

/// Runs until every sender is gone.
pub(super) fn run(
    storage: Storage,
    inner: Arc<Inner>,
    mut jobs: mpsc::Receiver<Job>,
    publisher: mpsc::UnboundedSender<Batch>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit(&storage, &inner, &mut batch, &publisher);
    }
}

fn commit(
    storage: &Storage,
    inner: &Inner,
    batch: &mut Vec<Job>,
    publisher: &mpsc::UnboundedSender<Batch>,
) {
    let ts_ms = crate::now_ms();
    let mut rooms = Vec::new();
    let mut directs = Vec::new();
    for job in batch.iter() {
        match job {
            Job::Room {
                room,
                from,
                text,
                action,
                ..
            } => rooms.push(MessageRow {
                room: room.clone(),
                seq: 0,
                sender: from.clone(),
                text: text.clone(),
                action: *action,
                ts_ms: ts_ms as i64,
            }),
            Job::Direct {
                from,
                to,
                text,
                action,
                ..
            } => directs.push(DirectRow {
                id: 0,
                sender: from.clone(),
                recipient: to.clone(),
                text: text.clone(),
                action: *action,
                ts_ms: ts_ms as i64,
            }),
        }
    }
    // The store numbers the room messages (after the room's newest, in
    // this transaction: with a fleet's several writers too) and gives the
    // private messages their ids; a failed batch takes no number.
    let stored = storage.chat(Access::Write, |c| c.store_batch(&mut rooms, &mut directs));
    if let Err(err) = stored {
        let error = crate::service::stored(err);
        for job in batch.drain(..) {
            let (Job::Room { ack, .. } | Job::Direct { ack, .. }) = job;
            let _ = ack.send(Err(error.clone()));
        }
        return;
    }
    let mut rooms = rooms.into_iter();
    let mut directs = directs.into_iter();
    let mut deliveries = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        let (delivery, ack) = match job {
            Job::Room { ack, .. } => (rooms.next().map(room_delivery), ack),
            Job::Direct { ack, .. } => (directs.next().map(direct_delivery), ack),
        };
        if let Some(mut d) = delivery {
            d.ack = Some(ack);
            deliveries.push(d);
        }
    }
    // Fan-out happens on the async runtime: waking a connection task from
    // a runtime thread is a local queue push, from this thread it is a
    // cross-thread wake-up each time. If the runtime is gone (shutdown),
    // deliver from here. One hand-over per committed transaction and none
    // for a failed one: the tests count transactions by it.
    if let Err(unsent) = publisher.send(Batch::Committed(deliveries))
        && let Batch::Committed(deliveries) = unsent.0
    {
        for d in &deliveries {
            if let Some((room, seq)) = &d.order {
                inner.note_last_seq(room, *seq);
            }
        }
        deliver(&inner.hub, deliveries);
    }
}

/// A stored room message's push, unacknowledged.
pub(super) fn room_delivery(row: MessageRow) -> Delivery {
    let seq = row.seq.max(0) as u64;
    let ts_ms = row.ts_ms.max(0) as u64;
    let topic = room_topic(&row.room);
    let message = ChatMessage {
        room: row.room,
        seq,
        from: row.sender,
        text: row.text,
        action: row.action,
        ts_ms,
    };
    Delivery {
        order: Some((message.room.clone(), seq)),
        events: vec![(topic, ChatEvent::Message { message })],
        ack: None,
        stored: Ok((seq, ts_ms)),
    }
}

/// A stored private message's pushes (to both users), unacknowledged.
pub(super) fn direct_delivery(row: DirectRow) -> Delivery {
    let id = row.id.max(0) as u64;
    let ts_ms = row.ts_ms.max(0) as u64;
    let message = DirectMessage {
        id,
        from: row.sender,
        to: row.recipient,
        text: row.text,
        action: row.action,
        ts_ms,
    };
    let mut events = vec![(
        user_topic(&message.to),
        ChatEvent::Direct {
            message: message.clone(),
        },
    )];
    if message.from != message.to {
        events.push((user_topic(&message.from), ChatEvent::Direct { message }));
    }
    Delivery {
        order: None,
        events,
        ack: None,
        stored: Ok((id, ts_ms)),
    }
}

/// A stored message's pushes and its sender's acknowledgement (when this
/// node's writer stored it), delivered in that order.
pub(super) struct Delivery {
    /// A room message's (room, seq): published in that order.
    pub(super) order: Option<(String, u64)>,
    pub(super) events: Vec<(String, ChatEvent)>,
    pub(super) ack: Option<Ack>,
    pub(super) stored: Stored,
}

/// What reaches the publish loop.
pub(super) enum Batch {
    /// A transaction this node's writer committed.
    Committed(Vec<Delivery>),
    /// Messages another node stored, read from the table.
    Fetched(Vec<Delivery>),
    /// A room's numbers below `to` cannot be found: stop waiting for them.
    Skip {
        /// The room.
        room: String,
        /// The first number still wanted.
        to: u64,
    },
}

/// Publishes each delivery's events, then acknowledges it.
pub(super) fn deliver(hub: &crate::hub::Hub, batch: Vec<Delivery>) {
    for d in batch {
        for (topic, event) in d.events {
            hub.publish(&topic, event);
        }
        if let Some(ack) = d.ack {
            let _ = ack.send(d.stored);
        }
    }
}

/// How long a room's next message may be missing before the publish loop
/// reads it from the table (the notification that would bring it is late
/// or lost).
pub(super) const GAP_WAIT_MS: u64 = 100;

/// The task that fans batches out: room messages in sequence order per
/// room ([`Order`]), whichever node stored them; the rest in arrival
/// order. Ends when every sender is gone.
pub(super) async fn publish_loop(
    inner: Arc<Inner>,
    mut batches: mpsc::UnboundedReceiver<Batch>,
    refetch: mpsc::WeakUnboundedSender<Batch>,
    mut order: Order<Delivery>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(GAP_WAIT_MS / 2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let batch = tokio::select! {
            batch = batches.recv() => match batch {
                Some(batch) => batch,
                None => return,
            },
            _ = tick.tick(), if order.is_holding() => {
                for (room, next, highest) in order.gaps(crate::now_ms(), GAP_WAIT_MS) {
                    if let Some(tx) = refetch.upgrade() {
                        fill_gap(inner.clone(), tx, room, next, highest);
                    }
                }
                continue;
            }
        };
        let now = crate::now_ms();
        let deliveries = match batch {
            Batch::Committed(d) | Batch::Fetched(d) => d,
            Batch::Skip { room, to } => {
                tracing::warn!(%room, to, "chat messages missing from the table; skipped");
                let ready = order.skip_to(&room, to, now);
                publish_in_order(&inner, ready);
                continue;
            }
        };
        for d in deliveries {
            let Some((room, seq)) = d.order.clone() else {
                deliver(&inner.hub, vec![d]);
                continue;
            };
            let offered = order.offer(&room, seq, d, now);
            publish_in_order(&inner, offered.ready);
            // Published already (a fetch overlapping this node's own
            // commit): only the acknowledgement is owed.
            if let Some(dup) = offered.duplicate
                && let Some(ack) = dup.ack
            {
                let _ = ack.send(dup.stored);
            }
        }
    }
}

fn publish_in_order(inner: &Inner, ready: Vec<Delivery>) {
    if let Some((room, seq)) = ready.last().and_then(|d| d.order.clone()) {
        inner.note_last_seq(&room, seq);
    }
    deliver(&inner.hub, ready);
}

/// Reads `room`'s messages `next..=highest` from the table and hands them
/// to the publish loop (or says which cannot be found).
fn fill_gap(
    inner: Arc<Inner>,
    tx: mpsc::UnboundedSender<Batch>,
    room: String,
    next: u64,
    highest: u64,
) {
    tokio::task::spawn_blocking(move || {
        let want = (highest + 1 - next).min(u64::from(u32::MAX)) as u32;
        let since = next as i64 - 1;
        match inner
            .storage
            .chat(Access::Read, |c| c.history_since(&room, since, want))
        {
            Ok((rows, _)) => {
                let first = rows.first().map(|m| m.seq.max(0) as u64);
                if let Some(first) = first
                    && first > next
                {
                    let _ = tx.send(Batch::Skip {
                        room: room.clone(),
                        to: first,
                    });
                }
                let _ = tx.send(Batch::Fetched(
                    rows.into_iter().map(room_delivery).collect(),
                ));
            }
            Err(err) => {
                tracing::warn!(%err, %room, "cannot read chat messages to fill a gap; retrying")
            }
        }
    });
}

#[cfg(test)]
mod tests;
