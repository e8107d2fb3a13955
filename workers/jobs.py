"""The Celery tasks. Each is one call into ``tasks_service``; arguments are ids.

A worker process owns one ``Sender`` (the threads and HTTP connections that deliver
messages), made after its fork and closed when the process ends.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.signals import (
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from sqlalchemy.exc import InterfaceError, OperationalError

from tasks_service.commands import drain, recompute
from tasks_service.commands.operations import apply_operation as apply_operation_unit
from tasks_service.commands.operations import recover_operations as recover
from tasks_service.commands.replays import prune_keys
from tasks_service.core import metrics
from tasks_service.core.settings import get_settings
from tasks_service.notify.delivery import Sender
from tasks_service.store.db import dispose_engines, session_scope
from workers import observe
from workers.app import (
    APPLY_OPERATION,
    DELIVER,
    FIRE_TIMERS,
    MAINTENANCE_QUEUE,
    PLAN_FANOUT,
    PRUNE_BROKER,
    PRUNE_KEYS,
    RECOVER_OPERATIONS,
    RUN_BATCH,
    SWEEP_TIMERS,
    TIMERS_QUEUE,
    Submitter,
    make_celery,
)
from workers.liveness import WorkerHeartbeat
from workers.transport import prune_delivered

app = make_celery(get_settings())
observe.install()  # logging, each task's log context, the metrics endpoint
_submitter = Submitter(celery=app)


class _Process:
    """What this worker process owns: its sender, made on first use after the fork."""

    sender: Sender | None = None

    @classmethod
    def get_sender(cls) -> Sender:
        if cls.sender is None:
            cls.sender = Sender(get_settings())
        return cls.sender

    @classmethod
    def close(cls) -> None:
        sender, cls.sender = cls.sender, None
        if sender is not None:
            sender.close()


@worker_process_init.connect
def _fresh_process(**_: object) -> None:
    # Pooled connections and threads must not be shared with the parent across fork.
    dispose_engines()
    _Process.sender = None


@worker_process_shutdown.connect
def _process_ends(**_: object) -> None:
    _Process.close()


_heartbeat: list[WorkerHeartbeat] = []


@worker_ready.connect
def _consuming(sender: object = None, **_: object) -> None:
    # In the main process, whose consumer takes the messages: its heartbeat says a
    # worker is there to apply commands (web.submit does not wait when none is).
    heartbeat = WorkerHeartbeat(sender)
    heartbeat.start()
    _heartbeat.append(heartbeat)


@worker_shutdown.connect
def _stops(**_: object) -> None:
    for heartbeat in _heartbeat:
        heartbeat.stop()


@app.task(
    name=APPLY_OPERATION,
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=8,
)
def apply_operation(self: object, operation_id: int) -> int:
    """Apply a durable command (and any earlier pending ones on its target); their
    outcomes are counted and logged once committed."""
    with metrics.report_operations():
        return apply_operation_unit(get_settings(), operation_id)


@app.task(name=RECOVER_OPERATIONS, acks_late=True)
def recover_operations() -> int:
    """Enqueue again the operations that stayed pending too long (lost message, dead worker)."""
    return recover(get_settings(), _submitter.dispatch)


#: Background work is idempotent: redelivered, or retried while the database is away.
_BACKGROUND: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "max_retries": 8,
}


@app.task(name=PLAN_FANOUT, **_BACKGROUND)
def plan_fanout(operation_id: int) -> int:
    """Split a background operation into batches (once), then enqueue those not done."""
    with session_scope() as session:
        pending = recompute.do_plan(session, operation_id)
    for seq in pending:
        run_batch.apply_async(args=[operation_id, seq], queue=MAINTENANCE_QUEUE)
    return len(pending)


@app.task(name=RUN_BATCH, **_BACKGROUND)
def run_batch(operation_id: int, seq: int) -> int:
    """Recompute one batch of a fan-out (a batch already done is a no-op), then the
    plans of the workflows it touched (``recompute.run_batch``)."""
    return recompute.run_batch(get_settings(), operation_id, seq)


@app.task(name=PRUNE_KEYS)
def prune_idempotency_keys() -> int:
    """Forget Idempotency-Keys kept longer than ``TASKS_IDEMPOTENCY_RETENTION``."""
    return prune_keys(get_settings())


@app.task(name=PRUNE_BROKER)
def prune_broker() -> int:
    """Keep the embedded broker's file from growing forever (see workers/transport.py)."""
    settings = get_settings()
    if not settings.uses_embedded_broker:
        return 0
    return prune_delivered(
        settings.effective_broker_url, timedelta(seconds=settings.embedded_broker_retention)
    )


#: How long one wake-up keeps claiming; wake-ups per sweep for each of firing and
#: sending (each lasts up to the budget: a backlog keeps several processes busy, an idle
#: service costs one probe a second).
WAKE_BUDGET = 5.0
WAKE_UPS = 2


@app.task(name=SWEEP_TIMERS, ignore_result=True)
def sweep_timers() -> int:
    """Wake workers when timers or deliveries are due (DESIGN.md, "Time";
    ``commands.drain``). Any number of sweeps may run; extra wake-ups find nothing and
    end, or expire in the queue after a few sweeps (newer ones came)."""
    settings = get_settings()
    due = drain.due_work(settings)
    woken = 0
    for task, wanted in ((fire_timers, due.timers), (deliver, due.deliveries)):
        for _ in range(WAKE_UPS if wanted else 0):
            task.apply_async(queue=TIMERS_QUEUE, expires=settings.timer_sweep_interval * 5)
            woken += 1
    return woken


@app.task(name=FIRE_TIMERS, **_BACKGROUND)
def fire_timers() -> int:
    """Fire due timers chunk by chunk (each chunk in one transaction; each timer takes
    effect once), sending what each chunk emits at once."""
    return drain.drain_timers(get_settings(), _Process.get_sender(), WAKE_BUDGET)


@app.task(name=DELIVER, **_BACKGROUND)
def deliver() -> int:
    """Claim due deliveries and make one attempt for each; the outcomes are recorded on
    their rows (no transaction stays open while the receivers answer)."""
    return drain.drain_deliveries(get_settings(), _Process.get_sender(), WAKE_BUDGET)
