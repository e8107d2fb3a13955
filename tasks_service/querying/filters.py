"""The 4me / Xurrent filter language, written once and declared per resource.

A resource declares which fields may be filtered (``FieldSpec``: name in the API,
column, kind). ``parse_filters`` turns query parameters into SQL conditions:

=====================  ===========================================
``?f=v``               equal (in-list for ids and enums: ``1,2,3``)
``?f!=v`` ``?f=!v``    not equal (not in the list)
``?f=``                empty (null)
``?f=!`` ``?f!=``      present (not null)
``?f=<v`` ``<=`` ``>``  ``>=``   comparison, numbers and date-times
``?f=>a<b``            range (any lower and upper bound operators)
=====================  ===========================================

Conditions on several fields are ANDed. A field that may not be filtered, or a value
that does not parse, raises ``QueryError`` naming the field and the reason.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import ColumnElement, and_, case, or_, true

from tasks_service.core.errors import TaskError
from tasks_service.core.validation import Moment


class QueryError(TaskError):
    """A query parameter that cannot be used: which one, and why."""

    code = "invalid_query"

    def __init__(self, field_name: str, reason: str, code: str = "invalid_filter") -> None:
        super().__init__(
            f"{field_name}: {reason}",
            errors=[{"field": field_name, "code": code, "message": reason}],
        )
        self.field = field_name

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code, "errors": self.data["errors"]}


class Kind(StrEnum):
    integer = "integer"
    enum = "enum"
    text = "text"
    moment = "moment"
    reference = "reference"  # the id of another record, or nothing
    tag = "tag"  # one of a set of names (labels); lists allowed
    boolean = "boolean"


#: Parameters that are not filters.
RESERVED = frozenset({"page", "per_page", "sort", "fields", "search_after"})

#: The same filters written Trackops' way (001), resource-specific: ``{name: condition}``.
Extra = Mapping[str, Callable[[str], ColumnElement[bool]]]

_MAX_INT = 2**31 - 1
#: A whole number as a query writes it: ASCII digits (not Arabic-Indic ones, "+1", "1_0").
_WHOLE = re.compile(r"-?[0-9]{1,10}")
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_COMPARISON = re.compile(r"^(>=|>|<=|<)([^<>]+?)(?:(<=|<)([^<>]+))?$")


@dataclass(frozen=True)
class FieldSpec:
    """A filterable field: its API name, how it reads, and the SQL it becomes.

    ``column`` is a column expression; ``condition`` (for fields that are not one
    column, such as labels) builds the SQL for an operator and values itself.
    """

    name: str
    kind: Kind
    column: Any = None
    choices: type[Enum] | None = None
    condition: Callable[[str, list[Any]], ColumnElement[bool]] | None = None
    nullable: bool = True
    #: Other names for values, each standing for a list of them (Trackops' statuses).
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SortKey:
    """One term of an ORDER BY: the expression, its direction, what its values are."""

    name: str
    expression: Any
    descending: bool
    kind: Kind
    nullable: bool

    def clause(self) -> Any:
        # Empty values sort last going up and first going down, on every backend.
        if self.descending:
            return self.expression.desc().nulls_first()
        return self.expression.asc().nulls_last()


@dataclass(frozen=True)
class ResourceQuery:
    """What a collection allows: filterable and sortable fields, its default order, the
    fields a client may ask for (``?fields=``) and those it gets when it does not ask.
    ``key``: the field that tells its items apart (``id``; a task's labels: ``name``)."""

    fields: Mapping[str, FieldSpec]
    sortable: Mapping[str, FieldSpec]
    shown: tuple[str, ...]
    collection_fields: tuple[str, ...]
    default_sort: str = "-id"
    key: str = "id"

    @classmethod
    def of(
        cls,
        specs: Iterable[FieldSpec],
        sortable: Iterable[str],
        shown: Iterable[str],
        collection_fields: Iterable[str] | None = None,
        default_sort: str = "-id",
        key: str = "id",
    ) -> ResourceQuery:
        by_name = {spec.name: spec for spec in specs}
        shown = tuple(shown)
        return cls(
            fields=by_name,
            sortable={name: by_name[name] for name in sortable},
            shown=shown,
            collection_fields=tuple(collection_fields) if collection_fields else shown,
            default_sort=default_sort,
            key=key,
        )


class SortError(TaskError):
    """``?sort=`` names fields that may not be sorted on."""

    code = "invalid_sort"

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"Sorting not allowed on fields: {', '.join(names)}")
        self.names = names

    def to_dict(self) -> dict[str, Any]:
        errors = [{"field": "sort", "code": "not_sortable", "message": n} for n in self.names]
        return {"message": self.message, "code": self.code, "errors": errors}


