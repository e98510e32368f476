"""Push routing: pushes go to every subscription whose topics match; chat
messages are tracked per room (the newest ``seq`` seen, recent ``seq``\\ s to
drop duplicates) so a reconnect can resume each room from history."""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from typing import Any

from ._model import MalformedMessage
from .events import ChatMessageEvent
from .protocol import Push, decode_event
from .subscription import Subscription

log = logging.getLogger("agora_client")

_SEEN_PER_ROOM = 4096


@dataclass
class ClientStats:
    """Counters, for monitoring and tests."""

    requests: int = 0
    reconnects: int = 0
    pushes: int = 0
    unrouted_pushes: int = 0
    duplicate_pushes: int = 0
    replayed_pushes: int = 0
    unknown_frames: int = 0
    orphan_errors: int = 0


class Router:
    """The client's subscriptions and chat cursors."""

    def __init__(self, stats: ClientStats) -> None:
        self.stats = stats
        self.subs: list[Subscription] = []
        self.chat_cursor: dict[str, int] = {}
        """The newest message seq seen (or joined at) per room."""
        self._seen: dict[str, collections.OrderedDict[int, None]] = {}
        self._held: dict[str, list[Push]] = {}

    # ------------------------------------------------------------ pushes

    def on_push(self, frame: dict[str, Any]) -> None:
        """Handles a ``push`` server frame."""
        topic, raw = frame.get("topic"), frame.get("event")
        if not isinstance(topic, str) or not isinstance(raw, dict):
            self.stats.unknown_frames += 1
            log.warning("ignoring a malformed push: %r", frame)
            return
        try:
            event = decode_event(raw)
        except MalformedMessage as exc:
            log.warning("push on %s: %s (delivered as a raw map)", topic, exc)
            event = raw
        self.accept(Push(topic, event, raw))

    def accept(self, push: Push) -> None:
        """Delivers a push, unless it is a chat message already delivered (or
        held back while its room resumes)."""
        event = push.event
        if isinstance(event, ChatMessageEvent) and push.topic.startswith("chat.room."):
            room = event.message.room
            held = self._held.get(room)
            if held is not None and not push.replayed:
                held.append(push)
                return
            seen = self._seen.setdefault(room, collections.OrderedDict())
            seq = event.message.seq
            if seq in seen:
                self.stats.duplicate_pushes += 1
                return
            seen[seq] = None
            if len(seen) > _SEEN_PER_ROOM:
                seen.popitem(last=False)
            self.chat_cursor[room] = max(seq, self.chat_cursor.get(room, 0))
        self.deliver(push)

    def deliver(self, push: Push) -> None:
        self.stats.pushes += 1
        if push.replayed:
            self.stats.replayed_pushes += 1
        routed = False
        for sub in self.subs:
            if sub.matches(push.topic):
                sub._offer(push)
                routed = True
        if not routed:
            self.stats.unrouted_pushes += 1

    # ------------------------------------------------------------ subscriptions

    def wanted(self, topic: str) -> bool:
        return any(s.matches(topic) for s in self.subs)

    def server_topics(self) -> list[str]:
        """Every topic some subscription asked the server for, sorted."""
        return sorted({t for s in self.subs if s.server for t in s.topics})

    def remove(self, sub: Subscription) -> None:
        if sub in self.subs:
            self.subs.remove(sub)

    def end_all(self, error: BaseException | None = None) -> None:
        for sub in list(self.subs):
            sub._end(error)
        self.subs.clear()

    # ------------------------------------------------------------ chat resumption

    def track_room(self, room: str, last_seq: int) -> None:
        self.chat_cursor[room] = max(last_seq, self.chat_cursor.get(room, 0))

    def untrack_room(self, room: str) -> None:
        self.chat_cursor.pop(room, None)
        self._seen.pop(room, None)

    def hold(self) -> list[str]:
        """Starts resuming the rooms some subscription follows: their live
        messages are held back until :meth:`release`. Returns the rooms."""
        rooms = [r for r in self.chat_cursor if self.wanted(f"chat.room.{r}")]
        for room in rooms:
            self._held[room] = []
        return rooms

    def release(self, rooms: list[str]) -> None:
        """Delivers the held-back messages (those history did not cover)."""
        for room in rooms:
            for push in self._held.pop(room, []):
                self.accept(push)
