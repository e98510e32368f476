"""Round trips to the daemon: ``python examples/ping.py [HOST:PORT] [COUNT]``."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from agora_client import Client


async def main(addr: str, count: int) -> None:
    async with Client.connect(addr) as client:
        assert client.welcome is not None
        print(f"connected to agora {client.welcome.server_version} (session {client.welcome.session})")
        for _ in range(count):
            started = time.perf_counter()
            pong = await client.ping()
            print(f"pong: {(time.perf_counter() - started) * 1000:.2f} ms (server time {pong.server_time_ms})")


if __name__ == "__main__":
    address = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AGORA_ADDR", "127.0.0.1:7070")
    asyncio.run(main(address, int(sys.argv[2]) if len(sys.argv) > 2 else 3))
