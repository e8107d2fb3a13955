"""Prometheus metrics (prometheus-client): the metric objects, and multiprocess mode.

gunicorn's web processes and Celery's prefork pool are several processes each, so the
counters live in prometheus-client's multiprocess mode: every process writes its
values to files under ``PROMETHEUS_MULTIPROC_DIR``, and whoever serves a scrape sums
them (``scrape_registry``). The roles set that variable before gunicorn or Celery
start (``role_environment``: a directory per role instance under the data dir,
emptied at start); prometheus-client reads it when first imported, so it must be set
before the process imports this module. Without it (tests in one process, a CLI
command) the values stay in the process and nothing else changes.

What is counted where: the web counts its requests (``web.observe``), the workers the
operations they apply, the deliveries they attempt, the timers they fire and the
escalations (one call at each place in the domain). What is a state rather than a
count (queue depths, stale operations, timers due, dead deliveries, the last sweep's
age) is read when scraped (``StateCollector``), never on a request.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tasks_service.core.settings import Settings

log = structlog.get_logger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "tasks_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "tasks_http_request_duration_seconds",
    "Time to answer an HTTP request (a write includes its wait for the worker).",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
OPERATIONS = Counter(
    "tasks_operations",
    "Durable commands applied by the workers, by kind and outcome (succeeded, failed).",
    ["kind", "outcome"],
)
OPERATION_LATENCY = Histogram(
    "tasks_operation_latency_seconds",
    "From a command's acceptance by the API to its outcome on the worker.",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
TIMER_LAG = Histogram(
    "tasks_timer_lag_seconds",
    "How late timers fire: fired_at - fire_at, by kind.",
    ["kind"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
)
DELIVERIES = Counter(
    "tasks_deliveries",
    "Delivery attempts by channel and outcome (delivered, retry, dead, superseded).",
    ["channel", "outcome"],
)
ESCALATIONS = Counter("tasks_escalations", "Escalation levels fired.")

#: A delivery's state after its attempt, as the outcome label says it.
_DELIVERY_OUTCOMES = {"delivered": "delivered", "pending": "retry", "dead": "dead"}


def count_deliveries(channels: Iterable[str], states: Iterable[str | None]) -> None:
    """Count recorded attempts: each delivery's channel beside its new state (None: the
    attempt was ignored, its claim taken over)."""
    for channel, state in zip(channels, states, strict=False):
        outcome = _DELIVERY_OUTCOMES.get(str(state), "superseded") if state else "superseded"
        DELIVERIES.labels(str(channel), outcome).inc()


# --- operations: counted and logged once their transaction committed -------------------


class FinishedOperation(Protocol):
    """What ``report_operations`` reads of an operation (``store.models.Operation``)."""

    @property
    def id(self) -> int | None: ...
    @property
    def account_id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def target_type(self) -> str | None: ...
    @property
    def target_id(self) -> int | None: ...
    @property
    def request_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def result(self) -> dict[str, Any] | None: ...
    @property
    def error(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class _Outcome:
    fields: dict[str, Any]
    kind: str
    outcome: str
    seconds: float


class _Unit(threading.local):
    """The outcomes noted in this thread's unit of work (None: no report around it)."""

    outcomes: list[_Outcome] | None = None


_unit = _Unit()


def operation_finished(op: FinishedOperation, finished_at: datetime) -> None:
    """Note an operation's outcome, for ``report_operations`` to count and log once its
    transaction commits (a rolled-back unit is retried and notes it again). Outside a
    report (no worker around it) nothing is noted."""
    if _unit.outcomes is None:
        return
    outcome = "failed" if str(op.status) == "failed" else "succeeded"
    seconds = max(0.0, (finished_at - op.created_at).total_seconds())
    fields: dict[str, Any] = {
        "operation_id": op.id,
        "kind": op.kind,
        "account": op.account_id,
        "request_id": op.request_id,
        "latency_ms": round(seconds * 1000, 1),
    }
    task_id = op.target_id if op.target_type == "task" else None
    if task_id is None and op.kind == "task.create" and op.result:
        task_id = op.result.get("id")
    if task_id is not None:
        fields["task_id"] = task_id
    if op.error:
        fields["error"] = op.error.get("code")
    _unit.outcomes.append(_Outcome(fields, op.kind, outcome, seconds))


