"""A no-op job worker for the SDK benchmark (scripts/bench-sdk.sh): works
QUEUE, completing every job at once, until SIGTERM or SIGINT, then prints
``{"completed": N}``.

    AGORA_ADDR=... AGORA_TOKEN=... python bench_worker.py QUEUE [CONCURRENCY]
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

from agora_client import Client, JobContext, Worker


async def main(queue: str, concurrency: int) -> int:
    addr = os.environ.get("AGORA_ADDR", "127.0.0.1:7070")
    async with Client.connect(addr, token=os.environ["AGORA_TOKEN"], client_name="agora-bench-worker") as client:
        worker = Worker(client, queue, concurrency=concurrency, batch=concurrency)
        done = 0

        @worker.handle_any
        async def noop(job: JobContext) -> None:
            nonlocal done
            done += 1

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()
        return done


if __name__ == "__main__":
    completed = asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 250))
    print(json.dumps({"completed": completed}))