def _sort_expression(spec: FieldSpec) -> Any:
    # Enumerations sort in their declared order (impact none..top), not alphabetically.
    if spec.kind == Kind.enum and spec.choices is not None:
        return case({c.value: i for i, c in enumerate(spec.choices)}, value=spec.column)
    return spec.column


def parse_sort(resource: ResourceQuery, text: str | None) -> tuple[SortKey, ...]:
    """The ORDER BY of ``?sort=a,-b``. ``id`` (the resource's key) ends every order, so
    that an order is total: pages are stable and a cursor names exactly one position. It
    goes the way of the last key, so that one index on (account, key, id) read in one
    direction serves the order and a cursor in it."""
    names = [n.strip() for n in (text or resource.default_sort).split(",") if n.strip()]
    # One "-" at most: "--status" is not a way of writing "-status".
    terms = [(name.removeprefix("-"), name.startswith("-")) for name in names]
    bad = [name for name, _ in terms if name not in resource.sortable]
    if bad:
        raise SortError(bad)
    keys = []
    for name, descending in terms:
        spec = resource.sortable[name]
        keys.append(
            SortKey(spec.name, _sort_expression(spec), descending, spec.kind, spec.nullable)
        )
    if not any(key.name == resource.key for key in keys):
        spec = resource.sortable[resource.key]
        keys.append(SortKey(spec.name, spec.column, keys[-1].descending, spec.kind, False))
    return tuple(keys)


def parse_fields(resource: ResourceQuery, text: str | None) -> tuple[str, ...]:
    """The fields to show for ``?fields=a,b`` (the key, ``id``, always), or the
    collection fields."""
    if text is None or not text.strip():
        return resource.collection_fields
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in resource.shown]
    if unknown:
        raise QueryError(
            "fields",
            f"unknown fields: {', '.join(unknown)} (allowed: {', '.join(resource.shown)})",
        )
    return tuple(dict.fromkeys([resource.key, *names]))


#: A date-time in a filter reads as in a body (``core.validation.Moment``): the same
#: years, an offset required.
_MOMENT: TypeAdapter[datetime] = TypeAdapter(Moment)


def parse_moment(name: str, text: str, naive_is_utc: bool = False) -> datetime:
    """A moment as bodies take it, in UTC. ``naive_is_utc``: a time without an offset
    is UTC (Trackops' parameters, 001: "all timestamp parameters are queried in UTC")."""
    text = text.strip()
    value: str | datetime = text
    if naive_is_utc and len(text) != 10:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is None:
            value = moment.replace(tzinfo=UTC)
    try:
        return _MOMENT.validate_python(value)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        reason = str(error.get("ctx", {}).get("error", error["msg"]))
        raise QueryError(name, f"{text!r}: {reason}") from None


def _parse_one(spec: FieldSpec, text: str) -> Any:
    if spec.kind in (Kind.integer, Kind.reference):
        if not _WHOLE.fullmatch(text):
            if re.fullmatch(r"-?[0-9]+", text):
                raise QueryError(spec.name, f"{text} is out of range")
            raise QueryError(spec.name, f"{text!r} is not a whole number")
        number = int(text)
        if not -_MAX_INT <= number <= _MAX_INT:
            raise QueryError(spec.name, f"{text} is out of range")
        return number
    if spec.kind == Kind.enum:
        assert spec.choices is not None
        allowed = [c.value for c in spec.choices]
        if text not in allowed:
            raise QueryError(spec.name, f"{text!r} is not one of {', '.join(allowed)}")
        return text
    if spec.kind == Kind.moment:
        return parse_moment(spec.name, text)
    if spec.kind == Kind.boolean:
        if text not in ("true", "false"):
            raise QueryError(spec.name, f"{text!r} is not true or false")
        return text == "true"
    return text


def _values(spec: FieldSpec, text: str) -> list[Any]:
    # Lists only for ids and enumerations: commas may be part of a subject.
    if spec.kind in (Kind.integer, Kind.reference, Kind.enum, Kind.tag):
        parts = [part.strip() for part in text.split(",")]
        if any(part == "" for part in parts):
            raise QueryError(spec.name, "an empty item in the list")
        parts = [value for part in parts for value in spec.aliases.get(part, (part,))]
        return [_parse_one(spec, part) for part in dict.fromkeys(parts)]
    return [_parse_one(spec, text)]


