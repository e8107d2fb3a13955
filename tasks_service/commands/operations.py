"""The durable command path (DESIGN.md, "The write path").

1. ``do_record_operation`` (API side) stores a validated command as a pending
   ``Operation``; the caller commits, then enqueues ``apply_operation(op_id)``.
2. ``do_apply_operation`` (worker side) applies it in one transaction: lock the target
   row, apply every earlier pending operation on that target first (ids are monotonic,
   so commands take effect in the order the API accepted them), mark each one
   succeeded or failed with its result. Applying a finished operation is a no-op.
3. ``recover_operations``, the recovery sweep, enqueues again what a lost message or a
   dead worker left pending.

The kinds of operation, and how each is applied, are ``commands.operation_kinds``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import and_, delete, or_
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlmodel import Session, col, select

from tasks_service.commands import replays
from tasks_service.commands.operation_kinds import KINDS
from tasks_service.core import metrics
from tasks_service.core.clock import utcnow
from tasks_service.core.errors import TaskError
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import OperationStatus
from tasks_service.notify.outbox import Outbox
from tasks_service.store import background, lookups
from tasks_service.store.db import is_postgres, session_scope
from tasks_service.store.models import Operation, Task, Workflow

log = structlog.get_logger(__name__)


def request_fingerprint(method: str, path: str, payload: Any) -> str:
    """Identifies a request for Idempotency-Key checks: same method, path and body."""
    canonical = json.dumps([method, path, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_TARGETS: dict[str, type[Task] | type[Workflow]] = {"task": Task, "workflow": Workflow}


def _lock_target(
    session: Session, account_id: int, target_type: str | None, target_id: int | None
) -> None:
    if target_type is not None:
        lookups.lock(session, _TARGETS[target_type], account_id, target_id or 0)


def do_record_operation(
    session: Session,
    account_id: int,
    person_id: int | None,
    kind: str,
    payload: dict[str, Any],
    target_id: int | None = None,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
    submit_token: str | None = None,
    request_id: str | None = None,
) -> tuple[Operation, bool]:
    """Store a command as a pending operation; returns it and whether it is a replay.

    The target row stays locked until the caller commits, so operations on one target
    get their (monotonic) ids in the order they commit: id order is acceptance order.

    Raises: TaskNotFound/NotFound for a missing target; IdempotencyKeyReused when the
    key came with another request; IdempotencyRequestInFlight while that one is pending.
    ``submit_token``: the caller's name for this attempt (``stored_by_token``);
    ``request_id``: the request's (``X-Request-Id``), for the worker's log line.
    """
    spec = KINDS[kind]
    if idempotency_key is not None:
        earlier = _by_idempotency_key(session, account_id, idempotency_key)
        if earlier is not None:
            return _replay(earlier, fingerprint), True
        if replays.key_in_requests(session, account_id, idempotency_key):
            raise replays.key_reused()  # a synchronous write's key
    _lock_target(session, account_id, spec.target_type, target_id)
    op = Operation(
        account_id=account_id,
        person_id=person_id,
        kind=kind,
        target_type=spec.target_type,
        target_id=target_id,
        payload=payload,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        submit_token=submit_token,
        request_id=request_id,
    )
    if idempotency_key is None:
        session.add(op)
        session.flush()
        return op, False
    try:
        with session.begin_nested():
            session.add(op)
    except IntegrityError:
        # The same key arrived concurrently and the other request won the insert.
        assert idempotency_key is not None
        earlier = _by_idempotency_key(session, account_id, idempotency_key)
        if earlier is None:
            raise
        return _replay(earlier, fingerprint), True
    return op, False


def _by_idempotency_key(session: Session, account_id: int, key: str) -> Operation | None:
    return session.exec(
        select(Operation).where(
            Operation.account_id == account_id, Operation.idempotency_key == key
        )
    ).first()


def _replay(earlier: Operation, fingerprint: str | None) -> Operation:
    if earlier.request_hash != fingerprint:
        raise replays.key_reused()
    if earlier.status == OperationStatus.pending:
        raise replays.in_flight(f"operation {earlier.id} is still pending")
    return earlier


def stored_by_token(session: Session, account_id: int, token: str) -> Operation | None:
    """The operation an attempt named ``token`` stored, if its commit went through
    (asked on a fresh connection when the commit's answer was lost)."""
    return session.exec(
        select(Operation).where(Operation.account_id == account_id, Operation.submit_token == token)
    ).first()


def do_withdraw_operation(session: Session, operation_id: int) -> bool:
    """Delete an operation that could not be enqueued, if it is still pending.

    True: it is gone and nothing happened (the client is told to retry). False: a
    worker got it after all and applied it (a worker applying it holds its lock, so
    this waits for that worker and then finds it finished).
    """
    result = session.execute(
        delete(Operation).where(
            col(Operation.id) == operation_id, col(Operation.status) == OperationStatus.pending
        )
    )
    return bool(getattr(result, "rowcount", 0))


def _lock_operation(session: Session, operation_id: int) -> Operation | None:
    query = select(Operation).where(Operation.id == operation_id)
    if is_postgres(session):
        query = query.with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).first()


