//! The chat operations.
//!
//! Checks that need only memory (membership, sizes, rate) run when the
//! request is routed, in the order requests arrive; messages are queued to
//! the writer at that moment too, so two messages pipelined by one client
//! are stored in the order sent. What needs the database runs in a future.

use std::sync::Arc;

use agora_db::Access;
use agora_db::chat::{DirectMessage as DirectRow, Message as MessageRow};
use agora_wire::chat::{
    ChatMessage, DirectMessage, LeaveReason, MAX_HISTORY, MAX_MESSAGE, MAX_TOPIC_TEXT,
};
use agora_wire::names::{validate_room, validate_user_name};
use agora_wire::{BaseReply, ChatEvent, ChatOp, ChatReply, ErrorBody, ErrorCode, Reply, UserInfo};
use tokio::sync::oneshot;

use super::digest::Change;
use super::writer::{Acked, Job};
use super::{Chat, Routing, room_topic, user_topic};
use crate::service::{self, Routed, Service, internal, signed_in};
use crate::session::Session;

impl Service for Chat {
    type Op = ChatOp;

    /// Every chat operation needs a signed-in session.
    fn route(&self, op: ChatOp, session: &Arc<Session>) -> Routed {
        let user = match signed_in(session) {
            Ok(user) => user,
            Err(err) => return Routed::Done(Err(err)),
        };
        let chat = self.clone();
        match op {
            ChatOp::Join { room } => Routed::later(async move { chat.join(&user, &room).await }),
            ChatOp::Leave { room } => Routed::later(async move { chat.leave(&user, &room).await }),
            ChatOp::Rooms => Routed::done(Ok(ChatReply::Rooms {
                rooms: chat.inner.lock().rooms.infos(&user.name),
            })),
            ChatOp::Topic { room, topic } => {
                Routed::later(async move { chat.set_topic(&user, &room, topic).await })
            }
            ChatOp::Send { room, text, action } => {
                match chat.queue_room(&user, &room, text, action) {
                    Ok(ack) => Routed::later(acknowledged(ack)),
                    Err(e) => Routed::Done(Err(e)),
                }
            }
            ChatOp::Dm { to, text, action } => match chat.queue_direct(&user, &to, text, action) {
                Ok(ack) => Routed::later(acknowledged(ack)),
                Err(e) => Routed::Done(Err(e)),
            },
            ChatOp::History {
                room,
                before,
                since,
                limit,
            } => {
                Routed::later(async move { chat.history(&user, &room, before, since, limit).await })
            }
            ChatOp::Dms { with, limit } => {
                Routed::later(async move { chat.dms(&user, with, limit).await })
            }
            ChatOp::Who { room } => Routed::Done(chat.who(&user, room)),
            ChatOp::Away { message } => {
                Routed::later(async move { chat.away(&user, message).await })
            }
        }
    }

    /// Joining and leaving change which rooms later requests may use.
    fn is_barrier(op: &ChatOp) -> bool {
        matches!(op, ChatOp::Join { .. } | ChatOp::Leave { .. })
    }
}

async fn acknowledged(ack: Acked) -> Result<ChatReply, ErrorBody> {
    match ack.await {
        Ok(Ok((seq, ts_ms))) => Ok(ChatReply::Sent { seq, ts_ms }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ErrorBody::new(
            ErrorCode::Unavailable,
            "the message store is shutting down",
        )),
    }
}

pub(crate) fn room_name(room: &str) -> Result<String, ErrorBody> {
    validate_room(room).map_err(ErrorBody::bad_request)
}

fn not_member(room: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Forbidden,
        format!("you are not in room {room}; join it first"),
    )
}

pub(crate) fn check_text(text: &str) -> Result<(), ErrorBody> {
    if text.len() > MAX_MESSAGE {
        return Err(ErrorBody::new(
            ErrorCode::TooLarge,
            format!(
                "message is {} bytes; the limit is {MAX_MESSAGE}",
                text.len()
            ),
        ));
    }
    if text.trim().is_empty() {
        return Err(ErrorBody::bad_request("message is empty"));
    }
    Ok(())
}

