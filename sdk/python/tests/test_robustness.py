"""Unexpected server input, against a scripted fake server: nothing
crashes or hangs, unknown things are surfaced, errors say what happened."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgpack
import pytest
import pytest_asyncio

from agora_client import (
    Backoff,
    Client,
    ConnectError,
    ConnectionLost,
    ErrorCode,
    FrameDecoder,
    FrameTooLarge,
    GoodbyeError,
    ProtocolError,
    RequestTimeout,
    ServerError,
    SubscriptionOverflow,
    decode_frame,
    encode_frame,
    ops,
)
from agora_client.events import ChatMessageEvent

WELCOME = {"type": "welcome", "server_version": "9.9.9", "protocol": 1, "session": 1, "max_frame": 1 << 20}
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def recv(reader: asyncio.StreamReader) -> Any:
    (size,) = struct.unpack(">I", await reader.readexactly(4))
    return msgpack.unpackb(await reader.readexactly(size), raw=False)


def send(writer: asyncio.StreamWriter, value: Any) -> None:
    writer.write(encode_frame(value))


def send_raw(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(struct.pack(">I", len(body)) + body)


class FakeServer:
    def __init__(self) -> None:
        self.script: Script | None = None
        self.server: asyncio.Server | None = None
        self.addr = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.addr = "127.0.0.1:%d" % self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            assert self.script is not None
            await self.script(reader, writer)
            await writer.drain()
            await reader.read()  # until the client goes
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeServer]:
    server = FakeServer()
    await server.start()
    yield server
    assert server.server is not None
    server.server.close()


def welcomed(then: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = await recv(reader)
        assert hello["protocol"] == 1 and hello["client"]
        send(writer, WELCOME)
        await then(reader, writer)

    return script


async def welcome_as(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: int) -> None:
    """Reads the hello and welcomes it as session ``session``."""
    await recv(reader)
    send(writer, {**WELCOME, "session": session})


async def connect(fake: FakeServer, **options: Any) -> Client:
    options.setdefault("reconnect", False)
    options.setdefault("request_timeout", 10)
    return await Client.connect(fake.addr, **options)


@pytest.mark.parametrize(
    "body, error",
    [
        (b"\xc1", ProtocolError),  # never-used MessagePack byte
        (msgpack.packb(7), ProtocolError),  # not a map
        (b"\x92\x01", ProtocolError),  # truncated array
    ],
)
async def test_malformed_frames_fail_the_waiting_request_clearly(fake: FakeServer, body: bytes, error: type) -> None:
    async def then(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await recv(reader)
        send_raw(writer, body)

    fake.script = welcomed(then)
    client = await connect(fake)
    with pytest.raises(error):
        await asyncio.wait_for(client.ping(), 5)
    assert client.closed  # no reconnect: given up, cleanly
    await client.close()


async def test_an_oversize_frame_from_the_server_is_refused_from_its_header(fake: FakeServer) -> None:
    async def then(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await recv(reader)
        writer.write(struct.pack(">I", (1 << 20) + 1))  # announces more than max_frame

    fake.script = welcomed(then)
    client = await connect(fake, max_frame=1024)
    with pytest.raises(FrameTooLarge):
        await asyncio.wait_for(client.ping(), 5)
    await client.close()


async def test_unknown_things_are_ignored_or_surfaced(fake: FakeServer) -> None:
    async def then(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await recv(reader)
        send(writer, {"type": "telemetry", "cpu": 3})  # a frame type from the future
        send(writer, {"type": "push", "topic": "t", "event": {"type": "hologram", "x": 1}})
        send(writer, {"type": "push", "topic": "t", "event": {"type": "chat_unread", "dms": "many"}})
        send(writer, {"type": "error", "id": 0, "error": {"code": "bad_request", "message": "?"}})
        send(writer, {"type": "reply", "id": first["id"], "extra": 1, "body": {"type": "pong", "server_time_ms": 5, "new": [1]}})
        second = await recv(reader)
        send(writer, {"type": "quantum", "id": second["id"]})  # an unknown answer to a request
        third = await recv(reader)
        send(writer, {"type": "error", "id": third["id"], "error": {"code": "solar_flare", "message": "hm", "retry_after_ms": 5}})
        fourth = await recv(reader)
        send(writer, {"type": "reply", "id": fourth["id"], "body": {"type": "pong_v2"}})

    fake.script = welcomed(then)
    client = await connect(fake)
    sub = client.listen("t")
    pong = await client.ping()
    assert pong.server_time_ms == 5
    unknown, malformed = await sub.get(5), await sub.get(5)
    assert unknown.event == {"type": "hologram", "x": 1} and unknown.type == "hologram"
    assert malformed.event == {"type": "chat_unread", "dms": "many"}  # raw: fields did not decode
    with pytest.raises(ProtocolError, match="quantum"):
        await client.ping()
    with pytest.raises(ServerError) as odd:
        await client.ping()
    assert odd.value.code is ErrorCode.INTERNAL and odd.value.raw_code == "solar_flare"
    assert odd.value.retry_after_ms == 5
    with pytest.raises(ProtocolError, match="pong_v2"):
        await client.call(ops.PingOp())
    assert client.stats.unknown_frames == 2 and client.stats.orphan_errors == 1
    await client.close()


async def test_goodbye_fails_waiting_requests_with_its_reason(fake: FakeServer) -> None:
    async def then(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await recv(reader)
        send(writer, {"type": "goodbye", "error": {"code": "unavailable", "message": "the server is shutting down"}})

    fake.script = welcomed(then)
    goodbyes: list[GoodbyeError] = []
    client = await connect(fake, on_goodbye=goodbyes.append)
    with pytest.raises(ConnectionLost) as lost:
        await client.ping()
    assert lost.value.goodbye is not None and lost.value.goodbye.code is ErrorCode.UNAVAILABLE
    assert [g.code for g in goodbyes] == [ErrorCode.UNAVAILABLE] and client.goodbye is goodbyes[0]
    await client.close()


async def test_handshake_refusals(fake: FakeServer) -> None:
    async def goodbye(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await recv(reader)
        send(writer, {"type": "goodbye", "error": {"code": "bad_request", "message": "unsupported protocol version"}})

    fake.script = goodbye
    with pytest.raises(GoodbyeError) as refused:
        await connect(fake)
    assert refused.value.code is ErrorCode.BAD_REQUEST

    async def not_welcome(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await recv(reader)
        send(writer, {"type": "reply", "id": 1, "body": {}})

    fake.script = not_welcome
    with pytest.raises(ConnectError) as wrong:
        await connect(fake)
    assert isinstance(wrong.value.errors[0], ProtocolError)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await recv(reader)
        await asyncio.Event().wait()

    fake.script = silent
    with pytest.raises(ConnectError):
        await connect(fake, connect_timeout=0.3)


async def test_duplicate_chat_messages_are_dropped(fake: FakeServer) -> None:
    def message(seq: int) -> dict[str, Any]:
        return {
            "type": "push",
            "topic": "chat.room.ops",
            "event": {"type": "chat_message", "message": {"room": "ops", "seq": seq, "from": "a", "text": str(seq), "ts_ms": 1}},
        }

    async def then(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for seq in (1, 2, 2, 3, 1):
            send(writer, message(seq))
        first = await recv(reader)
        send(writer, {"type": "reply", "id": first["id"], "body": {"type": "pong", "server_time_ms": 1}})

    fake.script = welcomed(then)
    client = await connect(fake)
    sub = client.chat.events("ops")
    await client.ping()  # the pushes were sent before its answer
    seqs = []
    while (push := sub.get_nowait()) is not None:
        assert isinstance(push.event, ChatMessageEvent)
        seqs.append(push.event.message.seq)
    assert seqs == [1, 2, 3] and client.stats.duplicate_pushes == 2
    await client.close()


@pytest.mark.parametrize("policy, expect", [("drop_oldest", [7, 8, 9]), ("drop_newest", [0, 1, 2]), ("raise", [0, 1, 2])])
async def test_overflow_policies(fake: FakeServer, policy: str, expect: list[int]) -> None:
    async def then(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in range(10):
            send(writer, {"type": "push", "topic": "n", "event": {"type": "tick", "i": i}})
        first = await recv(reader)
        send(writer, {"type": "reply", "id": first["id"], "body": {"type": "pong", "server_time_ms": 1}})

    fake.script = welcomed(then)
    client = await connect(fake)
    sub = client.listen("n", maxsize=3, overflow=policy)  # type: ignore[arg-type]
    await client.ping()
    assert sub.dropped == 7
    if policy == "raise":
        with pytest.raises(SubscriptionOverflow) as overflow:
            await sub.get(1)
        assert overflow.value.dropped == 7
    got = [(await sub.get(1)).raw["i"] for _ in range(3)]
    assert got == expect
    await client.close()
    assert [p async for p in sub] == []  # ends once closed


def test_frame_decoder_edge_cases() -> None:
    frame = encode_frame({"type": "ping"})
    with pytest.raises(ProtocolError):
        decode_frame(frame[:-1])  # truncated
    with pytest.raises(ProtocolError):
        decode_frame(frame + b"\x00")  # trailing bytes
    with pytest.raises(FrameTooLarge):
        FrameDecoder(max_frame=3).feed(frame)
    decoder = FrameDecoder()
    values = [v for b in frame * 3 for v in decoder.feed(bytes([b]))]  # byte by byte
    assert values == [{"type": "ping"}] * 3
    with pytest.raises(FrameTooLarge):
        encode_frame("x" * 100, max_frame=50)


async def test_a_request_a_goodbye_left_unanswered_is_sent_again(fake: FakeServer) -> None:
    # A daemon answers every request it read before its goodbye: the ping
    # it left unanswered never ran, and goes to the next connection.
    connections = 0

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await welcome_as(reader, writer, connections)
        ping = await recv(reader)
        if connections == 1:
            send(writer, {"type": "goodbye", "error": {"code": "unavailable", "message": "the server is shutting down"}})
            await writer.drain()
            writer.close()
            return
        send(writer, {"type": "reply", "id": ping["id"], "body": {"type": "pong", "server_time_ms": 2}})

    fake.script = script
    client = await connect(fake, reconnect=Backoff(initial=0.01, maximum=0.05))
    assert (await client.ping()).server_time_ms == 2
    assert connections == 2
    await client.close()


async def test_a_request_in_flight_when_the_connection_drops_is_not_sent_again(fake: FakeServer) -> None:
    # No goodbye: the request may have run, so it fails and is not resent.
    seen: list[int] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await welcome_as(reader, writer, len(seen) + 1)
        try:
            request = await asyncio.wait_for(recv(reader), 0.5)
        except asyncio.TimeoutError:
            return
        seen.append(request["id"])
        if len(seen) == 1:
            writer.close()

    fake.script = script
    client = await connect(fake, reconnect=Backoff(initial=0.01, maximum=0.05))
    with pytest.raises(ConnectionLost) as lost:
        await client.ping()
    assert lost.value.goodbye is None
    await asyncio.sleep(0.3)
    assert len(seen) == 1, seen
    await client.close()


async def test_reconnect_goes_on_when_restoring_a_subscription_is_refused(fake: FakeServer) -> None:
    connections = 0

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await welcome_as(reader, writer, connections)
        request = await recv(reader)
        assert request["op"] == {"type": "subscribe", "topics": ["news"]}
        if connections == 1:
            send(writer, {"type": "reply", "id": request["id"], "body": {"type": "subscribed", "topics": ["news"]}})
            await writer.drain()
            writer.close()  # the "daemon" goes away
            return
        send(writer, {"type": "error", "id": request["id"], "error": {"code": "bad_request", "message": "no news"}})
        ping = await recv(reader)
        send(writer, {"type": "reply", "id": ping["id"], "body": {"type": "pong", "server_time_ms": 2}})

    fake.script = script
    reconnected = asyncio.Event()
    client = await connect(
        fake, reconnect=Backoff(initial=0.01, maximum=0.05), on_reconnect=lambda welcome: reconnected.set()
    )
    await client.subscribe("news")
    await asyncio.wait_for(reconnected.wait(), 10)
    assert client.welcome is not None and client.welcome.session == 2
    assert (await client.ping()).server_time_ms == 2
    await client.close()


async def test_two_consumers_of_one_subscription(fake: FakeServer) -> None:
    async def then(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await recv(reader)
        send(writer, {"type": "push", "topic": "n", "event": {"type": "tick", "i": 1}})
        send(writer, {"type": "reply", "id": first["id"], "body": {"type": "pong", "server_time_ms": 1}})

    fake.script = welcomed(then)
    client = await connect(fake)
    sub = client.listen("n")
    patient = asyncio.create_task(sub.get(10))
    with pytest.raises(RequestTimeout):
        await sub.get(0.05)  # gives up without disturbing the other consumer
    await client.ping()
    assert (await patient).raw == {"type": "tick", "i": 1}
    await client.close()
