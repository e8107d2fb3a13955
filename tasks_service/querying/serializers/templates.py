"""Task templates and workflow templates in their REST form (``store.schemas.templates``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from tasks_service.core.clock import iso
from tasks_service.querying.serializers import refs
from tasks_service.store.models import TaskTemplate, WorkflowTemplate
from tasks_service.store.schemas.templates import WorkflowPlan


def serialize_task_templates(
    session: Session, templates: Sequence[TaskTemplate]
) -> list[dict[str, Any]]:
    """A batch of task templates: one query for their teams, one for their members."""
    teams = refs.teams(session, {t.team_id for t in templates})
    people = refs.people(session, {t.member_id for t in templates})
    return [
        {
            "id": template.id,
            "subject": template.subject,
            "category": template.category,
            "impact": template.impact,
            "planned_duration": template.planned_duration,
            "instructions": template.instructions,
            "team": refs.ref(teams, template.team_id),
            "member": refs.ref(people, template.member_id),
            "required_approvals": template.required_approvals,
            "work_hours_are_24x7": template.work_hours_are_24x7,
            "disabled": template.disabled,
            "created_at": iso(template.created_at),
            "updated_at": iso(template.updated_at),
        }
        for template in templates
    ]


def serialize_task_template(session: Session, template: TaskTemplate) -> dict[str, Any]:
    return serialize_task_templates(session, [template])[0]


def serialize_workflow_template(template: WorkflowTemplate) -> dict[str, Any]:
    """The template with its plan as it was written (phases by position), so that what
    a GET shows can be sent back in a PATCH."""
    plan = WorkflowPlan.model_validate(template.plan)
    return {
        "id": template.id,
        "subject": template.subject,
        "category": template.category,
        "instructions": template.instructions,
        "disabled": template.disabled,
        "phases": [
            {"name": phase.name, "position": phase.position} for phase in plan.ordered_phases()
        ],
        "task_template_relations": [
            {
                "task_template_id": relation.task_template_id,
                "phase_name": relation.phase_name,
                "failure_task_template_id": relation.failure_task_template_id,
                "predecessor_task_template_ids": list(relation.predecessor_task_template_ids),
            }
            for relation in plan.task_template_relations
        ],
        "created_at": iso(template.created_at),
        "updated_at": iso(template.updated_at),
    }


def serialize_workflow_templates(templates: Sequence[WorkflowTemplate]) -> list[dict[str, Any]]:
    return [serialize_workflow_template(template) for template in templates]
