"""Celery tasks. Each is one call into ``tasks_service``; arguments are ids."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from celery.signals import worker_process_init
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from tasks_service import commands, notifications, recompute, timers
from tasks_service.db import dispose_engines, session_scope
from tasks_service.models import utcnow
from tasks_service.operations import apply_operation as apply_operation_unit
from tasks_service.operations import do_claim_stale_operations
from tasks_service.settings import get_settings
from workers.app import (
    APPLY_OPERATION,
    DELIVER,
    FIRE_TIMERS,
    MAINTENANCE_QUEUE,
    PLAN_FANOUT,
    PRUNE_BROKER,
    RECOVER_OPERATIONS,
    RUN_BATCH,
    SWEEP_TIMERS,
    TIMERS_QUEUE,
    Submitter,
    make_celery,
)
from workers.transport import prune_delivered

app = make_celery(get_settings())
_submitter = Submitter(celery=app)
log = structlog.get_logger(__name__)


@worker_process_init.connect
def _fresh_connections(**_: object) -> None:
    # Pooled connections must not be shared with the parent across fork.
    dispose_engines()


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
    """Apply a durable command (and any earlier pending ones on its target)."""
    return apply_operation_unit(get_settings(), operation_id)


@app.task(name=RECOVER_OPERATIONS, acks_late=True)
def recover_operations() -> int:
    """Enqueue again the operations that stayed pending too long (lost message, dead worker)."""
    settings = get_settings()
    with session_scope() as session:
        claimed = do_claim_stale_operations(session, older_than=settings.recovery_after)
    for operation_id, kind in claimed:
        _submitter.dispatch(operation_id, kind)
    if claimed:
        log.info("operations_dispatched", count=len(claimed), first=claimed[0][0])
    return len(claimed)


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
    """Recompute one batch of a fan-out (a batch already done is a no-op)."""
    with session_scope() as session:
        return recompute.do_run_batch(session, operation_id, seq)


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
#: service costs one probe a second). A claim takes ``timer_claim_batch`` rows.
WAKE_BUDGET = 5.0
WAKE_UPS = 2


@app.task(name=SWEEP_TIMERS, ignore_result=True)
def sweep_timers() -> int:
    """Wake workers when timers or deliveries are due (DESIGN.md, "Time").

    The sweep claims nothing itself: a woken worker claims a few rows when it runs and
    works on them at once. Claims therefore never wait in a queue, so a long backlog
    cannot make them look stale (and be taken, and sent, again); a claim goes stale
    only when its worker dies. It also wakes workers for timers due within the next
    interval, which a woken worker waits for and fires on their moment. Any number of
    sweeps may run; extra wake-ups find nothing and end (or expire in the queue).
    """
    settings = get_settings()
    now = utcnow()
    with session_scope(write=False) as session:
        stale = timedelta(seconds=settings.timer_claim_timeout)
        ahead = timedelta(seconds=settings.timer_sweep_interval)
        timers_due = timers.any_due(session, now, stale, ahead)
        stale = timedelta(seconds=settings.delivery_claim_timeout)
        deliveries_due = notifications.any_due(session, now, stale)
    woken = 0
    for task, due in ((fire_timers, timers_due), (deliver, deliveries_due)):
        for _ in range(WAKE_UPS if due else 0):
            # A wake-up that waited longer than a few sweeps is dropped: newer ones came.
            task.apply_async(queue=TIMERS_QUEUE, expires=settings.timer_sweep_interval * 5)
            woken += 1
    return woken


def _claim_and_work(
    claim: Callable[[Session, datetime, int], list[int]],
    work: Callable[[list[int], datetime], int],
    next_moment: Callable[[Session, datetime], datetime | None] | None = None,
) -> int:
    """Claim a chunk of rows and work on them, again until none is due or the budget is
    spent; returns what ``work`` counted. With ``next_moment``, a worker that finds
    none due waits for a row due before the next sweep (within the budget), instead of
    leaving it to that sweep."""
    deadline = time.monotonic() + WAKE_BUDGET
    settings = get_settings()
    chunk, ahead = settings.timer_claim_batch, timedelta(seconds=settings.timer_sweep_interval)
    done = 0
    while time.monotonic() < deadline:
        now = utcnow()
        with session_scope() as session:
            ids = claim(session, now, chunk)
        done += work(ids, now)
        if len(ids) == chunk:
            continue
        if next_moment is None:
            break
        with session_scope(write=False) as session:
            moment = next_moment(session, utcnow() + ahead)
        wait = None if moment is None else (moment - utcnow()).total_seconds()
        if wait is None or time.monotonic() + wait >= deadline:
            break
        time.sleep(max(0.0, wait))
    return done


@app.task(name=FIRE_TIMERS, **_BACKGROUND)
def fire_timers() -> int:
    """Claim due timers and fire each chunk in one transaction (each timer takes effect
    once), then send what the chunk emitted at once (not at the next sweep)."""
    stale = timedelta(seconds=get_settings().timer_claim_timeout)
    return _claim_and_work(
        lambda session, now, limit: timers.do_claim_due(session, now, limit, stale),
        _fire,
        timers.next_pending,
    )


def _fire(timer_ids: list[int], _claim: datetime) -> int:
    if not timer_ids:
        return 0
    with session_scope() as session:
        fired = commands.do_fire_timers(session, timer_ids)
    # Timers that failed stay claimed; a later claim takes them again (their attempts count).
    _send(fired.to_send)
    return fired.acted


@app.task(name=DELIVER, **_BACKGROUND)
def deliver() -> int:
    """Claim due deliveries and make one attempt for each; the outcomes are recorded on
    their rows (no transaction stays open while the receivers answer)."""
    stale = timedelta(seconds=get_settings().delivery_claim_timeout)

    def work(delivery_ids: list[int], claim: datetime) -> int:
        with session_scope(write=False) as session:
            claimed = notifications.claimed(session, delivery_ids, claim)
        return _send(claimed)

    return _claim_and_work(
        lambda session, now, limit: notifications.do_claim_due(session, now, limit, stale),
        work,
    )


def _send(claimed: list[notifications.Claimed]) -> int:
    """One attempt for each, then their outcomes in one transaction; returns how many
    were delivered."""
    if not claimed:
        return 0
    settings = get_settings()
    stale = timedelta(seconds=settings.delivery_claim_timeout)
    attempts = notifications.send_all(settings, claimed, stale)
    with session_scope() as session:
        states = notifications.do_record_attempts(session, settings, attempts)
    return states.count(notifications.DELIVERED)
