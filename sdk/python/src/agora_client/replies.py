"""Replies: the ``body`` of a ``reply`` frame, one class per wire ``type``.

:meth:`agora_client.Client.call` returns these, typed by the operation
sent; :func:`agora_client.protocol.decode_reply` decodes any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._model import Model, items, opt
from .types import (
    Alert,
    CacheValue,
    Claimed,
    ClusterNode,
    CronInfo,
    ChatMessage,
    DirectMessage,
    GameState,
    GameSummary,
    Job,
    OrgRole,
    Point,
    Presence,
    QueueInfo,
    RatingEntry,
    RoomInfo,
    Sample,
    SessionInfo,
    SshKeyInfo,
    StateCounts,
    TimeControl,
    Transition,
    UserInfo,
    Viewer,
)


class Reply(Model):
    """Base of every reply."""

    TYPE: ClassVar[str]
    SERVICE: ClassVar[str]


# ---------------------------------------------------------------- base


@dataclass(frozen=True, kw_only=True)
class PongReply(Reply):
    TYPE, SERVICE = "pong", "base"
    server_time_ms: int


@dataclass(frozen=True, kw_only=True)
class SessionReply(Reply):
    """Signed in: ``token`` signs in later connections (hello ``token``)."""

    TYPE, SERVICE = "session", "base"
    user: UserInfo
    token: str
    expires_at_ms: int


@dataclass(frozen=True, kw_only=True)
class WhoamiReply(Reply):
    TYPE, SERVICE = "whoami", "base"
    user: UserInfo | None = opt()
    session: SessionInfo


@dataclass(frozen=True, kw_only=True)
class OrgsReply(Reply):
    TYPE, SERVICE = "orgs", "base"
    orgs: list[OrgRole]


@dataclass(frozen=True, kw_only=True)
class SubscribedReply(Reply):
    """Every topic the connection is now subscribed to, sorted."""

    TYPE, SERVICE = "subscribed", "base"
    topics: list[str]


@dataclass(frozen=True, kw_only=True)
class SshKeyReply(Reply):
    TYPE, SERVICE = "ssh_key", "base"
    key: SshKeyInfo


@dataclass(frozen=True, kw_only=True)
class SshKeysReply(Reply):
    TYPE, SERVICE = "ssh_keys", "base"
    keys: list[SshKeyInfo]


@dataclass(frozen=True, kw_only=True)
class DoneReply(Reply):
    """Succeeded, nothing to report (any service)."""

    TYPE, SERVICE = "done", "base"


# ---------------------------------------------------------------- chat


@dataclass(frozen=True, kw_only=True)
class ChatRoomReply(Reply):
    TYPE, SERVICE = "chat_room", "chat"
    room: RoomInfo
    members: list[Presence]


@dataclass(frozen=True, kw_only=True)
class ChatRoomsReply(Reply):
    TYPE, SERVICE = "chat_rooms", "chat"
    rooms: list[RoomInfo]


@dataclass(frozen=True, kw_only=True)
class ChatSentReply(Reply):
    """Stored: the room's sequence number (or the private message's id)."""

    TYPE, SERVICE = "chat_sent", "chat"
    seq: int
    ts_ms: int


@dataclass(frozen=True, kw_only=True)
class ChatHistoryReply(Reply):
    TYPE, SERVICE = "chat_history", "chat"
    room: str
    messages: list[ChatMessage]
    more: bool


@dataclass(frozen=True, kw_only=True)
class ChatDmsReply(Reply):
    TYPE, SERVICE = "chat_dms", "chat"
    messages: list[DirectMessage]
    unread: int


@dataclass(frozen=True, kw_only=True)
class ChatWhoReply(Reply):
    TYPE, SERVICE = "chat_who", "chat"
    users: list[Presence]


# ---------------------------------------------------------------- cache


@dataclass(frozen=True, kw_only=True)
class CacheValueReply(Reply):
    """What a cache command returned (possibly a keyspace error value)."""

    TYPE, SERVICE = "cache", "cache"
    value: CacheValue


@dataclass(frozen=True, kw_only=True)
class CacheSubscribedReply(Reply):
    TYPE, SERVICE = "cache_subscribed", "cache"
    channels: list[bytes]
    patterns: list[bytes]


@dataclass(frozen=True, kw_only=True)
class CachePublishedReply(Reply):
    TYPE, SERVICE = "cache_published", "cache"
    receivers: int


@dataclass(frozen=True, kw_only=True)
class CacheClusterReply(Reply):
    TYPE, SERVICE = "cache_cluster", "cache"
    cluster: str | None = opt()
    mode: str
    nodes: list[ClusterNode]


# ---------------------------------------------------------------- jobs


@dataclass(frozen=True, kw_only=True)
class JobsEnqueuedReply(Reply):
    TYPE, SERVICE = "jobs_enqueued", "jobs"
    ids: list[int]
    existing: list[int] = items(omit=True)


@dataclass(frozen=True, kw_only=True)
class JobsClaimedReply(Reply):
    TYPE, SERVICE = "jobs_claimed", "jobs"
    jobs: list[Claimed]


@dataclass(frozen=True, kw_only=True)
class JobsHeartbeatReply(Reply):
    TYPE, SERVICE = "jobs_heartbeat", "jobs"
    lease_until_ms: int
    cancelled: list[int] = items(omit=True)
    lost: list[int] = items(omit=True)


@dataclass(frozen=True, kw_only=True)
class JobsAckedReply(Reply):
    TYPE, SERVICE = "jobs_acked", "jobs"
    acked: list[int]
    stale: list[int] = items(omit=True)


@dataclass(frozen=True, kw_only=True)
class JobsJobReply(Reply):
    TYPE, SERVICE = "jobs_job", "jobs"
    job: Job


@dataclass(frozen=True, kw_only=True)
class JobsListReply(Reply):
    TYPE, SERVICE = "jobs_list", "jobs"
    jobs: list[Job]
    more: bool


@dataclass(frozen=True, kw_only=True)
class JobsCountReply(Reply):
    TYPE, SERVICE = "jobs_count", "jobs"
    count: int


@dataclass(frozen=True, kw_only=True)
class JobsStatsReply(Reply):
    TYPE, SERVICE = "jobs_stats", "jobs"
    states: StateCounts
    queues: list[QueueInfo]


@dataclass(frozen=True, kw_only=True)
class JobsQueueReply(Reply):
    TYPE, SERVICE = "jobs_queue", "jobs"
    queue: QueueInfo


@dataclass(frozen=True, kw_only=True)
class JobsCronReply(Reply):
    TYPE, SERVICE = "jobs_cron", "jobs"
    cron: CronInfo


@dataclass(frozen=True, kw_only=True)
class JobsCronsReply(Reply):
    TYPE, SERVICE = "jobs_crons", "jobs"
    crons: list[CronInfo]


# ---------------------------------------------------------------- metrics


@dataclass(frozen=True, kw_only=True)
class MetricsSampleReply(Reply):
    TYPE, SERVICE = "metrics_sample", "metrics"
    sample: Sample


@dataclass(frozen=True, kw_only=True)
class MetricsWatchingReply(Reply):
    TYPE, SERVICE = "metrics_watching", "metrics"
    recent: list[Sample]
    alerts: list[Alert]
    viewers: list[Viewer]


@dataclass(frozen=True, kw_only=True)
class MetricsSeriesReply(Reply):
    TYPE, SERVICE = "metrics_series", "metrics"
    metric: str
    step_ms: int
    points: list[Point]


@dataclass(frozen=True, kw_only=True)
class MetricsAlertsReply(Reply):
    TYPE, SERVICE = "metrics_alerts", "metrics"
    alerts: list[Alert]


@dataclass(frozen=True, kw_only=True)
class MetricsAlertReply(Reply):
    TYPE, SERVICE = "metrics_alert", "metrics"
    alert: Alert


@dataclass(frozen=True, kw_only=True)
class MetricsHistoryReply(Reply):
    TYPE, SERVICE = "metrics_history", "metrics"
    transitions: list[Transition]


# ---------------------------------------------------------------- game


@dataclass(frozen=True, kw_only=True)
class GameQueuedReply(Reply):
    TYPE, SERVICE = "game_queued", "game"
    kinds: list[str]
    time: TimeControl


@dataclass(frozen=True, kw_only=True)
class GameStateReply(Reply):
    TYPE, SERVICE = "game_state", "game"
    state: GameState


@dataclass(frozen=True, kw_only=True)
class GameMovedReply(Reply):
    TYPE, SERVICE = "game_moved", "game"
    game: int
    seq: int


@dataclass(frozen=True, kw_only=True)
class GameGamesReply(Reply):
    TYPE, SERVICE = "game_games", "game"
    games: list[GameSummary]


@dataclass(frozen=True, kw_only=True)
class GameLeaderboardReply(Reply):
    TYPE, SERVICE = "game_leaderboard", "game"
    entries: list[RatingEntry]


@dataclass(frozen=True, kw_only=True)
class GameReplayReply(Reply):
    TYPE, SERVICE = "game_replay", "game"
    state: GameState
    positions: list[list[str]]
