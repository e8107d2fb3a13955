"""A message about a task: which event, at which moment, and for whom."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tasks_service.core.clock import iso


@dataclass(frozen=True)
class Message:
    """One event to publish.

    ``moment`` (a timer's, or the change's) and ``detail`` (an escalation's level) make
    every key it is stored under, so a replay adds nothing. ``people``: whom it tells
    (None: those the event concerns, ``identity.audience``); ``summary``: the title of
    their feed entry and email; ``email_not_before``: mail held (to service hours);
    ``extra``: more fields for its payload. Every message goes to the webhooks that
    subscribe to its event and, for people's events, to the people it concerns: every
    channel hears of the same events.
    """

    event: str
    moment: datetime
    detail: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    people: list[int] | None = None
    summary: str | None = None
    email_not_before: datetime | None = None

    def key(self, subject: str) -> str:
        """The start of every key this message is stored under (then channel, receiver)."""
        return f"{self.event}:{subject}{self.detail}:{iso(self.moment)}"
