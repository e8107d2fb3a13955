"""Anticipated assignments: when each task of a workflow is expected to be assigned and
to be done, by one forward pass over the workflow's graph (issue 15).

The rule, for each task in topological order:

- finished (``FINISHED``): assigned at its ``assigned_at`` (None if it never was), done
  at its ``finished_at``;
- active (``ACTIVE``): assigned at its ``assigned_at``, done at its
  ``completion_target_at`` or, with none (the clock stopped, or no target yet), at
  ``assigned_at`` plus its ``planned_duration`` of service time on its calendar (at
  ``assigned_at`` with no planned duration). This is not pulled forward to ``now``: an
  overdue task's anticipated completion stays its (past) target. Its successors do not
  go back in time for it: they are never anticipated before ``now`` (below);
- registered or declined: assigned at the latest of ``now``, its ``start_at``, the
  workflow's ``start_at`` and the anticipated completion of each predecessor; done
  ``planned_duration`` of service time later on its calendar (``Task.calendar_id``,
  None for 24x7; at once with no planned duration). The same rule as
  ``completion_target_at`` (``schedule.targets``), from the anticipated assignment.

A moment that cannot be foreseen is None and so is everything after it: a task whose
service time would run past the calendar's range (the year 2999), an active task
without ``assigned_at`` and target, and every task downstream of one (it waits for
something without a moment). The workflow's ``completion_target_at`` is the latest
anticipated completion of its tasks: None with no tasks, or when one cannot be foreseen.

``forward_pass`` is the arithmetic on plain values, O(V+E) plus one calendar addition per
task it recomputes. ``anticipate`` runs it on a workflow's stored rows inside the
caller's transaction and writes only what moved. Given the tasks whose inputs changed,
it reuses the stored values of the others: a task is recomputed when it changed, when
the anticipated completion of a predecessor moved, or when its stored values are stale
(a waiting task anticipated before ``now``: time has moved on since, or never
computed). It then reads only what lies downstream of those tasks, with the latest
stored completion of their other predecessors, so that finishing the last task of a
1,000-task plan costs what it does in a 10-task one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import Column, ColumnElement, and_, func, or_, select, update
from sqlmodel import Session, col

from tasks_service.core.errors import TaskValidationError
from tasks_service.core.graph import topological_order
from tasks_service.core.statuses import ACTIVE, FINISHED, OPEN, TaskStatus
from tasks_service.schedule.calendar_store import calendar_by_id
from tasks_service.store import lookups
from tasks_service.store.models import Task, TaskDependency, Workflow

#: A task's anticipated (assignment, completion); either may be None (not foreseeable).
Anticipated = tuple[datetime | None, datetime | None]


class ServiceClock(Protocol):
    """What the pass asks of a calendar (``schedule.calendar.Calendar``)."""

    def add_service_time(self, start: datetime, duration: timedelta) -> datetime: ...


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What a task's anticipation depends on, and what was stored for it last time."""

    id: int
    status: TaskStatus
    planned_duration: int | None = None
    calendar_id: int | None = None  # None: 24x7
    start_at: datetime | None = None
    assigned_at: datetime | None = None
    finished_at: datetime | None = None
    completion_target_at: datetime | None = None
    anticipated_assignment_at: datetime | None = None
    anticipated_completion_at: datetime | None = None

    @property
    def stored(self) -> Anticipated:
        return self.anticipated_assignment_at, self.anticipated_completion_at


_STATUSES = {status.value: status for status in TaskStatus}  # faster than TaskStatus(x)
#: Waiting for assignment: anticipated from ``now`` on.
WAITING: Final = OPEN - ACTIVE
#: Beyond this many tasks downstream of a change, ``anticipate`` reads the whole
#: workflow in one query (rather than lists of ids that long).
WHOLE_BEYOND = 400

#: The columns ``anticipate`` reads, in ``TaskFacts``'s order.
_COLUMNS: tuple[Column[Any], ...] = tuple(
    Task.__table__.c[name]  # type: ignore[attr-defined]
    for name in (
        "id",
        "status",
        "planned_duration",
        "calendar_id",
        "start_at",
        "assigned_at",
        "finished_at",
        "completion_target_at",
        "anticipated_assignment_at",
        "anticipated_completion_at",
    )
)


