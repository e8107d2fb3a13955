"""One way to page through any collection: by page number, or by cursor.

``parse_list`` reads a collection request (filters, ``sort``, ``fields``, ``page``,
``per_page``, ``search_after``) into a ``ListQuery``; ``run_list`` answers it with one
count and one page query, whatever ``per_page``.

Offset pages (``?page=N``) cost more the deeper they are: the database reads and drops
every row before the page. A cursor (``?search_after=<opaque>``) names the sort keys of
the last row seen instead, so the next page starts from there in the index and costs the
same at any depth (keyset pagination). The order always ends with ``id``, so it is total:
each row has exactly one position and a walk neither skips nor repeats rows, also while
tasks are being added. A cursor is asked for with an empty ``search_after=``, and the
``next`` link switches to one by itself once the offset passes ``cursor_threshold``
(a setting, 2,000 rows by default).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, false, func, or_, true
from sqlmodel import Session, select

from tasks_service.querying.filters import (
    Extra,
    Kind,
    QueryError,
    ResourceQuery,
    SortKey,
    parse_fields,
    parse_filters,
    parse_moment,
    parse_sort,
)

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 10_000_000
#: From this many rows deep, the next page is linked by cursor (``TASKS_CURSOR_THRESHOLD``).
DEFAULT_CURSOR_THRESHOLD = 2_000


@dataclass(frozen=True)
class ListQuery:
    """A parsed collection request. ``after``: sort keys of the row before this page."""

    where: ColumnElement[bool]
    sort: tuple[SortKey, ...]
    sort_text: str
    fields: tuple[str, ...]
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    after: tuple[Any, ...] | None = None
    cursor_mode: bool = False
    cursor_threshold: int = DEFAULT_CURSOR_THRESHOLD


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    fields: tuple[str, ...] = ()
    cursor_mode: bool = False
    #: The cursor of the next page, when the request pages by cursor (or went deep).
    next_cursor: str | None = None

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def parse_list(
    resource: ResourceQuery,
    params: Sequence[tuple[str, str]],
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    extra: Extra | None = None,
    cursor_threshold: int = DEFAULT_CURSOR_THRESHOLD,
) -> ListQuery:
    """Everything a collection request asks for. Raises: QueryError, SortError."""
    first = dict(reversed(params))  # the first of a repeated parameter counts
    sort_text = (first.get("sort") or "").strip() or resource.default_sort
    sort = parse_sort(resource, sort_text)
    cursor = first.get("search_after")
    after = None
    if cursor:
        after, page = decode_cursor(cursor, sort, sort_text)
    elif cursor is not None:
        page = 1  # an empty search_after: the first page, paged by cursor from there
    return ListQuery(
        where=parse_filters(resource, params, extra),
        sort=sort,
        sort_text=sort_text,
        fields=parse_fields(resource, first.get("fields")),
        page=page,
        per_page=per_page,
        after=after,
        cursor_mode=cursor is not None,
        cursor_threshold=cursor_threshold,
    )


def list_statements(
    entity: Any, conditions: Sequence[ColumnElement[bool]], query: ListQuery
) -> tuple[Any, Any]:
    """The count and the page statement of a list (the page selects the sort keys too,
    to make the next cursor from its last row; it asks one row more than the page, to
    know whether there is a next one)."""
    where = [*conditions, query.where]
    count = select(func.count()).select_from(entity).where(*where)
    keys = [key.expression.label(f"sort_key_{i}") for i, key in enumerate(query.sort)]
    page = select(entity, *keys).where(*where).order_by(*(key.clause() for key in query.sort))
    if query.after is not None:
        page = page.where(after_condition(query.sort, query.after))
    else:
        page = page.offset((query.page - 1) * query.per_page)
    return count, page.limit(query.per_page + 1)


def run_list(
    session: Session, entity: Any, conditions: Sequence[ColumnElement[bool]], query: ListQuery
) -> Page[Any]:
    """The page of ``entity`` rows matching ``conditions`` and the query: two statements."""
    count, statement = list_statements(entity, conditions, query)
    total = session.exec(count).one()
    rows = session.exec(statement).all()
    more, rows = len(rows) > query.per_page, rows[: query.per_page]
    next_cursor = None
    if more and (query.cursor_mode or query.page * query.per_page >= query.cursor_threshold):
        next_cursor = encode_cursor(query.sort_text, tuple(rows[-1][1:]), query.page + 1)
    return Page(
        items=[row[0] for row in rows],
        total=total,
        page=query.page,
        per_page=query.per_page,
        fields=query.fields,
        cursor_mode=query.cursor_mode,
        next_cursor=next_cursor,
    )


# -- keyset conditions ---------------------------------------------------------------


def _after(key: SortKey, value: Any) -> ColumnElement[bool]:
    """Rows whose ``key`` comes strictly after ``value`` (nulls last up, first down)."""
    column: Any = key.expression
    if key.descending:
        after: ColumnElement[bool] = column.is_not(None) if value is None else column < value
    elif value is None:
        after = false()
    else:
        after = or_(column > value, column.is_(None)) if key.nullable else column > value
    return after


def _same(key: SortKey, value: Any) -> ColumnElement[bool]:
    column: Any = key.expression
    same: ColumnElement[bool] = column.is_(None) if value is None else column == value
    return same


def _not_before(key: SortKey, value: Any) -> ColumnElement[bool]:
    column: Any = key.expression
    if key.descending:
        bound: ColumnElement[bool] = true() if value is None else column <= value
    elif value is None:
        bound = column.is_(None)
    else:
        bound = or_(column >= value, column.is_(None)) if key.nullable else column >= value
    return bound


def after_condition(sort: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows after the one with sort keys ``values``: k1 after v1, or k1 equal and k2
    after v2, and so on. The bound on the first key, redundant in logic, lets the
    database start its index scan at the cursor instead of filtering from the top."""
    condition = _after(sort[-1], values[-1])
    for key, value in zip(reversed(sort[:-1]), reversed(values[:-1]), strict=True):
        condition = or_(_after(key, value), and_(_same(key, value), condition))
    return and_(_not_before(sort[0], values[0]), condition)


