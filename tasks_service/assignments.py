"""Tasks worked by several people, for the in-process Python API (issue 16), in the
style of ``tasks_service.tasks``: approvals of an approval task and several assignees
of another, each person with a decision of their own (``core.assignments``). The same
commands as the REST workers, one transaction per call; tasks come back as
``tasks.Task`` (``task.assignments`` lists who decided what)::

    from tasks_service import assignments, people, tasks

    with tasks.account("demo"):
        me = people.get_service_user()
        ann = people.create_person("Ann", "ann@example.com")
        bob = people.create_person("Bob", "bob@example.com")
        cab = tasks.create_task("CAB approval", creator=me, category="approval",
                                required_approvals=2)
        assignments.request_approval(cab, ann)
        assignments.request_approval(cab, bob)
        assignments.approve_task(cab, ann, note="fine")
        assignments.approve_task(cab, bob)  # the second approval approves the task

``tasks.assign_task`` still gives a task its one team or member.
"""

from __future__ import annotations

from sqlmodel import select

from tasks_service.commands import assignments as commands
from tasks_service.context import current
from tasks_service.core.assignments import AssignmentKind, AssignmentStatus
from tasks_service.core.errors import TaskValidationError
from tasks_service.notify.outbox import Outbox
from tasks_service.people import Person, get_service_user
from tasks_service.store import models
from tasks_service.store.db import session_scope
from tasks_service.tasks import Task, get_task

__all__ = [
    "add_task_assignee",
    "approve_task",
    "reject_task",
    "request_approval",
    "resolve_task_assignment",
]

#: What a person may resolve their assignment as (Box's resolution states).
RESOLUTIONS = {
    "completed": AssignmentStatus.completed,
    "approved": AssignmentStatus.approved,
    "rejected": AssignmentStatus.rejected,
    "incomplete": AssignmentStatus.assigned,
}


def _id(task: Task | int) -> int:
    return task if isinstance(task, int) else task.id


def _refreshed(task: Task | int) -> Task:
    fresh = get_task(_id(task))
    if isinstance(task, Task):
        task._refresh(fresh)
        return task
    return fresh


def _add(
    task: Task | int,
    person: Person,
    kind: AssignmentKind | None,
    note: str | None,
    by: Person | None,
) -> Task:
    ctx = current()
    assignee = commands.Assignee(person.id, field="assignee", kind=kind, note=note)
    with session_scope(ctx.settings) as session:
        commands.do_add_assignment(
            session,
            Outbox(ctx.settings),
            ctx.account_id,
            (by or get_service_user()).id,
            _id(task),
            assignee,
        )
    return _refreshed(task)


def add_task_assignee(task: Task | int, assignee: Person, by: Person | None = None) -> Task:
    """Give ``assignee`` their own assignment of the task (an approval, if it is an
    approval task); a registered task that nothing holds is assigned with it.

    Raises: TaskNotFound; NotFound (the person); Conflict (they have one already);
    InvalidTaskStatusError (the task is finished).
    """
    return _add(task, assignee, None, None, by)


def request_approval(
    task: Task | int, approver: Person, note: str | None = None, by: Person | None = None
) -> Task:
    """Ask ``approver`` to approve the approval task. Raises: as ``add_task_assignee``;
    Conflict when the task is not an approval task."""
    return _add(task, approver, AssignmentKind.approval, note, by)


def resolve_task_assignment(
    task: Task | int, assignee: Person, resolution: str = "completed", note: str | None = None
) -> Task:
    """``assignee`` decides their own assignment: ``completed`` (a task that is not an
    approval), ``approved`` / ``rejected`` (an approval task), or ``incomplete`` (still
    to decide). The task follows once the decisions finish it (its completion rule,
    or ``required_approvals``).

    Raises: TaskNotFound; TaskValidationError (no such resolution; the person has no
    assignment of the task); InvalidTaskStatusError (a decision the table forbids:
    decided already, the task not yet assigned, or a resolution of the other kind).
    """
    if resolution not in RESOLUTIONS:
        raise TaskValidationError(
            f"resolution: one of {', '.join(RESOLUTIONS)}",
            code="invalid_value",
            params={"field": "resolution"},
        )
    ctx = current()
    changes: dict[str, object] = {"status": RESOLUTIONS[resolution]}
    if note is not None:
        changes["note"] = note
    with session_scope(ctx.settings) as session:
        found = session.exec(
            select(models.TaskAssignment.id).where(
                models.TaskAssignment.task_id == _id(task),
                models.TaskAssignment.person_id == assignee.id,
                models.TaskAssignment.account_id == ctx.account_id,
            )
        ).first()
        if found is None:
            get_task(_id(task))  # TaskNotFound first, for a task that is not there
            raise TaskValidationError(
                f"person {assignee.id} has no assignment of task #{_id(task)}",
                code="not_assigned",
                params={"field": "assignee"},
            )
        commands.do_update_assignment(
            session, Outbox(ctx.settings), ctx.account_id, assignee.id, _id(task), found, changes
        )
    return _refreshed(task)


def approve_task(task: Task | int, approver: Person, note: str | None = None) -> Task:
    """``approver``'s approval: the task is approved once enough approvers have.
    Raises: as ``resolve_task_assignment``."""
    return resolve_task_assignment(task, approver, "approved", note)


def reject_task(task: Task | int, approver: Person, note: str) -> Task:
    """``approver``'s rejection, with why: it rejects the task at once.
    Raises: as ``resolve_task_assignment``."""
    return resolve_task_assignment(task, approver, "rejected", note)
