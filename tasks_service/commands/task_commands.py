"""Commands on tasks: create, change, move through a status, note, label.

Each takes the session first and an ``Outbox`` for what it publishes, works inside the
caller's transaction (``flush``, never ``commit``), and ends in ``apply_task_change``
(which checks the transition table and appends a ``TaskEvent``). The operations'
workers and the in-process Python API call the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from tasks_service.commands import assignments, plan_rules, templates, workflow_plan
from tasks_service.commands.task_change import (
    add_note,
    apply_task_change,
    labels_of,
    lock_task,
    record_event,
)
from tasks_service.commands.workflows import lock_workflow
from tasks_service.core.clock import utcnow
from tasks_service.core.errors import NotFound, field_error
from tasks_service.core.statuses import TaskStatus
from tasks_service.core.validation import provided
from tasks_service.notify.outbox import Outbox
from tasks_service.schedule.calendar_store import end_of_day
from tasks_service.store.models import Note, Task
from tasks_service.store.schemas.tasks import TaskCreate, TaskUpdate


def do_create_task(
    session: Session,
    outbox: Outbox,
    account_id: int,
    person_id: int | None,
    data: TaskCreate,
    workflow_id: int | None = None,
    operation_id: int | None = None,
    planned_predecessors: list[int] | None = None,
    made_from: int | None = None,
    start: bool = False,
    into: Task | None = None,
    people_field: str = "assignee_ids",
) -> Task:
    """Create a task (in a workflow, or standalone), with an assignment for each of
    ``assignee_ids`` (``people_field``: what the client called them, for a refusal).
    For a workflow template's plan, put into a workflow being created:
    ``planned_predecessors``, its predecessors in the
    plan (checked when it was saved), stored as they are; ``made_from``, its task
    template (its fields are in ``data`` already); ``start``: nothing will hold it once
    the plan is whole, so it is assigned (if it has an assignee) as it is made;
    ``into``: its row, written beforehand with the plan's others in one statement
    (its id taken with ``store.db.allocate_ids``): the create fills it in.

    Raises: NotFound for a missing workflow in the path; TaskValidationError for bad
    references or a status that does not fit; InvalidTaskStatusError.
    """
    if data.template_id is not None:
        data = _from_template(session, account_id, data)
    workflow_id = workflow_id or data.workflow_id
    if workflow_id is not None and workflow_id not in plan_rules.locked_workflows(session):
        try:
            lock_workflow(session, account_id, workflow_id)
        except NotFound:
            if data.workflow_id is not None:
                raise field_error(
                    "workflow_id", "not_found", f"no workflow {workflow_id}"
                ) from None
            raise
    # Not flushed yet: ``apply_task_change`` fills it in and it is inserted once, complete.
    task = into or Task(
        account_id=account_id,
        workflow_id=workflow_id,
        subject=data.subject,
        category=data.category,
        created_by_id=person_id,
        template_id=data.template_id or made_from,
    )
    changes = provided(data)
    changes.setdefault("subject", data.subject)
    changes.setdefault("category", data.category)
    changes.pop("workflow_id", None)
    changes.pop("template_id", None)
    due_on_as_due_at(session, task, changes)
    predecessors = changes.pop("predecessor_ids", None)
    successors = changes.pop("successor_ids", None)
    people = changes.pop("assignee_ids", None) or []
    # a status that needs someone to be with (assigned...) waits for the people
    later = changes.pop("status", None) if people else None
    noted: dict[str, list[Any]] = {}
    if planned_predecessors:
        # its workflow is being created, which holds it: linked once it is made
        noted = {"predecessor_ids": [[], sorted(set(planned_predecessors))]}
    elif predecessors or successors:
        # linked first, so that what it waits for holds it from the start; the links
        # are told in its "created" event (its own link events would come before it)
        session.add(task)
        session.flush()
        workflow_plan.set_links(
            session, outbox, task, predecessors, successors, person_id, operation_id, quiet=True
        )
        noted = {
            name: [[], sorted(set(ids))]
            for name, ids in (("predecessor_ids", predecessors), ("successor_ids", successors))
            if ids
        }
    made = apply_task_change(
        session,
        outbox,
        task,
        person_id,
        changes,
        "create",
        operation_id,
        creating=True,
        noted=noted,
        start=start,
    )
    if planned_predecessors:
        workflow_plan.add_planned_links(session, made, planned_predecessors)
    if people:
        made = _with_people(
            session, outbox, made, people, later, person_id, operation_id, people_field
        )
    return made


def _with_people(
    session: Session,
    outbox: Outbox,
    task: Task,
    people: list[int],
    status: TaskStatus | None,
    person_id: int | None,
    operation_id: int | None,
    field: str,
) -> Task:
    """Give each of ``people`` an assignment of the new task (it is assigned with the
    first, unless something holds it), then move it to the ``status`` it was created
    with, if any."""
    for person in dict.fromkeys(people):
        assignments.do_add_assignment(
            session,
            outbox,
            task.account_id,
            person_id,
            task.id or 0,
            assignments.Assignee(person, field=field),
            operation_id,
        )
    if status is None or status == task.status:
        return task
    changes = {"status": status}
    return apply_task_change(session, outbox, task, person_id, changes, "update", operation_id)


def _from_template(session: Session, account_id: int, data: TaskCreate) -> TaskCreate:
    """The body with the task template's fields filling what it does not give
    (``commands.templates.with_template``). Raises: TaskValidationError (the template,
    or a subject or category that neither gives)."""
    given = provided(data)
    filled = templates.with_template(session, account_id, data.template_id or 0, given)
    for name in ("subject", "category"):
        if filled.get(name) is None:
            raise field_error(name, "missing", "is required (the task template has none)")
    return data.model_copy(update={k: v for k, v in filled.items() if k not in given})


@dataclass(frozen=True)
class _CalendarDeciders:
    """The fields that decide a task's calendar, as a change leaves them
    (``calendar_store.WouldBeTask``)."""

    account_id: int
    team_id: int | None
    workflow_id: int | None
    work_hours_are_24x7: bool


def due_on_as_due_at(session: Session, task: Task, changes: dict[str, Any]) -> None:
    """Trackops' ``due_on`` (a day) in a change to ``task`` (or to a new one), made its
    ``due_at``: the last second of that day in the zone of the calendar the task will
    have once changed (the calendar chosen for it, else its team's, workflow's or
    account's; UTC for 24x7 or none: ``calendar_store.end_of_day``); ``null`` clears
    ``due_at``. Resolved here, in the command's transaction: only the rows tell the zone.
    """
    if "due_on" not in changes:
        return
    day = changes.pop("due_on")
    if day is None:
        changes["due_at"] = None
        return
    after = _CalendarDeciders(
        task.account_id,
        changes.get("team_id", task.team_id),
        task.workflow_id,
        changes.get("work_hours_are_24x7", task.work_hours_are_24x7),
    )
    chosen = changes.get("calendar_id", task.chosen_calendar_id)
    changes["due_at"] = end_of_day(session, after, day, chosen)


def do_update_task(
    session: Session,
    outbox: Outbox,
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
    changes = provided(data)
    due_on_as_due_at(session, task, changes)
    predecessors = changes.pop("predecessor_ids", None)
    successors = changes.pop("successor_ids", None)
    if predecessors is not None or successors is not None:
        workflow_plan.set_links(
            session, outbox, task, predecessors, successors, person_id, operation_id
        )
    # an assignee's approval (or completion) sent as the task's status is theirs alone
    decided = assignments.decide_on_task(session, outbox, task, person_id, changes, operation_id)
    if decided is not None:
        return decided
    task = apply_task_change(session, outbox, task, person_id, changes, action, operation_id)
    if _RULES.intersection(changes):
        # fewer decisions may be enough now: the task may be decided already
        task = assignments.settle(session, outbox, task, person_id, operation_id)
    return task


#: What decides how many of a task's people must decide (``core.assignments.Tally``).
_RULES = frozenset({"completion_rule", "required_approvals"})


def do_link_tasks(
    session: Session,
    outbox: Outbox,
    account_id: int,
    person_id: int | None,
    task_id: int,
    other_id: int,
    direction: str,
    operation_id: int | None = None,
    *,
    remove: bool = False,
) -> Task:
    """``POST /tasks/:id/predecessors`` (``direction`` "predecessor": ``other_id`` comes
    before the task) or ``/successors``; returns the other task. Linking tasks that are
    linked already changes nothing. ``remove``: ``DELETE
    /tasks/:id/predecessors/:other_id`` (or ``/successors/``): the link goes, and a task
    nothing holds any more is assigned.

    Raises: TaskNotFound (the task; the other one too when removing); TaskValidationError
    (the other task: missing, in another workflow, a cycle, a started successor);
    NotFound when removing a link that is not there.
    """
    task, other = _link_pair(session, account_id, task_id, other_id, direction, missing=remove)
    before, after = (other, task) if direction == "predecessor" else (task, other)
    if remove:
        workflow_plan.remove_link(session, outbox, before, after, person_id, operation_id)
    else:
        field = f"{direction}_id"
        workflow_plan.add_link(session, before, after, person_id, operation_id, field=field)
    return other


def _link_pair(
    session: Session,
    account_id: int,
    task_id: int,
    other_id: int,
    direction: str,
    *,
    missing: bool = False,
) -> tuple[Task, Task]:
    """The task, locked with its workflow, and the other one (locked too when it is in
    that workflow; one in another is refused by the link's checks, and is not locked, so
    that no operation holds two workflows). ``missing``: a missing other task is a 404
    (a path names it) rather than a 422 (a body does)."""
    task = lock_task(session, account_id, task_id)
    try:
        other = workflow_plan.task_beside(session, task, other_id)
    except NotFound:
        if missing:
            raise
        raise field_error(f"{direction}_id", "not_found", f"no task {other_id}") from None
    return task, other


def do_transition_task(
    session: Session,
    outbox: Outbox,
    task: Task,
    person_id: int | None,
    status: TaskStatus,
    action: str,
) -> Task:
    """Move a (locked) task to ``status`` under the name ``action`` (close, complete,
    reopen...). Raises: InvalidTaskStatusError; TaskValidationError."""
    return apply_task_change(session, outbox, task, person_id, {"status": status}, action)


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
    note = add_note(session, task, person_id, text)
    task.updated_at = utcnow()
    session.add(task)
    record_event(session, task, person_id, "note_added", {"note": [None, text]}, operation_id)
    return note


def _relabel(
    session: Session,
    outbox: Outbox,
    account_id: int,
    person_id: int | None,
    task_id: int,
    labels: Callable[[list[str]], list[str]],
    operation_id: int | None,
) -> Task:
    task = lock_task(session, account_id, task_id)
    changes = {"labels": labels(labels_of(session, task))}
    return apply_task_change(session, outbox, task, person_id, changes, "label", operation_id)


def do_add_labels(
    session: Session,
    outbox: Outbox,
    account_id: int,
    person_id: int | None,
    task_id: int,
    names: list[str],
    operation_id: int | None = None,
) -> Task:
    """Add labels the task does not have yet. Raises: TaskNotFound."""

    def added(current: list[str]) -> list[str]:
        return sorted(set(current) | set(names))

    return _relabel(session, outbox, account_id, person_id, task_id, added, operation_id)


def do_remove_label(
    session: Session,
    outbox: Outbox,
    account_id: int,
    person_id: int | None,
    task_id: int,
    name: str,
    operation_id: int | None = None,
) -> Task:
    """Remove a label; removing one the task does not have changes nothing. Raises: TaskNotFound."""

    def removed(current: list[str]) -> list[str]:
        return [n for n in current if n != name]

    return _relabel(session, outbox, account_id, person_id, task_id, removed, operation_id)
