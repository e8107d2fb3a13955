"""Tables (SQLModel). Timestamps are timezone-aware UTC on every backend.

Every row that a client can reach carries ``account_id``: queries are always scoped
to the caller's account.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from tasks_service.statuses import (
    TaskCategory,
    TaskImpact,
    TaskStatus,
    WorkflowCategory,
    WorkflowStatus,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that also comes back aware from SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column_kwargs={"nullable": nullable},
        sa_type=UTCDateTime,
        index=index,
    )


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _calendar_ref(table: str, *, use_alter: bool = False) -> Any:
    key = ForeignKey("calendar.id", name=f"fk_{table}_calendar_id", use_alter=use_alter)
    return Field(default=None, sa_column=Column(Integer, key, nullable=True))


def _policy_ref(table: str) -> Any:
    key = ForeignKey(
        "escalation_policy.id", name=f"fk_{table}_escalation_policy_id", use_alter=True
    )
    return Field(default=None, sa_column=Column(Integer, key, nullable=True))


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    # The default calendar of the account's tasks; none means 24x7. (The constraint is
    # added after both tables exist: a calendar belongs to an account.)
    calendar_id: int | None = _calendar_ref("account", use_alter=True)
    # The default escalation policy of the account's tasks (issue 6); none: no escalation.
    escalation_policy_id: int | None = _policy_ref("account")
    created_at: datetime = _created()


class Calendar(SQLModel, table=True):
    """Service hours (issue 5): the REST form of ``tasks_service.calendars.Calendar``.

    ``version`` goes up whenever the rules change, so cached timelines are keyed by
    (id, version) and never outlive a change.
    """

    __table_args__ = (UniqueConstraint("account_id", "name"),)

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
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Person(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("account_id", "primary_email"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=255)
    primary_email: str = Field(max_length=255)
    admin: bool = False
    disabled: bool = False
    # Events (``task.alert``) or channel:event (``email:task.assigned``) this person
    # does not want to hear about (issue 6).
    notification_opt_outs: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Team(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=255)
    disabled: bool = False
    calendar_id: int | None = _calendar_ref("team")
    escalation_policy_id: int | None = _policy_ref("team")
    created_at: datetime = _created()
    updated_at: datetime = _created()


class TeamMembership(SQLModel, table=True):
    __tablename__ = "team_membership"

    team_id: int = Field(foreign_key="team.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True, index=True)
    created_at: datetime = _created()


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    # SHA-256 of the token: tokens are 256 random bits, so a fast hash is enough and
    # lets us look them up by equality.
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = _created()


class Workflow(SQLModel, table=True):
    __table_args__ = (
        Index("ix_workflow_account_status", "account_id", "status"),
        Index("ix_workflow_manager_id", "manager_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    subject: str = Field(max_length=255)
    category: WorkflowCategory = Field(sa_type=String(32))
    status: WorkflowStatus = Field(default=WorkflowStatus.registered, sa_type=String(32))
    manager_id: int | None = Field(default=None, foreign_key="person.id")
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    calendar_id: int | None = _calendar_ref("workflow")
    escalation_policy_id: int | None = _policy_ref("workflow")
    created_at: datetime = _created()
    updated_at: datetime = _created()
    completed_at: datetime | None = _ts()


def _where_present(column: str) -> dict[str, Any]:
    condition = text(f"{column} IS NOT NULL")
    return {"postgresql_where": condition, "sqlite_where": condition}


#: The indexes behind the task lists (issue 4): each filterable field with the account
#: first (every list is one account's); references with ``id`` for "newest first";
#: fields that are mostly empty and not sortable only where they are set.
TASK_INDEXES = (
    Index("ix_task_account_id_id", "account_id", "id"),
    Index("ix_task_account_status", "account_id", "status", "id"),
    Index("ix_task_account_impact", "account_id", "impact"),
    Index("ix_task_account_category", "account_id", "category"),
    Index("ix_task_account_subject", "account_id", "subject", "id"),
    Index("ix_task_account_source", "account_id", "source"),
    Index("ix_task_account_source_id", "account_id", "source_id", "id"),
    Index("ix_task_account_planned_duration", "account_id", "planned_duration"),
    Index("ix_task_account_completion_target_at", "account_id", "completion_target_at", "id"),
    Index("ix_task_account_finished_at", "account_id", "finished_at", "id"),
    Index("ix_task_account_created_at", "account_id", "created_at", "id"),
    Index("ix_task_account_updated_at", "account_id", "updated_at", "id"),
    Index("ix_task_team_id", "team_id", "id"),
    Index("ix_task_member_id", "member_id", "id"),
    Index("ix_task_workflow_id", "workflow_id", "id"),
    Index("ix_task_calendar_id", "calendar_id", "id"),
    *(
        Index(f"ix_task_account_{name}", "account_id", name, **_where_present(name))
        for name in ("due_at", "alert_at", "alert_sent_at", "start_at", "waiting_until")
    ),
)


class Task(SQLModel, table=True):
    __table_args__ = TASK_INDEXES

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    workflow_id: int | None = Field(default=None, foreign_key="workflow.id")
    subject: str = Field(max_length=255)
    # Enumerations are stored by value as plain strings (no native enum types to migrate).
    category: TaskCategory = Field(sa_type=String(32))
    impact: TaskImpact | None = Field(default=None, sa_type=String(16))
    status: TaskStatus = Field(default=TaskStatus.registered, sa_type=String(32))
    team_id: int | None = Field(default=None, foreign_key="team.id")
    member_id: int | None = Field(default=None, foreign_key="person.id")
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    instructions: str | None = Field(default=None, sa_type=Text)
    planned_duration: int | None = None
    planned_effort: int | None = None
    urgent: bool = False
    work_hours_are_24x7: bool = False
    source: str | None = Field(default=None, max_length=30)
    source_id: str | None = Field(default=None, max_length=128)
    custom_fields: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    start_at: datetime | None = _ts()
    waiting_until: datetime | None = _ts()
    assigned_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    completion_target_at: datetime | None = _ts()
    due_at: datetime | None = _ts()
    alert_at: datetime | None = _ts()
    alert_sent_at: datetime | None = _ts()
    # The calendar the target was computed with (team's, workflow's or account's; none
    # when 24x7), kept so that a calendar change finds the tasks it moves.
    calendar_id: int | None = _calendar_ref("task")
    # The completion clock stops in waiting_for_customer: since when, and the service
    # minutes it stood still before (which push the target out).
    clock_stopped_at: datetime | None = _ts()
    clock_stopped_minutes: int = 0
    # Service minutes from assigned_at to finished_at, fixed when the task finishes.
    resolution_duration: int | None = None
    # Past due_at or completion_target_at while unfinished (set by those timers).
    overdue: bool = False
    created_at: datetime = _created()
    updated_at: datetime = _created()


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
    kind: str = Field(max_length=16)
    level: int = 0
    fire_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    claimed_at: datetime | None = _ts()
    fired_at: datetime | None = _ts()
    late: bool = False
    # Escalation levels: what the moment was computed from (clock start, planned
    # duration, due_at, policy). A fired level fires again only for a new anchor.
    anchor: str | None = Field(default=None, max_length=160)
    created_at: datetime = _created()


class EscalationPolicy(SQLModel, table=True):
    """Ordered escalation levels (``tasks_service.escalation``), each a timer per task."""

    __tablename__ = "escalation_policy"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=255)
    levels: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    offsets_in_service_time: bool = False
    hold_email_to_service_hours: bool = True
    created_at: datetime = _created()
    updated_at: datetime = _created()


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


class Notification(SQLModel, table=True):
    """An entry in a person's in-app feed (``GET /people/me/notifications``). ``key``
    (event, subject, moment, person) is unique: a replayed firing adds nothing."""

    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_notification_person", "person_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    person_id: int = Field(foreign_key="person.id")
    task_id: int | None = Field(default=None, foreign_key="task.id")
    key: str = Field(max_length=255)
    event: str = Field(max_length=32)
    summary: str = Field(max_length=500)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    read_at: datetime | None = _ts()
    created_at: datetime = _created()


class Webhook(SQLModel, table=True):
    """A subscriber URL (Standard Webhooks: signed with ``secret``)."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    uri: str = Field(max_length=2048)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    disabled: bool = False
    description: str | None = Field(default=None, max_length=255)
    secret: str = Field(max_length=128)
    # Set by the first failed attempt after a success; a day of failures disables it.
    failing_since: datetime | None = _ts()
    disabled_reason: str | None = Field(default=None, max_length=255)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Delivery(SQLModel, table=True):
    """One message to one receiver, sent until it lands or dies.

    ``key`` (event, task, moment, channel, recipient) is unique: an event emitted again
    by a retried or replayed firing finds its delivery and adds nothing.
    """

    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_delivery_state_next", "state", "next_attempt_at"),
        Index("ix_delivery_webhook", "webhook_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    webhook_id: int | None = Field(default=None, foreign_key="webhook.id")
    task_id: int | None = Field(default=None, foreign_key="task.id")
    # "webhook" (to ``webhook_id``) or "email" (to ``person_id``, over SMTP)
    channel: str = Field(default="webhook", max_length=16)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    key: str = Field(max_length=255)
    event: str = Field(max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    claimed_at: datetime | None = _ts()
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = _ts()
    created_at: datetime = _created()


class TaskLabel(SQLModel, table=True):
    __tablename__ = "task_label"
    # The primary key finds a task's labels; this finds a label's tasks (?labels=).
    __table_args__ = (Index("ix_task_label_name", "name", "task_id"),)

    task_id: int = Field(foreign_key="task.id", primary_key=True)
    name: str = Field(max_length=100, primary_key=True)
    created_at: datetime = _created()


class Note(SQLModel, table=True):
    __table_args__ = (Index("ix_note_task_id", "task_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    task_id: int = Field(foreign_key="task.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    text: str = Field(sa_type=Text)
    created_at: datetime = _created()


class TaskEvent(SQLModel, table=True):
    """One change to a task: who, when, what (``changes`` maps field -> [old, new])."""

    __tablename__ = "task_event"
    __table_args__ = (Index("ix_task_event_task_id", "task_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    task_id: int = Field(foreign_key="task.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=32)
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    operation_id: int | None = Field(default=None, index=True)
    created_at: datetime = _created()


class OperationStatus:
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class Operation(SQLModel, table=True):
    """A durable command: written by the API, applied once by a worker.

    Ids are monotonic; commands on one target are applied in id order.
    """

    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key"),
        Index("ix_operation_status_updated", "status", "updated_at"),
        Index("ix_operation_target", "target_type", "target_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    kind: str = Field(max_length=48)
    target_type: str | None = Field(default=None, max_length=16)
    target_id: int | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=OperationStatus.pending, max_length=16)
    idempotency_key: str | None = Field(default=None, max_length=255)
    request_hash: str | None = Field(default=None, max_length=64)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    attempts: int = 0
    # Background operations (a recompute fan-out) report how far they got.
    progress_done: int | None = None
    progress_total: int | None = None
    created_at: datetime = _created()
    updated_at: datetime = _created()
    finished_at: datetime | None = _ts()


class OperationBatch(SQLModel, table=True):
    """One slice of a fan-out operation: the tasks with ids ``first_id``..``last_id``.

    A batch is applied once (``done_at`` is set in the transaction that does its work),
    so a redelivered or re-enqueued batch finds it done and changes nothing.
    """

    __tablename__ = "operation_batch"

    operation_id: int = Field(foreign_key="operation.id", primary_key=True)
    seq: int = Field(primary_key=True)
    first_id: int
    last_id: int
    size: int
    done_at: datetime | None = _ts()
