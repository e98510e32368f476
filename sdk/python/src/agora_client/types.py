"""The data shapes that messages carry (``wire/src/*.rs`` structs).

Every class is a frozen dataclass whose fields follow the Rust struct's
order; Rust names are kept (``Claimed``, ``Lease``…) so the two SDKs read
alike. Enumerations are ``Literal`` strings: a value a newer daemon adds
passes through as text instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from ._model import Model, flag, items, opt, renamed, zero

# ---------------------------------------------------------------- envelope


@dataclass(frozen=True, kw_only=True)
class Hello(Model):
    """The client's first frame (no ``type`` key)."""

    protocol: int
    client: str
    token: str | None = opt()


@dataclass(frozen=True, kw_only=True)
class UserInfo(Model):
    """A user account as others see it."""

    id: int
    name: str


@dataclass(frozen=True, kw_only=True)
class Welcome(Model):
    """The server's answer to a valid hello."""

    TYPE = "welcome"
    server_version: str
    protocol: int
    session: int
    user: UserInfo | None = opt()
    max_frame: int


@dataclass(frozen=True, kw_only=True)
class ErrorBody(Model):
    """An error as the server sends it (inside ``error`` and ``goodbye`` frames)."""

    code: str
    message: str
    retry_after_ms: int | None = opt()


# ---------------------------------------------------------------- base


@dataclass(frozen=True, kw_only=True)
class SessionInfo(Model):
    """One connection to the daemon."""

    id: int
    user: str | None = opt()
    client: str


@dataclass(frozen=True, kw_only=True)
class OrgRole(Model):
    """An organization the user belongs to, with their role."""

    slug: str
    name: str
    role: str


@dataclass(frozen=True, kw_only=True)
class SshKeyInfo(Model):
    """An SSH public key bound to the signed-in account."""

    fingerprint: str
    algorithm: str
    comment: str
    created_at_ms: int
    last_used_ms: int | None = opt()


# ---------------------------------------------------------------- chat

Status = Literal["online", "away", "offline"]
LeaveReason = Literal["left", "quit"]


@dataclass(frozen=True, kw_only=True)
class RoomInfo(Model):
    """A chat room as listed by ``chat_rooms``."""

    name: str
    topic: str
    members: int
    last_seq: int
    joined: bool


@dataclass(frozen=True, kw_only=True)
class ChatMessage(Model):
    """One message in a room; ``seq`` counts 1, 2, 3… per room with no gaps."""

    room: str
    seq: int
    from_: str = renamed("from")
    text: str
    action: bool = flag(omit=True)
    ts_ms: int


@dataclass(frozen=True, kw_only=True)
class DirectMessage(Model):
    """A private message between two users."""

    id: int
    from_: str = renamed("from")
    to: str
    text: str
    action: bool = flag(omit=True)
    ts_ms: int


@dataclass(frozen=True, kw_only=True)
class Presence(Model):
    """A user's presence."""

    user: str
    status: Status
    away_message: str | None = opt()
    last_seen_ms: int


# ---------------------------------------------------------------- cache


@dataclass(frozen=True, kw_only=True)
class ClusterNode(Model):
    """One node of the cache cluster, as ``cache_cluster_status`` answers it."""

    id: str
    name: str
    state: str
    myself: bool = flag()
    resp: str | None = opt()
    gossip: str | None = opt()
    keys: int | None = opt()
    slots: int = zero()
    lag: str | None = opt()


@dataclass(frozen=True, kw_only=True)
class CacheSimple(Model):
    """A status line such as ``OK`` (RESP ``+OK``)."""

    TYPE = "simple"
    value: str


@dataclass(frozen=True, kw_only=True)
class CacheError(Model):
    """A keyspace error such as ``WRONGTYPE …`` (RESP ``-ERR``)."""

    TYPE = "error"
    message: str


@dataclass(frozen=True, kw_only=True)
class CacheInteger(Model):
    """A 64-bit integer."""

    TYPE = "integer"
    value: int


@dataclass(frozen=True, kw_only=True)
class CacheBulk(Model):
    """A binary-safe string."""

    TYPE = "bulk"
    value: bytes


