"""Firing timers: what each kind does to its task, once (``schedule.timers``).

A worker fires a claimed chunk of timers in one transaction (``do_fire_timers``): one
commit for the lot instead of one per timer. The messages the firings emit that are
due now are claimed in it too, for the worker to send as soon as it commits (not at
the next sweep, and with no claim of their own to make).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, col, select

from tasks_service.commands import assignment_rules, plan_rules
from tasks_service.commands.task_change import apply_task_change, lock_task, record_event
from tasks_service.core import metrics
from tasks_service.core.clock import utcnow
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import FINISHED, TaskStatus, TimerKind
from tasks_service.identity.audience import recipients
from tasks_service.notify.delivery import Claimed, claim_emitted
from tasks_service.notify.message import Message
from tasks_service.notify.outbox import Outbox
from tasks_service.notify.publish import publish
from tasks_service.schedule import escalation, timers
from tasks_service.schedule.calendar_store import calendar_by_id
from tasks_service.schedule.timing import has_assignee
from tasks_service.store.models import Task, Timer

log = structlog.get_logger(__name__)


@dataclass
class Firing:
    """One firing transaction: its moment, its settings, and the outbox that collects
    what its timers publish."""

    settings: Settings
    outbox: Outbox
    now: datetime = field(default_factory=utcnow)

    @property
    def late_after(self) -> timedelta:
        return timedelta(seconds=self.settings.timer_late_after)


@dataclass
class Fired:
    """What ``do_fire_timers`` did: how many timers it was given and how many acted,
    the ones that failed (left claimed, to be claimed again once stale), and the
    messages they emitted that are due now, claimed for the caller to send at once
    (``notify.delivery.Sender``)."""

    claimed: int = 0
    acted: int = 0
    failed: list[int] = field(default_factory=list)
    to_send: list[Claimed] = field(default_factory=list)


def do_fire_timer(session: Session, firing: Firing, timer_id: int) -> str | None:
    """Apply a claimed timer to its task, once; returns the action taken, or None when
    there was nothing (left) to do."""
    found = session.get(Timer, timer_id)
    if found is None:
        return None
    # The task first, then its timer: the order every change to a task takes (it
    # re-plans the task's timers), so that a firing and a change cannot deadlock.
    task = lock_task(session, found.account_id, found.task_id)
    timer = timers.lock_claimed(session, timer_id, firing.now, firing.late_after)
    if timer is None:
        return None
    return _fire(session, firing, task, timer)


def _fire(session: Session, firing: Firing, task: Task, timer: Timer) -> str | None:
    # Fired before it acts: an action that changes the task re-plans its timers, and
    # must find this one done (a reassignment by an escalation level re-arms the levels
    # for the new clock, this one included).
    timers.mark_fired(session, timer, firing.now)
    return ACTIONS[TimerKind(timer.kind)](session, firing, task, timer)


def do_fire_timers(session: Session, settings: Settings, timer_ids: list[int]) -> Fired:
    """Apply claimed timers in one transaction.

    First all at once: the chunk's tasks and timers locked in two queries, what
    publishing looks up loaded once (a preloaded ``Outbox``), every write flushed
    together at the end. If anything in that fails, it is rolled back and the chunk is
    fired one timer at a time, each in its own savepoint: a timer that fails (a bug,
    bad data, a message already stored) is rolled back alone and left claimed while the
    others go on.
    """
    if not timer_ids:
        return Fired()
    try:
        return _fire_together(session, settings, timer_ids)
    except (OperationalError, InterfaceError):
        raise  # the database went away: nothing of the chunk took effect
    except Exception as exc:
        log.warning("timers_fired_one_by_one", count=len(timer_ids), error=repr(exc)[:200])
    return _fire_one_by_one(session, settings, timer_ids)


def _fire_together(session: Session, settings: Settings, timer_ids: list[int]) -> Fired:
    out = Fired(claimed=len(timer_ids))
    firing = Firing(settings, Outbox(settings))
    with session.begin_nested(), session.no_autoflush:
        tasks, rows = timers.lock_chunk(session, timer_ids)
        by_id = {task.id: task for task in tasks}
        firing.outbox.preload(session, tasks)
        for timer in sorted(rows, key=lambda t: (t.task_id, t.id or 0)):
            if timers.still_claimed(timer, firing.now, firing.late_after):
                out.acted += _fire(session, firing, by_id[timer.task_id], timer) is not None
        out.to_send = claim_emitted(session, firing.outbox, utcnow())  # flushes it all
    return out


def _fire_one_by_one(session: Session, settings: Settings, timer_ids: list[int]) -> Fired:
    out = Fired(claimed=len(timer_ids))
    outbox = Outbox(settings)
    emitted = outbox.emitted
    rows = session.exec(select(Timer.id, Timer.task_id).where(col(Timer.id).in_(timer_ids)))
    in_task_order = sorted((task_id, timer_id) for timer_id, task_id in rows if timer_id)
    for _task_id, timer_id in in_task_order:
        before = len(emitted)
        try:
            with session.begin_nested():
                # each at its own moment: one after another, later ones may be late
                out.acted += do_fire_timer(session, Firing(settings, outbox), timer_id) is not None
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            del emitted[before:]
            out.failed.append(timer_id)
            log.exception("timer_failed", timer_id=timer_id)
    out.to_send = claim_emitted(session, outbox, utcnow())
    return out


# --- what each kind does -----------------------------------------------------------------


def _late(timer: Timer) -> dict[str, list[Any]]:
    return {"late": [None, True]} if timer.late else {}


def _flags(timer: Timer) -> dict[str, Any]:
    """In the payload of a timer's event: whether it fired late (the service was down)."""
    return {"late": timer.late}


