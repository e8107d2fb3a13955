"""What a task's clock, target and timers are computed from, as a type: ``Timed``.

A ``Task`` row is ``Timed``; so is a ``Timing``, a plain value of the same fields, which
the recompute uses to plan a task's timers as the task will be (its new target and
calendar) without changing the loaded row (a changed row would be written back by the
ORM, one statement per task).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tasks_service.core.statuses import TaskStatus


class Timed(Protocol):
    @property
    def account_id(self) -> int: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def member_id(self) -> int | None: ...
    @property
    def workflow_id(self) -> int | None: ...
    @property
    def status(self) -> TaskStatus: ...
    @property
    def assigned_at(self) -> datetime | None: ...
    @property
    def start_at(self) -> datetime | None: ...
    @property
    def waiting_until(self) -> datetime | None: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def alert_at(self) -> datetime | None: ...
    @property
    def completion_target_at(self) -> datetime | None: ...
    @property
    def planned_duration(self) -> int | None: ...
    @property
    def clock_stopped_seconds(self) -> int: ...
    @property
    def calendar_id(self) -> int | None: ...
    @property
    def assignee_count(self) -> int: ...


def has_assignee(task: Timed) -> bool:
    """Whether the task is with someone once it is assigned: a team, a member, or
    people with an assignment of their own (``core.assignments``)."""
    return task.team_id is not None or task.member_id is not None or task.assignee_count > 0


@dataclass(frozen=True)
class Timing:
    """A ``Timed`` value: the fields of a task that its timers follow."""

    account_id: int
    team_id: int | None
    member_id: int | None
    workflow_id: int | None
    status: TaskStatus
    assigned_at: datetime | None
    start_at: datetime | None
    waiting_until: datetime | None
    due_at: datetime | None
    alert_at: datetime | None
    completion_target_at: datetime | None
    planned_duration: int | None
    clock_stopped_seconds: int
    calendar_id: int | None
    assignee_count: int

    @classmethod
    def of(cls, task: Timed, **changes: Any) -> Timing:
        """The task's timing, with ``changes`` (field: new value) applied."""
        current = {field.name: getattr(task, field.name) for field in dataclasses.fields(cls)}
        return cls(**{**current, **changes})
