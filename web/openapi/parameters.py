"""A collection's query parameters in the document, from its declaration
(``querying.filters.ResourceQuery``): each filter with the values its kind reads
(``querying.filters``: lists, ``!`` for not, empty for none, comparisons), ``sort``,
``fields``, the paging parameters, and the resource's own ones (Trackops', the feed's).

The patterns say what the parser accepts, so that a value written from them is taken
and one outside them is refused; where a kind reads more than a pattern can say (a
date-time's calendar), the pattern keeps to values it certainly takes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tasks_service.core.documented import DAY_PATTERN, MOMENT_PATTERN, OFFSET_PATTERN, TIME_PATTERN
from tasks_service.core.validation import (
    MAX_ID,
)
from tasks_service.querying.filters import Extra, FieldSpec, Kind, ResourceQuery
from tasks_service.querying.paging import MAX_PAGE

# A whole number as filters read it (``querying.filters._WHOLE``, within 2^31 - 1): nine
# digits at most here, so that every number written from the pattern is in range.
_NUMBER = r"-?[0-9]{1,9}"
# A moment with its offset, in the years 1900-2999, on days every month has.
_DAY, _TIME, _OFFSET = DAY_PATTERN, TIME_PATTERN, OFFSET_PATTERN
_MOMENT = MOMENT_PATTERN
# An item of a list of names: any text but a comma, not blank.
_NAME = r"[^,\x00]*[^,\s\x00][^,\x00]*"

IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "the same key and request replay the first answer",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^\S(.*\S)?$"},
}
PREFER: dict[str, Any] = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": (
        "respond-async: answer 202 at once, without waiting for the outcome; other"
        " preferences are ignored (RFC 7240)"
    ),
    "schema": {"type": "string"},
}


def _alternatives(values: list[str]) -> str:
    return "(" + "|".join(_escape(v) for v in values) + ")"


def _escape(text: str) -> str:
    return "".join(f"\\{c}" if c in r".^$*+?()[]{}|\-/" else c for c in text)


def _list_of(item: str) -> str:
    return f"{item}(,{item})*"


def _filter_pattern(spec: FieldSpec) -> str:
    """The values of a filter of ``spec``'s kind: one or a list, ``!`` before for
    "not", empty for "none" (``!`` alone: "any"), comparisons for numbers and moments."""
    compare = ""
    if spec.kind in (Kind.integer, Kind.reference):
        item = _NUMBER
        if spec.kind == Kind.integer:
            compare = f"|[<>]=?{item}|>=?{item}<=?{item}"
    elif spec.kind == Kind.enum:
        assert spec.choices is not None
        item = _alternatives([c.value for c in spec.choices] + list(spec.aliases))
    elif spec.kind == Kind.moment:
        item = _MOMENT
        compare = f"|[<>]=?{item}|>=?{item}<=?{item}"
        return f"^(!?({item})?{compare})$"
    elif spec.kind == Kind.boolean:
        item = "(true|false)"
    elif spec.kind == Kind.tag:
        return f"^!?({_list_of(_NAME)})?$"
    else:  # text: anything that does not read as a comparison
        return r"^!?([^<>\x00][^\x00]*)?$"
    if spec.kind == Kind.boolean:
        return f"^!?({item})?$"
    return f"^(!?({_list_of(item)})?{compare})$"


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def _text(pattern: str) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern}


#: The resource-specific parameters (``Extra``) by name: Trackops' (001) and the feed's.
_DAY_OR_MOMENT = _text(f"^{_DAY}(T{_TIME}{_OFFSET}?)?$")
_EXTRA_SCHEMAS: dict[str, dict[str, Any]] = {
    "title": _text(r"^[^\x00]+$"),
    "user": _text(f"^(!?({_list_of(_NUMBER)})?)$"),
    "calendar": _text(f"^(!?({_list_of(_NUMBER)})?)$"),
    "case": _text(f"^(!?({_list_of(_NUMBER)})?)$"),
    "subject_id": _text(f"^(!?({_list_of(_NUMBER)})?)$"),
    "unread": {"type": "string", "enum": ["true", "false"]},
    "before": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}


def _number_or_empty(most: int) -> dict[str, Any]:
    """A whole number from 1 to ``most`` (a power of ten) as the query writes it, or
    empty; ``int_arg`` reads no other form (not ``+5``, ``05`` nor ``5.0``)."""
    digits = len(str(most)) - 1
    assert most == 10**digits, most
    return {"type": "string", "pattern": f"^([1-9][0-9]{{0,{digits - 1}}}|{most})?$"}


def list_parameters(
    resource: ResourceQuery, extra: Extra | None, max_per_page: int
) -> list[dict[str, Any]]:
    """Filters, ``sort``, ``fields`` and paging of a collection."""
    sortable = _alternatives(list(resource.sortable))
    shown = _alternatives(list(resource.shown))
    found = [
        _query("page", _number_or_empty(MAX_PAGE), "empty: the first"),
        _query("per_page", _number_or_empty(max_per_page), "empty: the default"),
        _query(
            "search_after",
            {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},  # encode_cursor's alphabet
            "a cursor from a next link; empty: start a walk by cursor",
        ),
        _query(
            "sort",
            _text(f"^({_list_of('-?' + sortable)})?$"),
            f"fields to sort on, - for descending (default, and empty: {resource.default_sort})",
        ),
        _query(
            "fields",
            _text(f"^({_list_of(shown)})?$"),
            "the fields to show (id always; empty: the collection's own)",
        ),
    ]
    for spec in resource.fields.values():
        found.append(_query(spec.name, _text(_filter_pattern(spec))))
    for name in extra or {}:
        if name.endswith(("_from", "_to")):
            schema = _DAY_OR_MOMENT
        else:
            schema = _EXTRA_SCHEMAS.get(name, _text(r"^[^\x00]*$"))  # (no NUL in a URL)
        found.append(_query(name, schema, "Trackops' list parameter (001)"))
    return found


def collection_item(model: type[BaseModel]) -> dict[str, str]:
    """An item of a page: the model's fields that were asked for (``?fields=``)."""
    return {"$ref": f"#/components/schemas/{item_schema_name(model)}"}


def item_schema_name(model: type[BaseModel]) -> str:
    return f"{model.__name__}Fields"
