"""The rules of a workflow's plan (4me): what holds a task back, and what a task's new
status sets off in the tasks around it.

A task waits while its workflow is being created or has not reached its ``start_at``,
and while any of its predecessors is unfinished (a ``canceled`` predecessor counts as
finished: it will not be done, and waiting for it would stop the plan for ever). What a
status change sets off is returned as ``Step``s, which ``commands.task_change`` applies
through the same transition table, inside the same transaction, one after the other
(each step's own consequences come after it: a breadth-first cascade):

- completed, approved or canceled: each registered successor with an assignee that no
  longer waits is assigned; a task that succeeded cancels its failure task if that has
  not started.
- failed or rejected: the failure task, if any, is assigned (a forward exception flow).
  When the failure task comes before it in the plan (a rework loop), every task from
  the failure task to the failed one goes back to registered with a note saying why,
  and the failure task is assigned again. Without a failure task nothing moves: the
  workflow is ``progress_halted`` (``core.statuses.derive_workflow_status``) until the
  failed task is completed after all.
- Reopening a finished task changes nothing around it.

Every writer of a workflow's tasks holds the workflow's row lock first
(``commands.task_change.lock_task``), so two operations finishing two predecessors of
one task at once take turns, and the second sees the first's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from tasks_service.core.clock import iso
from tasks_service.core.errors import field_error
from tasks_service.core.graph import path, successors_of
from tasks_service.core.statuses import (
    OPEN,
    SATISFIED,
    SUCCEEDED,
    UNSUCCESSFUL,
    TaskImpact,
    TaskStatus,
    WorkflowCompletionReason,
    WorkflowStatus,
    derive_workflow_status,
)
from tasks_service.schedule.timing import has_assignee
from tasks_service.store import lookups
from tasks_service.store.models import Task, TaskDependency, Workflow

#: Impacts from lowest to highest (a workflow's is its tasks' highest).
_IMPACT_ORDER = {impact: rank for rank, impact in enumerate(TaskImpact)}


@dataclass(frozen=True)
class Hold:
    """Why a task cannot start yet: a machine code and the words."""

    code: str
    message: str


@dataclass
class Step:
    """A change the plan makes to another task: its fields, under the name ``action``;
    ``start``: the plan assigns it whatever holds it (its failure path)."""

    task: Task
    changes: dict[str, Any]
    action: str
    start: bool = False
    before: TaskStatus = field(init=False)

    def __post_init__(self) -> None:
        self.before = TaskStatus(self.task.status)


def unfinished_predecessors(session: Session, task_id: int) -> list[int]:
    """The ids of the task's predecessors that it still waits for."""
    query = (
        select(TaskDependency.predecessor_id)
        .join(Task, col(Task.id) == col(TaskDependency.predecessor_id))
        .where(
            TaskDependency.successor_id == task_id,
            col(Task.status).not_in([s.value for s in SATISFIED]),
        )
        .order_by(col(TaskDependency.predecessor_id))
    )
    return list(session.exec(query).all())


def hold(session: Session, task: Task, now: datetime) -> Hold | None:
    """What keeps the task from being assigned now, or None."""
    if task.workflow_id is None:
        return None
    workflow = session.get(Workflow, task.workflow_id)
    held = None if workflow is None else workflow_hold(workflow, now)
    if held is not None or task.id is None:
        return held
    waiting = unfinished_predecessors(session, task.id)
    if waiting:
        listed = ", ".join(f"#{i}" for i in waiting)
        return Hold("predecessors_unfinished", f"it waits for its predecessors {listed}")
    return None


def workflow_hold(workflow: Workflow, now: datetime) -> Hold | None:
    """What keeps every task of the workflow from being assigned now, or None."""
    if workflow.status == WorkflowStatus.being_created:
        return Hold("workflow_being_created", "its workflow is still being created")
    if workflow.start_at is not None and workflow.start_at > now:
        return Hold("workflow_not_started", f"its workflow starts at {iso(workflow.start_at)}")
    return None


