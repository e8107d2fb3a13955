"""Box's tasks (003) over this service's: what Box's words make of a task, the tasks and
assignments Box sees, and the two commands whose rules are Box's own.

A Box task is a task with an ``item_id`` (Box's file, kept as an external reference).
Box's ``message`` is the task's instructions, and its first line the subject. Box
deletes tasks; this service keeps every task's history, so Box's delete cancels the
task and takes its item away: Box no longer sees it, ``/v1`` shows it canceled
(``do_delete_box_task``). Box's assignments are this service's (``core.assignments``),
with one rule of Box's on top: once resolved, an assignment takes no change at all
(``do_update_box_assignment``).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from tasks_service.commands import assignments
from tasks_service.commands.task_change import apply_task_change, lock_task, record_event
from tasks_service.core.assignments import (
    DECIDED,
    PENDING,
    AssignmentKind,
    AssignmentStatus,
    box_resolution_state,
)
from tasks_service.core.clock import utcnow
from tasks_service.core.errors import (
    InvalidTaskStatusError,
    NotFound,
    TaskNotFound,
    field_error,
)
from tasks_service.core.statuses import FINISHED, TaskStatus
from tasks_service.identity.directory import find_person_by_email
from tasks_service.notify.message import Message
from tasks_service.notify.outbox import Outbox
from tasks_service.notify.publish import publish
from tasks_service.store import lookups
from tasks_service.store.models import Task, TaskAssignment
from tasks_service.store.schemas.box import (
    RESOLUTION_STATES,
    BoxAction,
    BoxResolutionState,
    BoxTaskCreate,
    BoxTaskUpdate,
)
from tasks_service.store.schemas.tasks import TaskCreate, TaskUpdate

#: The most tasks ``GET /2.0/files/:id/tasks`` shows (Box pages none of them).
MAX_FILE_TASKS = 1000
#: What a resolution state asks of an assignment (``do_update_assignment``'s status).
STATUS_OF_RESOLUTION: dict[BoxResolutionState, AssignmentStatus] = {
    BoxResolutionState.incomplete: AssignmentStatus.assigned,
    BoxResolutionState.approved: AssignmentStatus.approved,
    BoxResolutionState.rejected: AssignmentStatus.rejected,
    BoxResolutionState.completed: AssignmentStatus.completed,
}
_SUBJECT_LENGTH = 255


class ResolvedAssignmentError(InvalidTaskStatusError):
    """A change to an assignment that is resolved, or no longer needed (Box: "no
    further changes can be made")."""

    def __init__(self, row: TaskAssignment) -> None:
        status = AssignmentStatus(row.status)
        super().__init__(
            action="change a task assignment",
            expected_status=BoxResolutionState.incomplete.value,
            actual_status=status.value,
        )
        if status in DECIDED:
            why = f"is resolved ({box_resolution_state(status)})"
        else:
            why = "is no longer needed (its task was decided without it)"
        self.message = f"task assignment {row.id} {why}: it takes no further changes"
        self.args = (self.message,)


def box_subject(action: BoxAction, message: str | None, item_id: str) -> str:
    """A Box task's subject: its message's first line with text (what cannot stand in a
    one-line text made a space), cut to 255 characters; without one, what the task is
    ("Review file 11446498")."""
    for line in (message or "").splitlines():
        text = "".join(ch if ch.isprintable() else " " for ch in line).strip()
        if text:
            return text[:_SUBJECT_LENGTH].rstrip()
    return f"{action.value.capitalize()} file {item_id}"


def task_create_of(data: BoxTaskCreate) -> TaskCreate:
    """The task a ``POST /2.0/tasks`` makes, its completion rule written out."""
    fields: dict[str, Any] = {
        "subject": box_subject(data.action, data.message, data.item.id),
        "category": data.action.category,
        "instructions": data.message,
        "item_id": data.item.id,
        "completion_rule": data.completion_rule,
    }
    if data.due_at is not None:
        fields["due_at"] = data.due_at
    return TaskCreate.model_validate(fields)


def task_update_of(task: Task, data: BoxTaskUpdate) -> TaskUpdate:
    """The change a ``PUT /2.0/tasks/:id`` makes to ``task``: a new message is its
    instructions and subject; a new action its category (and the subject, when the task
    has no message)."""
    sent = data.model_fields_set
    changes: dict[str, Any] = {}
    action = data.action if "action" in sent else BoxAction.of(task.category)
    if "action" in sent:
        changes["category"] = action.category
    message = data.message if "message" in sent else task.instructions
    if "message" in sent:
        changes["instructions"] = data.message
    if changes:
        changes["subject"] = box_subject(action, message, task.item_id or "")
    for name in ("due_at", "completion_rule"):
        if name in sent:
            changes[name] = getattr(data, name)
    return TaskUpdate.model_validate(changes)


def get_box_task(session: Session, account_id: int, task_id: int) -> Task:
    """The account's task as Box sees it: one on a file. Raises: TaskNotFound (also
    for a task without a file, or one Box deleted)."""
    task = lookups.find(session, Task, account_id, task_id)
    if task is None or task.item_id is None:
        raise TaskNotFound(f"no task {task_id}")
    return task


def list_file_tasks(session: Session, account_id: int, item_id: str) -> tuple[int, list[Task]]:
    """How many tasks the file has, and the first ``MAX_FILE_TASKS`` of them, oldest
    first."""
    where = (col(Task.account_id) == account_id, col(Task.item_id) == item_id)
    total = session.exec(select(func.count()).select_from(Task).where(*where)).one()
    query = select(Task).where(*where).order_by(col(Task.id)).limit(MAX_FILE_TASKS)
    return int(total), list(session.exec(query).all())


def get_box_assignment(session: Session, account_id: int, assignment_id: int) -> TaskAssignment:
    """The account's assignment, named by its id alone, of a task Box sees. Raises:
    NotFound."""
    row = lookups.find(session, TaskAssignment, account_id, assignment_id)
    task = None if row is None else session.get(Task, row.task_id)
    if row is None or task is None or task.item_id is None:
        raise NotFound(f"no task assignment {assignment_id}")
    return row


def person_by_login(session: Session, account_id: int, login: str) -> int:
    """The id of the account's person whose primary email is ``login`` (any case).
    Raises: NotFound (``assign_to.login``)."""
    person = find_person_by_email(session, account_id, login)
    if person is None or person.id is None:
        raise NotFound(f"no person with the login {login!r}", field="assign_to.login")
    return person.id


def do_delete_box_task(
    session: Session,
    outbox: Outbox,
    account_id: int,
    actor_id: int | None,
    task_id: int,
    operation_id: int | None = None,
) -> Task:
    """Box's delete: the task is canceled, if it is open, and loses its item, in one
    change; a finished task keeps its status and loses its item. Its history stays, and
    ``/v1`` shows it.

    Raises: TaskNotFound (also for a task Box does not see).
    """
    task = lock_task(session, account_id, task_id)
    if task.item_id is None:
        raise TaskNotFound(f"no task {task_id}")
    if task.status not in FINISHED:
        changes = {"status": TaskStatus.canceled, "item_id": None}
        return apply_task_change(session, outbox, task, actor_id, changes, "delete", operation_id)
    # A finished task takes no change but one that reopens it (``apply_task_change``
    # refuses the rest): the reference alone goes, which moves nothing else.
    now = utcnow()
    record_event(session, task, actor_id, "delete", {"item_id": [task.item_id, None]}, operation_id)
    task.item_id = None
    task.updated_at = now
    session.add(task)
    session.flush()
    publish(session, outbox, task, [Message("task.updated", now)])
    return task


def do_update_box_assignment(
    session: Session,
    outbox: Outbox,
    account_id: int,
    actor_id: int | None,
    task_id: int,
    assignment_id: int,
    changes: dict[str, Any],
    operation_id: int | None = None,
) -> TaskAssignment:
    """Box's ``PUT /task_assignments/:id``: ``changes`` holds ``resolution_state`` (one
    the task's action allows) and ``message``, as sent. Box's rule: a resolved
    assignment takes no change at all, not even its message; nor does one its task no
    longer waits for (canceled, shown ``incomplete``). The rest is
    ``commands.assignments.do_update_assignment``'s.

    Raises: TaskNotFound; NotFound; TaskValidationError (a state the action does not
    allow); InvalidTaskStatusError (a resolved assignment, or a decision the table
    forbids); PermissionDenied (another person's decision).
    """
    task = lock_task(session, account_id, task_id)
    if task.item_id is None:
        raise TaskNotFound(f"no task {task_id}")
    row = assignments.get_assignment(session, task, assignment_id)
    if not changes:
        return row
    if row.status not in PENDING:
        raise ResolvedAssignmentError(row)
    wanted: dict[str, Any] = {}
    if "resolution_state" in changes:
        state = BoxResolutionState(changes["resolution_state"])
        action = BoxAction.of(task.category)
        if state not in RESOLUTION_STATES[action]:
            allowed = [s.value for s in BoxResolutionState if s in RESOLUTION_STATES[action]]
            raise field_error(
                "resolution_state",
                "invalid_value",
                f"a {action.value} task's assignment can be {', '.join(allowed[:-1])} or "
                f"{allowed[-1]}, not {state.value}",
            )
        wanted["status"] = STATUS_OF_RESOLUTION[state]
    if "message" in changes:
        wanted["note"] = changes["message"]
    kind = AssignmentKind.of(task.category)
    return assignments.do_update_assignment(
        session, outbox, account_id, actor_id, task_id, assignment_id, wanted, operation_id, kind
    )
