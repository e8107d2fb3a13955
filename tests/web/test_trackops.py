"""Trackops' create body (001) on ``POST /v1/tasks``, applied by the real workers on both
backends: its example request as written, ``due_on`` in the zone of the task's
calendar, its references in lists (``case``, ``subject_id``, ``user``), its statuses in
bodies, and its wrong fields refused by their Trackops names with nothing stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient

from tasks_service.core.settings import Settings
from tasks_service.schedule.calendar import Calendar
from tests.helpers import Api, assert_error, error_fields, make_account, wait_for

#: 001's "Example New Task Request", character for character; only its ids are this
#: account's (``_example``): the calendar and the three people are made first.
EXAMPLE = """{
"task": {
"casefile_id": 245,
"subject_id": 209,
"case_service_id": 1,
"calendar_id": 1,
"due_on": "2023-02-14",
"alert_at": "2023-02-01",
"title": "Test API Task",
"body": "this is a test task from the API",
"address": {
"address_1": "2000 Blake Street",
"address_2": "",
"address_3": "",
"city": "Denver",
"state": "CO",
"zip": 80202
},
"users_list": [1, 2, 3]
}
}"""
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
DENVER = {
    "name": "Denver office",
    "time_zone": "America/Denver",
    "hours": [{"weekday": day, "start": "08:00", "end": "17:00"} for day in WEEKDAYS],
}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _example(api: Api, calendar_id: int, people: list[int]) -> Any:
    text = EXAMPLE.replace('"calendar_id": 1,', f'"calendar_id": {calendar_id},')
    text = text.replace('"users_list": [1, 2, 3]', f'"users_list": {json.dumps(people)}')
    sent = json.loads(text)["task"]
    assert (sent["calendar_id"], sent["users_list"]) == (calendar_id, people)  # replaced
    return api.post("/v1/tasks", data=text, content_type="application/json")


def _people(api: Api, *names: str) -> list[int]:
    return [api.create_person(n, f"{n.lower()}@trackops.example")["id"] for n in names]


def _ids(api: Api, query: str) -> list[int]:
    return [task["id"] for task in _ok(api.get(f"/v1/tasks?{query}"))]


def test_the_example_request_works_as_written(api: Api) -> None:
    calendar = _ok(api.post("/v1/calendars", json=DENVER), 201)
    people = _people(api, "Ann", "Bob", "Cid")
    other = api.create_task(casefile_id=246, subject_id=210, member_id=people[0])
    created = _ok(_example(api, calendar["id"], people), 201)
    shown = _ok(api.get(f"/v1/tasks/{created['id']}"))
    assert {
        "subject": "Test API Task",
        "instructions": "this is a test task from the API",
        "category": "implementation",  # a Trackops body needs none
        "planned_duration": None,
        # without a planned duration, its due date is its target
        "completion_target_at": "2023-02-15T06:59:59Z",
        "due_at": "2023-02-15T06:59:59Z",  # the end of 2023-02-14 in Denver (MST)
        "alert_at": "2023-02-01T00:00:00Z",  # a date alone: midnight UTC
        "calendar": {"id": calendar["id"], "name": "Denver office"},
        "casefile_id": 245,
        "subject_id": 209,
        "case_service_id": 1,
        "address": {
            "address_1": "2000 Blake Street",
            "address_2": "",
            "address_3": "",
            "city": "Denver",
            "state": "CO",
            "zip": 80202,
        },
        "status": "assigned",  # its people have it
    }.items() <= shown.items()
    # each person of its users_list has an assignment, open ("incomplete", in Box's word)
    assignments = _ok(api.get(f"/v1/tasks/{created['id']}/assignments"))
    assert [(a["person"]["id"], a["state"]) for a in assignments] == [
        (person, "incomplete") for person in people
    ]
    assert _ids(api, "case=245") == [created["id"]]
    assert _ids(api, "subject_id=209") == [created["id"]]
    assert _ids(api, "case=246&subject_id=209") == []
    assert _ids(api, "calendar=" + str(calendar["id"])) == [created["id"]]
    # ``user``: its member, or a person of its users_list
    assert _ids(api, f"user={people[1]}") == [created["id"]]
    assert _ids(api, f"user={people[0]}") == [created["id"], other["id"]]
    assert _ids(api, f"user=!{people[1]}") == [other["id"]]
    assert _ids(api, "user=") == []
    # ``subject`` keeps 4me's meaning: the subject's text, not Trackops' subject id
    assert _ids(api, "subject=Test API Task") == [created["id"]]


def test_due_on_is_the_end_of_the_day_in_the_task_calendar_zone(api: Api) -> None:
    tokyo = {**DENVER, "name": "Tokyo office", "time_zone": "Asia/Tokyo"}
    tokyo = _ok(api.post("/v1/calendars", json=tokyo), 201)
    denver = _ok(api.post("/v1/calendars", json=DENVER), 201)
    team = _ok(api.post("/v1/teams", json={"name": "Ops", "calendar_id": tokyo["id"]}), 201)
    due = {"task": {"title": "Due", "due_on": "2023-02-14", "team_id": team["id"]}}
    on_team = _ok(api.post("/v1/tasks", json=due), 201)
    assert on_team["due_at"] == "2023-02-14T14:59:59Z"  # the team's calendar: Tokyo
    chosen = {"task": {**due["task"], "calendar_id": denver["id"]}}
    on_chosen = _ok(api.post("/v1/tasks", json=chosen), 201)
    # the task's own calendar comes first, for its due date and the calendar it uses
    assert (on_chosen["due_at"], on_chosen["calendar"]["id"]) == (
        "2023-02-15T06:59:59Z",
        denver["id"],
    )
    always = {"task": {**chosen["task"], "work_hours_are_24x7": True}}
    assert _ok(api.post("/v1/tasks", json=always), 201)["due_at"] == "2023-02-14T23:59:59Z"
    path = f"/v1/tasks/{on_chosen['id']}"
    summer = _ok(api.patch(path, json={"task": {"due_on": "2023-07-01"}}))
    assert summer["due_at"] == "2023-07-02T05:59:59Z"  # Denver in summer time (MDT)
    # a change reads its day in the zone of the calendar the task will have after it
    moved = _ok(api.patch(path, json={"due_on": "2023-07-01", "calendar_id": tokyo["id"]}))
    assert moved["due_at"] == "2023-07-01T14:59:59Z"
    assert _ok(api.patch(path, json={"due_on": None}))["due_at"] is None


def test_a_calendar_change_recomputes_the_tasks_that_chose_it(api: Api) -> None:
    """The recompute after a calendar's rules change finds a task that chose it (the
    calendar in use is the chosen one), and the task keeps it over its team's."""
    denver = _ok(api.post("/v1/calendars", json=DENVER), 201)
    other = _ok(api.post("/v1/calendars", json={**DENVER, "name": "Other"}), 201)
    team = _ok(api.post("/v1/teams", json={"name": "Ops", "calendar_id": other["id"]}), 201)
    body = {"title": "Fix", "calendar_id": denver["id"], "team_id": team["id"]}
    task = _ok(api.post("/v1/tasks", json={**body, "planned_duration": 600}), 201)
    assert task["calendar"]["id"] == denver["id"]
    late = {"hours": [{"weekday": day, "start": "12:00", "end": "20:00"} for day in WEEKDAYS]}
    changed = api.patch(f"/v1/calendars/{denver['id']}", json=late)
    location = changed.headers["Operation-Location"]
    wait_for(lambda: _ok(api.get(location))["status"] != "pending", timeout=60, interval=0.2)
    assert _ok(api.get(location))["progress"] == {"done": 1, "total": 1}
    moved = _ok(api.get(f"/v1/tasks/{task['id']}"))
    start = datetime.fromisoformat(task["assigned_at"])
    rules = {key: value for key, value in {**DENVER, **late}.items() if key != "name"}
    expected = Calendar.from_spec(rules).add_service_minutes(start, 600)
    assert moved["completion_target_at"] == expected.astimezone(UTC).isoformat().replace(
        "+00:00", "Z"
    )
    assert moved["completion_target_at"] != task["completion_target_at"]


