"""The jobs service and the Python worker, with jobs from the Rust CLI."""

from __future__ import annotations

import asyncio
import collections
import json
from typing import Any

from agora_client import Client, JobContext, JobFailure, JobOutcome, Worker, new_job
from agora_client.types import Claimed

from .conftest import ClientFactory, Daemon, unique_name


def cli_enqueue(daemon: Daemon, kind: str, queue: str, args: Any) -> int:
    out = daemon.cli("jobs", "enqueue", kind, "--queue", queue, "--args", json.dumps(args))
    return int(out.stdout.strip())


async def test_python_worker_runs_jobs_enqueued_by_the_rust_cli_exactly_once(
    daemon: Daemon, client: Client
) -> None:
    daemon.cli_register(unique_name("cli"))
    queue = unique_name("compat")
    count = 24
    ids = await asyncio.to_thread(lambda: [cli_enqueue(daemon, "py.double", queue, {"n": n}) for n in range(count)])
    assert len(set(ids)) == count

    calls: collections.Counter[int] = collections.Counter()
    all_done = asyncio.Event()
    worker = Worker(client, queue, concurrency=4, batch=3, wait_ms=500)

    @worker.handle("py.double")
    async def double(job: JobContext) -> dict[str, int]:
        calls[job.job.id] += 1
        await asyncio.sleep(0)  # let other jobs interleave
        if sum(calls.values()) == count:
            all_done.set()
        return {"n": job.args["n"], "double": 2 * job.args["n"]}

    run = asyncio.create_task(worker.run())
    await asyncio.wait_for(all_done.wait(), 60)
    worker.stop()
    summary = await asyncio.wait_for(run, 30)
    assert summary.completed == count and summary.failed == 0 and summary.stale == 0
    assert sorted(calls) == sorted(ids) and set(calls.values()) == {1}

    shown = await asyncio.to_thread(daemon.cli_json, "jobs", "show", str(ids[5]))
    assert shown["state"] == "completed" and shown["attempt"] == 1
    result = shown["result"] if isinstance(shown["result"], dict) else json.loads(shown["result"])
    assert result == {"n": 5, "double": 10}
    listed = await asyncio.to_thread(
        daemon.cli_json, "jobs", "list", "--queue", queue, "--state", "completed", "--limit", "100"
    )
    assert sorted(j["id"] for j in listed["jobs"]) == sorted(ids)


async def test_graceful_shutdown_finishes_running_jobs_and_hands_back_the_rest(client: Client) -> None:
    queue = unique_name("graceful")
    started, release = asyncio.Event(), asyncio.Event()
    worker = Worker(client, queue, concurrency=2, wait_ms=5000)

    @worker.handle("slow")
    async def slow(job: JobContext) -> str:
        started.set()
        await release.wait()
        return "finished"

    first = await client.jobs.enqueue("slow", {"i": 1}, queue=queue)
    run = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    worker.stop()
    # The claim still waiting takes this one; the stopping worker hands it back.
    second = await client.jobs.enqueue("slow", {"i": 2}, queue=queue)
    assert not run.done()
    release.set()
    summary = await asyncio.wait_for(run, 20)
    assert (summary.completed, summary.handed_back) == (1, 1)
    done = await client.jobs.get(first)
    assert done.state == "completed" and done.result == json.dumps("finished")
    back = await client.jobs.get(second)
    assert back.state in ("available", "retryable")
    assert back.errors and "shut down" in back.errors[-1].message
    # Handed back with retry_in_ms 0: another worker can take it at once.
    claimed = await client.jobs.claim(queue, wait_ms=5000)
    assert [c.id for c in claimed] == [second]


