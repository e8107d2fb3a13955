"""Changing a task: the one place that moves a status.

``apply_task_change`` takes validated field changes for a locked task and, inside the
caller's transaction (``flush``, never ``commit``): checks the assignee and the
transition table, sets the fields that follow from the status, the completion clock
and target, keeps the task's timers in step, writes its labels and note, appends a
``TaskEvent`` for what changed, publishes the events it makes, and, for a task in a
workflow, applies what the change sets off in its plan (``commands.plan_rules``) and
lets the workflow and its phases follow. Every command on a task
(``commands.task_commands``), timer firing (``commands.firing``) and the in-process
Python API ends here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete
from sqlmodel import Session, col, select

from tasks_service.commands import assignment_rules, phases, plan_rules
from tasks_service.core.clock import iso, utcnow
from tasks_service.core.errors import field_error
from tasks_service.core.statuses import (
    ACTIVE,
    FINISHED,
    TaskCategory,
    TaskStatus,
    WorkflowStatus,
    ensure_change_accepted,
    ensure_status_fits_category,
    ensure_transition,
)
from tasks_service.identity.directory import is_team_member
from tasks_service.notify.message import Message
from tasks_service.notify.outbox import Outbox
from tasks_service.notify.publish import publish
from tasks_service.schedule import anticipation, targets, timers
from tasks_service.schedule.timing import has_assignee
from tasks_service.store import lookups
from tasks_service.store.models import Calendar as CalendarRow
from tasks_service.store.models import Note, Person, Task, TaskEvent, TaskLabel, Team, Workflow
from tasks_service.store.schemas.tasks import TaskUpdate

#: Fields whose changes an event does not list.
_UNTRACKED = frozenset(
    {"id", "account_id", "created_at", "updated_at", "clock_stopped_at", "clock_stopped_seconds"}
)
#: Fields decided here rather than copied: the assignee is checked, the status follows
#: the transition table, the calendar chosen for the task is checked and kept apart from
#: ``Task.calendar_id`` (the one in use, which ``targets.settle`` works out).
_DECIDED = ("status", "team_id", "member_id", "calendar_id")
#: Fields copied as they are from a validated input onto the task: every writable
#: field that is a column of its own name.
PLAIN_FIELDS = tuple(
    name for name in TaskUpdate.model_fields if name in Task.model_fields and name not in _DECIDED
)


def lock_task(session: Session, account_id: int, task_id: int) -> Task:
    """The task, row-locked until the transaction ends; its workflow's row first, when
    it has one: a change may set off changes to any task of the plan, and every writer
    taking the workflow first makes them take turns (no deadlock, no cascade missed).
    Raises: TaskNotFound."""
    workflow_id = session.exec(
        select(Task.workflow_id).where(Task.id == task_id, Task.account_id == account_id)
    ).first()
    if workflow_id is not None:
        lookups.lock(session, Workflow, account_id, workflow_id)
    return lookups.lock(session, Task, account_id, task_id)


@dataclass(frozen=True)
class _Before:
    """The task as it was before the change."""

    fields: dict[str, Any]
    labels: list[str]
    status: TaskStatus

    @classmethod
    def of(
        cls, session: Session, task: Task, known: dict[int, list[str]], *, creating: bool
    ) -> _Before:
        """``known``: labels the unit of work wrote already (``Outbox.labels``)."""
        if creating or not task.id:
            labels = []
        else:
            labels = known[task.id] if task.id in known else labels_of(session, task)
        return cls(
            fields={name: getattr(task, name) for name in Task.model_fields},
            labels=labels,
            # a new task starts registered, whatever it is created as
            status=TaskStatus.registered if creating else TaskStatus(task.status),
        )


def apply_task_change(
    session: Session,
    outbox: Outbox,
    task: Task,
    person_id: int | None,
    changes: dict[str, Any],
    action: str,
    operation_id: int | None = None,
    *,
    creating: bool = False,
    noted: dict[str, list[Any]] | None = None,
    start: bool = False,
    cascade: bool = True,
    announce: bool = False,
) -> Task:
    """Apply validated field changes to a (locked, or new) task, as ``action``.
    ``noted``: more to say in its event (a timer that fired late). ``start``: the plan
    assigns it whatever holds it (a failure path, a start). ``cascade``: apply what the
    change sets off in its workflow's plan (off for the steps of a cascade, which their
    cascade applies itself). ``announce``: the plan assigns it now, having held it (its
    assignee was not told while it waited): ``task.assigned`` goes out with the start.

    Raises: TaskValidationError (a bad assignee, a status that does not fit);
    InvalidTaskStatusError (``FinishedTaskError``: a finished task takes only a status
    change that reopens it, or notes).
    """
    now = utcnow()
    before = _Before.of(session, task, outbox.labels, creating=creating)
    if not creating:
        # A finished task takes a status change that reopens it, or notes (the table's
        # rule, ``statuses.FINISHED_ACCEPTS``): checked before any of the change is read.
        requested = changes.get("status")
        status = TaskStatus(requested) if requested is not None else before.status
        ensure_change_accepted(action, before.status, status, changes)
    team_id, member_id = _assignee(session, task, changes)
    if "phase_id" in changes:
        phases.check_phase(session, task.account_id, task.workflow_id, changes["phase_id"])
    if "failure_task_id" in changes:
        plan_rules.check_failure_task(session, task, changes["failure_task_id"])
    if "category" in changes:
        assignment_rules.check_kind(task, changes["category"])
    if "calendar_id" in changes:
        chosen = changes["calendar_id"]
        lookups.check_ref(session, CalendarRow, task.account_id, chosen, "calendar_id")
        task.chosen_calendar_id = chosen
    for name in PLAIN_FIELDS:
        if name in changes:
            value = changes[name]
            if isinstance(value, BaseModel):
                # an object field (Trackops' address) is kept as the client gave it
                value = value.model_dump(mode="json", exclude_unset=True)
            setattr(task, name, value)
    task.team_id, task.member_id = team_id, member_id
    waits = None if start else plan_rules.hold(session, task, now)
    status = _next_status(task, changes, before, action, now, waits)
    reassigned = (team_id, member_id) != (before.fields["team_id"], before.fields["member_id"])
    task.status = status
    if reassigned and status == TaskStatus.assigned and before.status == TaskStatus.assigned:
        task.assigned_at = now  # reassigned: its clock starts again with the new assignee
    _settle(session, task, before, now, creating=creating)
    task.updated_at = now
    session.add(task)
    if not (creating and task.id is not None):
        # a new task written beforehand (a plan's: ``commands.instantiate``) is filled
        # in later, with the rest of its plan, in a few statements
        session.flush()
    timers.sync(session, task, now, new=creating)
    diff = _diff(session, task, before, changes, person_id, outbox)
    if not creating:
        # its assignments follow its status (``core.assignments.follow_task``)
        diff.update(assignment_rules.follow(session, outbox, task, before.status, now))
    if noted and (diff or creating):
        diff.update(noted)
    if creating or diff:
        record_event(
            session, task, person_id, "created" if creating else action, diff, operation_id
        )
        told = _Told(creating, waits is not None, start or announce)
        publish(session, outbox, task, _messages(told, diff, task, now))
    if task.workflow_id is not None and cascade:
        follow_plan(session, outbox, task, before.status, person_id, operation_id, now)
        left = before.fields["phase_id"]
        if left is not None and left != task.phase_id:
            phases.follow(session, left, now)  # the phase it left follows its other tasks
    return task


def follow_plan(
    session: Session,
    outbox: Outbox,
    task: Task,
    before: TaskStatus,
    person_id: int | None,
    operation_id: int | None,
    now: datetime,
) -> None:
    """Apply what the task's change sets off in its workflow (``plan_rules``), breadth
    first and each step through the transition table, then let the workflow and the
    phases of every task it moved follow."""
    workflow = session.get(Workflow, task.workflow_id)
    if workflow is not None and workflow.status == WorkflowStatus.being_created:
        return  # nothing runs yet: its instantiation settles the plan once it is whole
    queue: deque[tuple[Task, TaskStatus]] = deque([(task, before)])
    moved = {task.id: task}
    while queue:
        changed, was = queue.popleft()
        for step in plan_rules.consequences(session, changed, was, now):
            apply_task_change(
                session,
                outbox,
                step.task,
                person_id,
                step.changes,
                step.action,
                operation_id,
                start=step.start,
                cascade=False,
                announce=step.changes.get("status") == TaskStatus.assigned,
            )
            moved[step.task.id] = step.task
            queue.append((step.task, step.before))
    settle_plan(session, task.workflow_id or 0, list(moved.values()), now)


def settle_plan(
    session: Session,
    workflow_id: int,
    moved: list[Task],
    now: datetime,
    *,
    linked: Iterable[int] = (),
    everything: bool = False,
) -> None:
    """After tasks of the workflow changed (``moved``; ``linked``: tasks whose links
    changed; ``everything``: the workflow's own start): their phases and the workflow
    follow, and the anticipated assignments downstream of them are computed again."""
    session.flush()
    for phase_id in sorted({t.phase_id for t in moved if t.phase_id is not None}):
        phases.follow(session, phase_id, now)
    plan_rules.refresh_workflow(session, workflow_id, now)
    changed = None if everything else {t.id or 0 for t in moved} | set(linked)
    anticipation.anticipate(session, workflow_id, now, changed)


def _assignee(session: Session, task: Task, changes: dict[str, Any]) -> tuple[int | None, ...]:
    """The team and member the task will have; checked when the change names them.
    Raises: TaskValidationError."""
    team_id = changes.get("team_id", task.team_id)
    member_id = changes.get("member_id", task.member_id)
    if "team_id" in changes or "member_id" in changes:
        lookups.check_ref(session, Team, task.account_id, team_id, "team_id")
        lookups.check_ref(session, Person, task.account_id, member_id, "member_id")
        in_team = (
            team_id is None or member_id is None or is_team_member(session, team_id, member_id)
        )
        if not in_team:
            raise field_error(
                "member_id", "not_in_team", f"person {member_id} is not a member of team {team_id}"
            )
    return team_id, member_id


def _next_status(
    task: Task,
    changes: dict[str, Any],
    before: _Before,
    action: str,
    now: datetime,
    waits: plan_rules.Hold | None,
) -> TaskStatus:
    """The status the change leads to, checked against the transition table; ``waits``:
    what holds the task back in its workflow's plan (it then stays registered, and may
    only be canceled). Raises: InvalidTaskStatusError; TaskValidationError."""
    requested = changes.get("status")
    status = TaskStatus(requested) if requested is not None else before.status
    assignee = (task.team_id, task.member_id)
    gets_assignee = (
        requested is None
        and assignee != (before.fields["team_id"], before.fields["member_id"])
        and any(assignee)
    )
    # 002: a task that gets a team or member while registered becomes assigned, unless
    # it starts later ("Start no earlier than"): then its start timer assigns it.
    if gets_assignee and before.status in (TaskStatus.registered, TaskStatus.declined):
        starts_later = task.start_at is not None and task.start_at > now
        status = TaskStatus.registered if starts_later or waits else TaskStatus.assigned
    held = before.status == TaskStatus.registered and waits is not None
    if held and status not in (TaskStatus.registered, TaskStatus.canceled) and waits:
        raise field_error(
            "status", waits.code, f"task #{task.id} cannot be {status.value} yet: {waits.message}"
        )
    ensure_status_fits_category(status, TaskCategory(task.category))
    ensure_transition(action, before.status, status)
    if status == TaskStatus.assigned and not has_assignee(task):
        raise field_error("status", "no_assignee", "an assigned task needs a team or a member")
    if changes.get("waiting_until") is not None and status != TaskStatus.waiting_for:
        raise field_error(
            "waiting_until", "requires_waiting_for", "can only be set when status is waiting_for"
        )
    return status


def _settle(
    session: Session, task: Task, before: _Before, now: datetime, *, creating: bool
) -> None:
    """Derived fields that follow from the status (finished_at, assigned_at,
    waiting_until), then the completion clock and target (``schedule.targets``)."""
    status = TaskStatus(task.status)
    if status == TaskStatus.rejected and before.status != TaskStatus.rejected:
        task.rejection_count += 1
    if status in FINISHED and before.status not in FINISHED:
        task.finished_at = now
    elif status not in FINISHED:
        task.finished_at = None
    newly_assigned = status == TaskStatus.assigned and before.status != TaskStatus.assigned
    if newly_assigned or (status in ACTIVE and task.assigned_at is None):
        task.assigned_at = now
    if status != TaskStatus.waiting_for:
        task.waiting_until = None
    targets.settle(session, task, before.fields, now, creating=creating)


def _diff(
    session: Session,
    task: Task,
    before: _Before,
    changes: dict[str, Any],
    person_id: int | None,
    outbox: Outbox,
) -> dict[str, list[Any]]:
    """What changed, as ``{field: [old, new]}``; writes the labels and the note the
    change carries (and tells the outbox the task's labels, for its payloads)."""
    diff = {
        name: [before.fields[name], getattr(task, name)]
        for name in Task.model_fields
        if name not in _UNTRACKED and before.fields[name] != getattr(task, name)
    }
    labels = before.labels
    if changes.get("labels") is not None:
        labels = set_labels(session, task, before.labels, changes["labels"])
        if labels != before.labels:
            diff["labels"] = [before.labels, labels]
    outbox.labels[task.id or 0] = labels
    if changes.get("note"):
        add_note(session, task, person_id, changes["note"])
        diff["note"] = [None, changes["note"]]
    return diff


@dataclass(frozen=True)
class _Told:
    """What decides whether a change tells the assignee: a new task, one its plan holds
    (its assignee is told when it starts), one the plan starts now."""

    creating: bool
    waits: bool
    plan_starts: bool


def _messages(told: _Told, diff: dict[str, list[Any]], task: Task, now: datetime) -> list[Message]:
    """The events a change makes (README, "Notifications"). ``task.assigned`` (on every
    channel: webhooks, feed, email) when the task gets an assignee (created with one,
    or given one), unless its plan holds it; and when its plan starts it, its
    predecessors done or its workflow started (its assignee was not told while it
    waited)."""
    has_assignee = task.team_id is not None or task.member_id is not None
    new_assignee = told.creating or "team_id" in diff or "member_id" in diff
    started = told.plan_starts and TaskStatus(task.status) in ACTIVE
    assigned = has_assignee and ((new_assignee and not told.waits) or started)
    if told.creating:
        created = ["task.created", "task.assigned"] if assigned else ["task.created"]
        return [Message(event, now) for event in created]
    events = ["task.updated"]
    if "status" in diff:
        events.append("task.status_changed")
    if assigned:
        events.append("task.assigned")
    return [Message(event, now) for event in events]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    return value


def record_event(
    session: Session,
    task: Task,
    person_id: int | None,
    action: str,
    changes: dict[str, list[Any]],
    operation_id: int | None,
) -> None:
    """Append a ``TaskEvent``: who did what to the task, ``{field: [old, new]}``."""
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


def labels_of(session: Session, task: Task) -> list[str]:
    return list(
        session.exec(
            select(TaskLabel.name).where(TaskLabel.task_id == task.id).order_by(col(TaskLabel.name))
        )
    )


def set_labels(session: Session, task: Task, current: list[str], names: list[str]) -> list[str]:
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


def add_note(session: Session, task: Task, person_id: int | None, text: str) -> Note:
    note = Note(account_id=task.account_id, task_id=task.id or 0, person_id=person_id, text=text)
    session.add(note)
    session.flush()
    return note
