"""Events: the ``event`` of a ``push`` frame, one class per wire ``type``.

A :class:`agora_client.Push` carries one of these, or the raw map for an
event type this SDK does not know (the protocol asks clients to ignore
those; the SDK hands them over rather than hide them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ._model import Model, flag, items, opt, zero
from .types import (
    Alert,
    ChatMessage,
    DirectMessage,
    GameState,
    GameSummary,
    JobChange,
    LeaveReason,
    Presence,
    QueueInfo,
    Sample,
    SessionInfo,
    Transition,
    Viewer,
)


class Event(Model):
    """Base of every event."""

    TYPE: ClassVar[str]
    SERVICE: ClassVar[str]


# ---------------------------------------------------------------- base (topic `sessions`)


@dataclass(frozen=True, kw_only=True)
class SessionOpenedEvent(Event):
    TYPE, SERVICE = "session_opened", "base"
    session: SessionInfo


@dataclass(frozen=True, kw_only=True)
class SessionClosedEvent(Event):
    TYPE, SERVICE = "session_closed", "base"
    session: SessionInfo


# ---------------------------------------------------------------- chat (`chat.room.NAME`, `chat.user.NAME`)


@dataclass(frozen=True, kw_only=True)
class ChatMessageEvent(Event):
    TYPE, SERVICE = "chat_message", "chat"
    message: ChatMessage


@dataclass(frozen=True, kw_only=True)
class ChatJoinedEvent(Event):
    TYPE, SERVICE = "chat_joined", "chat"
    room: str
    user: Presence


@dataclass(frozen=True, kw_only=True)
class ChatLeftEvent(Event):
    TYPE, SERVICE = "chat_left", "chat"
    room: str
    user: str
    reason: LeaveReason


@dataclass(frozen=True, kw_only=True)
class ChatTopicEvent(Event):
    TYPE, SERVICE = "chat_topic", "chat"
    room: str
    topic: str
    by: str


@dataclass(frozen=True, kw_only=True)
class ChatPresenceEvent(Event):
    TYPE, SERVICE = "chat_presence", "chat"
    room: str
    user: Presence


@dataclass(frozen=True, kw_only=True)
class ChatMembersEvent(Event):
    """Large rooms: counts and net joins/leaves since the previous one."""

    TYPE, SERVICE = "chat_members", "chat"
    room: str
    members: int
    online: int
    joined: list[str] = items(omit=True)
    left: list[str] = items(omit=True)
    more: bool = flag(omit=True)


@dataclass(frozen=True, kw_only=True)
class ChatDirectEvent(Event):
    TYPE, SERVICE = "chat_direct", "chat"
    message: DirectMessage


@dataclass(frozen=True, kw_only=True)
class ChatUnreadEvent(Event):
    TYPE, SERVICE = "chat_unread", "chat"
    dms: int


# ---------------------------------------------------------------- cache (topic `cache`)


@dataclass(frozen=True, kw_only=True)
class CacheMessageEvent(Event):
    TYPE, SERVICE = "cache_message", "cache"
    channel: bytes
    pattern: bytes | None = opt()
    payload: bytes


# ---------------------------------------------------------------- jobs (topic `jobs`)


@dataclass(frozen=True, kw_only=True)
class JobsChangedEvent(Event):
    TYPE, SERVICE = "jobs_changed", "jobs"
    changes: list[JobChange]


@dataclass(frozen=True, kw_only=True)
class JobsQueueEvent(Event):
    TYPE, SERVICE = "jobs_queue", "jobs"
    queue: QueueInfo


# ---------------------------------------------------------------- metrics (topic `metrics`)


@dataclass(frozen=True, kw_only=True)
class MetricsTickEvent(Event):
    TYPE, SERVICE = "metrics_tick", "metrics"
    sample: Sample


@dataclass(frozen=True, kw_only=True)
class MetricsAlertChangedEvent(Event):
    TYPE, SERVICE = "metrics_alert_changed", "metrics"
    transition: Transition | None = opt()
    alert: Alert | None = opt()
    name: str
    node: str | None = opt()


@dataclass(frozen=True, kw_only=True)
class MetricsViewersEvent(Event):
    TYPE, SERVICE = "metrics_viewers", "metrics"
    viewers: list[Viewer]


# ---------------------------------------------------------------- game (`game.ID`, `game.user.NAME`)


@dataclass(frozen=True, kw_only=True)
class GameChallengedEvent(Event):
    TYPE, SERVICE = "game_challenged", "game"
    game: GameSummary


@dataclass(frozen=True, kw_only=True)
class GameStartedEvent(Event):
    TYPE, SERVICE = "game_started", "game"
    state: GameState


@dataclass(frozen=True, kw_only=True)
class GameMovedEvent(Event):
    """A move was played; ``turn`` is empty when it ended the game."""

    TYPE, SERVICE = "game_moved", "game"
    game: int
    seq: int
    play: str
    by: str
    board: list[str]
    clocks_ms: list[int]
    turn: str
    ts_ms: int


@dataclass(frozen=True, kw_only=True)
class GameEndedEvent(Event):
    TYPE, SERVICE = "game_ended", "game"
    state: GameState


@dataclass(frozen=True, kw_only=True)
class GamePresenceEvent(Event):
    TYPE, SERVICE = "game_presence", "game"
    game: int
    player: str
    connected: bool
    deadline_ms: int = zero()


@dataclass(frozen=True, kw_only=True)
class GameSpectatorsEvent(Event):
    TYPE, SERVICE = "game_spectators", "game"
    game: int
    count: int


@dataclass(frozen=True, kw_only=True)
class GameDrawOfferEvent(Event):
    TYPE, SERVICE = "game_draw_offer", "game"
    game: int
    by: str | None = opt()
