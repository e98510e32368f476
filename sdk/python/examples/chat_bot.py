"""A chat bot answering ``!ping``, ``!help``, ``!roll`` and ``!time`` in rooms.

``AGORA_ADDR=127.0.0.1:7070 AGORA_USER=bot AGORA_PASSWORD=... python examples/chat_bot.py ops dev``
(the account is created when it does not exist). Stops on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time

from agora_client import ChatBot, Client, CommandContext, ErrorCode, ServerError


async def sign_in(client: Client, name: str, password: str) -> None:
    try:
        await client.login(name, password)
    except ServerError as exc:
        if exc.code is not ErrorCode.UNAUTHORIZED:
            raise
        await client.register(name, password)


async def main(rooms: list[str]) -> None:
    addr = os.environ.get("AGORA_ADDR", "127.0.0.1:7070")
    async with Client.connect(addr, client_name="chat-bot-example/1") as client:
        await sign_in(client, os.environ.get("AGORA_USER", "bot"), os.environ["AGORA_PASSWORD"])
        bot = ChatBot(client, rooms)

        @bot.command("roll")
        async def roll(ctx: CommandContext) -> str:
            sides = int(ctx.args[0]) if ctx.args and ctx.args[0].isdigit() else 6
            return f"{ctx.message.from_} rolls {random.randint(1, sides)} (d{sides})"

        @bot.command("time")
        async def now(ctx: CommandContext) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())

        print(f"answering in {', '.join(rooms)}; Ctrl-C to stop")
        await bot.run()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1:] or ["general"]))
    except KeyboardInterrupt:
        pass
