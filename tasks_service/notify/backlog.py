"""The backlog of timers and deliveries, for operators (``tasks-service timers status``).

Counts by kind (timers) or channel (deliveries) and state, plus what is due now and
the claims that went stale (their worker died; the next sweep takes them again). A
growing "due now" means the workers do not keep up; stale claims mean workers died;
dead deliveries can be sent again with ``tasks-service timers retry-dead``. Below the
tables: whether the scheduler sweeps (no sweep, no timer fires) and how many workers
are alive, from their heartbeats (``store.heartbeats``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from tasks_service.core.settings import Settings
from tasks_service.core.statuses import DeliveryState, TimerState
from tasks_service.store import heartbeats
from tasks_service.store.models import Delivery, Timer
from tasks_service.store.models.operations import Heartbeat

_T, _D = TimerState, DeliveryState
TIMER_COLUMNS = (_T.pending, "due now", _T.claimed, "stale", _T.fired, _T.canceled)
DELIVERY_COLUMNS = (_D.pending, "due now", _D.delivering, "stale", _D.delivered, _D.dead)
Counts = dict[str, dict[str, int]]


def _counts(session: Session, group: Any, state: Any, due: Any, lost: Any) -> Counts:
    """Rows by ``group`` and ``state``, plus the columns "due now" and "stale"."""
    out: Counts = defaultdict(lambda: defaultdict(int))
    for name, value, count in session.exec(
        select(group, state, func.count()).group_by(group, state)
    ):
        out[name][value] = count
    for condition, column in ((due, "due now"), (lost, "stale")):
        for name, count in session.exec(
            select(group, func.count()).where(condition).group_by(group)
        ):
            out[name][column] = count
    return out


def report(session: Session, settings: Settings, now: datetime) -> list[str]:
    """The report's lines: one table for timers, one for deliveries."""
    timer_stale = now - timedelta(seconds=settings.timer_claim_timeout)
    delivery_stale = now - timedelta(seconds=settings.delivery_claim_timeout)
    tables = (  # title, columns, grouped by, state, due now, stale claim
        (
            "timers",
            TIMER_COLUMNS,
            col(Timer.kind),
            col(Timer.state),
            (col(Timer.state) == TimerState.pending) & (col(Timer.fire_at) <= now),
            (col(Timer.state) == TimerState.claimed) & (col(Timer.claimed_at) < timer_stale),
        ),
        (
            "deliveries",
            DELIVERY_COLUMNS,
            col(Delivery.channel),
            col(Delivery.state),
            (col(Delivery.state) == DeliveryState.pending) & (col(Delivery.next_attempt_at) <= now),
            (col(Delivery.state) == DeliveryState.delivering)
            & (col(Delivery.claimed_at) < delivery_stale),
        ),
    )
    lines: list[str] = []
    for title, columns, group, state, due, lost in tables:
        if lines:
            lines.append("")  # between the tables
        lines += _table(title, columns, _counts(session, group, state, due, lost))
    return [*lines, "", *liveness(session, settings, now)]


def liveness(session: Session, settings: Settings, now: datetime) -> list[str]:
    """One line for the scheduler, one for the workers (on this stack's broker)."""
    since = heartbeats.age(session, settings, heartbeats.SCHEDULER, now)
    if since is None:
        scheduler = "not seen (is `tasks-service beat` running?)"
    elif since.total_seconds() > settings.scheduler_stale_after:
        scheduler = (
            f"STALE: no sweep for {since.total_seconds():.0f} s: due timers do not fire"
            " and lost commands are not sent again (is `tasks-service beat` running?)"
        )
    else:
        scheduler = f"ok (last sweep {since.total_seconds():.1f} s ago)"
    fresh_after = now - timedelta(seconds=settings.worker_stale_after)
    alive = session.exec(
        select(func.count()).where(
            Heartbeat.role == heartbeats.WORKER,
            Heartbeat.broker == heartbeats.broker_id(settings),
            col(Heartbeat.beat_at) >= fresh_after,
        )
    ).one()
    workers = f"{alive} alive" if alive else "NONE alive: commands wait, unapplied"
    return [f"{'scheduler':<12}{scheduler}", f"{'workers':<12}{workers}"]


def _table(title: str, columns: tuple[str, ...], rows: Counts) -> list[str]:
    lines = [f"{title:<12}" + "".join(f"{c:>12}" for c in columns)]
    for name in sorted(rows):
        lines.append(f"{name:<12}" + "".join(f"{rows[name].get(c, 0):>12,}" for c in columns))
    if not rows:
        lines.append("(none)")
    return lines
