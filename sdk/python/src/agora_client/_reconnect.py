"""Reconnection: backoff, a new connection signed in by token, and the
restoration of topics, service state (restorers) and chat rooms."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import ops
from ._connection import Connection
from .errors import ConnectError, ConnectionLost, ErrorCode, GoodbyeError, ProtocolError, RequestTimeout, ServerError
from .events import ChatMessageEvent
from .protocol import Push

if TYPE_CHECKING:
    from .client import Client

log = logging.getLogger("agora_client")


async def reconnect(client: Client) -> None:
    """Reconnects with backoff until it succeeds, gives up, or the client closes."""
    assert client.backoff is not None
    attempt = 0
    while not client._closed:
        if client.backoff.max_attempts is not None and attempt >= client.backoff.max_attempts:
            client._give_up(ConnectionLost(f"gave up reconnecting after {attempt} attempts"))
            return
        await asyncio.sleep(client.backoff.delay(attempt))
        attempt += 1
        try:
            conn = await client._open_any()
        except GoodbyeError as exc:
            if exc.code is ErrorCode.UNAUTHORIZED:
                client._give_up(ConnectionLost("the token was refused on reconnect", exc))
                return
            continue
        except (ConnectError, ServerError):
            continue
        try:
            await restore(client, conn)
        except (ConnectionLost, RequestTimeout, ProtocolError) as exc:
            log.info("reconnected to %s but lost it while restoring: %s", conn.address, exc)
            conn.abort()
            continue
        except BaseException:  # closed meanwhile (cancelled), or a bug
            conn.abort()
            raise
        if conn.closed:
            continue
        client.stats.reconnects += 1
        client._install(conn)
        log.info("reconnected to %s", conn.address)
        if client.on_reconnect is not None:
            safe_call(client.on_reconnect, conn.welcome)
        return


async def restore(client: Client, conn: Connection) -> None:
    """Re-subscribes topics and the services' state, then fills the
    chat rooms' gaps from history, on a new connection. A refusal of one
    part (a ``ServerError``) is logged and the rest goes on; a lost
    connection or a timeout aborts (the caller tries again)."""
    deadline = asyncio.get_running_loop().time() + (client.request_timeout or 30.0)
    rooms = client._router.hold()
    try:
        topics = client._router.server_topics()
        for i in range(0, len(topics), 64):
            try:
                await client._request_on(conn, ops.SubscribeOp(topics=topics[i : i + 64]), deadline)
            except ServerError as exc:
                log.warning("cannot subscribe again to %s: %s", topics[i : i + 64], exc)
        for restorer in client._restorers:
            try:
                await restorer(conn)
            except ServerError as exc:
                log.warning("cannot restore %r: %s", restorer, exc)
        for room in rooms:
            await resume_room(client, conn, room, deadline)
    finally:
        client._router.release(rooms)


async def resume_room(client: Client, conn: Connection, room: str, deadline: float) -> None:
    """Fetches what was said in ``room`` since the last message seen, and
    delivers it before the live messages held back meanwhile."""
    since = client._router.chat_cursor.get(room, 0)
    topic = f"chat.room.{room}"
    while True:
        op = ops.ChatHistoryOp(room=room, since=since, limit=500)
        try:
            body = await client._request_on(conn, op, deadline)
        except ServerError as exc:  # left the room meanwhile, or no longer allowed
            log.info("cannot resume chat room %s: %s", room, exc)
            return
        history = client._typed(op, body)
        for message in history.messages:
            event = ChatMessageEvent(message=message)
            client._router.accept(Push(topic, event, event.to_wire(), replayed=True))
            since = max(since, message.seq)
        if not history.more or not history.messages:
            return


def safe_call(callback: Callable[[Any], None], arg: Any) -> None:
    """Calls a user callback; its exceptions are logged, never raised."""
    try:
        callback(arg)
    except Exception:
        log.exception("callback %r failed", callback)
