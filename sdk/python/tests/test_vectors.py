"""The test vectors of wire/vectors/ (generated from the Rust definitions):
every frame decodes to its description and re-encodes byte for byte, with
the raw codec and with the typed layer; every message of schema.json has a
vector and a class here, with the same fields and types."""

from __future__ import annotations

import json
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from agora_client import EVENTS, OPS, REPLIES, FrameDecoder, decode_event, decode_op, decode_reply, encode_frame
from agora_client._model import Model, from_wire, spec, wire_fields
from agora_client.protocol import SERVICES
from agora_client.types import ErrorBody, Hello, Welcome

VECTORS = Path(os.environ.get("AGORA_VECTORS", Path(__file__).resolve().parents[3] / "wire" / "vectors"))
KINDS: dict[str, Mapping[str, type[Model]]] = {"op": OPS, "reply": REPLIES, "event": EVENTS}
FILES = ("frames", "ops", "replies", "events")


def load(name: str) -> Any:
    path = VECTORS / f"{name}.json"
    if not path.exists():
        pytest.fail(f"missing test vectors: {path} (generate them from the Rust definitions)")
    return json.loads(path.read_text(encoding="utf-8"))


def vectors() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in FILES:
        path = VECTORS / f"{name}.json"
        if path.exists():
            out.extend(json.loads(path.read_text(encoding="utf-8")))
    return out


def from_description(value: Any) -> Any:
    """A description as the value the SDK decodes ({"$bin": hex} → bytes)."""
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        return {k: from_description(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_description(v) for v in value]
    return value


def assert_same(got: Any, want: Any, where: str = "$") -> None:
    """Strict equality: same types (no 1 == 1.0 == True), same key order."""
    assert type(got) is type(want), f"{where}: {type(got).__name__} {got!r} != {type(want).__name__} {want!r}"
    if isinstance(want, dict):
        assert list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), f"{where}: {len(got)} items != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and want != want:
        assert got != got, f"{where}: expected NaN"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def vector_id(vector: dict[str, Any]) -> str:
    return f"{vector['kind']}:{vector['name']}"


ALL = vectors()


def test_vectors_exist() -> None:
    for name in ("schema", *FILES):
        assert (VECTORS / f"{name}.json").exists(), f"missing {VECTORS / name}.json"
    assert ALL, "no vectors"


@pytest.mark.parametrize("vector", ALL, ids=vector_id)
def test_frame_decodes_to_its_description_and_reencodes_byte_for_byte(vector: dict[str, Any]) -> None:
    frame = bytes.fromhex(vector["frame"])
    decoder = FrameDecoder()
    # Fed in two pieces, so the incremental path is exercised too.
    values = decoder.feed(frame[:3]) + decoder.feed(frame[3:])
    assert len(values) == 1 and decoder.buffered == 0
    want = from_description(vector["description"])
    assert_same(values[0], want)
    assert encode_frame(values[0]) == frame
    assert encode_frame(want) == frame


def typed_inner(vector: dict[str, Any], value: dict[str, Any]) -> tuple[Model, Callable[[Model], dict[str, Any]]]:
    """The typed message inside a vector's frame, and how to rebuild the frame."""
    kind = vector["kind"]
    if kind == "op":
        op = decode_op(value["op"])
        assert isinstance(op, Model), f"`{vector['name']}` is not known to the SDK"
        return op, lambda m: {"id": value["id"], "op": m.to_wire()}
    if kind == "reply":
        reply = decode_reply(value["body"])
        assert isinstance(reply, Model), f"`{vector['name']}` is not known to the SDK"
        return reply, lambda m: {"type": "reply", "id": value["id"], "body": m.to_wire()}
    if kind == "event":
        event = decode_event(value["event"])
        assert isinstance(event, Model), f"`{vector['name']}` is not known to the SDK"
        return event, lambda m: {"type": "push", "topic": value["topic"], "event": m.to_wire()}
    shapes: dict[str, type[Model]] = {"hello": Hello, "welcome": Welcome}
    if vector["name"] in shapes:
        return from_wire(shapes[vector["name"]], value), lambda m: m.to_wire()
    assert vector["name"] in ("error", "goodbye"), vector["name"]
    body = from_wire(ErrorBody, value["error"])
    return body, lambda m: {**value, "error": m.to_wire()}


