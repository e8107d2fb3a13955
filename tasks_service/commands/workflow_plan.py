"""Commands on a workflow's plan: the links between its tasks (4me's predecessors and
successors), and starting the tasks that are ready.

A link joins two tasks of one workflow and never closes a cycle (a link that would is
refused with the cycle named, ids in order). Both directions are one row
(``TaskDependency``), so a task's predecessors and successors always agree. Each link
added or removed is an event on both tasks. A task whose last unfinished predecessor is
unlinked is assigned at once, as when that predecessor finishes (``plan_rules``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session

from tasks_service.commands import plan_rules
from tasks_service.commands.task_change import apply_task_change, record_event, settle_plan
from tasks_service.core.clock import utcnow
from tasks_service.core.errors import NotFound, field_error
from tasks_service.core.graph import cycle_closed_by, successors_of
from tasks_service.core.statuses import SATISFIED, TaskStatus
from tasks_service.notify.outbox import Outbox
from tasks_service.schedule.timing import has_assignee
from tasks_service.store import lookups
from tasks_service.store.models import Task, TaskDependency, Workflow

#: A task's predecessors or successors, by the field that names them.
_LINKED = {
    "predecessor_ids": plan_rules.predecessor_ids,
    "successor_ids": plan_rules.successor_ids,
}


def _check_link(session: Session, predecessor: Task, successor: Task, field: str) -> None:
    """Raises: TaskValidationError naming ``field``."""
    if predecessor.id == successor.id:
        raise field_error(field, "self_link", f"task {predecessor.id} cannot follow itself")
    if predecessor.workflow_id is None or predecessor.workflow_id != successor.workflow_id:
        raise field_error(
            field,
            "not_in_workflow",
            f"tasks {predecessor.id} and {successor.id} are not in the same workflow",
        )
    graph = successors_of(plan_rules.links(session, predecessor.workflow_id))
    cycle = cycle_closed_by(graph, predecessor.id or 0, successor.id or 0)
    if cycle is not None:
        ids = " -> ".join(f"#{i}" for i in cycle)
        raise field_error(
            field,
            "dependency_cycle",
            f"task #{predecessor.id} before #{successor.id} would close the cycle {ids}",
        )
    started = successor.status != TaskStatus.registered
    if started and TaskStatus(predecessor.status) not in SATISFIED:
        raise field_error(
            field,
            "successor_started",
            f"task #{successor.id} is {successor.status}: only a registered task can wait"
            f" for an unfinished task (#{predecessor.id} is {predecessor.status})",
        )


def add_link(
    session: Session,
    predecessor: Task,
    successor: Task,
    person_id: int | None = None,
    operation_id: int | None = None,
    field: str = "predecessor_id",
    quiet: int | None = None,
) -> bool:
    """Store the link ``predecessor -> successor`` (both locked); False when it was
    there already. ``quiet``: a task (being created) whose event tells its links itself.
    Raises: TaskValidationError (``dependency_cycle`` and the others of ``_check_link``)
    naming ``field``."""
    key = (predecessor.id, successor.id)
    if session.get(TaskDependency, key) is not None:
        return False
    _check_link(session, predecessor, successor, field)
    session.add(
        TaskDependency(
            predecessor_id=predecessor.id or 0,
            successor_id=successor.id or 0,
            account_id=predecessor.account_id,
            workflow_id=predecessor.workflow_id or 0,
        )
    )
    session.flush()
    _record_link(session, predecessor, successor, person_id, operation_id, "linked", quiet)
    if quiet is None:  # a task being created settles its plan once it is whole
        settle_plan(session, successor.workflow_id or 0, [], utcnow(), linked=[successor.id or 0])
    return True


def add_planned_links(session: Session, successor: Task, predecessor_ids: list[int]) -> None:
    """Store links of a plan already known to be valid (a workflow template's, checked
    when saved, into a workflow being created), without checking them again: one row
    each, told in the successor's "created" event."""
    session.add_all(
        TaskDependency(
            predecessor_id=predecessor_id,
            successor_id=successor.id or 0,
            account_id=successor.account_id,
            workflow_id=successor.workflow_id or 0,
        )
        for predecessor_id in dict.fromkeys(predecessor_ids)
    )


def remove_link(
    session: Session,
    outbox: Outbox,
    predecessor: Task,
    successor: Task,
    person_id: int | None = None,
    operation_id: int | None = None,
) -> None:
    """Remove the link; the successor is assigned if nothing holds it any more.
    Raises: NotFound when the tasks are not linked."""
    removed = session.exec(
        delete(TaskDependency).where(
            TaskDependency.predecessor_id == predecessor.id,  # type: ignore[arg-type]
            TaskDependency.successor_id == successor.id,  # type: ignore[arg-type]
        )
    )
    if not removed.rowcount:
        raise NotFound(f"task {predecessor.id} is not a predecessor of task {successor.id}")
    _record_link(session, predecessor, successor, person_id, operation_id, "unlinked")
    if not start_if_ready(session, outbox, successor, person_id, operation_id):
        settle_plan(session, successor.workflow_id or 0, [], utcnow(), linked=[successor.id or 0])


