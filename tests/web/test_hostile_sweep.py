"""What the sweep of every route found after the first round of issue 14's fixes: bad
input a hostile client sends, each a 4xx in the one error shape naming the field, and
nothing stored (the HTTP layer's own refusals: ``test_http_front.py``)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import structlog
from flask.testing import FlaskClient

from tasks_service.core.logs import configure_logging
from tasks_service.core.settings import Settings
from tests.helpers import AccountInfo, Api, assert_error


@pytest.fixture
def admin(client: FlaskClient, account: AccountInfo) -> Api:
    return Api(client, account.token, account.slug)


TASK = {"subject": "S", "category": "implementation"}


@pytest.mark.parametrize("field", ["due_at", "start_at", "alert_at", "waiting_until"])
@pytest.mark.parametrize(
    "moment",
    ["1900-01-01T00:00:00+01:00", "2999-12-31T23:59:59-14:00"],  # 1899 and 3000 in UTC
)
def test_a_moment_inside_the_years_on_its_clock_but_not_in_utc_is_a_422(
    admin: Api, field: str, moment: str
) -> None:
    """It was taken by the web and crashed the worker (a 500), the UTC moment being out
    of the range the stored value is held to."""
    before = len(admin.get("/v1/tasks").get_json())
    assert_error(
        admin.post("/v1/tasks", json={**TASK, field: moment}), 422, "validation_failed", field
    )
    assert len(admin.get("/v1/tasks").get_json()) == before
    assert_error(
        admin.get("/v1/tasks", query_string={"due_at": f">={moment}"}), 400, "invalid_query"
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/tasks", {**TASK, "source": "a\r\nb"}, "source"),
        ("/v1/tasks", {**TASK, "sourceID": "a\tb"}, "sourceID"),
        (
            "/v1/webhooks",
            {"uri": "http://127.0.0.1/x", "events": ["task.alert"], "description": "a\r\nb"},
            "description",
        ),
        (
            "/v1/calendars",
            {"name": "C", "is_24x7": True, "holiday_country": "NL", "holiday_subdivision": "\x1b"},
            "holiday_subdivision",
        ),
        ("/v1/teams", {"name": "a\u2028b"}, "name"),  # a line separator
        ("/v1/teams", {"name": "evil\u202egnp.exe"}, "name"),  # a bidi override
    ],
)
def test_control_characters_are_refused_in_every_one_line_field(
    admin: Api, path: str, body: dict[str, Any], field: str
) -> None:
    before = admin.get(path).get_json()
    assert_error(admin.post(path, json=body), 422, "validation_failed", field)
    assert admin.get(path).get_json() == before


def test_a_name_may_hold_emoji_joined_by_zero_width_joiners(admin: Api) -> None:
    response = admin.post("/v1/teams", json={"name": "On call \U0001f469\u200d\U0001f692"})
    assert response.status_code == 201, response.get_json()


def test_a_subdivision_needs_its_country(admin: Api) -> None:
    body = {"name": "Sub", "is_24x7": True, "holiday_subdivision": "ZZ"}
    assert_error(
        admin.post("/v1/calendars", json=body), 422, "validation_failed", "holiday_subdivision"
    )
    assert admin.get("/v1/calendars").get_json() == []


@pytest.mark.parametrize("holiday", [0, 31536000, 1.5, "2026-1-1", "20261231"])
def test_a_holiday_is_a_date_string_not_a_number(admin: Api, holiday: Any) -> None:
    body = {"name": "Numbers", "is_24x7": True, "holidays": [holiday]}
    response = admin.post("/v1/calendars", json=body)
    error = assert_error(response, 422, "validation_failed", "holidays.0")
    assert error["errors"][0]["message"] == 'must be a date "YYYY-MM-DD"'
    assert admin.get("/v1/calendars").get_json() == []


def test_messages_carry_no_pydantic_wording(admin: Api, account: AccountInfo) -> None:
    error = assert_error(
        admin.post("/v1/tasks", json={**TASK, "due_at": 1767225600}),
        422,
        "validation_failed",
        "due_at",
    )
    assert error["errors"][0]["message"] == "must be an ISO 8601 date-time string"
    opt_outs = ["task.alert"] * 41
    error = assert_error(
        admin.patch("/v1/people/me", json={"notification_opt_outs": opt_outs}),
        422,
        "validation_failed",
        "notification_opt_outs",
    )
    assert error["errors"][0]["message"] == "should have at most 40 items, not 41"


def test_an_answer_lists_at_most_twenty_errors(admin: Api) -> None:
    body = {"name": "Many", "is_24x7": True, "holidays": ["not a day"] * 10_000}
    response = admin.post("/v1/calendars", json=body)
    error = assert_error(response, 422, "validation_failed", "holidays.0")
    assert len(error["errors"]) == 21
    assert error["errors"][-1] == {
        "field": "body",
        "code": "too_many_errors",
        "message": "and 9980 more",
    }
    assert len(response.get_data()) < 10_000


def test_a_calendar_patch_bounds_its_lists_as_a_post_does(admin: Api) -> None:
    calendar = admin.post("/v1/calendars", json={"name": "Bounded", "is_24x7": True}).get_json()
    response = admin.patch(f"/v1/calendars/{calendar['id']}", json={"hours": ["a"] * 10_000})
    error = assert_error(response, 422, "validation_failed", "hours")
    assert error["errors"][0]["code"] == "too_long"
    assert len(response.get_data()) < 2_000


def test_a_traceback_in_the_log_shows_no_local_variables(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The settings (a database URL with its password, the SMTP password) are a local of
    many frames: a failed operation's traceback must not print them."""
    configure_logging(settings.model_copy(update={"env": "development"}))
    smtp_password = "hunter2-in-a-local"
    try:
        raise RuntimeError(f"failed with {len(smtp_password)} characters")
    except RuntimeError:
        structlog.get_logger("test").exception("operation_failed")
    logged = capsys.readouterr().err
    assert "RuntimeError: failed with 18 characters" in logged
    assert "hunter2-in-a-local" not in logged
    configure_logging(settings)
    logging.getLogger().handlers.clear()


