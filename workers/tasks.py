"""Celery tasks. Each is one call into ``tasks_service``; arguments are ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
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


#: Timers handed to one worker message.
FIRE_CHUNK = 25


@app.task(name=SWEEP_TIMERS, ignore_result=True)
def sweep_timers() -> int:
    """Claim the due timers (in batches, until none is left) and fan them out.

    Any number of sweeps may run at once: a claim takes each timer once. If a message
    cannot be sent the claims are given back; if one is lost after sending, the claim
    goes stale and a later sweep takes the timer again.
    """
    timer_stale = timedelta(seconds=get_settings().timer_claim_timeout)
    return (
        _drain(
            lambda session, limit: timers.do_claim_due(session, utcnow(), limit, timer_stale),
            fire_timers,
            timers.drop_claims,
        )
        + _drain_deliveries()
    )


def _drain_deliveries() -> int:
    """Hand the due deliveries (new, or a retry's moment) to the senders; an unsent
    claim goes stale and is taken again."""
    stale = timedelta(seconds=get_settings().delivery_claim_timeout)
    return _drain(
        lambda session, limit: notifications.do_claim_due(session, utcnow(), limit, stale),
        deliver,
        None,
    )


def _drain(
    claim: Callable[[Session, int], list[int]],
    task: Any,
    give_back: Callable[[Session, list[int]], None] | None,
) -> int:
    """Claim in batches until fewer than a batch is due; send each batch to ``task`` in
    chunks. If sending fails, ``give_back`` returns the unsent claims at once."""
    batch = get_settings().timer_claim_batch
    claimed = 0
    while True:
        with session_scope() as session:
            ids = claim(session, batch)
        for start in range(0, len(ids), FIRE_CHUNK):
            try:
                task.apply_async(args=[ids[start : start + FIRE_CHUNK]], queue=TIMERS_QUEUE)
            except Exception:
                if give_back is not None:
                    with session_scope() as session:
                        give_back(session, ids[start:])
                raise
        claimed += len(ids)
        if len(ids) < batch:
            return claimed


@app.task(name=FIRE_TIMERS, **_BACKGROUND)
def fire_timers(timer_ids: list[int]) -> int:
    """Apply claimed timers, each in its own transaction (each takes effect once)."""
    fired = 0
    for timer_id in timer_ids:
        try:
            with session_scope() as session:
                fired += commands.do_fire_timer(session, timer_id) is not None
        except (OperationalError, InterfaceError):
            raise  # the database went away: the whole message is retried
        except Exception:
            # This timer stays claimed; a later sweep takes it again (and its attempts
            # count). The others in the message go on.
            log.exception("timer_failed", timer_id=timer_id)
    if fired:
        # what these timers emitted goes out now, not at the next sweep (a second later)
        _drain_deliveries()
    return fired


@app.task(name=DELIVER, **_BACKGROUND)
def deliver(delivery_ids: list[int]) -> int:
    """One attempt for each claimed delivery; the outcome is recorded on its row (no
    transaction stays open while the receiver answers)."""
    settings = get_settings()
    delivered = 0
    for delivery_id in delivery_ids:
        with session_scope(write=False) as session:
            found = notifications.claimed(session, delivery_id)
        if found is None:
            continue
        delivery, hook = found
        outcome = notifications.send(settings, delivery, hook)
        with session_scope() as session:
            state = notifications.do_record_attempt(
                session, settings, delivery_id, delivery.claimed_at, outcome
            )
        delivered += state == notifications.DELIVERED
    return delivered
