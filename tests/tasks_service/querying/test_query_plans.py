"""PostgreSQL plans of the task lists at 100,000 tasks: no sequential scan of tasks.

The data is ``benchmarks.dataset`` (50 accounts of skewed sizes, realistic spreads),
analysed and vacuumed. Every filterable field, every predefined filter and the Trackops
date ranges are planned through the code path the API runs (``parse_list`` and
``list_statements``), for the largest account (a fifth of all tasks) and a middling one,
both for the count and for the page, and by cursor for a deep page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from benchmarks.dataset import fill
from tasks_service.core.settings import Settings
from tasks_service.querying.lists import task_list_conditions
from tasks_service.querying.paging import encode_cursor, list_statements, parse_list
from tasks_service.querying.resources import TASK_QUERY, TASK_TRACKOPS, TASK_VIEWS
from tasks_service.store import migrate
from tasks_service.store.models import Task
from tests.helpers import BASE, postgres_database

pytestmark = pytest.mark.timeout(600)

SEQ_SCAN_OF_TASKS = re.compile(r"Seq Scan on task(?![_\w])")


@pytest.fixture(scope="module")
def populated() -> Iterator[tuple[sqlalchemy.Engine, dict[str, int]]]:
    for url in postgres_database(BASE.test_database_url):
        migrate.upgrade(Settings(database_url=url))
        engine = sqlalchemy.create_engine(url)
        fill(engine, tasks=100_000)
        with engine.connect() as conn:
            largest, middling = (
                row[0]
                for row in conn.exec_driver_sql(
                    "SELECT account_id FROM task GROUP BY 1 ORDER BY count(*) DESC"
                ).all()[::10][:2]
            )
            busiest = conn.exec_driver_sql(
                "SELECT member_id FROM task WHERE account_id = %s AND member_id IS NOT NULL"
                " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
                (largest,),
            ).scalar_one()
        yield engine, {"largest": largest, "middling": middling, "person": busiest}
        engine.dispose()


FILTERS = [
    "",
    "id=5,6,7",
    "id=>=50000",
    "source=email",
    "sourceID=src-40",
    "subject=Patch servers #4000",
    "impact=top",
    "impact=",
    "category=approval",
    "status=assigned",
    "status=accepted,in_progress",
    "team=3",
    "team=",
    "member=7",
    "workflow=12",
    "workflow=",
    "template=",
    "planned_duration=>=60<=120",
    "completion_target_at=<2026-01-01",
    "finished_at=>2026-06-01<2026-07-01",
    "created_at=>=2026-11-01",
    "updated_at=<2024-01-01",
    "due_at=<2026-12-01",
    "alert_at=>2026-11-01",
    "alert_sent_at=>2026-11-01",
    "start_at=>2026-11-01",
    "waiting_until=<2026-12-01",
    "labels=security",
    "due_from=2026-11-01&due_to=2026-11-30",
    "complete_from=2026-11-01",
    "alert_sent_from=2026-11-20",
    "title=backup",
    "user=7",
    "status=assigned,in_progress&sort=completion_target_at",
    "sort=-updated_at",
    "sort=created_at&impact=high",
    "sort=finished_at&status=completed",
]
#: Every filter alone, and each predefined filter with a few of them.
CASES = [(f, None) for f in FILTERS] + [
    (f, view)
    for view in TASK_VIEWS
    for f in ("", "status=assigned", "impact=top", "sort=-updated_at")
]


def _explain(engine: sqlalchemy.Engine, statement: Any, options: str = "") -> list[Any]:
    """The rows of ``EXPLAIN [options]`` for a statement built by the list code."""
    compiled = statement.compile(
        dialect=postgresql.dialect(), compile_kwargs={"render_postcompile": True}
    )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"EXPLAIN {options} {compiled}", compiled.params)
        return list(cursor.fetchall())
    finally:
        raw.close()


def _plan(engine: sqlalchemy.Engine, statement: Any) -> str:
    return "\n".join(row[0] for row in _explain(engine, statement))


def _params(text: str) -> list[tuple[str, str]]:
    return [(key, value) for key, _, value in (p.partition("=") for p in text.split("&") if p)]


@pytest.mark.parametrize("which", ["largest", "middling"])
@pytest.mark.parametrize(("filters", "view"), CASES)
def test_no_sequential_scan_of_tasks(
    populated: tuple[sqlalchemy.Engine, dict[str, int]], which: str, view: str | None, filters: str
) -> None:
    engine, refs = populated
    query = parse_list(TASK_QUERY, _params(filters), extra=TASK_TRACKOPS)
    condition = TASK_VIEWS[view](refs["person"]) if view else None
    conditions = task_list_conditions(refs[which], view=condition)
    count, page = list_statements(Task, conditions, query)
    for statement in (count, page):
        plan = _plan(engine, statement)
        assert not SEQ_SCAN_OF_TASKS.search(plan), f"{filters} {view}:\n{plan}"


def _buffers(engine: sqlalchemy.Engine, statement: Any) -> int:
    """Pages of data a statement touched (EXPLAIN ANALYZE's shared buffers)."""
    plan = _explain(engine, statement, "(ANALYZE, BUFFERS, FORMAT JSON)")[0][0][0]["Plan"]
    return int(plan["Shared Hit Blocks"] + plan["Shared Read Blocks"])


@pytest.mark.parametrize("sort", ["-id", "id", "created_at", "-updated_at", "subject"])
def test_a_deep_cursor_page_costs_what_page_one_does(
    populated: tuple[sqlalchemy.Engine, dict[str, int]], sort: str
) -> None:
    """Page 500 of the largest account: by cursor it reads about as much as page 1 (it
    starts in the index at the cursor); by offset it reads every row before it."""
    engine, refs = populated
    conditions = task_list_conditions(refs["largest"])
    first = parse_list(TASK_QUERY, [("sort", sort)])
    deep = parse_list(TASK_QUERY, [("sort", sort)], page=500)
    _count, offset_page = list_statements(Task, conditions, deep)
    with Session(engine) as session:
        last_of_499 = session.exec(
            list_statements(Task, conditions, parse_list(TASK_QUERY, [("sort", sort)], page=499))[1]
        ).all()[19]
    cursor = encode_cursor(first.sort_text, tuple(last_of_499[1:]), 500)
    by_cursor = parse_list(TASK_QUERY, [("sort", sort), ("search_after", cursor)])
    _count, cursor_page = list_statements(Task, conditions, by_cursor)
    with Session(engine) as session:
        offset_ids = [row[0].id for row in session.exec(offset_page).all()]
        cursor_ids = [row[0].id for row in session.exec(cursor_page).all()]
    assert cursor_ids == offset_ids  # the same page either way
    page_one = _buffers(engine, list_statements(Task, conditions, first)[1])
    assert _buffers(engine, cursor_page) <= 3 * page_one + 10, _plan(engine, cursor_page)
    assert _buffers(engine, offset_page) > 10 * page_one
