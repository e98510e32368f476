//! The chat operations.
//!
//! Checks that need only memory (membership, sizes, rate) run when the
//! request is routed, in the order requests arrive; messages are queued to
//! the writer at that moment too, so two messages pipelined by one client
//! are stored in the order sent. What needs the database runs in a future.

use std::sync::Arc;

use agora_db::chat::{Chat as Repo, DirectMessage as DirectRow, Message as MessageRow};
use agora_wire::chat::{
    ChatMessage, DirectMessage, LeaveReason, MAX_HISTORY, MAX_MESSAGE, MAX_TOPIC_TEXT,
};
use agora_wire::names::{validate_room, validate_user_name};
use agora_wire::{ErrorBody, ErrorCode, Event, Op, Reply, UserInfo};
use futures::FutureExt as _;
use tokio::sync::oneshot;

use super::writer::{Acked, Job};
use super::{Chat, room_topic};
use crate::Shared;
use crate::accounts::internal;
use crate::dispatch::Routed;
use crate::session::Session;

/// Routes a chat operation (any `Op::Chat*`).
pub fn route(op: Op, shared: &Arc<Shared>, session: &Arc<Session>) -> Routed {
    let Some(user) = session.user() else {
        return Routed::Done(Err(ErrorBody::new(
            ErrorCode::Unauthorized,
            "sign in first (agora login NAME)",
        )));
    };
    let chat = shared.chat.clone();
    match op {
        Op::ChatJoin { room } => later(async move { chat.join(&user, &room).await }),
        Op::ChatLeave { room } => later(async move { chat.leave(&user, &room).await }),
        Op::ChatRooms => Routed::Done(Ok(Reply::ChatRooms {
            rooms: chat.inner.lock().rooms.infos(&user.name),
        })),
        Op::ChatTopic { room, topic } => {
            later(async move { chat.set_topic(&user, &room, topic).await })
        }
        Op::ChatSend { room, text, action } => match chat.queue_room(&user, &room, text, action) {
            Ok(ack) => later(acknowledged(ack)),
            Err(e) => Routed::Done(Err(e)),
        },
        Op::ChatDm { to, text, action } => match chat.queue_direct(&user, &to, text, action) {
            Ok(ack) => later(acknowledged(ack)),
            Err(e) => Routed::Done(Err(e)),
        },
        Op::ChatHistory {
            room,
            before,
            since,
            limit,
        } => later(async move { chat.history(&user, &room, before, since, limit).await }),
        Op::ChatDms { with, limit } => later(async move { chat.dms(&user, with, limit).await }),
        Op::ChatWho { room } => Routed::Done(chat.who(&user, room)),
        Op::ChatAway { message } => Routed::Done(chat.away(&user, message)),
        other => Routed::Done(Err(ErrorBody::bad_request(format!(
            "{} is not a chat operation",
            other.name()
        )))),
    }
}

fn later(fut: impl Future<Output = Result<Reply, ErrorBody>> + Send + 'static) -> Routed {
    Routed::Later(fut.boxed())
}

async fn acknowledged(ack: Acked) -> Result<Reply, ErrorBody> {
    match ack.await {
        Ok(Ok((seq, ts_ms))) => Ok(Reply::ChatSent { seq, ts_ms }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ErrorBody::new(
            ErrorCode::Unavailable,
            "the message store is shutting down",
        )),
    }
}

fn room_name(room: &str) -> Result<String, ErrorBody> {
    validate_room(room).map_err(ErrorBody::bad_request)
}

fn not_member(room: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Forbidden,
        format!("you are not in room {room}; join it first (/join {room})"),
    )
}

fn check_text(text: &str) -> Result<(), ErrorBody> {
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

async fn blocking<T: Send + 'static>(
    db: &agora_db::Db,
    f: impl FnOnce(&agora_db::Db) -> agora_db::Result<T> + Send + 'static,
) -> Result<T, ErrorBody> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || f(&db))
        .await
        .map_err(internal)?
        .map_err(internal)
}

