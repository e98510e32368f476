//! proptest strategies for every message, shared by the crate's tests.
//! `message.rs`'s tests check that they cover every wire name and every
//! field the definitions list, so a new message cannot go untested.

use proptest::prelude::*;
use serde_bytes::ByteBuf;

use crate::chat::{ChatMessage, DirectMessage, LeaveReason, Presence, RoomInfo, Status};
use crate::error::{ErrorBody, ErrorCode};
use crate::game::{
    EndReason, GameResult, GameState, GameStatus, GameSummary, RatingChange, RatingEntry,
    TimeControl,
};
use crate::jobs::{
    AttemptError, Claimed, Completion, CronInfo, Failure, Job, JobChange, JobState, Lease, NewCron,
    NewJob, QueueInfo, StateCounts,
};
use crate::message::{Event, Op, Push, Reply, ServerFrame, Welcome};
use crate::metrics::{Alert, AlertState, Point, ProcessInfo, Sample, Transition, Viewer};
use crate::{
    BaseEvent, BaseOp, BaseReply, CacheEvent, CacheOp, CacheReply, CacheValue, ChatEvent, ChatOp,
    ChatReply, ClusterNode, GameEvent, GameOp, GameReply, JobsEvent, JobsOp, JobsReply,
    MetricsEvent, MetricsOp, MetricsReply, SessionInfo, UserInfo,
};

pub fn any_string() -> impl Strategy<Value = String> {
    ".{0,40}"
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    proptest::option::of(s)
}

pub fn any_buf() -> impl Strategy<Value = ByteBuf> {
    proptest::collection::vec(any::<u8>(), 0..16).prop_map(ByteBuf::from)
}

fn bufs(max: usize) -> impl Strategy<Value = Vec<ByteBuf>> {
    proptest::collection::vec(any_buf(), 0..max)
}

fn strings(max: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(any_string(), 0..max)
}

pub fn any_user() -> impl Strategy<Value = UserInfo> {
    (any::<i64>(), any_string()).prop_map(|(id, name)| UserInfo { id, name })
}

pub fn any_session() -> impl Strategy<Value = SessionInfo> {
    (any::<u64>(), opt(any_string()), any_string()).prop_map(|(id, user, client)| SessionInfo {
        id,
        user,
        client,
    })
}

