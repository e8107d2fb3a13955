"""Calendars in their REST form (``store.schemas.calendars``)."""

from __future__ import annotations

from typing import Any

from tasks_service.core.clock import iso
from tasks_service.store.models import Calendar
from tasks_service.store.schemas.calendars import rules_of


def serialize_calendar(row: Calendar) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        **rules_of(row),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
