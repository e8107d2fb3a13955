"""Webhooks, deliveries and feed entries in their REST form (``store.schemas.messages``)."""

from __future__ import annotations

from typing import Any

from tasks_service.core.clock import iso
from tasks_service.store.models import Delivery, Notification, Webhook


def serialize_webhook(hook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    """A webhook; its ``secret`` only in the create response (it is shown once)."""
    body: dict[str, Any] = {
        "id": hook.id,
        "uri": hook.uri,
        "events": hook.events,
        "disabled": hook.disabled,
        "disabled_reason": hook.disabled_reason,
        "failing_since": iso(hook.failing_since),
        "description": hook.description,
        "created_at": iso(hook.created_at),
        "updated_at": iso(hook.updated_at),
    }
    if with_secret:
        body["secret"] = hook.secret
    return body


def serialize_delivery(delivery: Delivery) -> dict[str, Any]:
    """A delivery: of which webhook, and under which message id (the Standard Webhooks
    ``webhook-id`` header of its every attempt, ``notify.transport.http``)."""
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "message_id": f"msg_{delivery.id}",
        "event": delivery.event,
        "task_id": delivery.task_id,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "delivered_at": iso(delivery.delivered_at),
        "created_at": iso(delivery.created_at),
    }


def serialize_notification(row: Notification) -> dict[str, Any]:
    return {
        "id": row.id,
        "event": row.event,
        "summary": row.summary,
        "task": None if row.task_id is None else {"id": row.task_id},
        "data": row.payload,
        "read": row.read_at is not None,
        "read_at": iso(row.read_at),
        "created_at": iso(row.created_at),
    }