pub fn any_op() -> impl Strategy<Value = Op> {
    let base = prop_oneof![
        Just(BaseOp::Ping),
        Just(BaseOp::Whoami),
        Just(BaseOp::Orgs),
        (any_string(), any_string())
            .prop_map(|(name, password)| BaseOp::Register { name, password }),
        (any_string(), any_string()).prop_map(|(name, password)| BaseOp::Login { name, password }),
        strings(4).prop_map(|topics| BaseOp::Subscribe { topics }),
        strings(4).prop_map(|topics| BaseOp::Unsubscribe { topics }),
        any_string().prop_map(|key| BaseOp::SshKeyAdd { key }),
        Just(BaseOp::SshKeyList),
        any_string().prop_map(|fingerprint| BaseOp::SshKeyRemove { fingerprint }),
    ]
    .prop_map(Op::from);
    let chat =
        prop_oneof![
            any_string().prop_map(|room| ChatOp::Join { room }),
            any_string().prop_map(|room| ChatOp::Leave { room }),
            Just(ChatOp::Rooms),
            (any_string(), any_string()).prop_map(|(room, topic)| ChatOp::Topic { room, topic }),
            (any_string(), any_string(), any::<bool>())
                .prop_map(|(room, text, action)| ChatOp::Send { room, text, action }),
            (any_string(), any_string(), any::<bool>()).prop_map(|(to, text, action)| ChatOp::Dm {
                to,
                text,
                action
            }),
            (
                any_string(),
                opt(any::<u64>()),
                opt(any::<u64>()),
                opt(any::<u32>())
            )
                .prop_map(|(room, before, since, limit)| ChatOp::History {
                    room,
                    before,
                    since,
                    limit
                }),
            (opt(any_string()), opt(any::<u32>()))
                .prop_map(|(with, limit)| ChatOp::Dms { with, limit }),
            opt(any_string()).prop_map(|room| ChatOp::Who { room }),
            opt(any_string()).prop_map(|message| ChatOp::Away { message }),
        ]
        .prop_map(Op::from);
    let cache = prop_oneof![
        (bufs(4), any::<bool>()).prop_map(|(args, quiet)| CacheOp::Command { args, quiet }),
        (bufs(3), bufs(3))
            .prop_map(|(channels, patterns)| CacheOp::Subscribe { channels, patterns }),
        (bufs(3), bufs(3))
            .prop_map(|(channels, patterns)| CacheOp::Unsubscribe { channels, patterns }),
        (any_buf(), any_buf()).prop_map(|(channel, message)| CacheOp::Publish { channel, message }),
        Just(CacheOp::ClusterStatus),
    ]
    .prop_map(Op::from);
    let metrics = prop_oneof![
        Just(MetricsOp::Now),
        any_string().prop_map(|view| MetricsOp::Watch { view }),
        Just(MetricsOp::Unwatch),
        (any_string(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
            |(metric, from_ms, to_ms, step_ms)| MetricsOp::Range {
                metric,
                from_ms,
                to_ms,
                step_ms
            }
        ),
        Just(MetricsOp::AlertList),
        (
            any_string(),
            any_string(),
            any_string(),
            any_float(),
            any::<u64>(),
            any_string()
        )
            .prop_map(|(name, metric, op, threshold, for_ms, severity)| {
                MetricsOp::AlertAdd {
                    name,
                    metric,
                    op,
                    threshold,
                    for_ms,
                    severity,
                }
            }),
        any_string().prop_map(|name| MetricsOp::AlertRm { name }),
        (any_string(), any::<u64>())
            .prop_map(|(name, for_ms)| MetricsOp::AlertSilence { name, for_ms }),
        (opt(any_string()), opt(any::<u32>()))
            .prop_map(|(name, limit)| MetricsOp::AlertHistory { name, limit }),
        (any::<u32>(), any_string()).prop_map(|(pid, signal)| MetricsOp::Signal { pid, signal }),
    ]
    .prop_map(Op::from);
    prop_oneof![
        base,
        chat,
        cache,
        metrics,
        any_jobs_op().prop_map(Op::from),
        any_game_op().prop_map(Op::from)
    ]
}

fn any_float() -> impl Strategy<Value = f64> {
    -1e9f64..1e9
}

pub fn any_sample() -> impl Strategy<Value = Sample> {
    let process = (
        any::<u32>(),
        any_string(),
        any_string(),
        any_float(),
        any::<u64>(),
        any_string(),
        any_string(),
    )
        .prop_map(
            |(pid, name, user, cpu_pct, rss_bytes, state, cmd)| ProcessInfo {
                pid,
                name,
                user,
                cpu_pct,
                rss_bytes,
                state,
                cmd,
            },
        );
    (
        any::<u64>(),
        proptest::collection::btree_map(any_string(), any_float(), 0..4),
        proptest::collection::vec(process, 0..3),
    )
        .prop_map(|(ts_ms, values, processes)| Sample {
            ts_ms,
            values,
            processes,
        })
}

fn any_alert_state() -> impl Strategy<Value = AlertState> {
    prop_oneof![
        Just(AlertState::Ok),
        Just(AlertState::Pending),
        Just(AlertState::Firing),
        Just(AlertState::Resolved)
    ]
}

/// A node of `cache_cluster`.
pub fn any_cluster_node() -> impl Strategy<Value = ClusterNode> {
    (
        (any_string(), any_string(), any_string(), any::<bool>()),
        (opt(any_string()), opt(any_string()), opt(any::<u64>())),
        (any::<u64>(), opt(any_string())),
    )
        .prop_map(
            |((id, name, state, myself), (resp, gossip, keys), (slots, lag))| ClusterNode {
                id,
                name,
                state,
                myself,
                resp,
                gossip,
                keys,
                slots,
                lag,
            },
        )
}

pub fn any_alert() -> impl Strategy<Value = Alert> {
    (
        (any_string(), any_string(), any_string(), any_float()),
        (any::<u64>(), any_string(), any_alert_state(), any::<u64>()),
        (opt(any_float()), opt(any::<u64>())),
    )
        .prop_map(
            |(
                (name, metric, op, threshold),
                (for_ms, severity, state, since_ms),
                (value, silenced_until_ms),
            )| Alert {
                name,
                metric,
                op,
                threshold,
                for_ms,
                severity,
                state,
                since_ms,
                value,
                silenced_until_ms,
            },
        )
}

pub fn any_transition() -> impl Strategy<Value = Transition> {
    (
        any::<u64>(),
        any_string(),
        any_alert_state(),
        any_alert_state(),
        any_float(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(id, rule, from, to, value, ts_ms, silenced)| Transition {
            id,
            rule,
            from,
            to,
            value,
            ts_ms,
            silenced,
        })
}

pub fn any_viewer() -> impl Strategy<Value = Viewer> {
    (any::<u64>(), any_string(), any::<u64>(), any_string()).prop_map(
        |(session, user, since_ms, view)| Viewer {
            session,
            user,
            since_ms,
            view,
        },
    )
}

fn any_state() -> impl Strategy<Value = JobState> {
    proptest::sample::select(JobState::ALL.to_vec())
}

fn ids() -> impl Strategy<Value = Vec<u64>> {
    proptest::collection::vec(any::<u64>(), 0..3)
}

pub fn any_new_job() -> impl Strategy<Value = NewJob> {
    (
        (
            any_string(),
            opt(any_string()),
            opt(any_string()),
            opt(any::<u8>()),
        ),
        (opt(any::<u64>()), opt(any::<u64>()), opt(any::<u32>())),
        (opt(any_string()), opt(any::<u64>()), strings(3)),
    )
        .prop_map(
            |(
                (kind, queue, args, priority),
                (run_at_ms, delay_ms, max_attempts),
                (unique_key, timeout_ms, tags),
            )| NewJob {
                kind,
                queue,
                args,
                priority,
                run_at_ms,
                delay_ms,
                max_attempts,
                unique_key,
                timeout_ms,
                tags,
            },
        )
}

fn any_lease() -> impl Strategy<Value = Lease> {
    (any::<u64>(), any::<u32>()).prop_map(|(id, attempt)| Lease { id, attempt })
}

pub fn any_jobs_op() -> impl Strategy<Value = JobsOp> {
    prop_oneof![
        proptest::collection::vec(any_new_job(), 0..3).prop_map(|jobs| JobsOp::Enqueue { jobs }),
        (
            any_string(),
            any::<u32>(),
            opt(any::<u64>()),
            opt(any::<u64>())
        )
            .prop_map(|(queue, limit, lease_ms, wait_ms)| JobsOp::Claim {
                queue,
                limit,
                lease_ms,
                wait_ms
            }),
        (
            proptest::collection::vec(any_lease(), 0..3),
            opt(any::<u64>())
        )
            .prop_map(|(leases, lease_ms)| JobsOp::Heartbeat { leases, lease_ms }),
        proptest::collection::vec(
            (any::<u64>(), any::<u32>(), opt(any_string())).prop_map(|(id, attempt, result)| {
                Completion {
                    id,
                    attempt,
                    result,
                }
            }),
            0..3
        )
        .prop_map(|jobs| JobsOp::Complete { jobs }),
        proptest::collection::vec(
            (
                any::<u64>(),
                any::<u32>(),
                any_string(),
                opt(any::<u64>()),
                any::<bool>()
            )
                .prop_map(|(id, attempt, error, retry_in_ms, discard)| Failure {
                    id,
                    attempt,
                    error,
                    retry_in_ms,
                    discard
                }),
            0..3
        )
        .prop_map(|jobs| JobsOp::Fail { jobs }),
        any::<u64>().prop_map(|id| JobsOp::Get { id }),
        (
            opt(any_state()),
            opt(any_string()),
            opt(any_string()),
            opt(any::<u64>()),
            opt(any::<u32>())
        )
            .prop_map(|(state, queue, kind, before, limit)| JobsOp::List {
                state,
                queue,
                kind,
                before,
                limit
            }),
        any::<u64>().prop_map(|id| JobsOp::Cancel { id }),
        (opt(any::<u64>()), any::<bool>(), opt(any_string())).prop_map(|(id, all_dead, queue)| {
            JobsOp::Retry {
                id,
                all_dead,
                queue,
            }
        }),
        (opt(any::<u64>()), any::<bool>(), opt(any_string())).prop_map(|(id, all_dead, queue)| {
            JobsOp::Discard {
                id,
                all_dead,
                queue,
            }
        }),
        Just(JobsOp::Stats),
        (
            any_string(),
            opt(any::<bool>()),
            opt(any::<u32>()),
            opt(any::<u32>())
        )
            .prop_map(|(queue, paused, concurrency, rate)| JobsOp::QueueSet {
                queue,
                paused,
                concurrency,
                rate
            }),
        (any_string(), any_string(), any_new_job(), any::<bool>()).prop_map(
            |(name, expr, job, catch_up)| JobsOp::CronAdd {
                cron: NewCron {
                    name,
                    expr,
                    job,
                    catch_up
                }
            }
        ),
        Just(JobsOp::CronList),
        any_string().prop_map(|name| JobsOp::CronRemove { name }),
    ]
}

fn any_counts() -> impl Strategy<Value = StateCounts> {
    proptest::collection::vec(any::<u64>(), 7).prop_map(|n| StateCounts {
        scheduled: n[0],
        available: n[1],
        running: n[2],
        retryable: n[3],
        completed: n[4],
        dead: n[5],
        cancelled: n[6],
    })
}

pub fn any_job() -> impl Strategy<Value = Job> {
    (
        (
            any::<u64>(),
            any_string(),
            any_string(),
            any_string(),
            any::<u8>(),
            any_state(),
        ),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
        ),
        (
            opt(any::<u64>()),
            opt(any::<u64>()),
            proptest::collection::vec(
                (any::<u32>(), any::<u64>(), any_string()).prop_map(|(attempt, at_ms, message)| {
                    AttemptError {
                        attempt,
                        at_ms,
                        message,
                    }
                }),
                0..3,
            ),
            opt(any_string()),
            opt(any_string()),
            opt(any::<u64>()),
            strings(3),
        ),
    )
        .prop_map(
            |(
                (id, queue, kind, args, priority, state),
                (attempt, max_attempts, run_at_ms, inserted_at_ms, scheduled_at_ms),
                (attempted_at_ms, finished_at_ms, errors, result, unique_key, timeout_ms, tags),
            )| Job {
                id,
                queue,
                kind,
                args,
                priority,
                state,
                attempt,
                max_attempts,
                run_at_ms,
                inserted_at_ms,
                scheduled_at_ms,
                attempted_at_ms,
                finished_at_ms,
                errors,
                result,
                unique_key,
                timeout_ms,
                tags,
            },
        )
}

pub fn any_queue() -> impl Strategy<Value = QueueInfo> {
    (
        (any_string(), any::<bool>(), any::<u32>(), any::<u32>()),
        any_counts(),
        proptest::collection::vec(any::<u32>(), 0..4),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
    )
        .prop_map(
            |(
                (name, paused, concurrency, rate),
                states,
                throughput,
                (wait_p50_ms, wait_p99_ms, run_p50_ms, run_p99_ms),
            )| QueueInfo {
                name,
                paused,
                concurrency,
                rate,
                states,
                throughput,
                wait_p50_ms,
                wait_p99_ms,
                run_p50_ms,
                run_p99_ms,
            },
        )
}

fn any_cron() -> impl Strategy<Value = CronInfo> {
    (
        (
            any_string(),
            any_string(),
            any_string(),
            any_string(),
            any_string(),
        ),
        (any::<u8>(), any::<u32>(), opt(any::<u64>()), any::<bool>()),
        (any::<u64>(), opt(any::<u64>()), opt(any::<u64>())),
    )
        .prop_map(
            |(
                (name, expr, kind, queue, args),
                (priority, max_attempts, timeout_ms, catch_up),
                (next_run_ms, last_run_ms, last_job),
            )| CronInfo {
                name,
                expr,
                kind,
                queue,
                args,
                priority,
                max_attempts,
                timeout_ms,
                catch_up,
                next_run_ms,
                last_run_ms,
                last_job,
            },
        )
}

pub fn any_jobs_reply() -> impl Strategy<Value = JobsReply> {
    let claimed = (
        (any::<u64>(), any_string(), any_string(), any_string()),
        (any::<u32>(), any::<u32>(), opt(any::<u64>()), any::<u64>()),
    )
        .prop_map(
            |((id, queue, kind, args), (attempt, max_attempts, timeout_ms, lease_until_ms))| {
                Claimed {
                    id,
                    queue,
                    kind,
                    args,
                    attempt,
                    max_attempts,
                    timeout_ms,
                    lease_until_ms,
                }
            },
        );
    prop_oneof![
        (ids(), ids()).prop_map(|(ids, existing)| JobsReply::Enqueued { ids, existing }),
        proptest::collection::vec(claimed, 0..3).prop_map(|jobs| JobsReply::Claimed { jobs }),
        (any::<u64>(), ids(), ids()).prop_map(|(lease_until_ms, cancelled, lost)| {
            JobsReply::Heartbeat {
                lease_until_ms,
                cancelled,
                lost,
            }
        }),
        (ids(), ids()).prop_map(|(acked, stale)| JobsReply::Acked { acked, stale }),
        any_job().prop_map(|job| JobsReply::Job { job: Box::new(job) }),
        (proptest::collection::vec(any_job(), 0..3), any::<bool>())
            .prop_map(|(jobs, more)| JobsReply::List { jobs, more }),
        any::<u64>().prop_map(|count| JobsReply::Count { count }),
        (any_counts(), proptest::collection::vec(any_queue(), 0..3))
            .prop_map(|(states, queues)| JobsReply::Stats { states, queues }),
        any_queue().prop_map(|queue| JobsReply::Queue {
            queue: Box::new(queue)
        }),
        any_cron().prop_map(|cron| JobsReply::Cron {
            cron: Box::new(cron)
        }),
        proptest::collection::vec(any_cron(), 0..3).prop_map(|crons| JobsReply::Crons { crons }),
    ]
}

pub fn any_jobs_event() -> impl Strategy<Value = JobsEvent> {
    let change = (
        any::<u64>(),
        any_string(),
        any_string(),
        opt(any_state()),
        any::<u32>(),
    )
        .prop_map(|(id, queue, kind, state, attempt)| JobChange {
            id,
            queue,
            kind,
            state,
            attempt,
        });
    prop_oneof![
        proptest::collection::vec(change, 0..3).prop_map(|changes| JobsEvent::Changed { changes }),
        any_queue().prop_map(|queue| JobsEvent::Queue {
            queue: Box::new(queue)
        }),
    ]
}

fn any_time() -> impl Strategy<Value = TimeControl> {
    (any::<u64>(), any::<u64>()).prop_map(|(initial_ms, increment_ms)| TimeControl {
        initial_ms,
        increment_ms,
    })
}

fn any_game_op() -> BoxedStrategy<GameOp> {
    prop_oneof![
        (strings(3), any_time()).prop_map(|(kinds, time)| GameOp::Queue { kinds, time }),
        Just(GameOp::Cancel),
        (any_string(), any_string(), any_time()).prop_map(|(opponent, kind, time)| {
            GameOp::Challenge {
                opponent,
                kind,
                time,
            }
        }),
        any::<u64>().prop_map(|game| GameOp::Accept { game }),
        any::<u64>().prop_map(|game| GameOp::Decline { game }),
        (any::<u64>(), any::<u64>(), any_string()).prop_map(|(game, seq, play)| GameOp::Move {
            game,
            seq,
            play
        }),
        any::<u64>().prop_map(|game| GameOp::Resign { game }),
        (any::<u64>(), any::<bool>()).prop_map(|(game, offer)| GameOp::Draw { game, offer }),
        any::<u64>().prop_map(|game| GameOp::Watch { game }),
        any::<u64>().prop_map(|game| GameOp::Unwatch { game }),
        any::<u64>().prop_map(|game| GameOp::Show { game }),
        Just(GameOp::List),
        (opt(any_string()), opt(any::<u32>()))
            .prop_map(|(kind, limit)| GameOp::Leaderboard { kind, limit }),
        any::<u64>().prop_map(|game| GameOp::Replay { game }),
    ]
    .boxed()
}

fn any_game_status() -> impl Strategy<Value = GameStatus> {
    prop_oneof![
        Just(GameStatus::Waiting),
        Just(GameStatus::InProgress),
        Just(GameStatus::Finished)
    ]
}

fn any_game_result() -> BoxedStrategy<GameResult> {
    let reason = prop_oneof![
        Just(EndReason::Win),
        Just(EndReason::Draw),
        Just(EndReason::Resign),
        Just(EndReason::Timeout),
        Just(EndReason::Abandoned),
        Just(EndReason::Aborted),
    ];
    let change =
        (any_string(), any::<i64>(), any::<i64>()).prop_map(|(user, before, after)| RatingChange {
            user,
            before,
            after,
        });
    (
        reason,
        opt(any_string()),
        proptest::collection::vec(change, 0..3),
    )
        .prop_map(|(reason, winner, ratings)| GameResult {
            reason,
            winner,
            ratings,
        })
        .boxed()
}

pub fn any_game_state() -> BoxedStrategy<GameState> {
    let head = (
        any::<u64>(),
        any_string(),
        strings(3),
        any_time(),
        any_game_status(),
        any::<u64>(),
        strings(3),
        strings(3),
    )
        .boxed();
    let tail = (
        opt(any_string()),
        strings(3),
        proptest::collection::vec(any::<u64>(), 0..3),
        proptest::collection::vec(any::<bool>(), 0..3),
        proptest::collection::vec(any::<u64>(), 0..3),
        any::<u32>(),
        opt(any_string()),
        opt(any_game_result()),
        any::<u64>(),
    )
        .boxed();
    (head, tail)
        .prop_map(
            |(
                (id, kind, players, time, status, seq, moves, board),
                (
                    turn,
                    legal,
                    clocks_ms,
                    connected,
                    deadlines_ms,
                    spectators,
                    draw_offer,
                    result,
                    now_ms,
                ),
            )| GameState {
                id,
                kind,
                players,
                time,
                status,
                seq,
                moves,
                board,
                turn,
                legal,
                clocks_ms,
                connected,
                deadlines_ms,
                spectators,
                draw_offer,
                result,
                now_ms,
            },
        )
        .boxed()
}

fn any_game_summary() -> BoxedStrategy<GameSummary> {
    (
        any::<u64>(),
        any_string(),
        strings(3),
        any_time(),
        any_game_status(),
        any::<u64>(),
        any::<u32>(),
    )
        .prop_map(
            |(id, kind, players, time, status, seq, spectators)| GameSummary {
                id,
                kind,
                players,
                time,
                status,
                seq,
                spectators,
            },
        )
        .boxed()
}

fn any_rating_entry() -> BoxedStrategy<RatingEntry> {
    (
        any_string(),
        any_string(),
        any::<i64>(),
        any::<i64>(),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
    )
        .prop_map(
            |(user, kind, rating, deviation, (played, won, lost, drawn))| RatingEntry {
                user,
                kind,
                rating,
                deviation,
                played,
                won,
                lost,
                drawn,
            },
        )
        .boxed()
}

fn any_game_reply() -> BoxedStrategy<GameReply> {
    prop_oneof![
        (strings(3), any_time()).prop_map(|(kinds, time)| GameReply::Queued { kinds, time }),
        any_game_state().prop_map(|state| GameReply::State {
            state: Box::new(state)
        }),
        (any::<u64>(), any::<u64>()).prop_map(|(game, seq)| GameReply::Moved { game, seq }),
        proptest::collection::vec(any_game_summary(), 0..3)
            .prop_map(|games| GameReply::Games { games }),
        proptest::collection::vec(any_rating_entry(), 0..3)
            .prop_map(|entries| GameReply::Leaderboard { entries }),
        (
            any_game_state(),
            proptest::collection::vec(strings(3), 0..3)
        )
            .prop_map(|(state, positions)| GameReply::Replay {
                state: Box::new(state),
                positions
            }),
    ]
    .boxed()
}

fn any_game_event() -> BoxedStrategy<GameEvent> {
    prop_oneof![
        any_game_summary().prop_map(|game| GameEvent::Challenged { game }),
        any_game_state().prop_map(|state| GameEvent::Started {
            state: Box::new(state)
        }),
        (
            (any::<u64>(), any::<u64>(), any_string(), any_string()),
            (
                strings(3),
                proptest::collection::vec(any::<u64>(), 0..3),
                any_string(),
                any::<u64>()
            )
        )
            .prop_map(|((game, seq, play, by), (board, clocks_ms, turn, ts_ms))| {
                GameEvent::Moved {
                    game,
                    seq,
                    play,
                    by,
                    board,
                    clocks_ms,
                    turn,
                    ts_ms,
                }
            }),
        any_game_state().prop_map(|state| GameEvent::Ended {
            state: Box::new(state)
        }),
        (any::<u64>(), any_string(), any::<bool>(), any::<u64>()).prop_map(
            |(game, player, connected, deadline_ms)| GameEvent::Presence {
                game,
                player,
                connected,
                deadline_ms,
            }
        ),
        (any::<u64>(), any::<u32>())
            .prop_map(|(game, count)| GameEvent::Spectators { game, count }),
        (any::<u64>(), opt(any_string())).prop_map(|(game, by)| GameEvent::DrawOffer { game, by }),
    ]
    .boxed()
}

pub fn any_cache_value() -> impl Strategy<Value = CacheValue> {
    use CacheValue as V;
    let leaf = prop_oneof![
        Just(V::Nil),
        any::<i64>().prop_map(|value| V::Integer { value }),
        any_buf().prop_map(|b| V::Bulk {
            value: b.into_vec()
        }),
        any_string().prop_map(|value| V::Simple { value }),
        any_string().prop_map(|message| V::Error { message }),
        (-1e9f64..1e9).prop_map(|value| V::Double { value }),
        any::<bool>().prop_map(|value| V::Boolean { value }),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|items| V::Array { items }),
            proptest::collection::vec((inner.clone(), inner), 0..3)
                .prop_map(|entries| V::Map { entries }),
        ]
    })
}

