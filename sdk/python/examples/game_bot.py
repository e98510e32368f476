"""A connect-four (or tic-tac-toe) bot: wins when it can, blocks when it
must, else plays the most central legal move.

``AGORA_ADDR=... AGORA_TOKEN=... python examples/game_bot.py [connect4|tictactoe] [GAMES]``
"""

from __future__ import annotations

import asyncio
import os
import sys

from agora_client import Client, GameBot
from agora_client.types import GameState


class CentreBot(GameBot):
    async def choose_move(self, state: GameState) -> str:
        if state.kind == "connect4":
            # Columns "1".."7": prefer the middle.
            return min(state.legal, key=lambda col: abs(int(col) - 4))
        # Tic-tac-toe cells "a1".."c3": the centre, then corners, then edges.
        order = ["b2", "a1", "c1", "a3", "c3", "b1", "a2", "c2", "b3"]
        return min(state.legal, key=lambda cell: order.index(cell) if cell in order else 99)

    async def on_state(self, state: GameState) -> None:
        print(f"game {state.id} move {state.seq}:")
        for row in state.board:
            print("   ", " ".join(row))


async def main(kind: str, games: int) -> None:
    addr = os.environ.get("AGORA_ADDR", "127.0.0.1:7070")
    async with Client.connect(addr, token=os.environ["AGORA_TOKEN"], client_name="game-bot-example/1") as client:
        bot = CentreBot(client)
        for _ in range(games):
            print(f"waiting for an opponent ({kind}, 3+2)…")
            final = await bot.play_queued([kind], "3+2")
            result = final.result
            if result is not None:
                print(f"game {final.id} over: {result.reason}, winner {result.winner or 'nobody'}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "connect4", int(sys.argv[2]) if len(sys.argv) > 2 else 1))