impl Chat {
    pub(super) async fn join(&self, user: &UserInfo, room: &str) -> Result<Reply, ErrorBody> {
        let room = room_name(room)?;
        {
            let state = self.inner.lock();
            if !state.rooms.is_member(&room, &user.name) {
                let limits = self.inner.limits;
                if state.rooms.rooms_of(&user.name).len() >= limits.rooms_per_user {
                    return Err(ErrorBody::new(
                        ErrorCode::Forbidden,
                        format!(
                            "you are in {} rooms, the most allowed; leave one first",
                            limits.rooms_per_user
                        ),
                    ));
                }
                if state.rooms.member_count(&room) >= limits.members_per_room {
                    return Err(ErrorBody::new(
                        ErrorCode::Forbidden,
                        format!("room {room} is full ({} members)", limits.members_per_room),
                    ));
                }
            }
        }
        let (r, u) = (room.clone(), user.name.clone());
        let joined = service::storage(&self.inner.storage, move |s| {
            s.chat(Access::Write, |c| {
                c.ensure_room(&r)?;
                c.join(&r, &u)
            })
        })
        .await?;
        let now = crate::now_ms();
        let (sessions, info, members, routing, presence) = {
            let mut state = self.inner.lock();
            if !state.rooms.exists(&room) {
                state.rooms.add_room(&room, "");
            }
            state.rooms.join(&room, &user.name);
            state.local_changes += 1;
            let sessions: Vec<Arc<Session>> = state
                .sessions
                .get(&user.name)
                .map(|s| s.values().cloned().collect())
                .unwrap_or_default();
            let routing = if joined {
                state.route(std::slice::from_ref(&room), Change::Joined(&user.name), now)
            } else {
                Routing::default()
            };
            let presence = state.presence.presence(&user.name, now);
            let members = state.member_list(&room, now);
            let info = state.rooms.info(&room, &user.name);
            (sessions, info, members, routing, presence)
        };
        // Every terminal of the user follows the room, not just this one.
        let topic = vec![room_topic(&room)];
        for s in &sessions {
            self.inner.hub.subscribe(s, &topic);
            s.add_topics(&topic);
        }
        let joined_event = |room: &str| ChatEvent::Joined {
            room: room.to_owned(),
            user: presence.clone(),
        };
        if routing.batched {
            // The room hears of it in its next digest; the user's other
            // terminals hear now, so they show the room at once.
            self.inner
                .hub
                .publish(&user_topic(&user.name), joined_event(&room));
        }
        self.inner.announce(routing, joined_event);
        let room = info.ok_or_else(|| internal("room vanished after join"))?;
        Ok(ChatReply::Room { room, members }.into())
    }

    pub(super) async fn leave(&self, user: &UserInfo, room: &str) -> Result<Reply, ErrorBody> {
        let room = room_name(room)?;
        if !self.inner.lock().rooms.is_member(&room, &user.name) {
            return Err(ErrorBody::new(
                ErrorCode::NotFound,
                format!("you are not in room {room}"),
            ));
        }
        let (r, u) = (room.clone(), user.name.clone());
        service::storage(&self.inner.storage, move |s| {
            s.chat(Access::Write, |c| c.leave(&r, &u))
        })
        .await?;
        let topic = vec![room_topic(&room)];
        let now = crate::now_ms();
        let (sessions, routing) = {
            let mut state = self.inner.lock();
            state.rooms.leave(&room, &user.name);
            state.local_changes += 1;
            let routing = state.route(std::slice::from_ref(&room), Change::Left(&user.name), now);
            let sessions: Vec<Arc<Session>> = state
                .sessions
                .get(&user.name)
                .map(|s| s.values().cloned().collect())
                .unwrap_or_default();
            (sessions, routing)
        };
        // Announce first, so the leaver's own terminals see it too (on
        // their user topic when the room only hears of it in a digest).
        let left_event = |room: &str| ChatEvent::Left {
            room: room.to_owned(),
            user: user.name.clone(),
            reason: LeaveReason::Left,
        };
        if routing.batched {
            self.inner
                .hub
                .publish(&user_topic(&user.name), left_event(&room));
        }
        self.inner.announce(routing, left_event);
        for s in &sessions {
            self.inner.hub.unsubscribe(s.id, &topic);
            s.remove_topics(&topic);
        }
        Ok(BaseReply::Done.into())
    }

