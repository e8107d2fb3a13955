"""Timers: every future moment the service acts on a task is a row (DESIGN.md, "Time").

A task has at most one timer per kind (and escalation level): ``alert`` (alert_at),
``start`` (start_at), ``wake`` (waiting_until), ``due`` (due_at), ``target``
(completion_target_at) and ``escalation`` (one per level of its policy,
``schedule.escalation``). ``sync`` keeps them in step with the task in the transaction
that changes it: a moment moved before it fires moves the timer, a new moment after
it fired arms it again, a moment cleared (or a task that finished) cancels it.

Firing, in three steps, none of which can make a timer take effect twice:

1. The one-second sweep asks ``any_due`` (one indexed probe: due now, or within the
   next second) and, if so, wakes workers. A woken worker that finds a timer due within
   the next second waits for its moment (``next_pending``) and claims it then, so that
   timers fire on time rather than at the next sweep after their moment.
2. A woken worker claims a few due timers with ``do_claim_due`` (any number of them at
   once): ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, an ``UPDATE ... RETURNING`` on
   SQLite (whose writers are serialized). Claims are made by the worker that works on
   them, never queued, so only a killed worker leaves one behind: a claim older than
   ``CLAIM_TIMEOUT`` can be claimed again.
3. ``commands.firing.do_fire_timers`` applies a claimed chunk in one transaction with the
   tasks it acts on (``lock_chunk``; one savepoint per timer if the chunk as a whole
   fails) and marks each fired there; a timer already fired, or moved since its claim,
   is left alone (``still_claimed``).

A timer that fires more than ``timer_late_after`` (a setting, 60 s) after its moment
(the service was down) is marked ``late``, in its events and its notifications' payload
(``"late": true``); every kind still acts when late (an alert two days late is still
worth sending, flagged so), except where the task has moved on (a wake-up for a task no
longer waiting does nothing).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from tasks_service.core import metrics
from tasks_service.core.statuses import FINISHED, TaskStatus, TimerKind, TimerState
from tasks_service.schedule import escalation
from tasks_service.schedule.timing import Timed, has_assignee
from tasks_service.store import lookups
from tasks_service.store.db import claim_rows, is_postgres
from tasks_service.store.models import Task, Timer, Workflow

CLAIM_TIMEOUT = timedelta(seconds=20)
LATE_AFTER = timedelta(seconds=60)


def _moments(task: Timed, workflow_start: datetime | None) -> dict[TimerKind, datetime | None]:
    """When each kind of timer should fire for this task as it is now (None: not);
    ``workflow_start``: its workflow's ``start_at``, which it is not assigned before."""
    status = TaskStatus(task.status)
    finished = status in FINISHED
    assignee = has_assignee(task)
    starts = [moment for moment in (task.start_at, workflow_start) if moment is not None]
    return {
        TimerKind.alert: None if finished else task.alert_at,
        TimerKind.start: (
            max(starts) if starts and status == TaskStatus.registered and assignee else None
        ),
        TimerKind.wake: task.waiting_until if status == TaskStatus.waiting_for else None,
        TimerKind.due: None if finished else task.due_at,
        TimerKind.target: None if finished else task.completion_target_at,
    }


Key = tuple[TimerKind, int]  # kind, escalation level (0 for the others)
Rows = dict[Key, Timer]
#: What a task wants of its timers: ``{(kind, level): (moment or None, anchor)}``.
Wanted = dict[Key, tuple[datetime | None, str | None]]


def wanted(session: Session, task: Timed) -> Wanted:
    """Every timer the task should have now: its moments, and its escalation levels."""
    moments = _moments(task, _workflow_start(session, task))
    out: Wanted = {(kind, 0): (moment, None) for kind, moment in moments.items()}
    for level, pair in escalation.wanted(session, task).items():
        out[(TimerKind.escalation, level)] = pair
    return out


