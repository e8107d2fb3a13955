"""Celery tasks. Each is one call into ``tasks_service``; arguments are ids."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from celery.signals import worker_process_init
from sqlalchemy.exc import InterfaceError, OperationalError

from tasks_service import recompute
from tasks_service.db import dispose_engines, session_scope
from tasks_service.operations import apply_operation as apply_operation_unit
from tasks_service.operations import do_claim_stale_operations
from tasks_service.settings import get_settings
from workers.app import (
    APPLY_OPERATION,
    MAINTENANCE_QUEUE,
    PLAN_FANOUT,
    PRUNE_BROKER,
    RECOVER_OPERATIONS,
    RUN_BATCH,
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
