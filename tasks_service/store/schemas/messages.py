"""The shapes of webhooks, their deliveries, and people's feed entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictBool, StringConstraints

from tasks_service.core.events import EVENTS
from tasks_service.core.statuses import DeliveryState
from tasks_service.core.validation import HttpUri, InputModel, OneLine
from tasks_service.store.schemas.shape import PublicModel, readonly_fields

EventNames = Annotated[
    list[str],
    Field(min_length=1, max_length=20, json_schema_extra={"items": {"enum": list(EVENTS)}}),
]
Description = Annotated[str, StringConstraints(max_length=255), OneLine]


def _known_events(events: list[str] | None) -> list[str] | None:
    if events is None:
        return None
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ValueError(f"unknown events {unknown}; known: {', '.join(EVENTS)}")
    return sorted(set(events))


class WebhookCreate(InputModel):
    uri: HttpUri
    events: Annotated[EventNames, AfterValidator(_known_events)]
    disabled: StrictBool = False
    description: Description | None = None


class WebhookUpdate(InputModel):
    uri: HttpUri = None  # type: ignore[assignment]
    events: Annotated[EventNames, AfterValidator(_known_events)] = None  # type: ignore[assignment]
    disabled: StrictBool = None  # type: ignore[assignment]
    description: Description | None = None


class WebhookPublic(PublicModel):
    id: int
    uri: str
    events: list[str]
    disabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    description: str | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookPublic):
    """The create response, the one place the signing secret is shown."""

    secret: str


class DeliveryPublic(PublicModel):
    id: int
    webhook_id: int  # the webhook's id
    message_id: str  # the Standard Webhooks ``webhook-id`` header of its attempts
    event: str
    task_id: int | None
    state: DeliveryState
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None
    created_at: datetime


class NotificationUpdate(InputModel):
    read: StrictBool = None  # type: ignore[assignment]  # absent: as it is; null is not


class NotificationsRead(InputModel):
    """``POST /people/me/notifications/read`` marks all of them: it takes no fields."""


class DeliveryRetry(InputModel):
    """``POST /webhooks/:id/deliveries/:id/retry`` sends the delivery again: no fields."""


class TaskMention(PublicModel):
    id: int


class NotificationPublic(PublicModel):
    id: int
    event: str
    summary: str
    task: TaskMention | None
    data: dict[str, Any]
    read: bool
    read_at: datetime | None
    created_at: datetime


WEBHOOK_READONLY = readonly_fields(WebhookCreated, WebhookCreate, WebhookUpdate)
NOTIFICATION_READONLY = readonly_fields(NotificationPublic, NotificationUpdate)
