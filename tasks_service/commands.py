"""Commands: every change to tasks and workflows goes through here.

Each takes the session first, works inside the caller's transaction (``flush``, never
``commit``), checks the transition table, and appends a ``TaskEvent`` for what it
changed. The API workers and the in-process Python API call the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import structlog
from sqlalchemy import delete
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, col, select

from tasks_service import escalation, notifications, targets, timers, workflows
from tasks_service.calendar_store import calendar_by_id
from tasks_service.db import lock_in_account, settings_of
from tasks_service.errors import NotFound, TaskNotFound, field_error
from tasks_service.identity import find_person, find_team, is_team_member
from tasks_service.models import Note, Task, TaskEvent, TaskLabel, Timer, utcnow
from tasks_service.schemas import TaskCreate, TaskUpdate, provided
from tasks_service.serializers import iso, remember_labels
from tasks_service.statuses import (
    ACTIVE,
    FINISHED,
    TaskCategory,
    TaskStatus,
    ensure_status_fits_category,
    ensure_transition,
)

log = structlog.get_logger(__name__)

#: Fields whose changes an event does not list.
_UNTRACKED = frozenset(
    {"id", "account_id", "created_at", "updated_at", "clock_stopped_at", "clock_stopped_minutes"}
)

#: Fields copied as they are from a validated input onto the task.
_PLAIN_FIELDS = (
    "subject",
    "category",
    "impact",
    "instructions",
    "planned_duration",
    "planned_effort",
    "start_at",
    "waiting_until",
    "due_at",
    "alert_at",
    "urgent",
    "work_hours_are_24x7",
    "source",
    "source_id",
    "custom_fields",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    return value


def lock_task(session: Session, account_id: int, task_id: int) -> Task:
    """The task, row-locked until the transaction ends. Raises: TaskNotFound."""
    task: Task | None = lock_in_account(session, Task, account_id, task_id)
    if task is None:
        raise TaskNotFound(f"no task {task_id}")
    return task


def _record(
    session: Session,
    task: Task,
    person_id: int | None,
    action: str,
    changes: dict[str, list[Any]],
    operation_id: int | None,
) -> None:
    assert task.id is not None
    session.add(
        TaskEvent(
            account_id=task.account_id,
            task_id=task.id,
            person_id=person_id,
            action=action,
            changes={k: [_jsonable(v) for v in pair] for k, pair in changes.items()},
            operation_id=operation_id,
        )
    )


def _check_assignee(
    session: Session, account_id: int, team_id: int | None, member_id: int | None
) -> None:
    if team_id is not None and find_team(session, account_id, team_id) is None:
        raise field_error("team_id", "not_found", f"no team {team_id}")
    if member_id is not None and find_person(session, account_id, member_id) is None:
        raise field_error("member_id", "not_found", f"no person {member_id}")
    if (
        team_id is not None
        and member_id is not None
        and not is_team_member(session, team_id, member_id)
    ):
        raise field_error(
            "member_id", "not_in_team", f"person {member_id} is not a member of team {team_id}"
        )


def _settle(
    session: Session,
    task: Task,
    before: dict[str, Any],
    old_status: TaskStatus,
    now: datetime,
    *,
    creating: bool,
) -> None:
    """Derived fields that follow from the status (finished_at, assigned_at,
    waiting_until), then the completion clock and target (``targets.settle``)."""
    status = TaskStatus(task.status)
    if status in FINISHED and old_status not in FINISHED:
        task.finished_at = now
    elif status not in FINISHED:
        task.finished_at = None
    newly_assigned = status == TaskStatus.assigned and old_status != TaskStatus.assigned
    if newly_assigned or (status in ACTIVE and task.assigned_at is None):
        task.assigned_at = now
    if status != TaskStatus.waiting_for:
        task.waiting_until = None
    targets.settle(session, task, before, now, creating=creating)


def _apply(
    session: Session,
    task: Task,
    person_id: int | None,
    changes: dict[str, Any],
    action: str,
    operation_id: int | None,
    *,
    creating: bool = False,
    noted: dict[str, list[Any]] | None = None,
) -> Task:
    """Apply validated field changes to a task: the one place that moves a status.
    ``noted``: more to say in its event (a timer that fired late)."""
    now = utcnow()
    before = {name: getattr(task, name) for name in Task.model_fields}
    before_labels = _labels(session, task) if task.id else []
    old_status = TaskStatus(task.status)

    team_id = changes.get("team_id", task.team_id)
    member_id = changes.get("member_id", task.member_id)
    if "team_id" in changes or "member_id" in changes:
        _check_assignee(session, task.account_id, team_id, member_id)

    for name in _PLAIN_FIELDS:
        if name in changes:
            setattr(task, name, changes[name])
    task.team_id, task.member_id = team_id, member_id

    requested = changes.get("status")
    status = TaskStatus(requested) if requested is not None else old_status
    assignee_changed = (team_id, member_id) != (before["team_id"], before["member_id"])
    # 002: a task that gets a team or member while registered becomes assigned.
    gets_assignee = requested is None and assignee_changed and bool(team_id or member_id)
    # ... unless it starts later (002, "Start no earlier than"): then its start timer
    # assigns it at start_at.
    starts_later = task.start_at is not None and task.start_at > now
    if gets_assignee and old_status in (TaskStatus.registered, TaskStatus.declined):
        status = TaskStatus.registered if starts_later else TaskStatus.assigned
    if creating:
        old_status = TaskStatus.registered
    ensure_status_fits_category(status, TaskCategory(task.category))
    ensure_transition(action, old_status, status)
    if status == TaskStatus.assigned and not (team_id or member_id):
        raise field_error("status", "no_assignee", "an assigned task needs a team or a member")
    if changes.get("waiting_until") is not None and status != TaskStatus.waiting_for:
        raise field_error(
            "waiting_until", "requires_waiting_for", "can only be set when status is waiting_for"
        )
    task.status = status
    if assignee_changed and status == TaskStatus.assigned and old_status == TaskStatus.assigned:
        task.assigned_at = now  # reassigned: its clock starts again with the new assignee
    _settle(session, task, before, old_status, now, creating=creating)
    task.updated_at = now
    session.add(task)
    session.flush()
    timers.sync(session, task, now, new=creating)

    diff = {
        name: [before[name], getattr(task, name)]
        for name in Task.model_fields
        if name not in _UNTRACKED and before[name] != getattr(task, name)
    }
    after_labels = before_labels
    if "labels" in changes and changes["labels"] is not None:
        after_labels = _set_labels(session, task, before_labels, changes["labels"])
        if after_labels != before_labels:
            diff["labels"] = [before_labels, after_labels]
    remember_labels(session, task.id or 0, after_labels)
    if changes.get("note"):
        _add_note(session, task, person_id, changes["note"])
        diff["note"] = [None, changes["note"]]
    if diff and noted:
        diff.update(noted)
    if creating or diff:
        _record(session, task, person_id, "created" if creating else action, diff, operation_id)
        notifications.publish(session, task, _events_of(creating, diff), now)
        if creating and ("team_id" in diff or "member_id" in diff):
            # created assigned: its people hear of it (webhooks have task.created)
            notifications.publish(session, task, ["task.assigned"], now, people_only=True)
    if task.workflow_id is not None:
        workflows.refresh_workflow_status(session, task.account_id, task.workflow_id)
    return task


def _events_of(creating: bool, diff: dict[str, list[Any]]) -> list[str]:
    """The notification events a change makes (README, "Notifications")."""
    if creating:
        return ["task.created"]
    events = ["task.updated"]
    if "status" in diff:
        events.append("task.status_changed")
    if "team_id" in diff or "member_id" in diff:
        events.append("task.assigned")
    return events


def _labels(session: Session, task: Task) -> list[str]:
    return list(
        session.exec(
            select(TaskLabel.name).where(TaskLabel.task_id == task.id).order_by(col(TaskLabel.name))
        )
    )


def _set_labels(session: Session, task: Task, current: list[str], names: list[str]) -> list[str]:
    """Make the task's labels ``names``, given that it has ``current``; returns them sorted."""
    wanted = set(names)
    removed = [name for name in current if name not in wanted]
    if removed:
        session.execute(
            delete(TaskLabel).where(
                col(TaskLabel.task_id) == task.id, col(TaskLabel.name).in_(removed)
            )
        )
    for name in sorted(wanted - set(current)):
        session.add(TaskLabel(task_id=task.id or 0, name=name))
    session.flush()
    return sorted(wanted)


