//! Routes each operation to the service that owns it.
//!
//! This is the one place that knows every [`Op`]; a new service adds its
//! variants to `agora_wire::Op` and one arm here that calls its module.

use std::sync::Arc;

use agora_wire::names::validate_topic;
use agora_wire::{ErrorBody, Event, Op, Reply};
use futures::FutureExt as _;
use futures::future::BoxFuture;

use crate::Shared;
use crate::hub::SESSIONS_TOPIC;
use crate::session::Session;

/// Whether an operation changes who the session is. Such operations wait
/// for the session's earlier requests to finish and hold back later ones,
/// so a pipelined `login` then `whoami` sees the login.
pub fn is_barrier(op: &Op) -> bool {
    matches!(
        op,
        Op::Register { .. } | Op::Login { .. } | Op::ChatJoin { .. } | Op::ChatLeave { .. }
    )
}

/// How a request is answered: at once (most operations), or by a future
/// that waits for blocking work (password hashing, SQLite).
pub enum Routed {
    /// The answer is ready.
    Done(Result<Reply, ErrorBody>),
    /// The answer comes when this future finishes.
    Later(BoxFuture<'static, Result<Reply, ErrorBody>>),
}

/// Routes one request to its service. Operations that need no I/O are
/// answered synchronously, so the connection task answers a ping without
/// allocating a future or waking another task.
pub fn route(op: Op, shared: &Arc<Shared>, session: &Arc<Session>) -> Routed {
    match op {
        Op::Ping => Routed::Done(Ok(Reply::Pong {
            server_time_ms: crate::now_ms(),
        })),
        Op::Register { name, password } => {
            let (shared, session) = (shared.clone(), session.clone());
            Routed::Later(
                async move {
                    let signed = shared.accounts.register(&name, &password).await?;
                    shared.chat.on_user_created(&signed.user);
                    Ok(signed_in(&shared, &session, signed).await)
                }
                .boxed(),
            )
        }
        Op::Login { name, password } => {
            let (shared, session) = (shared.clone(), session.clone());
            Routed::Later(
                async move {
                    let signed = shared.accounts.login(&name, &password).await?;
                    Ok(signed_in(&shared, &session, signed).await)
                }
                .boxed(),
            )
        }
        Op::Whoami => Routed::Done(Ok(Reply::Whoami {
            user: session.user(),
            session: session.info(),
        })),
        Op::Subscribe { topics } => Routed::Done(check_topics(&topics).map(|()| {
            shared.hub.subscribe(session, &topics);
            Reply::Subscribed {
                topics: session.add_topics(&topics),
            }
        })),
        Op::Unsubscribe { topics } => Routed::Done(check_topics(&topics).map(|()| {
            shared.hub.unsubscribe(session.id, &topics);
            Reply::Subscribed {
                topics: session.remove_topics(&topics),
            }
        })),
        chat_op @ (Op::ChatJoin { .. }
        | Op::ChatLeave { .. }
        | Op::ChatRooms
        | Op::ChatTopic { .. }
        | Op::ChatSend { .. }
        | Op::ChatDm { .. }
        | Op::ChatHistory { .. }
        | Op::ChatDms { .. }
        | Op::ChatWho { .. }
        | Op::ChatAway { .. }) => crate::chat::route(chat_op, shared, session),
        cache_op @ (Op::CacheCommand { .. }
        | Op::CacheSubscribe { .. }
        | Op::CacheUnsubscribe { .. }
        | Op::CachePublish { .. }) => crate::cache::native::route(cache_op, shared, session),
    }
}

/// Signs the session in as `signed.user`. Signing in again as someone
/// else first signs the previous user out of this session.
async fn signed_in(
    shared: &Shared,
    session: &Arc<Session>,
    signed: crate::accounts::SignedIn,
) -> Reply {
    if session.user().is_some_and(|u| u.id == signed.user.id) {
        return Reply::Session {
            user: signed.user,
            token: signed.token,
            expires_at_ms: signed.expires_at_ms,
        };
    }
    if session.user().is_some() {
        shared.chat.on_session_closed(session);
        let topics = session.topics();
        shared.hub.unsubscribe(session.id, &topics);
        session.remove_topics(&topics);
    }
    session.set_user(signed.user.clone());
    shared.chat.on_signed_in(session).await;
    shared.hub.publish(
        SESSIONS_TOPIC,
        Event::SessionOpened {
            session: session.info(),
        },
    );
    Reply::Session {
        user: signed.user,
        token: signed.token,
        expires_at_ms: signed.expires_at_ms,
    }
}

fn check_topics(topics: &[String]) -> Result<(), ErrorBody> {
    if topics.is_empty() {
        return Err(ErrorBody::bad_request("name at least one topic"));
    }
    if topics.len() > 64 {
        return Err(ErrorBody::bad_request("at most 64 topics per request"));
    }
    topics
        .iter()
        .try_for_each(|t| validate_topic(t))
        .map_err(ErrorBody::bad_request)
}