def forward_pass(
    tasks: Sequence[TaskFacts],
    edges: Iterable[tuple[int, int]],
    calendar_of: Callable[[int | None], ServiceClock],
    now: datetime,
    *,
    workflow_start_at: datetime | None = None,
    changed: Collection[int] | None = None,
    outside: Mapping[int, datetime | None] | None = None,
) -> dict[int, Anticipated]:
    """Every task's anticipated (assignment, completion) by the module's rule.

    ``edges`` are (predecessor, successor) ids; those naming a task not in ``tasks`` are
    left out. ``calendar_of`` gives the calendar of a ``calendar_id`` (asked only when
    there is service time to add). With ``changed`` (the ids whose inputs changed), a
    task that did not change, none of whose predecessors' completions moved and whose
    stored values are not stale keeps its stored values (``TaskFacts.stored``); with
    None, every task is computed. ``outside``: for a task with predecessors that are
    not among ``tasks`` (and did not move), the latest of their anticipated
    completions (None when one cannot be foreseen). O(V+E).

    Raises: ValueError when the edges close a cycle (the links never do).
    """
    by_id = {task.id: task for task in tasks}
    predecessors: dict[int, list[int]] = defaultdict(list)
    links = []
    for before, after in edges:
        if before in by_id and after in by_id:
            predecessors[after].append(before)
            links.append((before, after))
    dirty = None if changed is None else set(changed)
    out: dict[int, Anticipated] = {}
    moved: set[int] = set()  # tasks whose anticipated completion differs from the stored
    for task_id in topological_order(by_id, links):
        task = by_id[task_id]
        waits = predecessors.get(task_id, ())
        if dirty is not None and _reusable(task, now, dirty, moved, waits):
            result = task.stored
        else:
            completions = [out[p][1] for p in waits]
            if outside and task_id in outside:
                completions.append(outside[task_id])
            result = _anticipated(task, completions, calendar_of, now, workflow_start_at)
        out[task_id] = result
        if result[1] != task.anticipated_completion_at:
            moved.add(task_id)
    return out


def _reusable(
    task: TaskFacts, now: datetime, dirty: set[int], moved: set[int], waits: Iterable[int]
) -> bool:
    """The stored values still hold: nothing the task depends on has changed."""
    if task.id in dirty or task.anticipated_completion_at is None:
        return False
    if any(p in moved for p in waits):
        return False
    if task.status not in WAITING:
        return True
    # Waiting: the latest of now and fixed moments. Stored at or after now, now added
    # nothing to it then and adds nothing now; before now, time has moved on.
    assignment = task.anticipated_assignment_at
    return assignment is not None and assignment >= now


def _anticipated(
    task: TaskFacts,
    completions: list[datetime | None],
    calendar_of: Callable[[int | None], ServiceClock],
    now: datetime,
    workflow_start_at: datetime | None,
) -> Anticipated:
    """One task by the rule, given its predecessors' anticipated completions."""
    if task.status in FINISHED:
        return _utc(task.assigned_at), _utc(task.finished_at)
    if task.status in ACTIVE:
        if task.completion_target_at is not None:
            return _utc(task.assigned_at), _utc(task.completion_target_at)
        if task.assigned_at is None:
            return None, None
        return _utc(task.assigned_at), _done(task, task.assigned_at, calendar_of)
    if None in completions:
        return None, None
    moments = [now, task.start_at, workflow_start_at, *completions]
    assignment = max(moment for moment in moments if moment is not None).astimezone(UTC)
    return assignment, _done(task, assignment, calendar_of)


def _done(
    task: TaskFacts, begin: datetime, calendar_of: Callable[[int | None], ServiceClock]
) -> datetime | None:
    """``begin`` plus the task's planned duration of service time on its calendar; None
    when that runs past the calendar's range."""
    if task.planned_duration is None:
        return begin.astimezone(UTC)
    try:
        calendar = calendar_of(task.calendar_id)
        return calendar.add_service_time(begin, timedelta(minutes=task.planned_duration))
    except TaskValidationError:  # beyond the year 2999 (or a duration out of range)
        return None


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def latest_completion(results: Iterable[Anticipated]) -> datetime | None:
    """A workflow's completion target: the latest anticipated completion of its tasks
    (None with no tasks, or when one of them cannot be foreseen)."""
    latest: datetime | None = None
    for _assignment, completion in results:
        if completion is None:
            return None
        latest = completion if latest is None or completion > latest else latest
    return latest


def anticipate(
    session: Session,
    workflow_id: int,
    now: datetime,
    changed: Collection[int] | None = None,
) -> dict[int, Anticipated]:
    """Recompute the anticipated assignment and completion of the workflow's tasks, and
    its ``completion_target_at``. Returns the tasks whose values moved (as written).

    ``changed``: the ids of the tasks whose inputs changed (status, assigned_at,
    finished_at, completion target, planned_duration, start_at, calendar, links into
    them); only what lies downstream of them (and of stale values) is read and
    recomputed. None (a changed workflow ``start_at``, or when unsure) recomputes every
    task.

    A few queries whatever the workflow's size, none per task; one executemany UPDATE
    of the rows that moved (the session's own rows of them show the new values); the
    workflow row is changed through the session. Runs in the caller's transaction,
    which holds the workflow's row lock (``lookups.lock``); never commits.

    Raises: NotFound (no such workflow).
    """
    workflow = session.get(Workflow, workflow_id)
    if workflow is None:
        raise lookups.not_found(Workflow, workflow_id)
    calendars: dict[int | None, ServiceClock] = {}

    def calendar_of(calendar_id: int | None) -> ServiceClock:
        if calendar_id not in calendars:
            calendars[calendar_id] = calendar_by_id(session, calendar_id)
        return calendars[calendar_id]

    part = None if changed is None else _downstream(session, workflow_id, set(changed), now)
    if part is None:  # the whole workflow
        tasks = _facts(session, col(Task.workflow_id) == workflow_id)
        links = session.execute(
            select(col(TaskDependency.predecessor_id), col(TaskDependency.successor_id)).where(
                col(TaskDependency.workflow_id) == workflow_id
            )
        ).all()
        outside: dict[int, datetime | None] = {}
    else:
        tasks, links, outside = part
    results = forward_pass(
        tasks,
        [(before, after) for before, after in links],
        calendar_of,
        now,
        workflow_start_at=workflow.start_at,
        changed=changed,
        outside=outside,
    )
    moved = {task.id: results[task.id] for task in tasks if results[task.id] != task.stored}
    _write(session, moved)
    if part is None:
        target = latest_completion(results.values())
    else:
        target = _stored_target(session, workflow_id)
    if workflow.completion_target_at != target:
        workflow.completion_target_at = target
        session.add(workflow)
    return moved


