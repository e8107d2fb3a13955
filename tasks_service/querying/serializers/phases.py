"""A workflow's phases in their REST form (``store.schemas.phases``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col

from tasks_service.core.clock import iso
from tasks_service.querying.serializers import refs
from tasks_service.store.models import Workflow, WorkflowPhase


def serialize_phases(session: Session, phases: Sequence[WorkflowPhase]) -> list[dict[str, Any]]:
    """The phases, with their workflows' subjects read in one query."""
    ids: set[int | None] = {p.workflow_id for p in phases}
    subjects = refs.names(session, col(Workflow.id), col(Workflow.subject), ids)
    return [
        {
            "id": p.id,
            "name": p.name,
            "position": p.position,
            "status": p.status,
            "workflow": {"id": p.workflow_id, "subject": subjects.get(p.workflow_id, "")},
            "started_at": iso(p.started_at),
            "completed_at": iso(p.completed_at),
            "created_at": iso(p.created_at),
            "updated_at": iso(p.updated_at),
        }
        for p in phases
    ]


def serialize_phase(session: Session, phase: WorkflowPhase) -> dict[str, Any]:
    return serialize_phases(session, [phase])[0]
