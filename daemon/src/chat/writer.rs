//! Group commit: one thread stores every chat message.
//!
//! Senders queue a [`Job`] and wait for its acknowledgement. The thread
//! takes whatever is queued (up to [`MAX_BATCH`]), assigns room sequence
//! numbers, writes the batch in one SQLite transaction, and only after the
//! commit publishes the messages and acknowledges the senders (the fan-out
//! itself runs on the async runtime, in [`publish_loop`], in commit order). One
//! transaction per batch instead of per message is what keeps persistence
//! from capping throughput; publishing after the commit is what makes every
//! message anyone has seen survive a `kill -9`.

use std::collections::HashMap;
use std::sync::Arc;

use agora_db::Db;
use agora_db::chat::{Chat as Repo, DirectMessage as DirectRow, Message as MessageRow};
use agora_wire::chat::{ChatMessage, DirectMessage};
use agora_wire::{ChatEvent, ErrorBody};
use tokio::sync::{mpsc, oneshot};

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
    db: Db,
    inner: Arc<Inner>,
    mut jobs: mpsc::Receiver<Job>,
    mut seqs: HashMap<String, u64>,
    publisher: mpsc::UnboundedSender<Vec<Delivery>>,
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
        commit(&db, &inner, &mut seqs, &mut batch, &publisher);
    }
}

fn commit(
    db: &Db,
    inner: &Inner,
    seqs: &mut HashMap<String, u64>,
    batch: &mut Vec<Job>,
    publisher: &mpsc::UnboundedSender<Vec<Delivery>>,
) {
    let ts_ms = crate::now_ms();
    // Sequence numbers are assigned on a copy and kept only if the
    // transaction commits, so a failed batch leaves no gap.
    let mut next = seqs.clone();
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
            } => {
                let seq = next.entry(room.clone()).or_insert(0);
                *seq += 1;
                rooms.push(MessageRow {
                    room: room.clone(),
                    seq: *seq as i64,
                    sender: from.clone(),
                    text: text.clone(),
                    action: *action,
                    ts_ms: ts_ms as i64,
                });
            }
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
    let stored = db.write(|conn| {
        let tx = conn.transaction()?;
        let repo = Repo::new(&tx);
        repo.insert_messages(&rooms)?;
        let ids = directs
            .iter()
            .map(|d| repo.insert_direct(d))
            .collect::<agora_db::Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(ids)
    });
    let ids = match stored {
        Ok(ids) => ids,
        Err(err) => {
            let error = crate::service::internal(err);
            for job in batch.drain(..) {
                let (Job::Room { ack, .. } | Job::Direct { ack, .. }) = job;
                let _ = ack.send(Err(error.clone()));
            }
            return;
        }
    };
    *seqs = next;
    let mut rooms = rooms.into_iter();
    let mut ids = ids.into_iter();
    let mut deliveries = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        match job {
            Job::Room { ack, room, .. } => {
                let Some(row) = rooms.next() else { continue };
                let seq = row.seq as u64;
                inner.note_last_seq(&room, seq);
                let message = ChatMessage {
                    room: row.room,
                    seq,
                    from: row.sender,
                    text: row.text,
                    action: row.action,
                    ts_ms,
                };
                deliveries.push(Delivery {
                    events: vec![(room_topic(&room), ChatEvent::Message { message })],
                    ack,
                    stored: Ok((seq, ts_ms)),
                });
            }
            Job::Direct {
                ack,
                from,
                to,
                text,
                action,
            } => {
                let Some(id) = ids.next() else { continue };
                let message = DirectMessage {
                    id: id as u64,
                    from: from.clone(),
                    to: to.clone(),
                    text,
                    action,
                    ts_ms,
                };
                let mut events = vec![(
                    user_topic(&to),
                    ChatEvent::Direct {
                        message: message.clone(),
                    },
                )];
                if from != to {
                    events.push((user_topic(&from), ChatEvent::Direct { message }));
                }
                deliveries.push(Delivery {
                    events,
                    ack,
                    stored: Ok((id as u64, ts_ms)),
                });
            }
        }
    }
    // Fan-out happens on the async runtime: waking a connection task from
    // a runtime thread is a local queue push, from this thread it is a
    // cross-thread wake-up each time. If the runtime is gone (shutdown),
    // deliver from here. One hand-over per committed transaction and none
    // for a failed one: the tests count transactions by it.
    if let Err(unsent) = publisher.send(deliveries) {
        deliver(&inner.hub, unsent.0);
    }
}

/// A stored message's pushes and its sender's acknowledgement, delivered in
/// that order.
pub(super) struct Delivery {
    events: Vec<(String, ChatEvent)>,
    ack: Ack,
    stored: Stored,
}

/// Publishes each delivery's events, then acknowledges it.
pub(super) fn deliver(hub: &crate::hub::Hub, batch: Vec<Delivery>) {
    for d in batch {
        for (topic, event) in d.events {
            hub.publish(&topic, event);
        }
        let _ = d.ack.send(d.stored);
    }
}

/// The task that fans committed batches out, in commit order.
pub(super) async fn publish_loop(
    hub: Arc<crate::hub::Hub>,
    mut batches: mpsc::UnboundedReceiver<Vec<Delivery>>,
) {
    while let Some(batch) = batches.recv().await {
        deliver(&hub, batch);
    }
}

#[cfg(test)]
mod tests;
