"""Input models (pydantic), shared by the REST API and the Python API.

Table models skip validation on ``__init__`` (sqlmodel#52), so every write is first
validated here and then copied onto the table model by the commands. ``validate``
turns pydantic's errors into one ``TaskValidationError`` listing every bad field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from itertools import pairwise
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tasks_service.errors import TaskValidationError
from tasks_service.statuses import (
    TaskCategory,
    TaskImpact,
    TaskStatus,
    WorkflowCategory,
    WorkflowStatus,
)

# Far enough for any plan; near enough that adding a year of minutes cannot overflow.
_EARLIEST = datetime(1900, 1, 1)
_LATEST = datetime(2999, 12, 31, 23, 59, 59)


def _to_utc_moment(value: Any) -> Any:
    """Accept an ISO 8601 date-time with an offset, or a date (midnight UTC)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                "not an ISO 8601 date-time (e.g. 2026-01-15T09:30:00Z) or date"
            ) from None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        raise ValueError("must be an ISO 8601 date-time string")
    if moment.tzinfo is None:
        raise ValueError("must include a UTC offset, e.g. 2026-01-15T09:30:00Z")
    if not _EARLIEST <= moment.replace(tzinfo=None) <= _LATEST:
        raise ValueError("must be between the years 1900 and 2999")
    return moment.astimezone(UTC)


Moment = Annotated[datetime, BeforeValidator(_to_utc_moment)]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
LongText = Annotated[str, StringConstraints(max_length=65536)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
LabelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
#: Ids fit the 32-bit integer columns of every backend.
Id = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
Minutes = Annotated[StrictInt, Field(ge=1, le=600000)]
EffortMinutes = Annotated[StrictInt, Field(ge=0, le=600000)]

#: Fields a client may read but never write; sending one is a 422, not silently ignored.
TASK_READONLY = frozenset(
    {
        "id",
        "created_at",
        "updated_at",
        "finished_at",
        "assigned_at",
        "completion_target_at",
        "anticipated_assignment_at",
        "alert_sent_at",
        "manager",
        "created_by",
        "resolution_duration",
        "calendar",
        "new_assignment",
        "overdue",
        "rejection_count",
    }
)
WORKFLOW_READONLY = frozenset(
    {"id", "created_at", "updated_at", "completed_at", "created_by"}
    | {"calendar", "escalation_policy"}
)
PERSON_READONLY = frozenset({"id", "created_at", "updated_at"})
TEAM_READONLY = PERSON_READONLY | {"calendar", "escalation_policy"}
ACCOUNT_READONLY = frozenset({"id", "slug", "calendar", "escalation_policy"})
CALENDAR_READONLY = PERSON_READONLY


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class TaskCreate(_Input):
    subject: Subject
    category: TaskCategory
    impact: TaskImpact | None = None
    status: TaskStatus | None = None
    team_id: Id | None = None
    member_id: Id | None = None
    workflow_id: Id | None = None
    instructions: LongText | None = None
    note: LongText | None = None
    planned_duration: Minutes | None = None
    planned_effort: EffortMinutes | None = None
    start_at: Moment | None = None
    waiting_until: Moment | None = None
    due_at: Moment | None = None
    alert_at: Moment | None = None
    urgent: StrictBool = False
    work_hours_are_24x7: StrictBool = False
    source: Annotated[str, StringConstraints(max_length=30)] | None = None
    source_id: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        default=None, alias="sourceID"
    )
    custom_fields: dict[str, Any] | None = None
    labels: Annotated[list[LabelName], Field(max_length=50)] = []


class TaskUpdate(_Input):
    """Every field optional; only the fields sent are changed, ``null`` clears."""

    subject: Subject = None  # type: ignore[assignment]  # absent is fine, null is not
    category: TaskCategory = None  # type: ignore[assignment]
    impact: TaskImpact | None = None
    status: TaskStatus = None  # type: ignore[assignment]
    team_id: Id | None = None
    member_id: Id | None = None
    instructions: LongText | None = None
    note: LongText | None = None
    planned_duration: Minutes | None = None
    planned_effort: EffortMinutes | None = None
    start_at: Moment | None = None
    waiting_until: Moment | None = None
    due_at: Moment | None = None
    alert_at: Moment | None = None
    urgent: StrictBool = None  # type: ignore[assignment]
    work_hours_are_24x7: StrictBool = None  # type: ignore[assignment]
    source: Annotated[str, StringConstraints(max_length=30)] | None = None
    source_id: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        default=None, alias="sourceID"
    )
    custom_fields: dict[str, Any] | None = None
    labels: Annotated[list[LabelName], Field(max_length=50)] = None  # type: ignore[assignment]


