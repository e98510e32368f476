"""One protocol, two implementations: the Python SDK against Rust programs
(the ``agora-wire`` examples, the TUI) on the same daemon."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agora_client import ChatBot, GameBot

from .conftest import AGORA_BIN, ClientFactory, Daemon, unique_name

# `cargo test` (and `cargo build -p agora-wire --examples`) builds them
# next to the binary.
EXAMPLES = AGORA_BIN.parent / "examples"


def example(name: str) -> Path:
    path = EXAMPLES / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build -p agora-wire --examples`")
    return path


async def start_ready(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Starts a Rust example and waits for its ``ready`` line."""
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
    assert line.strip() == b"ready", f"{args[0]} said {line!r}"
    return proc


@pytest.mark.parametrize("kind", ["tictactoe", "connect4"])
async def test_a_python_bot_plays_a_rust_bot_to_the_end(
    make_client: ClientFactory, daemon: Daemon, kind: str
) -> None:
    rust_name = unique_name("rust")
    rust_account = await make_client(name=rust_name)
    assert rust_account.token is not None
    env = {**daemon.env, "AGORA_ADDR": daemon.addr, "AGORA_TOKEN": rust_account.token}
    rust = await start_ready([str(example("game_bot")), "accept"], env)
    try:
        me = await make_client()
        assert me.user is not None
        final = await asyncio.wait_for(
            GameBot(me).challenge(rust_name, kind, (60_000, 0)), 60
        )
        assert final.status == "finished", final
        assert final.players == [me.user.name, rust_name]
        assert final.result is not None and final.result.reason in ("win", "draw")
        assert final.seq == len(final.moves) > 0
        # Both sides' moves were played: the Rust bot moved too.
        assert final.seq >= 2
    finally:
        rust.kill()
        rust.wait()


class Tmux:
    """A private tmux server running one 80x24 terminal."""

    def __init__(self, env: dict[str, str], command: str) -> None:
        self.socket = unique_name("agora-sdk-")
        self.env = {**env, "TERM": "xterm-256color"}
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", "t",
             "-x", "80", "-y", "24", command],
            env=self.env, check=True,
        )  # fmt: skip

    def screen(self) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p", "-t", "t"],
            env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        return out.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", "t", *keys], env=self.env, check=True)

    async def wait_for(self, text: str, limit: float = 20) -> str:
        deadline = time.monotonic() + limit
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared on screen:\n{screen}")
            await asyncio.sleep(0.05)  # the screen is the only signal a terminal gives

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, check=False)


@pytest.fixture
def tmux_available() -> Iterator[None]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required (.ci/run installs it)")
    yield


async def test_a_python_chat_bot_answers_in_a_room_the_tui_is_in(
    make_client: ClientFactory, daemon: Daemon, tmux_available: None
) -> None:
    room = unique_name("lobby")
    bot_client = await make_client(name=unique_name("pybot"))
    assert bot_client.user is not None
    bot = ChatBot(bot_client, [room])

    @bot.command("shout")
    async def shout(ctx: object) -> str:
        return str(getattr(ctx, "text")).upper()

    running = asyncio.create_task(bot.run())
    await asyncio.wait_for(bot.ready.wait(), 20)

    # The TUI signs in with the token the CLI saved for this address.
    person = unique_name("tui")
    daemon.cli_register(person)
    tui = Tmux(daemon.env, f"'{AGORA_BIN}' --addr {daemon.addr} tui; sleep 60")
    try:
        await tui.wait_for("connected")
        tui.keys("-l", f"/join {room}")
        tui.keys("Enter")
        await tui.wait_for(f"#{room}")
        tui.keys("-l", "!shout hello from the tui")
        tui.keys("Enter")
        screen = await tui.wait_for("HELLO FROM THE TUI")
        assert bot_client.user.name[:8] in screen, screen
        tui.keys("-l", "!ping")
        tui.keys("Enter")
        await tui.wait_for(": pong")
    finally:
        tui.kill()
        bot.stop()
        await asyncio.wait_for(running, 10)