@dataclass(frozen=True, kw_only=True)
class CacheNil(Model):
    """No value."""

    TYPE = "nil"


@dataclass(frozen=True, kw_only=True)
class CacheArray(Model):
    """An ordered list."""

    TYPE = "array"
    items: list[CacheValue]


@dataclass(frozen=True, kw_only=True)
class CacheMap(Model):
    """Key/value pairs in the command's order."""

    TYPE = "map"
    entries: list[tuple[CacheValue, CacheValue]]


@dataclass(frozen=True, kw_only=True)
class CacheDouble(Model):
    """A floating-point number."""

    TYPE = "double"
    value: float


@dataclass(frozen=True, kw_only=True)
class CacheBoolean(Model):
    """A boolean."""

    TYPE = "boolean"
    value: bool


CacheValue = Union[
    CacheSimple,
    CacheError,
    CacheInteger,
    CacheBulk,
    CacheNil,
    CacheArray,
    CacheMap,
    CacheDouble,
    CacheBoolean,
]
"""A cache command's answer, mirroring a Redis (RESP3) reply."""

# ---------------------------------------------------------------- jobs

JobState = Literal[
    "scheduled", "available", "running", "retryable", "completed", "dead", "cancelled"
]


@dataclass(frozen=True, kw_only=True)
class NewJob(Model):
    """A job to enqueue. ``args`` is JSON text (see ``Jobs.enqueue`` for objects)."""

    kind: str
    queue: str | None = opt()
    args: str | None = opt()
    priority: int | None = opt()
    run_at_ms: int | None = opt()
    delay_ms: int | None = opt()
    max_attempts: int | None = opt()
    unique_key: str | None = opt()
    timeout_ms: int | None = opt()
    tags: list[str] = items(omit=True)


@dataclass(frozen=True, kw_only=True)
class AttemptError(Model):
    """Why one attempt failed."""

    attempt: int
    at_ms: int
    message: str


@dataclass(frozen=True, kw_only=True)
class Job(Model):
    """A job as stored. ``args`` and ``result`` are JSON text."""

    id: int
    queue: str
    kind: str
    args: str
    priority: int
    state: JobState
    attempt: int
    max_attempts: int
    run_at_ms: int
    inserted_at_ms: int
    scheduled_at_ms: int
    attempted_at_ms: int | None = opt()
    finished_at_ms: int | None = opt()
    errors: list[AttemptError] = items(omit=True)
    result: str | None = opt()
    unique_key: str | None = opt()
    timeout_ms: int | None = opt()
    tags: list[str] = items(omit=True)


@dataclass(frozen=True, kw_only=True)
class Lease(Model):
    """A lease: a job and the attempt it was claimed for."""

    id: int
    attempt: int


@dataclass(frozen=True, kw_only=True)
class Claimed(Model):
    """A job handed to a worker by ``jobs_claim``; ``(id, attempt)`` is its lease."""

    id: int
    queue: str
    kind: str
    args: str
    attempt: int
    max_attempts: int
    timeout_ms: int | None = opt()
    lease_until_ms: int

    @property
    def lease(self) -> Lease:
        """This claim's lease."""
        return Lease(id=self.id, attempt=self.attempt)


@dataclass(frozen=True, kw_only=True)
class Completion(Model):
    """A job done, with its result (JSON text)."""

    id: int
    attempt: int
    result: str | None = opt()


@dataclass(frozen=True, kw_only=True)
class Failure(Model):
    """A job failed."""

    id: int
    attempt: int
    error: str
    retry_in_ms: int | None = opt()
    discard: bool = flag()


@dataclass(frozen=True, kw_only=True)
class JobChange(Model):
    """A state change; ``state`` is ``None`` when the job was deleted."""

    id: int
    queue: str
    kind: str
    state: JobState | None = opt()
    attempt: int


@dataclass(frozen=True, kw_only=True)
class StateCounts(Model):
    """How many jobs are in each state."""

    scheduled: int
    available: int
    running: int
    retryable: int
    completed: int
    dead: int
    cancelled: int


