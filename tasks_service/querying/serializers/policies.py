"""Escalation policies and the escalations that fired, in their REST form
(``store.schemas.policies``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from tasks_service.core.clock import iso
from tasks_service.querying.serializers import refs
from tasks_service.store.models import EscalationPolicy, TaskEscalation
from tasks_service.store.schemas.policies import level_as_given


def serialize_policy(policy: EscalationPolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "name": policy.name,
        "levels": [level_as_given(level) for level in policy.levels],
        "offsets_in_service_time": policy.offsets_in_service_time,
        "hold_email_to_service_hours": policy.hold_email_to_service_hours,
        "created_at": iso(policy.created_at),
        "updated_at": iso(policy.updated_at),
    }


def serialize_escalations(session: Session, rows: Sequence[TaskEscalation]) -> list[dict[str, Any]]:
    people = refs.people(session, {p for row in rows for p in row.notified})
    policies = refs.policies(session, {row.policy_id for row in rows})
    return [
        {
            "id": row.id,
            "level": row.level,
            "escalation_policy": refs.ref(policies, row.policy_id),
            "fire_at": iso(row.fire_at),
            "fired_at": iso(row.fired_at),
            "late": row.late,
            "notified": [refs.ref(people, p) or {"id": p, "name": None} for p in row.notified],
            "actions": row.actions,
        }
        for row in rows
    ]
