"""A calendar's shape: its rules as ``Calendar.from_spec`` and the REST resource take
them, and what the resource shows."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tasks_service.core.validation import (
    FIRST_YEAR,
    LAST_YEAR,
    InputModel,
    Name,
    OneLine,
    TimeZoneName,
)
from tasks_service.store.models import Calendar as CalendarRow
from tasks_service.store.schemas.shape import PublicModel, field_names, readonly_fields

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
#: What a calendar's rules are: changing one of these moves targets.
RULES = ("time_zone", "hours", "holidays", "holiday_country", "holiday_subdivision", "is_24x7")


def _clock(value: Any) -> Any:
    """``"HH:MM"``; ``"24:00"`` (end of day) becomes None."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise ValueError('must be a time of day "HH:MM"')
    if value == "24:00":
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError('must be a time of day "HH:MM" from 00:00 to 24:00') from None


def _start_clock(value: Any) -> Any:
    """A range's start: ``"HH:MM"`` from 00:00 to 23:59."""
    if value == "24:00":
        raise ValueError("24:00 is only allowed as an end (a range cannot start at midnight's end)")
    return _clock(value)


#: The most holidays a calendar lists (after duplicates are dropped): decades of them.
#: A country's holidays come from ``holiday_country``, not from this list.
MAX_HOLIDAYS = 1_000


def _iso_day(value: Any) -> Any:
    """A holiday is a ``"YYYY-MM-DD"`` string (JSON has no dates; a number is not one,
    although pydantic would read it as a Unix time)."""
    if isinstance(value, date):  # the Python API, and rows read back
        return value
    if not isinstance(value, str) or not _ISO_DAY.match(value):
        raise PydanticCustomError("invalid_date", 'must be a date "YYYY-MM-DD"')
    return value


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _holiday(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise PydanticCustomError(
            "out_of_range", f"must be between the years {FIRST_YEAR} and {LAST_YEAR}"
        )
    return value


def _distinct_days(days: list[date]) -> list[date]:
    """Each holiday once, in date order (10,000 copies of one date are one holiday)."""
    distinct = sorted(set(days))
    if len(distinct) > MAX_HOLIDAYS:
        raise PydanticCustomError(
            "too_long", f"at most {MAX_HOLIDAYS} different holidays (got {len(distinct)})"
        )
    return distinct


Holidays = Annotated[
    list[Annotated[date, BeforeValidator(_iso_day), AfterValidator(_holiday)]],
    Field(max_length=10 * MAX_HOLIDAYS),  # before de-duplication: a bound on the work
    AfterValidator(_distinct_days),
]


class ServiceHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: Weekday
    start: Annotated[time, BeforeValidator(_start_clock)]
    end: Annotated[time | None, BeforeValidator(_clock)]


class CalendarSpec(BaseModel):
    """A calendar as the REST resource and ``Calendar.from_spec`` take it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name | None = None
    time_zone: TimeZoneName = "UTC"
    hours: list[ServiceHours] = Field(default_factory=list, max_length=7 * 24)
    holidays: Holidays = Field(default_factory=list)
    holiday_country: Annotated[str, StringConstraints(max_length=8), OneLine] | None = None
    holiday_subdivision: Annotated[str, StringConstraints(max_length=16), OneLine] | None = None
    is_24x7: StrictBool = False

    @field_validator("hours")
    @classmethod
    def _ranges_apart(cls, hours: list[ServiceHours]) -> list[ServiceHours]:
        by_day: dict[str, list[tuple[time, time | None]]] = {}
        for i, item in enumerate(hours):
            if item.end is not None and item.end <= item.start:
                raise ValueError(f"hours[{i}] ({item.weekday}): a range must end after it starts")
            by_day.setdefault(item.weekday, []).append((item.start, item.end))
        for day, ranges in by_day.items():
            ranges.sort(key=lambda pair: pair[0])
            for (_s1, e1), (s2, _e2) in pairwise(ranges):
                if e1 is None or e1 > s2:
                    raise ValueError(f"{day}: service ranges overlap")
        return hours

    @model_validator(mode="after")
    def _consistent(self) -> CalendarSpec:
        if not self.is_24x7 and not self.hours:
            raise PydanticCustomError(
                "no_service_hours",
                "a calendar needs service hours (or is_24x7)",
                {"field": "hours"},
            )
        if self.holiday_country is None and self.holiday_subdivision is not None:
            raise PydanticCustomError(
                "country_required",
                "a holiday_subdivision needs its holiday_country",
                {"field": "holiday_subdivision"},
            )
        if self.holiday_country is not None:
            import holidays  # here: it takes 150 ms to import, and most calendars need none

            supported = holidays.list_supported_countries()
            if self.holiday_country not in supported:
                raise PydanticCustomError(
                    "unknown_country",
                    f"{self.holiday_country!r} is not a supported holiday country",
                    {"field": "holiday_country"},
                )
            subdivisions = supported[self.holiday_country]
            if (
                self.holiday_subdivision is not None
                and self.holiday_subdivision not in subdivisions
            ):
                raise PydanticCustomError(
                    "unknown_subdivision",
                    f"{self.holiday_subdivision!r} is not a subdivision of {self.holiday_country}",
                    {"field": "holiday_subdivision"},
                )
        return self


class CalendarCreate(CalendarSpec):
    """POST /calendars: a calendar needs a name there."""

    name: Name


class CalendarUpdate(InputModel):
    """PATCH /calendars/:id: the fields sent replace the calendar's; the result is
    validated as a whole (``CalendarSpec``)."""

    name: Name = None  # type: ignore[assignment]
    time_zone: str = None  # type: ignore[assignment]
    # bounded as in CalendarSpec, so that a huge list is refused before it is read
    hours: list[dict[str, Any]] = Field(None, max_length=7 * 24)  # type: ignore[arg-type]
    holidays: list[Any] = Field(None, max_length=10 * MAX_HOLIDAYS)  # type: ignore[arg-type]
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    is_24x7: StrictBool = None  # type: ignore[assignment]


class StoredHours(BaseModel):
    """A range as stored and shown: what the client wrote (``"24:00"`` included)."""

    model_config = ConfigDict(extra="forbid")

    weekday: Weekday
    start: str
    end: str


class CalendarPublic(PublicModel):
    id: int
    name: str
    time_zone: str
    hours: list[StoredHours]
    holidays: list[date]
    holiday_country: str | None
    holiday_subdivision: str | None
    is_24x7: bool
    created_at: datetime
    updated_at: datetime


def rules_of(row: CalendarRow) -> dict[str, Any]:
    """A stored calendar's rules in their REST form (what ``Calendar.from_spec`` takes)."""
    return {name: getattr(row, name) for name in RULES}


CALENDAR_FIELDS = field_names(CalendarPublic)
CALENDAR_READONLY = readonly_fields(CalendarPublic, CalendarCreate, CalendarUpdate)
