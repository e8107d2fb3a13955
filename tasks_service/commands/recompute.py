"""Recomputing targets after a calendar change: a fan-out operation with progress.

A change to a calendar's rules, to the calendar a team or workflow names, or to the
account's default moves the targets of open tasks. That work is an ``Operation`` of
kind ``calendar.recompute`` whose payload names the scope (``calendar_id``,
``team_id``, ``workflow_id``, or the whole account):

1. The command that makes the change records it, in its transaction
   (``store.background.request_recompute``), and returns it.
2. ``do_plan`` (a worker) splits the open tasks in scope into batches of consecutive
   ids (``OperationBatch`` rows) and sets ``progress_total``. Planning twice plans once.
3. ``do_run_batch`` (workers, in parallel) recomputes one batch in one transaction,
   marks it done and adds its size to ``progress_done``; the batch that completes the
   count marks the operation succeeded. A batch already done changes nothing, so a
   redelivered message or a re-enqueued plan is harmless.
4. ``run_batch`` then brings the anticipated assignments of the batch's workflows up
   to date (``schedule.anticipation``): a calendar moves the tasks waiting in a plan
   too, and everything downstream of them. Each workflow in a transaction of its own,
   its row locked first, as every writer locks a workflow before its tasks (the
   batch's transaction holds task rows: locking workflows there would invert that).
   It runs whether or not the batch was done already, so a worker that died between
   the two transactions leaves the redelivered message to finish the job.

``GET /v1/operations/:id`` shows ``progress: {done, total}`` meanwhile. The recovery
sweep hands pending recomputes to ``do_plan`` again, which re-enqueues unfinished
batches: a lost message delays a recompute, never loses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from tasks_service.core.clock import iso, utcnow
from tasks_service.core.errors import NotFound
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import OPEN, OperationStatus, TimerState
from tasks_service.schedule import anticipation, targets, timers
from tasks_service.schedule.timing import Timing
from tasks_service.store import lookups
from tasks_service.store.background import RECOMPUTE
from tasks_service.store.db import is_postgres, session_scope
from tasks_service.store.models import (
    Account,
    Calendar,
    EscalationPolicy,
    Operation,
    OperationBatch,
    Task,
    TaskEvent,
    Team,
    Timer,
    Workflow,
)

BATCH_SIZE = 500


def _in_scope(op: Operation) -> list[Any]:
    conditions = [col(Task.account_id) == op.account_id, col(Task.status).in_(sorted(OPEN))]
    for name, value in op.payload.get("scope", {}).items():
        conditions.append(getattr(Task, name) == value)
    return conditions


def do_plan(session: Session, operation_id: int) -> list[int]:
    """Split the recompute into batches (once); returns the batches still to run."""
    query = select(Operation).where(Operation.id == operation_id)
    if is_postgres(session):
        query = query.with_for_update()
    op = session.exec(query).first()
    if op is None or op.kind != RECOMPUTE or op.status != OperationStatus.pending:
        return []
    if op.progress_total is None:
        ids = list(session.exec(select(Task.id).where(*_in_scope(op)).order_by(col(Task.id))))
        for seq, start in enumerate(range(0, len(ids), BATCH_SIZE)):
            chunk = ids[start : start + BATCH_SIZE]
            session.add(
                OperationBatch(
                    operation_id=operation_id,
                    seq=seq,
                    first_id=chunk[0] or 0,
                    last_id=chunk[-1] or 0,
                    size=len(chunk),
                )
            )
        op.progress_total, op.progress_done = len(ids), 0
        if not ids:
            _succeed(op, 0)
        op.updated_at = utcnow()
        session.add(op)
        session.flush()
    return list(
        session.exec(
            select(OperationBatch.seq)
            .where(
                OperationBatch.operation_id == operation_id, col(OperationBatch.done_at).is_(None)
            )
            .order_by(col(OperationBatch.seq))
        )
    )


def _succeed(op: Operation, total: int) -> None:
    now = utcnow()
    op.status = OperationStatus.succeeded
    op.result = {"recomputed": total}
    op.finished_at = op.updated_at = now


def do_run_batch(session: Session, operation_id: int, seq: int) -> int:
    """Recompute one batch (once). Returns how many targets or calendars changed."""
    query = select(OperationBatch).where(
        OperationBatch.operation_id == operation_id, OperationBatch.seq == seq
    )
    if is_postgres(session):
        query = query.with_for_update()
    batch = session.exec(query).first()
    if batch is None or batch.done_at is not None:
        return 0
    op = session.get(Operation, operation_id)
    assert op is not None
    tasks_query = (
        select(Task)
        .where(*_in_scope(op), col(Task.id) >= batch.first_id, col(Task.id) <= batch.last_id)
        .order_by(col(Task.id))
    )
    if is_postgres(session):
        tasks_query = tasks_query.with_for_update()  # in id order, as commands lock one
    tasks = list(session.exec(tasks_query))
    # Held here: the session's identity map keeps rows only while something refers to
    # them, and ``applicable_calendar_id`` looks them up there by primary key.
    held = _preload(session, tasks)
    task_timers = timers.load(session, [t.id for t in tasks if t.id is not None])
    now = utcnow()
    # Computed first, written after in a few executemany statements: ORM objects per
    # changed row would cost more than the arithmetic (and each lookup would flush).
    writes = _Writes()
    with session.no_autoflush:
        for task in tasks:
            _recompute(session, task, task_timers.get(task.id or 0, {}), operation_id, now, writes)
    del held
    writes.run(session)
    changed = len(writes.tasks)
    batch.done_at = now
    session.add(batch)
    session.flush()
    # Count this batch in; the batch that completes the count finishes the operation.
    # The UPDATE holds the operation's row lock, so exactly one batch sees the total.
    done = session.execute(
        update(Operation)
        .where(col(Operation.id) == operation_id)
        .values(progress_done=col(Operation.progress_done) + batch.size, updated_at=now)
        .returning(col(Operation.progress_done))
    ).scalar_one()
    if done >= (op.progress_total or 0):
        session.refresh(op)
        _succeed(op, op.progress_total or 0)
        session.add(op)
    return changed


@dataclass
class _Writes:
    """A batch's changes as rows for executemany."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    new_timers: list[dict[str, Any]] = field(default_factory=list)
    timer_changes: list[dict[str, Any]] = field(default_factory=list)

    def run(self, session: Session) -> None:
        for statement, rows in (
            (update(Task), self.tasks),
            (insert(TaskEvent), self.events),
            (insert(Timer), self.new_timers),
            (update(Timer), self.timer_changes),
        ):
            if rows:
                session.execute(statement, rows)


