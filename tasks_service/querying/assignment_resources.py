"""A task's assignments as lists (``/tasks/:id/approvals``, ``/tasks/:id/assignments``):
what they allow, and the list itself."""

from __future__ import annotations

from sqlmodel import Session, col

from tasks_service.core.assignments import AssignmentKind, AssignmentStatus
from tasks_service.querying.filters import FieldSpec, Kind, ResourceQuery, moment_field
from tasks_service.querying.paging import ListQuery, Page, run_list
from tasks_service.store import lookups
from tasks_service.store.models import Task, TaskAssignment
from tasks_service.store.schemas.assignments import ApprovalPublic, AssignmentPublic, WorkState
from tasks_service.store.schemas.shape import field_names

_SORTABLE = ["id", "status", "created_at", "updated_at"]

#: An approval task's approvals, oldest first; ``status`` is 4me's approval status.
APPROVAL_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(TaskAssignment.id), nullable=False),
        FieldSpec("approver", Kind.reference, col(TaskAssignment.person_id), nullable=False),
        FieldSpec(
            "status", Kind.enum, col(TaskAssignment.status), AssignmentStatus, nullable=False
        ),
        moment_field("decided_at", col(TaskAssignment.decided_at)),
        moment_field("created_at", col(TaskAssignment.created_at)),
        moment_field("updated_at", col(TaskAssignment.updated_at)),
    ],
    sortable=_SORTABLE,
    shown=field_names(ApprovalPublic),
    default_sort="id",
)

#: Another task's assignees, oldest first; ``state`` incomplete (any undecided state)
#: or completed.
ASSIGNMENT_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(TaskAssignment.id), nullable=False),
        FieldSpec("person", Kind.reference, col(TaskAssignment.person_id), nullable=False),
        FieldSpec(
            "state",
            Kind.enum,
            col(TaskAssignment.status),
            AssignmentStatus,
            nullable=False,
            aliases={
                WorkState.incomplete.value: tuple(
                    s.value for s in AssignmentStatus if s != AssignmentStatus.completed
                ),
            },
        ),
        moment_field("completed_at", col(TaskAssignment.decided_at)),
        moment_field("created_at", col(TaskAssignment.created_at)),
        moment_field("updated_at", col(TaskAssignment.updated_at)),
    ],
    sortable=["id", "created_at", "updated_at"],
    shown=field_names(AssignmentPublic),
    default_sort="id",
)


def list_assignments(
    session: Session, account_id: int, task_id: int, query: ListQuery, kind: AssignmentKind
) -> Page[TaskAssignment]:
    """The task's assignments of ``kind``: its approvals when it is an approval task,
    else its assignees (a task has one kind or the other; the other list is empty).
    Raises: TaskNotFound."""
    task = lookups.get(session, Task, account_id, task_id)
    conditions = [col(TaskAssignment.task_id) == task_id]
    if AssignmentKind.of(task.category) != kind:
        conditions.append(col(TaskAssignment.id).is_(None))
    return run_list(session, TaskAssignment, conditions, query)
