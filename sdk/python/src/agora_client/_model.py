"""Conversion between wire maps and the SDK's dataclasses.

Every message and data shape is a frozen, keyword-only dataclass whose
fields are declared in the Rust definition's order, so :func:`to_wire`
writes the keys in the same order as the daemon (byte-for-byte equal
frames). Tagged classes carry their wire ``type`` in a ``TYPE`` class
variable; it is written first, as serde does.

Field options mirror serde's attributes:

- a field with a default may be missing or ``nil`` on the wire;
- ``None`` is never written (``skip_serializing_if = "Option::is_none"``);
- :func:`items` with ``omit=True`` skips an empty list, :func:`flag` with
  ``omit=True`` skips ``False`` (``Vec::is_empty``, ``is_false``);
- :func:`renamed` maps a Python keyword to its wire name (``from_`` → ``from``).

Decoding ignores unknown keys and checks every known one against its type
annotation, so a malformed message raises :class:`MalformedMessage` naming
the field instead of surfacing later as an ``AttributeError``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar, Union, cast

from .errors import ProtocolError

T = TypeVar("T")

_WIRE = "agora_wire"
_OMIT_EMPTY = "agora_omit_empty"
_OMIT_FALSE = "agora_omit_false"


class MalformedMessage(ProtocolError, ValueError):
    """A message does not have the shape its type declares."""


class Model:
    """Base of every dataclass that travels on the wire."""

    TYPE: ClassVar[str | None] = None
    """The wire ``type`` tag, for tagged messages (``None`` for plain shapes)."""

    def to_wire(self) -> dict[str, Any]:
        """The message as the map that goes on the wire (keys in wire order)."""
        return to_wire(self)


def opt(*, wire: str | None = None) -> Any:
    """An optional field: missing or ``nil`` means ``None``, never written when ``None``."""
    return dataclasses.field(default=None, metadata=_meta(wire))


def flag(*, omit: bool = False, wire: str | None = None) -> Any:
    """A ``bool`` defaulting to ``False`` (``nil`` too); ``omit`` skips ``False`` when writing."""
    return dataclasses.field(default=False, metadata={**_meta(wire), _OMIT_FALSE: omit})


def items(*, omit: bool = False, wire: str | None = None) -> Any:
    """A list defaulting to ``[]`` (``nil`` too); ``omit`` skips an empty list when writing."""
    return dataclasses.field(default_factory=list, metadata={**_meta(wire), _OMIT_EMPTY: omit})


def zero(*, wire: str | None = None) -> Any:
    """An ``int`` defaulting to 0 when missing or ``nil`` (always written)."""
    return dataclasses.field(default=0, metadata=_meta(wire))


def renamed(wire: str) -> Any:
    """A required field whose wire name is not a valid Python name (``from``)."""
    return dataclasses.field(metadata=_meta(wire))


def _meta(wire: str | None) -> dict[str, Any]:
    return {_WIRE: wire} if wire else {}


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    wire: str
    hint: Any
    required: bool
    omit_empty: bool
    omit_false: bool


_SPECS: dict[type, tuple[_Field, ...]] = {}


def spec(cls: type) -> tuple[_Field, ...]:
    """The wire fields of a model class, in order (cached)."""
    found = _SPECS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = tuple(
            _Field(
                name=f.name,
                wire=f.metadata.get(_WIRE) or f.name,
                hint=hints[f.name],
                required=f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING,
                omit_empty=bool(f.metadata.get(_OMIT_EMPTY)),
                omit_false=bool(f.metadata.get(_OMIT_FALSE)),
            )
            for f in dataclasses.fields(cls)
        )
        _SPECS[cls] = found
    return found


def wire_fields(cls: type) -> list[tuple[str, bool]]:
    """``(wire name, optional)`` of each field of a model class, in order."""
    return [(f.wire, not f.required) for f in spec(cls)]


def to_wire(obj: object) -> dict[str, Any]:
    """A model instance as a wire map: ``type`` first, then the fields in order."""
    out: dict[str, Any] = {}
    tag = getattr(type(obj), "TYPE", None)
    if tag is not None:
        out["type"] = tag
    for f in spec(type(obj)):
        value = getattr(obj, f.name)
        if value is None or (f.omit_empty and not value) or (f.omit_false and value is False):
            continue
        if f.hint is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        out[f.wire] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return to_wire(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def from_wire(cls: type[T], data: object, where: str = "") -> T:
    """Decodes ``data`` (a wire map) as ``cls``; unknown keys are ignored.

    Raises:
        MalformedMessage: a required field is missing, or a field has the
            wrong type; the message names it.
    """
    where = where or _label(cls)
    if not isinstance(data, dict):
        raise MalformedMessage(f"{where}: expected a map, got {_kind(data)}")
    kwargs: dict[str, Any] = {}
    for f in spec(cls):
        value = data.get(f.wire)
        if value is None:
            if f.required:
                if _nullable(f.hint):
                    kwargs[f.name] = None
                    continue
                raise MalformedMessage(f"{where}: missing field {f.wire!r}")
            continue
        kwargs[f.name] = _convert(f.hint, value, f"{where}.{f.wire}")
    return cls(**kwargs)


def _label(cls: type) -> str:
    tag = getattr(cls, "TYPE", None)
    return f"`{tag}`" if tag else cls.__name__


def _kind(value: object) -> str:
    return "nil" if value is None else type(value).__name__


def _nullable(hint: Any) -> bool:
    return _is_union(hint) and type(None) in typing.get_args(hint)


def _is_union(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    return origin is Union or origin is types.UnionType


_SCALARS: dict[Any, Callable[[Any], bool]] = {
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
    bool: lambda v: isinstance(v, bool),
    bytes: lambda v: isinstance(v, (bytes, bytearray)),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def _convert(hint: Any, value: Any, where: str) -> Any:
    if hint is Any:
        return value
    check = _SCALARS.get(hint)
    if check is not None:
        if not check(value):
            raise MalformedMessage(f"{where}: expected {hint.__name__}, got {_kind(value)}")
        if hint is float:
            return float(value)
        if hint is bytes:
            return bytes(value)
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_wire(hint, value, where)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise MalformedMessage(f"{where}: expected an array, got {_kind(value)}")
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise MalformedMessage(f"{where}: expected an array of {len(args)}")
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise MalformedMessage(f"{where}: expected a map, got {_kind(value)}")
        return {
            _convert(args[0], k, f"{where} key"): _convert(args[1], v, f"{where}.{k}")
            for k, v in value.items()
        }
    if origin is Literal:
        # Enumerations pass through as text, known or not: a newer server
        # may add a state, and a client must not fail on it.
        if not isinstance(value, type(args[0])):
            raise MalformedMessage(f"{where}: expected {type(args[0]).__name__}, got {_kind(value)}")
        return value
    if _is_union(hint):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], value, where)
        return _convert_tagged(options, value, where)
    raise TypeError(f"{where}: unsupported annotation {hint!r}")  # a bug in this SDK


def _convert_tagged(options: list[Any], value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise MalformedMessage(f"{where}: expected a map, got {_kind(value)}")
    tag = value.get("type")
    for option in options:
        if getattr(option, "TYPE", None) == tag:
            return from_wire(cast(type, option), value, where)
    raise MalformedMessage(f"{where}: unknown type {tag!r}")
