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
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic.json_schema import WithJsonSchema
from pydantic_core import PydanticCustomError

from tasks_service.core.documented import DAY_PATTERN
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


_HH_MM = "([01][0-9]|2[0-3]):[0-5][0-9]"
_START, _END = f"^{_HH_MM}$", f"^({_HH_MM}|24:00)$"


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
    list[
        Annotated[
            date,
            BeforeValidator(_iso_day),
            AfterValidator(_holiday),
            WithJsonSchema({"type": "string", "pattern": f"^{DAY_PATTERN}$"}),
        ]
    ],
    Field(max_length=10 * MAX_HOLIDAYS),  # before de-duplication: a bound on the work
    AfterValidator(_distinct_days),
]


class ServiceHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: Weekday
    start: Annotated[
        time, BeforeValidator(_start_clock), WithJsonSchema({"type": "string", "pattern": _START})
    ]
    end: Annotated[
        time | None, BeforeValidator(_clock), WithJsonSchema({"type": "string", "pattern": _END})
    ]


def _holiday_countries(schema: dict[str, Any]) -> None:
    """The document's list of ``holiday_country`` values: those ``holidays`` knows."""
    import holidays  # here: it takes 150 ms to import, and most calendars need none

    schema["enum"] = [*sorted(holidays.list_supported_countries()), None]


class CalendarSpec(BaseModel):
    """A calendar as the REST resource and ``Calendar.from_spec`` take it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        # what ``_consistent`` holds it to first: service hours, or around the clock
        json_schema_extra={
            "anyOf": [
                {"properties": {"is_24x7": {"const": True}}, "required": ["is_24x7"]},
                {"properties": {"hours": {"type": "array", "minItems": 1}}, "required": ["hours"]},
            ],
            # a subdivision needs its country
            "if": {
                "properties": {"holiday_subdivision": {"type": "string"}},
                "required": ["holiday_subdivision"],
            },
            "then": {
                "properties": {"holiday_country": {"type": "string"}},
                "required": ["holiday_country"],
            },
        },
    )

    name: Name | None = None
    time_zone: TimeZoneName = "UTC"
    hours: list[ServiceHours] = Field(default_factory=list, max_length=7 * 24)
    holidays: Holidays = Field(default_factory=list)
    holiday_country: Annotated[str, StringConstraints(max_length=8), OneLine] | None = Field(
        None, json_schema_extra=_holiday_countries
    )
    # (which ones a country has is a rule between the two fields: ``unknown_subdivision``)
    holiday_subdivision: Annotated[str, StringConstraints(max_length=16), OneLine] | None = None
    is_24x7: StrictBool = False

    @field_validator("hours")
    @classmethod
    def _ranges_apart(cls, hours: list[ServiceHours]) -> list[ServiceHours]:
        by_day: dict[str, list[tuple[time, time | None]]] = {}
        for i, item in enumerate(hours):
            if item.end is not None and item.end <= item.start:
                raise PydanticCustomError(
                    "range_order", f"hours[{i}] ({item.weekday}): a range must end after it starts"
                )
            by_day.setdefault(item.weekday, []).append((item.start, item.end))
        for day, ranges in by_day.items():
            ranges.sort(key=lambda pair: pair[0])
            for (_s1, e1), (s2, _e2) in pairwise(ranges):
                if e1 is None or e1 > s2:
                    raise PydanticCustomError("ranges_overlap", f"{day}: service ranges overlap")
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


def _as_in_spec(field: str) -> WithJsonSchema:
    """The JSON schema of CalendarSpec's ``field`` (its definitions inlined), for an
    update's loosely read one."""
    info = CalendarSpec.model_fields[field]
    annotation: Any = (
        Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    )
    shape = TypeAdapter(annotation).json_schema()
    if callable(info.json_schema_extra):  # (the field's own additions: holiday_country's list)
        info.json_schema_extra(shape)
    definitions = shape.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return WithJsonSchema(inline(shape))


class CalendarUpdate(InputModel):
    """PATCH /calendars/:id: the fields sent replace the calendar's; the result is
    validated as a whole (``CalendarSpec``)."""

    # The rules are read loosely here and held to CalendarSpec once merged; the
    # document gives CalendarSpec's shapes (``_as_in_spec``).
    model_config = ConfigDict(
        **InputModel.model_config,
        json_schema_extra={
            "not": {
                "properties": {"hours": {"maxItems": 0}, "is_24x7": {"const": False}},
                "required": ["hours", "is_24x7"],
            },
            # a subdivision needs a country: this one, if it is sent
            "if": {
                "properties": {"holiday_subdivision": {"type": "string"}},
                "required": ["holiday_subdivision"],
            },
            "then": {"properties": {"holiday_country": {"type": "string"}}},
        },
    )

    name: Name = None  # type: ignore[assignment]
    time_zone: TimeZoneName = None  # type: ignore[assignment]
    # bounded as in CalendarSpec, so that a huge list is refused before it is read
    hours: Annotated[list[dict[str, Any]], _as_in_spec("hours")] = Field(
        None,  # type: ignore[arg-type]
        max_length=7 * 24,
    )
    holidays: Annotated[list[Any], _as_in_spec("holidays")] = Field(
        None,  # type: ignore[arg-type]
        max_length=10 * MAX_HOLIDAYS,
    )
    holiday_country: Annotated[str | None, _as_in_spec("holiday_country")] = None
    holiday_subdivision: Annotated[str | None, _as_in_spec("holiday_subdivision")] = None
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