def _facts(
    session: Session, where: ColumnElement[bool], limit: int | None = None
) -> list[TaskFacts]:
    """The facts of the tasks ``where`` selects (up to ``limit``), in one query."""
    query = select(*_COLUMNS).where(where)
    if limit is not None:
        query = query.order_by(col(Task.id)).limit(limit)
    return [
        TaskFacts(
            id=row[0],
            status=_STATUSES[row[1]],
            planned_duration=row[2],
            calendar_id=row[3],
            start_at=row[4],
            assigned_at=row[5],
            finished_at=row[6],
            completion_target_at=row[7],
            anticipated_assignment_at=row[8],
            anticipated_completion_at=row[9],
        )
        for row in session.execute(query)
    ]


def _downstream(
    session: Session, workflow_id: int, changed: set[int], now: datetime
) -> tuple[list[TaskFacts], list[Any], dict[int, datetime | None]] | None:
    """What a pass after a change to ``changed`` needs: the tasks downstream of them
    and of every stale task (those included), the links among those, and for each the
    latest stored completion of its predecessors outside them (which nothing moved).
    None when that is more than ``WHOLE_BEYOND`` tasks: read the whole workflow then."""
    stale = or_(
        col(Task.anticipated_completion_at).is_(None),
        and_(
            col(Task.status).in_(sorted(WAITING)),
            or_(
                col(Task.anticipated_assignment_at).is_(None),
                col(Task.anticipated_assignment_at) < now,
            ),
        ),
    )
    seeds = select(col(Task.id)).where(
        col(Task.workflow_id) == workflow_id,
        or_(col(Task.id).in_(sorted(changed)), stale) if changed else stale,
    )
    down = seeds.cte("down", recursive=True)
    down = down.union(
        select(col(TaskDependency.successor_id)).join(
            down, col(TaskDependency.predecessor_id) == down.c.id
        )
    )
    tasks = _facts(session, col(Task.id).in_(select(down.c.id)), limit=WHOLE_BEYOND + 1)
    if len(tasks) > WHOLE_BEYOND:
        return None
    ids = sorted(task.id for task in tasks)
    if not ids:
        return [], [], {}
    links = session.execute(
        select(col(TaskDependency.predecessor_id), col(TaskDependency.successor_id)).where(
            col(TaskDependency.successor_id).in_(ids), col(TaskDependency.predecessor_id).in_(ids)
        )
    ).all()
    # Outside predecessors: neither changed, nor stale, nor downstream of either.
    latest = session.execute(
        select(
            col(TaskDependency.successor_id),
            func.max(col(Task.anticipated_completion_at)),
            func.count(col(Task.id)) - func.count(col(Task.anticipated_completion_at)),
        )
        .join(Task, col(Task.id) == col(TaskDependency.predecessor_id))
        .where(
            col(TaskDependency.successor_id).in_(ids),
            col(TaskDependency.predecessor_id).not_in(ids),
        )
        .group_by(col(TaskDependency.successor_id))
    ).all()
    outside = {task_id: (None if unknown else moment) for task_id, moment, unknown in latest}
    return tasks, list(links), outside


def _stored_target(session: Session, workflow_id: int) -> datetime | None:
    """``latest_completion`` of the workflow's tasks as stored (after the UPDATE)."""
    latest, unknown, count = session.execute(
        select(
            func.max(col(Task.anticipated_completion_at)),
            func.count(col(Task.id)) - func.count(col(Task.anticipated_completion_at)),
            func.count(col(Task.id)),
        ).where(col(Task.workflow_id) == workflow_id)
    ).one()
    return None if unknown or not count else latest


def _write(session: Session, moved: dict[int, Anticipated]) -> None:
    """One executemany UPDATE by primary key. (SQLAlchemy sets the new values on the
    session's own rows of those tasks as loaded, so the caller sees them and a later
    flush does not write them again.)"""
    if not moved:
        return
    values: list[dict[str, Any]] = [
        {"id": task_id, "anticipated_assignment_at": a, "anticipated_completion_at": c}
        for task_id, (a, c) in moved.items()
    ]
    session.execute(update(Task), values)
