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
use std::time::Instant;

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

/// One request on its way: which, for whom, since when. Its answer
/// records the duration under the op and logs the request's line.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// The request id (the client's).
    pub id: u64,
    /// The session (connection) it came on.
    pub session: u64,
    /// [`agora_wire::Op::index`] of its operation.
    op: usize,
    /// Its operation's wire name.
    name: &'static str,
    at: Instant,
}

/// Starts one request. Id 0 is reserved for errors about frames that
/// could not be decoded, so a request carrying it is refused unrun: its
/// answer could not be told apart from such an error.
pub fn start(request: Request, shared: &Shared, session: &Arc<Session>) -> (Routed, Started) {
    shared.stats.count_request(&request.op);
    let id = request.id;
    let started = Started {
        id,
        session: session.id,
        op: request.op.index(),
        name: request.op.name(),
        at: Instant::now(),
    };
    if id == 0 {
        let refused = ErrorBody::bad_request(
            "request id 0 is reserved for errors about undecodable frames; use ids from 1",
        );
        return (Routed::Done(Err(refused)), started);
    }
    let op = request.op;
    let routed = std::panic::catch_unwind(AssertUnwindSafe(|| shared.services.route(op, session)))
        .unwrap_or_else(|_| Routed::Done(Err(panicked(shared, id))));
    (routed, started)
}

/// The encoded answer of a request routed to a future, once it resolves.
pub fn finish(
    shared: Arc<Shared>,
    started: Started,
    future: BoxFuture<'static, Result<Reply, ErrorBody>>,
) -> BoxFuture<'static, Bytes> {
    async move {
        let result = AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(panicked(&shared, started.id)));
        answer(&shared, started, result)
    }
    .boxed()
}