def _recompute(
    session: Session,
    task: Task,
    rows: timers.Rows,
    operation_id: int,
    now: datetime,
    writes: _Writes,
) -> None:
    """One task's calendar, target and the timers that follow them (target, escalation
    levels); an event if the target moved."""
    calendar_id, target = targets.recomputed(session, task)
    before = task.completion_target_at
    # The task as it will be, as plain values: the loaded row stays as read (changing it
    # would have the ORM write it again, row by row).
    moved = Timing.of(task, completion_target_at=target, calendar_id=calendar_id)
    changes = timers.plan(rows, timers.wanted(session, moved), now)
    if (calendar_id, target) == (task.calendar_id, before) and not changes:
        return
    writes.tasks.append(
        {
            "id": task.id,
            "calendar_id": calendar_id,
            "completion_target_at": target,
            "updated_at": now,
            "overdue": task.overdue and timers.is_overdue(moved, now),
        }
    )
    _timer_writes(task, rows, changes, now, writes)
    if before != target:
        writes.events.append(
            {
                "account_id": task.account_id,
                "task_id": task.id,
                "person_id": None,
                "action": "calendar_changed",
                "changes": {"completion_target_at": [iso(before), iso(target)]},
                "operation_id": operation_id,
                "created_at": now,
            }
        )


def _timer_writes(
    task: Task, rows: timers.Rows, changes: list[timers.Change], now: datetime, writes: _Writes
) -> None:
    """The rows that a task's timer changes insert or update (``timers.plan``)."""
    for (kind, level), change, moment, anchor in changes:
        if change == "insert":
            writes.new_timers.append(
                {
                    "account_id": task.account_id,
                    "task_id": task.id,
                    "kind": kind,
                    "level": level,
                    "fire_at": moment,
                    "state": TimerState.pending,
                    "attempts": 0,
                    "late": False,
                    "anchor": anchor,
                    "created_at": now,
                }
            )
        else:
            values = {
                "fire_at": rows[(kind, level)].fire_at,
                "claimed_at": rows[(kind, level)].claimed_at,
                "late": rows[(kind, level)].late,
                "anchor": rows[(kind, level)].anchor,
                **timers.change_values(change, moment, anchor),
            }
            writes.timer_changes.append({"id": rows[(kind, level)].id, **values})


