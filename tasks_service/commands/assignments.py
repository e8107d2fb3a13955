"""Commands on a task's assignments (``core.assignments``): add a person, change or
decide their assignment, remove it; and an assignee's decision sent as the task's own
status (``PATCH /tasks/:id {"status": "approved"}``, the Xurrent SDK's ``approve()``).

Each locks the task (its workflow first: ``task_change.lock_task``), records an event
on the task for what it changed, and, once the decisions finish the task
(``core.assignments.outcome``), moves it through ``apply_task_change``: the same
transition table, cascade, timers and notifications as a task finished by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from tasks_service.commands import assignment_rules, plan_rules
from tasks_service.commands.task_change import apply_task_change, lock_task, record_event
from tasks_service.core.assignments import (
    DECISION_OF_STATUS,
    DECISIONS,
    PENDING,
    AssignmentKind,
    AssignmentStatus,
    ensure_decision,
    outcome,
)
from tasks_service.core.clock import utcnow
from tasks_service.core.errors import (
    Conflict,
    InvalidTaskStatusError,
    NotFound,
    PermissionDenied,
    field_error,
)
from tasks_service.core.statuses import (
    FINISHED,
    FinishedTaskError,
    TaskCategory,
    TaskStatus,
    ensure_status_fits_category,
)
from tasks_service.notify.outbox import Outbox
from tasks_service.schedule import timers
from tasks_service.store import lookups
from tasks_service.store.models import Person, Task, TaskAssignment

#: The action a task's change is recorded under when its assignments decide it.
_DECIDED_AS = {
    TaskStatus.approved: "approve",
    TaskStatus.rejected: "reject",
    TaskStatus.completed: "complete",
}


@dataclass(frozen=True)
class Assignee:
    """Whom to add, and what comes with them: ``field`` names the person in the body
    (``approver_id``, ``person_id``, Box's ``assign_to``) for a 404 about them;
    ``kind``: the kind of task the route is for (None: either)."""

    person_id: int
    field: str = "person_id"
    kind: AssignmentKind | None = None
    note: str | None = None
    planned_effort: int | None = None


def do_add_assignment(
    session: Session,
    outbox: Outbox,
    account_id: int,
    actor_id: int | None,
    task_id: int,
    assignee: Assignee,
    operation_id: int | None = None,
) -> TaskAssignment:
    """Give ``assignee`` an assignment of the task: ``assigned`` when the task is with
    someone, ``registered`` while it is not; a registered task that nothing holds is
    assigned with it.

    Raises: TaskNotFound; NotFound (the person: another account's is missing too);
    Conflict (the person has one already; an approval on a task that is not an
    approval, or an assignment on one that is); FinishedTaskError.
    """
    task = lock_task(session, account_id, task_id)
    kind = AssignmentKind.of(task.category)
    if assignee.kind is not None and assignee.kind != kind:
        raise _wrong_kind(task, assignee.kind)
    if task.status in FINISHED:
        raise FinishedTaskError("add an assignment to", TaskStatus(task.status))
    person = lookups.find(session, Person, account_id, assignee.person_id)
    if person is None:
        raise NotFound(f"no person {assignee.person_id}", field=assignee.field)
    if person.disabled:
        raise field_error(assignee.field, "disabled", f"person {person.id} is disabled")
    taken = select(TaskAssignment.id).where(
        TaskAssignment.task_id == task_id, TaskAssignment.person_id == person.id
    )
    if session.exec(taken).first() is not None:
        raise Conflict(f"person {person.id} has an assignment of task #{task_id} already")
    now = utcnow()
    waiting = task.status in (TaskStatus.registered, TaskStatus.declined)
    row = TaskAssignment(
        account_id=account_id,
        task_id=task_id,
        person_id=person.id or 0,
        assigned_by_id=actor_id,
        status=AssignmentStatus.registered if waiting else AssignmentStatus.assigned,
        note=assignee.note,
        planned_effort=assignee.planned_effort,
        assigned_at=None if waiting else now,
    )
    session.add(row)
    task.assignee_count += 1
    task.updated_at = now
    session.add(task)
    session.flush()
    added = {"person_id": row.person_id, "status": row.status}
    record_event(
        session,
        task,
        actor_id,
        "assignment_added",
        {assignment_rules.field(row): [None, added]},
        operation_id,
    )
    if not waiting:
        assignment_rules.announce(session, outbox, task, [row], now)
    elif _can_start(session, task, now):
        # like getting a member: it is with someone now (its people are told as it starts)
        changes = {"status": TaskStatus.assigned}
        apply_task_change(session, outbox, task, actor_id, changes, "assign", operation_id)
    else:
        timers.sync(session, task, now)  # its start timer: it has someone to start with
    return row


def _can_start(session: Session, task: Task, now: datetime) -> bool:
    starts_later = task.start_at is not None and task.start_at > now
    return not starts_later and plan_rules.hold(session, task, now) is None


def _wrong_kind(task: Task, wanted: AssignmentKind) -> Conflict:
    if wanted == AssignmentKind.approval:
        return Conflict(
            f"task #{task.id} is not an approval task ({task.category}): "
            "its people are under /tasks/:id/assignments"
        )
    return Conflict(
        f"task #{task.id} is an approval task: its people are under /tasks/:id/approvals"
    )


def get_assignment(
    session: Session, task: Task, assignment_id: int, kind: AssignmentKind | None = None
) -> TaskAssignment:
    """The task's assignment; ``kind``: as the route names it (an approval is an
    approval task's). Raises: NotFound (also when it is another task's)."""
    row = lookups.find(session, TaskAssignment, task.account_id, assignment_id)
    wrong_kind = kind is not None and AssignmentKind.of(task.category) != kind
    if row is None or row.task_id != task.id or wrong_kind:
        what = "approval" if kind == AssignmentKind.approval else "assignment"
        raise NotFound(f"task #{task.id} has no {what} {assignment_id}")
    return row


def do_update_assignment(
    session: Session,
    outbox: Outbox,
    account_id: int,
    actor_id: int | None,
    task_id: int,
    assignment_id: int,
    changes: dict[str, Any],
    operation_id: int | None = None,
    kind: AssignmentKind | None = None,
) -> TaskAssignment:
    """Change an assignment's ``note`` / ``planned_effort``, or decide it (``status``:
    approved, rejected, completed; ``assigned``: leave it undecided, which it must be).
    Only its person (or an admin) decides. Then the task follows the decisions.

    Raises: TaskNotFound; NotFound; PermissionDenied; InvalidTaskStatusError (a
    decision the table forbids: from registered, twice, or of the other kind).
    """
    task = lock_task(session, account_id, task_id)
    row = get_assignment(session, task, assignment_id, kind)
    now = utcnow()
    diff: dict[str, list[Any]] = {}
    decision = changes.get("status")
    if decision == AssignmentStatus.assigned:
        if row.status not in PENDING:  # a decided one cannot change again
            raise InvalidTaskStatusError(
                action="reopen an assignment",
                expected_status="registered or assigned",
                actual_status=row.status,
            )
    elif decision is not None:
        _ensure_may_decide(session, row, actor_id)
        task_kind = AssignmentKind.of(task.category)
        ensure_decision(task_kind, AssignmentStatus(row.status), AssignmentStatus(decision))
        diff[assignment_rules.field(row, "status")] = [row.status, decision]
        row.status = AssignmentStatus(decision)
        row.decided_at = now
    for name in ("note", "planned_effort"):
        if name in changes and changes[name] != getattr(row, name):
            diff[assignment_rules.field(row, name)] = [getattr(row, name), changes[name]]
            setattr(row, name, changes[name])
    if not diff:
        return row
    row.updated_at = now
    session.add(row)
    action = "assignment_decided" if "status" in _names(diff) else "assignment_updated"
    record_event(session, task, actor_id, action, diff, operation_id)
    settle(session, outbox, task, actor_id, operation_id)
    return row


def _names(diff: dict[str, list[Any]]) -> set[str]:
    return {name.rsplit(".", 1)[-1] for name in diff}


def _ensure_may_decide(session: Session, row: TaskAssignment, actor_id: int | None) -> None:
    if actor_id is None or actor_id == row.person_id or _is_admin(session, actor_id):
        return
    raise PermissionDenied(
        f"only person {row.person_id} (or an admin) may decide assignment {row.id}"
    )


def _is_admin(session: Session, person_id: int) -> bool:
    person = session.get(Person, person_id)
    return bool(person and person.admin)


def do_remove_assignment(
    session: Session,
    outbox: Outbox,
    account_id: int,
    actor_id: int | None,
    task_id: int,
    assignment_id: int,
    operation_id: int | None = None,
    kind: AssignmentKind | None = None,
) -> None:
    """Take a person's undecided assignment away; the rest may now decide the task.
    Raises: TaskNotFound; NotFound; Conflict (a decided assignment stays: it is what
    the task's outcome rests on); FinishedTaskError."""
    task = lock_task(session, account_id, task_id)
    row = get_assignment(session, task, assignment_id, kind)
    if task.status in FINISHED:
        raise FinishedTaskError("remove an assignment of", TaskStatus(task.status))
    if row.status not in PENDING and row.status != AssignmentStatus.canceled:
        raise Conflict(
            f"assignment {row.id} is {row.status}: a decided assignment cannot be removed"
        )
    removed = {"person_id": row.person_id, "status": row.status}
    record_event(
        session,
        task,
        actor_id,
        "assignment_removed",
        {assignment_rules.field(row): [removed, None]},
        operation_id,
    )
    session.delete(row)
    task.assignee_count -= 1
    task.updated_at = utcnow()
    session.add(task)
    session.flush()
    timers.sync(session, task, task.updated_at)
    settle(session, outbox, task, actor_id, operation_id)


def settle(
    session: Session,
    outbox: Outbox,
    task: Task,
    actor_id: int | None,
    operation_id: int | None,
    changes: dict[str, Any] | None = None,
) -> Task:
    """Apply ``changes`` (the rest of a PATCH that carried a decision) and, when the
    decisions now finish the open task, its outcome: approved, rejected, completed."""
    changes = dict(changes or {})
    action = "update"
    if task.status not in FINISHED and task.assignee_count:
        rows = assignment_rules.of_task(session, task.id or 0)
        decided = outcome(assignment_rules.tally(task, rows))
        if decided is not None:
            changes["status"] = decided
            action = _DECIDED_AS[decided]
    if not changes:
        return task
    return apply_task_change(session, outbox, task, actor_id, changes, action, operation_id)


def decide_on_task(
    session: Session,
    outbox: Outbox,
    task: Task,
    actor_id: int | None,
    changes: dict[str, Any],
    operation_id: int | None,
) -> Task | None:
    """A task change that sets a deciding status (approved, rejected, completed) on a
    task with assignments: the actor's own decision when they have an assignment
    (with its ``note``; the rest of the change applied with it); a decision of the whole
    task by an admin (refused while approvers are missing). ``member_id`` names whose
    decision it is (the sender's own, or an admin's for another). None: not such a
    change, the caller applies it as it is.

    Raises: PermissionDenied (neither an assignee nor an admin); InvalidTaskStatusError;
    TaskValidationError (a status that does not fit; approvers missing).
    """
    requested = changes.get("status")
    if requested is None or TaskStatus(requested) not in DECISION_OF_STATUS:
        return None
    if not task.assignee_count:
        return None  # today's rule: its member (if any) decides it
    status = TaskStatus(requested)
    ensure_status_fits_category(status, TaskCategory(task.category))
    rows = assignment_rules.of_task(session, task.id or 0)
    # The Xurrent SDK's approve() names the approver as ``member_id`` (its own user by
    # default): the decision is that person's, not a new member of the task.
    deciding_for = changes.get("member_id") or actor_id
    mine = next((row for row in rows if row.person_id == deciding_for), None)
    decision = DECISION_OF_STATUS[status]
    if status == task.status and (mine is None or mine.status == decision):
        # the task's own status again, and the sender's own decision (a retry): nothing
        # changes. One whose approval was canceled (quorum without them) is told so.
        return None
    admin = actor_id is None or _is_admin(session, actor_id)
    if mine is not None and deciding_for != actor_id and not admin:
        raise PermissionDenied(f"only person {deciding_for} (or an admin) may decide their part")
    if mine is None or (task.status in FINISHED and admin):
        if not admin:
            raise PermissionDenied(
                f"only the people assigned to task #{task.id} (or an admin) may decide it"
            )
        missing = assignment_rules.tally(task, rows).missing_approvers
        if status == TaskStatus.approved and missing:
            raise field_error(
                "status",
                "approvers_missing",
                f"task #{task.id} needs {missing} more approver(s) before it can be approved",
            )
        return None  # decided as a whole, by hand: its pending approvals are canceled
    kind = AssignmentKind.of(task.category)
    ensure_decision(kind, AssignmentStatus(mine.status), decision)
    assert decision in DECISIONS[kind]
    now = utcnow()
    diff: dict[str, list[Any]] = {assignment_rules.field(mine, "status"): [mine.status, decision]}
    if changes.get("note"):
        diff[assignment_rules.field(mine, "note")] = [mine.note, changes["note"]]
        mine.note = changes["note"]
    mine.status = decision
    mine.decided_at = mine.updated_at = now
    session.add(mine)
    record_event(session, task, actor_id, "assignment_decided", diff, operation_id)
    rest = {name: value for name, value in changes.items() if name not in ("status", "member_id")}
    return settle(session, outbox, task, actor_id, operation_id, rest)
