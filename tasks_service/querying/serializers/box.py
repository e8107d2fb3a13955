"""Tasks and their assignments in Box's forms (``store.schemas.box``): ``/2.0``'s answers.

Ids are strings; people are Box's users (``type`` user, ``login`` their primary email);
a task's item is the file it was made on. A batch costs a fixed number of queries:
the assignments of every task at once, the people and the items of them all at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from tasks_service.core.assignments import AssignmentStatus, box_resolution_state
from tasks_service.core.clock import iso
from tasks_service.core.statuses import FINISHED
from tasks_service.querying.serializers import refs
from tasks_service.store.models import Person, Task, TaskAssignment
from tasks_service.store.schemas.box import BoxAction

#: ``{person id: (name, login)}``
_People = dict[int, tuple[str, str]]


def _people(session: Session, ids: set[int | None]) -> _People:
    names = refs.people(session, ids)
    logins = refs.values(session, col(Person.id), col(Person.primary_email), set(names))
    return {pid: (name, logins.get(pid, "")) for pid, name in names.items()}


def _user(people: _People, person_id: int | None) -> dict[str, Any] | None:
    if person_id is None or person_id not in people:
        return None
    name, login = people[person_id]
    return {"type": "user", "id": str(person_id), "name": name, "login": login}


def _file(item_id: str | None) -> dict[str, Any] | None:
    return None if item_id is None else {"type": "file", "id": item_id}


def _assignment(row: TaskAssignment, item_id: str | None, people: _People) -> dict[str, Any]:
    return {
        "type": "task_assignment",
        "id": str(row.id),
        "item": _file(item_id),
        "assigned_to": _user(people, row.person_id),
        "assigned_by": _user(people, row.assigned_by_id),
        "message": row.note or "",
        "resolution_state": box_resolution_state(AssignmentStatus(row.status)),
        "assigned_at": iso(row.assigned_at or row.created_at),
        "completed_at": iso(row.decided_at),
        "reminded_at": iso(row.reminded_at),
    }


def _everyone(rows: Sequence[TaskAssignment]) -> set[int | None]:
    return {row.person_id for row in rows} | {row.assigned_by_id for row in rows}


def serialize_box_assignments(
    session: Session, rows: Sequence[TaskAssignment]
) -> list[dict[str, Any]]:
    """Task assignments (of any tasks) as Box shows them."""
    items = refs.values(session, col(Task.id), col(Task.item_id), {row.task_id for row in rows})
    people = _people(session, _everyone(rows))
    return [_assignment(row, items.get(row.task_id), people) for row in rows]


def assignments_of(session: Session, tasks: Sequence[Task]) -> dict[int, list[TaskAssignment]]:
    """Each task's assignments, oldest first: one query for all (none when no task has
    any)."""
    found: dict[int, list[TaskAssignment]] = {task.id or 0: [] for task in tasks}
    with_people = [task.id for task in tasks if task.assignee_count]
    if with_people:
        query = (
            select(TaskAssignment)
            .where(col(TaskAssignment.task_id).in_(with_people))
            .order_by(col(TaskAssignment.id))
        )
        for row in session.exec(query):
            found[row.task_id].append(row)
    return found


def serialize_box_tasks(session: Session, tasks: Sequence[Task]) -> list[dict[str, Any]]:
    """Tasks as Box shows them, each with its assignments. ``is_completed``: the task is
    finished (completed, approved, rejected, failed, or canceled: none of them takes a
    resolution any more)."""
    rows = assignments_of(session, tasks)
    every_row = [row for task_rows in rows.values() for row in task_rows]
    people = _people(session, _everyone(every_row) | {task.created_by_id for task in tasks})
    return [_task(task, rows[task.id or 0], people) for task in tasks]


def serialize_box_task(session: Session, task: Task) -> dict[str, Any]:
    return serialize_box_tasks(session, [task])[0]


def _task(task: Task, rows: list[TaskAssignment], people: _People) -> dict[str, Any]:
    return {
        "type": "task",
        "id": str(task.id),
        "item": _file(task.item_id),
        "due_at": iso(task.due_at),
        "action": BoxAction.of(task.category).value,
        "message": task.instructions or "",
        "completion_rule": task.completion_rule,
        "is_completed": task.status in FINISHED,
        "created_by": _user(people, task.created_by_id),
        "created_at": iso(task.created_at),
        "task_assignment_collection": {
            "total_count": len(rows),
            "entries": [_assignment(row, task.item_id, people) for row in rows],
        },
    }
