"""The client against a real daemon: handshake, accounts, errors, timeouts."""

from __future__ import annotations

import asyncio
import socket

import pytest

from agora_client import (
    Client,
    ClientClosed,
    ConnectError,
    ErrorCode,
    FrameTooLarge,
    GoodbyeError,
    RequestTimeout,
    ServerError,
    ops,
)
from agora_client.events import SessionOpenedEvent
from agora_client.replies import PongReply

from .conftest import PASSWORD, ClientFactory, Daemon, unique_name


async def test_ping(make_client: ClientFactory) -> None:
    client = await make_client(register=False)
    pong = await client.ping()
    assert isinstance(pong, PongReply) and pong.server_time_ms > 1_600_000_000_000
    raw = await client.request({"type": "ping"})
    assert raw["type"] == "pong" and isinstance(raw["server_time_ms"], int)
    assert client.welcome is not None and client.welcome.protocol == 1
    assert client.welcome.user is None


async def test_register_login_whoami_and_token(make_client: ClientFactory, daemon: Daemon) -> None:
    name = unique_name("Al")  # upper case is folded
    first = await make_client(register=False)
    session = await first.register(name, PASSWORD)
    assert session.user.name == name.lower() and session.token
    assert first.token == session.token and first.user == session.user
    with pytest.raises(ServerError) as taken:
        await (await make_client(register=False)).register(name, PASSWORD)
    assert taken.value.code is ErrorCode.CONFLICT

    second = await make_client(register=False)
    me = await second.whoami()
    assert me.user is None and me.session.client.startswith("agora-client-python/")
    with pytest.raises(ServerError) as wrong:
        await second.login(name, "not the password")
    assert wrong.value.code is ErrorCode.UNAUTHORIZED
    await second.login(name, PASSWORD)
    assert (await second.whoami()).user == session.user

    # The token signs in a new connection from its hello.
    third = await make_client(register=False, token=session.token)
    assert third.welcome is not None and third.welcome.user == session.user
    assert (await third.whoami()).user == session.user


async def test_bad_token_is_refused_with_a_goodbye(daemon: Daemon) -> None:
    with pytest.raises(GoodbyeError) as refused:
        await Client.connect(daemon.addr, token="not.a.token", reconnect=False)
    assert refused.value.code is ErrorCode.UNAUTHORIZED
    assert "token" in refused.value.message


async def test_unknown_op_is_a_bad_request_and_the_connection_stays_usable(client: Client) -> None:
    with pytest.raises(ServerError) as unknown:
        await client.request({"type": "teleport", "to": "mars"})
    assert unknown.value.code is ErrorCode.BAD_REQUEST
    assert "teleport" in unknown.value.message
    with pytest.raises(ServerError) as missing:
        await client.request({"type": "chat_join"})
    assert missing.value.code is ErrorCode.BAD_REQUEST and "room" in missing.value.message
    assert isinstance(await client.ping(), PongReply)


async def test_not_signed_in_is_unauthorized(make_client: ClientFactory) -> None:
    anonymous = await make_client(register=False)
    with pytest.raises(ServerError) as err:
        await anonymous.chat.join("ops")
    assert err.value.code is ErrorCode.UNAUTHORIZED


async def test_request_timeout_and_late_answer_is_discarded(client: Client) -> None:
    queue = unique_name("empty")
    with pytest.raises(RequestTimeout):
        await client.call(ops.JobsClaimOp(queue=queue, limit=1, wait_ms=1500), timeout=0.2)
    assert client._conn is not None and not client._conn.pending
    # The late answer arrives and is dropped; requests go on.
    assert isinstance(await client.ping(), PongReply)
    assert isinstance(RequestTimeout("x"), TimeoutError)


async def test_cancelling_a_request_cleans_up(client: Client) -> None:
    task = asyncio.create_task(client.jobs.claim(unique_name("q"), wait_ms=3000))
    while client._conn is None or not client._conn.pending:
        await asyncio.sleep(0)  # until the request is registered
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not client._conn.pending
    assert isinstance(await client.ping(), PongReply)


async def test_many_concurrent_requests_are_matched_by_id(client: Client) -> None:
    rooms = [f"r{i}-{unique_name()}" for i in range(20)]
    joined = await asyncio.gather(*(client.chat.join(r) for r in rooms))
    assert [j.room.name for j in joined] == rooms
    pongs = await asyncio.gather(*(client.ping() for _ in range(200)))
    assert all(isinstance(p, PongReply) for p in pongs)


async def test_a_request_over_max_frame_is_refused_locally(client: Client) -> None:
    assert client._conn is not None
    limit = client._conn.max_outgoing
    with pytest.raises(FrameTooLarge):
        await client.chat.send("nowhere", "x" * (limit + 1))
    assert isinstance(await client.ping(), PongReply)  # nothing was sent


async def test_subscribe_routes_pushes_by_topic(client: Client, make_client: ClientFactory) -> None:
    sessions = await client.subscribe("sessions")
    other = await client.subscribe(f"nothing.{unique_name()}")
    newcomer = await make_client(register=False, client_name="newcomer/1")
    assert newcomer.welcome is not None
    push = await sessions.wait_for(
        lambda p: isinstance(p.event, SessionOpenedEvent) and p.event.session.id == newcomer.welcome.session,  # type: ignore[union-attr]
        timeout=10,
    )
    assert push.topic == "sessions" and push.type == "session_opened"
    assert other.pending() == 0
    await other.close()
    await sessions.close()
    assert sessions.closed


async def test_addresses_are_tried_in_turn(daemon: Daemon) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    async with Client.connect([dead, daemon.addr], connect_timeout=2) as client:
        assert isinstance(await client.ping(), PongReply)
        assert client._conn is not None and str(client._conn.address) == daemon.addr
    with pytest.raises(ConnectError):
        await Client.connect([dead], connect_timeout=2)


async def test_close_ends_requests_and_subscriptions(make_client: ClientFactory) -> None:
    client = await make_client()
    sub = client.listen("*")
    claim = asyncio.create_task(client.jobs.claim(unique_name("q"), wait_ms=10_000))
    while client._conn is None or not client._conn.pending:
        await asyncio.sleep(0)
    # Shutting down our sending side makes the daemon answer the waiting
    # claim at once (empty), so close() does not wait for the long poll.
    await client.close(timeout=5)
    assert await asyncio.wait_for(claim, 5) == []
    assert [p async for p in sub] == []
    with pytest.raises(ClientClosed):
        await client.ping()
