"""Bots: a :class:`GameBot` base that plays games to the end, and a
:class:`ChatBot` that answers ``!commands`` in chat rooms."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ErrorCode, ServerError
from .events import ChatMessageEvent, GameEndedEvent, GameMovedEvent, GameStartedEvent
from .services.chat import room_topic
from .services.games import TimeLike, game_topic
from .subscription import Subscription
from .types import ChatMessage, GameState

if TYPE_CHECKING:
    from .client import Client

log = logging.getLogger("agora_client.bots")


class GameBot:
    """Plays games: override :meth:`choose_move` (the default plays a random
    legal move). The daemon checks every move; the bot only chooses.

    ::

        class FirstLegal(GameBot):
            async def choose_move(self, state: GameState) -> str:
                return state.legal[0]

        final = await FirstLegal(client).play_queued(["tictactoe"], "1+0")
        print(final.result)
    """

    def __init__(self, client: Client, *, rng: random.Random | None = None) -> None:
        self.client = client
        self.rng = rng or random.Random()
        self.moves_played = 0

    @property
    def me(self) -> str:
        """The signed-in user's name (the bot's player name)."""
        if self.client.user is None:
            raise RuntimeError("a GameBot needs a signed-in client")
        return self.client.user.name

    async def choose_move(self, state: GameState) -> str:
        """The move to play in ``state`` (it is the bot's turn; ``state.legal``
        lists the legal moves in the game's notation)."""
        return self.rng.choice(state.legal)

    async def on_state(self, state: GameState) -> None:
        """Called with each state the bot fetches or receives (for display)."""

    async def play_queued(
        self, kinds: Sequence[str] = ("tictactoe",), time: TimeLike = "1+0", *, timeout: float | None = None
    ) -> GameState:
        """Queues for a game, plays the one the pairing starts, and returns
        its final state."""
        sub = self.client.listen("game.*")
        try:
            await self.client.games.queue(kinds, time)
            started = await sub.wait_for(self._started_for_me, timeout)
            assert isinstance(started.event, GameStartedEvent)
            return await self._play(started.event.state, sub, timeout)
        finally:
            await sub.close()

    async def challenge(
        self, opponent: str, kind: str = "tictactoe", time: TimeLike = "1+0", *, timeout: float | None = None
    ) -> GameState:
        """Challenges ``opponent``, plays the game once accepted, returns the final state."""
        sub = self.client.listen("game.*")
        try:
            waiting = await self.client.games.challenge(opponent, kind, time)
            return await self._play(waiting, sub, timeout)
        finally:
            await sub.close()

    async def accept_next(self, *, timeout: float | None = None) -> GameState:
        """Waits for a challenge, accepts it, plays it; the final state."""
        sub = self.client.listen("game.*")
        try:
            pushed = await sub.wait_for(lambda p: p.type == "game_challenged", timeout)
            game_id = pushed.raw["game"]["id"]
            state = await self.client.games.accept(game_id)
            return await self._play(state, sub, timeout)
        finally:
            await sub.close()

    async def play(self, game: int, *, timeout: float | None = None) -> GameState:
        """Plays a started game to its end (resumes one in progress)."""
        sub = self.client.listen(game_topic(game))
        try:
            return await self._play(await self.client.games.show(game), sub, timeout)
        finally:
            await sub.close()

    def _started_for_me(self, push: Any) -> bool:
        event = push.event
        return isinstance(event, GameStartedEvent) and self.me in event.state.players

    async def _play(self, state: GameState, sub: Subscription, timeout: float | None) -> GameState:
        return await asyncio.wait_for(self._loop(state, sub), timeout)

    async def _loop(self, state: GameState, sub: Subscription) -> GameState:
        game = state.id
        moved_at: int | None = None  # the seq we last moved at (never move twice)
        await self.on_state(state)
        while state.status != "finished":
            if state.status == "in_progress" and state.turn == self.me and moved_at != state.seq:
                if not state.legal:  # a pushed state without the legal moves
                    state = await self.client.games.show(game)
                    continue
                play = await self.choose_move(state)
                moved_at = state.seq
                try:
                    await self.client.games.move(game, state.seq, play)
                    self.moves_played += 1
                except ServerError as exc:
                    if exc.code not in (ErrorCode.CONFLICT, ErrorCode.BAD_REQUEST):
                        raise
                    log.info("move %s refused (%s); fetching the game again", play, exc)
                    moved_at = None
                    state = await self.client.games.show(game)
                    continue
            push = await sub.wait_for(lambda p: _for_game(p.event, game))
            event = push.event
            if isinstance(event, (GameStartedEvent, GameEndedEvent)):
                state = event.state
                await self.on_state(state)
            elif isinstance(event, GameMovedEvent) and event.seq > state.seq:
                if event.turn == self.me:
                    state = await self.client.games.show(game)
                    await self.on_state(state)
                elif not event.turn:
                    continue  # the game is over: `game_ended` follows once stored
        return state


def _for_game(event: object, game: int) -> bool:
    if isinstance(event, (GameStartedEvent, GameEndedEvent)):
        return event.state.id == game
    if isinstance(event, GameMovedEvent):
        return event.game == game
    return False


# ---------------------------------------------------------------- chat bot


@dataclass
class CommandContext:
    """A command received in a room: ``!name arg1 arg2``."""

    bot: ChatBot
    message: ChatMessage
    name: str
    args: list[str] = field(default_factory=list)

    @property
    def room(self) -> str:
        return self.message.room

    @property
    def text(self) -> str:
        """Everything after the command name."""
        parts = self.message.text.split(None, 1)
        return parts[1] if len(parts) > 1 else ""

    async def reply(self, text: str) -> None:
        """Sends ``text`` to the room the command came from."""
        await self.bot.client.chat.send(self.room, text)


CommandHandler = Callable[[CommandContext], Awaitable[str | None]]
C = TypeVar("C", bound=CommandHandler)


class ChatBot:
    """Answers ``!commands`` in rooms; a handler's returned text is sent to
    the room. ``!help`` lists the commands; ``!ping`` answers ``pong``::

        bot = ChatBot(client, ["ops"])

        @bot.command("echo")
        async def echo(ctx: CommandContext) -> str:
            return ctx.text

        await bot.run()   # until bot.stop()
    """

    def __init__(self, client: Client, rooms: Sequence[str], *, prefix: str = "!") -> None:
        self.client = client
        self.rooms = [r.lower() for r in rooms]
        self.prefix = prefix
        self.ready = asyncio.Event()
        """Set once the rooms are joined and the bot is listening."""
        self.handled = 0
        self._commands: dict[str, CommandHandler] = {"help": self._help, "ping": self._ping}
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def command(self, name: str) -> Callable[[C], C]:
        """Decorator: handles ``!name``."""

        def register(handler: C) -> C:
            self._commands[name] = handler
            return handler

        return register

    async def run(self) -> None:
        """Joins the rooms and answers commands until :meth:`stop`."""
        me = self.client.user.name if self.client.user else None
        self._sub = self.client.listen(*(room_topic(r) for r in self.rooms))
        try:
            for room in self.rooms:
                await self.client.chat.join(room)
            self.ready.set()
            async for push in self._sub:
                event = push.event
                if not isinstance(event, ChatMessageEvent) or event.message.from_ == me:
                    continue
                text = event.message.text
                if not text.startswith(self.prefix):
                    continue
                words = text[len(self.prefix) :].split()
                if not words or words[0] not in self._commands:
                    continue
                ctx = CommandContext(self, event.message, words[0], words[1:])
                task = asyncio.ensure_future(self._dispatch(ctx))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            await self._sub.close()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def stop(self) -> None:
        """Stops :meth:`run` (commands being answered finish first)."""
        if self._sub is not None:
            self._sub._end()

    async def _dispatch(self, ctx: CommandContext) -> None:
        try:
            answer = await self._commands[ctx.name](ctx)
            if answer:
                await ctx.reply(answer)
        except Exception as exc:
            log.exception("command %s failed", ctx.name)
            try:
                await ctx.reply(f"{self.prefix}{ctx.name} failed: {exc}")
            except Exception:
                pass
        finally:
            self.handled += 1

    async def _help(self, ctx: CommandContext) -> str:
        return "commands: " + " ".join(f"{self.prefix}{name}" for name in sorted(self._commands))

    async def _ping(self, ctx: CommandContext) -> str:
        return "pong"
