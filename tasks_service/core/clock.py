"""The clock: every moment in the service is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """A moment as the API writes it: ISO 8601 with ``Z``."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")