def _preload(session: Session, tasks: list[Task]) -> list[Any]:
    """The teams, workflows, account and calendars of a batch, a query each, so that
    ``applicable_calendar_id`` finds them in the session (while the caller holds them)."""
    team_ids = {t.team_id for t in tasks if t.team_id}
    workflow_ids = {t.workflow_id for t in tasks if t.workflow_id}
    holders: list[Team | Workflow | Account] = [
        *session.exec(select(Team).where(col(Team.id).in_(team_ids))),
        *session.exec(select(Workflow).where(col(Workflow.id).in_(workflow_ids))),
        *session.exec(select(Account).where(col(Account.id).in_({t.account_id for t in tasks}))),
    ]
    calendar_ids = {row.calendar_id for row in holders if row.calendar_id is not None}
    calendars = list(session.exec(select(Calendar).where(col(Calendar.id).in_(calendar_ids))))
    policy_ids = {row.escalation_policy_id for row in holders if row.escalation_policy_id}
    policies = list(
        session.exec(select(EscalationPolicy).where(col(EscalationPolicy.id).in_(policy_ids)))
    )
    return [*holders, *calendars, *policies]


def workflows_of_batch(
    session: Session, operation_id: int, seq: int
) -> tuple[int, dict[int, list[int]]]:
    """The account, and the workflows that the batch's tasks are in, each with those
    tasks' ids. Every one of them, not only those whose target moved: a calendar's new
    rules move a waiting task's anticipated completion without touching its row."""
    op = session.get(Operation, operation_id)
    batch = session.exec(
        select(OperationBatch).where(
            OperationBatch.operation_id == operation_id, OperationBatch.seq == seq
        )
    ).first()
    if op is None or batch is None:
        return 0, {}
    rows = session.exec(
        select(Task.workflow_id, Task.id).where(
            *_in_scope(op),
            col(Task.id) >= batch.first_id,
            col(Task.id) <= batch.last_id,
            col(Task.workflow_id).is_not(None),
        )
    )
    out: dict[int, list[int]] = {}
    for workflow_id, task_id in rows:
        if workflow_id is not None and task_id is not None:
            out.setdefault(workflow_id, []).append(task_id)
    return op.account_id, out


def do_anticipate(
    session: Session, account_id: int, workflow_id: int, task_ids: list[int], now: datetime
) -> None:
    """The workflow's anticipated assignments after its tasks ``task_ids`` were
    recomputed, with its row locked first (the order every writer keeps: a workflow,
    then its tasks). Raises: NotFound (the workflow is gone)."""
    lookups.lock(session, Workflow, account_id, workflow_id)
    anticipation.anticipate(session, workflow_id, now, changed=set(task_ids))


def run_batch(settings: Settings | None, operation_id: int, seq: int) -> int:
    """One batch (``do_run_batch``) in a transaction, then the anticipated assignments
    of its workflows, each in a transaction of its own. Returns what ``do_run_batch``
    does. (The workers' ``tasks.run_batch`` and ``run_inline`` both come here.)"""
    with session_scope(settings) as session:
        changed = do_run_batch(session, operation_id, seq)
        account_id, affected = workflows_of_batch(session, operation_id, seq)
    for workflow_id, task_ids in sorted(affected.items()):
        with session_scope(settings) as session:
            try:
                do_anticipate(session, account_id, workflow_id, task_ids, utcnow())
            except NotFound:  # deleted since: nothing to anticipate
                continue
    return changed


def run_inline(
    settings: Settings, operation_id: int, on_batch: Callable[[int, int], None] | None = None
) -> None:
    """Plan and run every batch in this process (the CLI's ``--inline``, and tests of
    the domain without workers), reporting (done, total) after each batch."""
    with session_scope(settings) as session:
        pending = do_plan(session, operation_id)
    for seq in pending:
        run_batch(settings, operation_id, seq)
        if on_batch is not None:
            with session_scope(settings, write=False) as session:
                op = session.get(Operation, operation_id)
                assert op is not None
                on_batch(op.progress_done or 0, op.progress_total or 0)
