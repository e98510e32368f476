"""``client.jobs``: the persistent job queue (workers: :class:`agora_client.Worker`)."""

from __future__ import annotations

import builtins

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .. import ops
from ..replies import JobsAckedReply, JobsEnqueuedReply, JobsHeartbeatReply, JobsListReply, JobsStatsReply
from ..subscription import DEFAULT_BUFFER, Subscription
from ..types import (
    Claimed,
    Completion,
    CronInfo,
    Failure,
    Job,
    JobState,
    Lease,
    NewCron,
    NewJob,
    QueueInfo,
)

if TYPE_CHECKING:
    from ..client import Client

JOBS_TOPIC = "jobs"


def new_job(
    kind: str,
    args: Any = None,
    *,
    args_json: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    run_at_ms: int | None = None,
    delay_ms: int | None = None,
    max_attempts: int | None = None,
    unique_key: str | None = None,
    timeout_ms: int | None = None,
    tags: Iterable[str] = (),
) -> NewJob:
    """A :class:`NewJob`; ``args`` is any JSON-serializable value (or give
    ``args_json``, JSON text sent unchanged)."""
    if args is not None and args_json is not None:
        raise ValueError("give args or args_json, not both")
    text = args_json if args_json is not None else None if args is None else json.dumps(args)
    return NewJob(
        kind=kind,
        queue=queue,
        args=text,
        priority=priority,
        run_at_ms=run_at_ms,
        delay_ms=delay_ms,
        max_attempts=max_attempts,
        unique_key=unique_key,
        timeout_ms=timeout_ms,
        tags=list(tags),
    )


class Jobs:
    """Job queue operations (each needs a signed-in client)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def enqueue(self, kind: str, args: Any = None, **options: Any) -> int:
        """Enqueues one job (options as :func:`new_job`); its id (or the id of
        the waiting job holding the same ``unique_key``)."""
        reply = await self.enqueue_many([new_job(kind, args, **options)])
        return reply.ids[0]

    async def enqueue_many(self, jobs: Sequence[NewJob]) -> JobsEnqueuedReply:
        """Enqueues 1 to 1000 jobs in one durable transaction."""
        return await self._client.call(ops.JobsEnqueueOp(jobs=list(jobs)))

    async def claim(
        self, queue: str, limit: int = 1, *, lease_ms: int | None = None, wait_ms: int | None = None
    ) -> list[Claimed]:
        """Claims up to ``limit`` jobs, waiting up to ``wait_ms`` for one
        (mind the client's request timeout)."""
        op = ops.JobsClaimOp(queue=queue, limit=limit, lease_ms=lease_ms, wait_ms=wait_ms)
        return (await self._client.call(op)).jobs

    async def heartbeat(self, leases: Sequence[Lease], *, lease_ms: int | None = None) -> JobsHeartbeatReply:
        """Extends leases; the reply lists jobs cancelled or lost meanwhile."""
        return await self._client.call(ops.JobsHeartbeatOp(leases=list(leases), lease_ms=lease_ms))

    async def complete(self, completions: Sequence[Completion]) -> JobsAckedReply:
        """Reports jobs done (idempotent)."""
        return await self._client.call(ops.JobsCompleteOp(jobs=list(completions)))

    async def fail(self, failures: Sequence[Failure]) -> JobsAckedReply:
        """Reports jobs failed (retried with backoff, or dead)."""
        return await self._client.call(ops.JobsFailOp(jobs=list(failures)))

    async def get(self, job_id: int) -> Job:
        """One job (``not_found``)."""
        return (await self._client.call(ops.JobsGetOp(id=job_id))).job

    async def list(
        self,
        *,
        state: JobState | None = None,
        queue: str | None = None,
        kind: str | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> JobsListReply:
        """Jobs, newest first; page with ``before`` = the last id."""
        op = ops.JobsListOp(state=state, queue=queue, kind=kind, before=before, limit=limit)
        return await self._client.call(op)

    async def cancel(self, job_id: int) -> Job:
        """Cancels a job that has not finished (``conflict`` when it has)."""
        return (await self._client.call(ops.JobsCancelOp(id=job_id))).job

    async def retry(self, job_id: int | None = None, *, all_dead: bool = False, queue: str | None = None) -> int:
        """Runs a dead, cancelled or retryable job again (or every dead one)."""
        op = ops.JobsRetryOp(id=job_id, all_dead=all_dead, queue=queue)
        return (await self._client.call(op)).count

    async def discard(self, job_id: int | None = None, *, all_dead: bool = False, queue: str | None = None) -> int:
        """Deletes a finished job (or every dead one)."""
        op = ops.JobsDiscardOp(id=job_id, all_dead=all_dead, queue=queue)
        return (await self._client.call(op)).count

    async def stats(self) -> JobsStatsReply:
        """Jobs by state and every queue's figures."""
        return await self._client.call(ops.JobsStatsOp())

    async def queue_set(
        self,
        queue: str,
        *,
        paused: bool | None = None,
        concurrency: int | None = None,
        rate: int | None = None,
    ) -> QueueInfo:
        """Changes a queue's settings (only those given)."""
        op = ops.JobsQueueSetOp(queue=queue, paused=paused, concurrency=concurrency, rate=rate)
        return (await self._client.call(op)).queue

    async def pause(self, queue: str) -> QueueInfo:
        """Stops handing out a queue's jobs."""
        return await self.queue_set(queue, paused=True)

    async def resume(self, queue: str) -> QueueInfo:
        """Hands out a paused queue's jobs again."""
        return await self.queue_set(queue, paused=False)

    async def cron_add(self, name: str, expr: str, job: NewJob, *, catch_up: bool = False) -> CronInfo:
        """Adds a recurring job (cron expression in UTC)."""
        cron = NewCron(name=name, expr=expr, job=job, catch_up=catch_up)
        return (await self._client.call(ops.JobsCronAddOp(cron=cron))).cron

    async def cron_list(self) -> builtins.list[CronInfo]:
        """Every recurring job."""
        return (await self._client.call(ops.JobsCronListOp())).crons

    async def cron_remove(self, name: str) -> None:
        """Removes a recurring job."""
        await self._client.call(ops.JobsCronRemoveOp(name=name))

    async def changes(self, maxsize: int = DEFAULT_BUFFER) -> Subscription:
        """Every job state change and queue setting (topic ``jobs``)."""
        return await self._client.subscribe(JOBS_TOPIC, maxsize=maxsize)