def locked_workflows(session: Session) -> set[int]:
    """Workflows this transaction made or locked for a whole plan (an instantiation):
    the tasks it creates need not lock them again, one query each."""
    locked: set[int] = session.info.setdefault("plan_workflows", set())
    return locked


def waiting_ids(session: Session, workflow_id: int) -> set[int]:
    """The workflow's tasks that wait for an unfinished predecessor: one query."""
    query = (
        select(TaskDependency.successor_id)
        .join(Task, col(Task.id) == col(TaskDependency.predecessor_id))
        .where(
            TaskDependency.workflow_id == workflow_id,
            col(Task.status).not_in([s.value for s in SATISFIED]),
        )
    )
    return set(session.exec(query).all())


def held_at_creation(session: Session, task: Task) -> bool:
    """Whether the task was made before its workflow's start (which held it then)."""
    workflow = session.get(Workflow, task.workflow_id) if task.workflow_id else None
    start = workflow.start_at if workflow is not None else None
    return start is not None and start > task.created_at


def links(session: Session, workflow_id: int) -> list[tuple[int, int]]:
    """Every ``(predecessor, successor)`` link of the workflow, in one query."""
    query = select(TaskDependency.predecessor_id, TaskDependency.successor_id).where(
        TaskDependency.workflow_id == workflow_id
    )
    return [(before, after) for before, after in session.exec(query).all()]


def successor_ids(session: Session, task_id: int) -> list[int]:
    query = (
        select(TaskDependency.successor_id)
        .where(TaskDependency.predecessor_id == task_id)
        .order_by(col(TaskDependency.successor_id))
    )
    return list(session.exec(query).all())


def predecessor_ids(session: Session, task_id: int) -> list[int]:
    query = (
        select(TaskDependency.predecessor_id)
        .where(TaskDependency.successor_id == task_id)
        .order_by(col(TaskDependency.predecessor_id))
    )
    return list(session.exec(query).all())


def _lock(session: Session, task: Task, task_id: int) -> Task:
    return lookups.lock(session, Task, task.account_id, task_id)


def consequences(session: Session, task: Task, before: TaskStatus, now: datetime) -> list[Step]:
    """What the task's move from ``before`` to its status sets off (module docstring)."""
    status = TaskStatus(task.status)
    if status == before or task.workflow_id is None:
        return []
    if status in SATISFIED and before not in SATISFIED:
        return _went_on(session, task, status, now)
    if status in UNSUCCESSFUL and before not in UNSUCCESSFUL and task.failure_task_id:
        return _failure_path(session, task, task.failure_task_id)
    return []


def _went_on(session: Session, task: Task, status: TaskStatus, now: datetime) -> list[Step]:
    steps: list[Step] = []
    if status in SUCCEEDED and task.failure_task_id is not None:
        failure = _lock(session, task, task.failure_task_id)
        if failure.status == TaskStatus.registered:
            note = f"Canceled because task #{task.id} succeeded"
            steps.append(Step(failure, {"status": TaskStatus.canceled, "note": note}, "cancel"))
    for successor_id in successor_ids(session, task.id or 0):
        if any(step.task.id == successor_id for step in steps):
            continue  # its failure task, canceled rather than started
        successor = _lock(session, task, successor_id)
        ready = (
            successor.status == TaskStatus.registered
            and has_assignee(successor)
            and hold(session, successor, now) is None
        )
        if ready:
            steps.append(Step(successor, {"status": TaskStatus.assigned}, "assign"))
    return steps


def _failure_path(session: Session, task: Task, failure_id: int) -> list[Step]:
    failure = _lock(session, task, failure_id)
    graph = successors_of(links(session, task.workflow_id or 0))
    if path(graph, failure_id, task.id or 0) is None:
        # forward (or aside): the exception flow starts, whatever it waits for
        if failure.status == TaskStatus.registered and has_assignee(failure):
            return [Step(failure, {"status": TaskStatus.assigned}, "failure_path", start=True)]
        return []
    # upstream: a rework loop, from the failure task down to the failed one
    between = _between(graph, failure_id, task.id or 0)
    note = f"Status set to registered because task #{task.id} has failed"
    steps = [
        Step(_lock(session, task, node), {"status": TaskStatus.registered, "note": note}, "rework")
        for node in between
    ]
    steps = [step for step in steps if step.before != TaskStatus.registered]
    again = TaskStatus.assigned if has_assignee(failure) else TaskStatus.registered
    if failure.status != again:
        steps.append(Step(failure, {"status": again}, "rework", start=True))
    return steps


