"""agora-client: an asyncio client for the agora daemon.

::

    import asyncio
    from agora_client import Client

    async def main() -> None:
        async with Client.connect("127.0.0.1:7070") as client:
            await client.login("alice", "correct horse")
            await client.chat.join("ops")
            await client.chat.send("ops", "hello from Python")

    asyncio.run(main())

The protocol is ``docs/PROTOCOL.md`` of the agora repository. Messages are
typed dataclasses (:mod:`agora_client.ops`, :mod:`~agora_client.replies`,
:mod:`~agora_client.events`, :mod:`~agora_client.types`); the raw wire
maps are available too (:meth:`Client.request`, :attr:`Push.raw`).
"""

from . import events, ops, replies, types
from ._connection import Address, Backoff, Connection
from ._router import ClientStats
from ._version import __version__
from .bots import ChatBot, CommandContext, GameBot
from .client import Client
from .errors import (
    AgoraError,
    CacheCommandError,
    ClientClosed,
    ConnectError,
    ConnectionLost,
    ErrorCode,
    FrameTooLarge,
    GoodbyeError,
    ProtocolError,
    RequestTimeout,
    ServerError,
    SubscriptionOverflow,
)
from .framing import DEFAULT_MAX_FRAME, FrameDecoder, decode_body, decode_frame, encode_body, encode_frame
from .protocol import EVENTS, OPS, PROTOCOL_VERSION, REPLIES, Push, decode_event, decode_op, decode_reply
from .services import new_job, time_control
from .subscription import Overflow, Subscription
from .worker import JobContext, JobFailure, JobOutcome, Summary, Worker

__all__ = [
    "DEFAULT_MAX_FRAME",
    "EVENTS",
    "OPS",
    "PROTOCOL_VERSION",
    "REPLIES",
    "Address",
    "AgoraError",
    "Backoff",
    "CacheCommandError",
    "ChatBot",
    "Client",
    "ClientClosed",
    "ClientStats",
    "CommandContext",
    "ConnectError",
    "Connection",
    "ConnectionLost",
    "ErrorCode",
    "FrameDecoder",
    "FrameTooLarge",
    "GameBot",
    "GoodbyeError",
    "JobContext",
    "JobFailure",
    "JobOutcome",
    "Overflow",
    "ProtocolError",
    "Push",
    "RequestTimeout",
    "ServerError",
    "Subscription",
    "SubscriptionOverflow",
    "Summary",
    "Worker",
    "__version__",
    "decode_body",
    "decode_event",
    "decode_frame",
    "decode_op",
    "decode_reply",
    "encode_body",
    "encode_frame",
    "events",
    "new_job",
    "ops",
    "replies",
    "time_control",
    "types",
]