def _add_note(session: Session, task: Task, person_id: int | None, text: str) -> Note:
    note = Note(account_id=task.account_id, task_id=task.id or 0, person_id=person_id, text=text)
    session.add(note)
    session.flush()
    return note


# --- tasks -----------------------------------------------------------------------------


def do_create_task(
    session: Session,
    account_id: int,
    person_id: int | None,
    data: TaskCreate,
    workflow_id: int | None = None,
    operation_id: int | None = None,
) -> Task:
    """Create a task (in a workflow, or standalone).

    Raises: NotFound for a missing workflow in the path; TaskValidationError for bad
    references or a status that does not fit; InvalidTaskStatusError.
    """
    workflow_id = workflow_id or data.workflow_id
    if workflow_id is not None:
        try:
            workflows.lock_workflow(session, account_id, workflow_id)
        except NotFound:
            if data.workflow_id is not None:
                raise field_error(
                    "workflow_id", "not_found", f"no workflow {workflow_id}"
                ) from None
            raise
    # Not flushed yet: ``_apply`` fills it in and it is inserted once, complete.
    task = Task(
        account_id=account_id,
        workflow_id=workflow_id,
        subject=data.subject,
        category=data.category,
        created_by_id=person_id,
    )
    changes = provided(data)
    changes.setdefault("subject", data.subject)
    changes.setdefault("category", data.category)
    changes.pop("workflow_id", None)
    return _apply(session, task, person_id, changes, "create", operation_id, creating=True)


