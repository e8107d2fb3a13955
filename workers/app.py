"""The Celery application: configuration, and the submit function the web uses.

Celery here is an adapter: each task is one call into ``tasks_service``. Settings follow
the Celery guide for not losing work (late acks, reject on worker lost, prefetch 1 on
the command queue), but correctness never relies on the broker redelivering: the
``Operation`` rows are the durable copy and ``tasks.recover_operations`` enqueues again
whatever stays pending (DESIGN.md, step 2). The tasks themselves are ``workers.jobs``.
"""

from __future__ import annotations

from typing import Any

import redis
from celery import Celery
from kombu import Exchange, Queue
from kombu.transport.redis import PRIORITY_STEPS
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tasks_service.core.settings import Settings, get_settings
from tasks_service.store.background import RECOMPUTE

COMMANDS_QUEUE = "commands"
MAINTENANCE_QUEUE = "maintenance"
#: Timer work apart from commands: a burst of due alerts must not hold up clients.
TIMERS_QUEUE = "timers"
QUEUES = (COMMANDS_QUEUE, TIMERS_QUEUE, MAINTENANCE_QUEUE)
APPLY_OPERATION = "tasks.apply_operation"
RECOVER_OPERATIONS = "tasks.recover_operations"
PRUNE_BROKER = "tasks.prune_broker"
PRUNE_KEYS = "tasks.prune_idempotency_keys"
PLAN_FANOUT = "tasks.plan_fanout"
RUN_BATCH = "tasks.run_batch"
SWEEP_TIMERS = "tasks.sweep_timers"
FIRE_TIMERS = "tasks.fire_timers"
DELIVER = "tasks.deliver"


ROUTES = {
    APPLY_OPERATION: {"queue": COMMANDS_QUEUE},
    RECOVER_OPERATIONS: {"queue": MAINTENANCE_QUEUE},
    PRUNE_BROKER: {"queue": MAINTENANCE_QUEUE},
    PRUNE_KEYS: {"queue": MAINTENANCE_QUEUE},
    # Background fan-outs (target recomputes) must not hold up commands.
    PLAN_FANOUT: {"queue": MAINTENANCE_QUEUE},
    RUN_BATCH: {"queue": MAINTENANCE_QUEUE},
    SWEEP_TIMERS: {"queue": TIMERS_QUEUE},
    FIRE_TIMERS: {"queue": TIMERS_QUEUE},
    DELIVER: {"queue": TIMERS_QUEUE},
}


def _beat_schedule(settings: Settings) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        # The one-second sweep (DESIGN.md, "Time"): due timers to the workers.
        "sweep-timers": {
            "task": SWEEP_TIMERS,
            "schedule": settings.timer_sweep_interval,
            "options": {"queue": TIMERS_QUEUE, "expires": settings.timer_sweep_interval * 5},
        },
        "recover-operations": {
            "task": RECOVER_OPERATIONS,
            "schedule": settings.recovery_interval,
            "options": {"queue": MAINTENANCE_QUEUE, "expires": settings.recovery_interval * 2},
        },
    }
    if settings.uses_embedded_broker:
        schedule["prune-embedded-broker"] = {
            "task": PRUNE_BROKER,
            "schedule": 600.0,
            "options": {"queue": MAINTENANCE_QUEUE, "expires": 600.0},
        }
    schedule["prune-idempotency-keys"] = {
        "task": PRUNE_KEYS,
        "schedule": 600.0,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": 600.0},
    }
    return schedule


def celery_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "broker_url": settings.effective_broker_url,
        "broker_connection_retry_on_startup": True,
        # A worker keeps trying (every half second, workers.liveness) however long the
        # broker is away, rather than exiting after Celery's default 100 tries.
        "broker_connection_max_retries": None,
        "broker_connection_timeout": 4,
        "broker_pool_limit": 20,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": COMMANDS_QUEUE,
        # Each queue its own exchange and key: two queues bound to one direct exchange
        # with the same key would both receive every message.
        "task_queues": tuple(Queue(name, Exchange(name), routing_key=name) for name in QUEUES),
        "task_routes": ROUTES,
        # Publishing must not hang a web request for long when the broker is down: after
        # these retries the API withdraws the operation and answers 503 (web/submit.py).
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": _beat_schedule(settings),
        "beat_schedule_filename": str(settings.resolved_data_dir / "celerybeat-schedule"),
        # Heartbeats, and reconnecting within a second of the broker's return
        # (workers.liveness).
        "beat_scheduler": "workers.liveness:HeartbeatScheduler",
        "worker_consumer": "workers.liveness:QuickReconnectConsumer",
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        # For a monitor (Flower): what each task does, and each one published.
        "worker_send_task_events": settings.worker_events,
        "task_send_sent_event": settings.worker_events,
    }
    if settings.uses_embedded_broker:
        config["broker_transport"] = "workers.transport:SQLiteTransport"
    else:
        options: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 3}
        if settings.broker_prefix:
            options["global_keyprefix"] = settings.broker_prefix
        config["broker_transport_options"] = options
    return config


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    if settings.uses_embedded_broker:
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    celery = Celery("tasks_service", set_as_current=False)
    celery.conf.update(celery_config(settings))
    return celery


