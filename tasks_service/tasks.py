"""The Python API, in the shape of Canvas's ``canvas_core.tasks`` (000).

It runs the same domain commands as the REST workers, in-process, one transaction per
call. Select the account first::

    from tasks_service import people, tasks
    from tasks_service.tasks import Task

    with tasks.account("demo"):
        task = tasks.create_task(title="Review", creator=people.get_service_user())
        tasks.complete_task(task)

Canvas's view of a status is ``Task.Status``: OPEN (any unfinished status), COMPLETED
(completed or approved) and CLOSED (canceled, failed, rejected). The detailed 002
status is ``task.xurrent_status``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from tasks_service.canvas import (
    CanvasStatus,
    Comment,
    Label,
    TaskSnapshot,
    canvas_status,
    snapshot_fields,
    statuses_for,
)
from tasks_service.commands import task_commands, workflow_plan
from tasks_service.commands.task_change import apply_task_change, lock_task
from tasks_service.context import account, current, use_account
from tasks_service.core.errors import (
    InvalidTaskStatusError,
    TaskError,
    TaskNotFound,
    TaskValidationError,
)
from tasks_service.core.statuses import FINISHED, TaskCategory, TaskStatus
from tasks_service.core.validation import provided, validate
from tasks_service.notify.outbox import Outbox
from tasks_service.people import Person, Team, create_account, get_service_user
from tasks_service.querying.filters import QueryError
from tasks_service.querying.lists import task_list_conditions
from tasks_service.querying.paging import parse_list
from tasks_service.querying.resources import TASK_QUERY, TASK_TRACKOPS, TASK_VIEWS
from tasks_service.schedule.timing import has_assignee
from tasks_service.store import lookups, models
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.tasks import TaskCreate, TaskUpdate

__all__ = [
    "NOT_PROVIDED",
    "Comment",
    "InvalidTaskStatusError",
    "Label",
    "QueryError",
    "Task",
    "TaskError",
    "TaskNotFound",
    "TaskValidationError",
    "account",
    "add_task_comment",
    "add_task_labels",
    "assign_task",
    "close_task",
    "complete_task",
    "create_account",
    "create_task",
    "get_task",
    "list_tasks",
    "remove_task_label",
    "reopen_task",
    "update_task",
    "use_account",
]


class NOT_PROVIDED:
    """``list_tasks(assignee=...)`` not given: any assignee (``None`` means unassigned)."""


@dataclass
class Task(TaskSnapshot):
    """A snapshot of a task; its methods call the module functions and refresh it."""

    Status = CanvasStatus

    def _refresh(self, other: Task) -> None:
        self.__dict__.update(replace(other).__dict__)

    def add_comment(self, comment: str, creator: Person | None = None) -> None:
        self._refresh(add_task_comment(self, comment, creator))

    def add_label(self, label: str) -> None:
        self._refresh(add_task_labels(self, (label,)))

    def add_labels(self, labels: Iterable[str]) -> None:
        self._refresh(add_task_labels(self, labels))

    def remove_label(self, label_name: str | None = None, *, label: str | None = None) -> None:
        self._refresh(remove_task_label(self, label_name or label or ""))

    def assign(self, assignee: Person | Team) -> None:
        self._refresh(assign_task(self, assignee))

    def close(self) -> None:
        self._refresh(close_task(self))

    def complete(self) -> None:
        self._refresh(complete_task(self))

    def reopen(self) -> None:
        self._refresh(reopen_task(self))


def _snapshot(session: Session, row: models.Task) -> Task:
    return _snapshots(session, [row])[0]


def _snapshots(session: Session, rows: Sequence[models.Task]) -> list[Task]:
    return [Task(**fields) for fields in snapshot_fields(session, rows)]


def _task_id(task: Task | int) -> int:
    return task if isinstance(task, int) else task.id


def _assignee_fields(assignee: Person | Team | None) -> dict[str, int | None]:
    if assignee is None:
        return {}
    if isinstance(assignee, Team):
        return {"team_id": assignee.id, "member_id": None}
    if isinstance(assignee, Person):
        return {"member_id": assignee.id, "team_id": None}
    raise TaskValidationError(
        "assignee must be a Person or a Team", code="invalid_assignee", params={"field": "assignee"}
    )


def _due_fields(due: date | datetime | None) -> dict[str, str]:
    """Canvas's ``due``: a datetime is ``due_at``; a date alone is ``due_on``, the end of
    that day in the task's calendar zone, which only the transaction can tell (it
    depends on the calendar chosen, the team, workflow, account)."""
    if due is None:
        return {}
    return {"due_at" if isinstance(due, datetime) else "due_on": due.isoformat()}


def _into(task: Task | int, fresh: Task) -> Task:
    """The answer of a call: the caller's own ``Task`` object brought up to date (so
    that ``review`` shows what the call did), else the new snapshot."""
    if isinstance(task, Task):
        task._refresh(fresh)
        return task
    return fresh


def _actor_id(person: Person | None) -> int:
    return (person or get_service_user()).id


def create_task(
    title: str,
    creator: Person,
    assignee: Person | Team | None = None,
    patient: Any = None,
    labels: Iterable[str] | None = None,
    due: date | datetime | None = None,
    **fields: Any,
) -> Task:
    """Create a new task. Extra keyword arguments are 002 fields (category, impact, ...).

    ``patient`` (a Canvas notion) is kept in ``custom_fields["patient"]``.
    Raises: TaskValidationError.
    """
    ctx = current()
    body: dict[str, Any] = {"subject": title, "category": TaskCategory.implementation, **fields}
    body.update(_assignee_fields(assignee))
    if labels is not None:
        body["labels"] = list(labels)
    body.update(_due_fields(due))
    if patient is not None:
        body["custom_fields"] = {**(body.get("custom_fields") or {}), "patient": _plain(patient)}
    data = validate(TaskCreate, body)
    with session_scope(ctx.settings) as session:
        outbox = Outbox(ctx.settings)
        row = task_commands.do_create_task(session, outbox, ctx.account_id, creator.id, data)
        return _snapshot(session, row)


def _plain(value: Any) -> Any:
    return getattr(value, "id", value)


def get_task(task_id: int) -> Task:
    """Retrieve a task by its ID. Raises: TaskNotFound."""
    ctx = current()
    with session_scope(ctx.settings, write=False) as session:
        return _snapshot(session, lookups.get(session, models.Task, ctx.account_id, task_id))


def _update(
    task: Task | int,
    action: str,
    body: dict[str, Any],
    *,
    merge_custom_fields: bool = False,
) -> Task:
    """Change an open task, in one transaction: validated, locked once, checked open,
    changed. ``merge_custom_fields``: the ``custom_fields`` sent are merged into the
    task's own, read under the same lock (a concurrent change is not lost). A
    ``due_on`` (a day) is due at the end of that day in the zone of the calendar the
    task will have (``task_commands.due_on_as_due_at``)."""
    ctx = current()
    person_id = _actor_id(None)
    changes = provided(validate(TaskUpdate, body))
    with session_scope(ctx.settings) as session:
        row = lock_task(session, ctx.account_id, _task_id(task))
        _require_open(row, action)
        if merge_custom_fields:
            changes["custom_fields"] = {**(row.custom_fields or {}), **changes["custom_fields"]}
        task_commands.due_on_as_due_at(session, row, changes)
        outbox = Outbox(ctx.settings)
        predecessors = changes.pop("predecessor_ids", None)
        successors = changes.pop("successor_ids", None)
        if predecessors is not None or successors is not None:
            workflow_plan.set_links(session, outbox, row, predecessors, successors, person_id)
        row = apply_task_change(session, outbox, row, person_id, changes, action)
        return _into(task, _snapshot(session, row))


def assign_task(task: Task | int, assignee: Person | Team) -> Task:
    """Assign an open task to a person or a team. Raises: InvalidTaskStatusError."""
    return _update(task, "assign", _assignee_fields(assignee))


def update_task(
    task: Task | int,
    title: str | None = None,
    due: date | datetime | None = None,
    patient: Any = None,
    **fields: Any,
) -> Task:
    """Update an open task's title, due date or other 002 fields.

    Raises: InvalidTaskStatusError if the task is not open; TaskValidationError.
    """
    body: dict[str, Any] = dict(fields)
    if title is not None:
        body["subject"] = title
    body.update(_due_fields(due))
    if patient is not None:
        body["custom_fields"] = {**(body.get("custom_fields") or {}), "patient": _plain(patient)}
    return _update(task, "update", body, merge_custom_fields=patient is not None)


def add_task_labels(task: Task | int, label_names: Iterable[str]) -> Task:
    """Add the given labels to the task. Raises: TaskNotFound, TaskValidationError."""
    ctx = current()
    names = validate(TaskUpdate, {"labels": list(label_names)}).labels
    with session_scope(ctx.settings) as session:
        outbox = Outbox(ctx.settings)
        row = task_commands.do_add_labels(
            session, outbox, ctx.account_id, _actor_id(None), _task_id(task), names
        )
        return _into(task, _snapshot(session, row))


def remove_task_label(task: Task | int, label_name: str) -> Task:
    """Remove the label from the task (a label it does not have changes nothing)."""
    ctx = current()
    with session_scope(ctx.settings) as session:
        outbox = Outbox(ctx.settings)
        row = task_commands.do_remove_label(
            session, outbox, ctx.account_id, _actor_id(None), _task_id(task), label_name
        )
        return _into(task, _snapshot(session, row))


def add_task_comment(task: Task | int, comment: str, creator: Person | None = None) -> Task:
    """Add a comment (a 002 note) by ``creator``, or by the service user."""
    ctx = current()
    text = comment.strip() if isinstance(comment, str) else ""
    if not text:
        raise TaskValidationError(
            "comment cannot be empty", code="invalid_value", params={"field": "comment"}
        )
    with session_scope(ctx.settings) as session:
        task_id = _task_id(task)
        task_commands.do_add_note(session, ctx.account_id, _actor_id(creator), task_id, text)
        row = lookups.get(session, models.Task, ctx.account_id, task_id)
        return _into(task, _snapshot(session, row))


def _transition(task: Task | int, action: str, choose: Any) -> Task:
    ctx = current()
    person_id = _actor_id(None)
    with session_scope(ctx.settings) as session:
        row = lock_task(session, ctx.account_id, _task_id(task))
        outbox = Outbox(ctx.settings)
        row = task_commands.do_transition_task(session, outbox, row, person_id, choose(row), action)
        return _into(task, _snapshot(session, row))


def close_task(task: Task | int) -> Task:
    """Close an open task as incomplete (status canceled). Raises: InvalidTaskStatusError."""

    def choose(row: models.Task) -> TaskStatus:
        _require_open(row, "close")
        return TaskStatus.canceled

    return _transition(task, "close", choose)


def complete_task(task: Task | int) -> Task:
    """Complete an open task (an approval task is approved). Raises: InvalidTaskStatusError."""

    def choose(row: models.Task) -> TaskStatus:
        _require_open(row, "complete")
        return (
            TaskStatus.approved if row.category == TaskCategory.approval else TaskStatus.completed
        )

    return _transition(task, "complete", choose)


def reopen_task(task: Task | int) -> Task:
    """Reopen a closed or completed task: back to its assignee, or registered without one.

    Raises: InvalidTaskStatusError if the task is open already.
    """

    def choose(row: models.Task) -> TaskStatus:
        if row.status not in FINISHED:
            raise InvalidTaskStatusError(
                action="reopen",
                expected_status=f"{CanvasStatus.CLOSED} or {CanvasStatus.COMPLETED}",
                actual_status=CanvasStatus.OPEN,
            )
        return TaskStatus.assigned if has_assignee(row) else TaskStatus.registered

    return _transition(task, "reopen", choose)


def _require_open(row: models.Task, action: str) -> None:
    if row.status in FINISHED:
        raise InvalidTaskStatusError(
            action=action,
            expected_status=CanvasStatus.OPEN,
            actual_status=canvas_status(row.status),
        )


def list_tasks(
    status: str | None = None,
    assignee: Person | Team | type[NOT_PROVIDED] | None = NOT_PROVIDED,
    creator: Person | None = None,
    *,
    query: Mapping[str, str] | None = None,
    view: str | None = None,
    me: Person | None = None,
) -> list[Task]:
    """Tasks filtered by status (Canvas view or 002 status), assignee and creator, newest first.

    ``assignee=None`` lists unassigned tasks; leaving it out lists any. ``query`` takes
    the REST API's filters and sort, through the same query layer, e.g.
    ``{"impact": "high,top", "due_at": "<2026-02-01", "sort": "due_at"}``; ``view`` one of
    its predefined filters (``"assigned_to_me"``, ``"open"``...) as seen by ``me`` (by
    default the service user).

    Raises: QueryError for a filter that cannot be used; SortError; TaskValidationError.
    """
    ctx = current()
    listing = parse_list(TASK_QUERY, list((query or {}).items()), extra=TASK_TRACKOPS)
    if view is not None and view not in TASK_VIEWS:
        raise TaskValidationError(
            f"unknown view {view!r} (one of {', '.join(TASK_VIEWS)})",
            code="invalid_value",
            params={"field": "view"},
        )
    condition = TASK_VIEWS[view](_actor_id(me)) if view is not None else None
    statement = select(models.Task).where(
        *task_list_conditions(ctx.account_id, view=condition), listing.where
    )
    if status is not None:
        statement = statement.where(col(models.Task.status).in_(statuses_for(status)))
    if assignee is None:
        statement = statement.where(
            col(models.Task.team_id).is_(None), col(models.Task.member_id).is_(None)
        )
    elif isinstance(assignee, Team):
        statement = statement.where(models.Task.team_id == assignee.id)
    elif isinstance(assignee, Person):
        statement = statement.where(models.Task.member_id == assignee.id)
    if creator is not None:
        statement = statement.where(models.Task.created_by_id == creator.id)
    with session_scope(ctx.settings, write=False) as session:
        rows = session.exec(statement.order_by(*(key.clause() for key in listing.sort))).all()
        return _snapshots(session, rows)
