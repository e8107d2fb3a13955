"""Validating client input: the field types every resource shares, and ``validate``.

Table models skip validation on ``__init__`` (sqlmodel#52), so every write is first
validated against an input model (``store.schemas``) and then copied onto the table
model by the commands. ``validate`` turns pydantic's errors into one
``TaskValidationError`` listing every bad field (and every readonly one sent).
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
import unicodedata
from datetime import UTC, date, datetime
from importlib import resources
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictInt,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError, core_schema

from tasks_service.core.documented import DAY_PATTERN, MOMENT_PATTERN
from tasks_service.core.errors import TaskValidationError

# Far enough for any plan; near enough that adding a year of minutes cannot overflow.
FIRST_YEAR, LAST_YEAR = 1900, 2999
_EARLIEST = datetime(FIRST_YEAR, 1, 1)
_LATEST = datetime(LAST_YEAR, 12, 31, 23, 59, 59)


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
    # The wall clock first (converting a moment near year 1 or 9999 overflows), then the
    # UTC moment that is stored: 1900-01-01T00:00+01:00 is still 1899 in UTC.
    if not _EARLIEST <= moment.replace(tzinfo=None) <= _LATEST:
        raise ValueError("must be between the years 1900 and 2999")
    utc = moment.astimezone(UTC)
    if not _EARLIEST <= utc.replace(tzinfo=None) <= _LATEST:
        raise ValueError("must be between the years 1900 and 2999 (in UTC)")
    return utc


Moment = Annotated[
    datetime,
    BeforeValidator(_to_utc_moment),
    # a date-time with its offset, or a day (midnight UTC): more than format date-time
    WithJsonSchema({"type": "string", "pattern": f"^({MOMENT_PATTERN}|{DAY_PATTERN})$"}),
]


def _one_line(value: Any) -> Any:
    """Refuse control characters (CR/LF, tab, NUL, ESC...) in a one-line text: a name
    or subject ends up in email headers, logs and terminals. Checked before the
    surrounding whitespace is stripped, so a trailing newline is refused too."""
    if isinstance(value, str):
        bad = next((ch for ch in value if _breaks_the_line(ch)), None)
        if bad is not None:
            raise PydanticCustomError(
                "invalid_character", f"may not contain control characters (found {bad!r})"
            )
    return value


#: Format characters that reorder or break what a reader sees (bidi embeddings,
#: overrides and isolates); other format characters (the joiners of emoji) are text.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _breaks_the_line(ch: str) -> bool:
    """A control character (Cc), a line or paragraph separator (Zl, Zp: U+2028/9), or
    a bidi control (U+202E would show a name backwards)."""
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS


_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: What ``_one_line`` takes, as the document's pattern; after ``strip_whitespace`` with a
#: ``min_length``, also a character that is not whitespace.
ONE_LINE_PATTERN = f"^[^{_CONTROLS}]*$"
NON_BLANK_LINE_PATTERN = f"^[^{_CONTROLS}]*[^\\s{_CONTROLS}][^{_CONTROLS}]*$"


class _OneLine:
    """``_one_line`` before a text's own checks, and its pattern in the JSON schema."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_before_validator_function(_one_line, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        found = handler(schema)
        inner = schema.get("schema", {})
        if found.get("type") == "string" and "pattern" not in found:
            blank_refused = inner.get("strip_whitespace") and inner.get("min_length")
            found["pattern"] = NON_BLANK_LINE_PATTERN if blank_refused else ONE_LINE_PATTERN
        return found


OneLine = _OneLine()
Subject = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), OneLine
]
#: (NUL: ``validate`` refuses it in any text; the document says so here)
LongText = Annotated[
    str, StringConstraints(max_length=65536), Field(json_schema_extra={"pattern": "^[^\\x00]*$"})
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), OneLine
]
LabelName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), OneLine
]
#: Stored as given; compared without regard to case (``identity.directory``).
_ADDRESS_PART = f"[^@\\s{_CONTROLS}]+"
_EMAIL_PATTERN = f"^{_ADDRESS_PART}@{_ADDRESS_PART}\\.{_ADDRESS_PART}$"
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=255, pattern=_EMAIL_PATTERN),
    OneLine,
]
_HOST_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _uri_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_value", message)


