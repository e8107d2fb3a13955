"""References as a serialized record shows them (``{"id", "name"}``), looked up for a
whole batch of records in one light query each (no ORM objects)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from tasks_service.store.models import (
    Calendar,
    EscalationPolicy,
    Person,
    Task,
    TaskTemplate,
    Team,
    WorkflowPhase,
    WorkflowTemplate,
)


def names(session: Session, column: Any, label: Any, ids: set[int | None]) -> dict[int, str]:
    """``{id: name}`` for these ids (``values``)."""
    return values(session, column, label, ids)


def values(session: Session, column: Any, label: Any, ids: set[int | None]) -> dict[int, Any]:
    """``{id: value of label}`` for these ids: those whose rows the session holds already (loaded,
    not expired: as this transaction sees them) from there, the rest in one query; no
    query when none is left."""
    wanted = {i for i in ids if i}
    found: dict[int, Any] = {}
    model, attribute = column.class_, label.key
    for row_id in list(wanted):
        row = session.identity_map.get(identity_key(model, row_id))
        if row is not None and attribute in row.__dict__:
            found[row_id] = row.__dict__[attribute]
            wanted.discard(row_id)
    if wanted:
        found.update(session.exec(select(column, label).where(column.in_(wanted))).all())
    return found


def people(session: Session, ids: set[int | None]) -> dict[int, str]:
    return names(session, col(Person.id), col(Person.name), ids)


def teams(session: Session, ids: set[int | None]) -> dict[int, str]:
    return names(session, col(Team.id), col(Team.name), ids)


def calendars(session: Session, ids: set[int | None]) -> dict[int, str]:
    return names(session, col(Calendar.id), col(Calendar.name), ids)


def policies(session: Session, ids: set[int | None]) -> dict[int, str]:
    return names(session, col(EscalationPolicy.id), col(EscalationPolicy.name), ids)


def phases(session: Session, ids: set[int | None]) -> dict[int, str]:
    return names(session, col(WorkflowPhase.id), col(WorkflowPhase.name), ids)


def task_subjects(session: Session, ids: set[int | None]) -> dict[int, str]:
    return names(session, col(Task.id), col(Task.subject), ids)


def task_templates(session: Session, ids: set[int | None]) -> dict[int, str]:
    return names(session, col(TaskTemplate.id), col(TaskTemplate.subject), ids)


def workflow_templates(session: Session, ids: set[int | None]) -> dict[int, str]:
    return names(session, col(WorkflowTemplate.id), col(WorkflowTemplate.subject), ids)


def subject_ref(known: dict[int, str], ref_id: int | None) -> dict[str, Any] | None:
    """A task or template reference (``{"id", "subject"}``), or None."""
    if ref_id is None or ref_id not in known:
        return None
    return {"id": ref_id, "subject": known[ref_id]}


def ref(known: dict[int, str], ref_id: int | None) -> dict[str, Any] | None:
    """The reference, or None when there is none (or it no longer exists)."""
    if ref_id is None or ref_id not in known:
        return None
    return {"id": ref_id, "name": known[ref_id]}
