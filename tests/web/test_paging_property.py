"""Property: walking all pages, by number or by cursor, returns each matching task
exactly once, in the same order, whatever the filter, the sort and the page size.

The tasks are made with many ties (same subject, impact, created_at, empty fields), the
case where a weak order would skip or repeat rows at page boundaries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tasks_service.core.settings import Settings
from tasks_service.querying.resources import TASK_QUERY
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task
from tests.helpers import Api, links, make_account

START = datetime(2026, 3, 1, tzinfo=UTC)
IMPACTS = [None, "low", "high", "top"]


@pytest.fixture(scope="module")
def tied(app: Flask, settings: Settings) -> tuple[Api, list[dict[str, Any]]]:
    account = make_account(settings)
    rows = []
    with session_scope(settings) as session:
        for i in range(23):
            task = Task(
                account_id=account.account_id,
                subject=["Same", "Other", "Same", "Zed"][i % 4],
                category="implementation",
                impact=IMPACTS[i % 4 if i % 5 else 0],
                created_at=START + timedelta(hours=i // 6),  # runs of equal created_at
                updated_at=START,
                due_at=None if i % 3 else START + timedelta(days=i % 2),
            )
            session.add(task)
            session.flush()
            rows.append(
                {
                    "id": task.id,
                    "impact": task.impact,
                    "due_at": task.due_at,
                    "subject": task.subject,
                }
            )
    return Api(app.test_client(), account.token, account.slug), rows


FILTERS = {
    "": lambda t: True,
    "impact=high,top": lambda t: t["impact"] in ("high", "top"),
    "due_at=!": lambda t: t["due_at"] is not None,
    "due_at=": lambda t: t["due_at"] is None,
    "subject=Same": lambda t: t["subject"] == "Same",
    "impact!=low": lambda t: t["impact"] != "low",
}
SORTABLE = sorted(TASK_QUERY.sortable)


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    filter_text=st.sampled_from(sorted(FILTERS)),
    keys=st.lists(st.sampled_from(SORTABLE), min_size=0, max_size=3, unique=True),
    descending=st.lists(st.booleans(), min_size=3, max_size=3),
    per_page=st.integers(min_value=1, max_value=7),
)
def test_every_walk_returns_each_matching_task_once(
    tied: tuple[Api, list[dict[str, Any]]],
    filter_text: str,
    keys: list[str],
    descending: list[bool],
    per_page: int,
) -> None:
    api, rows = tied
    sort = ",".join(
        ("-" if down else "") + key for key, down in zip(keys, descending, strict=False)
    )
    params = {"per_page": str(per_page), **dict([filter_text.split("=", 1)] if filter_text else [])}
    if sort:
        params["sort"] = sort
    expected = sorted(t["id"] for t in rows if FILTERS[filter_text](t))

    by_number: list[int] = []
    first = api.get("/v1/tasks", query_string=params)
    assert first.status_code == 200, first.get_json()
    pages = int(first.headers["X-Pagination-Total-Pages"])
    assert int(first.headers["X-Pagination-Total-Entries"]) == len(expected)
    for page in range(1, pages + 1):
        response = api.get("/v1/tasks", query_string={**params, "page": str(page)})
        by_number += [t["id"] for t in response.get_json()]

    by_cursor: list[int] = []
    query: dict[str, str] | None = {**params, "search_after": ""}
    walked = 0
    while query is not None:
        response = api.get("/v1/tasks", query_string=query)
        assert response.status_code == 200, response.get_json()
        by_cursor += [t["id"] for t in response.get_json()]
        query = links(response).get("next")
        walked += 1
        assert walked <= len(expected) + 1

    assert sorted(by_number) == expected  # each once
    assert by_cursor == by_number  # the same order either way
