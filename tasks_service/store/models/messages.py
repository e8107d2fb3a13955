"""Tables of what is sent: in-app feed entries, webhooks, and deliveries (one message
to one receiver, webhook or email)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from tasks_service.core.clock import utcnow
from tasks_service.core.statuses import DeliveryChannel, DeliveryState
from tasks_service.store.models.columns import UTCDateTime, created, timestamp


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
    read_at: datetime | None = timestamp()
    created_at: datetime = created()


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
    failing_since: datetime | None = timestamp()
    disabled_reason: str | None = Field(default=None, max_length=255)
    created_at: datetime = created()
    updated_at: datetime = created()


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
    channel: DeliveryChannel = Field(default=DeliveryChannel.webhook, sa_type=String(16))
    person_id: int | None = Field(default=None, foreign_key="person.id")
    key: str = Field(max_length=255)
    event: str = Field(max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: DeliveryState = Field(default=DeliveryState.pending, sa_type=String(16))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    claimed_at: datetime | None = timestamp()
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = timestamp()
    created_at: datetime = created()
