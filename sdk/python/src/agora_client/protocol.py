"""The message tables: every operation, reply and event this SDK knows,
by wire name, and decoding of wire maps into their classes.

The tables are built from the classes in :mod:`~agora_client.ops`,
:mod:`~agora_client.replies` and :mod:`~agora_client.events`, in definition
order (the same order as the Rust definitions). The test suite checks them
against ``wire/vectors/schema.json``, so a message added in Rust fails the
Python tests until it is added here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

from . import events, ops, replies
from ._model import MalformedMessage, from_wire
from .events import Event
from .ops import Op
from .replies import Reply

PROTOCOL_VERSION = 1
"""The protocol version this SDK speaks (sent in the hello)."""

SERVICES = ("base", "chat", "cache", "jobs", "metrics", "game")
"""Every service, in the order of the Rust ``services!`` list."""

M = TypeVar("M")


def _table(module: ModuleType, base: type[M]) -> dict[str, type[M]]:
    table: dict[str, type[M]] = {}
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, base)
            and value is not base
            and value.__module__ == module.__name__
        ):
            tag = getattr(value, "TYPE")
            if tag in table:
                raise RuntimeError(f"{tag!r} is defined twice in {module.__name__}")
            table[tag] = value
    return table


OPS: dict[str, type[Op[Any]]] = _table(ops, Op)
"""Operation classes by wire name."""
REPLIES: dict[str, type[Reply]] = _table(replies, Reply)
"""Reply classes by wire name."""
EVENTS: dict[str, type[Event]] = _table(events, Event)
"""Event classes by wire name."""


def service_of(name: str) -> str | None:
    """The service owning the operation, reply or event ``name``, if known."""
    for table in (OPS, REPLIES, EVENTS):
        cls = table.get(name)
        if cls is not None:
            return str(getattr(cls, "SERVICE"))
    return None


def _decode(table: Mapping[str, type[M]], data: object, what: str) -> M | dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedMessage(f"{what}: expected a map, got {type(data).__name__}")
    tag = data.get("type")
    if not isinstance(tag, str):
        raise MalformedMessage(f"{what}: missing field 'type'")
    cls = table.get(tag)
    if cls is None:
        return data
    return from_wire(cls, data)


def decode_op(data: object) -> Op[Any] | dict[str, Any]:
    """An operation map as its class; an unknown ``type`` is returned as is.

    Raises:
        MalformedMessage: not a map, no ``type``, or a known type whose
            fields are missing or of the wrong type.
    """
    return _decode(OPS, data, "operation")


def decode_reply(data: object) -> Reply | dict[str, Any]:
    """A reply body as its class; an unknown ``type`` is returned as is."""
    return _decode(REPLIES, data, "reply")


def decode_event(data: object) -> Event | dict[str, Any]:
    """An event map as its class; an unknown ``type`` is returned as is."""
    return _decode(EVENTS, data, "event")


@dataclass(frozen=True)
class Push:
    """An event pushed on a topic.

    Attributes:
        topic: the topic it was published on (``chat.room.ops``).
        event: the decoded event, or the raw map when its ``type`` is not one
            this SDK knows (or its fields could not be decoded).
        raw: the event map exactly as received.
        replayed: ``True`` for chat messages fetched from history after a
            reconnect (they were published while the client was away).
    """

    topic: str
    event: Event | dict[str, Any]
    raw: dict[str, Any] = field(repr=False)
    replayed: bool = False

    @property
    def type(self) -> str:
        """The event's wire ``type``."""
        tag = self.raw.get("type")
        return tag if isinstance(tag, str) else ""
