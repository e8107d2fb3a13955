"""What the operator page (``/ops``) shows of one account, as plain data.

Everything here is read in one short read-only transaction and scoped to the account
of the admin looking: stale and recently failed operations, dead deliveries (grouped
by webhook, as ``tasks-service timers retry-dead --webhook`` sends them again), disabled
webhooks, upcoming escalations and how late recent timers fired. Queue depths are the
broker's, shared by every account (counts, no content): the web side reads them
through the workers' submitter and passes them in, as the domain never talks to the
broker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from tasks_service.core.settings import Settings
from tasks_service.core.statuses import (
    DeliveryChannel,
    DeliveryState,
    OperationStatus,
    TimerKind,
    TimerState,
)
from tasks_service.store import lookups
from tasks_service.store.models import Delivery, Operation, Task, Timer, Webhook

#: How much of each section a page shows (the newest first; the counts are complete).
STALE_LIMIT = 50
FAILED_LIMIT = 20
DEAD_LIMIT = 100
ESCALATION_LIMIT = 20
#: The timers whose lag is drawn: the last ones fired within ``LAG_WINDOW``.
LAG_LIMIT = 60
LAG_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class QueueDepth:
    name: str
    depth: int


@dataclass(frozen=True)
class TimerLag:
    """One fired timer: how long after its moment it fired (``fired_at - fire_at``)."""

    timer_id: int
    task_id: int
    kind: str
    fire_at: datetime
    fired_at: datetime
    lag_seconds: float


@dataclass(frozen=True)
class LagSummary:
    count: int
    median_seconds: float
    p95_seconds: float
    max_seconds: float


@dataclass(frozen=True)
class OperationRow:
    """A durable command that waits too long, or that failed (its error's code and
    message, as ``GET /v1/operations/:id`` shows them)."""

    id: int
    kind: str
    status: str
    created_at: datetime
    age_seconds: float
    attempts: int
    finished_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class DeadDelivery:
    id: int
    channel: str
    event: str
    task_id: int | None
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class DeadGroup:
    """The dead deliveries of one webhook (``webhook_id`` None: email), all of which
    one replay sends again; ``count`` is all of them, ``deliveries`` the newest."""

    webhook_id: int | None
    uri: str | None
    webhook_disabled: bool
    count: int
    deliveries: tuple[DeadDelivery, ...]


@dataclass(frozen=True)
class DisabledWebhook:
    id: int
    uri: str
    reason: str | None
    failing_since: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class UpcomingEscalation:
    timer_id: int
    task_id: int
    subject: str
    level: int
    fire_at: datetime
    in_seconds: float


@dataclass(frozen=True)
class Overview:
    """The page's data. ``queues`` is None when the broker could not be read."""

    account_id: int
    account_slug: str
    now: datetime
    recovery_after: float
    queues: tuple[QueueDepth, ...] | None
    lags: tuple[TimerLag, ...]
    lag: LagSummary | None
    stale_count: int
    stale: tuple[OperationRow, ...]
    failed: tuple[OperationRow, ...]
    dead_count: int
    dead: tuple[DeadGroup, ...]
    disabled_webhooks: tuple[DisabledWebhook, ...]
    escalations: tuple[UpcomingEscalation, ...]


def overview(
    session: Session,
    settings: Settings,
    account_id: int,
    now: datetime,
    queue_depths: Mapping[str, int] | None,
) -> Overview:
    """Everything the page shows of ``account_id`` as of ``now``."""
    lags = recent_lags(session, account_id, now)
    stale_count, stale = stale_operations(session, account_id, now, settings.recovery_after)
    dead_count, dead = dead_deliveries(session, account_id)
    return Overview(
        account_id=account_id,
        account_slug=lookups.get_account(session, account_id).slug,
        now=now,
        recovery_after=settings.recovery_after,
        queues=queues(queue_depths),
        lags=lags,
        lag=summarize(lags),
        stale_count=stale_count,
        stale=stale,
        failed=failed_operations(session, account_id, now),
        dead_count=dead_count,
        dead=dead,
        disabled_webhooks=disabled_webhooks(session, account_id),
        escalations=upcoming_escalations(session, account_id, now),
    )