@contextlib.contextmanager
def report_operations() -> Iterator[None]:
    """Around a worker's unit of work: the operations it finished are counted, and
    logged (``operation.applied`` / ``operation.failed``, with the request id the API
    stored on them), only if it ends without an exception, i.e. once committed."""
    _unit.outcomes = []
    try:
        yield
        for done in _unit.outcomes:
            OPERATIONS.labels(done.kind, done.outcome).inc()
            OPERATION_LATENCY.labels(done.kind).observe(done.seconds)
            event = "operation.applied" if done.outcome == "succeeded" else "operation.failed"
            log.info(event, **{k: v for k, v in done.fields.items() if v is not None})
    finally:
        _unit.outcomes = None


# --- the state, read when scraped -------------------------------------------------------


@dataclass(frozen=True)
class ServiceState:
    """What a scrape reads of the stack; None where it could not be read."""

    queue_depths: Mapping[str, int] | None = None
    stale_operations: int | None = None
    timers_due: int | None = None
    dead_deliveries: int | None = None
    beat_sweep_age: float | None = None


class StateCollector(Collector):
    """Gauges read from the database and the broker at each scrape (``read``)."""

    def __init__(self, read: Callable[[], ServiceState]) -> None:
        self.read = read

    def describe(self) -> list[Metric]:
        return []  # nothing read at registration: the database may be away

    def collect(self) -> Iterator[Metric]:
        state = self.read()
        if state.queue_depths is not None:
            depth = GaugeMetricFamily(
                "tasks_queue_depth", "Messages waiting in each queue.", labels=["queue"]
            )
            for queue, count in sorted(state.queue_depths.items()):
                depth.add_metric([queue], count)
            yield depth
        singles = (
            (
                "tasks_operations_stale",
                "Pending operations older than the recovery threshold (TASKS_RECOVERY_AFTER).",
                state.stale_operations,
            ),
            ("tasks_timers_due", "Timers due and not fired yet.", state.timers_due),
            ("tasks_deliveries_dead", "Deliveries that gave up (dead).", state.dead_deliveries),
            (
                "tasks_beat_last_sweep_age_seconds",
                "Seconds since the scheduler (beat) last swept.",
                state.beat_sweep_age,
            ),
        )
        for name, documentation, value in singles:
            if value is not None:
                yield GaugeMetricFamily(name, documentation, value=value)


# --- multiprocess mode -------------------------------------------------------------------


def multiprocess_dir(settings: Settings, role: str, owner_pid: int) -> Path:
    """The directory of one role instance's values:
    ``<data dir>/metrics/<host>/<role>-<pid>``. Two workers on one data dir must not
    share, nor empty, each other's (nor two machines, or containers, sharing it)."""
    return settings.resolved_data_dir / "metrics" / socket.gethostname() / f"{role}-{owner_pid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_dir(path: Path) -> None:
    """Empty ``path`` (values of an earlier instance would be summed with ours), and
    remove its siblings (this host's) whose owner process is gone."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    for sibling in path.parent.iterdir():
        _role, _, pid = sibling.name.rpartition("-")
        if sibling != path and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(sibling, ignore_errors=True)


def role_environment(settings: Settings, role: str, owner_pid: int) -> dict[str, str]:
    """``PROMETHEUS_MULTIPROC_DIR`` for a role about to start (its directory emptied), or
    nothing when metrics are off."""
    if not settings.metrics:
        return {}
    path = multiprocess_dir(settings, role, owner_pid)
    prepare_dir(path)
    return {MULTIPROC_ENV: str(path)}


def in_multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def scrape_registry() -> CollectorRegistry:
    """What a scrape reads: the sum of every process's files in multiprocess mode, else
    this process's own values."""
    if not in_multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def warm_up() -> None:
    """Make this process's value files now (a forked worker process would make them at
    its first count: a millisecond or more between a command's commit and its ack)."""
    ESCALATIONS.inc(0)  # the counters' file
    OPERATION_LATENCY.labels("task.create")  # the histograms' (the commonest series, at 0)


def mark_process_dead(pid: int) -> None:
    """A process of the role ended: drop its live gauges' files (its counters stay)."""
    if in_multiprocess_mode():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
