"""How the roles show they are alive, and come back quickly after a broker outage.

- ``QuickReconnectConsumer``: Celery's consumer reconnects with kombu's default
  backoff (2, 4, 6, 8... s, ``Connection.ensure_connection``), which
  ``broker_transport_options`` do not reach; this one tries every
  ``RECONNECT_EVERY`` seconds, so a worker consumes again within a second of the
  broker's return (``worker_consumer`` in ``workers.app.celery_config``), and never
  gives up (``broker_connection_max_retries`` None: 100 quick tries would be 50 s).
- ``HeartbeatScheduler``: beat's scheduler, writing the ``scheduler`` heartbeat each
  sweep (``beat_scheduler``); ``/readyz`` reports a scheduler gone silent. A role that
  stops cleanly takes its heartbeat away (gone on purpose); one that dies leaves it.
- ``WorkerHeartbeat``: a thread of the worker's main process writing its ``worker``
  heartbeat while its consumer is connected; the web answers 202 at once, instead of
  holding a request, when no worker beats (``web.submit``).
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
from typing import Any

from celery.beat import PersistentScheduler
from celery.worker.consumer import Consumer

from tasks_service.core.settings import get_settings
from tasks_service.store import heartbeats

#: Seconds between attempts to reach a broker that went away: the first at once, then
#: growing by a step to at most ``RECONNECT_EVERY`` (one log line per attempt).
RECONNECT_EVERY = 0.5
RECONNECT_STEP = 0.25


class QuickReconnectConsumer(Consumer):  # type: ignore[misc]
    def ensure_connected(self, conn: Any) -> Any:
        conn.ensure_connection = functools.partial(
            conn.ensure_connection,
            interval_start=0,
            interval_step=RECONNECT_STEP,
            interval_max=RECONNECT_EVERY,
        )
        return super().ensure_connected(conn)


def heartbeat_every(stale_after: float) -> float:
    """A few beats per staleness window, so one late beat is not an outage."""
    return min(max(stale_after / 4, 0.2), 5.0)


class HeartbeatScheduler(PersistentScheduler):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        stale_after = settings.scheduler_stale_after
        self._every = min(settings.timer_sweep_interval, heartbeat_every(stale_after))
        self._name = f"beat-{os.getpid()}@{socket.gethostname()}"
        self._last = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        next_in: float = super().tick(*args, **kwargs)
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            heartbeats.beat(get_settings(), heartbeats.SCHEDULER, self._name)
        return min(next_in, self._every)

    def close(self) -> None:
        heartbeats.forget(get_settings(), heartbeats.SCHEDULER, self._name)
        super().close()


class WorkerHeartbeat:
    """Beats for one worker (its consumer ``consumer``) until ``stop``."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.settings = get_settings()
        self.name = f"{getattr(consumer, 'hostname', None) or socket.gethostname()}/{os.getpid()}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def start(self) -> None:
        self.beat()  # before the worker says "ready": a client may write right after
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        heartbeats.forget(self.settings, heartbeats.WORKER, self.name)

    def connected(self) -> bool:
        connection = getattr(self.consumer, "connection", None)
        return bool(connection is not None and connection.connected)

    def beat(self) -> None:
        if self.connected():
            heartbeats.beat(self.settings, heartbeats.WORKER, self.name)

    def _run(self) -> None:
        every = heartbeat_every(self.settings.worker_stale_after)
        while not self._stopping.wait(every):
            self.beat()
