"""Chat between two real clients: pushes, history since a cursor, the bot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from agora_client import ChatBot, CommandContext, ErrorCode, Push, ServerError
from agora_client.events import ChatDirectEvent, ChatJoinedEvent, ChatMessageEvent

from .conftest import ClientFactory, unique_name


def message_in(room: str, text: str | None = None) -> Callable[[Push], bool]:
    def match(push: Push) -> bool:
        event = push.event
        return (
            isinstance(event, ChatMessageEvent)
            and event.message.room == room
            and (text is None or event.message.text == text)
        )

    return match


async def test_messages_reach_every_member_as_pushes(make_client: ClientFactory) -> None:
    alice, bob = await make_client(), await make_client()
    assert alice.user is not None and bob.user is not None
    room = unique_name("room")
    alice_events = alice.chat.events(room)
    bob_events = bob.chat.events(room)
    joined = await alice.chat.join(room.upper())  # names are folded
    assert joined.room.name == room and joined.room.last_seq == 0
    await bob.chat.join(room)
    bob_name = bob.user.name
    seen = await alice_events.wait_for(
        lambda p: isinstance(p.event, ChatJoinedEvent) and p.event.user.user == bob_name, timeout=10
    )
    assert seen.topic == f"chat.room.{room}"

    sent = await alice.chat.send(room, "hello bob")
    got = await bob_events.wait_for(message_in(room), timeout=10)
    assert isinstance(got.event, ChatMessageEvent)
    assert got.topic == f"chat.room.{room}"
    assert (got.event.message.seq, got.event.message.from_, got.event.message.text) == (
        sent.seq,
        alice.user.name,
        "hello bob",
    )
    # The sender's own message comes back too (queued before the answer).
    own = alice_events.get_nowait()
    while own is not None and not message_in(room)(own):
        own = alice_events.get_nowait()
    assert own is not None and isinstance(own.event, ChatMessageEvent) and own.event.message.seq == sent.seq

    action = await bob.chat.send(room, "waves", action=True)
    got = await alice_events.wait_for(message_in(room, "waves"), timeout=10)
    assert isinstance(got.event, ChatMessageEvent) and got.event.message.action
    assert action.seq == sent.seq + 1


async def test_history_since_a_cursor_has_no_holes_or_duplicates(make_client: ClientFactory) -> None:
    alice = await make_client()
    room = unique_name("hist")
    await alice.chat.join(room)
    seqs = [(await alice.chat.send(room, f"m{i}")).seq for i in range(12)]
    assert seqs == list(range(1, 13))
    page = await alice.chat.history(room, since=4, limit=5)
    assert [m.seq for m in page.messages] == [5, 6, 7, 8, 9] and page.more
    rest = [m.seq async for m in alice.chat.history_since(room, 9, page=2)]
    assert rest == [10, 11, 12]
    newest = await alice.chat.history(room, limit=3)
    assert [m.text for m in newest.messages] == ["m9", "m10", "m11"] and newest.more
    older = await alice.chat.history(room, before=3)
    assert [m.seq for m in older.messages] == [1, 2] and not older.more


async def test_errors_carry_their_codes(make_client: ClientFactory) -> None:
    alice, bob = await make_client(), await make_client()
    room = unique_name("priv")
    await alice.chat.join(room)
    with pytest.raises(ServerError) as not_member:
        await bob.chat.send(room, "let me in")
    assert not_member.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(ServerError) as bad_name:
        await alice.chat.join("#general")
    assert bad_name.value.code is ErrorCode.BAD_REQUEST
    with pytest.raises(ServerError) as leave:
        await bob.chat.leave(room)
    assert leave.value.code is ErrorCode.NOT_FOUND


async def test_private_messages(make_client: ClientFactory) -> None:
    alice, bob = await make_client(), await make_client()
    assert alice.user is not None and bob.user is not None
    inbox = bob.chat.direct()
    sent = await alice.chat.dm(bob.user.name, "psst")
    push = await inbox.wait_for(lambda p: isinstance(p.event, ChatDirectEvent), timeout=10)
    assert isinstance(push.event, ChatDirectEvent)
    assert push.event.message.id == sent.seq and push.event.message.text == "psst"
    convo = await bob.chat.dms(with_user=alice.user.name)
    assert [m.text for m in convo.messages] == ["psst"]


async def test_presence_who_and_away(make_client: ClientFactory) -> None:
    alice = await make_client()
    assert alice.user is not None
    room = unique_name("who")
    await alice.chat.join(room)
    await alice.chat.away("lunch")
    members = await alice.chat.who(room)
    assert [(p.user, p.status, p.away_message) for p in members] == [(alice.user.name, "away", "lunch")]
    await alice.chat.away()
    assert (await alice.chat.who(room))[0].status == "online"
    await alice.chat.set_topic(room, "deploys")
    assert any(r.name == room and r.topic == "deploys" for r in await alice.chat.rooms())


async def test_chat_bot_answers_commands_in_the_room(make_client: ClientFactory) -> None:
    bot_client, human = await make_client(), await make_client()
    room = unique_name("bot")
    bot = ChatBot(bot_client, [room])

    @bot.command("add")
    async def add(ctx: CommandContext) -> str:
        return str(sum(int(a) for a in ctx.args))

    @bot.command("boom")
    async def boom(ctx: CommandContext) -> str:
        raise ValueError("kaput")

    runner = asyncio.create_task(bot.run())
    await asyncio.wait_for(bot.ready.wait(), 10)
    await human.chat.join(room)
    replies = human.chat.events(room)
    bot_name = bot_client.user.name if bot_client.user else ""

    def from_bot(push: Push) -> bool:
        return isinstance(push.event, ChatMessageEvent) and push.event.message.from_ == bot_name

    for command, answer in [("!ping", "pong"), ("!add 2 3 4", "9"), ("!boom", "!boom failed: kaput")]:
        await human.chat.send(room, command)
        got = await replies.wait_for(from_bot, timeout=10)
        assert isinstance(got.event, ChatMessageEvent) and got.event.message.text == answer
    await human.chat.send(room, "!help")
    got = await replies.wait_for(from_bot, timeout=10)
    assert isinstance(got.event, ChatMessageEvent) and "!add" in got.event.message.text
    await human.chat.send(room, "not a command")
    await human.chat.send(room, "!nosuchcommand")
    bot.stop()
    await asyncio.wait_for(runner, 10)
    assert bot.handled == 4
