"""Typed helpers per service: ``client.chat``, ``client.cache``,
``client.jobs``, ``client.games``, ``client.metrics``."""

from .cache import Cache, encode_arg, to_python
from .chat import Chat, room_topic, user_topic
from .games import KINDS, Games, TimeLike, game_topic, time_control
from .jobs import Jobs, new_job
from .metrics import Metrics

__all__ = [
    "KINDS",
    "Cache",
    "Chat",
    "Games",
    "Jobs",
    "Metrics",
    "TimeLike",
    "encode_arg",
    "game_topic",
    "new_job",
    "room_topic",
    "time_control",
    "to_python",
    "user_topic",
]
