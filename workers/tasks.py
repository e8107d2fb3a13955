"""Celery tasks. Each is one call into ``tasks_service``; arguments are ids."""

from __future__ import annotations

from datetime import timedelta

import structlog
from celery.signals import worker_process_init
from sqlalchemy.exc import InterfaceError, OperationalError

from tasks_service.db import dispose_engines, session_scope
from tasks_service.operations import apply_operation as apply_operation_unit
from tasks_service.operations import do_claim_stale_operations
from tasks_service.settings import get_settings
from workers.app import (
    APPLY_OPERATION,
    COMMANDS_QUEUE,
    PRUNE_BROKER,
    RECOVER_OPERATIONS,
    make_celery,
)
from workers.transport import prune_delivered

app = make_celery(get_settings())
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
        ids = do_claim_stale_operations(session, older_than=settings.recovery_after)
    for operation_id in ids:
        apply_operation.apply_async(args=[operation_id], queue=COMMANDS_QUEUE)
    if ids:
        log.warning("operations_recovered", count=len(ids), first=ids[0])
    return len(ids)


@app.task(name=PRUNE_BROKER)
def prune_broker() -> int:
    """Keep the embedded broker's file from growing forever (see workers/transport.py)."""
    settings = get_settings()
    if not settings.uses_embedded_broker:
        return 0
    return prune_delivered(
        settings.effective_broker_url, timedelta(seconds=settings.embedded_broker_retention)
    )
