"""A workflow's shape (002): what a client may send, and what it is shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict

from tasks_service.core.statuses import (
    TaskImpact,
    WorkflowCategory,
    WorkflowCompletionReason,
    WorkflowStatus,
)
from tasks_service.core.validation import Id, InputModel, LongText, Moment, Subject
from tasks_service.store.schemas.shape import (
    PublicModel,
    Ref,
    SubjectRef,
    field_names,
    readonly_fields,
)


class WorkflowCreate(InputModel):
    subject: Subject
    category: WorkflowCategory = WorkflowCategory.standard
    manager_id: Id | None = None  # none: its creator
    status: WorkflowStatus | None = None
    calendar_id: Id | None = None
    escalation_policy_id: Id | None = None
    start_at: Moment | None = None  # no task is assigned before it
    template_id: Id | None = None  # the whole plan, instantiated in one operation


class WorkflowCreateFromTemplate(WorkflowCreate):
    """A new workflow made from a workflow template (``template_id``): the whole plan,
    in one operation; its subject and category come from the template unless given."""

    subject: Subject = None  # type: ignore[assignment]
    category: WorkflowCategory = None  # type: ignore[assignment]
    template_id: Id


def workflow_create_model(body: Any) -> type[WorkflowCreate]:
    """``WorkflowCreateFromTemplate`` for a body that names a template, else
    ``WorkflowCreate``."""
    named = isinstance(body, dict) and body.get("template_id") is not None
    return WorkflowCreateFromTemplate if named else WorkflowCreate


def _needs_status(field: str, status: dict[str, Any]) -> dict[str, Any]:
    given = {"properties": {field: {"type": "string"}}, "required": [field]}
    return {"if": given, "then": {"properties": {"status": status}, "required": ["status"]}}


class WorkflowUpdate(InputModel):
    # what ``do_update_workflow`` holds a body to
    model_config = ConfigDict(
        **InputModel.model_config,
        json_schema_extra={
            "allOf": [
                # a reason completes it; a note goes with a change of its status
                _needs_status("completion_reason", {"const": "completed"}),
                _needs_status("note", {"type": "string"}),
            ]
        },
    )

    subject: Subject = None  # type: ignore[assignment]
    category: WorkflowCategory = None  # type: ignore[assignment]
    manager_id: Id = None  # type: ignore[assignment]  # a workflow always has a manager
    status: WorkflowStatus = None  # type: ignore[assignment]
    calendar_id: Id | None = None
    escalation_policy_id: Id | None = None
    start_at: Moment | None = None
    # completed by hand: why (complete when absent), and the note each canceled task gets
    completion_reason: WorkflowCompletionReason = None  # type: ignore[assignment]
    note: LongText = None  # type: ignore[assignment]


class WorkflowPublic(PublicModel):
    id: int
    subject: str
    category: WorkflowCategory
    status: WorkflowStatus
    manager: Ref | None
    calendar: Ref | None
    escalation_policy: Ref | None
    template: SubjectRef | None
    start_at: datetime | None
    impact: TaskImpact | None  # the highest of its tasks'
    completion_target_at: datetime | None  # the latest anticipated completion of its tasks
    completion_reason: WorkflowCompletionReason | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


WORKFLOW_FIELDS = field_names(WorkflowPublic)
WORKFLOW_READONLY = readonly_fields(
    WorkflowPublic, WorkflowCreate, WorkflowUpdate, also=("created_by",)
)
