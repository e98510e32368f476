"""A job worker for queue ``images`` (kinds ``thumbnail`` and ``fail``).

``AGORA_ADDR=... AGORA_TOKEN=... python examples/worker.py``; enqueue with
``agora jobs enqueue thumbnail --queue images --args '{"path": "a.png", "size": 128}'``.
Ctrl-C (SIGINT) or SIGTERM shuts down gracefully: running jobs finish.
"""

from __future__ import annotations

import asyncio
import os
import signal

from agora_client import Client, JobContext, JobFailure, JobOutcome, Worker
from agora_client.types import Claimed


async def main() -> None:
    addr = os.environ.get("AGORA_ADDR", "127.0.0.1:7070")
    async with Client.connect(addr, token=os.environ["AGORA_TOKEN"], client_name="worker-example/1") as client:
        worker = Worker(client, "images", concurrency=4)

        @worker.handle("thumbnail")
        async def thumbnail(job: JobContext) -> dict[str, object]:
            args = job.args
            if "path" not in args:
                raise JobFailure.abort("no path given")  # retrying cannot help
            await asyncio.sleep(0.5)  # the actual work
            if job.is_cancelled():
                return {}
            return {"thumbnail": f"{args['path']}.thumb", "size": args.get("size", 128)}

        @worker.handle("fail")
        async def fail(job: JobContext) -> None:
            raise JobFailure.retry_after("asked to fail", 30)

        def report(job: Claimed, outcome: JobOutcome, elapsed: float) -> None:
            status = "ok" if outcome.ok else f"failed: {outcome.failure}"
            print(f"job {job.id} ({job.kind}, attempt {job.attempt}) {status} in {elapsed:.2f} s")

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        summary = await worker.run(observer=report)
        print(f"done: {summary}")


if __name__ == "__main__":
    asyncio.run(main())