# -- cursors ----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return {"t": value.isoformat()} if isinstance(value, datetime) else value


def encode_cursor(sort_text: str, values: Sequence[Any], page: int) -> str:
    """An opaque cursor: the sort it belongs to, the keys of the last row, the next page."""
    body = {"s": sort_text, "k": [_plain(v) for v in values], "p": page}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid(reason: str) -> QueryError:
    return QueryError("search_after", reason, code="unknown_cursor")


def _key_value(key: SortKey, value: Any) -> Any:
    if value is None:
        if not key.nullable:
            raise _invalid(f"the cursor has no value for {key.name}")
        return None
    if key.kind == Kind.moment:
        # as a filter reads one: an offset, and the years a body takes
        text = value.get("t") if isinstance(value, dict) else None
        if not isinstance(text, str) or len(text) == 10:
            raise _invalid(f"the cursor's {key.name} is not a date-time")
        try:
            return parse_moment(key.name, text)
        except QueryError:
            raise _invalid(f"the cursor's {key.name} is not a date-time") from None
    if key.kind in (Kind.integer, Kind.reference, Kind.enum):
        if type(value) is not int or not -(2**31) <= value < 2**31:
            raise _invalid(f"the cursor's {key.name} is not a whole number")
    elif type(value) is not str or "\x00" in value:
        raise _invalid(f"the cursor's {key.name} is not text")
    return value


def decode_cursor(
    text: str, sort: Sequence[SortKey], sort_text: str
) -> tuple[tuple[Any, ...], int]:
    """The sort keys and page number in a cursor made by ``encode_cursor`` for this sort.

    Raises: QueryError for anything else (a cursor is only ever copied from a link).
    """
    try:
        body = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid("not a cursor from a link of this API") from None
    if not isinstance(body, dict) or not isinstance(body.get("k"), list):
        raise _invalid("not a cursor from a link of this API")
    if body.get("s") != sort_text:
        raise _invalid(f"the cursor belongs to a list sorted by {body.get('s')!r}")
    page = body.get("p")
    if not isinstance(page, int) or len(body["k"]) != len(sort):
        raise _invalid("not a cursor from a link of this API")
    if not 1 <= page <= MAX_PAGE:
        raise _invalid("not a cursor from a link of this API")
    return tuple(_key_value(k, v) for k, v in zip(sort, body["k"], strict=True)), page