def test_a_route_that_is_not_a_list_takes_no_query(admin: Api) -> None:
    team = admin.post("/v1/teams", json={"name": "Queried"}).get_json()
    for path in (
        f"/v1/teams/{team['id']}?sort=bogus",
        "/v1/account?x=1",
        "/v1/people/me?fields=id",
    ):
        assert_error(admin.get(path), 400, "invalid_query", path.rpartition("?")[2].split("=")[0])
    # paging pages nothing on a record, and is let be (the Xurrent SDK sends it with
    # every GET); a bad value of it is not
    assert admin.get(f"/v1/teams/{team['id']}?per_page=100").status_code == 200
    for bad in ("per_page=0", "per_page=101", "page=x", "per_page=1&per_page=2"):
        assert_error(admin.get(f"/v1/teams/{team['id']}?{bad}"), 400, "invalid_query")
    before = admin.get("/v1/teams").get_json()
    assert_error(admin.post("/v1/teams?foo=bar", json={"name": "QP"}), 400, "invalid_query", "foo")
    changed = admin.patch(f"/v1/teams/{team['id']}?foo=bar", json={"name": "Renamed"})
    assert_error(changed, 400, "invalid_query", "foo")
    assert admin.get("/v1/teams").get_json() == before
    # the lists still take theirs
    assert admin.get("/v1/teams?name=Queried").get_json()[0]["id"] == team["id"]


@pytest.mark.parametrize("name", ["page", "per_page", "sort", "fields"])
def test_a_list_parameter_that_takes_one_value_is_given_once(admin: Api, name: str) -> None:
    value = {"page": "1", "per_page": "5", "sort": "id", "fields": "name"}[name]
    query = [(name, value), (name, value)]
    assert_error(admin.get("/v1/teams", query_string=query), 400, "invalid_query", name)
    # filters may repeat: they are ANDed
    assert admin.get("/v1/teams", query_string=[("id", "!1"), ("id", "!2")]).status_code == 200


def test_options_answers_allow_without_a_body(admin: Api) -> None:
    response = admin.request("OPTIONS", "/v1/tasks")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert {"GET", "POST"} <= set(response.headers["Allow"].split(", "))
