"""Assignments' shapes (``core.assignments``), in 4me's two forms: an approval task's
approvals (``/tasks/:id/approvals``: approver, readonly status, note) and another
task's assignees (``/tasks/:id/assignments``: person, state incomplete or completed,
message). Box's form is ``web.box``'s."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tasks_service.core.assignments import AssignmentStatus
from tasks_service.core.validation import EffortMinutes, Id, InputModel, LongText
from tasks_service.store.schemas.shape import PublicModel, Ref, readonly_fields


class ApprovalCreate(InputModel):
    """``POST /tasks/:id/approvals``: who is to approve."""

    approver_id: Id
    note: LongText | None = None
    planned_effort: EffortMinutes | None = None


class ApprovalUpdate(InputModel):
    """``PATCH /tasks/:id/approvals/:id``. The status is the approver's to decide, on
    the task itself (``PATCH /tasks/:id {"status": "approved"}``)."""

    note: LongText | None = None
    planned_effort: EffortMinutes | None = None


class ApprovalPublic(PublicModel):
    id: int
    approver: Ref
    status: AssignmentStatus
    note: str | None
    planned_effort: int | None
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None


class WorkState(StrEnum):
    """A work assignment's state, as 4me's ``/assignments`` (and Box) show it."""

    incomplete = "incomplete"
    completed = "completed"


class AssignmentCreate(InputModel):
    """``POST /tasks/:id/assignments``: one more person to do the task."""

    person_id: Id
    message: LongText | None = None


class AssignmentUpdate(InputModel):
    """``PATCH /tasks/:id/assignments/:id``: ``completed`` is the person's decision
    (it cannot change again); ``incomplete`` keeps it open."""

    state: WorkState = None  # type: ignore[assignment]  # absent is fine, null is not
    message: LongText | None = None


class AssignmentPublic(PublicModel):
    id: int
    person: Ref
    state: WorkState
    message: str | None
    assigned_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


APPROVAL_READONLY = readonly_fields(ApprovalPublic, ApprovalCreate, ApprovalUpdate)
ASSIGNMENT_READONLY = readonly_fields(AssignmentPublic, AssignmentCreate, AssignmentUpdate)
