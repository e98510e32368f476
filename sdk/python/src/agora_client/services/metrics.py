"""``client.metrics``: live samples, history, alert rules, signals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ops
from ..replies import MetricsSeriesReply, MetricsWatchingReply
from ..subscription import DEFAULT_BUFFER, Overflow, Subscription
from ..types import Alert, Sample, Transition

if TYPE_CHECKING:
    from .._connection import Connection
    from ..client import Client

METRICS_TOPIC = "metrics"


class Metrics:
    """Metrics operations (each needs a signed-in client)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._view: str | None = None
        client.add_restorer(self._restore)

    async def now(self) -> Sample:
        """The latest sample (``unavailable`` before the first one)."""
        return (await self._client.call(ops.MetricsNowOp())).sample

    async def watch(self, view: str = "python") -> MetricsWatchingReply:
        """Follows the live samples: the reply holds the last minute, and
        ``metrics_tick`` pushes follow on topic ``metrics`` (see :meth:`events`).
        Watched again after a reconnect."""
        reply = await self._client.call(ops.MetricsWatchOp(view=view))
        self._view = view
        return reply

    async def unwatch(self) -> None:
        """Stops following."""
        await self._client.call(ops.MetricsUnwatchOp())
        self._view = None

    def events(self, maxsize: int = DEFAULT_BUFFER, overflow: Overflow = "drop_oldest") -> Subscription:
        """Metrics pushes: ticks, alert changes, viewers (after :meth:`watch`)."""
        return self._client.listen(METRICS_TOPIC, maxsize=maxsize, overflow=overflow)

    async def range(self, metric: str, from_ms: int, to_ms: int, step_ms: int = 60_000) -> MetricsSeriesReply:
        """A metric's history: min/avg/max per step."""
        op = ops.MetricsRangeOp(metric=metric, from_ms=from_ms, to_ms=to_ms, step_ms=step_ms)
        return await self._client.call(op)

    async def alerts(self) -> list[Alert]:
        """Every alert rule, firing first."""
        return (await self._client.call(ops.MetricsAlertListOp())).alerts

    async def alert_add(
        self,
        name: str,
        metric: str,
        op: str,
        threshold: float,
        *,
        for_ms: int = 0,
        severity: str = "warning",
    ) -> Alert:
        """Adds a rule: ``metric op threshold`` held for ``for_ms`` fires."""
        add = ops.MetricsAlertAddOp(
            name=name, metric=metric, op=op, threshold=float(threshold), for_ms=for_ms, severity=severity
        )
        return (await self._client.call(add)).alert

    async def alert_remove(self, name: str) -> None:
        """Removes a rule (its history stays)."""
        await self._client.call(ops.MetricsAlertRmOp(name=name))

    async def alert_silence(self, name: str, for_ms: int) -> Alert:
        """Mutes a rule's announcements for ``for_ms`` (0 lifts it)."""
        return (await self._client.call(ops.MetricsAlertSilenceOp(name=name, for_ms=for_ms))).alert

    async def alert_history(self, name: str | None = None, limit: int | None = None) -> list[Transition]:
        """Alert transitions, newest first."""
        return (await self._client.call(ops.MetricsAlertHistoryOp(name=name, limit=limit))).transitions

    async def signal(self, pid: int, signal: str = "TERM") -> None:
        """Sends a signal to a process on the daemon's host (operators only)."""
        await self._client.call(ops.MetricsSignalOp(pid=pid, signal=signal))

    async def _restore(self, conn: Connection) -> None:
        if self._view is not None:
            await self._client.restore_request(conn, ops.MetricsWatchOp(view=self._view))
