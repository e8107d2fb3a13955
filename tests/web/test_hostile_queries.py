"""Hostile list requests (issue 14): date-times at the edges of the calendar, and one
parser for every list, so that a bad or unknown parameter is a 400 naming it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask import Flask

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_token
from tasks_service.querying.resources import TASK_VIEWS
from tasks_service.store.db import session_scope
from tests.helpers import AccountInfo, Api, assert_error, make_account


@pytest.fixture(scope="module")
def module_account(settings: Settings) -> AccountInfo:
    return make_account(settings)


@pytest.fixture(scope="module")
def module_api(app: Flask, module_account: AccountInfo, worker: Any) -> Api:
    api = Api(app.test_client(), module_account.token, module_account.slug)
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
    # the same edges as a body, on the clock and in UTC (a body past them in UTC crashed
    # the worker that stored it)
    for value in ("2999-12-31T23:59:59Z", ">=1900-01-01T00:00:00Z", "<2999-12-31T23:59:59Z"):
        assert module_api.get(f"/v1/tasks?due_at={value}").status_code == 200
    for value in ("2999-12-31T23:59:59-14:00", ">=1900-01-01T00:00:00%2B14:00"):
        body = assert_error(module_api.get(f"/v1/tasks?due_at={value}"), 400, "invalid_query")
        assert "in UTC" in body["message"], body


@pytest.mark.parametrize("path", ["/v1/tasks", "/v1/tasks/finished", "/v1/workflows"])
def test_a_moment_filter_needs_an_offset_as_a_body_does(module_api: Api, path: str) -> None:
    body = assert_error(
        module_api.get(f"{path}?updated_at=>2026-01-01T00:00:00"), 400, "invalid_query"
    )
    assert body["errors"][0]["field"] == "updated_at", body
    assert "offset" in body["message"], body
    # a date alone is midnight UTC, as in a body
    assert module_api.get(f"{path}?updated_at=>2026-01-01").status_code == 200


# -- one parser for every list ------------------------------------------------------------


@pytest.fixture(scope="module")
def every_list(module_api: Api) -> dict[str, str]:
    """A path of each kind of list, with a row in each that has one to show."""
    task = module_api.create_task(subject="Listed")
    hook = module_api.post(
        "/v1/webhooks", json={"uri": "http://127.0.0.1:9/hook", "events": ["task.created"]}
    )
    assert hook.status_code == 201, hook.get_json()
    return {
        "tasks": "/v1/tasks",
        "policies": "/v1/escalation_policies",
        "webhooks": "/v1/webhooks",
        "deliveries": f"/v1/webhooks/{hook.get_json()['id']}/deliveries",
        "escalations": f"/v1/tasks/{task['id']}/escalations",
        "notifications": "/v1/people/me/notifications",
    }


BAD_PARAMETERS = [
    ("sort=bogus", "sort"),
    ("sort=--id", "sort"),
    ("page=0", "page"),
    ("page=abc", "page"),
    ("per_page=abc", "per_page"),
    ("per_page=0", "per_page"),
    ("per_page=101", "per_page"),
    ("foo=bar", "foo"),
    ("fields=bogus", "fields"),
    ("id=abc", "id"),
    ("search_after=garbage", "search_after"),
]


@pytest.mark.parametrize(("query", "field"), BAD_PARAMETERS)
@pytest.mark.parametrize(
    "kind", ["tasks", "policies", "webhooks", "deliveries", "escalations", "notifications"]
)
def test_every_list_refuses_a_bad_parameter(
    module_api: Api, every_list: dict[str, str], kind: str, query: str, field: str
) -> None:
    response = module_api.get(f"{every_list[kind]}?{query}")
    assert response.status_code == 400, (kind, query, response.get_json())
    body = response.get_json()
    assert set(body) == {"message", "code", "errors"}, body
    assert field in {e["field"] for e in body["errors"]}, body


def test_sort_takes_one_minus_at_most(module_api: Api) -> None:
    body = assert_error(module_api.get("/v1/tasks?sort=--status"), 400, "invalid_sort", "sort")
    assert "-status" in body["message"], body
    assert module_api.get("/v1/tasks?sort=-status").status_code == 200


@pytest.mark.parametrize(
    ("kind", "query", "field"),
    [
        ("deliveries", "state=bogus", "state"),
        ("notifications", "unread=maybe", "unread"),
        ("notifications", "unread=1", "unread"),
        ("notifications", "before=abc", "before"),
        ("notifications", "before=0", "before"),
        ("notifications", "before=2147483648", "before"),
        ("webhooks", "disabled=maybe", "disabled"),
        ("escalations", "level=>x", "level"),
        ("policies", "sort=levels", "sort"),
    ],
)
def test_each_list_checks_its_own_filters(
    module_api: Api, every_list: dict[str, str], kind: str, query: str, field: str
) -> None:
    response = module_api.get(f"{every_list[kind]}?{query}")
    assert response.status_code == 400, response.get_json()
    assert field in {e["field"] for e in response.get_json()["errors"]}


@pytest.mark.parametrize(
    "kind", ["policies", "webhooks", "deliveries", "escalations", "notifications"]
)
def test_every_list_pages_as_the_others_do(
    module_api: Api, every_list: dict[str, str], kind: str
) -> None:
    response = module_api.get(f"{every_list[kind]}?per_page=5&sort=-id")
    assert response.status_code == 200, response.get_json()
    assert response.headers["X-Pagination-Per-Page"] == "5"
    assert 'rel="first"' in response.headers["Link"]
    fields = module_api.get(f"{every_list[kind]}?fields=id").get_json()
    assert all(set(item) == {"id"} for item in fields), fields


def test_a_webhooks_deliveries_filter_and_page(module_api: Api, every_list: dict[str, str]) -> None:
    path = every_list["deliveries"]
    assert module_api.get(f"{path}?state=delivered,dead&event=task.created").status_code == 200
    assert module_api.get("/v1/webhooks?disabled=false").status_code == 200


def test_the_feed_keeps_unread_before_and_its_count(
    module_api: Api, module_account: AccountInfo, settings: Settings
) -> None:
    ann = module_api.create_person("Ann", "ann@feed.example")
    team = module_api.create_team("Feed", members=(ann["id"],))
    tasks = [module_api.create_task(subject=f"F{i}", team_id=team["id"]) for i in range(3)]
    with session_scope(settings) as session:
        token = do_create_token(session, module_account.account_id, ann["id"])
    ann_api = module_api.as_(token, module_account.slug)
    feed = ann_api.get("/v1/people/me/notifications")
    assert feed.status_code == 200, feed.get_json()
    assert feed.headers["X-Unread-Count"] == "3"
    items = feed.get_json()
    assert [i["task"]["id"] for i in items] == [t["id"] for t in reversed(tasks)]
    older = ann_api.get(f"/v1/people/me/notifications?before={items[0]['id']}&per_page=1")
    assert [i["id"] for i in older.get_json()] == [items[1]["id"]]
    assert older.headers["X-Unread-Count"] == "3"
    ann_api.patch(f"/v1/people/me/notifications/{items[0]['id']}", json={"read": True})
    unread = ann_api.get("/v1/people/me/notifications?unread=true").get_json()
    assert [i["id"] for i in unread] == [items[1]["id"], items[2]["id"]]
    everything = ann_api.get("/v1/people/me/notifications?unread=false").get_json()
    assert len(everything) == 3


# -- numbers and cursors, as the sweep found them ------------------------------------------


def _cursor(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
@pytest.mark.parametrize("sort", ["created_at", "-created_at", "finished_at"])
def test_a_cursor_at_the_edges_of_the_calendar_is_refused(
    module_api: Api, sort: str, moment: str
) -> None:
    cursor = _cursor({"s": sort, "k": [{"t": moment}, 5], "p": 2})
    response = module_api.get(f"/v1/tasks?sort={sort}&search_after={cursor}")
    assert_error(response, 400, "invalid_query", "search_after")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=%D9%A1", "page"),  # an Arabic-Indic one
        ("per_page=%D9%A1%D9%A1", "per_page"),
        ("page=%2B1", "page"),
        ("per_page=%205", "per_page"),
        ("page=1_0", "page"),
        ("id=%D9%A1", "id"),
        ("id=%2B1", "id"),
        ("planned_duration=>1_000", "planned_duration"),
        ("team=%D9%A1", "team"),
        ("id=" + "9" * 400, "id"),
    ],
)
def test_a_number_in_a_query_is_ascii_digits(module_api: Api, query: str, field: str) -> None:
    response = module_api.get(f"/v1/tasks?{query}")
    assert response.status_code == 400, response.get_json()
    assert field in {e["field"] for e in response.get_json()["errors"]}
