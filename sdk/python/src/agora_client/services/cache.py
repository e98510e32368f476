"""``client.cache``: the Redis-compatible cache over the native protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

from .. import ops
from ..errors import CacheCommandError
from ..replies import CacheClusterReply
from ..subscription import DEFAULT_BUFFER, Overflow, Subscription
from ..types import (
    CacheArray,
    CacheBoolean,
    CacheBulk,
    CacheDouble,
    CacheError,
    CacheInteger,
    CacheMap,
    CacheNil,
    CacheSimple,
    CacheValue,
)

if TYPE_CHECKING:
    from .._connection import Connection
    from ..client import Client

Arg = Union[str, bytes, int, float]
"""A command argument: text is sent as UTF-8, numbers as their decimal text."""


def encode_arg(arg: Arg) -> bytes:
    """One command argument as the bytes a Redis client would send."""
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, bool):
        raise TypeError("a cache argument cannot be a bool; send 1/0 or text")
    if isinstance(arg, (int, float)):
        return repr(arg).encode()
    raise TypeError(f"a cache argument must be str, bytes, int or float, not {type(arg).__name__}")


def to_python(value: CacheValue) -> Any:
    """A cache value as plain Python, like redis-py answers it.

    ``bulk`` → ``bytes``, ``simple`` → ``str``, ``integer`` → ``int``,
    ``double`` → ``float``, ``boolean`` → ``bool``, ``nil`` → ``None``,
    ``array`` → ``list``, ``map`` → ``dict`` (a list of pairs when a key is
    not hashable), ``error`` → a :class:`CacheCommandError` *instance*
    (raised only by :meth:`Cache.command` at the top level).
    """
    if isinstance(value, (CacheBulk, CacheSimple, CacheInteger, CacheDouble, CacheBoolean)):
        return value.value
    if isinstance(value, CacheNil):
        return None
    if isinstance(value, CacheError):
        return CacheCommandError(value.message)
    if isinstance(value, CacheArray):
        return [to_python(v) for v in value.items]
    if isinstance(value, CacheMap):
        pairs = [(to_python(k), to_python(v)) for k, v in value.entries]
        try:
            return dict(pairs)
        except TypeError:
            return pairs
    raise TypeError(f"not a cache value: {value!r}")  # pragma: no cover


class Cache:
    """Cache commands (each needs a signed-in client). Keyspace errors
    (``WRONGTYPE``, syntax, arity) raise :class:`CacheCommandError`; the
    connection is fine afterwards."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._channels: set[bytes] = set()
        self._patterns: set[bytes] = set()
        client.add_restorer(self._restore)

    async def execute(self, *args: Arg, quiet: bool = False) -> CacheValue:
        """Runs one command and returns the typed value (errors included)."""
        if not args:
            raise ValueError("a cache command needs at least its name")
        op = ops.CacheCommandOp(args=[encode_arg(a) for a in args], quiet=quiet)
        return (await self._client.call(op)).value

    async def command(self, *args: Arg, quiet: bool = False) -> Any:
        """Runs one command and returns its value as plain Python (see :func:`to_python`).

        Raises:
            CacheCommandError: the command answered a Redis error.
        """
        value = await self.execute(*args, quiet=quiet)
        if isinstance(value, CacheError):
            raise CacheCommandError(value.message)
        return to_python(value)

    # ------------------------------------------------------------ conveniences

    async def get(self, key: Arg) -> bytes | None:
        """The value of ``key``, or ``None``."""
        result = await self.command("GET", key)
        return result if isinstance(result, bytes) or result is None else encode_arg(str(result))

    async def set(
        self,
        key: Arg,
        value: Arg,
        *,
        ex: float | None = None,
        px: int | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> bool:
        """Sets ``key``; ``ex`` seconds or ``px`` ms to expire. ``False`` when
        ``nx``/``xx`` kept it from being set."""
        args: list[Arg] = ["SET", key, value]
        if ex is not None:
            args += ["PX", int(ex * 1000)]
        if px is not None:
            args += ["PX", px]
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        if keepttl:
            args.append("KEEPTTL")
        return await self.command(*args) is not None

    async def delete(self, *keys: Arg) -> int:
        """Deletes keys; how many existed."""
        return int(await self.command("DEL", *keys))

    async def exists(self, *keys: Arg) -> int:
        """How many of ``keys`` exist."""
        return int(await self.command("EXISTS", *keys))

    async def incr(self, key: Arg, by: int = 1) -> int:
        """Adds ``by`` to an integer key; the new value."""
        return int(await self.command("INCRBY", key, by))

    async def expire(self, key: Arg, seconds: int) -> bool:
        """Sets a time to live; whether the key exists."""
        return bool(await self.command("EXPIRE", key, seconds))

    async def ttl(self, key: Arg) -> int:
        """Seconds left to live; -1 without expiry, -2 when missing."""
        return int(await self.command("TTL", key))

    async def mget(self, *keys: Arg) -> list[bytes | None]:
        """The values of several keys (``None`` for missing ones)."""
        result = await self.command("MGET", *keys)
        return list(result)

    async def keys(self, pattern: Arg = "*") -> list[bytes]:
        """Keys matching a glob pattern (prefer SCAN on big keyspaces)."""
        return list(await self.command("KEYS", pattern))

    # ------------------------------------------------------------ pub/sub

    async def publish(self, channel: Arg, message: Arg) -> int:
        """Publishes on a channel; how many subscriptions (RESP and native) got it."""
        op = ops.CachePublishOp(channel=encode_arg(channel), message=encode_arg(message))
        return (await self._client.call(op)).receivers

    async def subscribe(
        self,
        *channels: Arg,
        patterns: tuple[Arg, ...] = (),
        maxsize: int = DEFAULT_BUFFER,
        overflow: Overflow = "drop_oldest",
    ) -> Subscription:
        """Subscribes to channels and glob patterns; returns the ``cache``
        topic's pushes (``CacheMessageEvent``), for every channel this client
        follows. Restored after a reconnect."""
        chans = [encode_arg(c) for c in channels]
        pats = [encode_arg(p) for p in patterns]
        sub = self._client.listen("cache", maxsize=maxsize, overflow=overflow)
        try:
            await self._client.call(ops.CacheSubscribeOp(channels=chans, patterns=pats))
        except BaseException:
            self._client._forget(sub)
            raise
        self._channels.update(chans)
        self._patterns.update(pats)
        return sub

    async def unsubscribe(self, *channels: Arg, patterns: tuple[Arg, ...] = ()) -> None:
        """Stops following channels or patterns; nothing named: all of them."""
        chans = [encode_arg(c) for c in channels]
        pats = [encode_arg(p) for p in patterns]
        await self._client.call(ops.CacheUnsubscribeOp(channels=chans, patterns=pats))
        if not chans and not pats:
            self._channels.clear()
            self._patterns.clear()
        self._channels.difference_update(chans)
        self._patterns.difference_update(pats)

    async def cluster_status(self) -> CacheClusterReply:
        """The cluster as the connected node sees it."""
        return await self._client.call(ops.CacheClusterStatusOp())

    async def _restore(self, conn: Connection) -> None:
        if self._channels or self._patterns:
            op = ops.CacheSubscribeOp(channels=sorted(self._channels), patterns=sorted(self._patterns))
            await self._client.restore_request(conn, op)
