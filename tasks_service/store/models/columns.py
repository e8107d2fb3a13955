"""Column types and field helpers shared by the tables: timestamps are timezone-aware
UTC on every backend; references to a calendar or an escalation policy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Integer, TypeDecorator, text
from sqlalchemy.engine import Dialect
from sqlmodel import Field

from tasks_service.core.clock import utcnow


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


def timestamp(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column_kwargs={"nullable": nullable},
        sa_type=UTCDateTime,
        index=index,
    )


def created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def calendar_ref(table: str, *, use_alter: bool = False) -> Any:
    key = ForeignKey("calendar.id", name=f"fk_{table}_calendar_id", use_alter=use_alter)
    return Field(default=None, sa_column=Column(Integer, key, nullable=True))


def policy_ref(table: str) -> Any:
    key = ForeignKey(
        "escalation_policy.id", name=f"fk_{table}_escalation_policy_id", use_alter=True
    )
    return Field(default=None, sa_column=Column(Integer, key, nullable=True))


def where_present(column: str) -> dict[str, Any]:
    condition = text(f"{column} IS NOT NULL")
    return {"postgresql_where": condition, "sqlite_where": condition}
