"""Subscriptions: async iterators over the pushes of some topics.

The client's reader task never waits for a consumer (replies must keep
flowing), so each subscription has a bounded buffer and an overflow
policy, chosen per subscription:

- ``"drop_oldest"`` (default): the oldest buffered push is discarded to
  make room; the consumer sees the most recent ``maxsize`` pushes.
- ``"drop_newest"``: the new push is discarded; the consumer sees the
  oldest ones.
- ``"raise"``: the push is discarded and the next read raises
  :class:`~agora_client.SubscriptionOverflow` (after which the
  subscription keeps working): for consumers that must know they lost
  something, e.g. to re-fetch state.

Every discarded push is counted in :attr:`Subscription.dropped`. (The
daemon has its own limit for slow readers: a connection whose socket is not
read disconnects with ``goodbye``; the SDK's reader always reads, so that
only happens when the process itself stalls.)
"""

from __future__ import annotations

import asyncio
import collections
import fnmatch
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal

from .errors import ClientClosed, RequestTimeout, SubscriptionOverflow
from .protocol import Push

if TYPE_CHECKING:
    from .client import Client

Overflow = Literal["drop_oldest", "drop_newest", "raise"]

DEFAULT_BUFFER = 1024


class Subscription:
    """The pushes of some topics, as an async iterator::

        async with await client.subscribe("sessions") as sub:
            async for push in sub:
                print(push.topic, push.event)

    Created by :meth:`Client.subscribe` (topics the server is asked to
    send, restored after a reconnect) or :meth:`Client.listen` (topic
    patterns the server sends anyway: chat rooms after sign-in, games, the
    cache channels). Iteration ends once the subscription or the client is
    closed and the buffer is empty; it raises
    :class:`~agora_client.ConnectionLost` when the connection is gone for
    good (no reconnect).
    """

    def __init__(
        self,
        client: Client,
        topics: Iterable[str] = (),
        patterns: Iterable[str] = (),
        *,
        server: bool,
        maxsize: int = DEFAULT_BUFFER,
        overflow: Overflow = "drop_oldest",
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        if overflow not in ("drop_oldest", "drop_newest", "raise"):
            raise ValueError(f"unknown overflow policy {overflow!r}")
        self._client = client
        self.topics: frozenset[str] = frozenset(topics)
        """Exact topics (subscribed on the server when ``server``)."""
        self.patterns: tuple[str, ...] = tuple(patterns)
        """Glob patterns (``fnmatch``) of topics, matched locally."""
        self.server = server
        """Whether the topics were subscribed with the ``subscribe`` operation."""
        self.maxsize = maxsize
        self.overflow: Overflow = overflow
        self.dropped = 0
        """Pushes discarded because the buffer was full."""
        self._buffer: collections.deque[Push] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._overflowed = 0
        self._closed = False
        self._error: BaseException | None = None

    # ------------------------------------------------------------ routing

    def matches(self, topic: str) -> bool:
        """Whether a push on ``topic`` belongs to this subscription."""
        if topic in self.topics:
            return True
        return any(fnmatch.fnmatchcase(topic, p) for p in self.patterns)

    def _offer(self, push: Push) -> None:
        """Called by the client's reader; never blocks."""
        if self._closed:
            return
        if len(self._buffer) >= self.maxsize:
            self.dropped += 1
            if self.overflow == "drop_oldest":
                self._buffer.popleft()
            else:
                if self.overflow == "raise":
                    self._overflowed += 1
                    self._wake()
                return
        self._buffer.append(push)
        self._wake()

    def _end(self, error: BaseException | None = None) -> None:
        """Ends the subscription (the client closed, or gave up reconnecting)."""
        if not self._closed:
            self._closed = True
            self._error = error
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # ------------------------------------------------------------ consuming

    @property
    def closed(self) -> bool:
        """Whether the subscription has ended (buffered pushes may remain)."""
        return self._closed

    def pending(self) -> int:
        """How many pushes are buffered."""
        return len(self._buffer)

    def get_nowait(self) -> Push | None:
        """The next buffered push, or ``None``."""
        return self._buffer.popleft() if self._buffer else None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Push:
        while True:
            if self._overflowed:
                lost, self._overflowed = self._overflowed, 0
                raise SubscriptionOverflow(lost)
            if self._buffer:
                return self._buffer.popleft()
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            # Shielded: one consumer giving up (a timeout) must not cancel
            # the future other consumers of this subscription wait on.
            await asyncio.shield(self._waiter)

    async def get(self, timeout: float | None = None) -> Push:
        """The next push, waiting at most ``timeout`` seconds.

        Raises:
            RequestTimeout: nothing arrived in time.
            ClientClosed: the subscription ended.
        """
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except StopAsyncIteration:
            raise ClientClosed("the subscription is closed") from None
        except asyncio.TimeoutError:
            raise RequestTimeout(f"no push within {timeout} s") from None

    async def wait_for(self, predicate: Callable[[Push], bool], timeout: float | None = None) -> Push:
        """Skips pushes until one satisfies ``predicate`` and returns it.

        Raises:
            RequestTimeout: none did within ``timeout`` seconds.
            ClientClosed: the subscription ended first.
        """

        async def scan() -> Push:
            async for push in self:
                if predicate(push):
                    return push
            raise ClientClosed("the subscription is closed")

        try:
            return await asyncio.wait_for(scan(), timeout)
        except asyncio.TimeoutError:
            raise RequestTimeout(f"no matching push within {timeout} s") from None

    # ------------------------------------------------------------ lifetime

    async def close(self) -> None:
        """Stops the subscription; server topics no other subscription
        needs are unsubscribed (best effort). Buffered pushes stay readable."""
        if self._closed:
            self._client._forget(self)
            return
        self._end()
        await self._client._release(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        what = sorted(self.topics) + list(self.patterns)
        return f"<Subscription {what} buffered={len(self._buffer)} dropped={self.dropped}>"
