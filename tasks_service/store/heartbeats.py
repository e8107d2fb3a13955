"""Heartbeats: the last sign of life of the scheduler and of each worker.

Beat writes ``scheduler`` each sweep; each worker writes ``worker`` under its node name
while it runs. Readers compare the newest beat of a role on their broker with a
setting: ``/readyz`` and ``tasks-service timers status`` (the scheduler), and the web,
which does not hold a request waiting for a command when no worker is alive to apply it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import structlog
from sqlmodel import Session, col, select

from tasks_service.core.clock import utcnow
from tasks_service.core.settings import Settings
from tasks_service.store.db import session_scope
from tasks_service.store.models.operations import Heartbeat

log = structlog.get_logger(__name__)

SCHEDULER = "scheduler"
WORKER = "worker"


def broker_id(settings: Settings) -> str:
    """A short name of the broker (URL and key prefix) that a process serves."""
    name = f"{settings.effective_broker_url}|{settings.broker_prefix}"
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def do_beat(session: Session, role: str, name: str, broker: str, now: datetime) -> None:
    """Record that ``name`` (of ``role``, on ``broker``) is alive at ``now``."""
    row = session.get(Heartbeat, (role, name))
    if row is None:
        session.add(Heartbeat(role=role, name=name, broker=broker, beat_at=now))
    else:
        row.beat_at, row.broker = max(row.beat_at, now), broker
        session.add(row)


def beat(settings: Settings, role: str, name: str) -> bool:
    """``do_beat`` in its own transaction; False (logged) when the database is away: a
    heartbeat must never bring its role down."""
    try:
        with session_scope(settings) as session:
            do_beat(session, role, name, broker_id(settings), utcnow())
    except Exception as exc:
        log.warning("heartbeat_failed", role=role, error=str(exc).splitlines()[0])
        return False
    return True


def age(session: Session, settings: Settings, role: str, now: datetime) -> timedelta | None:
    """How long ago any process of ``role`` on this broker last showed life (None:
    none ever did)."""
    newest = session.exec(
        select(Heartbeat.beat_at)
        .where(Heartbeat.role == role, Heartbeat.broker == broker_id(settings))
        .order_by(col(Heartbeat.beat_at).desc())
        .limit(1)
    ).first()
    return None if newest is None else now - newest


def forget(settings: Settings, role: str, name: str) -> None:
    """A process that stops cleanly takes its heartbeat away: it is gone on purpose
    (scaled down, redeployed), not dead. One that dies leaves it to go stale."""
    try:
        with session_scope(settings) as session:
            row = session.get(Heartbeat, (role, name))
            if row is not None:
                session.delete(row)
    except Exception as exc:
        log.warning("heartbeat_forget_failed", role=role, error=str(exc).splitlines()[0])
