"""The REST form of each resource (002's field names), built in batches.

A page of tasks costs a fixed number of queries whatever its size: references
(team, member, workflow, manager, creator) and labels are loaded for the whole page
at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from tasks_service.calendar_store import spec_of
from tasks_service.models import (
    Account,
    Delivery,
    EscalationPolicy,
    Note,
    Notification,
    Operation,
    Person,
    Task,
    TaskEscalation,
    TaskEvent,
    TaskLabel,
    Team,
    Webhook,
    Workflow,
)
from tasks_service.models import Calendar as CalendarRow

_KNOWN_LABELS = "task_labels"


def remember_labels(session: Session, task_id: int, labels: list[str]) -> None:
    """Labels a command just wrote: serializing the task in this unit of work reuses them."""
    session.info.setdefault(_KNOWN_LABELS, {})[task_id] = labels


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


#: Fields that collections of tasks show by default (002, "Collection Fields").
TASK_COLLECTION_FIELDS = (
    "id",
    "sourceID",
    "subject",
    "impact",
    "category",
    "status",
    "team",
    "member",
    "completion_target_at",
    "finished_at",
    "created_at",
    "updated_at",
)


#: Every field of a task's REST form: what ``?fields=`` may ask for.
TASK_FIELDS = (
    "id",
    "subject",
    "category",
    "impact",
    "status",
    "team",
    "member",
    "workflow",
    "manager",
    "created_by",
    "instructions",
    "planned_duration",
    "planned_effort",
    "urgent",
    "work_hours_are_24x7",
    "source",
    "sourceID",
    "custom_fields",
    "labels",
    "start_at",
    "waiting_until",
    "assigned_at",
    "finished_at",
    "completion_target_at",
    "resolution_duration",
    "calendar",
    "overdue",
    "due_at",
    "alert_at",
    "alert_sent_at",
    "created_at",
    "updated_at",
)
WORKFLOW_FIELDS = (
    "id",
    "subject",
    "category",
    "status",
    "manager",
    "calendar",
    "created_at",
    "updated_at",
    "completed_at",
)
PERSON_FIELDS = ("id", "name", "primary_email", "admin", "disabled", "created_at", "updated_at")
TEAM_FIELDS = ("id", "name", "disabled", "calendar", "created_at", "updated_at")
CALENDAR_FIELDS = (
    "id",
    "name",
    "time_zone",
    "hours",
    "holidays",
    "holiday_country",
    "holiday_subdivision",
    "is_24x7",
    "created_at",
    "updated_at",
)
NOTE_FIELDS = ("id", "text", "person", "created_at")
EVENT_FIELDS = ("id", "action", "person", "changes", "created_at")


def _names(session: Session, column: Any, label: Any, ids: set[int]) -> dict[int, str]:
    """``{id: name}`` for these ids in one light query (no ORM objects); none if no ids."""
    if not ids:
        return {}
    return dict(session.exec(select(column, label).where(column.in_(ids))).all())


def _people(session: Session, ids: set[int | None]) -> dict[int, str]:
    return _names(session, col(Person.id), col(Person.name), {i for i in ids if i})


def _calendars(session: Session, ids: set[int | None]) -> dict[int, str]:
    return _names(session, col(CalendarRow.id), col(CalendarRow.name), {i for i in ids if i})


def _policies(session: Session, ids: set[int | None]) -> dict[int, str]:
    column, label = col(EscalationPolicy.id), col(EscalationPolicy.name)
    return _names(session, column, label, {i for i in ids if i})


def _ref(names: dict[int, str], ref_id: int | None) -> dict[str, Any] | None:
    if ref_id is None or ref_id not in names:
        return None
    return {"id": ref_id, "name": names[ref_id]}


def serialize_tasks(session: Session, tasks: Sequence[Task]) -> list[dict[str, Any]]:
    """Tasks in their REST form."""
    if not tasks:
        return []
    task_ids = [t.id for t in tasks]
    team_ids = {t.team_id for t in tasks if t.team_id}
    workflow_ids = {t.workflow_id for t in tasks if t.workflow_id}
    workflows: dict[int, tuple[str, int | None]] = (
        {
            wid: (subject, manager)
            for wid, subject, manager in session.exec(
                select(Workflow.id, Workflow.subject, Workflow.manager_id).where(
                    col(Workflow.id).in_(workflow_ids)
                )
            )
            if wid is not None
        }
        if workflow_ids
        else {}
    )
    people = _people(
        session,
        {t.member_id for t in tasks}
        | {t.created_by_id for t in tasks}
        | {manager for _subject, manager in workflows.values()},
    )
    teams = _names(session, col(Team.id), col(Team.name), team_ids)
    calendars = _calendars(session, {t.calendar_id for t in tasks})
    known: dict[int, list[str]] = session.info.get(_KNOWN_LABELS, {})
    labels: dict[int, list[str]] = defaultdict(list)
    if all(task_id in known for task_id in task_ids):
        labels.update((task_id, known[task_id]) for task_id in task_ids if task_id is not None)
    else:
        for label in session.exec(
            select(TaskLabel)
            .where(col(TaskLabel.task_id).in_(task_ids))
            .order_by(col(TaskLabel.task_id), col(TaskLabel.name))
        ):
            labels[label.task_id].append(label.name)

    out = []
    for task in tasks:
        workflow = workflows.get(task.workflow_id) if task.workflow_id else None
        body: dict[str, Any] = {
            "id": task.id,
            "subject": task.subject,
            "category": task.category,
            "impact": task.impact,
            "status": task.status,
            "team": _ref(teams, task.team_id),
            "member": _ref(people, task.member_id),
            "workflow": {"id": task.workflow_id, "subject": workflow[0]} if workflow else None,
            "manager": _ref(people, workflow[1]) if workflow else None,
            "created_by": _ref(people, task.created_by_id),
            "instructions": task.instructions,
            "planned_duration": task.planned_duration,
            "planned_effort": task.planned_effort,
            "urgent": task.urgent,
            "work_hours_are_24x7": task.work_hours_are_24x7,
            "source": task.source,
            "sourceID": task.source_id,
            "custom_fields": task.custom_fields,
            "labels": labels.get(task.id, []) if task.id else [],
            "start_at": iso(task.start_at),
            "waiting_until": iso(task.waiting_until),
            "assigned_at": iso(task.assigned_at),
            "finished_at": iso(task.finished_at),
            "completion_target_at": iso(task.completion_target_at),
            "resolution_duration": task.resolution_duration,
            "calendar": _ref(calendars, task.calendar_id),
            "overdue": task.overdue,
            "due_at": iso(task.due_at),
            "alert_at": iso(task.alert_at),
            "alert_sent_at": iso(task.alert_sent_at),
            "created_at": iso(task.created_at),
            "updated_at": iso(task.updated_at),
        }
        out.append(body)
    return out


def serialize_task(session: Session, task: Task) -> dict[str, Any]:
    return serialize_tasks(session, [task])[0]


def serialize_workflows(session: Session, workflows: Sequence[Workflow]) -> list[dict[str, Any]]:
    people = _people(session, {w.manager_id for w in workflows})
    calendars = _calendars(session, {w.calendar_id for w in workflows})
    policies = _policies(session, {w.escalation_policy_id for w in workflows})
    return [
        {
            "id": w.id,
            "subject": w.subject,
            "category": w.category,
            "status": w.status,
            "manager": _ref(people, w.manager_id),
            "calendar": _ref(calendars, w.calendar_id),
            "escalation_policy": _ref(policies, w.escalation_policy_id),
            "created_at": iso(w.created_at),
            "updated_at": iso(w.updated_at),
            "completed_at": iso(w.completed_at),
        }
        for w in workflows
    ]


def serialize_workflow(session: Session, workflow: Workflow) -> dict[str, Any]:
    return serialize_workflows(session, [workflow])[0]


def serialize_person(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "primary_email": person.primary_email,
        "admin": person.admin,
        "disabled": person.disabled,
        "notification_opt_outs": person.notification_opt_outs,
        "created_at": iso(person.created_at),
        "updated_at": iso(person.updated_at),
    }


def serialize_teams(session: Session, teams: Sequence[Team]) -> list[dict[str, Any]]:
    calendars = _calendars(session, {t.calendar_id for t in teams})
    policies = _policies(session, {t.escalation_policy_id for t in teams})
    return [
        {
            "id": team.id,
            "name": team.name,
            "disabled": team.disabled,
            "calendar": _ref(calendars, team.calendar_id),
            "escalation_policy": _ref(policies, team.escalation_policy_id),
            "created_at": iso(team.created_at),
            "updated_at": iso(team.updated_at),
        }
        for team in teams
    ]


def serialize_team(session: Session, team: Team) -> dict[str, Any]:
    return serialize_teams(session, [team])[0]


def serialize_calendar(row: CalendarRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        **spec_of(row),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def serialize_notes(session: Session, notes: Sequence[Note]) -> list[dict[str, Any]]:
    people = _people(session, {n.person_id for n in notes})
    return [
        {
            "id": n.id,
            "text": n.text,
            "person": _ref(people, n.person_id),
            "created_at": iso(n.created_at),
        }
        for n in notes
    ]


def serialize_events(session: Session, events: Sequence[TaskEvent]) -> list[dict[str, Any]]:
    people = _people(session, {e.person_id for e in events})
    return [
        {
            "id": e.id,
            "action": e.action,
            "person": _ref(people, e.person_id),
            "changes": e.changes,
            "created_at": iso(e.created_at),
        }
        for e in events
    ]


def serialize_operation(operation: Operation) -> dict[str, Any]:
    return {
        "id": operation.id,
        "kind": operation.kind,
        "status": operation.status,
        "result": operation.result,
        "error": operation.error,
        "progress": (
            None
            if operation.progress_total is None
            else {"done": operation.progress_done or 0, "total": operation.progress_total}
        ),
        "created_at": iso(operation.created_at),
        "finished_at": iso(operation.finished_at),
    }


def serialize_account(session: Session, account: Account) -> dict[str, Any]:
    calendars = _calendars(session, {account.calendar_id})
    policies = _policies(session, {account.escalation_policy_id})
    return {
        "id": account.id,
        "slug": account.slug,
        "name": account.name,
        "calendar": _ref(calendars, account.calendar_id),
        "escalation_policy": _ref(policies, account.escalation_policy_id),
    }


def serialize_webhook(hook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    """A webhook; its ``secret`` only in the create response (it is shown once)."""
    body: dict[str, Any] = {
        "id": hook.id,
        "uri": hook.uri,
        "events": hook.events,
        "disabled": hook.disabled,
        "disabled_reason": hook.disabled_reason,
        "failing_since": iso(hook.failing_since),
        "description": hook.description,
        "created_at": iso(hook.created_at),
        "updated_at": iso(hook.updated_at),
    }
    if with_secret:
        body["secret"] = hook.secret
    return body


def serialize_delivery(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhook_id": f"msg_{delivery.id}",
        "event": delivery.event,
        "task_id": delivery.task_id,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "delivered_at": iso(delivery.delivered_at),
        "created_at": iso(delivery.created_at),
    }


def serialize_policy(policy: EscalationPolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "name": policy.name,
        "levels": policy.levels,
        "offsets_in_service_time": policy.offsets_in_service_time,
        "hold_email_to_service_hours": policy.hold_email_to_service_hours,
        "created_at": iso(policy.created_at),
        "updated_at": iso(policy.updated_at),
    }


def serialize_escalations(session: Session, rows: Sequence[TaskEscalation]) -> list[dict[str, Any]]:
    people = _people(session, {p for row in rows for p in row.notified})
    policies = _policies(session, {row.policy_id for row in rows})
    return [
        {
            "id": row.id,
            "level": row.level,
            "escalation_policy": _ref(policies, row.policy_id),
            "fire_at": iso(row.fire_at),
            "fired_at": iso(row.fired_at),
            "late": row.late,
            "notified": [_ref(people, p) or {"id": p, "name": None} for p in row.notified],
            "actions": row.actions,
        }
        for row in rows
    ]


def serialize_notification(row: Notification) -> dict[str, Any]:
    return {
        "id": row.id,
        "event": row.event,
        "summary": row.summary,
        "task": None if row.task_id is None else {"id": row.task_id},
        "data": row.payload,
        "read": row.read_at is not None,
        "read_at": iso(row.read_at),
        "created_at": iso(row.created_at),
    }
