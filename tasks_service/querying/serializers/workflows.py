"""Workflows in their REST form (``store.schemas.workflows``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from tasks_service.core.clock import iso
from tasks_service.querying.serializers import refs
from tasks_service.store.models import Workflow


def serialize_workflows(session: Session, workflows: Sequence[Workflow]) -> list[dict[str, Any]]:
    people = refs.people(session, {w.manager_id for w in workflows})
    calendars = refs.calendars(session, {w.calendar_id for w in workflows})
    policies = refs.policies(session, {w.escalation_policy_id for w in workflows})
    templates = refs.workflow_templates(session, {w.template_id for w in workflows})
    return [
        {
            "id": w.id,
            "subject": w.subject,
            "category": w.category,
            "status": w.status,
            "manager": refs.ref(people, w.manager_id),
            "calendar": refs.ref(calendars, w.calendar_id),
            "escalation_policy": refs.ref(policies, w.escalation_policy_id),
            "template": refs.subject_ref(templates, w.template_id),
            "start_at": iso(w.start_at),
            "impact": w.impact,
            "completion_target_at": iso(w.completion_target_at),
            "completion_reason": w.completion_reason,
            "created_at": iso(w.created_at),
            "updated_at": iso(w.updated_at),
            "completed_at": iso(w.completed_at),
        }
        for w in workflows
    ]


def serialize_workflow(session: Session, workflow: Workflow) -> dict[str, Any]:
    return serialize_workflows(session, [workflow])[0]