def _host(name: str) -> str:
    """A URI's host in its one form: an IP address as ``ipaddress`` writes it (IPv6 in
    brackets), a name in lower case and IDNA (``bücher.example`` is
    ``xn--bcher-kva.example``). Raises: PydanticCustomError."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise _uri_error(f"{name!r} is not a valid host name") from None
    labels = ascii_name.removesuffix(".").split(".")
    if len(ascii_name) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise _uri_error(f"{name!r} is not a valid host name")
    return ascii_name


def _http_uri(value: Any) -> Any:
    """An absolute http(s) URI, parsed once and kept in one form: scheme and host in
    lower case, the default port left out, path and query as given.

    Refused: another scheme, no host, a port outside 1-65535, whitespace or control
    characters anywhere (``urlsplit`` would silently drop CR/LF/tab, and a receiver
    would see another URI than the one shown), a fragment (never sent), and a user name
    or password: the URI is shown to every admin and in logs, and a receiver
    authenticates a webhook by its signature (``webhook-signature``), not by
    credentials in the URI."""
    if not isinstance(value, str):
        return value  # the ``str`` type refuses it
    text = value.strip()
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in text):
        raise PydanticCustomError(
            "invalid_character", "may not contain whitespace or control characters"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a bad port or IPv6 literal
        message = "a port from 1 to 65535" if "port" in str(exc).lower() else "a valid host"
        raise _uri_error(f"must be an http(s) URI with {message}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _uri_error("must be an http:// or https:// URI")
    if "@" in parts.netloc:
        raise _uri_error("may not contain a user name or password (webhooks are signed)")
    if not parts.hostname:
        raise _uri_error("must name a host (http(s)://host/...)")
    if port is not None and not 1 <= port <= 65535:
        raise _uri_error("must be an http(s) URI with a port from 1 to 65535")
    if parts.fragment or text.endswith("#"):
        raise _uri_error("may not contain a fragment (#...): it is never sent")
    netloc = _host(parts.hostname)
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


_LABEL = "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
_URI_PATTERN = rf"^https?://{_LABEL}(\.{_LABEL}){{0,3}}(:[1-9][0-9]{{0,3}})?(/[!-\"$-~]*)?$"

#: A webhook's address (``notify.transport.guard`` decides later whether it is public).
HttpUri = Annotated[
    str,
    StringConstraints(max_length=2048),
    BeforeValidator(_http_uri),
    # A form ``_http_uri`` always takes (it takes more: other letters' case, IPv6 hosts...)
    Field(json_schema_extra={"pattern": _URI_PATTERN}),
]


@functools.cache
def iana_zones() -> frozenset[str]:
    """The IANA time zone names, from the ``tzdata`` package (a dependency): the same
    list on every host. (``zoneinfo.available_timezones()`` also lists whatever the
    host's zoneinfo directory holds, ``localtime`` among them, and ``ZoneInfo`` opens
    any file under it: neither is a rule a client's calendar may depend on.)"""
    return frozenset(resources.files("tzdata").joinpath("zones").read_text().split())


def _iana_zone(value: Any) -> Any:
    if isinstance(value, str) and value not in iana_zones():
        raise PydanticCustomError(
            "invalid_value",
            "{zone} is not an IANA time zone name (e.g. Europe/Amsterdam, UTC)",
            {"zone": repr(value[:64])},
        )
    return value


#: A time zone: an IANA name, exactly as IANA spells it.
TimeZoneName = Annotated[
    str, AfterValidator(_iana_zone), Field(json_schema_extra={"enum": sorted(iana_zones())})
]


def _integral(value: Any) -> Any:
    """A JSON number with no fraction (``3.0``) is the whole number JSON Schema says it
    is; the text ``"3"`` and ``true`` stay refused (``StrictInt``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: After a whole number's constraints (``Annotated[StrictInt, Field(ge=1), Integral]``:
#: before them, the document would lose its minimum and maximum): ``3`` or ``3.0``.
Integral = BeforeValidator(_integral)

#: Ids fit the 32-bit integer columns of every backend.
MAX_ID = 2**31 - 1
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID), Integral]
MAX_MINUTES = 600_000
Minutes = Annotated[StrictInt, Field(ge=1, le=MAX_MINUTES), Integral]
#: The most service minutes a calendar is asked to count: a percent level (up to 1000%)
#: of the longest planned duration, with room for the time a task's clock stood still
#: and a level's offset (a year of minutes, ``store.schemas.policies``).
MAX_SERVICE_MINUTES = 10_000_000
EffortMinutes = Annotated[StrictInt, Field(ge=0, le=600000), Integral]


class InputModel(BaseModel):
    """What a client sends: unknown fields are refused, aliases (``sourceID``) accepted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


_CODES = {
    # rules between a list's items (``store.schemas.calendars``): kept as they are
    "range_order": "range_order",
    "ranges_overlap": "ranges_overlap",
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
    "invalid_character": "invalid_character",
    "out_of_range": "out_of_range",
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


#: More digits than any field's range: a JSON integer this long is not even converted
#: (Python refuses to parse integers of over 4,300 digits, with a message about its own
#: internals).
MAX_DIGITS = 40


class HugeNumber(str):
    """A JSON integer of more than ``MAX_DIGITS`` digits, kept as its text (so the body
    still serialises, e.g. to compare an Idempotency-Key's request) for ``validate`` to
    refuse, naming its field."""

    @property
    def digits(self) -> int:
        return len(self.lstrip("-"))


def parse_json_int(text: str) -> int | HugeNumber:
    """``json.loads(..., parse_int=parse_json_int)``: integers, but not huge ones."""
    return HugeNumber(text) if len(text.lstrip("-")) > MAX_DIGITS else int(text)


def _unreadable(value: Any, path: tuple[str, ...]) -> list[dict[str, str]]:
    """What no field can take, wherever it is in the input: a NUL character in a text
    (or in a key), a huge number (stored in a free-form field such as ``custom_fields``
    it would come back as text, or as an infinity no JSON column takes). One error per
    place, named by its path."""
    field = ".".join(path) or "body"
    if isinstance(value, HugeNumber):
        message = f"a number of {value.digits} digits is beyond the range of any field"
        return [{"field": field, "code": "out_of_range", "message": message}]
    if isinstance(value, float) and not math.isfinite(value):  # 1e999 reads as infinity
        message = "a number beyond the range of any field (JSON has no infinity)"
        return [{"field": field, "code": "out_of_range", "message": message}]
    if isinstance(value, str):
        if "\x00" in value:
            message = "may not contain NUL characters"
            return [{"field": field, "code": "invalid_character", "message": message}]
        return []
    if isinstance(value, dict):
        errors = []
        for key, item in value.items():
            if "\x00" in str(key):
                message = "a key may not contain NUL characters"
                errors.append({"field": field, "code": "invalid_character", "message": message})
            else:
                errors += _unreadable(item, (*path, str(key)))
        return errors
    if isinstance(value, list):
        return [e for i, item in enumerate(value) for e in _unreadable(item, (*path, str(i)))]
    return []


def _within(field: str, places: set[str]) -> bool:
    return any(field == p or field.startswith(f"{p}.") or p == "body" for p in places)


def validate(model: type[M], data: Any, readonly: frozenset[str] = frozenset()) -> M:
    """Validate client input against ``model``; raise one error naming every bad field.

    NUL characters and huge numbers are refused wherever they are, whatever the field's
    type (``_unreadable``); pydantic's own complaint about the same field is left out."""
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
    unreadable = _unreadable(writable, ())
    errors += unreadable
    places = {e["field"] for e in unreadable}
    try:
        result = model.model_validate(writable)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if _within(_field_name(model, err["loc"]), places):
                continue
            given = err.get("input")
            code = _error_code(err["type"], given)
            message = "cannot be null" if code == "not_nullable" else _plain(err["msg"])
            if code == "unknown_field":
                message = "is not a field of this resource"
            field = _field_name(model, err["loc"])
            if field == "body" and "field" in err.get("ctx", {}):
                field, code = err["ctx"]["field"], err["type"]  # a whole-object rule
            errors.append({"field": field, "code": code, "message": message})
    if errors:
        if len(errors) > MAX_ERRORS:  # 10,000 bad items are not 10,000 lines to read
            more = len(errors) - MAX_ERRORS
            errors = [
                *errors[:MAX_ERRORS],
                {"field": "body", "code": "too_many_errors", "message": f"and {more} more"},
            ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise TaskValidationError(f"Validation failed: {summary}", errors=errors)
    return result


#: The most errors one answer lists.
MAX_ERRORS = 20


def _plain(message: str) -> str:
    """pydantic's message without its own wording: "Value error, must be ..." reads
    "must be ..."; "List should have at most 40 items after validation, not 41" reads
    "should have at most 40 items, not 41"."""
    message = message.removeprefix("Value error, ")
    return _LIST_LENGTH.sub(r"should have at \1 items, not \2", message)


_LIST_LENGTH = re.compile(
    r"^List should have at (most \d+|least \d+) items? after validation, not (\d+)$"
)


def provided(model: BaseModel) -> dict[str, Any]:
    """The fields the client actually sent (``null`` included), by field name."""
    return {name: getattr(model, name) for name in model.model_fields_set}
