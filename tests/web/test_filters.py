"""The 4me filter language on task and workflow collections over REST (table-driven;
the language in-process: ``tests/tasks_service/querying/test_filters.py``)."""

from __future__ import annotations

import pytest

from tests.helpers import AccountInfo, Api, assert_error, make_account


@pytest.fixture(scope="module")
def world_api(app, settings, worker) -> tuple[Api, dict[str, int]]:
    """An account with five tasks of known fields (names map to ids), shared by the module."""
    account = make_account(settings)
    api = Api(app.test_client(), account.token, account.slug)
    team = api.create_team("Ops", members=(account.admin_id,))
    made = {
        "a": api.create_task(
            subject="Alpha",
            impact="high",
            team_id=team["id"],
            planned_duration=30,
            labels=["net"],
            due_at="2026-01-10T12:00:00Z",
        ),
        "b": api.create_task(
            subject="Beta",
            impact="low",
            member_id=account.admin_id,
            planned_duration=120,
            labels=["net", "db"],
            due_at="2026-02-10T12:00:00Z",
        ),
        "c": api.create_task(
            subject="Gamma",
            category="approval",
            source="mail",
            sourceID="m-1",
            planned_duration=600,
        ),
        "d": api.create_task(
            subject="Delta", impact="high", team_id=team["id"], member_id=account.admin_id
        ),
        "e": api.create_task(subject="Beta, again"),
    }
    api.patch(f"/v1/tasks/{made['d']['id']}", json={"status": "completed"})
    ids = {name: task["id"] for name, task in made.items()}
    ids["team"] = team["id"]
    ids["me"] = account.admin_id
    return api, ids