    pub(super) async fn set_topic(
        &self,
        user: &UserInfo,
        room: &str,
        topic: String,
    ) -> Result<Reply, ErrorBody> {
        let room = room_name(room)?;
        if topic.len() > MAX_TOPIC_TEXT {
            return Err(ErrorBody::new(
                ErrorCode::TooLarge,
                format!(
                    "topic is {} bytes; the limit is {MAX_TOPIC_TEXT}",
                    topic.len()
                ),
            ));
        }
        if !self.inner.lock().rooms.is_member(&room, &user.name) {
            return Err(not_member(&room));
        }
        let (r, t) = (room.clone(), topic.clone());
        service::storage(&self.inner.storage, move |s| {
            s.chat(Access::Write, |c| c.set_topic(&r, &t))
        })
        .await?;
        {
            let mut state = self.inner.lock();
            state.rooms.set_topic(&room, &topic);
            state.local_changes += 1;
        }
        self.inner.hub.publish(
            &room_topic(&room),
            ChatEvent::Topic {
                room: room.clone(),
                topic,
                by: user.name.clone(),
            },
        );
        Ok(BaseReply::Done.into())
    }

    /// Checks and queues a room message; the receiver gets the ack.
    fn queue_room(
        &self,
        user: &UserInfo,
        room: &str,
        text: String,
        action: bool,
    ) -> Result<Acked, ErrorBody> {
        let room = room_name(room)?;
        check_text(&text)?;
        {
            let mut state = self.inner.lock();
            if !state.rooms.is_member(&room, &user.name) {
                return Err(not_member(&room));
            }
            self.take_token(&mut state, &user.name)?;
        }
        let (ack, acked) = oneshot::channel();
        self.enqueue(Job::Room {
            room,
            from: user.name.clone(),
            text,
            action,
            ack,
        })?;
        Ok(acked)
    }

    /// Checks and queues a private message; the receiver gets the ack.
    fn queue_direct(
        &self,
        user: &UserInfo,
        to: &str,
        text: String,
        action: bool,
    ) -> Result<Acked, ErrorBody> {
        let to = validate_user_name(to).map_err(ErrorBody::bad_request)?;
        check_text(&text)?;
        {
            let mut state = self.inner.lock();
            if !state.presence.knows(&to) {
                return Err(ErrorBody::new(
                    ErrorCode::NotFound,
                    format!("no user named {to}"),
                ));
            }
            self.take_token(&mut state, &user.name)?;
        }
        let (ack, acked) = oneshot::channel();
        self.enqueue(Job::Direct {
            from: user.name.clone(),
            to,
            text,
            action,
            ack,
        })?;
        Ok(acked)
    }

    fn take_token(&self, state: &mut super::State, user: &str) -> Result<(), ErrorBody> {
        let rate = self.inner.limits.rate;
        let now = crate::now_ms();
        let bucket = state
            .buckets
            .entry(user.to_owned())
            .or_insert_with(|| super::limits::Bucket::full(rate, now));
        bucket.take(rate, now).map_err(|wait| ErrorBody {
            code: ErrorCode::RateLimited,
            message: format!(
                "too many messages: at most {} per second (bursts of {})",
                rate.per_sec, rate.burst
            ),
            retry_after_ms: Some(wait),
        })
    }

    fn enqueue(&self, job: Job) -> Result<(), ErrorBody> {
        self.jobs.try_send(job).map_err(|_| ErrorBody {
            code: ErrorCode::Unavailable,
            message: "the message store is busy; retry shortly".into(),
            retry_after_ms: Some(100),
        })
    }

