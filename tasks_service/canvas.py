"""Canvas's view of a task (000), for the Python API: its three statuses and the fields
of a task snapshot (``tasks_service.tasks.Task`` adds the methods).

Canvas's view of a status is OPEN (any unfinished status), COMPLETED (completed or
approved) and CLOSED (canceled, failed, rejected); the detailed 002 status is
``xurrent_status``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from tasks_service.core.errors import TaskValidationError
from tasks_service.core.statuses import FINISHED, OPEN, TaskStatus
from tasks_service.querying.serializers.tasks import labels_of
from tasks_service.store import models


class CanvasStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    COMPLETED = "completed"


COMPLETED = frozenset({TaskStatus.completed, TaskStatus.approved})
CLOSED = FINISHED - COMPLETED


def canvas_status(status: str) -> CanvasStatus:
    if status in COMPLETED:
        return CanvasStatus.COMPLETED
    if status in CLOSED:
        return CanvasStatus.CLOSED
    return CanvasStatus.OPEN


def statuses_for(status: str) -> list[str]:
    """The 002 statuses a Canvas status (or a 002 status) stands for.
    Raises: TaskValidationError."""
    if status == CanvasStatus.OPEN:
        return sorted(OPEN)
    if status == CanvasStatus.COMPLETED:
        return [s.value for s in COMPLETED]
    if status == CanvasStatus.CLOSED:
        return [s.value for s in CLOSED]
    try:
        return [TaskStatus(status).value]
    except ValueError:
        raise TaskValidationError(
            f"unknown status {status!r}", code="invalid_value", params={"field": "status"}
        ) from None


@dataclass(frozen=True)
class Label:
    name: str


@dataclass(frozen=True)
class Comment:
    id: int
    comment: str
    creator_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class Assignment:
    """A person's own part of the task (``core.assignments``): an approval, or one of
    several assignees; ``status`` registered, assigned, approved, rejected, completed
    or canceled."""

    id: int
    person_id: int
    status: str
    note: str | None
    decided_at: datetime | None


@dataclass
class TaskSnapshot:
    """A task as Canvas names its fields."""

    id: int
    title: str
    status: CanvasStatus
    xurrent_status: str
    category: str
    creator_id: int | None
    team_id: int | None
    member_id: int | None
    due: datetime | None
    labels: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    assigned_at: datetime | None = None
    finished_at: datetime | None = None
    completion_target_at: datetime | None = None
    custom_fields: dict[str, Any] | None = None
    # its place in a workflow's plan (``commands.workflow_plan``)
    workflow_id: int | None = None
    predecessor_ids: list[int] = field(default_factory=list)
    successor_ids: list[int] = field(default_factory=list)
    failure_task_id: int | None = None
    phase_id: int | None = None
    anticipated_assignment_at: datetime | None = None
    rejection_count: int = 0
    # people with a part of their own (``tasks_service.assignments``)
    required_approvals: int = 1
    completion_rule: str | None = None
    assignments: list[Assignment] = field(default_factory=list)

    @property
    def assignee_id(self) -> int | None:
        return self.member_id or self.team_id


def snapshot_fields(session: Session, rows: Sequence[models.Task]) -> list[dict[str, Any]]:
    """The fields of snapshots of task rows; labels, notes and links in one query each."""
    ids = [row.id or 0 for row in rows]
    labels = labels_of(session, ids) if ids else {}
    before: dict[int, list[int]] = defaultdict(list)
    after: dict[int, list[int]] = defaultdict(list)
    if any(row.workflow_id is not None for row in rows):
        links = select(models.TaskDependency).where(
            col(models.TaskDependency.predecessor_id).in_(ids)
            | col(models.TaskDependency.successor_id).in_(ids)
        )
        for link in session.exec(links):
            after[link.predecessor_id].append(link.successor_id)
            before[link.successor_id].append(link.predecessor_id)
    shared: dict[int, list[Assignment]] = defaultdict(list)
    with_people = [row.id for row in rows if row.assignee_count]
    if with_people:
        parts = select(models.TaskAssignment).where(
            col(models.TaskAssignment.task_id).in_(with_people)
        )
        for a in session.exec(parts.order_by(col(models.TaskAssignment.id))):
            shared[a.task_id].append(
                Assignment(a.id or 0, a.person_id, str(a.status), a.note, a.decided_at)
            )
    notes: dict[int, list[models.Note]] = defaultdict(list)
    if ids:
        query = select(models.Note).where(col(models.Note.task_id).in_(ids))
        for note in session.exec(query.order_by(col(models.Note.id))):
            notes[note.task_id].append(note)
    return [
        {
            "id": row.id or 0,
            "title": row.subject,
            "status": canvas_status(row.status),
            "xurrent_status": str(row.status),
            "category": str(row.category),
            "creator_id": row.created_by_id,
            "team_id": row.team_id,
            "member_id": row.member_id,
            "due": row.due_at,
            "labels": list(labels.get(row.id or 0, [])),
            "comments": [
                Comment(n.id or 0, n.text, n.person_id, n.created_at) for n in notes[row.id or 0]
            ],
            "assigned_at": row.assigned_at,
            "finished_at": row.finished_at,
            "completion_target_at": row.completion_target_at,
            "custom_fields": row.custom_fields,
            "workflow_id": row.workflow_id,
            "predecessor_ids": sorted(before[row.id or 0]),
            "successor_ids": sorted(after[row.id or 0]),
            "failure_task_id": row.failure_task_id,
            "phase_id": row.phase_id,
            "anticipated_assignment_at": row.anticipated_assignment_at,
            "rejection_count": row.rejection_count,
            "required_approvals": row.required_approvals,
            "completion_rule": None if row.completion_rule is None else str(row.completion_rule),
            "assignments": shared[row.id or 0],
        }
        for row in rows
    ]
