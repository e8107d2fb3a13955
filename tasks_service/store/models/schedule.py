"""Tables of time: service-hours calendars, timers, escalation policies and the
escalations that fired."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from tasks_service.core.statuses import TimerKind, TimerState
from tasks_service.store.models.columns import UTCDateTime, created, timestamp
from tasks_service.store.models.directory import unique_without_case


class Calendar(SQLModel, table=True):
    """Service hours (issue 5): the REST form of ``tasks_service.calendars.Calendar``.

    ``version`` goes up whenever the rules change, so cached timelines are keyed by
    (id, version) and never outlive a change.
    """

    __table_args__ = (
        UniqueConstraint("account_id", "name"),
        unique_without_case("calendar", "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=255)
    time_zone: str = Field(max_length=64)
    hours: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    holidays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    holiday_country: str | None = Field(default=None, max_length=8)
    holiday_subdivision: str | None = Field(default=None, max_length=16)
    is_24x7: bool = False
    version: int = 1
    created_at: datetime = created()
    updated_at: datetime = created()


class Timer(SQLModel, table=True):
    """A moment to act on a task (``tasks_service.timers``): one per task, kind and
    escalation level, moved and re-armed in place."""

    __table_args__ = (
        UniqueConstraint("task_id", "kind", "level"),
        # the sweep's question: what is due now (few rows are pending and due)
        Index("ix_timer_state_fire_at", "state", "fire_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    task_id: int = Field(foreign_key="task.id")
    kind: TimerKind = Field(sa_type=String(16))
    level: int = 0
    fire_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    state: TimerState = Field(default=TimerState.pending, sa_type=String(16))
    attempts: int = 0
    claimed_at: datetime | None = timestamp()
    fired_at: datetime | None = timestamp()
    late: bool = False
    # Escalation levels: what the moment was computed from (clock start, planned
    # duration, due_at, policy). A fired level fires again only for a new anchor.
    anchor: str | None = Field(default=None, max_length=160)
    created_at: datetime = created()


class EscalationPolicy(SQLModel, table=True):
    """Ordered escalation levels (``tasks_service.escalation``), each a timer per task."""

    __tablename__ = "escalation_policy"
    __table_args__ = (
        UniqueConstraint("account_id", "name"),
        unique_without_case("escalation_policy", "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=255)
    levels: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    offsets_in_service_time: bool = False
    hold_email_to_service_hours: bool = True
    created_at: datetime = created()
    updated_at: datetime = created()


class TaskEscalation(SQLModel, table=True):
    """One escalation level that fired for a task: when, how late, whom it told and
    what it changed (``GET /tasks/:id/escalations``)."""

    __tablename__ = "task_escalation"
    __table_args__ = (Index("ix_task_escalation_task", "task_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    task_id: int = Field(foreign_key="task.id")
    policy_id: int | None = Field(default=None, foreign_key="escalation_policy.id")
    level: int
    fire_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    fired_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    late: bool = False
    notified: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    actions: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
