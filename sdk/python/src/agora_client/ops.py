"""Operations: the ``op`` of a request, one class per wire ``type``.

Each operation class is generic in the reply it is answered with, so
``await client.call(ChatJoinOp(room="ops"))`` is typed ``ChatRoomReply``.
Fields with defaults are optional on the wire; ``None`` is never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from . import replies as r
from ._model import Model, flag, items, opt
from .types import Completion, Failure, JobState, Lease, NewCron, NewJob, TimeControl

R = TypeVar("R", bound=r.Reply, covariant=True)


class Op(Model, Generic[R]):
    """Base of every operation; ``R`` is the reply it is answered with."""

    TYPE: ClassVar[str]
    SERVICE: ClassVar[str]
    REPLY: ClassVar[type[r.Reply]]


# ---------------------------------------------------------------- base


@dataclass(frozen=True, kw_only=True)
class PingOp(Op[r.PongReply]):
    TYPE, SERVICE, REPLY = "ping", "base", r.PongReply


@dataclass(frozen=True, kw_only=True)
class RegisterOp(Op[r.SessionReply]):
    TYPE, SERVICE, REPLY = "register", "base", r.SessionReply
    name: str
    password: str


@dataclass(frozen=True, kw_only=True)
class LoginOp(Op[r.SessionReply]):
    TYPE, SERVICE, REPLY = "login", "base", r.SessionReply
    name: str
    password: str


@dataclass(frozen=True, kw_only=True)
class WhoamiOp(Op[r.WhoamiReply]):
    TYPE, SERVICE, REPLY = "whoami", "base", r.WhoamiReply


@dataclass(frozen=True, kw_only=True)
class OrgsOp(Op[r.OrgsReply]):
    TYPE, SERVICE, REPLY = "orgs", "base", r.OrgsReply


@dataclass(frozen=True, kw_only=True)
class SubscribeOp(Op[r.SubscribedReply]):
    TYPE, SERVICE, REPLY = "subscribe", "base", r.SubscribedReply
    topics: list[str]


@dataclass(frozen=True, kw_only=True)
class UnsubscribeOp(Op[r.SubscribedReply]):
    TYPE, SERVICE, REPLY = "unsubscribe", "base", r.SubscribedReply
    topics: list[str]


@dataclass(frozen=True, kw_only=True)
class SshKeyAddOp(Op[r.SshKeyReply]):
    TYPE, SERVICE, REPLY = "ssh_key_add", "base", r.SshKeyReply
    key: str


@dataclass(frozen=True, kw_only=True)
class SshKeyListOp(Op[r.SshKeysReply]):
    TYPE, SERVICE, REPLY = "ssh_key_list", "base", r.SshKeysReply


@dataclass(frozen=True, kw_only=True)
class SshKeyRemoveOp(Op[r.DoneReply]):
    TYPE, SERVICE, REPLY = "ssh_key_remove", "base", r.DoneReply
    fingerprint: str


# ---------------------------------------------------------------- chat


@dataclass(frozen=True, kw_only=True)
class ChatJoinOp(Op[r.ChatRoomReply]):
    TYPE, SERVICE, REPLY = "chat_join", "chat", r.ChatRoomReply
    room: str


@dataclass(frozen=True, kw_only=True)
class ChatLeaveOp(Op[r.DoneReply]):
    TYPE, SERVICE, REPLY = "chat_leave", "chat", r.DoneReply
    room: str


@dataclass(frozen=True, kw_only=True)
class ChatRoomsOp(Op[r.ChatRoomsReply]):
    TYPE, SERVICE, REPLY = "chat_rooms", "chat", r.ChatRoomsReply


@dataclass(frozen=True, kw_only=True)
class ChatTopicOp(Op[r.DoneReply]):
    TYPE, SERVICE, REPLY = "chat_topic", "chat", r.DoneReply
    room: str
    topic: str


@dataclass(frozen=True, kw_only=True)
class ChatSendOp(Op[r.ChatSentReply]):
    TYPE, SERVICE, REPLY = "chat_send", "chat", r.ChatSentReply
    room: str
    text: str
    action: bool = flag()


@dataclass(frozen=True, kw_only=True)
class ChatDmOp(Op[r.ChatSentReply]):
    TYPE, SERVICE, REPLY = "chat_dm", "chat", r.ChatSentReply
    to: str
    text: str
    action: bool = flag()


@dataclass(frozen=True, kw_only=True)
class ChatHistoryOp(Op[r.ChatHistoryReply]):
    TYPE, SERVICE, REPLY = "chat_history", "chat", r.ChatHistoryReply
    room: str
    before: int | None = opt()
    since: int | None = opt()
    limit: int | None = opt()


@dataclass(frozen=True, kw_only=True)
class ChatDmsOp(Op[r.ChatDmsReply]):
    TYPE, SERVICE, REPLY = "chat_dms", "chat", r.ChatDmsReply
    with_: str | None = opt(wire="with")
    limit: int | None = opt()


@dataclass(frozen=True, kw_only=True)
class ChatWhoOp(Op[r.ChatWhoReply]):
    TYPE, SERVICE, REPLY = "chat_who", "chat", r.ChatWhoReply
    room: str | None = opt()


@dataclass(frozen=True, kw_only=True)
class ChatAwayOp(Op[r.DoneReply]):
    TYPE, SERVICE, REPLY = "chat_away", "chat", r.DoneReply
    message: str | None = opt()


# ---------------------------------------------------------------- cache


@dataclass(frozen=True, kw_only=True)
class CacheCommandOp(Op[r.CacheValueReply]):
    TYPE, SERVICE, REPLY = "cache_command", "cache", r.CacheValueReply
    args: list[bytes]
    quiet: bool = flag(omit=True)


@dataclass(frozen=True, kw_only=True)
class CacheSubscribeOp(Op[r.CacheSubscribedReply]):
    TYPE, SERVICE, REPLY = "cache_subscribe", "cache", r.CacheSubscribedReply
    channels: list[bytes] = items()
    patterns: list[bytes] = items()


@dataclass(frozen=True, kw_only=True)
class CacheUnsubscribeOp(Op[r.CacheSubscribedReply]):
    TYPE, SERVICE, REPLY = "cache_unsubscribe", "cache", r.CacheSubscribedReply
    channels: list[bytes] = items()
    patterns: list[bytes] = items()


@dataclass(frozen=True, kw_only=True)
class CachePublishOp(Op[r.CachePublishedReply]):
    TYPE, SERVICE, REPLY = "cache_publish", "cache", r.CachePublishedReply
    channel: bytes
    message: bytes


@dataclass(frozen=True, kw_only=True)
class CacheClusterStatusOp(Op[r.CacheClusterReply]):
    TYPE, SERVICE, REPLY = "cache_cluster_status", "cache", r.CacheClusterReply


# ---------------------------------------------------------------- jobs


@dataclass(frozen=True, kw_only=True)
class JobsEnqueueOp(Op[r.JobsEnqueuedReply]):
    TYPE, SERVICE, REPLY = "jobs_enqueue", "jobs", r.JobsEnqueuedReply
    jobs: list[NewJob]


@dataclass(frozen=True, kw_only=True)
class JobsClaimOp(Op[r.JobsClaimedReply]):
    TYPE, SERVICE, REPLY = "jobs_claim", "jobs", r.JobsClaimedReply
    queue: str
    limit: int
    lease_ms: int | None = opt()
    wait_ms: int | None = opt()


@dataclass(frozen=True, kw_only=True)
class JobsHeartbeatOp(Op[r.JobsHeartbeatReply]):
    TYPE, SERVICE, REPLY = "jobs_heartbeat", "jobs", r.JobsHeartbeatReply
    leases: list[Lease]
    lease_ms: int | None = opt()


@dataclass(frozen=True, kw_only=True)
class JobsCompleteOp(Op[r.JobsAckedReply]):
    TYPE, SERVICE, REPLY = "jobs_complete", "jobs", r.JobsAckedReply
    jobs: list[Completion]


@dataclass(frozen=True, kw_only=True)
class JobsFailOp(Op[r.JobsAckedReply]):
    TYPE, SERVICE, REPLY = "jobs_fail", "jobs", r.JobsAckedReply
    jobs: list[Failure]


@dataclass(frozen=True, kw_only=True)
class JobsGetOp(Op[r.JobsJobReply]):
    TYPE, SERVICE, REPLY = "jobs_get", "jobs", r.JobsJobReply
    id: int


@dataclass(frozen=True, kw_only=True)
class JobsListOp(Op[r.JobsListReply]):
    TYPE, SERVICE, REPLY = "jobs_list", "jobs", r.JobsListReply
    state: JobState | None = opt()
    queue: str | None = opt()
    kind: str | None = opt()
    before: int | None = opt()
    limit: int | None = opt()


@dataclass(frozen=True, kw_only=True)
class JobsCancelOp(Op[r.JobsJobReply]):
    TYPE, SERVICE, REPLY = "jobs_cancel", "jobs", r.JobsJobReply
    id: int


@dataclass(frozen=True, kw_only=True)
class JobsRetryOp(Op[r.JobsCountReply]):
    TYPE, SERVICE, REPLY = "jobs_retry", "jobs", r.JobsCountReply
    id: int | None = opt()
    all_dead: bool = flag()
    queue: str | None = opt()


@dataclass(frozen=True, kw_only=True)
class JobsDiscardOp(Op[r.JobsCountReply]):
    TYPE, SERVICE, REPLY = "jobs_discard", "jobs", r.JobsCountReply
    id: int | None = opt()
    all_dead: bool = flag()
    queue: str | None = opt()


@dataclass(frozen=True, kw_only=True)
class JobsStatsOp(Op[r.JobsStatsReply]):
    TYPE, SERVICE, REPLY = "jobs_stats", "jobs", r.JobsStatsReply


@dataclass(frozen=True, kw_only=True)
class JobsQueueSetOp(Op[r.JobsQueueReply]):
    TYPE, SERVICE, REPLY = "jobs_queue_set", "jobs", r.JobsQueueReply
    queue: str
    paused: bool | None = opt()
    concurrency: int | None = opt()
    rate: int | None = opt()


@dataclass(frozen=True, kw_only=True)
class JobsCronAddOp(Op[r.JobsCronReply]):
    TYPE, SERVICE, REPLY = "jobs_cron_add", "jobs", r.JobsCronReply
    cron: NewCron


@dataclass(frozen=True, kw_only=True)
class JobsCronListOp(Op[r.JobsCronsReply]):
    TYPE, SERVICE, REPLY = "jobs_cron_list", "jobs", r.JobsCronsReply


@dataclass(frozen=True, kw_only=True)
class JobsCronRemoveOp(Op[r.DoneReply]):
    TYPE, SERVICE, REPLY = "jobs_cron_remove", "jobs", r.DoneReply
    name: str


# ---------------------------------------------------------------- metrics


@dataclass(frozen=True, kw_only=True)
class MetricsNowOp(Op[r.MetricsSampleReply]):
    TYPE, SERVICE, REPLY = "metrics_now", "metrics", r.MetricsSampleReply


@dataclass(frozen=True, kw_only=True)
class MetricsWatchOp(Op[r.MetricsWatchingReply]):
    TYPE, SERVICE, REPLY = "metrics_watch", "metrics", r.MetricsWatchingReply
    view: str


@dataclass(frozen=True, kw_only=True)
class MetricsUnwatchOp(Op[r.DoneReply]):
    TYPE, SERVICE, REPLY = "metrics_unwatch", "metrics", r.DoneReply


@dataclass(frozen=True, kw_only=True)
class MetricsRangeOp(Op[r.MetricsSeriesReply]):
    TYPE, SERVICE, REPLY = "metrics_range", "metrics", r.MetricsSeriesReply
    metric: str
    from_ms: int
    to_ms: int
    step_ms: int


@dataclass(frozen=True, kw_only=True)
class MetricsAlertListOp(Op[r.MetricsAlertsReply]):
    TYPE, SERVICE, REPLY = "metrics_alert_list", "metrics", r.MetricsAlertsReply


@dataclass(frozen=True, kw_only=True)
class MetricsAlertAddOp(Op[r.MetricsAlertReply]):
    TYPE, SERVICE, REPLY = "metrics_alert_add", "metrics", r.MetricsAlertReply
    name: str
    metric: str
    op: str
    threshold: float
    for_ms: int
    severity: str


@dataclass(frozen=True, kw_only=True)
class MetricsAlertRmOp(Op[r.DoneReply]):
    TYPE, SERVICE, REPLY = "metrics_alert_rm", "metrics", r.DoneReply
    name: str


@dataclass(frozen=True, kw_only=True)
class MetricsAlertSilenceOp(Op[r.MetricsAlertReply]):
    TYPE, SERVICE, REPLY = "metrics_alert_silence", "metrics", r.MetricsAlertReply
    name: str
    for_ms: int


@dataclass(frozen=True, kw_only=True)
class MetricsAlertHistoryOp(Op[r.MetricsHistoryReply]):
    TYPE, SERVICE, REPLY = "metrics_alert_history", "metrics", r.MetricsHistoryReply
    name: str | None = opt()
    limit: int | None = opt()


@dataclass(frozen=True, kw_only=True)
class MetricsSignalOp(Op[r.DoneReply]):
    TYPE, SERVICE, REPLY = "metrics_signal", "metrics", r.DoneReply
    pid: int
    signal: str


# ---------------------------------------------------------------- game


@dataclass(frozen=True, kw_only=True)
class GameQueueOp(Op[r.GameQueuedReply]):
    TYPE, SERVICE, REPLY = "game_queue", "game", r.GameQueuedReply
    kinds: list[str]
    time: TimeControl


@dataclass(frozen=True, kw_only=True)
class GameCancelOp(Op[r.DoneReply]):
    TYPE, SERVICE, REPLY = "game_cancel", "game", r.DoneReply


@dataclass(frozen=True, kw_only=True)
class GameChallengeOp(Op[r.GameStateReply]):
    TYPE, SERVICE, REPLY = "game_challenge", "game", r.GameStateReply
    opponent: str
    kind: str
    time: TimeControl


@dataclass(frozen=True, kw_only=True)
class GameAcceptOp(Op[r.GameStateReply]):
    TYPE, SERVICE, REPLY = "game_accept", "game", r.GameStateReply
    game: int


@dataclass(frozen=True, kw_only=True)
class GameDeclineOp(Op[r.GameStateReply]):
    TYPE, SERVICE, REPLY = "game_decline", "game", r.GameStateReply
    game: int


@dataclass(frozen=True, kw_only=True)
class GameMoveOp(Op[r.GameMovedReply]):
    TYPE, SERVICE, REPLY = "game_move", "game", r.GameMovedReply
    game: int
    seq: int
    play: str


@dataclass(frozen=True, kw_only=True)
class GameResignOp(Op[r.GameStateReply]):
    TYPE, SERVICE, REPLY = "game_resign", "game", r.GameStateReply
    game: int


@dataclass(frozen=True, kw_only=True)
class GameDrawOp(Op[r.GameStateReply]):
    TYPE, SERVICE, REPLY = "game_draw", "game", r.GameStateReply
    game: int
    offer: bool = flag()


@dataclass(frozen=True, kw_only=True)
class GameWatchOp(Op[r.GameStateReply]):
    TYPE, SERVICE, REPLY = "game_watch", "game", r.GameStateReply
    game: int


@dataclass(frozen=True, kw_only=True)
class GameUnwatchOp(Op[r.DoneReply]):
    TYPE, SERVICE, REPLY = "game_unwatch", "game", r.DoneReply
    game: int


@dataclass(frozen=True, kw_only=True)
class GameShowOp(Op[r.GameStateReply]):
    TYPE, SERVICE, REPLY = "game_show", "game", r.GameStateReply
    game: int


@dataclass(frozen=True, kw_only=True)
class GameListOp(Op[r.GameGamesReply]):
    TYPE, SERVICE, REPLY = "game_list", "game", r.GameGamesReply


@dataclass(frozen=True, kw_only=True)
class GameLeaderboardOp(Op[r.GameLeaderboardReply]):
    TYPE, SERVICE, REPLY = "game_leaderboard", "game", r.GameLeaderboardReply
    kind: str | None = opt()
    limit: int | None = opt()


@dataclass(frozen=True, kw_only=True)
class GameReplayOp(Op[r.GameReplayReply]):
    TYPE, SERVICE, REPLY = "game_replay", "game", r.GameReplayReply
    game: int
