"""The cache over the native protocol, and the metrics service."""

from __future__ import annotations

import pytest

from agora_client import CacheCommandError, Client, ErrorCode, ServerError
from agora_client.events import CacheMessageEvent
from agora_client.types import CacheArray, CacheBulk, CacheError, CacheInteger, CacheNil

from .conftest import ClientFactory, unique_name


async def test_set_get_and_conveniences(client: Client) -> None:
    key = unique_name("k")
    assert await client.cache.get(key) is None
    assert await client.cache.set(key, "v1") is True
    assert await client.cache.get(key) == b"v1"
    assert await client.cache.set(key, "v2", nx=True) is False
    assert await client.cache.set(key, b"\x00\xff binary", px=60_000) is True
    assert await client.cache.get(key) == b"\x00\xff binary"
    assert 0 < await client.cache.ttl(key) <= 60
    counter = unique_name("n")
    assert await client.cache.incr(counter) == 1
    assert await client.cache.incr(counter, 41) == 42
    assert await client.cache.mget(key, counter, unique_name("missing")) == [b"\x00\xff binary", b"42", None]
    assert await client.cache.exists(key, counter) == 2
    assert await client.cache.delete(key, counter) == 2
    assert await client.cache.get(key) is None


async def test_wrong_type_is_a_command_error_not_a_protocol_error(client: Client) -> None:
    key = unique_name("list")
    assert await client.cache.command("RPUSH", key, "a", "b") == 2
    with pytest.raises(CacheCommandError) as wrong:
        await client.cache.get(key)
    assert wrong.value.prefix == "WRONGTYPE"
    typed = await client.cache.execute("GET", key)
    assert isinstance(typed, CacheError) and typed.message.startswith("WRONGTYPE")
    assert await client.cache.command("LRANGE", key, 0, -1) == [b"a", b"b"]
    listed = await client.cache.execute("LRANGE", key, 0, -1)
    assert listed == CacheArray(items=[CacheBulk(value=b"a"), CacheBulk(value=b"b")])
    assert await client.cache.execute("GET", unique_name("none")) == CacheNil()
    assert await client.cache.execute("LLEN", key) == CacheInteger(value=2)
    # A refused command is a protocol error (bad_request), not a value.
    with pytest.raises(ServerError) as refused:
        await client.cache.command("SUBSCRIBE", "x")
    assert refused.value.code is ErrorCode.BAD_REQUEST


async def test_hash_answers_a_map_or_pairs(client: Client) -> None:
    key = unique_name("h")
    assert await client.cache.command("HSET", key, "f1", "1", "f2", "2") == 2
    result = await client.cache.command("HGETALL", key)
    pairs = dict(result) if isinstance(result, dict) else dict(zip(result[::2], result[1::2]))
    assert pairs == {b"f1": b"1", b"f2": b"2"}


async def test_pub_sub_between_two_clients(make_client: ClientFactory) -> None:
    listener, publisher = await make_client(), await make_client()
    channel = unique_name("chan")
    sub = await listener.cache.subscribe(channel, patterns=(f"{channel}.*",))
    assert await publisher.cache.publish(channel, "hello") == 1
    push = await sub.wait_for(lambda p: isinstance(p.event, CacheMessageEvent), timeout=10)
    assert isinstance(push.event, CacheMessageEvent)
    assert (push.topic, push.event.channel, push.event.payload, push.event.pattern) == (
        "cache",
        channel.encode(),
        b"hello",
        None,
    )
    assert await publisher.cache.command("PUBLISH", f"{channel}.x", b"\x01") == 1
    push = await sub.wait_for(lambda p: isinstance(p.event, CacheMessageEvent), timeout=10)
    assert isinstance(push.event, CacheMessageEvent) and push.event.pattern == f"{channel}.*".encode()
    await listener.cache.unsubscribe()
    assert await publisher.cache.publish(channel, "nobody") == 0


async def test_metrics_watch_now_and_alerts(client: Client) -> None:
    ticks = client.metrics.events()
    watching = await client.metrics.watch("pytest")
    assert any(v.view == "pytest" for v in watching.viewers)
    # A tick (or the last minute's samples) means `metrics_now` has one too.
    if not watching.recent:
        tick = await ticks.wait_for(lambda p: p.type == "metrics_tick", timeout=15)
        assert tick.topic == "metrics"
    sample = await client.metrics.now()
    assert "cpu.total" in sample.values and all(isinstance(v, float) for v in sample.values.values())
    await client.metrics.unwatch()
    name = unique_name("alert")
    alert = await client.metrics.alert_add(name, "cpu.total", ">", 1000, for_ms=0, severity="info")
    assert (alert.name, alert.threshold, alert.severity) == (name, 1000.0, "info")
    assert any(a.name == name for a in await client.metrics.alerts())
    await client.metrics.alert_remove(name)
    with pytest.raises(ServerError) as gone:
        await client.metrics.alert_remove(name)
    assert gone.value.code is ErrorCode.NOT_FOUND
