"""Frames: a 4-byte big-endian body length, then one MessagePack value.

Packing uses ``use_bin_type=True`` (``bytes`` travel as MessagePack
``bin``, ``str`` as ``str``) and unpacking ``raw=False``, so a frame that
round-trips through :func:`decode_body` and :func:`encode_body` is
byte-for-byte the same as the daemon's (``wire/vectors`` checks it).
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import msgpack

from .errors import FrameTooLarge, ProtocolError

DEFAULT_MAX_FRAME = 8 * 1024 * 1024
"""The daemon's default limit (``agora daemon --max-frame``), in body bytes."""

_HEADER = struct.Struct(">I")
HEADER_SIZE = _HEADER.size


def encode_body(value: Any) -> bytes:
    """One MessagePack value, as the protocol encodes it."""
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def decode_body(body: bytes) -> Any:
    """Decodes one frame body.

    Raises:
        ProtocolError: the bytes are not exactly one valid MessagePack value
            (or hold a string that is not UTF-8).
    """
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=False, use_list=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ProtocolError(f"malformed frame from the server: {exc}") from exc


def encode_frame(value: Any, max_frame: int | None = None) -> bytes:
    """A whole frame (header and body) for ``value``.

    Raises:
        FrameTooLarge: the body is larger than ``max_frame``.
    """
    body = encode_body(value)
    if max_frame is not None and len(body) > max_frame:
        raise FrameTooLarge(len(body), max_frame)
    return _HEADER.pack(len(body)) + body


def decode_frame(frame: bytes, max_frame: int = DEFAULT_MAX_FRAME) -> Any:
    """Decodes exactly one whole frame (header and body).

    Raises:
        ProtocolError: the frame is truncated, has trailing bytes, or its
            body is not MessagePack.
        FrameTooLarge: the header announces more than ``max_frame``.
    """
    decoder = FrameDecoder(max_frame)
    values = decoder.feed(frame)
    if len(values) != 1 or decoder.buffered:
        raise ProtocolError(
            f"expected exactly one frame, got {len(values)} and {decoder.buffered} byte(s) left"
        )
    return values[0]


class FrameDecoder:
    """Incremental decoder: feed it bytes as they arrive, get whole values.

    A header announcing more than ``max_frame`` raises :class:`FrameTooLarge`
    from the header alone, before the body is buffered (as the daemon does).
    """

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Any]:
        """Adds ``data`` and returns every value completed by it, in order."""
        self._buffer += data
        values: list[Any] = []
        buffer, start, total = self._buffer, 0, len(self._buffer)
        try:
            while total - start >= HEADER_SIZE:
                (size,) = _HEADER.unpack_from(buffer, start)
                if size > self.max_frame:
                    raise FrameTooLarge(size, self.max_frame)
                end = start + HEADER_SIZE + size
                if end > total:
                    break
                values.append(decode_body(bytes(buffer[start + HEADER_SIZE : end])))
                start = end
        finally:
            del buffer[:start]
        return values


async def read_frame(reader: asyncio.StreamReader, max_frame: int) -> Any:
    """Reads and decodes one frame from a stream.

    Raises:
        asyncio.IncompleteReadError: the stream ended (cleanly between
            frames when ``partial`` is empty).
        FrameTooLarge: the header announces more than ``max_frame``.
        ProtocolError: the body is not MessagePack.
    """
    header = await reader.readexactly(HEADER_SIZE)
    (size,) = _HEADER.unpack(header)
    if size > max_frame:
        raise FrameTooLarge(size, max_frame)
    body = await reader.readexactly(size)
    return decode_body(body)
