"""``client.chat``: rooms, messages, private messages, presence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .. import ops
from ..replies import ChatDmsReply, ChatHistoryReply, ChatRoomReply, ChatSentReply
from ..subscription import DEFAULT_BUFFER, Overflow, Subscription
from ..types import ChatMessage, Presence, RoomInfo

if TYPE_CHECKING:
    from ..client import Client


def room_topic(room: str) -> str:
    """The topic of a room's events: ``chat.room.NAME``."""
    return f"chat.room.{room}"


def user_topic(user: str) -> str:
    """The topic of a user's private messages: ``chat.user.NAME``."""
    return f"chat.user.{user}"


class Chat:
    """Chat operations (each needs a signed-in client).

    Rooms a client joined with :meth:`join`, or whose messages it received,
    are resumed after a reconnect: the messages sent while it was away are
    fetched with ``chat_history`` ``since`` the last one seen and delivered
    (``Push.replayed``) before newer live ones, without gaps or duplicates.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    async def join(self, room: str) -> ChatRoomReply:
        """Joins (and creates) a room; membership persists until :meth:`leave`."""
        reply = await self._client.call(ops.ChatJoinOp(room=room))
        self._client._track_room(reply.room.name, reply.room.last_seq)
        return reply

    async def leave(self, room: str) -> None:
        """Leaves a room (``not_found`` when not a member)."""
        await self._client.call(ops.ChatLeaveOp(room=room))
        self._client._untrack_room(room.lower())

    async def rooms(self) -> list[RoomInfo]:
        """Every room."""
        return (await self._client.call(ops.ChatRoomsOp())).rooms

    async def set_topic(self, room: str, topic: str) -> None:
        """Sets a room's topic (members only; empty clears it)."""
        await self._client.call(ops.ChatTopicOp(room=room, topic=topic))

    async def send(self, room: str, text: str, *, action: bool = False) -> ChatSentReply:
        """Sends a message; the reply's ``seq`` is its place in the room.

        Your own message also comes back as a push, before this returns.
        """
        return await self._client.call(ops.ChatSendOp(room=room, text=text, action=action))

    async def dm(self, to: str, text: str, *, action: bool = False) -> ChatSentReply:
        """Sends a private message; the reply's ``seq`` is the message id."""
        return await self._client.call(ops.ChatDmOp(to=to, text=text, action=action))

    async def history(
        self,
        room: str,
        *,
        before: int | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> ChatHistoryReply:
        """One page of a room's history, oldest first: with ``since``, the
        messages after it; else the newest before ``before`` (or overall)."""
        op = ops.ChatHistoryOp(room=room, before=before, since=since, limit=limit)
        return await self._client.call(op)

    async def history_since(self, room: str, since: int = 0, *, page: int = 500) -> AsyncIterator[ChatMessage]:
        """Every message after ``since``, oldest first, fetching page by page."""
        while True:
            reply = await self.history(room, since=since, limit=page)
            for message in reply.messages:
                yield message
                since = max(since, message.seq)
            if not reply.more or not reply.messages:
                return

    async def dms(self, *, with_user: str | None = None, limit: int | None = None) -> ChatDmsReply:
        """Unread private messages (marking them read), or one conversation."""
        return await self._client.call(ops.ChatDmsOp(with_=with_user, limit=limit))

    async def who(self, room: str | None = None) -> list[Presence]:
        """A room's members, or every user, with their presence."""
        return (await self._client.call(ops.ChatWhoOp(room=room))).users

    async def away(self, message: str | None = None) -> None:
        """Marks you away with ``message``, or back without one."""
        await self._client.call(ops.ChatAwayOp(message=message))

    def events(
        self,
        *rooms: str,
        maxsize: int = DEFAULT_BUFFER,
        overflow: Overflow = "drop_oldest",
    ) -> Subscription:
        """The events of some rooms (every room when none is named): messages,
        joins, leaves, presence, topics. The server sends them to members
        without any ``subscribe``."""
        patterns = [room_topic(r.lower()) for r in rooms] or ["chat.room.*"]
        return self._client.listen(*patterns, maxsize=maxsize, overflow=overflow)

    def direct(self, maxsize: int = DEFAULT_BUFFER) -> Subscription:
        """Your private messages and unread counts (``chat.user.YOU``)."""
        return self._client.listen("chat.user.*", maxsize=maxsize)
