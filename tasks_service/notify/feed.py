"""The in-app feed: each person's notifications (written by ``notify.personal``), read
and marked read by that person alone. (Their opt-outs are the person's own field:
``identity.directory.do_set_opt_outs``.)"""

from __future__ import annotations

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from tasks_service.core.clock import utcnow
from tasks_service.store import lookups
from tasks_service.store.models import Notification


def notifications_of(
    session: Session, person_id: int, unread_only: bool, before: int, limit: int
) -> list[Notification]:
    """Newest first, with ids below ``before``."""
    query = select(Notification).where(
        Notification.person_id == person_id, col(Notification.id) < before
    )
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    return list(session.exec(query.order_by(col(Notification.id).desc()).limit(limit)))


def unread_count(session: Session, person_id: int) -> int:
    query = select(func.count()).where(
        col(Notification.person_id) == person_id, col(Notification.read_at).is_(None)
    )
    return int(session.exec(query).one())


def do_mark(
    session: Session, account_id: int, person_id: int, notification_id: int, read: bool | None
) -> Notification:
    """Mark one of the person's notifications read (or unread; None: leave it as it is).
    Raises: NotFound (also for someone else's)."""
    row = lookups.find(session, Notification, account_id, notification_id)
    if row is None or row.person_id != person_id:
        raise lookups.not_found(Notification, notification_id)
    if read and row.read_at is None:
        row.read_at = utcnow()
    elif read is False:
        row.read_at = None
    session.add(row)
    session.flush()
    return row


def do_mark_all_read(session: Session, person_id: int) -> int:
    result = session.execute(
        update(Notification)
        .where(col(Notification.person_id) == person_id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
