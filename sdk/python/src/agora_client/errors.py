"""Errors: the protocol's error codes and the exceptions this SDK raises.

Hierarchy::

    AgoraError                      base of everything below
    ├── ServerError                 the server answered an ``error`` frame (has ``code``)
    │   └── GoodbyeError            the server sent ``goodbye`` and closed the connection
    ├── ConnectionLost              the connection broke before the answer arrived
    │   ├── ConnectError            no address could be connected to
    │   └── ClientClosed            the client was closed (``Client.close``)
    ├── ProtocolError               the server sent something this SDK cannot read
    ├── FrameTooLarge               a frame exceeds the allowed size (sent or received)
    ├── RequestTimeout              no answer within the request timeout (also a TimeoutError)
    ├── CacheCommandError           a cache command answered a Redis error (WRONGTYPE …)
    └── SubscriptionOverflow        a subscription's buffer overflowed (policy "raise")

``ServerError`` is what most callers catch: its ``code`` is an
:class:`ErrorCode`, e.g. ``ErrorCode.NOT_FOUND``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

_E = TypeVar("_E", bound="ServerError")


class ErrorCode(str, enum.Enum):
    """The machine-readable error codes of the protocol (``wire/src/error.rs``).

    A code this SDK does not know is reported as :attr:`INTERNAL`, as the
    protocol asks; the original text stays in ``ServerError.raw_code``.
    """

    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"

    @classmethod
    def parse(cls, text: object) -> ErrorCode:
        """The code named ``text``; :attr:`INTERNAL` for anything unknown."""
        for code in cls:
            if code.value == text:
                return code
        return cls.INTERNAL

    def __str__(self) -> str:
        return self.value


class AgoraError(Exception):
    """Base class of every error this SDK raises. ``code`` is the protocol
    error code for errors the server sent, ``None`` for the client's own."""

    code: ErrorCode | None = None


class ServerError(AgoraError):
    """The server refused a request (an ``error`` frame) or the handshake.

    Attributes:
        code: the protocol error code.
        message: the server's sentence, safe to show to a person.
        retry_after_ms: for ``rate_limited`` and ``unavailable``, when to retry.
        raw_code: the code exactly as sent (differs from ``code.value`` only
            for codes this SDK does not know).
    """

    code: ErrorCode

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        retry_after_ms: int | None = None,
        raw_code: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms
        self.raw_code = raw_code if raw_code is not None else code.value
        text = f"{message} ({self.raw_code})"
        if retry_after_ms is not None:
            text += f", retry after {retry_after_ms} ms"
        super().__init__(text)

    @classmethod
    def from_body(cls: type[_E], body: object) -> _E:
        """Builds the error from an error body ``{code, message, retry_after_ms?}``.

        Tolerates a malformed body: the error then says so instead of failing.
        """
        if not isinstance(body, Mapping):
            return cls(ErrorCode.INTERNAL, f"malformed error body from the server: {body!r}")
        raw = body.get("code")
        message = body.get("message")
        retry = body.get("retry_after_ms")
        return cls(
            ErrorCode.parse(raw),
            message if isinstance(message, str) else repr(message),
            retry if isinstance(retry, int) and not isinstance(retry, bool) else None,
            raw if isinstance(raw, str) else None,
        )

    def to_body(self) -> dict[str, Any]:
        """The error as the wire's error body."""
        body: dict[str, Any] = {"code": self.raw_code, "message": self.message}
        if self.retry_after_ms is not None:
            body["retry_after_ms"] = self.retry_after_ms
        return body


class GoodbyeError(ServerError):
    """The server said ``goodbye`` (and closed the connection): a refused
    handshake, an oversize frame, a client too slow to read its pushes, or
    the daemon shutting down (``unavailable``)."""


class ConnectionLost(AgoraError):
    """The connection ended before the answer arrived. The request may or
    may not have run on the server. ``goodbye`` holds the server's reason
    when it gave one."""

    def __init__(self, message: str = "connection lost", goodbye: GoodbyeError | None = None):
        self.goodbye = goodbye
        if goodbye is not None:
            message = f"{message}: the server said goodbye: {goodbye}"
        super().__init__(message)


class ClientClosed(ConnectionLost):
    """The client was closed with :meth:`agora_client.Client.close`."""

    def __init__(self, message: str = "the client is closed") -> None:
        super().__init__(message)


class ConnectError(ConnectionLost):
    """No address could be connected to (each one's error is in ``errors``)."""

    def __init__(self, message: str, errors: list[BaseException] | None = None) -> None:
        self.errors = errors or []
        super().__init__(message)


class ProtocolError(AgoraError):
    """The server sent something that does not follow the protocol: bytes
    that are not MessagePack, a frame that is not a map, or a message whose
    fields do not have the documented types."""


class FrameTooLarge(AgoraError):
    """A frame is larger than allowed: a request above the server's
    ``max_frame`` (never sent, the connection stays usable), or a frame from
    the server above the client's limit (the connection is dropped)."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit} bytes")


class RequestTimeout(AgoraError, TimeoutError):
    """No answer within the request timeout. The request may still run on
    the server; a late answer is discarded."""


class CacheCommandError(AgoraError):
    """A cache command answered a Redis error (``WRONGTYPE …``, ``ERR …``):
    the request succeeded, the command did not (like redis-py's
    ``ResponseError``). ``prefix`` is the Redis error code (``WRONGTYPE``)."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.prefix = message.split(" ", 1)[0] if message else ""
        super().__init__(message)


class SubscriptionOverflow(AgoraError):
    """A subscription with the ``"raise"`` overflow policy fell behind: its
    buffer filled up and pushes were lost."""

    def __init__(self, dropped: int) -> None:
        self.dropped = dropped
        super().__init__(f"subscription overflowed: {dropped} push(es) dropped")