CASES = [
    ("status=registered", "ce"),
    ("status=assigned,completed", "abd"),
    ("status!=registered", "abd"),
    ("status=!registered", "abd"),
    ("impact=high", "ad"),
    ("impact!=high", "bce"),  # "not equal" keeps the empty ones
    ("impact=", "ce"),
    ("impact=!", "abd"),
    ("impact!=", "abd"),
    ("team={team}", "ad"),
    ("team=", "bce"),
    ("member={me}", "bd"),
    ("member!={me}", "ace"),
    ("id={a},{c}", "ac"),
    ("id!={a},{c}", "bde"),
    ("id=!{a},{c}", "bde"),
    ("subject=Beta", "b"),
    ("subject=Beta, again", "e"),
    ("category=approval", "c"),
    ("source=mail&sourceID=m-1", "c"),
    ("planned_duration=>=60", "bc"),
    ("planned_duration=<60", "a"),
    ("planned_duration=>=60<=600", "bc"),
    ("planned_duration=>30<600", "b"),
    ("due_at=<2026-02-01", "a"),
    ("due_at=>2026-01-01T00:00:00Z<2026-12-31T00:00:00%2B01:00", "ab"),
    ("due_at=", "cde"),
    ("finished_at=!", "d"),
    ("labels=net", "ab"),
    ("labels=db,xyz", "b"),
    ("labels!=db", "acde"),
    ("labels=", "cde"),
    ("labels=!", "ab"),
    ("template=", "abcde"),
    ("workflow=", "abcde"),
    ("status=registered&impact=", "ce"),
    ("created_at=>2000-01-01", "abcde"),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_filter(world_api: tuple[Api, dict[str, int]], query: str, expected: str) -> None:
    api, world = world_api
    response = api.get(f"/v1/tasks?per_page=100&{query.format(**world)}")
    assert response.status_code == 200, response.get_json()
    got = {t["id"] for t in response.get_json()}
    assert got == {world[name] for name in expected}, query


ERRORS = [
    ("colour=red", "colour", "not allowed"),
    ("instructions=x", "instructions", "not allowed"),
    ("status=bogus", "status", "not one of"),
    ("id=1,,2", "id", "empty item"),
    ("id=x", "id", "whole number"),
    ("id=99999999999", "id", "out of range"),
    ("subject=<b", "subject", "only numbers and date-times"),
    ("status=>assigned", "status", "only numbers and date-times"),
    ("created_at=<yesterday", "created_at", "ISO 8601"),
    ("planned_duration=!>5", "planned_duration", "cannot be negated"),
    ("planned_duration=<5>1", "planned_duration", "not a comparison"),
    ("planned_duration=>>5", "planned_duration", "not a comparison"),
]


@pytest.mark.parametrize(("query", "field", "reason"), ERRORS)
def test_bad_filter_is_400_naming_field_and_reason(
    api: Api, query: str, field: str, reason: str
) -> None:
    body = assert_error(api.get(f"/v1/tasks?{query}"), 400, "invalid_query", field)
    assert reason in body["errors"][0]["message"]


def test_workflow_filters(api: Api, account: AccountInfo) -> None:
    first = api.post("/v1/workflows", json={"subject": "One", "category": "emergency"}).get_json()
    second = api.post("/v1/workflows", json={"subject": "Two"}).get_json()
    assert [w["id"] for w in api.get("/v1/workflows?category=emergency").get_json()] == [
        first["id"]
    ]
    assert [w["id"] for w in api.get(f"/v1/workflows?id!={first['id']}").get_json()] == [
        second["id"]
    ]
    assert_error(api.get("/v1/workflows?labels=x"), 400, "invalid_query", "labels")
    api.post(
        f"/v1/workflows/{first['id']}/tasks",
        json={"subject": "In one", "category": "implementation", "impact": "top"},
    )
    api.post(
        f"/v1/workflows/{first['id']}/tasks",
        json={"subject": "Also in one", "category": "implementation"},
    )
    tops = api.get(f"/v1/workflows/{first['id']}/tasks?impact=top").get_json()
    assert [t["subject"] for t in tops] == ["In one"]


SORTS = [
    ("", "edcba"),  # default: newest first
    ("id", "abcde"),
    ("-id", "edcba"),
    ("impact", "badce"),  # low, high, then empty; id ends the order, going the same way
    ("-impact", "ecdab"),  # empty first going down, then high (d, a), then low
    ("status,-id", "ecbad"),  # declared order: registered, assigned, completed
    ("-status,id", "dabce"),
    ("subject", "abedc"),  # Alpha, Beta, "Beta, again", Delta, Gamma
]


@pytest.mark.parametrize(("sort", "expected"), SORTS)
def test_sort(world_api: tuple[Api, dict[str, int]], sort: str, expected: str) -> None:
    api, world = world_api
    response = api.get(f"/v1/tasks?per_page=100&sort={sort}")
    assert response.status_code == 200, response.get_json()
    assert [t["id"] for t in response.get_json()] == [world[name] for name in expected], sort


def test_sort_by_category_follows_declared_order(world_api: tuple[Api, dict[str, int]]) -> None:
    api, world = world_api
    got = [t["id"] for t in api.get("/v1/tasks?per_page=100&sort=category,-id").get_json()]
    # risk_and_impact, approval, implementation, automation: the approval task first.
    assert got == [world[n] for n in "cedba"]


@pytest.mark.parametrize(
    ("sort", "message"),
    [
        ("instructions", "Sorting not allowed on fields: instructions"),
        ("-labels,subject,due_at", "Sorting not allowed on fields: labels, due_at"),
    ],
)
def test_sort_on_a_field_not_allowed_is_400(api: Api, sort: str, message: str) -> None:
    response = api.get(f"/v1/tasks?sort={sort}")
    assert response.status_code == 400
    assert response.get_json()["message"] == message
    assert response.get_json()["code"] == "invalid_sort"


def test_workflow_sort(api: Api) -> None:
    one = api.post("/v1/workflows", json={"subject": "B", "category": "emergency"}).get_json()
    two = api.post("/v1/workflows", json={"subject": "A"}).get_json()
    assert [w["id"] for w in api.get("/v1/workflows?sort=subject").get_json()] == [
        two["id"],
        one["id"],
    ]
    assert api.get("/v1/workflows?sort=labels").status_code == 400