def _workflow_start(session: Session, task: Timed) -> datetime | None:
    """The ``start_at`` of the workflow of a registered task (none for the others: only
    a registered task waits to start)."""
    if task.workflow_id is None or task.status != TaskStatus.registered:
        return None
    workflow = lookups.keep(session, session.get(Workflow, task.workflow_id))
    return None if workflow is None else workflow.start_at


def load(session: Session, task_ids: list[int]) -> dict[int, Rows]:
    """The timers of these tasks, by task, then by (kind, level): one query."""
    out: dict[int, Rows] = {task_id: {} for task_id in task_ids}
    for row in session.exec(select(Timer).where(col(Timer.task_id).in_(task_ids))):
        out[row.task_id][(TimerKind(row.kind), row.level)] = row
    return out


Change = tuple[Key, str, datetime | None, str | None]


def plan(rows: Rows, want: Wanted, now: datetime) -> list[Change]:
    """What to do to ``rows`` for the task to have ``want``: ``(key, change, moment,
    anchor)`` with change ``insert``, ``rearm`` or ``cancel``. Levels of a policy that
    no longer applies (or lost levels) are canceled."""
    changes: list[Change] = []
    for key, (moment, anchor) in want.items():
        change = decide(rows.get(key), moment, now, anchor)
        if change is not None:
            changes.append((key, change, moment, anchor))
    for key, row in rows.items():
        if key not in want and row.state in (TimerState.pending, TimerState.claimed):
            changes.append((key, "cancel", None, None))
    return changes


def sync(session: Session, task: Task, now: datetime, *, new: bool = False) -> None:
    """Make the task's timers match its fields (same transaction as the change; a
    ``new`` task has none yet, which saves looking)."""
    assert task.id is not None
    rows = {} if new else load(session, [task.id])[task.id]
    for (kind, level), change, moment, anchor in plan(rows, wanted(session, task), now):
        if change == "insert":
            assert moment is not None
            session.add(
                Timer(
                    account_id=task.account_id,
                    task_id=task.id,
                    kind=kind,
                    level=level,
                    fire_at=moment,
                    anchor=anchor,
                )
            )
        else:
            row = rows[(kind, level)]
            for name, value in change_values(change, moment, anchor).items():
                setattr(row, name, value)
            session.add(row)
    if task.overdue and not is_overdue(task, now):
        task.overdue = False  # its moments moved out (or it finished): not overdue now


def decide(
    row: Timer | None, moment: datetime | None, now: datetime, anchor: str | None = None
) -> str | None:
    """What a timer needs for its task's moment to be ``moment``: ``insert``, ``rearm``
    (moved, or set again after it fired or was canceled), ``cancel``, or nothing.

    An escalation level that fired stays fired for its anchor (once per target), and
    for a new anchor too when its new moment has passed already."""
    if moment is None:
        return (
            "cancel"
            if row is not None and row.state in (TimerState.pending, TimerState.claimed)
            else None
        )
    if row is None:
        return "insert"
    if row.kind == TimerKind.escalation and row.state == TimerState.fired:
        return None if row.anchor == anchor or moment <= now else "rearm"
    if row.fire_at != moment or row.state == TimerState.canceled or row.anchor != anchor:
        return "rearm"
    return None


def change_values(change: str, moment: datetime | None, anchor: str | None) -> dict[str, object]:
    """The columns a ``rearm`` or ``cancel`` sets."""
    if change == "cancel":
        return {"state": TimerState.canceled}
    return {
        "fire_at": moment,
        "state": TimerState.pending,
        "claimed_at": None,
        "late": False,
        "anchor": anchor,
    }


def is_overdue(task: Timed, now: datetime) -> bool:
    """Whether a passed due_at or target still makes the task overdue."""
    moments = _moments(task, None)
    due, target = moments[TimerKind.due], moments[TimerKind.target]
    return any(m is not None and m <= now for m in (due, target))