def do_update_task(
    session: Session,
    account_id: int,
    person_id: int | None,
    task_id: int,
    data: TaskUpdate,
    operation_id: int | None = None,
    action: str = "update",
) -> Task:
    """Change the fields sent (``null`` clears); a status change follows the table.

    Raises: TaskNotFound; TaskValidationError; InvalidTaskStatusError.
    """
    task = lock_task(session, account_id, task_id)
    return _apply(session, task, person_id, provided(data), action, operation_id)


def do_transition_task(
    session: Session,
    account_id: int,
    person_id: int | None,
    task_id: int,
    status: TaskStatus,
    action: str,
) -> Task:
    """Move a task to ``status`` under the name ``action`` (close, complete, reopen...).

    Raises: TaskNotFound; InvalidTaskStatusError; TaskValidationError.
    """
    task = lock_task(session, account_id, task_id)
    return _apply(session, task, person_id, {"status": status}, action, None)


def do_add_note(
    session: Session,
    account_id: int,
    person_id: int | None,
    task_id: int,
    text: str,
    operation_id: int | None = None,
) -> Note:
    """Append a note to the task. Raises: TaskNotFound."""
    task = lock_task(session, account_id, task_id)
    note = _add_note(session, task, person_id, text)
    task.updated_at = utcnow()
    session.add(task)
    _record(session, task, person_id, "note_added", {"note": [None, text]}, operation_id)
    return note


def do_add_labels(
    session: Session,
    account_id: int,
    person_id: int | None,
    task_id: int,
    names: list[str],
    operation_id: int | None = None,
) -> Task:
    """Add labels the task does not have yet. Raises: TaskNotFound."""
    task = lock_task(session, account_id, task_id)
    current = _labels(session, task)
    return _apply(
        session,
        task,
        person_id,
        {"labels": sorted(set(current) | set(names))},
        "label",
        operation_id,
    )


def do_remove_label(
    session: Session,
    account_id: int,
    person_id: int | None,
    task_id: int,
    name: str,
    operation_id: int | None = None,
) -> Task:
    """Remove a label; removing one the task does not have changes nothing. Raises: TaskNotFound."""
    task = lock_task(session, account_id, task_id)
    current = _labels(session, task)
    return _apply(
        session,
        task,
        person_id,
        {"labels": [n for n in current if n != name]},
        "label",
        operation_id,
    )