def _build(spec: FieldSpec, op: str, values: list[Any]) -> ColumnElement[bool]:
    if spec.condition is not None:
        return spec.condition(op, values)
    column = spec.column
    if op == "empty":
        return column.is_(None)  # type: ignore[no-any-return]
    if op == "present":
        return column.is_not(None)  # type: ignore[no-any-return]
    if op == "in":
        return column == values[0] if len(values) == 1 else column.in_(values)  # type: ignore[no-any-return]
    if op == "not_in":
        # "not equal" keeps the rows where the field is empty, as people mean it.
        excluded = column != values[0] if len(values) == 1 else column.not_in(values)
        return or_(excluded, column.is_(None)) if spec.nullable else excluded
    compare: ColumnElement[bool] = _COMPARE[op](column, values[0])
    return compare


def parse_condition(spec: FieldSpec, text: str, negated: bool = False) -> ColumnElement[bool]:
    """One parameter's condition. ``negated``: the key was written ``field!``."""
    if not negated and text.startswith("!"):
        negated, text = True, text[1:]
    if text == "":
        return _build(spec, "present" if negated else "empty", [])
    if text[0] in "<>":
        if negated:
            raise QueryError(spec.name, "a comparison cannot be negated")
        if spec.kind not in (Kind.integer, Kind.moment):
            raise QueryError(spec.name, "only numbers and date-times can be compared")
        match = _COMPARISON.match(text)
        if match is None or (match.group(3) and match.group(1) not in (">", ">=")):
            raise QueryError(spec.name, f"{text!r} is not a comparison such as >a, <=b or >a<b")
        lower = _build(spec, match.group(1), [_parse_one(spec, match.group(2))])
        if not match.group(3):
            return lower
        return and_(lower, _build(spec, match.group(3), [_parse_one(spec, match.group(4))]))
    return _build(spec, "not_in" if negated else "in", _values(spec, text))


def day_bound(name: str, column: Any, upper: bool) -> Callable[[str], ColumnElement[bool]]:
    """Trackops' ``x_from`` / ``x_to`` (001): on or after / on or before, in UTC; a date
    without a time means the whole day, so ``due_to=2026-01-31`` includes that day."""

    def condition(text: str) -> ColumnElement[bool]:
        moment = parse_moment(name, text, naive_is_utc=True)
        if not upper:
            return column >= moment  # type: ignore[no-any-return]
        if len(text.strip()) == 10:
            return column < moment + timedelta(days=1)  # type: ignore[no-any-return]
        return column <= moment  # type: ignore[no-any-return]

    return condition


def contains(name: str, column: Any) -> Callable[[str], ColumnElement[bool]]:
    """Text containing the value, ignoring case (Trackops' ``title``); ``%`` and ``_``
    are matched literally."""

    def condition(text: str) -> ColumnElement[bool]:
        if not text:
            raise QueryError(name, "give some text to look for")
        return column.icontains(text, autoescape=True)  # type: ignore[no-any-return]

    return condition


def equals(spec: FieldSpec) -> Callable[[str], ColumnElement[bool]]:
    """A plain equality parameter under another name (Trackops' ``case`` for the task's
    ``casefile_id``; its ``user``, with a condition of its own)."""
    return lambda text: parse_condition(spec, text)


def parse_filters(
    resource: ResourceQuery,
    params: Sequence[tuple[str, str]],
    extra: Extra | None = None,
) -> ColumnElement[bool]:
    """All filter parameters of a request, ANDed. ``extra``: resource-specific parameters
    (such as Trackops' ``due_from``) that are not 4me field filters."""
    conditions: list[ColumnElement[bool]] = []
    for key, text in params:
        if key in RESERVED:
            continue
        if extra and key in extra:
            conditions.append(extra[key](text))
            continue
        name, negated = (key[:-1], True) if key.endswith("!") else (key, False)
        spec = resource.fields.get(name)
        if spec is None:
            allowed = ", ".join(sorted(resource.fields))
            raise QueryError(name, f"filtering is not allowed on {name!r} (allowed: {allowed})")
        conditions.append(parse_condition(spec, text, negated))
    return and_(true(), *conditions)


def moment_field(name: str, column: object) -> FieldSpec:
    """A filterable moment; every record has ``created_at`` and ``updated_at``: saying so
    keeps cursor conditions free of "or null"."""
    return FieldSpec(name, Kind.moment, column, nullable=name not in ("created_at", "updated_at"))