@dataclass(frozen=True, kw_only=True)
class QueueInfo(Model):
    """A queue: its settings and figures."""

    name: str
    paused: bool
    concurrency: int
    rate: int
    states: StateCounts
    throughput: list[int]
    wait_p50_ms: int
    wait_p99_ms: int
    run_p50_ms: int
    run_p99_ms: int


@dataclass(frozen=True, kw_only=True)
class NewCron(Model):
    """A recurring job to add."""

    name: str
    expr: str
    job: NewJob
    catch_up: bool = flag()


@dataclass(frozen=True, kw_only=True)
class CronInfo(Model):
    """A recurring job."""

    name: str
    expr: str
    kind: str
    queue: str
    args: str
    priority: int
    max_attempts: int
    timeout_ms: int | None = opt()
    catch_up: bool
    next_run_ms: int
    last_run_ms: int | None = opt()
    last_job: int | None = opt()


# ---------------------------------------------------------------- game

GameStatus = Literal["waiting", "in_progress", "finished"]
EndReason = Literal["win", "draw", "resign", "timeout", "abandoned", "aborted"]


@dataclass(frozen=True, kw_only=True)
class TimeControl(Model):
    """Each player's initial time and the increment per move, in ms."""

    initial_ms: int
    increment_ms: int


@dataclass(frozen=True, kw_only=True)
class RatingChange(Model):
    """One player's rating before and after a game."""

    user: str
    before: int
    after: int


@dataclass(frozen=True, kw_only=True)
class GameResult(Model):
    """A finished game's result."""

    reason: EndReason
    winner: str | None = opt()
    ratings: list[RatingChange] = items()


@dataclass(frozen=True, kw_only=True)
class GameState(Model):
    """Everything about one game. Per-player lists are in player order."""

    id: int
    kind: str
    players: list[str]
    time: TimeControl
    status: GameStatus
    seq: int
    moves: list[str]
    board: list[str]
    turn: str | None = opt()
    legal: list[str] = items()
    clocks_ms: list[int]
    connected: list[bool]
    deadlines_ms: list[int]
    spectators: int
    draw_offer: str | None = opt()
    result: GameResult | None = opt()
    now_ms: int


@dataclass(frozen=True, kw_only=True)
class GameSummary(Model):
    """A game as listed by ``game_list`` and announced by ``game_challenged``."""

    id: int
    kind: str
    players: list[str]
    time: TimeControl
    status: GameStatus
    seq: int
    spectators: int


@dataclass(frozen=True, kw_only=True)
class RatingEntry(Model):
    """One line of the leaderboard."""

    user: str
    kind: str
    rating: int
    deviation: int
    played: int
    won: int
    lost: int
    drawn: int


# ---------------------------------------------------------------- metrics

AlertState = Literal["ok", "pending", "firing", "resolved"]


@dataclass(frozen=True, kw_only=True)
class ProcessInfo(Model):
    """One process of the process table."""

    pid: int
    name: str
    user: str
    cpu_pct: float
    rss_bytes: int
    state: str
    cmd: str


@dataclass(frozen=True, kw_only=True)
class Sample(Model):
    """Everything one sampling tick saw: metric values by name, busiest processes."""

    ts_ms: int
    values: dict[str, float]
    processes: list[ProcessInfo]


@dataclass(frozen=True, kw_only=True)
class Point(Model):
    """One step of a history series."""

    ts_ms: int
    min: float
    avg: float
    max: float


@dataclass(frozen=True, kw_only=True)
class Alert(Model):
    """An alert rule and where it stands."""

    name: str
    metric: str
    op: str
    threshold: float
    for_ms: int
    severity: str
    state: AlertState
    since_ms: int
    value: float | None = opt()
    silenced_until_ms: int | None = opt()


@dataclass(frozen=True, kw_only=True)
class Transition(Model):
    """One change of an alert's state."""

    id: int
    rule: str
    from_: AlertState = renamed("from")
    to: AlertState
    value: float
    ts_ms: int
    silenced: bool = flag()


@dataclass(frozen=True, kw_only=True)
class Viewer(Model):
    """Someone watching the dashboard."""

    session: int
    user: str
    since_ms: int
    view: str