def _record_link(
    session: Session,
    predecessor: Task,
    successor: Task,
    person_id: int | None,
    operation_id: int | None,
    action: str,
    quiet: int | None = None,
) -> None:
    now = utcnow()
    for task, name, other in (
        (successor, "predecessor_ids", predecessor.id or 0),
        (predecessor, "successor_ids", successor.id or 0),
    ):
        if task.id == quiet:
            continue
        after = _LINKED[name](session, task.id or 0)
        before = sorted({*after} ^ {other})
        record_event(session, task, person_id, action, {name: [before, after]}, operation_id)
        task.updated_at = now
        session.add(task)


def start_if_ready(
    session: Session,
    outbox: Outbox,
    task: Task,
    person_id: int | None,
    operation_id: int | None = None,
) -> bool:
    """Assign a registered task with an assignee that nothing holds any more."""
    ready = (
        task.status == TaskStatus.registered
        and has_assignee(task)
        and plan_rules.hold(session, task, utcnow()) is None
    )
    if ready:
        changes = {"status": TaskStatus.assigned}
        apply_task_change(session, outbox, task, person_id, changes, "assign", operation_id)
    return ready


def set_links(
    session: Session,
    outbox: Outbox,
    task: Task,
    predecessor_ids: Iterable[int] | None,
    successor_ids: Iterable[int] | None,
    person_id: int | None = None,
    operation_id: int | None = None,
    *,
    quiet: bool = False,
) -> None:
    """Make the task's predecessors and successors exactly these (None: left as they
    are), in one go: links that go are removed, new ones checked and added. ``quiet``:
    the task is being created, and its "created" event tells its links.
    Raises: TaskValidationError naming ``predecessor_ids`` / ``successor_ids``."""
    for wanted, field in ((predecessor_ids, "predecessor_ids"), (successor_ids, "successor_ids")):
        if wanted is None:
            continue
        if task.workflow_id is None and list(wanted):
            raise field_error(field, "not_in_workflow", "only a task in a workflow has links")
        wanted_ids = list(dict.fromkeys(wanted))
        current = _LINKED[field](session, task.id or 0)
        for other_id in current:
            if other_id not in wanted_ids:
                other = _linked_task(session, task, other_id, field)
                pair = (other, task) if field == "predecessor_ids" else (task, other)
                remove_link(session, outbox, *pair, person_id, operation_id)
        for other_id in wanted_ids:
            if other_id not in current:
                other = _linked_task(session, task, other_id, field)
                pair = (other, task) if field == "predecessor_ids" else (task, other)
                silent = task.id if quiet else None
                add_link(session, *pair, person_id, operation_id, field=field, quiet=silent)


def _linked_task(session: Session, task: Task, other_id: int, field: str) -> Task:
    try:
        return task_beside(session, task, other_id)
    except NotFound:
        raise field_error(field, "not_found", f"no task {other_id}") from None


def task_beside(session: Session, task: Task, other_id: int) -> Task:
    """Another task of the account, locked if it is in the (locked) task's workflow;
    one in another workflow is only read (its link will be refused: an operation holds
    one workflow). Raises: TaskNotFound."""
    other = lookups.get(session, Task, task.account_id, other_id)
    if task.workflow_id is not None and other.workflow_id == task.workflow_id:
        return lookups.lock(session, Task, task.account_id, other_id)
    return other


def release(
    session: Session,
    outbox: Outbox,
    workflow: Workflow,
    person_id: int | None,
    operation_id: int | None = None,
    now: datetime | None = None,
    *,
    everything: bool = False,
    made: list[Task] | None = None,
) -> list[Task]:
    """Assign every task of the (locked) workflow that has an assignee and that nothing
    holds any more: after it leaves being_created, or reaches its ``start_at``.
    ``everything``: the workflow's own start moved, which every anticipated assignment
    follows; ``made``: tasks just made (a template's plan), whose phases follow too.
    Returns the tasks assigned."""
    now = now or utcnow()
    started: list[Task] = []
    # not started yet, none of them is ready: its start timers will do this
    held = plan_rules.workflow_hold(workflow, now) is not None
    waiting = set() if held else plan_rules.waiting_ids(session, workflow.id or 0)
    for task in [] if held else plan_rules.waiting_to_start(session, workflow.id or 0):
        if task.id not in waiting:
            changes = {"status": TaskStatus.assigned}
            apply_task_change(
                session,
                outbox,
                task,
                person_id,
                changes,
                "start",
                operation_id,
                start=True,  # nothing holds it: just checked
                cascade=False,
            )
            started.append(task)
    moved = [*(made or []), *started]
    settle_plan(session, workflow.id or 0, moved, now, everything=everything)
    return started