class NoteCreate(_Input):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=65536)]


class LabelsAdd(_Input):
    names: Annotated[list[LabelName], Field(min_length=1, max_length=50)]


class WorkflowCreate(_Input):
    subject: Subject
    category: WorkflowCategory = WorkflowCategory.standard
    manager_id: Id | None = None
    status: WorkflowStatus | None = None
    calendar_id: Id | None = None
    escalation_policy_id: Id | None = None


class WorkflowUpdate(_Input):
    subject: Subject = None  # type: ignore[assignment]
    category: WorkflowCategory = None  # type: ignore[assignment]
    manager_id: Id = None  # type: ignore[assignment]
    status: WorkflowStatus = None  # type: ignore[assignment]
    calendar_id: Id | None = None
    escalation_policy_id: Id | None = None


class PersonCreate(_Input):
    name: Name
    primary_email: Email
    admin: StrictBool = False


class PersonUpdate(_Input):
    name: Name = None  # type: ignore[assignment]
    primary_email: Email = None  # type: ignore[assignment]
    admin: StrictBool = None  # type: ignore[assignment]
    disabled: StrictBool = None  # type: ignore[assignment]


class TeamCreate(_Input):
    name: Name
    calendar_id: Id | None = None
    escalation_policy_id: Id | None = None


class TeamUpdate(_Input):
    name: Name = None  # type: ignore[assignment]
    disabled: StrictBool = None  # type: ignore[assignment]
    calendar_id: Id | None = None
    escalation_policy_id: Id | None = None


class AccountUpdate(_Input):
    name: Name = None  # type: ignore[assignment]
    calendar_id: Id | None = None  # the default calendar; null: 24x7
    escalation_policy_id: Id | None = None  # the default policy; null: no escalation


class MembershipCreate(_Input):
    person_id: Id


_CODES = {
    "missing": "missing",
    "extra_forbidden": "unknown_field",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "too_long": "too_long",
    "too_short": "too_short",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "enum": "invalid_value",
    "literal_error": "invalid_value",
    "string_pattern_mismatch": "invalid_format",
    "value_error": "invalid_value",
}

M = TypeVar("M", bound=BaseModel)


