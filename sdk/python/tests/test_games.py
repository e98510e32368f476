"""Games played to the end between two Python bots."""

from __future__ import annotations

import asyncio
import random

import pytest

from agora_client import ErrorCode, GameBot, ServerError, time_control
from agora_client.types import GameState, TimeControl

from .conftest import ClientFactory


class Recording(GameBot):
    """Plays random legal moves and remembers every state it saw."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.states: list[GameState] = []

    async def on_state(self, state: GameState) -> None:
        self.states.append(state)


@pytest.mark.parametrize("kind", ["tictactoe", "connect4"])
async def test_two_bots_play_a_queued_game_to_the_end(make_client: ClientFactory, kind: str) -> None:
    one, two = await make_client(), await make_client()
    bots = [Recording(one, rng=random.Random(1)), Recording(two, rng=random.Random(2))]
    finals = await asyncio.wait_for(
        asyncio.gather(*(bot.play_queued([kind], "5+0") for bot in bots)), 60
    )
    a, b = finals
    assert a.id == b.id and a.kind == kind
    assert a.status == b.status == "finished"
    assert a.result is not None and a.result.reason in ("win", "draw")
    assert sorted(a.players) == sorted(bot.me for bot in bots)
    assert bots[0].moves_played + bots[1].moves_played == a.seq == len(a.moves)
    if a.result.reason == "win":
        assert a.result.winner in a.players
        assert [r.user for r in a.result.ratings] == a.players
    replay = await one.games.replay(a.id)
    assert len(replay.positions) == a.seq + 1 and replay.positions[-1] == a.board
    board = await one.games.leaderboard(kind)
    assert {e.user for e in board} >= set(a.players)


async def test_challenge_accept_and_errors(make_client: ClientFactory) -> None:
    one, two = await make_client(), await make_client()
    assert one.user is not None and two.user is not None
    challenger, accepter = GameBot(one), GameBot(two)
    accepting = asyncio.create_task(accepter.accept_next(timeout=30))
    await asyncio.sleep(0)  # let it start listening before the challenge
    final = await asyncio.wait_for(challenger.challenge(two.user.name, "tictactoe", (60_000, 1000)), 30)
    assert (await accepting).id == final.id and final.status == "finished"
    assert final.time == TimeControl(initial_ms=60_000, increment_ms=1000)
    with pytest.raises(ServerError) as stale:
        await one.games.move(final.id, 0, "a1")
    assert stale.value.code in (ErrorCode.CONFLICT, ErrorCode.FORBIDDEN, ErrorCode.BAD_REQUEST)
    with pytest.raises(ServerError) as missing:
        await one.games.show(10**12)
    assert missing.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(ServerError) as self_challenge:
        await one.games.challenge(one.user.name, "tictactoe")
    assert self_challenge.value.code is ErrorCode.BAD_REQUEST
    assert time_control("3+2") == TimeControl(initial_ms=180_000, increment_ms=2000)
    with pytest.raises(ValueError):
        time_control("fast")