# --- timers ----------------------------------------------------------------------------


def do_fire_timer(session: Session, timer_id: int) -> str | None:
    """Apply a claimed timer to its task, once (``tasks_service.timers``); returns the
    action taken, or None when there was nothing (left) to do."""
    now = utcnow()
    late_after = timedelta(seconds=settings_of(session).timer_late_after)
    found = session.get(Timer, timer_id)
    if found is None:
        return None
    # The task first, then its timer: the order every change to a task takes (it
    # re-plans the task's timers), so that a firing and a change cannot deadlock.
    task = lock_task(session, found.account_id, found.task_id)
    timer = timers.lock_claimed(session, timer_id, now, late_after)
    if timer is None:
        return None
    return _fire(session, task, timer, now)


def _fire(session: Session, task: Task, timer: Timer, now: datetime) -> str | None:
    # Fired before it acts: an action that changes the task re-plans its timers, and
    # must find this one done (a reassignment by an escalation level re-arms the levels
    # for the new clock, this one included).
    timers.mark_fired(session, timer, now)
    return _TIMER_ACTIONS[timer.kind](session, task, timer, now)


@dataclass
class Fired:
    """What ``do_fire_timers`` did: how many timers acted, the ones that failed (left
    claimed, to be claimed again once stale), and the messages they emitted that are
    due now, claimed for the caller to send at once (``notifications.send_all``)."""

    acted: int = 0
    failed: list[int] = field(default_factory=list)
    to_send: list[notifications.Claimed] = field(default_factory=list)


def do_fire_timers(session: Session, timer_ids: list[int]) -> Fired:
    """Apply claimed timers in one transaction: one commit for the lot instead of one
    per timer. The messages the firings emit that are due now are claimed in it too,
    for the caller to send as soon as it commits (not at the next sweep, and with no
    claim of their own to make).

    First all at once: the chunk's tasks and timers locked in two queries, what
    ``publish`` looks up loaded once, every write flushed together at the end. If
    anything in that fails, it is rolled back and the chunk is fired one timer at a
    time, each in its own savepoint: a timer that fails (a bug, bad data) is rolled
    back alone and left claimed while the others go on.
    """
    if not timer_ids:
        return Fired()
    try:
        return _fire_together(session, timer_ids)
    except (OperationalError, InterfaceError):
        raise  # the database went away: nothing of the chunk took effect
    except Exception as exc:
        log.warning("timers_fired_one_by_one", count=len(timer_ids), error=repr(exc)[:200])
    return _fire_one_by_one(session, timer_ids)


def _fire_together(session: Session, timer_ids: list[int]) -> Fired:
    out = Fired()
    now = utcnow()
    late_after = timedelta(seconds=settings_of(session).timer_late_after)
    try:
        with session.begin_nested(), session.no_autoflush:
            tasks, rows = timers.lock_chunk(session, timer_ids)
            by_id = {task.id: task for task in tasks}
            notifications.preload(session, tasks)
            for timer in sorted(rows, key=lambda t: (t.task_id, t.id or 0)):
                if timers.still_claimed(timer, now, late_after):
                    out.acted += _fire(session, by_id[timer.task_id], timer, now) is not None
            out.to_send = notifications.claim_emitted(session, utcnow())  # flushes it all
    except BaseException:
        notifications.emitted(session).clear()
        raise
    finally:
        notifications.forget_preloaded(session)
    return out


def _fire_one_by_one(session: Session, timer_ids: list[int]) -> Fired:
    out = Fired()
    rows = session.exec(select(Timer.id, Timer.task_id).where(col(Timer.id).in_(timer_ids)))
    in_task_order = sorted((task_id, timer_id) for timer_id, task_id in rows if timer_id)
    emitted = notifications.emitted(session)
    for _task_id, timer_id in in_task_order:
        before = len(emitted)
        try:
            with session.begin_nested():
                out.acted += do_fire_timer(session, timer_id) is not None
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            del emitted[before:]
            out.failed.append(timer_id)
            log.exception("timer_failed", timer_id=timer_id)
    out.to_send = notifications.claim_emitted(session, utcnow())
    return out


