"""A job worker: runs async handlers by job kind over a :class:`Client`.

It mirrors the Rust SDK's worker (``wire/src/jobs/worker.rs``):

- keeps up to ``concurrency`` jobs of one queue running, claiming them in
  batches of ``min(free slots, batch)`` with a long poll (``wait_ms``), never
  busy-polling;
- runs each job's handler in its own task; a handler's return value is the
  job's result (JSON-encoded), raising :class:`JobFailure` decides retry,
  retry-after or discard, any other exception retries with the daemon's
  backoff;
- acknowledges outcomes in batches, and heartbeats every running job's
  lease every ``lease_ms / 3`` (at least 100 ms); a job cancelled meanwhile,
  or whose lease was lost, has :attr:`JobContext.cancelled` set and its
  outcome is not reported;
- on shutdown (:meth:`Worker.stop`, or the ``shutdown`` awaitable) stops
  claiming, hands back jobs a claim brings in afterwards (failed with
  ``retry_in_ms=0`` so they run again at once elsewhere), lets running jobs
  finish and returns once their outcomes are acknowledged.

With a reconnecting client, errors of the connection rather than the
request (lost connection, timeout, ``unavailable``) do not end the worker,
as in the Rust worker: a failed claim is made again 250 ms later (after
the reconnect), a failed heartbeat waits for the next beat. Beyond the Rust
worker: a failed acknowledgement is sent again after the reconnect (up to
3 times; outcomes are idempotent, and one for a lease lost meanwhile comes
back ``stale``) before its jobs are left to their leases; and a job's
``timeout_ms`` is enforced (the attempt fails with "timed out").
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from . import ops
from .errors import AgoraError, ConnectionLost, ErrorCode, RequestTimeout, ServerError
from .types import Claimed, Completion, Failure, Lease

if TYPE_CHECKING:
    from .client import Client

log = logging.getLogger("agora_client.worker")

MAX_BATCH = 1000
DEFAULT_LEASE_MS = 30_000


class JobFailure(Exception):
    """Raise from a handler to fail the job, deciding what happens next."""

    def __init__(self, message: str, *, retry_in: float | None = None, discard: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retry_in = retry_in
        """Retry after this many seconds instead of the daemon's backoff."""
        self.discard = discard
        """Do not retry: the job is dead at once."""

    @classmethod
    def retry(cls, message: str) -> JobFailure:
        """Retry with the daemon's backoff (until the attempts run out)."""
        return cls(message)

    @classmethod
    def retry_after(cls, message: str, seconds: float) -> JobFailure:
        """Retry after ``seconds``."""
        return cls(message, retry_in=seconds)

    @classmethod
    def abort(cls, message: str) -> JobFailure:
        """Do not retry."""
        return cls(message, discard=True)


class JobContext:
    """What a handler gets: the job, and a flag set when it should stop."""

    def __init__(self, job: Claimed) -> None:
        self.job = job
        self.cancelled = asyncio.Event()
        """Set when the job was cancelled or its lease lost (stop; the outcome is ignored)."""

    @property
    def args(self) -> Any:
        """The job's arguments, parsed from JSON."""
        return json.loads(self.job.args)

    def is_cancelled(self) -> bool:
        """Whether the job should stop."""
        return self.cancelled.is_set()


@dataclass(frozen=True)
class JobOutcome:
    """A finished handler's outcome: ``result`` (JSON text) or ``failure``."""

    result: str | None = None
    failure: JobFailure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass
class Summary:
    """What :meth:`Worker.run` did."""

    completed: int = 0
    failed: int = 0
    stale: int = 0
    """Outcomes the daemon ignored (the lease was lost meanwhile)."""
    handed_back: int = 0
    """Jobs claimed during shutdown and handed straight back."""


Handler = Callable[[JobContext], Awaitable[Any]]
Observer = Callable[[Claimed, JobOutcome, float], None]
H = TypeVar("H", bound=Handler)


@dataclass
class _Finished:
    job: Claimed
    outcome: JobOutcome
    elapsed: float