def test_choosing_a_calendar_later_moves_the_target(api: Api) -> None:
    denver = _ok(api.post("/v1/calendars", json=DENVER), 201)
    task = api.create_task(member_id=api.create_person("Dee", "dee@t.example")["id"])
    changed = _ok(api.patch(f"/v1/tasks/{task['id']}", json={"calendar_id": denver["id"]}))
    assert changed["calendar"] == {"id": denver["id"], "name": "Denver office"}


def test_trackops_statuses_in_bodies(api: Api) -> None:
    person = api.create_person("Eve", "eve@trackops.example")["id"]
    task = _ok(api.post("/v1/tasks", json={"task": {"title": "Call", "status": "none"}}), 201)
    assert task["status"] == "registered"
    path = f"/v1/tasks/{task['id']}"
    needs_action = {"task": {"status": "needs_action", "member_id": person}}
    assert _ok(api.patch(path, json=needs_action))["status"] == "assigned"
    assert _ok(api.patch(path, json={"status": "in_progress"}))["status"] == "in_progress"
    done = _ok(api.patch(path, json={"task": {"status": "complete", "body": "Called"}}))
    assert (done["status"], done["instructions"]) == ("completed", "Called")
    assert _ids(api, "status=complete") == [task["id"]]


#: Wrong Trackops bodies, each refused naming the field by the name it was sent by.
WRONG = [
    ({"casefile_id": 245}, [("title", "missing")]),
    ({"title": ""}, [("title", "too_short")]),
    ({"title": "A", "subject": "A"}, [("title", "invalid_value")]),
    ({"title": "A", "body": 5}, [("body", "invalid_type")]),
    ({"title": "A", "users_list": "1,2"}, [("users_list", "invalid_type")]),
    ({"title": "A", "users_list": [1, 0]}, [("users_list.1", "out_of_range")]),
    ({"title": "A", "due_on": "14/02/2023"}, [("due_on", "invalid_value")]),
    ({"title": "A", "due_on": 1676332800}, [("due_on", "invalid_value")]),
    (
        {"title": "A", "due_on": "2023-02-14", "due_at": "2023-02-14T12:00:00Z"},
        [("due_on", "invalid_value")],
    ),
    ({"title": "A", "alert_at": "1 Feb 2023"}, [("alert_at", "invalid_value")]),
    ({"title": "A", "calendar_id": "one"}, [("calendar_id", "invalid_type")]),
    ({"title": "A", "status": "done"}, [("status", "invalid_value")]),
    ({"title": "A", "address": {"state": "Colorado"}}, [("address.state", "invalid_format")]),
    ({"title": "A", "address": {"country": "USA"}}, [("address.country", "invalid_format")]),
    ({"title": "A", "address": {"zip": True}}, [("address.zip", "invalid_type")]),
    ({"title": "A", "address": {"planet": "Earth"}}, [("address.planet", "unknown_field")]),
    (
        {"title": "", "users_list": ["x"]},
        [("title", "too_short"), ("users_list.0", "invalid_type")],
    ),
]


