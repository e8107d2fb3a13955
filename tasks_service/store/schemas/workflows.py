"""A workflow's shape (002): what a client may send, and what it is shown."""

from __future__ import annotations

from datetime import datetime

from tasks_service.core.statuses import WorkflowCategory, WorkflowStatus
from tasks_service.core.validation import Id, InputModel, Subject
from tasks_service.store.schemas.shape import PublicModel, Ref, field_names, readonly_fields


class WorkflowCreate(InputModel):
    subject: Subject
    category: WorkflowCategory = WorkflowCategory.standard
    manager_id: Id | None = None  # none: its creator
    status: WorkflowStatus | None = None
    calendar_id: Id | None = None
    escalation_policy_id: Id | None = None


class WorkflowUpdate(InputModel):
    subject: Subject = None  # type: ignore[assignment]
    category: WorkflowCategory = None  # type: ignore[assignment]
    manager_id: Id = None  # type: ignore[assignment]  # a workflow always has a manager
    status: WorkflowStatus = None  # type: ignore[assignment]
    calendar_id: Id | None = None
    escalation_policy_id: Id | None = None


class WorkflowPublic(PublicModel):
    id: int
    subject: str
    category: WorkflowCategory
    status: WorkflowStatus
    manager: Ref | None
    calendar: Ref | None
    escalation_policy: Ref | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


WORKFLOW_FIELDS = field_names(WorkflowPublic)
WORKFLOW_READONLY = readonly_fields(
    WorkflowPublic, WorkflowCreate, WorkflowUpdate, also=("created_by",)
)