def do_apply_operation(session: Session, settings: Settings, operation_id: int) -> int:
    """Apply the operation, after any earlier pending ones on the same target.

    Returns how many operations this call applied (0 if it was done already).
    """
    outbox = Outbox(settings)  # what they publish is left for the delivery sweep
    # An operation without a target (a create) has nothing to lock but itself: lock it
    # in the same statement that reads it. A duplicate delivery waits on that lock,
    # then finds it done.
    untargeted = select(Operation).where(
        Operation.id == operation_id, col(Operation.target_type).is_(None)
    )
    if is_postgres(session):
        untargeted = untargeted.with_for_update()
    locked = session.exec(untargeted.execution_options(populate_existing=True)).first()
    if locked is not None:
        if locked.status != OperationStatus.pending:
            return 0
        _apply_one(session, outbox, locked, alone=True)
        return 1
    # An operation on a task or workflow: lock the target first (never the operation
    # rows first, or two workers could each hold what the other needs).
    op = session.get(Operation, operation_id)
    if op is None or op.status != OperationStatus.pending:
        return 0
    try:
        _lock_target(session, op.account_id, op.target_type, op.target_id)
    except TaskError as exc:
        _finish(op, error=exc.to_dict())
        session.add(op)
        return 1
    # Under the target's lock no new operation on it can commit, and every earlier one
    # that was accepted is visible: apply them in id order.
    queue = session.exec(
        select(Operation)
        .where(
            Operation.target_type == op.target_type,
            Operation.target_id == op.target_id,
            Operation.status == OperationStatus.pending,
            col(Operation.id) <= operation_id,
        )
        .order_by(col(Operation.id))
        .execution_options(populate_existing=True)
    ).all()
    for pending in queue:
        _apply_one(session, outbox, pending, alone=len(queue) == 1)
    return len(queue)


_INTERNAL_ERROR = {
    "message": "internal error while applying the operation",
    "code": "internal_error",
}