    async fn history(
        &self,
        user: &UserInfo,
        room: &str,
        before: Option<u64>,
        since: Option<u64>,
        limit: Option<u32>,
    ) -> Result<Reply, ErrorBody> {
        let room = room_name(room)?;
        if !self.inner.lock().rooms.is_member(&room, &user.name) {
            return Err(not_member(&room));
        }
        let limit = limit.unwrap_or(50).clamp(1, MAX_HISTORY);
        let r = room.clone();
        let (rows, more) = service::storage(&self.inner.storage, move |s| {
            s.chat(Access::Read, |repo| match since {
                Some(since) => repo.history_since(&r, since.min(i64::MAX as u64) as i64, limit),
                None => {
                    repo.history_before(&r, before.map(|b| b.min(i64::MAX as u64) as i64), limit)
                }
            })
        })
        .await?;
        Ok(ChatReply::History {
            room,
            messages: rows.into_iter().map(message_from_row).collect(),
            more,
        }
        .into())
    }

    async fn dms(
        &self,
        user: &UserInfo,
        with: Option<String>,
        limit: Option<u32>,
    ) -> Result<Reply, ErrorBody> {
        let limit = limit.unwrap_or(50).clamp(1, MAX_HISTORY);
        let with = with
            .map(|w| validate_user_name(&w).map_err(ErrorBody::bad_request))
            .transpose()?;
        let me = user.name.clone();
        let (rows, unread) = service::storage(&self.inner.storage, move |s| {
            s.chat(Access::Write, |repo| {
                let rows = match &with {
                    Some(other) => repo.conversation(&me, other, limit)?,
                    None => repo.take_unread(&me, limit)?,
                };
                Ok((rows, repo.unread_count(&me)?))
            })
        })
        .await?;
        Ok(ChatReply::Dms {
            messages: rows.into_iter().map(direct_from_row).collect(),
            unread,
        }
        .into())
    }

    fn who(&self, user: &UserInfo, room: Option<String>) -> Result<Reply, ErrorBody> {
        let now = crate::now_ms();
        let state = self.inner.lock();
        let users = match room {
            Some(room) => {
                let room = room_name(&room)?;
                if !state.rooms.exists(&room) {
                    return Err(ErrorBody::new(
                        ErrorCode::NotFound,
                        format!("no room named {room}"),
                    ));
                }
                let _ = user;
                state
                    .rooms
                    .members(&room)
                    .iter()
                    .map(|m| state.presence.presence(m, now))
                    .collect()
            }
            None => state.presence.everyone(now),
        };
        Ok(ChatReply::Who { users }.into())
    }

    /// Sets or clears the user's away message: stored first (it lasts
    /// until cleared, across connections and restarts), then announced.
    async fn away(&self, user: &UserInfo, message: Option<String>) -> Result<Reply, ErrorBody> {
        if let Some(m) = &message
            && m.len() > MAX_TOPIC_TEXT
        {
            return Err(ErrorBody::new(
                ErrorCode::TooLarge,
                "away message is too long",
            ));
        }
        let (name, stored) = (user.name.clone(), message.clone());
        service::storage(&self.inner.storage, move |s| {
            s.chat(Access::Write, |c| c.set_away(&name, stored.as_deref()))
        })
        .await?;
        let now = crate::now_ms();
        let (routing, presence) = {
            let mut state = self.inner.lock();
            state.presence.set_away(&user.name, message);
            state.local_changes += 1;
            let rooms = state.rooms.rooms_of(&user.name);
            let routing = state.route(&rooms, Change::Away, now);
            (routing, state.presence.presence(&user.name, now))
        };
        self.inner.announce(routing, |room| ChatEvent::Presence {
            room: room.to_owned(),
            user: presence.clone(),
        });
        Ok(BaseReply::Done.into())
    }
}

fn message_from_row(row: MessageRow) -> ChatMessage {
    ChatMessage {
        room: row.room,
        seq: row.seq.max(0) as u64,
        from: row.sender,
        text: row.text,
        action: row.action,
        ts_ms: row.ts_ms.max(0) as u64,
    }
}

fn direct_from_row(row: DirectRow) -> DirectMessage {
    DirectMessage {
        id: row.id.max(0) as u64,
        from: row.sender,
        to: row.recipient,
        text: row.text,
        action: row.action,
        ts_ms: row.ts_ms.max(0) as u64,
    }
}
