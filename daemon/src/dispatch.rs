//! From a decoded request to its encoded answer, for any service.
//!
//! [`start`] counts the request under its own name, refuses what no
//! service should see (request id 0), routes the operation through
//! [`crate::services::Services`] and contains a panic in its handler;
//! [`finish`] waits for a later answer, again containing a panic, and
//! [`answer`] encodes the result as the frame the client reads. None of it
//! knows which services exist.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use agora_wire::{ErrorBody, ErrorCode, Reply, Request, ServerFrame, encode};
use bytes::Bytes;
use futures::FutureExt as _;
use futures::future::BoxFuture;

use crate::Shared;
use crate::service::Routed;
use crate::services::Services;
use crate::session::Session;
use crate::stats::incr;

/// Whether the request must run alone: the connection finishes its
/// earlier requests first and holds back later ones (see
/// [`crate::service::Service::is_barrier`]).
pub fn is_barrier(request: &Request) -> bool {
    request.id != 0 && Services::is_barrier(&request.op)
}

/// Starts one request. Id 0 is reserved for errors about frames that
/// could not be decoded, so a request carrying it is refused unrun: its
/// answer could not be told apart from such an error.
pub fn start(request: Request, shared: &Shared, session: &Arc<Session>) -> Routed {
    shared.stats.count_request(&request.op);
    let id = request.id;
    if id == 0 {
        return Routed::Done(Err(ErrorBody::bad_request(
            "request id 0 is reserved for errors about undecodable frames; use ids from 1",
        )));
    }
    let op = request.op;
    std::panic::catch_unwind(AssertUnwindSafe(|| shared.services.route(op, session)))
        .unwrap_or_else(|_| Routed::Done(Err(panicked(shared, id))))
}

/// The encoded answer of a request routed to a future, once it resolves.
pub fn finish(
    shared: Arc<Shared>,
    id: u64,
    future: BoxFuture<'static, Result<Reply, ErrorBody>>,
) -> BoxFuture<'static, Bytes> {
    async move {
        let result = AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(panicked(&shared, id)));
        answer(&shared, id, result)
    }
    .boxed()
}

/// Encodes the answer to request `id`, counting errors.
pub fn answer(shared: &Shared, id: u64, result: Result<Reply, ErrorBody>) -> Bytes {
    let frame = match result {
        Ok(body) => ServerFrame::Reply { id, body },
        Err(error) => {
            shared.stats.count_error(error.code);
            ServerFrame::Error { id, error }
        }
    };
    encode(&frame).unwrap_or_else(|err| {
        tracing::error!(%err, "cannot encode reply");
        Bytes::new()
    })
}

/// Records a handler panic; the request is answered as an internal error,
/// and neither the connection nor the daemon notices otherwise.
fn panicked(shared: &Shared, id: u64) -> ErrorBody {
    incr(&shared.stats.handler_panics);
    tracing::error!(request = id, "request handler panicked");
    ErrorBody::new(ErrorCode::Internal, "internal error; see the daemon's log")
}
