"""Exporting an account's tasks: the REST list walked page by page, written as a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import IO
from urllib.parse import parse_qsl

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import get_account
from tasks_service.querying.filters import QueryError
from tasks_service.querying.lists import task_list_conditions
from tasks_service.querying.paging import list_statements, parse_list
from tasks_service.querying.resources import TASK_QUERY, TASK_TRACKOPS
from tasks_service.querying.serializers.tasks import serialize_tasks
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task
from tasks_service.store.schemas.tasks import TASK_FIELDS
from tasks_service.transfer.formats import TaskWriter

#: Rows per page of an export.
PAGE_SIZE = 500
#: ``(done, total)``, told as the work goes.
Progress = Callable[[int, int], None]


def export_tasks(
    settings: Settings,
    slug: str,
    out: IO[str],
    fmt: str = "json",
    query: str = "",
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> int:
    """Write the account's tasks matching ``query`` (``status=assigned&team=3``, the
    REST list's filters, ``sort`` (by id by default) and ``fields`` (all by default))
    to ``out``; returns how many. Raises: NotFound (the account); QueryError."""
    params = parse_qsl(query, keep_blank_values=True)
    for name, _value in params:
        if name in ("page", "per_page", "search_after"):
            raise QueryError(name, "an export walks every page itself: leave it out")
    if not any(name == "sort" and value.strip() for name, value in params):
        params.append(("sort", "id"))
    listing = parse_list(TASK_QUERY, params, per_page=page_size, extra=TASK_TRACKOPS)
    asked = any(name == "fields" and value.strip() for name, value in params)
    with session_scope(settings, write=False) as session:
        conditions = task_list_conditions(get_account(session, slug).id or 0)
        count, _page = list_statements(Task, conditions, listing)
        total = session.exec(count).one()
    writer = TaskWriter(out, fmt, listing.fields if asked else TASK_FIELDS)
    while True:
        # a page a transaction: a long export holds no snapshot for its whole walk
        with session_scope(settings, write=False) as session:
            rows = session.exec(list_statements(Task, conditions, listing)[1]).all()
            page = rows[:page_size]
            writer.write(serialize_tasks(session, [row[0] for row in page]))
        if progress is not None:
            progress(writer.count, max(total, writer.count))
        if len(rows) <= page_size:
            break
        listing = replace(listing, after=tuple(page[-1][1:]))  # the next page's keyset
    writer.close()
    return writer.count
