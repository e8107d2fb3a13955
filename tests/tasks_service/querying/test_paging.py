"""Paging in-process: a cursor names the sort keys of the last row seen and comes back
exactly, and anything that is not a cursor of this list's sort is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from tasks_service.querying.filters import QueryError
from tasks_service.querying.paging import decode_cursor, encode_cursor, parse_list
from tasks_service.querying.resources import TASK_QUERY


def test_a_cursor_comes_back_as_the_keys_and_page_it_names() -> None:
    query = parse_list(TASK_QUERY, [("sort", "-updated_at,subject")])
    moment = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    cursor = encode_cursor(query.sort_text, (moment, "Backups", 42), 3)
    assert decode_cursor(cursor, query.sort, query.sort_text) == ((moment, "Backups", 42), 3)
    resumed = parse_list(TASK_QUERY, [("sort", "-updated_at,subject"), ("search_after", cursor)])
    assert (resumed.after, resumed.page, resumed.cursor_mode) == ((moment, "Backups", 42), 3, True)


def _forged(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("cursor", "reason"),
    [
        ("not a cursor", "not a cursor"),
        (_forged({"s": "-id", "k": [1], "p": 2}), "belongs to a list sorted by '-id'"),
        (_forged({"s": "subject", "k": ["a"], "p": 2}), "not a cursor"),  # too few keys
        (_forged({"s": "subject", "k": [1, 2], "p": 2}), "is not text"),
        (_forged({"s": "subject", "k": ["a", "b"], "p": 2}), "is not a whole number"),
        (_forged({"s": "subject", "k": ["a", 2], "p": 0}), "not a cursor"),
    ],
)
def test_anything_else_is_refused(cursor: str, reason: str) -> None:
    query = parse_list(TASK_QUERY, [("sort", "subject")])
    with pytest.raises(QueryError) as info:
        decode_cursor(cursor, query.sort, query.sort_text)
    assert info.value.field == "search_after"
    assert reason in info.value.message