def _fire_alert(session: Session, firing: Firing, task: Task, timer: Timer) -> str | None:
    if TaskStatus(task.status) in FINISHED:
        return None  # finished tasks do not alert
    before = task.alert_sent_at
    task.alert_sent_at = firing.now
    session.add(task)
    record_event(
        session, task, None, "alert", {"alert_sent_at": [before, firing.now], **_late(timer)}, None
    )
    alert = Message("task.alert", timer.fire_at, extra=_flags(timer))
    publish(session, firing.outbox, task, [alert])
    return "alert"


def _assign(
    session: Session, firing: Firing, task: Task, timer: Timer, action: str, announce: bool = False
) -> None:
    changes = {"status": TaskStatus.assigned}
    noted = _late(timer)
    apply_task_change(
        session, firing.outbox, task, None, changes, action, noted=noted, announce=announce
    )


def _fire_start(session: Session, firing: Firing, task: Task, timer: Timer) -> str | None:
    # Still registered with an assignee: it is assigned now (its clock starts), unless
    # its plan holds it (predecessors unfinished: the last of them assigns it).
    if task.status != TaskStatus.registered or not has_assignee(task):
        return None
    if plan_rules.hold(session, task, firing.now) is not None:
        return None
    # made before its workflow started, its plan held it: its assignee is told now
    _assign(
        session, firing, task, timer, "start", announce=plan_rules.held_at_creation(session, task)
    )
    return "start"


def _fire_wake(session: Session, firing: Firing, task: Task, timer: Timer) -> str | None:
    if task.status != TaskStatus.waiting_for:
        return None  # it left waiting_for before: nothing to wake
    _assign(session, firing, task, timer, "wake")
    waking = Message("task.waking", timer.fire_at, extra=_flags(timer))
    publish(session, firing.outbox, task, [waking])
    return "wake"


def _fire_overdue(session: Session, firing: Firing, task: Task, timer: Timer) -> str | None:
    if TaskStatus(task.status) in FINISHED or task.overdue:
        return None
    task.overdue = True
    session.add(task)
    changes: dict[str, list[Any]] = {
        "overdue": [False, True],
        "passed": [None, timer.kind],
        **_late(timer),
    }
    record_event(session, task, None, "overdue", changes, None)
    overdue = Message("task.overdue", timer.fire_at, extra=_flags(timer))
    publish(session, firing.outbox, task, [overdue])
    assignment_rules.remind(session, task, timer.fire_at)  # its assignees were told
    return "overdue"


def _fire_escalation(session: Session, firing: Firing, task: Task, timer: Timer) -> str | None:
    """One level of the task's policy: whom it tells, what it changes, on the record."""
    policy = escalation.policy_of(session, task)
    if TaskStatus(task.status) in FINISHED or policy is None or timer.level > len(policy.levels):
        return None
    level = policy.levels[timer.level - 1]
    people = recipients(session, task, level.get("notify", []))
    changes = escalation.changes_of(level)
    if changes:
        apply_task_change(
            session, firing.outbox, task, None, changes, "escalate", noted=_late(timer)
        )
    escalation.record(session, task, policy, timer, people, changes)
    noted: dict[str, list[Any]] = {
        "escalation_level": [None, timer.level],
        "notified": [None, people],
        **_late(timer),
    }
    record_event(session, task, None, "escalated", noted, None)
    # Mail waits for the calendar's service hours (if the policy says so); the feed and
    # webhooks do not: a warning at 23:00 is read by the team at 08:00.
    calendar = calendar_by_id(session, task.calendar_id)
    hold = calendar.next_open(firing.now) if policy.hold_email_to_service_hours else None
    message = Message(
        "task.escalated",
        timer.fire_at,
        detail=f":level{timer.level}",
        extra={"escalation": {"level": timer.level, "policy_id": policy.id}, **_flags(timer)},
        people=people,
        summary=f"escalation level {timer.level}: #{task.id} {task.subject}",
        email_not_before=hold,
    )
    publish(session, firing.outbox, task, [message])
    metrics.ESCALATIONS.inc()
    return "escalate"


Action = Callable[[Session, Firing, Task, Timer], str | None]
#: What each kind of timer does; None: nothing (left) to do.
ACTIONS: dict[TimerKind, Action] = {
    TimerKind.alert: _fire_alert,
    TimerKind.start: _fire_start,
    TimerKind.wake: _fire_wake,
    TimerKind.due: _fire_overdue,
    TimerKind.target: _fire_overdue,
    TimerKind.escalation: _fire_escalation,
}