def _late(timer: Timer) -> dict[str, list[Any]]:
    return {"late": [None, True]} if timer.late else {}


def _flags(timer: Timer) -> dict[str, Any]:
    """In the payload of a timer's event: whether it fired late (the service was down)."""
    return {"late": timer.late}


def _fire_alert(session: Session, task: Task, timer: Timer, now: datetime) -> str | None:
    if TaskStatus(task.status) in FINISHED:
        return None  # finished tasks do not alert
    before = task.alert_sent_at
    task.alert_sent_at = now
    session.add(task)
    changes = {"alert_sent_at": [before, now], **_late(timer)}
    _record(session, task, None, "alert", changes, None)
    notifications.publish(session, task, ["task.alert"], timer.fire_at, extra=_flags(timer))
    return "alert"


def _fire_start(session: Session, task: Task, timer: Timer, now: datetime) -> str | None:
    # Still registered with an assignee: it is assigned now (its clock starts).
    if task.status != TaskStatus.registered or not (task.team_id or task.member_id):
        return None
    _apply(session, task, None, {"status": TaskStatus.assigned}, "start", None, noted=_late(timer))
    return "start"


def _fire_wake(session: Session, task: Task, timer: Timer, now: datetime) -> str | None:
    if task.status != TaskStatus.waiting_for:
        return None  # it left waiting_for before: nothing to wake
    _apply(session, task, None, {"status": TaskStatus.assigned}, "wake", None, noted=_late(timer))
    notifications.publish(session, task, ["task.waking"], timer.fire_at, extra=_flags(timer))
    return "wake"


def _fire_overdue(session: Session, task: Task, timer: Timer, now: datetime) -> str | None:
    if TaskStatus(task.status) in FINISHED or task.overdue:
        return None
    task.overdue = True
    session.add(task)
    _record(
        session,
        task,
        None,
        "overdue",
        {"overdue": [False, True], "passed": [None, timer.kind], **_late(timer)},
        None,
    )
    notifications.publish(session, task, ["task.overdue"], timer.fire_at, extra=_flags(timer))
    return "overdue"


def _fire_escalation(session: Session, task: Task, timer: Timer, now: datetime) -> str | None:
    """One level of the task's policy: whom it tells, what it changes, on the record."""
    policy = escalation.policy_of(session, task)
    if TaskStatus(task.status) in FINISHED or policy is None or timer.level > len(policy.levels):
        return None
    level = policy.levels[timer.level - 1]
    people = escalation.recipients(session, task, level.get("notify", []))
    actions = level.get("actions") or {}
    changes: dict[str, Any] = {}
    if actions.get("set_impact") is not None:
        changes["impact"] = actions["set_impact"]
    if actions.get("set_urgent") is not None:
        changes["urgent"] = actions["set_urgent"]
    if actions.get("reassign_team_id") is not None:
        changes["team_id"], changes["member_id"] = actions["reassign_team_id"], None
    if changes:
        _apply(session, task, None, changes, "escalate", None, noted=_late(timer))
    escalation.record(session, task, policy, timer, people, changes)
    _record(
        session,
        task,
        None,
        "escalated",
        {"escalation_level": [None, timer.level], "notified": [None, people], **_late(timer)},
        None,
    )
    # Mail waits for the calendar's service hours (if the policy says so); the feed and
    # webhooks do not: a warning at 23:00 is read by the team at 08:00.
    calendar = calendar_by_id(session, task.calendar_id)
    notifications.publish(
        session,
        task,
        ["task.escalated"],
        timer.fire_at,
        detail=f":level{timer.level}",
        extra={"escalation": {"level": timer.level, "policy_id": policy.id}, **_flags(timer)},
        people=people,
        summary=f"escalation level {timer.level}: #{task.id} {task.subject}",
        email_not_before=calendar.next_open(now) if policy.hold_email_to_service_hours else None,
    )
    return "escalate"


_TIMER_ACTIONS = {
    "alert": _fire_alert,
    "start": _fire_start,
    "wake": _fire_wake,
    "due": _fire_overdue,
    "target": _fire_overdue,
    "escalation": _fire_escalation,
}