pub fn any_error() -> impl Strategy<Value = ErrorBody> {
    (
        proptest::sample::select(ErrorCode::ALL.to_vec()),
        any_string(),
        opt(any::<u64>()),
    )
        .prop_map(|(code, message, retry_after_ms)| ErrorBody {
            code,
            message,
            retry_after_ms,
        })
}

fn any_status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Online),
        Just(Status::Away),
        Just(Status::Offline)
    ]
}

pub fn any_presence() -> impl Strategy<Value = Presence> {
    (any_string(), any_status(), opt(any_string()), any::<u64>()).prop_map(
        |(user, status, away_message, last_seen_ms)| Presence {
            user,
            status,
            away_message,
            last_seen_ms,
        },
    )
}

pub fn any_room() -> impl Strategy<Value = RoomInfo> {
    (
        any_string(),
        any_string(),
        any::<u32>(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(name, topic, members, last_seq, joined)| RoomInfo {
            name,
            topic,
            members,
            last_seq,
            joined,
        })
}

pub fn any_message() -> impl Strategy<Value = ChatMessage> {
    (
        any_string(),
        any::<u64>(),
        any_string(),
        any_string(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(room, seq, from, text, action, ts_ms)| ChatMessage {
            room,
            seq,
            from,
            text,
            action,
            ts_ms,
        })
}

pub fn any_dm() -> impl Strategy<Value = DirectMessage> {
    (
        any::<u64>(),
        any_string(),
        any_string(),
        any_string(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(id, from, to, text, action, ts_ms)| DirectMessage {
            id,
            from,
            to,
            text,
            action,
            ts_ms,
        })
}

fn any_ssh_key() -> impl Strategy<Value = crate::base::SshKeyInfo> {
    (
        any_string(),
        any_string(),
        any_string(),
        any::<u64>(),
        opt(any::<u64>()),
    )
        .prop_map(
            |(fingerprint, algorithm, comment, created_at_ms, last_used_ms)| {
                crate::base::SshKeyInfo {
                    fingerprint,
                    algorithm,
                    comment,
                    created_at_ms,
                    last_used_ms,
                }
            },
        )
}

pub fn any_reply() -> impl Strategy<Value = Reply> {
    let base = prop_oneof![
        any::<u64>().prop_map(|server_time_ms| BaseReply::Pong { server_time_ms }),
        (any_user(), any_string(), any::<u64>()).prop_map(|(user, token, expires_at_ms)| {
            BaseReply::Session {
                user,
                token,
                expires_at_ms,
            }
        }),
        (opt(any_user()), any_session())
            .prop_map(|(user, session)| BaseReply::Whoami { user, session }),
        proptest::collection::vec(
            (any_string(), any_string(), any_string())
                .prop_map(|(slug, name, role)| crate::base::OrgRole { slug, name, role }),
            0..3
        )
        .prop_map(|orgs| BaseReply::Orgs { orgs }),
        strings(4).prop_map(|topics| BaseReply::Subscribed { topics }),
        any_ssh_key().prop_map(|key| BaseReply::SshKey { key }),
        proptest::collection::vec(any_ssh_key(), 0..3).prop_map(|keys| BaseReply::SshKeys { keys }),
        Just(BaseReply::Done),
    ]
    .prop_map(Reply::from);
    let chat = prop_oneof![
        (any_room(), proptest::collection::vec(any_presence(), 0..3))
            .prop_map(|(room, members)| ChatReply::Room { room, members }),
        proptest::collection::vec(any_room(), 0..3).prop_map(|rooms| ChatReply::Rooms { rooms }),
        (any::<u64>(), any::<u64>()).prop_map(|(seq, ts_ms)| ChatReply::Sent { seq, ts_ms }),
        (
            any_string(),
            proptest::collection::vec(any_message(), 0..3),
            any::<bool>()
        )
            .prop_map(|(room, messages, more)| ChatReply::History {
                room,
                messages,
                more
            }),
        (proptest::collection::vec(any_dm(), 0..3), any::<u64>())
            .prop_map(|(messages, unread)| ChatReply::Dms { messages, unread }),
        proptest::collection::vec(any_presence(), 0..3).prop_map(|users| ChatReply::Who { users }),
    ]
    .prop_map(Reply::from);
    let cache = prop_oneof![
        any_cache_value().prop_map(|value| CacheReply::Value { value }),
        (bufs(3), bufs(3))
            .prop_map(|(channels, patterns)| CacheReply::Subscribed { channels, patterns }),
        any::<u64>().prop_map(|receivers| CacheReply::Published { receivers }),
        (
            opt(any_string()),
            any_string(),
            proptest::collection::vec(any_cluster_node(), 0..3)
        )
            .prop_map(|(cluster, mode, nodes)| CacheReply::Cluster {
                cluster,
                mode,
                nodes
            }),
    ]
    .prop_map(Reply::from);
    let metrics = prop_oneof![
        any_sample().prop_map(|sample| MetricsReply::Sample { sample }),
        (
            proptest::collection::vec(any_sample(), 0..2),
            proptest::collection::vec(any_alert(), 0..2),
            proptest::collection::vec(any_viewer(), 0..2)
        )
            .prop_map(|(recent, alerts, viewers)| MetricsReply::Watching {
                recent,
                alerts,
                viewers
            }),
        (
            any_string(),
            any::<u64>(),
            proptest::collection::vec(
                (any::<u64>(), any_float(), any_float(), any_float()).prop_map(
                    |(ts_ms, min, avg, max)| Point {
                        ts_ms,
                        min,
                        avg,
                        max
                    }
                ),
                0..3
            )
        )
            .prop_map(|(metric, step_ms, points)| MetricsReply::Series {
                metric,
                step_ms,
                points
            }),
        proptest::collection::vec(any_alert(), 0..3)
            .prop_map(|alerts| MetricsReply::Alerts { alerts }),
        any_alert().prop_map(|alert| MetricsReply::Alert { alert }),
        proptest::collection::vec(any_transition(), 0..3)
            .prop_map(|transitions| MetricsReply::History { transitions }),
    ]
    .prop_map(Reply::from);
    prop_oneof![
        base,
        chat,
        cache,
        metrics,
        any_jobs_reply().prop_map(Reply::from),
        any_game_reply().prop_map(Reply::from)
    ]
}

pub fn any_event() -> impl Strategy<Value = Event> {
    let base = prop_oneof![
        any_session().prop_map(|session| BaseEvent::SessionOpened { session }),
        any_session().prop_map(|session| BaseEvent::SessionClosed { session }),
    ]
    .prop_map(Event::from);
    let reason = prop_oneof![Just(LeaveReason::Left), Just(LeaveReason::Quit)];
    let chat = prop_oneof![
        any_message().prop_map(|message| ChatEvent::Message { message }),
        (any_string(), any_presence()).prop_map(|(room, user)| ChatEvent::Joined { room, user }),
        (any_string(), any_string(), reason).prop_map(|(room, user, reason)| ChatEvent::Left {
            room,
            user,
            reason
        }),
        (any_string(), any_string(), any_string()).prop_map(|(room, topic, by)| ChatEvent::Topic {
            room,
            topic,
            by
        }),
        (any_string(), any_presence()).prop_map(|(room, user)| ChatEvent::Presence { room, user }),
        (
            any_string(),
            any::<u32>(),
            any::<u32>(),
            strings(3),
            strings(3),
            any::<bool>()
        )
            .prop_map(
                |(room, members, online, joined, left, more)| ChatEvent::Members {
                    room,
                    members,
                    online,
                    joined,
                    left,
                    more
                }
            ),
        any_dm().prop_map(|message| ChatEvent::Direct { message }),
        any::<u64>().prop_map(|dms| ChatEvent::Unread { dms }),
    ]
    .prop_map(Event::from);
    let cache = (any_buf(), opt(any_buf()), any_buf())
        .prop_map(|(channel, pattern, payload)| CacheEvent::Message {
            channel,
            pattern,
            payload,
        })
        .prop_map(Event::from);
    let metrics = prop_oneof![
        any_sample().prop_map(|sample| MetricsEvent::Tick { sample }),
        (
            opt(any_transition()),
            opt(any_alert()),
            any_string(),
            opt(any_string())
        )
            .prop_map(
                |(transition, alert, name, node)| MetricsEvent::AlertChanged {
                    transition,
                    alert: alert.map(Box::new),
                    name,
                    node
                }
            ),
        proptest::collection::vec(any_viewer(), 0..3)
            .prop_map(|viewers| MetricsEvent::Viewers { viewers }),
    ]
    .prop_map(Event::from);
    prop_oneof![
        base,
        chat,
        cache,
        metrics,
        any_jobs_event().prop_map(Event::from),
        any_game_event().prop_map(Event::from)
    ]
}

pub fn any_server_frame() -> impl Strategy<Value = ServerFrame> {
    let welcome = (
        any_string(),
        any::<u32>(),
        any::<u64>(),
        opt(any_user()),
        any::<u64>(),
    )
        .prop_map(|(server_version, protocol, session, user, max_frame)| {
            ServerFrame::Welcome(Welcome {
                server_version,
                protocol,
                session,
                user,
                max_frame,
            })
        });
    prop_oneof![
        welcome,
        (any::<u64>(), any_reply()).prop_map(|(id, body)| ServerFrame::Reply { id, body }),
        (any::<u64>(), any_error()).prop_map(|(id, error)| ServerFrame::Error { id, error }),
        (any_string(), any_event())
            .prop_map(|(topic, event)| ServerFrame::Push(Push { topic, event })),
        any_error().prop_map(|error| ServerFrame::Goodbye { error }),
    ]
}
