"""Reconnection after the daemon restarts on the same port: signed in again
by token, topics re-subscribed, chat resumed without loss or duplicates,
and workers carrying on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agora_client import Backoff, Client, ConnectionLost, ErrorCode, JobContext, Push, Worker
from agora_client._connection import Connection
from agora_client.events import ChatMessageEvent, SessionOpenedEvent

from .conftest import PASSWORD, ClientFactory, Daemon, unique_name


def gate(client: Client) -> asyncio.Event:
    """Holds the client's reconnection until the returned event is set."""
    opened = asyncio.Event()
    original = client._open_any

    async def gated() -> Connection:
        await opened.wait()
        return await original()

    client._open_any = gated  # type: ignore[method-assign]
    return opened


def seq_of(push: Push) -> int:
    assert isinstance(push.event, ChatMessageEvent)
    return push.event.message.seq


async def test_resumes_chat_and_subscriptions_after_a_restart(daemon: Daemon, make_client: ClientFactory) -> None:
    disconnected = asyncio.Event()
    reconnected: list[Any] = []
    alice = await make_client(
        on_disconnect=lambda exc: disconnected.set(),
        on_reconnect=reconnected.append,
        reconnect=Backoff(initial=0.05, maximum=0.3),
    )
    bob = await make_client()
    assert alice.user is not None
    room = unique_name("resume")
    messages = alice.chat.events(room)
    sessions = await alice.subscribe("sessions")
    await alice.chat.join(room)
    await bob.chat.join(room)

    first = await bob.chat.send(room, "before the restart")
    assert seq_of(await messages.wait_for(lambda p: isinstance(p.event, ChatMessageEvent), timeout=10)) == first.seq

    hold = gate(alice)
    await asyncio.to_thread(daemon.restart)  # SIGTERM: goodbye, then a new process on the same port
    await asyncio.wait_for(disconnected.wait(), 10)
    assert alice.goodbye is not None and alice.goodbye.code is ErrorCode.UNAVAILABLE
    assert not alice.connected

    # Bob reconnects on his own (his requests wait for it) and talks while
    # Alice is still away.
    missed = [await bob.chat.send(room, f"while away {i}") for i in range(3)]
    hold.set()
    await alice.wait_connected(timeout=20)
    after = await bob.chat.send(room, "after the restart")

    got: list[Push] = []
    while not got or seq_of(got[-1]) < after.seq:
        got.append(await messages.wait_for(lambda p: isinstance(p.event, ChatMessageEvent), timeout=10))
    assert [seq_of(p) for p in got] == [m.seq for m in missed] + [after.seq]
    assert [p.replayed for p in got] == [True, True, True, False]
    assert alice.stats.reconnects == 1 and len(reconnected) == 1

    # Signed in again with the token, and the `sessions` topic re-subscribed.
    assert (await alice.whoami()).user == alice.user
    newcomer = await make_client(register=False, client_name="after-restart/1")
    assert newcomer.welcome is not None
    session_id = newcomer.welcome.session
    await sessions.wait_for(
        lambda p: isinstance(p.event, SessionOpenedEvent) and p.event.session.id == session_id, timeout=10
    )


async def test_without_reconnect_the_client_gives_up(daemon: Daemon, make_client: ClientFactory) -> None:
    client = await make_client(reconnect=False)
    sub = client.listen("*")
    await asyncio.to_thread(daemon.restart)
    with pytest.raises(ConnectionLost):
        async for _ in sub:
            pass
    with pytest.raises(ConnectionLost):
        await client.ping()
    assert client.closed


async def test_login_token_survives_a_restart_and_worker_carries_on(daemon: Daemon, make_client: ClientFactory) -> None:
    name = unique_name("w")
    worker_client = await make_client(register=False)
    await worker_client.register(name, PASSWORD)
    producer = await make_client()
    queue = unique_name("restart")
    seen: list[int] = []
    arrived = asyncio.Event()
    worker = Worker(worker_client, queue, concurrency=2, wait_ms=500)

    @worker.handle("tick")
    async def tick(job: JobContext) -> int:
        seen.append(job.args["n"])
        arrived.set()
        return int(job.args["n"])

    run = asyncio.create_task(worker.run())
    await producer.jobs.enqueue("tick", {"n": 1}, queue=queue)
    await asyncio.wait_for(arrived.wait(), 10)
    arrived.clear()
    await asyncio.to_thread(daemon.restart)
    await producer.jobs.enqueue("tick", {"n": 2}, queue=queue)  # waits for the reconnect
    await asyncio.wait_for(arrived.wait(), 20)
    worker.stop()
    summary = await asyncio.wait_for(run, 20)
    assert seen == [1, 2] and summary.completed == 2
    assert worker_client.user is not None and worker_client.user.name == name
