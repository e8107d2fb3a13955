"""Bad input a hostile client sends to the write routes (issue 14): each is a 4xx in the
one error shape, naming the field, and nothing is stored."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import AccountInfo, Api, assert_error, error_fields

OFFICE = {
    "name": "Office",
    "time_zone": "Europe/Amsterdam",
    "hours": [{"weekday": "monday", "start": "09:00", "end": "17:00"}],
}


@pytest.fixture
def admin(client: FlaskClient, account: AccountInfo) -> Api:
    """REST calls that need no worker (webhooks, calendars, the directory and policies
    are synchronous)."""
    return Api(client, account.token, account.slug)


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


# --- webhook URIs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:99999/x",  # was a 500 (ValueError)
        "http://127.0.0.1:0/x",  # was stored
        "http://127.0.0.1:1/x\r\nX-Injected: 1",  # was stored
        "http://127.0.0.1/a b",
        "http://127.0.0.1:port/x",
        "http://user:secret@127.0.0.1/x",
        "ftp://127.0.0.1/x",
        "http:///x",
        "http://[::1/x",
        "http://a..b/x",
        "http://127.0.0.1/x#fragment",
    ],
)
def test_a_bad_webhook_uri_is_a_422_naming_uri(admin: Api, uri: str) -> None:
    assert_error(
        admin.post("/v1/webhooks", json={"uri": uri, "events": ["task.alert"]}),
        422,
        "validation_failed",
        "uri",
    )
    assert admin.get("/v1/webhooks").get_json() == []
    hook = _created(
        admin.post("/v1/webhooks", json={"uri": "http://127.0.0.1:9/x", "events": ["task.alert"]})
    )
    assert_error(
        admin.patch(f"/v1/webhooks/{hook['id']}", json={"uri": uri}),
        422,
        "validation_failed",
        "uri",
    )
    assert admin.get(f"/v1/webhooks/{hook['id']}").get_json()["uri"] == "http://127.0.0.1:9/x"


def test_a_webhook_uri_is_stored_normalised(admin: Api) -> None:
    hook = _created(
        admin.post(
            "/v1/webhooks",
            json={"uri": " HTTP://LocalHost:80/Hooks?a=B ", "events": ["task.alert"]},
        )
    )
    assert hook["uri"] == "http://localhost/Hooks?a=B"
    changed = admin.patch(f"/v1/webhooks/{hook['id']}", json={"uri": "https://[::1]:443/x"})
    assert changed.get_json()["uri"] == "https://[::1]/x"


# --- calendars ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"time_zone": "localtime"}, "time_zone", "invalid_value"),
        ({"time_zone": "../zoneinfo/UTC"}, "time_zone", "invalid_value"),
        ({"time_zone": "/usr/share/zoneinfo/UTC"}, "time_zone", "invalid_value"),
        ({"holidays": ["0001-01-01"]}, "holidays.0", "out_of_range"),
        ({"holidays": ["2026-01-01", "9999-12-31"]}, "holidays.1", "out_of_range"),
        (
            {"holidays": [str(date(2026, 1, 1) + timedelta(days=i)) for i in range(1001)]},
            "holidays",
            "too_long",
        ),
    ],
)
def test_bad_calendar_zones_and_holidays_are_refused(
    admin: Api, changes: dict[str, Any], field: str, code: str | None
) -> None:
    response = admin.post("/v1/calendars", json={**OFFICE, **changes})
    assert_error(response, 422, "validation_failed", field)
    if code is not None:
        assert (field, code) in error_fields(response)
    assert admin.get("/v1/calendars").get_json() == []
    calendar = _created(admin.post("/v1/calendars", json=OFFICE))
    assert_error(
        admin.patch(f"/v1/calendars/{calendar['id']}", json=changes),
        422,
        "validation_failed",
        field,
    )
    assert admin.get(f"/v1/calendars/{calendar['id']}").get_json() == calendar


def test_holidays_are_stored_once_and_in_order(admin: Api) -> None:
    holidays = ["2026-12-25", "2026-01-01"] * 5_000
    calendar = _created(admin.post("/v1/calendars", json={**OFFICE, "holidays": holidays}))
    assert calendar["holidays"] == ["2026-01-01", "2026-12-25"]


def test_a_range_starting_at_24_00_says_what_is_wrong(admin: Api) -> None:
    body = {**OFFICE, "hours": [{"weekday": "monday", "start": "24:00", "end": "24:00"}]}
    response = admin.post("/v1/calendars", json=body)
    assert_error(response, 422, "validation_failed", "hours.0.start")
    (error,) = [e for e in response.get_json()["errors"] if e["field"] == "hours.0.start"]
    assert "24:00 is only allowed as an end" in error["message"]
    assert "null" not in response.get_json()["message"]


# --- text and numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/teams", {"name": "Ops\x00"}, "name"),
        ("/v1/calendars", {**OFFICE, "time_zone": "UTC\x00"}, "time_zone"),
        ("/v1/calendars", {**OFFICE, "name": "Office\x00"}, "name"),
        (
            "/v1/calendars",
            {**OFFICE, "hours": [{"weekday": "monday\x00", "start": "09:00", "end": "17:00"}]},
            "hours.0.weekday",
        ),
        ("/v1/people", {"name": "Bob", "primary_email": "b\x00b@example.com"}, "primary_email"),
        ("/v1/webhooks", {"uri": "http://127.0.0.1/\x00", "events": ["task.alert"]}, "uri"),
        (
            "/v1/webhooks",
            {"uri": "http://127.0.0.1/", "events": ["task.alert"], "description": "a\x00"},
            "description",
        ),
    ],
)
def test_a_nul_character_is_a_422_naming_its_field(
    admin: Api, path: str, body: dict[str, Any], field: str
) -> None:
    response = admin.post(path, json=body)
    assert_error(response, 422, "validation_failed", field)
    assert "body" not in {e["field"] for e in response.get_json()["errors"]}


def test_a_nul_in_a_task_subject_or_note_names_the_field(admin: Api) -> None:
    for body, field in (
        ({"subject": "Back\x00ups", "category": "implementation"}, "subject"),
        ({"subject": "Backups", "category": "implementation", "note": "n\x00"}, "note"),
    ):
        response = admin.post("/v1/tasks", json=body)
        assert_error(response, 422, "validation_failed", field)
        assert "body" not in {e["field"] for e in response.get_json()["errors"]}


def test_a_5000_digit_number_is_refused_without_python_internals(admin: Api) -> None:
    raw = '{"name": "Ops", "calendar_id": ' + "9" * 5000 + "}"
    response = admin.request(
        "POST", "/v1/teams", data=raw, headers={"Content-Type": "application/json"}
    )
    body = assert_error(response, 422, "validation_failed", "calendar_id")
    assert "set_int_max_str_digits" not in response.get_data(as_text=True)
    assert "calendar_id" in body["message"]
    assert admin.get("/v1/teams").get_json() == []


def test_a_huge_number_in_a_free_form_field_is_refused(admin: Api) -> None:
    """``custom_fields`` takes any JSON: a 5,000-digit integer or 1e999 (infinity, which
    no JSON column stores) is refused there too, naming the place."""
    for number in ("9" * 5000, "1e999", "-1e999"):
        raw = (
            '{"subject": "S", "category": "implementation", "custom_fields": {"n": ['
            + number
            + "]}}"
        )
        response = admin.request(
            "POST", "/v1/tasks", data=raw, headers={"Content-Type": "application/json"}
        )
        assert_error(response, 422, "validation_failed", "custom_fields.n.0")


# --- people and teams -------------------------------------------------------------------------


def test_emails_are_unique_and_found_without_regard_to_case(admin: Api) -> None:
    bob = admin.create_person("Bob", "p2@demo.example")
    assert_error(
        admin.post("/v1/people", json={"name": "Bob 2", "primary_email": "P2@DEMO.EXAMPLE"}),
        422,
        "validation_failed",
        "primary_email",
    )
    other = admin.create_person("Al", "al@demo.example")
    assert_error(
        admin.patch(f"/v1/people/{other['id']}", json={"primary_email": "P2@Demo.Example"}),
        422,
        "validation_failed",
        "primary_email",
    )
    same = admin.patch(f"/v1/people/{bob['id']}", json={"primary_email": "P2@Demo.Example"})
    assert same.status_code == 200, same.get_json()  # one's own email, in other letters


def test_team_names_are_unique_without_regard_to_case(admin: Api) -> None:
    admin.create_team("Ops")
    assert_error(admin.post("/v1/teams", json={"name": "ops"}), 422, "validation_failed", "name")
    net = admin.create_team("Network")
    assert_error(
        admin.patch(f"/v1/teams/{net['id']}", json={"name": "OPS"}),
        422,
        "validation_failed",
        "name",
    )
    assert [t["name"] for t in admin.get("/v1/teams").get_json()] == ["Ops", "Network"]


def test_calendar_and_policy_names_are_unique_without_regard_to_case(admin: Api) -> None:
    _created(admin.post("/v1/calendars", json=OFFICE))
    assert_error(
        admin.post("/v1/calendars", json={**OFFICE, "name": "OFFICE"}),
        422,
        "validation_failed",
        "name",
    )
    _created(admin.post("/v1/escalation_policies", json={"name": "Urgent", "levels": [{}]}))
    assert_error(
        admin.post("/v1/escalation_policies", json={"name": "urgent", "levels": [{}]}),
        422,
        "validation_failed",
        "name",
    )


@pytest.mark.parametrize("name", ["Ops\r\nX-Injected: 1", "Ops\n", "O\tps", "Ops\x1b[31m"])
def test_control_characters_in_names_are_refused(admin: Api, name: str) -> None:
    assert_error(admin.post("/v1/teams", json={"name": name}), 422, "validation_failed", "name")
    assert_error(
        admin.post("/v1/people", json={"name": name, "primary_email": "c@example.com"}),
        422,
        "validation_failed",
        "name",
    )
    assert admin.get("/v1/teams").get_json() == []


# --- escalation policies ----------------------------------------------------------------------


def test_every_unknown_person_and_team_of_a_policy_is_named(admin: Api) -> None:
    team = admin.create_team("Ops")
    levels = [
        {"notify": ["person:999991", f"team:{team['id']}", "team:999992"]},
        {"notify": ["member"], "actions": {"reassign_team_id": 999993}},
        {"notify": ["person:999994"]},
    ]
    response = admin.post("/v1/escalation_policies", json={"name": "P", "levels": levels})
    assert response.status_code == 422, response.get_json()
    assert error_fields(response) == [
        ("levels.0.notify.0", "not_found"),
        ("levels.0.notify.2", "not_found"),
        ("levels.1.actions.reassign_team_id", "not_found"),
        ("levels.2.notify.0", "not_found"),
    ]
    assert admin.get("/v1/escalation_policies").get_json() == []
