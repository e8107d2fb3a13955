"""What the lists of a workflow's plan allow (``querying.resources`` declares the
others): its phases, task templates and workflow templates."""

from __future__ import annotations

from sqlmodel import col

from tasks_service.core.statuses import PhaseStatus, TaskCategory, TaskImpact, WorkflowCategory
from tasks_service.querying.filters import FieldSpec, Kind, ResourceQuery, moment_field
from tasks_service.store.models import TaskTemplate, WorkflowPhase, WorkflowTemplate
from tasks_service.store.schemas.phases import PHASE_FIELDS
from tasks_service.store.schemas.templates import (
    TASK_TEMPLATE_FIELDS,
    WORKFLOW_TEMPLATE_COLLECTION_FIELDS,
    WORKFLOW_TEMPLATE_FIELDS,
)

#: A workflow's phases (``/workflows/:id/phases``), in their order: by position, then id.
PHASE_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(WorkflowPhase.id), nullable=False),
        FieldSpec("name", Kind.text, col(WorkflowPhase.name), nullable=False),
        FieldSpec("position", Kind.integer, col(WorkflowPhase.position), nullable=False),
        FieldSpec("status", Kind.enum, col(WorkflowPhase.status), PhaseStatus, nullable=False),
        moment_field("started_at", col(WorkflowPhase.started_at)),
        moment_field("completed_at", col(WorkflowPhase.completed_at)),
        moment_field("created_at", col(WorkflowPhase.created_at)),
        moment_field("updated_at", col(WorkflowPhase.updated_at)),
    ],
    sortable=[
        "id",
        "name",
        "position",
        "status",
        "started_at",
        "completed_at",
        "created_at",
        "updated_at",
    ],
    shown=PHASE_FIELDS,
    default_sort="position",
)

#: Task templates (``/task_templates``), in id order.
TASK_TEMPLATE_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(TaskTemplate.id), nullable=False),
        FieldSpec("subject", Kind.text, col(TaskTemplate.subject), nullable=False),
        FieldSpec("category", Kind.enum, col(TaskTemplate.category), TaskCategory, nullable=False),
        FieldSpec("impact", Kind.enum, col(TaskTemplate.impact), TaskImpact),
        FieldSpec("team", Kind.reference, col(TaskTemplate.team_id)),
        FieldSpec("member", Kind.reference, col(TaskTemplate.member_id)),
        FieldSpec("disabled", Kind.boolean, col(TaskTemplate.disabled), nullable=False),
        moment_field("created_at", col(TaskTemplate.created_at)),
        moment_field("updated_at", col(TaskTemplate.updated_at)),
    ],
    sortable=["id", "subject", "category", "created_at", "updated_at"],
    shown=TASK_TEMPLATE_FIELDS,
    default_sort="id",
)

#: Workflow templates (``/workflow_templates``), in id order; a list shows their plans
#: only when ``?fields=`` asks for them.
WORKFLOW_TEMPLATE_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(WorkflowTemplate.id), nullable=False),
        FieldSpec("subject", Kind.text, col(WorkflowTemplate.subject), nullable=False),
        FieldSpec(
            "category",
            Kind.enum,
            col(WorkflowTemplate.category),
            WorkflowCategory,
            nullable=False,
        ),
        FieldSpec("disabled", Kind.boolean, col(WorkflowTemplate.disabled), nullable=False),
        moment_field("created_at", col(WorkflowTemplate.created_at)),
        moment_field("updated_at", col(WorkflowTemplate.updated_at)),
    ],
    sortable=["id", "subject", "category", "created_at", "updated_at"],
    shown=WORKFLOW_TEMPLATE_FIELDS,
    collection_fields=WORKFLOW_TEMPLATE_COLLECTION_FIELDS,
    default_sort="id",
)
