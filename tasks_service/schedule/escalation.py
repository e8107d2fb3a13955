"""Escalation policies: ordered levels that fire for a task as its deadline nears and
passes (the ``/escalation_policies`` resource, and when each level is due).

A task uses, in this order, the policy of its team, of its workflow, of the account;
with none, it does not escalate. Each level is a timer (kind ``escalation``, level
1..n, ``schedule.timers``) whose moment is:

- ``offset_minutes`` from ``completion_target_at`` (or from ``due_at``): wall-clock
  minutes, or service minutes of the task's calendar when the policy has
  ``offsets_in_service_time``;
- or ``percent`` of the planned service time since the clock started (75: a warning
  when three quarters of it are used, as SLA tools warn before a breach).

Once per target: a level's timer carries an *anchor* (clock start, planned duration,
due_at, policy). A level that fired does not fire again while the anchor holds (a
calendar change or a stopped clock moves pending levels, not fired ones); a new anchor
(reassignment, a new planned duration or due date) re-arms the levels whose new moment
is still ahead. While the task waits for the customer its clock stands still: pending
levels are held, and resume later by the service time it stood, to the second
(``clock_stopped_seconds``). Moments are kept to the microsecond: 10 % of a one-minute
task is 6 seconds after the clock started.
Finishing the task cancels the rest.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from tasks_service.core.clock import utcnow
from tasks_service.core.errors import TaskValidationError
from tasks_service.core.statuses import ACTIVE, TaskStatus
from tasks_service.core.validation import provided
from tasks_service.schedule.calendar import Calendar
from tasks_service.schedule.calendar_store import calendar_by_id
from tasks_service.schedule.targets import clock_start, stood_still
from tasks_service.schedule.timing import Timed
from tasks_service.store import background, lookups
from tasks_service.store.models import (
    EscalationPolicy,
    Operation,
    Person,
    Task,
    TaskEscalation,
    Team,
    Timer,
)
from tasks_service.store.schemas.policies import (
    EscalationLevel,
    EscalationPolicyCreate,
    EscalationPolicyUpdate,
)

_TAKEN = "another escalation policy has this name"


# --- which policy, and when each level is due -----------------------------------------


def policy_of(session: Session, task: Timed) -> EscalationPolicy | None:
    """The team's policy, the workflow's, the account's; None: no escalation."""
    policy_id = lookups.named_for(session, task, "escalation_policy_id")
    return None if policy_id is None else session.get(EscalationPolicy, policy_id)


def anchor(task: Timed, policy: EscalationPolicy) -> str:
    """What the levels' moments count from; a new anchor is a new target."""
    begin = clock_start(task)
    rules = json.dumps([policy.levels, policy.offsets_in_service_time], sort_keys=True)
    return (
        f"p{policy.id}:{hashlib.sha256(rules.encode()).hexdigest()[:12]}"
        f"|{begin.isoformat() if begin else ''}|{task.planned_duration}"
        f"|{task.due_at.isoformat() if task.due_at else ''}"
    )


def level_moment(
    task: Timed, policy: EscalationPolicy, level: dict[str, Any], calendar: Calendar
) -> datetime | None:
    """When this level is due for the task as it is now; None: not (yet) applicable."""
    if task.status not in ACTIVE or task.status == TaskStatus.waiting_for_customer:
        return None  # not being worked, or the clock stands still
    stood = stood_still(task)
    begin = clock_start(task)
    percent, minutes = level.get("percent"), int(level.get("offset_minutes", 0))
    offset = timedelta(minutes=minutes)
    if percent is not None or level.get("relative_to", "completion_target_at") != "due_at":
        if begin is None or task.planned_duration is None:
            return None
        planned = timedelta(minutes=task.planned_duration)
        if percent is not None:  # to the microsecond: 10 % of a minute is 6 seconds
            return calendar.add_service_time(begin, planned * percent / 100 + stood)
        if policy.offsets_in_service_time:
            return calendar.add_service_time(begin, max(timedelta(0), planned + stood + offset))
        return calendar.add_service_time(begin, planned + stood) + offset
    if task.due_at is None:
        return None
    if not policy.offsets_in_service_time:
        moment = task.due_at + offset
    elif minutes >= 0:
        moment = calendar.add_service_minutes(task.due_at, minutes)
    else:
        moment = calendar.subtract_service_minutes(task.due_at, -minutes)
    # a due date is the customer's; time it waited for the customer still pushes it
    return calendar.add_service_time(moment, stood) if stood else moment


def wanted(session: Session, task: Timed) -> dict[int, tuple[datetime | None, str | None]]:
    """Each level's moment and anchor for the task now: ``{level: (moment, anchor)}``."""
    policy = policy_of(session, task)
    if policy is None:
        return {}
    calendar = calendar_by_id(session, task.calendar_id)
    key = anchor(task, policy)
    return {
        number: (level_moment(task, policy, level, calendar), key)
        for number, level in enumerate(policy.levels, start=1)
    }