@pytest.mark.parametrize("vector", ALL, ids=vector_id)
def test_typed_layer_round_trips_byte_for_byte(vector: dict[str, Any]) -> None:
    frame = bytes.fromhex(vector["frame"])
    value = FrameDecoder().feed(frame)[0]
    typed, rebuild = typed_inner(vector, value)
    if vector["kind"] in KINDS:
        assert type(typed).TYPE == vector["name"]
        assert getattr(type(typed), "SERVICE") == vector["service"]
    rebuilt = rebuild(typed)
    assert_same(rebuilt, value)
    assert encode_frame(rebuilt) == frame


def test_every_message_of_the_schema_has_a_vector() -> None:
    schema = load("schema")
    assert schema["protocol"] == 1
    have = {(v["kind"], v["name"]) for v in ALL}
    missing = [(m["kind"], m["name"]) for m in schema["messages"] if (m["kind"], m["name"]) not in have]
    assert not missing, f"messages without a test vector: {missing}"
    for name in ("hello", "welcome", "error", "goodbye"):
        assert any(v["name"] == name for v in load("frames")), f"no vector for the {name} frame"


def test_the_sdk_knows_exactly_the_schemas_messages() -> None:
    schema = load("schema")
    for kind, table in KINDS.items():
        want = [m["name"] for m in schema["messages"] if m["kind"] == kind]
        unknown = [n for n in want if n not in table]
        assert not unknown, f"{kind}s the Python SDK does not know yet: {unknown}"
        extra = [n for n in table if n not in want]
        assert not extra, f"{kind}s the Python SDK has but the schema does not: {extra}"
        assert list(table) == want, f"{kind}s are not in the Rust definitions' order"
    assert {m["service"] for m in schema["messages"]} <= set(SERVICES)


SCHEMA = json.loads((VECTORS / "schema.json").read_text()) if (VECTORS / "schema.json").exists() else {"messages": []}


@pytest.mark.parametrize("message", SCHEMA["messages"], ids=lambda m: f"{m['kind']}:{m['name']}")
def test_fields_and_types_match_the_schema(message: dict[str, Any]) -> None:
    cls = KINDS[message["kind"]].get(message["name"])
    assert cls is not None, f"unknown {message['kind']} {message['name']}"
    assert getattr(cls, "SERVICE") == message["service"]
    want = [(f["name"], f["optional"]) for f in message["fields"]]
    assert wire_fields(cls) == want, f"`{message['name']}`: fields differ from the Rust definition"
    hints = {f.wire: f.hint for f in spec(cls)}
    for field in message["fields"]:
        assert rust_matches(field["type"], hints[field["name"]]), (
            f"`{message['name']}.{field['name']}`: Rust {field['type']} vs Python {hints[field['name']]}"
        )


# Rust type names that are Python Literal aliases or differently named.
LITERALS = {"JobState", "LeaveReason", "Status", "GameStatus", "EndReason", "AlertState"}
INTS = {"u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64"}


def rust_matches(rust: str, hint: Any) -> bool:
    """Whether a Rust type string (``Option<Vec<u64>>``) matches a Python annotation."""
    rust = rust.replace(" ", "")
    m = re.fullmatch(r"(\w+)<(.*)>", rust)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if m:
        outer, inner = m.groups()
        if outer == "Box":
            return rust_matches(inner, hint)
        if outer == "Option":
            nullable = origin in (typing.Union, types.UnionType) and type(None) in args
            rest = [a for a in args if a is not type(None)]
            return nullable and len(rest) == 1 and rust_matches(inner, rest[0])
        if outer == "Vec":
            return origin is list and rust_matches(inner, args[0])
        if outer == "BTreeMap":
            key, value = inner.split(",", 1)
            return origin is dict and rust_matches(key, args[0]) and rust_matches(value, args[1])
        return False
    if rust in INTS:
        return hint is int
    simple = {"String": str, "bool": bool, "f64": float, "f32": float, "ByteBuf": bytes}
    if rust in simple:
        return hint is simple[rust]
    if rust in LITERALS:
        return origin is typing.Literal
    if rust == "CacheValue":
        return origin in (typing.Union, types.UnionType)
    return isinstance(hint, type) and hint.__name__ == rust
