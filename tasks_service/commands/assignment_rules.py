"""What a task's own change does to its assignments (``core.assignments``), applied
from ``task_change.apply_task_change``; and telling their people.

Below ``task_change``: these functions change assignment rows and publish, never a
task's status (``commands.assignments``, above it, turns decisions into one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from tasks_service.core.assignments import (
    PENDING,
    AssignmentKind,
    AssignmentStatus,
    Tally,
    follow_task,
)
from tasks_service.core.errors import field_error
from tasks_service.core.statuses import TaskCategory, TaskStatus
from tasks_service.identity.audience import recipients
from tasks_service.notify.message import Message
from tasks_service.notify.outbox import Outbox
from tasks_service.notify.publish import publish
from tasks_service.querying.serializers import refs
from tasks_service.store.models import Task, TaskAssignment


def of_task(session: Session, task_id: int) -> list[TaskAssignment]:
    """The task's assignments, oldest first."""
    query = (
        select(TaskAssignment)
        .where(TaskAssignment.task_id == task_id)
        .order_by(col(TaskAssignment.id))
    )
    return list(session.exec(query).all())


def tally(task: Task, rows: Sequence[TaskAssignment]) -> Tally:
    return Tally.of(
        task.category, task.completion_rule, task.required_approvals, [r.status for r in rows]
    )


def field(row: TaskAssignment, name: str | None = None) -> str:
    """The name an assignment's change has in its task's event: ``assignments.12`` (its
    whole self, added or removed) or ``assignments.12.status``."""
    return f"assignments.{row.id}" + (f".{name}" if name else "")


def follow(
    session: Session, outbox: Outbox, task: Task, before: TaskStatus, now: datetime
) -> dict[str, list[Any]]:
    """Move the task's assignments after its status went from ``before`` to its own
    (``core.assignments.follow_task``); tell the people whose assignment is now theirs
    to act on. Returns what changed, for the task's event."""
    if task.assignee_count == 0 or before == task.status:
        return {}
    kind = AssignmentKind.of(task.category)
    after = TaskStatus(task.status)
    diff: dict[str, list[Any]] = {}
    started: list[TaskAssignment] = []
    for row in of_task(session, task.id or 0):
        new = follow_task(kind, AssignmentStatus(row.status), before, after)
        if new == row.status:
            continue
        diff[field(row, "status")] = [row.status, new]
        row.status = new
        row.updated_at = now
        if new in PENDING:
            row.decided_at = None
        if new == AssignmentStatus.assigned:
            row.assigned_at = now
            started.append(row)
        session.add(row)
    announce(session, outbox, task, started, now)
    return diff


def announce(
    session: Session, outbox: Outbox, task: Task, rows: Sequence[TaskAssignment], now: datetime
) -> None:
    """``task.assigned`` for each of ``rows``, now the person's to act on: to them (feed,
    email) and to the webhooks, with ``assignee`` naming the person."""
    if not rows:
        return
    names = refs.people(session, {row.person_id for row in rows})
    messages = [
        Message(
            "task.assigned",
            now,
            detail=f":assignment:{row.id}",
            people=recipients(session, task, [f"person:{row.person_id}"]),
            extra={"assignee": refs.ref(names, row.person_id)},
        )
        for row in rows
    ]
    publish(session, outbox, task, messages)


def remind(session: Session, task: Task, moment: datetime) -> None:
    """The task's due notice went out at ``moment`` to the people whose assignment
    waits for them (``identity.audience``): each assignment shows when (Box's
    ``reminded_at``)."""
    if not task.assignee_count:
        return
    session.execute(
        update(TaskAssignment)
        .where(
            col(TaskAssignment.task_id) == task.id,
            col(TaskAssignment.status).in_([s.value for s in PENDING]),
        )
        .values(reminded_at=moment)
    )


def check_kind(task: Task, category: TaskCategory | str) -> None:
    """A task with assignments keeps its kind: an approval task's approvals are no
    work assignments (their decisions would mean nothing). Raises: TaskValidationError."""
    if task.assignee_count and AssignmentKind.of(category) != AssignmentKind.of(task.category):
        raise field_error(
            "category",
            "has_assignments",
            f"task #{task.id} has people with their own part as a "
            f"{AssignmentKind.of(task.category).value} task: remove them first",
        )
