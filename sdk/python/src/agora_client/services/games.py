"""``client.games``: turn-based games (tic-tac-toe, connect four)."""

from __future__ import annotations

import builtins

from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

from .. import ops
from ..replies import GameMovedReply, GameQueuedReply, GameReplayReply
from ..subscription import DEFAULT_BUFFER, Overflow, Subscription
from ..types import GameState, GameSummary, RatingEntry, TimeControl

if TYPE_CHECKING:
    from ..client import Client

KINDS = ("tictactoe", "connect4")
"""The game types the daemon knows."""

TimeLike = Union[TimeControl, str, tuple[int, int]]
"""A time control: a :class:`TimeControl`, lichess's ``"3+2"`` (minutes +
seconds), or ``(initial_ms, increment_ms)``."""


def time_control(time: TimeLike) -> TimeControl:
    """Parses a :data:`TimeLike`."""
    if isinstance(time, TimeControl):
        return time
    if isinstance(time, tuple):
        return TimeControl(initial_ms=int(time[0]), increment_ms=int(time[1]))
    minutes, sep, seconds = time.strip().partition("+")
    try:
        if not sep:
            raise ValueError
        return TimeControl(
            initial_ms=round(float(minutes) * 60_000), increment_ms=round(float(seconds) * 1000)
        )
    except ValueError:
        raise ValueError(f"{time!r} is not a time control: MINUTES+SECONDS, e.g. 3+2") from None


def game_topic(game: int) -> str:
    """The topic of a game's events: ``game.ID``."""
    return f"game.{game}"


class Games:
    """Game operations (each needs a signed-in client). Players' sessions
    are subscribed to their games' topics by the daemon; see
    :class:`agora_client.GameBot` for a complete player."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def queue(self, kinds: Sequence[str], time: TimeLike = "1+0") -> GameQueuedReply:
        """Waits in the pools of ``kinds``; a pairing starts a game
        (``game_started`` on ``game.ID``)."""
        op = ops.GameQueueOp(kinds=list(kinds), time=time_control(time))
        return await self._client.call(op)

    async def cancel(self) -> None:
        """Leaves every pool."""
        await self._client.call(ops.GameCancelOp())

    async def challenge(self, opponent: str, kind: str, time: TimeLike = "1+0") -> GameState:
        """Challenges a user; the game waits for their accept (60 s)."""
        op = ops.GameChallengeOp(opponent=opponent, kind=kind, time=time_control(time))
        return (await self._client.call(op)).state

    async def accept(self, game: int) -> GameState:
        """Accepts a challenge: the game starts."""
        return (await self._client.call(ops.GameAcceptOp(game=game))).state

    async def decline(self, game: int) -> GameState:
        """Declines a challenge (or withdraws your own)."""
        return (await self._client.call(ops.GameDeclineOp(game=game))).state

    async def move(self, game: int, seq: int, play: str) -> GameMovedReply:
        """Plays a move chosen when the game had ``seq`` moves (an older
        ``seq`` is refused as stale: a resent move never plays twice)."""
        return await self._client.call(ops.GameMoveOp(game=game, seq=seq, play=play))

    async def resign(self, game: int) -> GameState:
        """Resigns; the final state."""
        return (await self._client.call(ops.GameResignOp(game=game))).state

    async def draw(self, game: int, offer: bool = True) -> GameState:
        """Offers or accepts a draw (``True``), declines or withdraws (``False``)."""
        return (await self._client.call(ops.GameDrawOp(game=game, offer=offer))).state

    async def watch(self, game: int) -> GameState:
        """Watches a game: its events follow on ``game.ID`` with no gap."""
        return (await self._client.call(ops.GameWatchOp(game=game))).state

    async def unwatch(self, game: int) -> None:
        """Stops watching."""
        await self._client.call(ops.GameUnwatchOp(game=game))

    async def show(self, game: int) -> GameState:
        """A game's state, live or stored."""
        return (await self._client.call(ops.GameShowOp(game=game))).state

    async def list(self) -> builtins.list[GameSummary]:
        """Games in progress, and challenges to or from you."""
        return (await self._client.call(ops.GameListOp())).games

    async def leaderboard(self, kind: str | None = None, limit: int | None = None) -> builtins.list[RatingEntry]:
        """Ratings, best first."""
        return (await self._client.call(ops.GameLeaderboardOp(kind=kind, limit=limit))).entries

    async def replay(self, game: int) -> GameReplayReply:
        """A finished game, position by position."""
        return await self._client.call(ops.GameReplayOp(game=game))

    def events(
        self, game: int | None = None, *, maxsize: int = DEFAULT_BUFFER, overflow: Overflow = "drop_oldest"
    ) -> Subscription:
        """One game's events, or every game event and challenge (``game.*``)."""
        pattern = game_topic(game) if game is not None else "game.*"
        return self._client.listen(pattern, maxsize=maxsize, overflow=overflow)