/// Encodes the answer to a request, counting errors, recording its
/// duration and logging its line (at info, target `agora::request`:
/// `--log-level info,agora::request=warn` leaves them out).
pub fn answer(shared: &Shared, started: Started, result: Result<Reply, ErrorBody>) -> Bytes {
    let took = started.at.elapsed();
    if let Some(h) = shared.stats.durations.get(started.op) {
        h.observe(took);
    }
    let status = match &result {
        Ok(_) => "ok",
        Err(error) => error.code.as_str(),
    };
    tracing::info!(
        target: "agora::request",
        session = started.session,
        id = started.id,
        op = started.name,
        status,
        duration_ms = took.as_secs_f64() * 1e3,
        "request"
    );
    let id = started.id;
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

#[cfg(test)]
mod tests {
    use agora_wire::{BaseOp, CacheOp, ChatOp, GameOp, Op};
    use serde_bytes::ByteBuf;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::session::PushLimits;

    /// Whether an operation must be a barrier.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        /// Changes what the session's later requests see.
        Barrier,
        /// May run beside the session's other requests.
        Concurrent,
    }

    /// A sample of the operation named `name`, and how it must be treated.
    /// Every wire name must have an arm: a new operation fails
    /// `every_op_is_classified…` until someone decides here whether it
    /// changes what later requests of its session see.
    fn classified(name: &str) -> (Op, Kind) {
        use Kind::{Barrier, Concurrent};
        let s = String::new;
        let (op, kind): (Op, Kind) = match name {
            "ping" => (BaseOp::Ping.into(), Concurrent),
            "register" => (
                BaseOp::Register {
                    name: s(),
                    password: s(),
                }
                .into(),
                Barrier,
            ),
            "login" => (
                BaseOp::Login {
                    name: s(),
                    password: s(),
                }
                .into(),
                Barrier,
            ),
            "whoami" => (BaseOp::Whoami.into(), Concurrent),
            "orgs" => (BaseOp::Orgs.into(), Concurrent),
            "subscribe" => (BaseOp::Subscribe { topics: vec![] }.into(), Concurrent),
            "unsubscribe" => (BaseOp::Unsubscribe { topics: vec![] }.into(), Concurrent),
            "ssh_key_add" => (BaseOp::SshKeyAdd { key: s() }.into(), Concurrent),
            "ssh_key_list" => (BaseOp::SshKeyList.into(), Concurrent),
            "ssh_key_remove" => (BaseOp::SshKeyRemove { fingerprint: s() }.into(), Concurrent),
            "chat_join" => (ChatOp::Join { room: s() }.into(), Barrier),
            "chat_leave" => (ChatOp::Leave { room: s() }.into(), Barrier),
            "chat_rooms" => (ChatOp::Rooms.into(), Concurrent),
            "chat_topic" => (
                ChatOp::Topic {
                    room: s(),
                    topic: s(),
                }
                .into(),
                Concurrent,
            ),
            "chat_send" => (
                ChatOp::Send {
                    room: s(),
                    text: s(),
                    action: false,
                }
                .into(),
                Concurrent,
            ),
            "chat_dm" => (
                ChatOp::Dm {
                    to: s(),
                    text: s(),
                    action: false,
                }
                .into(),
                Concurrent,
            ),
            "chat_history" => (
                ChatOp::History {
                    room: s(),
                    before: None,
                    since: None,
                    limit: None,
                }
                .into(),
                Concurrent,
            ),
            "chat_dms" => (
                ChatOp::Dms {
                    with: None,
                    limit: None,
                }
                .into(),
                Concurrent,
            ),
            "chat_who" => (ChatOp::Who { room: None }.into(), Concurrent),
            "chat_away" => (ChatOp::Away { message: None }.into(), Concurrent),
            "cache_command" => (
                CacheOp::Command {
                    args: vec![],
                    quiet: false,
                }
                .into(),
                Concurrent,
            ),
            "cache_subscribe" => (
                CacheOp::Subscribe {
                    channels: vec![],
                    patterns: vec![],
                }
                .into(),
                Concurrent,
            ),
            "cache_unsubscribe" => (
                CacheOp::Unsubscribe {
                    channels: vec![],
                    patterns: vec![],
                }
                .into(),
                Concurrent,
            ),
            "cache_publish" => (
                CacheOp::Publish {
                    channel: ByteBuf::new(),
                    message: ByteBuf::new(),
                }
                .into(),
                Concurrent,
            ),
            "cache_cluster_status" => (CacheOp::ClusterStatus.into(), Concurrent),
            // The job queue: no operation changes what later requests of
            // the session see, so none is a barrier.
            jobs if jobs.starts_with("jobs_") => (jobs_sample(jobs).into(), Concurrent),
            "metrics_now" => (agora_wire::MetricsOp::Now.into(), Concurrent),
            "metrics_watch" => (
                agora_wire::MetricsOp::Watch { view: "t".into() }.into(),
                Concurrent,
            ),
            "metrics_unwatch" => (agora_wire::MetricsOp::Unwatch.into(), Concurrent),
            "metrics_range" => (
                agora_wire::MetricsOp::Range {
                    metric: "cpu.total".into(),
                    from_ms: 0,
                    to_ms: 1,
                    step_ms: 1,
                }
                .into(),
                Concurrent,
            ),
            "metrics_alert_list" => (agora_wire::MetricsOp::AlertList.into(), Concurrent),
            "metrics_alert_add" => (
                agora_wire::MetricsOp::AlertAdd {
                    name: "r".into(),
                    metric: "cpu.total".into(),
                    op: ">".into(),
                    threshold: 1.0,
                    for_ms: 0,
                    severity: "info".into(),
                }
                .into(),
                Concurrent,
            ),
            "metrics_alert_rm" => (
                agora_wire::MetricsOp::AlertRm { name: "r".into() }.into(),
                Concurrent,
            ),
            "metrics_alert_silence" => (
                agora_wire::MetricsOp::AlertSilence {
                    name: "r".into(),
                    for_ms: 1,
                }
                .into(),
                Concurrent,
            ),
            "metrics_alert_history" => (
                agora_wire::MetricsOp::AlertHistory {
                    name: None,
                    limit: None,
                }
                .into(),
                Concurrent,
            ),
            // Game operations go through the game's own task, which
            // orders them; none changes what the session's later requests
            // see, so none is a barrier.
            "game_queue" | "game_cancel" | "game_challenge" | "game_accept" | "game_decline"
            | "game_move" | "game_resign" | "game_draw" | "game_watch" | "game_unwatch"
            | "game_show" | "game_list" | "game_leaderboard" | "game_replay" => {
                let time = agora_wire::game::TimeControl {
                    initial_ms: 60_000,
                    increment_ms: 0,
                };
                let op = match name {
                    "game_queue" => GameOp::Queue {
                        kinds: vec![],
                        time,
                    },
                    "game_cancel" => GameOp::Cancel,
                    "game_challenge" => GameOp::Challenge {
                        opponent: s(),
                        kind: s(),
                        time,
                    },
                    "game_accept" => GameOp::Accept { game: 1 },
                    "game_decline" => GameOp::Decline { game: 1 },
                    "game_move" => GameOp::Move {
                        game: 1,
                        seq: 0,
                        play: s(),
                    },
                    "game_resign" => GameOp::Resign { game: 1 },
                    "game_draw" => GameOp::Draw {
                        game: 1,
                        offer: true,
                    },
                    "game_watch" => GameOp::Watch { game: 1 },
                    "game_unwatch" => GameOp::Unwatch { game: 1 },
                    "game_show" => GameOp::Show { game: 1 },
                    "game_list" => GameOp::List,
                    "game_leaderboard" => GameOp::Leaderboard {
                        kind: None,
                        limit: None,
                    },
                    _ => GameOp::Replay { game: 1 },
                };
                (op.into(), Concurrent)
            }
            "metrics_signal" => (
                agora_wire::MetricsOp::Signal {
                    pid: 2,
                    signal: "TERM".into(),
                }
                .into(),
                Concurrent,
            ),
            other => panic!(
                "operation `{other}` is not classified: add it to `classified` in \
                 daemon/src/dispatch.rs, deciding whether it is a barrier"
            ),
        };
        assert_eq!(op.name(), name, "the sample of `{name}` is another op");
        (op, kind)
    }

    /// A sample of each jobs operation, by name.
    fn jobs_sample(name: &str) -> agora_wire::JobsOp {
        use agora_wire::JobsOp as J;
        let target = (None, false, None);
        match name {
            "jobs_enqueue" => J::Enqueue { jobs: vec![] },
            "jobs_claim" => J::Claim {
                queue: "q".into(),
                limit: 1,
                lease_ms: None,
                wait_ms: None,
            },
            "jobs_heartbeat" => J::Heartbeat {
                leases: vec![],
                lease_ms: None,
            },
            "jobs_complete" => J::Complete { jobs: vec![] },
            "jobs_fail" => J::Fail { jobs: vec![] },
            "jobs_get" => J::Get { id: 1 },
            "jobs_list" => J::List {
                state: None,
                queue: None,
                kind: None,
                before: None,
                limit: None,
            },
            "jobs_cancel" => J::Cancel { id: 1 },
            "jobs_retry" => J::Retry {
                id: target.0,
                all_dead: target.1,
                queue: target.2.clone(),
            },
            "jobs_discard" => J::Discard {
                id: target.0,
                all_dead: target.1,
                queue: target.2,
            },
            "jobs_stats" => J::Stats,
            "jobs_queue_set" => J::QueueSet {
                queue: "q".into(),
                paused: None,
                concurrency: None,
                rate: None,
            },
            "jobs_cron_add" => J::CronAdd {
                cron: Default::default(),
            },
            "jobs_cron_list" => J::CronList,
            "jobs_cron_remove" => J::CronRemove { name: "n".into() },
            other => panic!("no sample of `{other}` in jobs_sample"),
        }
    }

    #[test]
    fn every_op_is_classified_and_only_register_login_chat_join_and_chat_leave_are_barriers() {
        let mut barriers = Vec::new();
        for (service, name) in Op::names() {
            let (op, kind) = classified(name);
            assert_eq!(op.service(), service, "{name}");
            assert_eq!(
                Services::is_barrier(&op),
                kind == Kind::Barrier,
                "Services::is_barrier({name})"
            );
            let request = Request { id: 1, op };
            assert_eq!(is_barrier(&request), kind == Kind::Barrier, "{name}");
            if kind == Kind::Barrier {
                barriers.push(name);
            }
        }
        assert_eq!(barriers, ["register", "login", "chat_join", "chat_leave"]);
    }

    #[test]
    fn a_request_with_id_0_is_never_a_barrier() {
        for (_, name) in Op::names() {
            let (op, _) = classified(name);
            assert!(!is_barrier(&Request { id: 0, op }), "{name}");
        }
    }

    async fn shared() -> (tempfile::TempDir, Shared) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config::new(dir.path().to_path_buf());
        let shared = Shared::open(config, CancellationToken::new())
            .await
            .unwrap();
        (dir, shared)
    }

    fn session() -> Arc<Session> {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        Arc::new(Session::new(1, "test".into(), tx, PushLimits::default()))
    }

    #[tokio::test]
    async fn request_id_0_is_refused_with_bad_request_without_running_the_op() {
        let (_dir, shared) = shared().await;
        let session = session();
        let subscribe = |id| Request {
            id,
            op: BaseOp::Subscribe {
                topics: vec!["news".into()],
            }
            .into(),
        };
        let (Routed::Done(Err(error)), _) = start(subscribe(0), &shared, &session) else {
            panic!("id 0 was not refused at once");
        };
        assert_eq!(error.code, ErrorCode::BadRequest);
        assert!(error.message.contains("id 0"), "{}", error.message);
        assert!(session.topics().is_empty(), "the op ran");
        assert_eq!(shared.hub.subscribers("news"), 0, "the op ran");

        // A login, which otherwise always answers later, is refused at once.
        let login = Request {
            id: 0,
            op: BaseOp::Login {
                name: "alice".into(),
                password: "password".into(),
            }
            .into(),
        };
        assert!(matches!(
            start(login, &shared, &session).0,
            Routed::Done(Err(ErrorBody {
                code: ErrorCode::BadRequest,
                ..
            }))
        ));

        // The same request with a real id runs.
        assert!(matches!(
            start(subscribe(1), &shared, &session).0,
            Routed::Done(Ok(_))
        ));
        assert_eq!(session.topics(), ["news"]);
        assert_eq!(shared.hub.subscribers("news"), 1);
    }
}