def do_claim_due(
    session: Session, now: datetime, limit: int = 500, stale_after: timedelta = CLAIM_TIMEOUT
) -> list[int]:
    """Claim up to ``limit`` timers that are due (or claimed more than ``stale_after``
    ago and not fired: a killed worker), soonest first."""
    values = {"state": TimerState.claimed, "claimed_at": now, "attempts": col(Timer.attempts) + 1}
    return claim_rows(
        session, Timer, _claimable(now, stale_after), col(Timer.fire_at), values, limit
    )


def any_due(
    session: Session,
    now: datetime,
    stale_after: timedelta = CLAIM_TIMEOUT,
    ahead: timedelta = timedelta(0),
) -> bool:
    """Whether a claim would find anything now, or a timer comes due within ``ahead``
    (the sweep's question: one indexed probe)."""
    soon = (col(Timer.state) == TimerState.pending) & (col(Timer.fire_at) <= now + ahead)
    probe = select(Timer.id).where(_claimable(now, stale_after) | soon).limit(1)
    return session.exec(probe).first() is not None


def next_pending(session: Session, until: datetime) -> datetime | None:
    """The moment of the soonest pending timer, if it comes by ``until`` (one indexed
    probe): a woken worker waits for it rather than for the next sweep."""
    probe = (
        select(Timer.fire_at)
        .where(col(Timer.state) == TimerState.pending, col(Timer.fire_at) <= until)
        .order_by(col(Timer.fire_at))
        .limit(1)
    )
    return session.exec(probe).first()


def _claimable(now: datetime, stale_after: timedelta) -> Any:
    due = (col(Timer.state) == TimerState.pending) & (col(Timer.fire_at) <= now)
    lost = (col(Timer.state) == TimerState.claimed) & (col(Timer.claimed_at) < now - stale_after)
    return due | lost


def lock_claimed(
    session: Session, timer_id: int, now: datetime, late_after: timedelta = LATE_AFTER
) -> Timer | None:
    """The timer, row-locked, if it is still claimed and due; else None (fired already,
    or moved or canceled since the claim)."""
    query = select(Timer).where(Timer.id == timer_id)
    if is_postgres(session):
        query = query.with_for_update()
    timer = session.exec(query.execution_options(populate_existing=True)).first()
    return timer if timer is not None and still_claimed(timer, now, late_after) else None


def lock_chunk(session: Session, timer_ids: list[int]) -> tuple[list[Task], list[Timer]]:
    """A chunk's workflows, its tasks, then its timers, row-locked (each in id order, the
    order any other chunk or change takes them: no deadlock; a task's workflow comes
    first, as for every change to a task, ``commands.task_change.lock_task``)."""
    task_ids = select(Timer.task_id).where(col(Timer.id).in_(timer_ids))
    tasks = select(Task).where(col(Task.id).in_(task_ids))
    rows = select(Timer).where(col(Timer.id).in_(timer_ids))
    if is_postgres(session):
        workflows = select(Workflow.id).where(
            col(Workflow.id).in_(select(Task.workflow_id).where(col(Task.id).in_(task_ids)))
        )
        session.exec(workflows.order_by(col(Workflow.id)).with_for_update()).all()
        tasks, rows = tasks.with_for_update(), rows.with_for_update()
    fresh = {"populate_existing": True}
    locked = session.exec(tasks.order_by(col(Task.id)).execution_options(**fresh)).all()
    return list(locked), list(session.exec(rows.order_by(col(Timer.id)).execution_options(**fresh)))


def still_claimed(timer: Timer, now: datetime, late_after: timedelta = LATE_AFTER) -> bool:
    """Whether a (locked) timer is still claimed and due, and so is to fire now; sets
    its ``late`` flag."""
    if timer.state != TimerState.claimed or timer.fire_at > now:
        return False
    timer.late = now - timer.fire_at > late_after
    return True


def mark_fired(session: Session, timer: Timer, now: datetime) -> None:
    timer.state, timer.fired_at = TimerState.fired, now
    metrics.TIMER_LAG.labels(timer.kind).observe((now - timer.fire_at).total_seconds())
    session.add(timer)
