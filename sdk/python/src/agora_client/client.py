"""The asyncio client: one connection, many concurrent requests, pushes
routed to subscriptions, and reconnection that restores what it can."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from typing import Any, TypeVar

from . import ops
from ._connection import Address, Backoff, Connection, open_connection
from ._model import MalformedMessage, Model
from ._reconnect import reconnect, safe_call
from ._router import ClientStats, Router
from ._version import __version__
from .errors import (
    AgoraError,
    ClientClosed,
    ConnectError,
    ConnectionLost,
    FrameTooLarge,
    GoodbyeError,
    ProtocolError,
    RequestTimeout,
    ServerError,
)
from .framing import DEFAULT_MAX_FRAME, encode_frame
from .protocol import PROTOCOL_VERSION, decode_reply
from .replies import PongReply, Reply, SessionReply, WhoamiReply
from .services import Cache, Chat, Games, Jobs, Metrics
from .subscription import DEFAULT_BUFFER, Overflow, Subscription
from .types import Hello, OrgRole, SshKeyInfo, UserInfo, Welcome

log = logging.getLogger("agora_client")

R = TypeVar("R", bound=Reply)
AddressLike = str | tuple[str, int] | Address


class _Default:
    pass


_DEFAULT = _Default()

# How many times a request the server's goodbye left unanswered is sent again.
_RESENDS = 3


class Client:
    """A connection to an agora daemon. Create it with :meth:`connect`::

        async with Client.connect("127.0.0.1:7070", token=TOKEN) as client:
            await client.ping()

    Any number of tasks may share one client. See the package README for
    the reconnection rules.
    """

    def __init__(
        self,
        addresses: Sequence[AddressLike],
        *,
        client_name: str,
        token: str | None,
        connect_timeout: float,
        request_timeout: float | None,
        reconnect: bool | Backoff,
        max_frame: int,
        on_goodbye: Callable[[GoodbyeError], None] | None,
        on_reconnect: Callable[[Welcome], None] | None,
        on_disconnect: Callable[[BaseException], None] | None,
    ) -> None:
        if not addresses:
            raise ValueError("no address given")
        self.addresses = [Address.parse(a) for a in addresses]
        self.client_name = client_name
        self.token = token
        """The token used to sign in again after a reconnect (updated by
        every ``session`` reply: ``login``, ``register``)."""
        self.user: UserInfo | None = None
        """The signed-in user, as the welcome or the latest session said."""
        self.welcome: Welcome | None = None
        self.goodbye: GoodbyeError | None = None
        """The latest goodbye the server sent, if any."""
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.backoff = (
            None if reconnect is False else reconnect if isinstance(reconnect, Backoff) else Backoff()
        )
        self.max_frame = max_frame
        self.stats = ClientStats()
        self.on_goodbye = on_goodbye
        self.on_reconnect = on_reconnect
        self.on_disconnect = on_disconnect
        self._conn: Connection | None = None
        self._ready = asyncio.Event()
        self._closed = False
        self._fatal: BaseException | None = None
        self._ids = itertools.count(1)
        self._router = Router(self.stats)
        self._reconnect_task: asyncio.Task[None] | None = None
        # Connection-bound state restored after a reconnect.
        self._restorers: list[Callable[[Connection], Awaitable[None]]] = []
        self.chat = Chat(self)
        self.cache = Cache(self)
        self.jobs = Jobs(self)
        self.games = Games(self)
        self.metrics = Metrics(self)

    # ------------------------------------------------------------ connecting

    @classmethod
    def connect(
        cls,
        addresses: AddressLike | Sequence[AddressLike] = "127.0.0.1:7070",
        *,
        client_name: str = f"agora-client-python/{__version__}",
        token: str | None = None,
        connect_timeout: float = 5.0,
        request_timeout: float | None = 30.0,
        reconnect: bool | Backoff = True,
        max_frame: int = DEFAULT_MAX_FRAME,
        on_goodbye: Callable[[GoodbyeError], None] | None = None,
        on_reconnect: Callable[[Welcome], None] | None = None,
        on_disconnect: Callable[[BaseException], None] | None = None,
    ) -> _Connector:
        """Connects to the first address that answers and performs the
        handshake; use with ``await`` or ``async with``.

        Args:
            addresses: ``"host:port"``, or several to try in turn (also on
                every reconnect).
            token: a token from ``login``/``register`` to start signed in.
            request_timeout: default seconds a request may wait (``None``: forever).
            reconnect: ``False`` to never reconnect, or a :class:`Backoff`.
            max_frame: the largest frame accepted from the server before the
                welcome announces its own limit.

        Raises:
            ConnectError: no address could be reached.
            GoodbyeError: the server refused the hello (``unauthorized``).
        """
        if isinstance(addresses, (str, tuple, Address)):
            addresses = [addresses]
        client = cls(
            addresses,
            client_name=client_name,
            token=token,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            reconnect=reconnect,
            max_frame=max_frame,
            on_goodbye=on_goodbye,
            on_reconnect=on_reconnect,
            on_disconnect=on_disconnect,
        )
        return _Connector(client)

    async def _start(self) -> Client:
        conn = await self._open_any()
        self._install(conn)
        return self

    async def _open_any(self) -> Connection:
        hello = Hello(protocol=PROTOCOL_VERSION, client=self.client_name, token=self.token)
        errors: list[BaseException] = []
        for address in self.addresses:
            try:
                conn = await open_connection(
                    address, hello, timeout=self.connect_timeout, max_incoming=self.max_frame
                )
            except ServerError:
                raise  # the server answered: the hello itself is refused
            except (OSError, asyncio.TimeoutError, ProtocolError) as exc:
                log.debug("cannot connect to %s: %s", address, exc)
                errors.append(exc)
                continue
            conn.reader_task = asyncio.get_running_loop().create_task(
                self._read_loop(conn), name=f"agora-reader-{address}"
            )
            return conn
        where = ", ".join(str(a) for a in self.addresses)
        last = f": {errors[-1]!r}" if errors else ""
        raise ConnectError(f"cannot connect to {where}{last}", errors)

    def _install(self, conn: Connection) -> None:
        self._conn = conn
        self.welcome = conn.welcome
        if conn.welcome.user is not None:
            self.user = conn.welcome.user
        self._ready.set()

    @property
    def connected(self) -> bool:
        """Whether a connection is up and ready for requests."""
        return self._ready.is_set()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the client gave up)."""
        return self._closed

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Waits until the client is connected (e.g. after a reconnect)."""
        await self._connection(None if timeout is None else asyncio.get_running_loop().time() + timeout)

    async def close(self, *, timeout: float = 2.0) -> None:
        """Closes the client: stops reconnecting, ends every subscription.

        Requests still waiting get ``timeout`` seconds to be answered: the
        client shuts down its sending side first, which also makes the
        daemon answer a waiting ``jobs_claim`` at once (empty). Then they
        fail with :class:`ClientClosed`.
        """
        if self._closed:
            return
        self._closed = True
        self._ready.clear()
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        conn, self._conn = self._conn, None
        if conn is not None:
            if conn.pending and conn.writer.can_write_eof():
                try:
                    conn.flush()
                    conn.writer.write_eof()
                    waiting = list(conn.pending.values())
                    await asyncio.wait(waiting, timeout=timeout)
                except (OSError, RuntimeError):
                    pass
            conn.abort()
            if conn.reader_task is not None:
                conn.reader_task.cancel()
                try:
                    await conn.reader_task
                except BaseException:
                    pass
            self._fail_pending(conn, ClientClosed())
        self._router.end_all()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ requests

    async def request(
        self,
        op: Mapping[str, Any] | Model,
        *,
        timeout: float | None | _Default = _DEFAULT,
    ) -> dict[str, Any]:
        """Sends one operation and returns the reply body as a map.

        ``op`` is a wire map (``{"type": "chat_join", "room": "ops"}``) or an
        operation object. While the client reconnects, the request waits for
        the new connection (within its timeout).

        Raises:
            ServerError: the server answered an ``error`` (see ``code``).
            RequestTimeout: no answer within ``timeout`` (default: the
                client's ``request_timeout``).
            ConnectionLost: the connection ended first (the request may or
                may not have run). A request left unanswered by the server's
                goodbye never ran: it is sent again on the next connection
                (up to three times) instead.
            FrameTooLarge: the request exceeds the server's ``max_frame``
                (it was not sent).
        """
        limit = self.request_timeout if isinstance(timeout, _Default) else timeout
        loop = asyncio.get_running_loop()
        deadline = None if limit is None else loop.time() + limit
        conn = self._conn if self._ready.is_set() else None
        if conn is None:
            conn = await self._connection(deadline)
        for _ in range(_RESENDS):
            try:
                return await self._request_on(conn, op, deadline)
            except ClientClosed:
                raise
            except ConnectionLost as exc:
                # A daemon answers every request it has read before it says
                # goodbye (shutting down, drained for a rolling restart): one
                # the goodbye left unanswered never ran, so it goes to the
                # next connection rather than fail.
                if exc.goodbye is None or self.backoff is None:
                    raise
                conn = await self._connection(deadline)
        return await self._request_on(conn, op, deadline)

    async def call(self, op: ops.Op[R], *, timeout: float | None | _Default = _DEFAULT) -> R:
        """Sends a typed operation and returns its typed reply.

        Raises:
            ProtocolError: the reply is not the one the operation expects.
            (and everything :meth:`request` raises)
        """
        body = await self.request(op, timeout=timeout)
        return self._typed(op, body)

    @staticmethod
    def _typed(op: ops.Op[R], body: dict[str, Any]) -> R:
        try:
            reply = decode_reply(body)
        except MalformedMessage as exc:
            raise ProtocolError(f"malformed reply to `{op.TYPE}`: {exc}") from exc
        if not isinstance(reply, op.REPLY):
            raise ProtocolError(f"unexpected reply to `{op.TYPE}`: {body.get('type')!r}")
        return reply  # type: ignore[return-value]

    async def _connection(self, deadline: float | None) -> Connection:
        while True:
            if self._fatal is not None:
                raise self._fatal
            if self._closed:
                raise ClientClosed()
            if self._ready.is_set() and self._conn is not None:
                return self._conn
            remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
            if remaining is not None and remaining <= 0:
                raise RequestTimeout("timed out waiting for the connection to come back")
            try:
                await asyncio.wait_for(self._wait_ready_or_fatal(), remaining)
            except asyncio.TimeoutError:
                raise RequestTimeout("timed out waiting for the connection to come back") from None

    async def _wait_ready_or_fatal(self) -> None:
        # _ready is set on reconnect; _give_up sets it too so waiters wake.
        await self._ready.wait()

    async def _request_on(
        self, conn: Connection, op: Mapping[str, Any] | Model, deadline: float | None
    ) -> dict[str, Any]:
        wire_op = op.to_wire() if isinstance(op, Model) else dict(op)
        request_id = next(self._ids)
        frame = encode_frame({"id": request_id, "op": wire_op}, conn.max_outgoing)
        if conn.closed:
            raise ConnectionLost("connection lost", conn.goodbye)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        conn.pending[request_id] = future
        timer = None
        if deadline is not None:
            timer = loop.call_at(deadline, _expire, future, wire_op.get("type"))
        self.stats.requests += 1
        try:
            conn.send(frame)
            await conn.drain()
            body = await future
        except AgoraError:
            raise
        except (ConnectionError, OSError) as exc:
            raise ConnectionLost(f"connection lost: {exc}", conn.goodbye) from exc
        finally:
            conn.pending.pop(request_id, None)
            if timer is not None:
                timer.cancel()
        if body.get("type") == "session":
            self._note_session(body)
        return body

    def _note_session(self, body: dict[str, Any]) -> None:
        try:
            session = decode_reply(body)
        except MalformedMessage:
            return
        if isinstance(session, SessionReply):
            self.token = session.token
            self.user = session.user

    # ------------------------------------------------------------ reading

    async def _read_loop(self, conn: Connection) -> None:
        error: BaseException
        try:
            running = True
            while running:
                for frame in await conn.read_frames():
                    if not self._dispatch(conn, frame):
                        error = ConnectionLost("the server said goodbye", conn.goodbye)
                        running = False
                        break
        except asyncio.CancelledError:
            error = ClientClosed()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            error = ConnectionLost("connection closed by the server", conn.goodbye)
        except (ProtocolError, FrameTooLarge) as exc:
            log.warning("dropping the connection to %s: %s", conn.address, exc)
            error = exc
        except Exception as exc:  # a bug: never leave requests hanging
            log.exception("unexpected error in the reader")
            error = ProtocolError(f"reader failed: {exc!r}")
        self._lost(conn, error)

    def _dispatch(self, conn: Connection, frame: Any) -> bool:
        """Handles one server frame; ``False`` ends the connection."""
        if not isinstance(frame, dict):
            raise ProtocolError(f"a server frame must be a map, got {type(frame).__name__}")
        kind = frame.get("type")
        frame_id = frame.get("id")
        if kind == "reply":
            future = conn.pending.pop(frame_id, None) if isinstance(frame_id, int) else None
            if future is not None and not future.done():
                body = frame.get("body")
                if isinstance(body, dict):
                    future.set_result(body)
                else:
                    future.set_exception(ProtocolError(f"reply {frame_id} has no body map"))
        elif kind == "error":
            error = ServerError.from_body(frame.get("error"))
            future = conn.pending.pop(frame_id, None) if isinstance(frame_id, int) else None
            if future is not None and not future.done():
                future.set_exception(error)
            else:
                self.stats.orphan_errors += 1
                log.warning("error from the server for no waiting request (id %r): %s", frame_id, error)
        elif kind == "push":
            self._router.on_push(frame)
        elif kind == "goodbye":
            goodbye = GoodbyeError.from_body(frame.get("error"))
            conn.goodbye = self.goodbye = goodbye
            log.info("the server said goodbye: %s", goodbye)
            if self.on_goodbye is not None:
                safe_call(self.on_goodbye, goodbye)
            return False
        else:
            # A frame type from a newer server: ignored, unless it names a
            # request that would otherwise wait for nothing.
            self.stats.unknown_frames += 1
            future = conn.pending.pop(frame_id, None) if isinstance(frame_id, int) else None
            if future is not None and not future.done():
                future.set_exception(ProtocolError(f"unexpected answer of type {kind!r}"))
            else:
                log.debug("ignoring a server frame of type %r", kind)
        return True

    # ------------------------------------------------------------ losing and reconnecting

    def _lost(self, conn: Connection, error: BaseException) -> None:
        conn.abort()
        failure = error if isinstance(error, (ProtocolError, FrameTooLarge, ConnectionLost)) else ConnectionLost()
        self._fail_pending(conn, failure)
        if conn is not self._conn or self._closed:
            return
        self._conn = None
        self._ready.clear()
        if self.on_disconnect is not None:
            safe_call(self.on_disconnect, error)
        if self.backoff is None:
            self._give_up(failure if isinstance(failure, ConnectionLost) else ConnectionLost(str(failure)))
            return
        log.info("connection to %s lost (%s); reconnecting", conn.address, error)
        self._reconnect_task = asyncio.get_running_loop().create_task(
            self._reconnect(), name="agora-reconnect"
        )

    @staticmethod
    def _fail_pending(conn: Connection, error: BaseException) -> None:
        pending, conn.pending = conn.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)
                future.exception()  # a caller that was cancelled never looks

    def _give_up(self, error: ConnectionLost) -> None:
        """Ends the client after a connection loss it will not recover from."""
        self._fatal = error
        self._closed = True
        self._router.end_all(error)
        self._ready.set()  # wake waiters so they see the error

    async def _reconnect(self) -> None:
        await reconnect(self)

    def _track_room(self, room: str, last_seq: int) -> None:
        """Resume ``room`` from ``last_seq`` after a reconnect (set by ``chat.join``)."""
        self._router.track_room(room, last_seq)

    def _untrack_room(self, room: str) -> None:
        self._router.untrack_room(room)

    def add_restorer(self, restore: Callable[[Connection], Awaitable[None]]) -> None:
        """Registers a coroutine run on every new connection after a reconnect."""
        self._restorers.append(restore)

    async def restore_request(self, conn: Connection, op: ops.Op[R]) -> R:
        """For restorers: a typed request on the connection being restored."""
        deadline = asyncio.get_running_loop().time() + (self.request_timeout or 30.0)
        return self._typed(op, await self._request_on(conn, op, deadline))

    # ------------------------------------------------------------ subscriptions

    async def subscribe(
        self,
        *topics: str,
        maxsize: int = DEFAULT_BUFFER,
        overflow: Overflow = "drop_oldest",
    ) -> Subscription:
        """Subscribes to ``topics`` on the server and returns their pushes.

        The topics are subscribed again after a reconnect. Several
        subscriptions may share a topic; each gets every push.

        Raises:
            ServerError: ``bad_request`` for a topic breaking the topic rules.
        """
        if not topics:
            raise ValueError("subscribe needs at least one topic")
        sub = Subscription(self, topics, server=True, maxsize=maxsize, overflow=overflow)
        self._router.subs.append(sub)
        try:
            for i in range(0, len(topics), 64):
                await self.call(ops.SubscribeOp(topics=list(topics[i : i + 64])))
        except BaseException:
            self._forget(sub)
            raise
        return sub

    def listen(
        self,
        *patterns: str,
        maxsize: int = DEFAULT_BUFFER,
        overflow: Overflow = "drop_oldest",
    ) -> Subscription:
        """Pushes whose topic matches one of the glob ``patterns``, without
        asking the server for anything: for the topics the server
        subscribes by itself (``chat.room.*`` after sign-in, ``game.*``,
        ``cache``, ``metrics`` after ``metrics.watch``). ``"*"`` gets every push."""
        if not patterns:
            raise ValueError("listen needs at least one pattern")
        sub = Subscription(self, (), patterns, server=False, maxsize=maxsize, overflow=overflow)
        self._router.subs.append(sub)
        return sub

    def _forget(self, sub: Subscription) -> None:
        self._router.remove(sub)

    async def _release(self, sub: Subscription) -> None:
        self._forget(sub)
        if not sub.server or self._closed:
            return
        unused = sorted(sub.topics - set(self._router.server_topics()))
        if unused and self.connected:
            try:
                await self.call(ops.UnsubscribeOp(topics=unused))
            except (ServerError, ConnectionLost, RequestTimeout) as exc:
                log.debug("unsubscribe failed: %s", exc)

    # ------------------------------------------------------------ base service

    async def ping(self) -> PongReply:
        """A round trip; the reply carries the server's clock."""
        return await self.call(ops.PingOp())

    async def register(self, name: str, password: str) -> SessionReply:
        """Creates an account and signs this connection in (kept across reconnects)."""
        return await self.call(ops.RegisterOp(name=name, password=password))

    async def login(self, name: str, password: str) -> SessionReply:
        """Signs this connection in (kept across reconnects).

        Raises:
            ServerError: ``unauthorized`` for a wrong name or password.
        """
        return await self.call(ops.LoginOp(name=name, password=password))

    async def whoami(self) -> WhoamiReply:
        """Who this connection is signed in as, and its session."""
        return await self.call(ops.WhoamiOp())

    async def orgs(self) -> list[OrgRole]:
        """The signed-in user's organizations."""
        return (await self.call(ops.OrgsOp())).orgs

    async def ssh_key_add(self, key: str) -> SshKeyInfo:
        """Binds an SSH public key (one ``.pub`` line) to the account."""
        return (await self.call(ops.SshKeyAddOp(key=key))).key

    async def ssh_keys(self) -> list[SshKeyInfo]:
        """The account's SSH keys, oldest first."""
        return (await self.call(ops.SshKeyListOp())).keys

    async def ssh_key_remove(self, fingerprint: str) -> None:
        """Unbinds an SSH key by its ``SHA256:…`` fingerprint."""
        await self.call(ops.SshKeyRemoveOp(fingerprint=fingerprint))

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self.connected else "reconnecting"
        user = self.user.name if self.user else None
        return f"<Client {', '.join(map(str, self.addresses))} {state} user={user!r}>"


class _Connector:
    """What :meth:`Client.connect` returns: await it, or use ``async with``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __await__(self) -> Generator[Any, None, Client]:
        return self._client._start().__await__()

    async def __aenter__(self) -> Client:
        return await self._client._start()

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()


def _expire(future: asyncio.Future[dict[str, Any]], op_type: object) -> None:
    if not future.done():
        future.set_exception(RequestTimeout(f"no answer to `{op_type}` in time"))