def queues(depths: Mapping[str, int] | None) -> tuple[QueueDepth, ...] | None:
    if depths is None:
        return None
    return tuple(QueueDepth(name, int(depth)) for name, depth in sorted(depths.items()))


# --- timers -----------------------------------------------------------------------------


def recent_lags(session: Session, account_id: int, now: datetime) -> tuple[TimerLag, ...]:
    """The account's timers fired within the last ``LAG_WINDOW``, oldest first (the
    order they are drawn in), at most ``LAG_LIMIT``."""
    rows = session.exec(
        select(Timer)
        .where(
            col(Timer.account_id) == account_id,
            col(Timer.state) == TimerState.fired,
            col(Timer.fired_at) >= now - LAG_WINDOW,
        )
        .order_by(col(Timer.fired_at).desc(), col(Timer.id).desc())
        .limit(LAG_LIMIT)
    ).all()
    out = [
        TimerLag(
            timer_id=timer.id or 0,
            task_id=timer.task_id,
            kind=str(timer.kind),
            fire_at=timer.fire_at,
            fired_at=timer.fired_at,
            # a timer fired early (never by design) counts as on time
            lag_seconds=max(0.0, (timer.fired_at - timer.fire_at).total_seconds()),
        )
        for timer in rows
        if timer.fired_at is not None
    ]
    return tuple(reversed(out))


def summarize(lags: tuple[TimerLag, ...]) -> LagSummary | None:
    """Median, 95th percentile (nearest rank) and maximum of the lags; None if none."""
    if not lags:
        return None
    ordered = sorted(lag.lag_seconds for lag in lags)

    def rank(fraction: float) -> float:
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]

    return LagSummary(len(ordered), rank(0.5), rank(0.95), ordered[-1])


def upcoming_escalations(
    session: Session, account_id: int, now: datetime
) -> tuple[UpcomingEscalation, ...]:
    """The account's next pending escalation levels, soonest first (one due already
    but not yet fired shows a negative ``in_seconds``: the workers are behind)."""
    rows = session.exec(
        select(Timer, Task.subject)
        .join(Task, col(Task.id) == col(Timer.task_id))
        .where(
            col(Timer.account_id) == account_id,
            col(Timer.kind) == TimerKind.escalation,
            col(Timer.state) == TimerState.pending,
        )
        .order_by(col(Timer.fire_at), col(Timer.id))
        .limit(ESCALATION_LIMIT)
    ).all()
    return tuple(
        UpcomingEscalation(
            timer_id=timer.id or 0,
            task_id=timer.task_id,
            subject=subject,
            level=timer.level,
            fire_at=timer.fire_at,
            in_seconds=(timer.fire_at - now).total_seconds(),
        )
        for timer, subject in rows
    )


# --- operations -------------------------------------------------------------------------


def stale_operations(
    session: Session, account_id: int, now: datetime, recovery_after: float
) -> tuple[int, tuple[OperationRow, ...]]:
    """Operations of the account pending for longer than the recovery threshold (the
    recovery sweep should have handed them again: stuck workers, or none), oldest
    first; and how many there are."""
    condition = (
        (col(Operation.account_id) == account_id)
        & (col(Operation.status) == OperationStatus.pending)
        & (col(Operation.created_at) < now - timedelta(seconds=recovery_after))
    )
    count = session.exec(select(func.count()).select_from(Operation).where(condition)).one()
    rows = session.exec(
        select(Operation).where(condition).order_by(col(Operation.id)).limit(STALE_LIMIT)
    ).all()
    return int(count), tuple(_operation_row(op, now) for op in rows)