class Worker:
    """Runs handlers by kind. See the module docs::

        worker = Worker(client, "mail", concurrency=10)

        @worker.handle("email.send")
        async def send(job: JobContext) -> dict[str, str]:
            await deliver(job.args["to"])
            return {"status": "sent"}

        summary = await worker.run()   # until worker.stop()
    """

    def __init__(
        self,
        client: Client,
        queue: str,
        *,
        concurrency: int = 10,
        lease_ms: int = DEFAULT_LEASE_MS,
        batch: int = 100,
        wait_ms: int = 5_000,
    ) -> None:
        self.client = client
        self.queue = queue
        self.concurrency = max(1, concurrency)
        self.lease_ms = lease_ms
        self.batch = min(max(1, batch), MAX_BATCH)
        self.wait_ms = wait_ms
        self._handlers: dict[str, Handler] = {}
        self._fallback: Handler | None = None
        self._stop = asyncio.Event()

    def handle(self, kind: str) -> Callable[[H], H]:
        """Decorator: runs the handler for jobs of ``kind``."""

        def register(handler: H) -> H:
            self._handlers[kind] = handler
            return handler

        return register

    def handle_any(self, handler: H) -> H:
        """Decorator: runs the handler for kinds without a handler of their
        own (without one, such jobs fail with "no handler for kind …")."""
        self._fallback = handler
        return handler

    def stop(self) -> None:
        """Starts a graceful shutdown (see the module docs)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self, shutdown: Awaitable[Any] | None = None, observer: Observer | None = None) -> Summary:
        """Works the queue until :meth:`stop` (or ``shutdown`` completes),
        then finishes the jobs under way.

        Raises:
            ServerError: the daemon refused a claim (e.g. not signed in);
                running jobs are cancelled and left to their leases.
            ConnectionLost: the connection is gone and the client does not
                reconnect.
        """
        summary = Summary()
        running: dict[Lease, tuple[JobContext, asyncio.Task[None]]] = {}
        finished: list[_Finished] = []
        wake = asyncio.Event()
        acks: set[asyncio.Task[tuple[int, int, int]]] = set()
        claim: asyncio.Task[list[Claimed]] | None = None
        every = max(self.lease_ms / 3, 100) / 1000
        next_beat = time.monotonic() + every
        stop_waiter = asyncio.ensure_future(self._wait_stop(shutdown))
        wake_waiter: asyncio.Task[bool] | None = None
        beat_waiter: asyncio.Task[None] | None = None
        claim_pause = 0.0  # after a failed claim on a reconnecting client

        def on_done(job: Claimed, started: float) -> Callable[[JobOutcome], None]:
            def done(outcome: JobOutcome) -> None:
                finished.append(_Finished(job, outcome, time.monotonic() - started))
                wake.set()

            return done

        try:
            while True:
                stopping = self._stop.is_set()
                if not stopping and claim is None and len(running) < self.concurrency:
                    limit = min(self.concurrency - len(running), self.batch)
                    claim = asyncio.ensure_future(self._claim(limit, claim_pause))
                    claim_pause = 0.0
                if finished:
                    batch, finished[:] = list(finished), []
                    self._settle(batch, running, acks, summary, observer)
                    continue
                if stopping and claim is None and not running and not acks:
                    return summary
                if wake_waiter is None or wake_waiter.done():
                    wake.clear()
                    wake_waiter = asyncio.ensure_future(wake.wait())
                waiting: set[asyncio.Future[Any]] = {wake_waiter, *acks}
                if claim is not None:
                    waiting.add(claim)
                if not stopping:
                    waiting.add(stop_waiter)
                if running:
                    if beat_waiter is None or beat_waiter.done():
                        beat_waiter = asyncio.ensure_future(asyncio.sleep(max(0.0, next_beat - time.monotonic())))
                    waiting.add(beat_waiter)
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)

                if claim is not None and claim in done:
                    task, claim = claim, None
                    try:
                        jobs = task.result()
                    except AgoraError as exc:
                        if not self._transient(exc):
                            raise
                        # The client reconnects: claim again once it has.
                        log.info("claim failed (%s); claiming again after the reconnect", exc)
                        claim_pause = 0.25
                        jobs = []
                    if self._stop.is_set():
                        if jobs:
                            summary.handed_back += len(jobs)
                            failures = [
                                Failure(
                                    id=j.id,
                                    attempt=j.attempt,
                                    error="the worker shut down before starting it",
                                    retry_in_ms=0,
                                )
                                for j in jobs
                            ]
                            acks.add(asyncio.ensure_future(self._ack([], failures)))
                    else:
                        for job in jobs:
                            ctx = JobContext(job)
                            task_ = asyncio.ensure_future(self._execute(ctx, on_done(job, time.monotonic())))
                            running[job.lease] = (ctx, task_)
                for ack in [a for a in acks if a in done]:
                    acks.discard(ack)
                    try:
                        completed, failed, stale = ack.result()
                    except AgoraError as exc:
                        if not self._transient(exc):
                            raise
                        # Lost with the connection: the jobs come back when
                        # their leases end (at least once).
                        log.warning("outcomes lost with the connection: %s", exc)
                        continue
                    summary.completed += completed
                    summary.failed += failed
                    summary.stale += stale
                if beat_waiter is not None and beat_waiter in done:
                    beat_waiter = None
                    next_beat = time.monotonic() + every
                    if running:
                        await self._heartbeat(running)
        except BaseException:
            for _, task_ in running.values():
                task_.cancel()
            raise
        finally:
            for waiter in (stop_waiter, wake_waiter, beat_waiter, claim):
                if waiter is not None and not waiter.done():
                    waiter.cancel()

    # ------------------------------------------------------------ pieces

    async def _wait_stop(self, shutdown: Awaitable[Any] | None) -> None:
        if shutdown is None:
            await self._stop.wait()
            return
        outside = asyncio.ensure_future(shutdown)
        inside = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({outside, inside}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            inside.cancel()
            outside.cancel()
        self._stop.set()

    def _transient(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the connection's, not the request's, on a client
        that reconnects (as the Rust worker's ``transient``)."""
        if self.client.backoff is None or self.client.closed:
            return False
        if isinstance(exc, (ConnectionLost, RequestTimeout)):
            return True
        return isinstance(exc, ServerError) and exc.code is ErrorCode.UNAVAILABLE

    async def _claim(self, limit: int, pause: float) -> list[Claimed]:
        if pause:
            await asyncio.sleep(pause)
        op = ops.JobsClaimOp(queue=self.queue, limit=limit, lease_ms=self.lease_ms, wait_ms=self.wait_ms)
        timeout = None if self.client.request_timeout is None else self.client.request_timeout + self.wait_ms / 1000
        return (await self.client.call(op, timeout=timeout)).jobs

    async def _execute(self, ctx: JobContext, done: Callable[[JobOutcome], None]) -> None:
        job = ctx.job
        handler = self._handlers.get(job.kind, self._fallback)
        if handler is None:
            done(JobOutcome(failure=JobFailure(f"no handler for kind {job.kind!r}")))
            return
        try:
            work = handler(ctx)
            if job.timeout_ms is not None:
                value = await asyncio.wait_for(work, job.timeout_ms / 1000)
            else:
                value = await work
            outcome = JobOutcome(result=None if value is None else json.dumps(value))
        except JobFailure as failure:
            outcome = JobOutcome(failure=failure)
        except asyncio.TimeoutError:
            outcome = JobOutcome(failure=JobFailure(f"timed out after {job.timeout_ms} ms"))
        except asyncio.CancelledError:
            if asyncio.current_task() is not None and _cancelling():
                raise  # the worker itself is going away
            outcome = JobOutcome(failure=JobFailure("the handler was cancelled"))
        except Exception as exc:  # a failing handler fails its job, not the worker
            log.debug("job %s failed", job.id, exc_info=True)
            outcome = JobOutcome(failure=JobFailure(f"{type(exc).__name__}: {exc}"))
        done(outcome)

    def _settle(
        self,
        batch: list[_Finished],
        running: dict[Lease, tuple[JobContext, asyncio.Task[None]]],
        acks: set[asyncio.Task[tuple[int, int, int]]],
        summary: Summary,
        observer: Observer | None,
    ) -> None:
        completions: list[Completion] = []
        failures: list[Failure] = []
        for item in batch:
            entry = running.pop(item.job.lease, None)
            if observer is not None:
                try:
                    observer(item.job, item.outcome, item.elapsed)
                except Exception:
                    log.exception("worker observer failed")
            # A cancelled job's outcome is not reported: the daemon already
            # finished it.
            if entry is None or entry[0].is_cancelled():
                continue
            job, outcome = item.job, item.outcome
            if outcome.failure is None:
                completions.append(Completion(id=job.id, attempt=job.attempt, result=outcome.result))
            else:
                f = outcome.failure
                failures.append(
                    Failure(
                        id=job.id,
                        attempt=job.attempt,
                        error=f.message,
                        retry_in_ms=None if f.retry_in is None else int(f.retry_in * 1000),
                        discard=f.discard,
                    )
                )
        if completions or failures:
            acks.add(asyncio.ensure_future(self._ack(completions, failures)))

    async def _ack(self, completions: list[Completion], failures: list[Failure]) -> tuple[int, int, int]:
        """Acknowledges outcomes; (completed, failed, stale). Retried across
        reconnects (outcomes are idempotent)."""
        completed = failed = stale = 0
        for i in range(0, len(completions), MAX_BATCH):
            reply = await self._retrying(ops.JobsCompleteOp(jobs=completions[i : i + MAX_BATCH]))
            completed += len(reply.acked)
            stale += len(reply.stale)
        for i in range(0, len(failures), MAX_BATCH):
            reply = await self._retrying(ops.JobsFailOp(jobs=failures[i : i + MAX_BATCH]))
            failed += len(reply.acked)
            stale += len(reply.stale)
        return completed, failed, stale

    async def _retrying(self, op: ops.JobsCompleteOp | ops.JobsFailOp) -> Any:
        """One acknowledgement, sent again after a reconnect (outcomes are
        idempotent; one for a lease lost meanwhile comes back ``stale``)."""
        for attempt in range(3):
            try:
                return await self.client.call(op)
            except AgoraError as exc:
                if not self._transient(exc) or attempt == 2:
                    raise
                await self.client.wait_connected()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _heartbeat(self, running: dict[Lease, tuple[JobContext, asyncio.Task[None]]]) -> None:
        leases = list(running)
        for i in range(0, len(leases), MAX_BATCH):
            op = ops.JobsHeartbeatOp(leases=leases[i : i + MAX_BATCH], lease_ms=self.lease_ms)
            try:
                reply = await self.client.call(op)
            except AgoraError as exc:
                if not self._transient(exc):
                    raise
                log.info("heartbeat failed (%s); trying again at the next beat", exc)
                return
            gone = set(reply.cancelled) | set(reply.lost)
            for lease, (ctx, _) in running.items():
                if lease.id in gone:
                    ctx.cancelled.set()


def _cancelling() -> bool:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if callable(cancelling) else True
