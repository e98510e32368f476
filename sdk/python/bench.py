"""Throughput and latency of the Python SDK over one connection.

Runs ``ping`` and a cache ``GET`` with N requests in flight (default 64) on
a single connection and prints one JSON object::

    python bench.py --addr 127.0.0.1:7070 [--token T] [--seconds 3] [--inflight 64]

Without ``--token`` it registers a throwaway account (the cache needs a
signed-in connection). Latencies are per request, from the call to the
answer, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from agora_client import Client, __version__


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def measure(name: str, call: Callable[[], Awaitable[Any]], inflight: int, seconds: float, warmup: float) -> dict[str, Any]:
    latencies: list[float] = []
    stop_at = 0.0
    recording = False

    async def lane() -> None:
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                return
            await call()
            if recording:
                latencies.append(time.perf_counter() - started)

    stop_at = time.perf_counter() + warmup
    await asyncio.gather(*(lane() for _ in range(inflight)))
    recording = True
    begin = time.perf_counter()
    stop_at = begin + seconds
    await asyncio.gather(*(lane() for _ in range(inflight)))
    elapsed = time.perf_counter() - begin
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {
        "op": name,
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(ms[-1], 3) if ms else 0.0,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with Client.connect(args.addr, token=args.token, client_name=f"agora-bench-python/{__version__}") as client:
        if client.user is None:
            await client.register(f"bench{uuid.uuid4().hex[:12]}", uuid.uuid4().hex)
        key = f"bench:{uuid.uuid4().hex[:8]}"
        await client.cache.set(key, "x" * args.value_size)
        results = [
            await measure("ping", client.ping, args.inflight, args.seconds, args.warmup),
            await measure("cache_get", lambda: client.cache.get(key), args.inflight, args.seconds, args.warmup),
        ]
        await client.cache.delete(key)
    return {
        "client": "agora-client-python",
        "version": __version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "addr": args.addr,
        "connections": 1,
        "inflight": args.inflight,
        "value_size": args.value_size,
        "results": results,
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addr", default=os.environ.get("AGORA_ADDR", "127.0.0.1:7070"))
    parser.add_argument("--token", default=os.environ.get("AGORA_TOKEN"))
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per operation")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured time before each")
    parser.add_argument("--inflight", type=int, default=64, help="requests in flight on the connection")
    parser.add_argument("--value-size", type=int, default=16, help="bytes of the cached value")
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse(sys.argv[1:]))), indent=2))