def _between(graph: dict[int, list[int]], start: int, goal: int) -> list[int]:
    """The tasks on some path from ``start`` (excluded) to ``goal`` (included), in the
    order of the plan: reachable from ``start`` and reaching ``goal``."""
    reverse: dict[int, list[int]] = {}
    for before, afters in graph.items():
        for after in afters:
            reverse.setdefault(after, []).append(before)
    reaching = _reachable(reverse, goal)
    order: list[int] = []
    for node in _reachable(graph, start, ordered=True):
        if node != start and node in reaching:
            order.append(node)
    return order


def _reachable(graph: dict[int, list[int]], start: int, *, ordered: bool = False) -> list[int]:
    """The nodes reachable from ``start`` (itself included), breadth first."""
    seen = {start}
    out = [start]
    index = 0
    while index < len(out):
        for following in (
            sorted(graph.get(out[index], ())) if ordered else graph.get(out[index], ())
        ):
            if following not in seen:
                seen.add(following)
                out.append(following)
        index += 1
    return out


def refresh_workflow(session: Session, workflow_id: int, now: datetime) -> None:
    """Let the workflow's status, impact and completion follow its tasks (unless it is
    being created, or is completed and none of its tasks is open again)."""
    workflow = session.get(Workflow, workflow_id)
    if workflow is None or workflow.status == WorkflowStatus.being_created:
        return
    rows = session.exec(
        select(Task.status, Task.impact, Task.failure_task_id).where(
            Task.workflow_id == workflow_id
        )
    ).all()
    statuses = [TaskStatus(status) for status, _impact, _failure in rows]
    impacts = [TaskImpact(impact) for _status, impact, _failure in rows if impact]
    impact = max(impacts, key=_IMPACT_ORDER.__getitem__) if impacts else None
    # completed (by its tasks, or by hand) stays so until one of its tasks is reopened
    by_hand = workflow.status == WorkflowStatus.completed and not any(s in OPEN for s in statuses)
    status = (
        WorkflowStatus.completed
        if by_hand
        else derive_workflow_status(
            (TaskStatus(s), failure is not None) for s, _impact, failure in rows
        )
    )
    if (status, impact) == (workflow.status, workflow.impact):
        return
    if status != workflow.status and not by_hand:
        done = status == WorkflowStatus.completed
        workflow.completed_at = now if done else None
        workflow.completion_reason = WorkflowCompletionReason.complete if done else None
    workflow.status = status
    workflow.impact = impact
    workflow.updated_at = now
    session.add(workflow)


def waiting_to_start(session: Session, workflow_id: int) -> Sequence[Task]:
    """The workflow's registered tasks that have an assignee, by id: those a start of the
    workflow may assign."""
    query = (
        select(Task)
        .where(Task.workflow_id == workflow_id, Task.status == TaskStatus.registered)
        .order_by(col(Task.id))
    )
    return [task for task in session.exec(query).all() if has_assignee(task)]


def check_failure_task(session: Session, task: Task, failure_id: int | None) -> None:
    """A failure task is another task of the same workflow. Raises: TaskValidationError."""
    if failure_id is None:
        return
    if task.workflow_id is None:
        raise field_error(
            "failure_task_id", "not_in_workflow", "only a task in a workflow has a failure task"
        )
    if failure_id == task.id:
        raise field_error("failure_task_id", "invalid_value", "a task is not its own failure task")
    other = lookups.find(session, Task, task.account_id, failure_id)
    if other is None:
        raise field_error("failure_task_id", "not_found", f"no task {failure_id}")
    if other.workflow_id != task.workflow_id:
        raise field_error(
            "failure_task_id",
            "not_in_workflow",
            f"task {failure_id} is not in workflow {task.workflow_id}",
        )