async def test_failures_cancellation_and_unknown_kinds(daemon: Daemon, make_client: ClientFactory) -> None:
    client = await make_client()
    queue = unique_name("outcomes")
    cancelled_seen, running = asyncio.Event(), asyncio.Event()
    worker = Worker(client, queue, concurrency=8, lease_ms=1000, wait_ms=500)

    @worker.handle("abort")
    async def abort(job: JobContext) -> None:
        raise JobFailure.abort("not worth retrying")

    @worker.handle("later")
    async def later(job: JobContext) -> None:
        raise JobFailure.retry_after("try later", 120)

    @worker.handle("crash")
    async def crash(job: JobContext) -> None:
        raise ValueError("bad input")

    @worker.handle("long")
    async def long(job: JobContext) -> str:
        running.set()
        await job.cancelled.wait()  # set by the heartbeat that learns it
        cancelled_seen.set()
        return "ignored"

    @worker.handle("timeout")
    async def timeout(job: JobContext) -> None:
        await asyncio.Event().wait()

    reply = await client.jobs.enqueue_many(
        [
            new_job("abort", queue=queue),
            new_job("later", queue=queue),
            new_job("crash", queue=queue, max_attempts=1),
            new_job("long", queue=queue),
            new_job("nobody.handles.this", queue=queue),
            new_job("timeout", queue=queue, timeout_ms=300),
        ]
    )
    abort_id, later_id, crash_id, long_id, unknown_id, timeout_id = reply.ids
    outcomes: dict[int, str] = {}
    all_finished = asyncio.Event()

    def observe(job: Claimed, outcome: JobOutcome, elapsed: float) -> None:
        outcomes[job.id] = outcome.failure.message if outcome.failure else "ok"
        if len(outcomes) == len(reply.ids):
            all_finished.set()

    run = asyncio.create_task(worker.run(observer=observe))
    await asyncio.wait_for(running.wait(), 10)
    await client.jobs.cancel(long_id)
    await asyncio.wait_for(cancelled_seen.wait(), 10)
    await asyncio.wait_for(all_finished.wait(), 20)
    assert outcomes[abort_id] == "not worth retrying" and outcomes[long_id] == "ok"
    worker.stop()
    summary = await asyncio.wait_for(run, 20)
    assert summary.completed == 0 and summary.failed == 5  # the cancelled job is not reported

    assert (await client.jobs.get(abort_id)).state == "dead"
    later_job = await client.jobs.get(later_id)
    assert later_job.state == "retryable" and later_job.run_at_ms - later_job.errors[-1].at_ms >= 100_000
    crash_job = await client.jobs.get(crash_id)
    assert crash_job.state == "dead" and crash_job.errors[-1].message == "ValueError: bad input"
    assert (await client.jobs.get(long_id)).state == "cancelled"
    unknown = await client.jobs.get(unknown_id)
    assert unknown.state == "retryable" and "no handler for kind" in unknown.errors[-1].message
    timed_out = await client.jobs.get(timeout_id)
    assert "timed out" in timed_out.errors[-1].message
    dead = await asyncio.to_thread(daemon.cli_json, "jobs", "list", "--queue", queue, "--state", "dead")
    assert sorted(j["id"] for j in dead["jobs"]) == sorted([abort_id, crash_id])


async def test_job_admin_operations(client: Client) -> None:
    queue = unique_name("admin")
    job_id = await client.jobs.enqueue("noop.external", {"x": 1}, queue=queue, priority=1, tags=["a", "b"])
    job = await client.jobs.get(job_id)
    assert (job.kind, job.priority, job.tags, json.loads(job.args)) == ("noop.external", 1, ["a", "b"], {"x": 1})
    same = await client.jobs.enqueue("noop.external", queue=queue, unique_key=f"u-{queue}")
    again = await client.jobs.enqueue_many([new_job("noop.external", queue=queue, unique_key=f"u-{queue}")])
    assert again.ids == [same] and again.existing == [same]
    paused = await client.jobs.pause(queue)
    assert paused.paused and paused.name == queue
    assert await client.jobs.claim(queue) == []
    await client.jobs.resume(queue)
    page = await client.jobs.list(queue=queue, limit=1)
    assert len(page.jobs) == 1 and page.more
    cancelled = await client.jobs.cancel(job_id)
    assert cancelled.state == "cancelled"
    assert await client.jobs.retry(job_id) == 1
    stats = await client.jobs.stats()
    assert any(q.name == queue for q in stats.queues)
    cron = await client.jobs.cron_add(unique_name("cron"), "0 3 * * *", new_job("report", queue=queue))
    assert cron.kind == "report" and cron.next_run_ms > 0
    assert any(c.name == cron.name for c in await client.jobs.cron_list())
    await client.jobs.cron_remove(cron.name)
