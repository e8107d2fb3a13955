"""Hostile list requests (issue 14): date-times at the edges of the calendar, and one
parser for every list, so that a bad or unknown parameter is a 400 naming it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tasks_service.core.settings import Settings
from tasks_service.querying.resources import TASK_VIEWS
from tests.helpers import Api, assert_error, make_account


@pytest.fixture(scope="module")
def module_api(app: Flask, settings: Settings, worker: Any) -> Api:
    account = make_account(settings)
    api = Api(app.test_client(), account.token, account.slug)
    api.create_task(subject="Due late", due_at="2999-12-31T12:00:00Z")
    return api


TRACKOPS_BOUNDS = [
    f"{name}_{end}"
    for name in ("due", "complete", "alert", "alert_sent", "created", "updated")
    for end in ("from", "to")
]
TASK_LISTS = ["/v1/tasks", *(f"/v1/tasks/{view}" for view in TASK_VIEWS)]


@pytest.mark.parametrize("path", TASK_LISTS)
@pytest.mark.parametrize("name", TRACKOPS_BOUNDS)
def test_a_trackops_bound_at_the_last_day_is_not_a_server_error(
    module_api: Api, path: str, name: str
) -> None:
    # The last day of the range bodies take: its whole day, and no overflow.
    assert module_api.get(f"{path}?{name}=2999-12-31").status_code == 200
    for text in ("9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01"):
        body = assert_error(module_api.get(f"{path}?{name}={text}"), 400, "invalid_query", name)
        assert "1900" in body["message"], body


def test_the_whole_last_day_is_in_range(module_api: Api) -> None:
    got = module_api.get("/v1/tasks?due_to=2999-12-31&due_from=2999-12-31").get_json()
    assert [t["subject"] for t in got] == ["Due late"]


@pytest.mark.parametrize(
    "value",
    [
        ">=0001-01-01T00:00:00%2B14:00",
        "9999-12-31T23:59:59-14:00",
        "<9999-12-31T23:59:59-14:00",
        ">1800-01-01T00:00:00Z",
        ">=2026-01-01T00:00:00Z<3000-01-01",
    ],
)
@pytest.mark.parametrize("path", ["/v1/tasks", "/v1/tasks/open", "/v1/workflows"])
def test_a_moment_filter_takes_the_years_bodies_take(
    module_api: Api, path: str, value: str
) -> None:
    body = assert_error(module_api.get(f"{path}?created_at={value}"), 400, "invalid_query")
    assert body["errors"][0]["field"] == "created_at", body
    assert "1900" in body["message"], body


def test_a_moment_filter_at_the_edges_of_the_range(module_api: Api) -> None:
    # the same edges as a body: an offset that takes it past the year 2999 in UTC is fine
    for value in ("2999-12-31T23:59:59-14:00", ">=1900-01-01T00:00:00%2B14:00"):
        assert module_api.get(f"/v1/tasks?due_at={value}").status_code == 200


@pytest.mark.parametrize("path", ["/v1/tasks", "/v1/tasks/finished", "/v1/workflows"])
def test_a_moment_filter_needs_an_offset_as_a_body_does(module_api: Api, path: str) -> None:
    body = assert_error(
        module_api.get(f"{path}?updated_at=>2026-01-01T00:00:00"), 400, "invalid_query"
    )
    assert body["errors"][0]["field"] == "updated_at", body
    assert "offset" in body["message"], body
    # a date alone is midnight UTC, as in a body
    assert module_api.get(f"{path}?updated_at=>2026-01-01").status_code == 200
