"""The names of the events the service emits: what webhooks subscribe to and what
people may opt out of (``notify.publish`` emits them)."""

from __future__ import annotations

from typing import Final

#: Everything webhooks can subscribe to.
EVENTS: Final = (
    "task.created",
    "task.updated",
    "task.status_changed",
    "task.assigned",
    "task.alert",
    "task.overdue",
    "task.escalated",
    "task.waking",
)

#: Events people hear about (in their feed, by email); webhooks hear about all of ``EVENTS``.
PEOPLE_EVENTS: Final = (
    "task.assigned",
    "task.alert",
    "task.overdue",
    "task.escalated",
    "task.waking",
    "webhook.disabled",
)