class OperationRejected(Exception):
    """A lone operation failed: its unit of work is rolled back and the failure recorded
    in a fresh transaction (``apply_operation``)."""

    def __init__(self, operation_id: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", "rejected"))
        self.operation_id, self.error = operation_id, error


def _apply_one(session: Session, outbox: Outbox, op: Operation, *, alone: bool) -> None:
    """Apply one operation and record its outcome on it.

    Among several operations each gets a savepoint, so that one failing undoes only its
    own changes. Alone (the common case) it needs none: a failure rolls the whole unit
    back (``OperationRejected``), which saves two round trips per command.
    """
    spec = KINDS[op.kind]
    try:
        if alone:
            result = spec.apply(session, outbox, op)
        else:
            with session.begin_nested():
                result = spec.apply(session, outbox, op)
    except TaskError as exc:
        error = exc.to_dict()
    except (OperationalError, InterfaceError):
        raise  # the database went away: the whole unit is retried
    except Exception:
        # A bug, not the client's fault: record it so that this operation neither
        # blocks the ones behind it nor is retried forever.
        log.exception("operation_failed", operation_id=op.id, kind=op.kind)
        error = _INTERNAL_ERROR
    else:
        _finish(op, result=result)
        session.add(op)
        session.flush()
        return
    if alone:
        raise OperationRejected(op.id or 0, error)
    _finish(op, error=error)
    session.add(op)
    session.flush()


def _finish(
    op: Operation, *, result: dict[str, Any] | None = None, error: dict[str, Any] | None = None
) -> None:
    now = utcnow()
    op.attempts += 1  # with the outcome, in one UPDATE: a rolled-back attempt leaves none
    op.status = OperationStatus.failed if error is not None else OperationStatus.succeeded
    op.result, op.error = result, error
    op.finished_at = op.updated_at = now
    metrics.operation_finished(op, now)  # counted and logged once committed


def do_record_failure(session: Session, operation_id: int, error: dict[str, Any]) -> None:
    """Mark a pending operation failed with ``error`` (after its unit was rolled back).

    Only the operation row is locked, never its target, so this cannot deadlock with a
    worker that holds the target and is about to apply this operation itself.
    """
    op = _lock_operation(session, operation_id)
    if op is not None and op.status == OperationStatus.pending:
        _finish(op, error=error)
        session.add(op)


def apply_operation(settings: Settings, operation_id: int) -> int:
    """A worker's unit of work for one message: apply, or record why it was rejected."""
    try:
        with session_scope(settings) as session:
            return do_apply_operation(session, settings, operation_id)
    except OperationRejected as rejected:
        with session_scope(settings) as session:
            do_record_failure(session, rejected.operation_id, rejected.error)
        return 1


def do_claim_stale_operations(
    session: Session, older_than: float, limit: int = 500
) -> list[tuple[int, str]]:
    """Pending operations not (re)enqueued for ``older_than`` seconds, oldest first, as
    (id, kind); also recomputes not yet planned, whatever their age (a worker records
    those inside another operation and leaves them to this sweep).

    Claiming bumps ``updated_at``, so a backlog that is merely slow gets enqueued again
    once per ``older_than`` at most, and concurrent sweeps skip each other's rows.
    """
    now = utcnow()
    query = (
        select(Operation)
        .where(
            Operation.status == OperationStatus.pending,
            or_(
                col(Operation.updated_at) < now - timedelta(seconds=older_than),
                and_(
                    col(Operation.kind) == background.RECOMPUTE,
                    col(Operation.progress_total).is_(None),
                ),
            ),
        )
        .order_by(col(Operation.id))
        .limit(limit)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    claimed = list(session.exec(query))
    for op in claimed:
        op.updated_at = now
        session.add(op)
    return [(op.id, op.kind) for op in claimed if op.id is not None]


def success_status(op: Operation) -> int:
    """The HTTP status a succeeded operation answers with: 201 for a create, 204 for a
    removal (no body), else 200."""
    spec = KINDS.get(op.kind)
    if spec is not None and spec.empty:
        return 204
    return 201 if spec is not None and spec.creates else 200


def recover_operations(settings: Settings, dispatch: Callable[[int, str], None]) -> int:
    """The recovery sweep: hand again to ``dispatch`` (id, kind) every operation left
    pending for ``recovery_after`` seconds (its message was lost, or its worker died),
    and every recompute not yet planned; returns how many."""
    with session_scope(settings) as session:
        claimed = do_claim_stale_operations(session, older_than=settings.recovery_after)
    for operation_id, kind in claimed:
        dispatch(operation_id, kind)
    if claimed:
        log.info("operations_dispatched", count=len(claimed), first=claimed[0][0])
    return len(claimed)
