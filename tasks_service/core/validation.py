"""Validating client input: the field types every resource shares, and ``validate``.

Table models skip validation on ``__init__`` (sqlmodel#52), so every write is first
validated against an input model (``store.schemas``) and then copied onto the table
model by the commands. ``validate`` turns pydantic's errors into one
``TaskValidationError`` listing every bad field (and every readonly one sent).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
)

from tasks_service.core.errors import TaskValidationError

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
MAX_ID = 2**31 - 1
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Minutes = Annotated[StrictInt, Field(ge=1, le=600000)]
EffortMinutes = Annotated[StrictInt, Field(ge=0, le=600000)]


class InputModel(BaseModel):
    """What a client sends: unknown fields are refused, aliases (``sourceID``) accepted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


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
