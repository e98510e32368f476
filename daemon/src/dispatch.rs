//! Routes each operation to the service that owns it.
//!
//! This is the one place that knows every [`Op`]; a new service adds its
//! variants to `agora_wire::Op` and one arm here that calls its module.

use std::sync::Arc;

use agora_wire::names::validate_topic;
use agora_wire::{ErrorBody, Event, Op, Reply};

use crate::Shared;
use crate::hub::SESSIONS_TOPIC;
use crate::session::Session;

/// Whether an operation changes who the session is. Such operations wait
/// for the session's earlier requests to finish and hold back later ones,
/// so a pipelined `login` then `whoami` sees the login.
pub fn is_barrier(op: &Op) -> bool {
    matches!(op, Op::Register { .. } | Op::Login { .. })
}

/// Handles one request.
pub async fn handle(op: Op, shared: &Shared, session: &Arc<Session>) -> Result<Reply, ErrorBody> {
    match op {
        Op::Ping => Ok(Reply::Pong {
            server_time_ms: crate::now_ms(),
        }),
        Op::Register { name, password } => {
            let signed = shared.accounts.register(&name, &password).await?;
            Ok(signed_in(shared, session, signed))
        }
        Op::Login { name, password } => {
            let signed = shared.accounts.login(&name, &password).await?;
            Ok(signed_in(shared, session, signed))
        }
        Op::Whoami => Ok(Reply::Whoami {
            user: session.user(),
            session: session.info(),
        }),
        Op::Subscribe { topics } => {
            check_topics(&topics)?;
            shared.hub.subscribe(session, &topics);
            Ok(Reply::Subscribed {
                topics: session.add_topics(&topics),
            })
        }
        Op::Unsubscribe { topics } => {
            check_topics(&topics)?;
            shared.hub.unsubscribe(session.id, &topics);
            Ok(Reply::Subscribed {
                topics: session.remove_topics(&topics),
            })
        }
    }
}

fn signed_in(shared: &Shared, session: &Arc<Session>, signed: crate::accounts::SignedIn) -> Reply {
    session.set_user(signed.user.clone());
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
