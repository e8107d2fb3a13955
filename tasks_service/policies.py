"""Escalation policies and a task's escalations, for the in-process Python API (issue 6).

Select the account first, as for ``tasks_service.tasks``::

    from tasks_service import people, policies, tasks

    with tasks.account("demo"):
        policy = policies.create_escalation_policy(
            "Standard",
            [{"percent": 75, "notify": ["member"]}, {"offset_minutes": 60, "notify": ["manager"]}],
        )
        policies.set_account_escalation_policy(policy)  # or a team's / a workflow's
        ...
        policies.get_task_escalations(task)  # what fired when

Levels have the REST shape (``README.md``, "Escalation policies"). A change that moves
levels (a policy's levels or offsets, the account's policy) re-plans the open tasks'
level timers in this process before the call returns (the REST API hands that work to
the workers), so the Python API needs no running worker for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks_service.commands import recompute
from tasks_service.context import current
from tasks_service.core.validation import validate
from tasks_service.identity.accounts import do_update_account
from tasks_service.querying.serializers.policies import serialize_escalations
from tasks_service.schedule import escalation
from tasks_service.store import lookups, models
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.directory import AccountUpdate
from tasks_service.store.schemas.policies import (
    EscalationPolicyCreate,
    EscalationPolicyUpdate,
    level_as_given,
)

__all__ = [
    "EscalationPolicy",
    "create_escalation_policy",
    "get_escalation_policy",
    "get_task_escalations",
    "list_escalation_policies",
    "set_account_escalation_policy",
    "update_escalation_policy",
]


@dataclass(frozen=True)
class EscalationPolicy:
    id: int
    name: str
    levels: tuple[dict[str, Any], ...]
    offsets_in_service_time: bool
    hold_email_to_service_hours: bool


def _policy(row: models.EscalationPolicy) -> EscalationPolicy:
    return EscalationPolicy(
        id=row.id or 0,
        name=row.name,
        levels=tuple(level_as_given(level) for level in row.levels),  # as REST shows them
        offsets_in_service_time=row.offsets_in_service_time,
        hold_email_to_service_hours=row.hold_email_to_service_hours,
    )


def create_escalation_policy(
    name: str,
    levels: list[dict[str, Any]],
    *,
    offsets_in_service_time: bool = False,
    hold_email_to_service_hours: bool = True,
) -> EscalationPolicy:
    """Raises: TaskValidationError (a bad level names ``levels.N.field``; a taken name)."""
    ctx = current()
    body = {
        "name": name,
        "levels": levels,
        "offsets_in_service_time": offsets_in_service_time,
        "hold_email_to_service_hours": hold_email_to_service_hours,
    }
    data = validate(EscalationPolicyCreate, body)
    with session_scope(ctx.settings) as session:
        return _policy(escalation.do_create_policy(session, ctx.account_id, data))


def get_escalation_policy(policy_id: int) -> EscalationPolicy:
    """Raises: NotFound."""
    ctx = current()
    with session_scope(ctx.settings, write=False) as session:
        return _policy(lookups.get(session, models.EscalationPolicy, ctx.account_id, policy_id))


def list_escalation_policies() -> list[EscalationPolicy]:
    ctx = current()
    with session_scope(ctx.settings, write=False) as session:
        return [_policy(row) for row in escalation.list_policies(session, ctx.account_id)]


def update_escalation_policy(policy: EscalationPolicy | int, **changes: Any) -> EscalationPolicy:
    """Change ``name``, ``levels``, ``offsets_in_service_time`` or
    ``hold_email_to_service_hours``. Raises: NotFound; TaskValidationError."""
    ctx = current()
    data = validate(EscalationPolicyUpdate, changes)
    policy_id = policy if isinstance(policy, int) else policy.id
    with session_scope(ctx.settings) as session:
        row, op = escalation.do_update_policy(session, ctx.account_id, policy_id, data)
        result = _policy(row)
    if op is not None and op.id is not None:
        recompute.run_inline(ctx.settings, op.id)
    return result


def set_account_escalation_policy(policy: EscalationPolicy | int | None) -> None:
    """The account's default policy (teams and workflows may name their own); None: no
    escalation by default. Raises: TaskValidationError (no such policy)."""
    ctx = current()
    policy_id = policy.id if isinstance(policy, EscalationPolicy) else policy
    data = validate(AccountUpdate, {"escalation_policy_id": policy_id})
    with session_scope(ctx.settings) as session:
        _row, op = do_update_account(session, ctx.account_id, data)
    if op is not None and op.id is not None:
        recompute.run_inline(ctx.settings, op.id)


def get_task_escalations(task: Any) -> list[dict[str, Any]]:
    """The levels that fired for a task (its REST form: level, policy, fire_at,
    fired_at, late, notified, actions). Raises: TaskNotFound."""
    ctx = current()
    task_id = task if isinstance(task, int) else task.id
    with session_scope(ctx.settings, write=False) as session:
        lookups.get(session, models.Task, ctx.account_id, task_id)  # also another account's
        return serialize_escalations(session, escalation.escalations_of(session, task_id))
