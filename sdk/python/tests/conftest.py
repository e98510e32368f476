"""Fixtures: a real ``agora daemon`` per test module, the Rust CLI against
it (with a private HOME, so nothing touches the real user's files), and
signed-in clients."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agora_client import Backoff, Client

REPO = Path(__file__).resolve().parents[3]
AGORA_BIN = Path(os.environ.get("AGORA_BIN") or REPO / "target" / "debug" / "agora")
PASSWORD = "correct horse battery"


class Daemon:
    """An ``agora daemon`` process on ports of its own, restartable on the
    same protocol port."""

    def __init__(self, root: Path) -> None:
        if not AGORA_BIN.exists():
            pytest.fail(f"agora binary not found at {AGORA_BIN} (build it or set AGORA_BIN)")
        self.root = root
        self.data = root / "data"
        self.ready_file = root / "ready.json"
        self.log_path = root / "daemon.log"
        self.env = {
            **os.environ,
            "HOME": str(root / "home"),
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "share"),
            "XDG_CACHE_HOME": str(root / "cache"),
            "NO_COLOR": "1",
            "AGORA_LOG_LEVEL": "warn",
        }
        for key in ("AGORA_ADDR", "AGORA_LISTEN", "AGORA_HTTP", "AGORA_RESP", "AGORA_DATA"):
            self.env.pop(key, None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.listen = "127.0.0.1:0"
        self.info: dict[str, Any] = {}

    @property
    def addr(self) -> str:
        """The protocol address, ``host:port``."""
        return str(self.info["listen"])

    def start(self, *extra: str) -> None:
        self.ready_file.unlink(missing_ok=True)
        args = [
            str(AGORA_BIN), "daemon",
            "--listen", self.listen, "--http", "127.0.0.1:0", "--resp", "127.0.0.1:0",
            "--data", str(self.data), "--ready-file", str(self.ready_file), *extra,
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while not self.ready_file.exists() or not self.ready_file.read_text().strip().endswith("}"):
            if self.proc.poll() is not None:
                pytest.fail(f"the daemon exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the daemon was not ready within 30 s:\n{self.log_tail()}")
            time.sleep(0.02)  # the ready file is the only signal the daemon gives
        self.info = json.loads(self.ready_file.read_text())
        self.listen = self.addr  # a restart reuses the port

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------ the Rust CLI

    def cli(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs ``agora ARGS`` against this daemon (as the user the CLI signed in)."""
        env = {**self.env, "AGORA_ADDR": self.addr}
        result = subprocess.run(
            [str(AGORA_BIN), *args], env=env, input=input, capture_output=True, text=True, timeout=60
        )
        if check and result.returncode != 0:
            raise AssertionError(f"agora {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli("--json", *args).stdout)

    def cli_register(self, name: str, password: str = PASSWORD) -> None:
        self.cli("register", name, "--password-stdin", input=password + "\n")


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("daemon"))
    d.start()
    try:
        yield d
    finally:
        d.stop()


ClientFactory = Callable[..., Awaitable[Client]]


@pytest_asyncio.fixture
async def make_client(daemon: Daemon) -> AsyncIterator[ClientFactory]:
    """Makes clients (registered under a fresh name unless ``register=False``),
    closed at the end of the test."""
    made: list[Client] = []

    async def make(register: bool = True, name: str | None = None, **options: Any) -> Client:
        options.setdefault("request_timeout", 20.0)
        options.setdefault("reconnect", Backoff(initial=0.05, maximum=0.5))
        client = await Client.connect(daemon.addr, **options)
        made.append(client)
        if register:
            await client.register(name or unique_name(), PASSWORD)
        return client

    yield make
    for client in made:
        await client.close()


@pytest_asyncio.fixture
async def client(make_client: ClientFactory) -> Client:
    """One signed-in client."""
    return await make_client()
