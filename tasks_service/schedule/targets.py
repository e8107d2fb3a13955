"""Completion targets: when a task's ``planned_duration`` of service time has passed.

The clock starts at assignment (or ``start_at``, if later) and runs on the task's
calendar (``calendar_store.applicable_calendar_id``). It stops while the task is
``waiting_for_customer``: the target then reads null (4me's "clock stopped"), and on
leaving that status the service time it stood still is added, to the second, so the
task resumes with the service time it had left. A new assignment starts a fresh clock.

Everything here is a function of the task's stored fields and its calendar, so a
recompute after a calendar change (``commands.recompute``) reaches the same
target that a change to the task itself would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from tasks_service.core.statuses import ACTIVE, FINISHED, TaskStatus
from tasks_service.schedule.calendar import Calendar
from tasks_service.schedule.calendar_store import applicable_calendar_id, calendar_by_id
from tasks_service.schedule.timing import Timed
from tasks_service.store.models import Task

#: Task fields a target depends on: a change to one recomputes it.
TARGET_INPUTS = (
    "status",
    "assigned_at",
    "planned_duration",
    "start_at",
    "team_id",
    "work_hours_are_24x7",
    "chosen_calendar_id",
    "due_at",  # the target of a task without a planned duration
)


def stood_still(task: Timed) -> timedelta:
    """The service time the task's clock stood still (waiting for the customer)."""
    return timedelta(seconds=task.clock_stopped_seconds)


def clock_start(task: Timed) -> datetime | None:
    if task.assigned_at is None:
        return None
    return max(task.assigned_at, task.start_at) if task.start_at else task.assigned_at


def completion_target(task: Timed, calendar: Calendar) -> datetime | None:
    """The target, or None: not being worked, or clock stopped. Without a planned
    duration it is the task's ``due_at``, if any (Trackops' tasks have a due date and no
    duration: their deadline is what they are to be done by)."""
    begin = clock_start(task)
    if task.status not in ACTIVE or task.status == TaskStatus.waiting_for_customer or begin is None:
        return None
    if task.planned_duration is None:
        return task.due_at
    planned = timedelta(minutes=task.planned_duration)
    return calendar.add_service_time(begin, planned + stood_still(task))


def settle(
    session: Session, task: Task, before: dict[str, Any], now: datetime, *, creating: bool
) -> None:
    """Bring the calendar, the clock, the target and ``resolution_duration`` up to date
    after a change to the task (``before``: its fields before the change)."""
    if task.assigned_at != before["assigned_at"]:  # a new assignment: a fresh clock
        task.clock_stopped_seconds, task.clock_stopped_at = 0, None
    if not creating and all(before[name] == getattr(task, name) for name in TARGET_INPUTS):
        return
    task.calendar_id = applicable_calendar_id(session, task)
    calendar = calendar_by_id(session, task.calendar_id)
    status = TaskStatus(task.status)
    if status == TaskStatus.waiting_for_customer:
        if task.clock_stopped_at is None:
            task.clock_stopped_at = now
    elif task.clock_stopped_at is not None:
        begin = clock_start(task)
        if status in ACTIVE and begin is not None:
            stood = calendar.service_time_between(max(task.clock_stopped_at, begin), now)
            task.clock_stopped_seconds += max(0, stood // timedelta(seconds=1))
        task.clock_stopped_at = None
    if status in FINISHED:
        if task.resolution_duration is None and task.assigned_at and task.finished_at:
            resolution = calendar.service_minutes_between(task.assigned_at, task.finished_at)
            task.resolution_duration = max(0, resolution)
    else:
        task.resolution_duration = None
    task.completion_target_at = completion_target(task, calendar)


def recomputed(session: Session, task: Task) -> tuple[int | None, datetime | None]:
    """After a calendar change: the task's calendar and target as they are now."""
    calendar_id = applicable_calendar_id(session, task)
    return calendar_id, completion_target(task, calendar_by_id(session, calendar_id))