def _field_name(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in model.model_fields:
        alias = model.model_fields[parts[0]].alias
        if alias:
            parts[0] = alias
    return ".".join(parts) or "body"


def _error_code(error_type: str, given: Any) -> str:
    if error_type in _CODES:
        return _CODES[error_type]
    if given is None and error_type.endswith("_type"):
        return "not_nullable"
    return "invalid_type" if error_type.endswith(("_type", "_parsing")) else "invalid_value"


def validate(model: type[M], data: Any, readonly: frozenset[str] = frozenset()) -> M:
    """Validate client input against ``model``; raise one error naming every bad field."""
    if not isinstance(data, dict):
        raise TaskValidationError(
            "the body must be a JSON object",
            errors=[{"field": "body", "code": "invalid_type", "message": "expected an object"}],
        )
    errors = [
        {"field": key, "code": "readonly", "message": "is readonly and cannot be set"}
        for key in data
        if key in readonly
    ]
    writable = {k: v for k, v in data.items() if k not in readonly}
    try:
        result = model.model_validate(writable)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            given = err.get("input")
            code = _error_code(err["type"], given)
            message = "cannot be null" if code == "not_nullable" else err["msg"]
            if code == "unknown_field":
                message = "is not a field of this resource"
            field = _field_name(model, err["loc"])
            if field == "body" and "field" in err.get("ctx", {}):
                field, code = err["ctx"]["field"], err["type"]  # a whole-object rule
            errors.append({"field": field, "code": code, "message": message})
    if errors:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise TaskValidationError(f"Validation failed: {summary}", errors=errors)
    return result


def provided(model: BaseModel) -> dict[str, Any]:
    """The fields the client actually sent (``null`` included), by field name."""
    return {name: getattr(model, name) for name in model.model_fields_set}


# --- calendars ---------------------------------------------------------------------------


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


class ServiceHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    start: Annotated[time, BeforeValidator(_clock)]
    end: Annotated[time | None, BeforeValidator(_clock)]


class CalendarSpec(BaseModel):
    """A calendar as the REST resource and ``Calendar.from_spec`` take it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name | None = None
    time_zone: str = "UTC"
    hours: list[ServiceHours] = Field(default_factory=list, max_length=7 * 24)
    holidays: list[date] = Field(default_factory=list, max_length=10_000)
    holiday_country: str | None = Field(default=None, max_length=8)
    holiday_subdivision: str | None = Field(default=None, max_length=16)
    is_24x7: StrictBool = False

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

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
        if self.holiday_country is not None:
            import holidays

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


class CalendarUpdate(_Input):
    """PATCH /calendars/:id: the fields sent replace the calendar's; the result is
    validated as a whole (``CalendarSpec``)."""

    name: Name = None  # type: ignore[assignment]
    time_zone: str = None  # type: ignore[assignment]
    hours: list[dict[str, Any]] = None  # type: ignore[assignment]
    holidays: list[Any] = None  # type: ignore[assignment]
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    is_24x7: StrictBool = None  # type: ignore[assignment]


Uri = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2048)]
EventNames = Annotated[list[str], Field(min_length=1, max_length=20)]


def _known_events(events: list[str] | None) -> list[str] | None:
    from tasks_service.notifications import EVENTS

    if events is None:
        return None
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ValueError(f"unknown events {unknown}; known: {', '.join(EVENTS)}")
    return sorted(set(events))


class WebhookCreate(_Input):
    uri: Uri
    events: Annotated[EventNames, AfterValidator(_known_events)]
    disabled: StrictBool = False
    description: Annotated[str, StringConstraints(max_length=255)] | None = None


class WebhookUpdate(_Input):
    uri: Uri = None  # type: ignore[assignment]
    events: Annotated[EventNames, AfterValidator(_known_events)] = None  # type: ignore[assignment]
    disabled: StrictBool = None  # type: ignore[assignment]
    description: Annotated[str, StringConstraints(max_length=255)] | None = None


WEBHOOK_READONLY = frozenset(
    {"id", "secret", "created_at", "updated_at", "failing_since", "disabled_reason"}
)


# --- escalation policies ----------------------------------------------------------------

#: Who a level tells: the task's member, its team's members, its workflow's manager, a
#: person, or a team's members.
NotifyTarget = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, pattern=r"^(member|team|manager|(person|team):[1-9][0-9]{0,9})$"
    ),
]
#: A year of minutes either way.
OffsetMinutes = Annotated[StrictInt, Field(ge=-525_600, le=525_600)]


class EscalationActions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    set_impact: TaskImpact | None = None
    reassign_team_id: Id | None = None
    set_urgent: StrictBool | None = None


class EscalationLevel(BaseModel):
    """One level: at ``offset_minutes`` from ``relative_to``, or at ``percent`` of the
    planned service time (a warning before the breach)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offset_minutes: OffsetMinutes = 0
    relative_to: Literal["completion_target_at", "due_at"] = "completion_target_at"
    percent: Annotated[StrictInt, Field(ge=1, le=1000)] | None = None
    notify: Annotated[list[NotifyTarget], Field(max_length=50)] = []
    actions: EscalationActions | None = None

    @model_validator(mode="after")
    def _one_moment(self) -> EscalationLevel:
        if self.percent is not None and (
            self.offset_minutes != 0 or "relative_to" in self.model_fields_set
        ):
            raise PydanticCustomError(
                "invalid_value",
                "percent counts from the start of the clock: give it alone, without "
                "offset_minutes or relative_to",
            )
        return self


Levels = Annotated[list[EscalationLevel], Field(min_length=1, max_length=20)]


class EscalationPolicyCreate(_Input):
    name: Name
    levels: Levels
    # offsets count service minutes of the task's calendar (else wall-clock minutes)
    offsets_in_service_time: StrictBool = False
    # emails from levels wait for the calendar's service hours (webhooks never wait)
    hold_email_to_service_hours: StrictBool = True


class EscalationPolicyUpdate(_Input):
    name: Name = None  # type: ignore[assignment]
    levels: Levels = None  # type: ignore[assignment]
    offsets_in_service_time: StrictBool = None  # type: ignore[assignment]
    hold_email_to_service_hours: StrictBool = None  # type: ignore[assignment]


ESCALATION_POLICY_READONLY = PERSON_READONLY


class NotificationUpdate(_Input):
    read: StrictBool


class NotificationPreferences(_Input):
    """What a person may change about themselves: the notifications they do not want,
    as events (``task.alert``) or channel:event (``email:task.assigned``)."""

    notification_opt_outs: Annotated[list[str], Field(max_length=40)]

    @field_validator("notification_opt_outs")
    @classmethod
    def _known(cls, values: list[str]) -> list[str]:
        from tasks_service.notifications import PEOPLE_EVENTS

        for value in values:
            channel, _, event = value.rpartition(":")
            if channel not in ("", "email", "in_app") or event not in PEOPLE_EVENTS:
                raise ValueError(
                    f"{value!r}: give an event ({', '.join(PEOPLE_EVENTS)}), optionally "
                    "after email: or in_app:"
                )
        return sorted(set(values))