class Submitter:
    """What the web uses to hand an accepted operation to the workers."""

    def __init__(self, settings: Settings | None = None, celery: Celery | None = None) -> None:
        self.settings = settings or get_settings()
        self.celery = celery or make_celery(self.settings)
        self._depths: QueueDepths | None = None

    def submit(self, operation_id: int) -> None:
        self.celery.send_task(APPLY_OPERATION, args=[operation_id], queue=COMMANDS_QUEUE)

    def submit_fanout(self, operation_id: int) -> None:
        """A background operation (a target recompute): plan it, then run its batches."""
        self.celery.send_task(PLAN_FANOUT, args=[operation_id], queue=MAINTENANCE_QUEUE)

    def dispatch(self, operation_id: int, kind: str) -> None:
        """Enqueue a stored operation again, on the path its kind takes."""
        if kind == RECOMPUTE:
            self.submit_fanout(operation_id)
        else:
            self.submit(operation_id)

    def ping_broker(self) -> int:
        """The command queue's length; raises if the broker cannot be reached.

        Reading the queue makes every transport really talk to its store (the embedded
        one connects lazily, so a bare connect would prove nothing).
        """
        with self.celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            with connection.channel() as channel:
                declared = channel.queue_declare(COMMANDS_QUEUE, durable=True, auto_delete=False)
                return int(declared.message_count)

    def queue_depths(self) -> dict[str, int]:
        """``{queue: messages waiting}`` for each of the workers' queues, read without
        declaring anything (metrics, the operator page). Raises if the broker cannot
        be reached."""
        if self._depths is None:
            self._depths = QueueDepths(self.settings)
        return self._depths.read()


class QueueDepths:
    """The queues' lengths: ``LLEN`` of each queue's keys on Redis (kombu's key, under
    the settings' ``broker_prefix``, and one per priority step), a count of visible
    messages in the embedded broker's file."""

    #: kombu's Redis transport keeps a queue's messages of priority p in ``queue\x06\x16p``.
    PRIORITY_SEP = "\x06\x16"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._engine: Any = None

    def read(self) -> dict[str, int]:
        if self.settings.uses_embedded_broker:
            return self._embedded()
        return self._redis()

    def _redis(self) -> dict[str, int]:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self.settings.effective_broker_url, socket_timeout=2, socket_connect_timeout=2
            )
        prefix = self.settings.broker_prefix
        keys = {
            name: [f"{prefix}{name}"]
            + [f"{prefix}{name}{self.PRIORITY_SEP}{step}" for step in PRIORITY_STEPS if step]
            for name in QUEUES
        }
        pipe = self._client.pipeline(transaction=False)
        for name in QUEUES:
            for key in keys[name]:
                pipe.llen(key)
        lengths = iter(pipe.execute())
        return {name: sum(next(lengths) for _ in keys[name]) for name in QUEUES}

    def _embedded(self) -> dict[str, int]:
        if self._engine is None:
            self._engine = create_engine(
                self.settings.effective_broker_url, connect_args={"timeout": 2}
            )
        depths = dict.fromkeys(QUEUES, 0)
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT q.name, count(m.id) FROM kombu_queue q"
                        " JOIN kombu_message m ON m.queue_id = q.id AND m.visible = 1"
                        " GROUP BY q.name"
                    )
                )
                counted = {str(name): int(count) for name, count in rows}
        except OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return depths  # nothing was ever sent: no tables yet
        return {name: counted.get(name, 0) for name in QUEUES}