def changes_of(level: dict[str, Any]) -> dict[str, Any]:
    """The task fields a level's ``actions`` change (a new team starts a fresh clock:
    its member is cleared)."""
    actions = level.get("actions") or {}
    changes: dict[str, Any] = {}
    if actions.get("set_impact") is not None:
        changes["impact"] = actions["set_impact"]
    if actions.get("set_urgent") is not None:
        changes["urgent"] = actions["set_urgent"]
    if actions.get("reassign_team_id") is not None:
        changes["team_id"], changes["member_id"] = actions["reassign_team_id"], None
    return changes


def record(
    session: Session,
    task: Task,
    policy: EscalationPolicy,
    timer: Timer,
    notified: list[int],
    actions: dict[str, Any],
) -> TaskEscalation:
    assert task.id is not None
    row = TaskEscalation(
        account_id=task.account_id,
        task_id=task.id,
        policy_id=policy.id,
        level=timer.level,
        fire_at=timer.fire_at,
        fired_at=timer.fired_at or utcnow(),
        late=timer.late,
        notified=notified,
        actions=actions,
    )
    session.add(row)
    return row


def escalations_of(session: Session, task_id: int) -> list[TaskEscalation]:
    query = select(TaskEscalation).where(TaskEscalation.task_id == task_id)
    return list(session.exec(query.order_by(col(TaskEscalation.id))))


# --- the resource -----------------------------------------------------------------------


def list_policies(session: Session, account_id: int) -> list[EscalationPolicy]:
    query = select(EscalationPolicy).where(EscalationPolicy.account_id == account_id)
    return list(session.exec(query.order_by(col(EscalationPolicy.id))))


def _check_levels(session: Session, account_id: int, levels: list[EscalationLevel]) -> None:
    """The people and teams that levels name belong to the account.
    Raises: TaskValidationError naming every unknown one (one error per field)."""
    refs: list[tuple[str, type[Person] | type[Team], int]] = []
    for i, level in enumerate(levels):
        for j, target in enumerate(level.notify):
            kind, _, ref = target.partition(":")
            if ref:
                model = Person if kind == "person" else Team
                refs.append((f"levels.{i}.notify.{j}", model, int(ref)))
        if level.actions and level.actions.reassign_team_id is not None:
            field = f"levels.{i}.actions.reassign_team_id"
            refs.append((field, Team, level.actions.reassign_team_id))
    errors = [
        {"field": field, "code": "not_found", "message": f"no {lookups.NAMES[model]} {row_id}"}
        for field, model, row_id in refs
        if lookups.find(session, model, account_id, row_id) is None
    ]
    if errors:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise TaskValidationError(f"Validation failed: {summary}", errors=errors)


def _levels_json(levels: list[EscalationLevel]) -> list[dict[str, Any]]:
    return [level.as_stored() for level in levels]


def do_create_policy(
    session: Session, account_id: int, data: EscalationPolicyCreate
) -> EscalationPolicy:
    """Raises: TaskValidationError (a taken name, unknown people or teams)."""
    lookups.ensure_free(session, EscalationPolicy, account_id, "name", data.name, None, _TAKEN)
    _check_levels(session, account_id, data.levels)
    row = EscalationPolicy(
        account_id=account_id,
        name=data.name,
        levels=_levels_json(data.levels),
        offsets_in_service_time=data.offsets_in_service_time,
        hold_email_to_service_hours=data.hold_email_to_service_hours,
    )
    lookups.store_unique(session, row, "name", _TAKEN)
    return row


#: What moves the levels' moments: a change to one re-plans the timers of open tasks.
TIMING = ("levels", "offsets_in_service_time")


def do_update_policy(
    session: Session,
    account_id: int,
    policy_id: int,
    data: EscalationPolicyUpdate,
    person_id: int | None = None,
) -> tuple[EscalationPolicy, Operation | None]:
    """Change the fields sent. Returns the policy and, when its timing changed, the
    recompute this requested: it re-plans the level timers of the account's open tasks
    (``store.background``). Raises: NotFound; TaskValidationError."""
    row = lookups.get(session, EscalationPolicy, account_id, policy_id)
    changes = provided(data)
    if "name" in changes:
        name = changes["name"]
        lookups.ensure_free(session, EscalationPolicy, account_id, "name", name, policy_id, _TAKEN)
    if "levels" in changes:
        _check_levels(session, account_id, changes["levels"])
        changes["levels"] = _levels_json(changes["levels"])
    timing = any(name in changes and changes[name] != getattr(row, name) for name in TIMING)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    lookups.store_unique(session, row, "name", _TAKEN)
    if not timing:
        return row, None
    return row, background.request_recompute(session, account_id, person_id, {})
