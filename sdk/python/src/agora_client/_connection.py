"""One TCP connection: the handshake, writing requests, and the state the
client's reader keeps per connection (requests waiting for an answer)."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from dataclasses import dataclass
from typing import Any

from ._model import MalformedMessage, from_wire
from .errors import GoodbyeError, ProtocolError, ServerError
from .framing import DEFAULT_MAX_FRAME, FrameDecoder, encode_frame, read_frame
from .types import Hello, Welcome

log = logging.getLogger("agora_client")


@dataclass(frozen=True)
class Address:
    """A daemon address."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str | tuple[str, int] | Address) -> Address:
        """``"host:port"``, ``"[::1]:7070"``, ``("host", port)`` or an Address."""
        if isinstance(text, Address):
            return text
        if isinstance(text, tuple):
            return cls(text[0], int(text[1]))
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"{text!r} is not HOST:PORT")
        return cls(host.strip("[]") or "127.0.0.1", int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Backoff:
    """Reconnection delays: exponential with full jitter (AWS's "full jitter").

    Attempt *n* (from 0) waits a random time in ``[0, min(maximum,
    initial * factor**n)]``; ``max_attempts`` ``None`` retries forever.
    """

    initial: float = 0.05
    maximum: float = 5.0
    factor: float = 2.0
    max_attempts: int | None = None

    def delay(self, attempt: int) -> float:
        """How long to wait before attempt ``attempt`` (0-based)."""
        cap = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return random.uniform(0, cap)



class Connection:
    """A connected, welcomed socket. The client owns exactly one at a time."""

    def __init__(
        self,
        address: Address,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        welcome: Welcome,
        max_incoming: int,
    ) -> None:
        self.address = address
        self.reader = reader
        self.writer = writer
        self.welcome = welcome
        self.max_outgoing = welcome.max_frame
        """The server's limit for our frames (from the welcome)."""
        self.max_incoming = max(max_incoming, welcome.max_frame)
        self._decoder = FrameDecoder(self.max_incoming)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.goodbye: GoodbyeError | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.closed = False
        self._drain_lock = asyncio.Lock()
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0

    def send(self, frame: bytes) -> None:
        """Queues a whole frame (synchronously, so frames keep call order).

        Frames queued in one turn of the event loop leave in one write
        (one system call for many pipelined requests)."""
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self.flush)
        self._outbox.append(frame)
        self._outbox_bytes += len(frame)
        if self._outbox_bytes >= 256 * 1024:
            self.flush()

    def flush(self) -> None:
        """Writes the queued frames now."""
        if self._outbox and not self.closed:
            data = self._outbox[0] if len(self._outbox) == 1 else b"".join(self._outbox)
            self.writer.write(data)
        self._outbox.clear()
        self._outbox_bytes = 0

    async def drain(self) -> None:
        """Waits while the socket's send buffer is above its high-water mark."""
        transport = self.writer.transport
        if transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        if transport.get_write_buffer_size() + self._outbox_bytes < 64 * 1024:
            return
        self.flush()
        async with self._drain_lock:
            await self.writer.drain()

    async def read_frames(self) -> list[Any]:
        """The next frames the server sent (at least one).

        Raises:
            asyncio.IncompleteReadError: the server closed the connection.
            FrameTooLarge, ProtocolError: see :class:`FrameDecoder`.
        """
        while True:
            data = await self.reader.read(256 * 1024)
            if not data:
                raise asyncio.IncompleteReadError(b"", None)
            frames = self._decoder.feed(data)
            if frames:
                return frames

    def abort(self) -> None:
        """Closes the socket at once."""
        self.closed = True
        try:
            self.writer.close()
        except Exception:  # already closed by the peer
            pass


async def open_connection(
    address: Address,
    hello: Hello,
    *,
    timeout: float,
    max_incoming: int = DEFAULT_MAX_FRAME,
) -> Connection:
    """Connects and performs the handshake.

    Raises:
        OSError: the TCP connection failed.
        asyncio.TimeoutError: no welcome within ``timeout``.
        GoodbyeError: the server refused the hello (e.g. ``unauthorized``).
        ProtocolError: the server's first frame is not a welcome.
    """

    async def handshake() -> Connection:
        reader, writer = await asyncio.open_connection(address.host, address.port)
        _keepalive(writer)
        try:
            writer.write(encode_frame(hello.to_wire()))
            await writer.drain()
            try:
                first = await read_frame(reader, max_incoming)
            except asyncio.IncompleteReadError:
                raise ProtocolError("the server closed the connection during the handshake") from None
            if not isinstance(first, dict):
                raise ProtocolError(f"expected a welcome, got {type(first).__name__}")
            kind = first.get("type")
            if kind == "welcome":
                try:
                    welcome = from_wire(Welcome, first)
                except MalformedMessage as exc:
                    raise ProtocolError(f"malformed welcome: {exc}") from exc
                return Connection(address, reader, writer, welcome, max_incoming)
            if kind == "goodbye":
                raise GoodbyeError.from_body(first.get("error"))
            if kind == "error":
                raise ServerError.from_body(first.get("error"))
            raise ProtocolError(f"expected a welcome, got a frame of type {kind!r}")
        except BaseException:
            writer.close()
            raise

    return await asyncio.wait_for(handshake(), timeout)


def _keepalive(writer: asyncio.StreamWriter) -> None:
    """TCP keepalive as the daemon sets it (15 s idle, 3 probes 5 s apart),
    so a connection that vanished without closing is noticed and reconnected."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 15), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)):
            option = getattr(socket, name, None)
            if option is not None:
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
    except OSError:  # not every platform allows every option
        log.debug("cannot set TCP keepalive", exc_info=True)