def failed_operations(session: Session, account_id: int, now: datetime) -> tuple[OperationRow, ...]:
    """The account's most recently failed operations, newest first, with their errors."""
    rows = session.exec(
        select(Operation)
        .where(
            col(Operation.account_id) == account_id,
            col(Operation.status) == OperationStatus.failed,
        )
        .order_by(col(Operation.id).desc())
        .limit(FAILED_LIMIT)
    ).all()
    return tuple(_operation_row(op, now) for op in rows)


def _operation_row(op: Operation, now: datetime) -> OperationRow:
    error: dict[str, Any] = op.error or {}
    return OperationRow(
        id=op.id or 0,
        kind=op.kind,
        status=str(op.status),
        created_at=op.created_at,
        age_seconds=((op.finished_at or now) - op.created_at).total_seconds(),
        attempts=op.attempts,
        finished_at=op.finished_at,
        error_code=None if not error else str(error.get("code", "")) or None,
        error_message=None if not error else _error_text(error),
    )


def _error_text(error: dict[str, Any]) -> str:
    """The error's message, and the fields it names (``status: ...``)."""
    parts = [str(error.get("message", ""))]
    for item in error.get("errors") or []:
        if isinstance(item, dict) and item.get("field"):
            parts.append(f"{item['field']}: {item.get('message') or item.get('code', '')}")
    return "; ".join(part for part in parts if part)


# --- deliveries and webhooks ------------------------------------------------------------


def dead_deliveries(session: Session, account_id: int) -> tuple[int, tuple[DeadGroup, ...]]:
    """The account's dead deliveries by webhook (email last), each group with its
    count and its newest deliveries; and how many there are in all."""
    condition = (col(Delivery.account_id) == account_id) & (
        col(Delivery.state) == DeliveryState.dead
    )
    counts: dict[int | None, int] = {
        webhook_id: int(count)
        for webhook_id, count in session.exec(
            select(Delivery.webhook_id, func.count())
            .where(condition)
            .group_by(col(Delivery.webhook_id))
        )
    }
    if not counts:
        return 0, ()
    rows = session.exec(
        select(Delivery).where(condition).order_by(col(Delivery.id).desc()).limit(DEAD_LIMIT)
    ).all()
    hook_ids = [webhook_id for webhook_id in counts if webhook_id is not None]
    hooks = {
        hook.id: hook
        for hook in session.exec(
            select(Webhook).where(
                col(Webhook.account_id) == account_id, col(Webhook.id).in_(hook_ids)
            )
        )
    }
    groups = []
    for webhook_id in sorted(counts, key=lambda i: (i is None, i or 0)):
        hook = hooks.get(webhook_id) if webhook_id is not None else None
        shown = tuple(_dead(d) for d in rows if d.webhook_id == webhook_id)
        groups.append(
            DeadGroup(
                webhook_id=webhook_id,
                uri=None if hook is None else hook.uri,
                webhook_disabled=bool(hook is not None and hook.disabled),
                count=counts[webhook_id],
                deliveries=shown,
            )
        )
    return sum(counts.values()), tuple(groups)


def _dead(delivery: Delivery) -> DeadDelivery:
    return DeadDelivery(
        id=delivery.id or 0,
        channel=str(delivery.channel or DeliveryChannel.webhook),
        event=delivery.event,
        task_id=delivery.task_id,
        attempts=delivery.attempts,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
    )


def disabled_webhooks(session: Session, account_id: int) -> tuple[DisabledWebhook, ...]:
    """The account's disabled webhooks (by hand, or after failing too long), newest
    change first."""
    rows = session.exec(
        select(Webhook)
        .where(col(Webhook.account_id) == account_id, col(Webhook.disabled).is_(True))
        .order_by(col(Webhook.updated_at).desc(), col(Webhook.id).desc())
    ).all()
    return tuple(
        DisabledWebhook(
            id=hook.id or 0,
            uri=hook.uri,
            reason=hook.disabled_reason,
            failing_since=hook.failing_since,
            updated_at=hook.updated_at,
        )
        for hook in rows
    )