def test_wrong_fields_are_refused_by_their_trackops_names(
    api: Api, client: FlaskClient, settings: Settings
) -> None:
    for body, expected in WRONG:
        refused = api.post("/v1/tasks", json={"task": body})
        assert refused.status_code == 422, body
        assert error_fields(refused) == expected, body
    listed = api.get("/v1/tasks")
    assert listed.headers["X-Pagination-Total-Entries"] == "0"
    assert api.get("/v1/operations").headers["X-Pagination-Total-Entries"] == "0"
    # another account's calendar: refused by the command, and no task is made
    stranger = make_account(settings)
    theirs = Api(client, stranger.token, stranger.slug).post("/v1/calendars", json=DENVER)
    wrong = {"task": {"title": "A", "calendar_id": _ok(theirs, 201)["id"]}}
    unknown = api.post("/v1/tasks", json=wrong)
    assert (unknown.status_code, error_fields(unknown)) == (422, [("calendar_id", "not_found")])
    assert api.get("/v1/tasks").headers["X-Pagination-Total-Entries"] == "0"
    # on a change too: Trackops' names, ours readonly where a create alone takes them
    task = api.create_task()
    patched = api.patch(f"/v1/tasks/{task['id']}", json={"title": "", "users_list": [1]})
    assert error_fields(patched) == [("users_list", "readonly"), ("title", "too_short")]


def test_people_of_users_list_at_create(api: Api, settings: Settings) -> None:
    """A Trackops status that needs someone (``needs_action``) is taken with the people
    the task is made with; a person who is not the account's is refused naming
    ``users_list``, and no task is made."""
    ann, bob = _people(api, "Fay", "Gus")
    body = {"task": {"title": "Serve papers", "users_list": [ann, bob], "status": "needs_action"}}
    made = _ok(api.post("/v1/tasks", json=body), 201)
    assert made["status"] == "assigned"
    assert [a["person"]["id"] for a in _ok(api.get(f"/v1/tasks/{made['id']}/assignments"))] == [
        ann,
        bob,
    ]
    other = make_account(settings, "elsewhere")
    theirs = Api(api.client, other.token, other.slug).create_person("Zed", "zed@e.example")
    before = _ids(api, "per_page=100")
    refused = api.post("/v1/tasks", json={"task": {"title": "X", "users_list": [theirs["id"]]}})
    body = assert_error(refused, 404, "not_found")
    assert body["field"] == "users_list"
    assert _ids(api, "per_page=100") == before
