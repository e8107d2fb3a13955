"""``/v1/calendars``, ``/v1/account``, calendars on teams and workflows, and targets
recomputed by the real workers after a change (progress at ``/v1/operations/:id``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from tasks_service.identity.accounts import do_create_token
from tasks_service.schedule.calendar import Calendar
from tasks_service.store.db import session_scope
from tests.helpers import AccountInfo, Api, make_account, start_beats, wait_for

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


def hours(start: str, end: str) -> list[dict[str, str]]:
    return [{"weekday": d, "start": start, "end": end} for d in WEEKDAYS]


OFFICE = {"name": "Office", "time_zone": "Europe/Amsterdam", "hours": hours("09:00", "17:00")}


@pytest.fixture
def admin(client: FlaskClient, account: AccountInfo) -> Api:
    """REST calls that need no worker (identity and calendars are synchronous)."""
    return Api(client, account.token, account.slug)


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_create_read_list_and_change_a_calendar(admin: Api) -> None:
    spec = {**OFFICE, "hours": [*hours("09:00", "17:00"), *[]], "holidays": ["2026-12-31"]}
    spec["hours"].append({"weekday": "saturday", "start": "20:00", "end": "24:00"})
    body = _created(admin.post("/v1/calendars", json={**spec, "holiday_country": "NL"}))
    assert body["hours"][-1] == {"weekday": "saturday", "start": "20:00", "end": "24:00"}
    assert (body["holiday_country"], body["holidays"], body["is_24x7"]) == (
        "NL",
        ["2026-12-31"],
        False,
    )
    assert admin.get(f"/v1/calendars/{body['id']}").get_json() == body
    _created(admin.post("/v1/calendars", json={"name": "Always", "is_24x7": True}))
    listed = admin.get("/v1/calendars?sort=name&fields=name,time_zone").get_json()
    assert listed == [
        {"id": listed[0]["id"], "name": "Always", "time_zone": "UTC"},
        {"id": body["id"], "name": "Office", "time_zone": "Europe/Amsterdam"},
    ]
    changed = admin.patch(f"/v1/calendars/{body['id']}", json={"name": "Kantoor"})
    assert changed.status_code == 200
    assert changed.get_json()["name"] == "Kantoor"
    assert "Operation-Location" not in changed.headers  # a new name moves no target


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({**OFFICE, "hours": []}, "hours", "no_service_hours"),
        (
            {**OFFICE, "hours": [*hours("09:00", "13:00"), *hours("12:00", "17:00")]},
            "hours",
            "ranges_overlap",
        ),
        ({**OFFICE, "hours": hours("17:00", "09:00")}, "hours", "range_order"),
        ({**OFFICE, "hours": hours("09:00", "25:00")}, "hours.0.end", "invalid_value"),
        ({**OFFICE, "time_zone": "Europe/Atlantis"}, "time_zone", "invalid_value"),
        ({**OFFICE, "holiday_country": "XX"}, "holiday_country", "unknown_country"),
        ({**OFFICE, "holidays": ["2026-02-30"]}, "holidays.0", "invalid_type"),
        ({**OFFICE, "colour": "red"}, "colour", "unknown_field"),
        ({**OFFICE, "id": 5}, "id", "readonly"),
        ({"time_zone": "UTC", "is_24x7": True}, "name", "missing"),
    ],
)
def test_invalid_calendars_are_422_and_change_nothing(
    admin: Api, body: dict[str, Any], field: str, code: str
) -> None:
    response = admin.post("/v1/calendars", json=body)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert {"field": field, "code": code} in [{k: e[k] for k in ("field", "code")} for e in errors]
    assert admin.get("/v1/calendars").get_json() == []


def test_a_patch_is_validated_as_a_whole(admin: Api) -> None:
    calendar = _created(admin.post("/v1/calendars", json=OFFICE))
    response = admin.patch(
        f"/v1/calendars/{calendar['id']}",
        json={"hours": [{"weekday": "monday", "start": "09:00", "end": "08:00"}]},
    )
    assert response.status_code == 422
    assert admin.get(f"/v1/calendars/{calendar['id']}").get_json() == calendar
    taken = _created(admin.post("/v1/calendars", json={**OFFICE, "name": "Other"}))
    clash = admin.patch(f"/v1/calendars/{taken['id']}", json={"name": "Office"})
    assert clash.status_code == 422
    assert clash.get_json()["errors"][0]["code"] == "taken"


def test_calendars_need_an_admin_and_stay_in_their_account(
    admin: Api, client: FlaskClient, settings
) -> None:
    calendar = _created(admin.post("/v1/calendars", json=OFFICE))
    person = admin.create_person("Pat", "pat@example.com")
    with session_scope(settings) as session:
        token = do_create_token(session, _account_id(admin), person["id"])
    pat = admin.as_(token, admin.headers["X-Xurrent-Account"])
    assert pat.get(f"/v1/calendars/{calendar['id']}").status_code == 200
    assert pat.post("/v1/calendars", json={**OFFICE, "name": "Mine"}).status_code == 403
    assert pat.patch(f"/v1/calendars/{calendar['id']}", json={"name": "x"}).status_code == 403
    assert pat.patch("/v1/account", json={"calendar_id": calendar["id"]}).status_code == 403

    other = make_account(settings)
    stranger = Api(client, other.token, other.slug)
    assert stranger.get(f"/v1/calendars/{calendar['id']}").status_code == 404
    assert stranger.patch(f"/v1/calendars/{calendar['id']}", json={"name": "x"}).status_code == 404
    refused = stranger.post("/v1/teams", json={"name": "T", "calendar_id": calendar["id"]})
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0] == {
        "field": "calendar_id",
        "code": "not_found",
        "message": f"no calendar {calendar['id']}",
    }
    assert stranger.patch("/v1/account", json={"calendar_id": calendar["id"]}).status_code == 422


def _account_id(api: Api) -> int:
    return int(api.get("/v1/account").get_json()["id"])


def _expected(spec: dict[str, Any], task: dict[str, Any]) -> str:
    start = datetime.fromisoformat(task["assigned_at"])
    target = Calendar.from_spec({k: v for k, v in spec.items() if k != "name"}).add_service_minutes(
        start, task["planned_duration"]
    )
    return target.isoformat().replace("+00:00", "Z")


def _finished(api: Api, location: str) -> dict[str, Any]:
    def done() -> bool:
        return api.get(location).get_json()["status"] != "pending"

    wait_for(done, timeout=60, interval=0.2, what=f"{location} to finish")
    op: dict[str, Any] = api.get(location).get_json()
    return op


def test_a_calendar_change_recomputes_targets_on_the_workers(api: Api) -> None:
    calendar = _created(api.post("/v1/calendars", json=OFFICE))
    team = _created(api.post("/v1/teams", json={"name": "Ops", "calendar_id": calendar["id"]}))
    assert team["calendar"] == {"id": calendar["id"], "name": "Office"}
    tasks = [api.create_task(team_id=team["id"], planned_duration=60 * (i + 1)) for i in range(5)]
    other = api.create_task(team_id=_created(api.post("/v1/teams", json={"name": "B"}))["id"])
    for task in tasks:
        assert task["completion_target_at"] == _expected(OFFICE, task)
        assert task["calendar"] == {"id": calendar["id"], "name": "Office"}
    readonly = api.post(
        "/v1/tasks", json={"subject": "x", "category": "implementation", "calendar": 1}
    )
    assert readonly.get_json()["errors"][0] == {
        "field": "calendar",
        "code": "readonly",
        "message": "is readonly and cannot be set",
    }
    on_calendar = api.get(f"/v1/tasks?calendar={calendar['id']}&fields=id").get_json()
    assert sorted(t["id"] for t in on_calendar) == sorted(t["id"] for t in tasks)

    late = {**OFFICE, "time_zone": "America/New_York", "hours": hours("12:00", "20:00")}
    changed = api.patch(f"/v1/calendars/{calendar['id']}", json=late)
    assert changed.status_code == 200, changed.get_json()
    op = _finished(api, changed.headers["Operation-Location"])
    assert (op["kind"], op["status"], op["progress"]) == (
        "calendar.recompute",
        "succeeded",
        {"done": 5, "total": 5},
    )
    for task in tasks:
        moved = api.get(f"/v1/tasks/{task['id']}").get_json()
        assert (
            moved["completion_target_at"] == _expected(late, task) != task["completion_target_at"]
        )
        assert api.get(f"/v1/tasks/{task['id']}/events").get_json()[-1]["action"] == (
            "calendar_changed"
        )
    assert api.get(f"/v1/tasks/{other['id']}").get_json()["updated_at"] == other["updated_at"]


def test_team_and_account_calendars_recompute_their_tasks(api: Api) -> None:
    team = _created(api.post("/v1/teams", json={"name": "Ops"}))
    task = api.create_task(team_id=team["id"], planned_duration=120)
    assert task["calendar"] is None  # 24x7 until a calendar is set
    assert task["completion_target_at"] == _expected({"is_24x7": True}, task)

    default = _created(api.post("/v1/calendars", json=OFFICE))
    changed = api.patch("/v1/account", json={"calendar_id": default["id"]})
    assert changed.get_json()["calendar"] == {"id": default["id"], "name": "Office"}
    _finished(api, changed.headers["Operation-Location"])
    moved = api.get(f"/v1/tasks/{task['id']}").get_json()
    assert (moved["calendar"]["id"], moved["completion_target_at"]) == (
        default["id"],
        _expected(OFFICE, task),
    )

    nights = {**OFFICE, "name": "Nights", "hours": hours("00:00", "06:00")}
    night = _created(api.post("/v1/calendars", json=nights))
    changed = api.patch(f"/v1/teams/{team['id']}", json={"calendar_id": night["id"]})
    assert changed.get_json()["calendar"]["id"] == night["id"]
    op = _finished(api, changed.headers["Operation-Location"])
    assert op["progress"] == {"done": 1, "total": 1}
    assert api.get(f"/v1/tasks/{task['id']}").get_json()["completion_target_at"] == _expected(
        nights, task
    )
    # back to the account's: a null calendar_id
    changed = api.patch(f"/v1/teams/{team['id']}", json={"calendar_id": None})
    _finished(api, changed.headers["Operation-Location"])
    assert api.get(f"/v1/tasks/{task['id']}").get_json()["calendar"]["id"] == default["id"]


def test_a_workflow_calendar_change_is_recomputed_by_the_sweep(
    api: Api, settings, tmp_path
) -> None:
    # The worker records this recompute inside the workflow update; the maintenance
    # sweep (beat) hands it to the workers.
    beat = start_beats(settings, tmp_path)
    try:
        workflow = _created(api.post("/v1/workflows", json={"subject": "Migrate"}))
        team = _created(api.post("/v1/teams", json={"name": "Ops"}))
        task = _created(
            api.post(
                f"/v1/workflows/{workflow['id']}/tasks",
                json={
                    "subject": "Copy",
                    "category": "implementation",
                    "team_id": team["id"],
                    "planned_duration": 30,
                },
            )
        )
        calendar = _created(api.post("/v1/calendars", json=OFFICE))
        changed = api.patch(f"/v1/workflows/{workflow['id']}", json={"calendar_id": calendar["id"]})
        assert changed.status_code == 200, changed.get_json()
        assert changed.get_json()["calendar"] == {"id": calendar["id"], "name": "Office"}

        def recomputed() -> bool:
            body = api.get(f"/v1/tasks/{task['id']}").get_json()
            return body["calendar"] is not None and body["calendar"]["id"] == calendar["id"]

        wait_for(recomputed, timeout=60, interval=0.3, what="the workflow's task to move")
        body = api.get(f"/v1/tasks/{task['id']}").get_json()
        assert body["completion_target_at"] == _expected(OFFICE, task)
    finally:
        beat.stop_all()