impl Chat {
    async fn join(&self, user: &UserInfo, room: &str) -> Result<Reply, ErrorBody> {
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
        let joined = blocking(&self.inner.db, move |db| {
            db.write(|c| {
                let tx = c.transaction()?;
                let repo = Repo::new(&tx);
                repo.ensure_room(&r)?;
                let new = repo.join(&r, &u)?;
                tx.commit()?;
                Ok(new)
            })
        })
        .await?;
        let now = crate::now_ms();
        let (sessions, info, members) = {
            let mut state = self.inner.lock();
            if !state.rooms.exists(&room) {
                state.rooms.add_room(&room, "");
            }
            state.rooms.join(&room, &user.name);
            let sessions: Vec<Arc<Session>> = state
                .sessions
                .get(&user.name)
                .map(|s| s.values().cloned().collect())
                .unwrap_or_default();
            let members = state
                .rooms
                .members(&room)
                .iter()
                .map(|m| state.presence.presence(m, now))
                .collect::<Vec<_>>();
            (sessions, state.rooms.info(&room, &user.name), members)
        };
        // Every terminal of the user follows the room, not just this one.
        let topic = vec![room_topic(&room)];
        for s in &sessions {
            self.inner.hub.subscribe(s, &topic);
            s.add_topics(&topic);
        }
        if joined {
            let presence = self.inner.lock().presence.presence(&user.name, now);
            self.inner.hub.publish(
                &topic[0],
                Event::ChatJoined {
                    room: room.clone(),
                    user: presence,
                },
            );
        }
        let room = info.ok_or_else(|| internal("room vanished after join"))?;
        Ok(Reply::ChatRoom { room, members })
    }

    async fn leave(&self, user: &UserInfo, room: &str) -> Result<Reply, ErrorBody> {
        let room = room_name(room)?;
        if !self.inner.lock().rooms.is_member(&room, &user.name) {
            return Err(ErrorBody::new(
                ErrorCode::NotFound,
                format!("you are not in room {room}"),
            ));
        }
        let (r, u) = (room.clone(), user.name.clone());
        blocking(&self.inner.db, move |db| {
            db.write(|c| Repo::new(c).leave(&r, &u))
        })
        .await?;
        let topic = vec![room_topic(&room)];
        let sessions: Vec<Arc<Session>> = {
            let mut state = self.inner.lock();
            state.rooms.leave(&room, &user.name);
            state
                .sessions
                .get(&user.name)
                .map(|s| s.values().cloned().collect())
                .unwrap_or_default()
        };
        // Announce first, so the leaver's own terminals see it too.
        self.inner.hub.publish(
            &topic[0],
            Event::ChatLeft {
                room: room.clone(),
                user: user.name.clone(),
                reason: LeaveReason::Left,
            },
        );
        for s in &sessions {
            self.inner.hub.unsubscribe(s.id, &topic);
            s.remove_topics(&topic);
        }
        Ok(Reply::Done)
    }

    async fn set_topic(
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
        blocking(&self.inner.db, move |db| {
            db.write(|c| Repo::new(c).set_topic(&r, &t))
        })
        .await?;
        self.inner.lock().rooms.set_topic(&room, &topic);
        self.inner.hub.publish(
            &room_topic(&room),
            Event::ChatTopic {
                room: room.clone(),
                topic,
                by: user.name.clone(),
            },
        );
        Ok(Reply::Done)
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
        let (rows, more) = blocking(&self.inner.db, move |db| {
            db.read(|c| {
                let repo = Repo::new(c);
                match since {
                    Some(since) => repo.history_since(&r, since.min(i64::MAX as u64) as i64, limit),
                    None => repo.history_before(
                        &r,
                        before.map(|b| b.min(i64::MAX as u64) as i64),
                        limit,
                    ),
                }
            })
        })
        .await?;
        Ok(Reply::ChatHistory {
            room,
            messages: rows.into_iter().map(message_from_row).collect(),
            more,
        })
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
        let (rows, unread) = blocking(&self.inner.db, move |db| {
            db.write(|c| {
                let repo = Repo::new(c);
                let rows = match &with {
                    Some(other) => repo.conversation(&me, other, limit)?,
                    None => repo.take_unread(&me, limit)?,
                };
                Ok((rows, repo.unread_count(&me)?))
            })
        })
        .await?;
        Ok(Reply::ChatDms {
            messages: rows.into_iter().map(direct_from_row).collect(),
            unread,
        })
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
        Ok(Reply::ChatWho { users })
    }

    fn away(&self, user: &UserInfo, message: Option<String>) -> Result<Reply, ErrorBody> {
        if let Some(m) = &message
            && m.len() > MAX_TOPIC_TEXT
        {
            return Err(ErrorBody::new(
                ErrorCode::TooLarge,
                "away message is too long",
            ));
        }
        let rooms = {
            let mut state = self.inner.lock();
            state.presence.set_away(&user.name, message);
            state.rooms.rooms_of(&user.name)
        };
        self.announce_presence(&user.name, &rooms, crate::now_ms());
        Ok(Reply::Done)
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
