"""What the workers (and beat) tell of themselves: their log lines as ours, each
task's lines bound to it, and the workers' metrics endpoint.

- Celery leaves logging to us (its ``setup_logging`` signal has a receiver): every
  line, Celery's and kombu's included, goes through ``core.logs`` (JSON, one event a
  line). The lines of a task carry ``celery_task`` and ``celery_task_id`` (and
  ``operation_id`` for the tasks that take one); the outcome of each operation is its
  own line, with the request id the API stored on it (``core.metrics.report_operations``).
  Celery still prints a few notes of its own on stdout when told to stop ("worker:
  Warm shutdown"): from a signal handler, where logging could deadlock.
- Celery's own line for each task received and each task succeeded is written at
  ``TASKS_LOG_LEVEL=DEBUG`` only (``PerTaskLines``): the operation's line says the same
  with more (its request id, its latency from acceptance), and at INFO the two were two
  of a worker's three lines per command. Retries, failures and rejections are kept.
  So is beat's line for each periodic task it sends: with the timer sweep every second
  it was a line a second, while beat's heartbeat already says it is alive (the doctor,
  ``/readyz``, the ``tasks_beat_last_sweep_age_seconds`` gauge); beat's send errors
  are kept.
- With ``TASKS_WORKER_METRICS_PORT`` set, the worker's main process serves the values
  every process of its pool wrote (prometheus-client's multiprocess mode, set up by
  the role: ``core.metrics``) on ``TASKS_WORKER_METRICS_HOST:PORT/metrics``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import structlog
from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS
from celery.signals import (
    celeryd_init,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from prometheus_client import start_http_server

from tasks_service.core import metrics
from tasks_service.core.logs import configure_logging
from tasks_service.core.settings import get_settings
from workers.app import APPLY_OPERATION, PLAN_FANOUT, RUN_BATCH

log = structlog.get_logger(__name__)

#: The tasks whose first argument is an operation's id.
_OPERATION_TASKS = frozenset({APPLY_OPERATION, PLAN_FANOUT, RUN_BATCH})


#: Celery beat's line for each periodic task it sends (``Scheduler.apply_entry``).
BEAT_SENDING = "Scheduler: Sending due task %s (%s)"


class PerTaskLines(logging.Filter):
    """Drops Celery's routine record per task: "Task ... received" and "Task ...
    succeeded" of the workers, "Sending due task" of beat (a filter on their loggers,
    before any handler formats them)."""

    LOGGERS = ("celery.worker.strategy", "celery.app.trace", "celery.beat")
    TEMPLATES = frozenset({LOG_RECEIVED, LOG_SUCCESS, BEAT_SENDING})

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self.TEMPLATES

    @classmethod
    def keep(cls, keep: bool) -> None:
        """Let the lines through (``keep``) or drop them; doing it again changes nothing."""
        for name in cls.LOGGERS:
            logger = logging.getLogger(name)
            for existing in [f for f in logger.filters if isinstance(f, cls)]:
                logger.removeFilter(existing)
            if not keep:
                logger.addFilter(cls())


def _logging(**_: object) -> None:
    settings = get_settings()
    configure_logging(settings)
    PerTaskLines.keep(settings.log_level.upper() == "DEBUG")


def _task_starts(task_id: str = "", task: Any = None, args: Any = (), **_: object) -> None:
    structlog.contextvars.clear_contextvars()
    name = getattr(task, "name", None)
    bound: dict[str, object] = {"celery_task": name, "celery_task_id": task_id}
    if name in _OPERATION_TASKS and args:
        bound["operation_id"] = args[0]
    structlog.contextvars.bind_contextvars(**bound)


def _task_ends(**_: object) -> None:
    structlog.contextvars.clear_contextvars()


class _Endpoint:
    """The main process's metrics server, once started."""

    server: Any = None

    @classmethod
    def start(cls, **_: object) -> None:
        settings = get_settings()
        if not (settings.metrics and settings.worker_metrics_port):
            return
        host, port = settings.worker_metrics_host, settings.worker_metrics_port
        try:
            cls.server, _thread = start_http_server(
                port, addr=host, registry=metrics.scrape_registry()
            )
        except OSError as exc:  # the port is taken: the worker works on without it
            log.error("worker_metrics_unavailable", host=host, port=port, error=str(exc))
            return
        log.info("worker_metrics_serving", host=host, port=port)

    @classmethod
    def stop(cls, **_: object) -> None:
        server, cls.server = cls.server, None
        if server is not None:
            server.shutdown()


def _process_starts(**_: object) -> None:
    metrics.warm_up()


def _process_ends(**_: object) -> None:
    metrics.mark_process_dead(os.getpid())


def install() -> None:
    """Connect the receivers to Celery's (global) signals; connecting again changes
    nothing."""
    # celeryd_init: before the worker's first warnings (running as root...), which
    # Celery says before it sets logging up
    celeryd_init.connect(_logging, weak=False, dispatch_uid="tasks.logging_early")
    setup_logging.connect(_logging, weak=False, dispatch_uid="tasks.logging")
    task_prerun.connect(_task_starts, weak=False, dispatch_uid="tasks.task_starts")
    task_postrun.connect(_task_ends, weak=False, dispatch_uid="tasks.task_ends")
    worker_ready.connect(_Endpoint.start, weak=False, dispatch_uid="tasks.metrics_start")
    worker_shutdown.connect(_Endpoint.stop, weak=False, dispatch_uid="tasks.metrics_stop")
    worker_process_init.connect(_process_starts, weak=False, dispatch_uid="tasks.process_starts")
    worker_process_shutdown.connect(_process_ends, weak=False, dispatch_uid="tasks.process_ends")
