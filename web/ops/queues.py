"""Queue depths for the page, read through the workers' submitter (``workers.app``).

``Submitter.queue_depths`` (the metrics work adds it) is used once it exists; until
then the page reads each queue's length the way ``Submitter.ping_broker`` does (a
declare that reports the message count, on Redis and on the embedded transport).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from workers.app import QUEUES, Submitter

DepthReader = Callable[[], Mapping[str, int]]


def declared_depths(submitter: Submitter) -> dict[str, int]:
    """``{queue: messages waiting}`` for each queue of the workers. Raises if the broker
    cannot be reached."""
    with submitter.celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
        with connection.channel() as channel:
            return {
                name: int(
                    channel.queue_declare(name, durable=True, auto_delete=False).message_count
                )
                for name in QUEUES
            }


def depth_reader(submitter: Submitter) -> DepthReader:
    """The submitter's own reader if it has one, else ``declared_depths``."""
    own = getattr(submitter, "queue_depths", None)
    if callable(own):
        return own  # type: ignore[no-any-return]
    return partial(declared_depths, submitter)
