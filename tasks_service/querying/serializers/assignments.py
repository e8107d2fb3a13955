"""A task's assignments in 4me's forms (``store.schemas.assignments``): approvals, and
a task's several assignees."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from tasks_service.core.assignments import AssignmentStatus, work_state
from tasks_service.core.clock import iso
from tasks_service.querying.serializers import refs
from tasks_service.store.models import TaskAssignment


def serialize_approvals(session: Session, rows: Sequence[TaskAssignment]) -> list[dict[str, Any]]:
    people = refs.people(session, {row.person_id for row in rows})
    return [
        {
            "id": row.id,
            "approver": refs.ref(people, row.person_id),
            "status": row.status,
            "note": row.note,
            "planned_effort": row.planned_effort,
            "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
            "decided_at": iso(row.decided_at),
        }
        for row in rows
    ]


def serialize_work_assignments(
    session: Session, rows: Sequence[TaskAssignment]
) -> list[dict[str, Any]]:
    people = refs.people(session, {row.person_id for row in rows})
    return [
        {
            "id": row.id,
            "person": refs.ref(people, row.person_id),
            "state": work_state(AssignmentStatus(row.status)),
            "message": row.note,
            "assigned_at": iso(row.assigned_at),
            "completed_at": iso(row.decided_at),
            "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
        }
        for row in rows
    ]
