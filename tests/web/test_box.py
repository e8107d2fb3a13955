"""Box's own API (003) under ``/2.0`` on both backends, applied by real workers: Box's
paths, shapes and errors, the token alone naming the account, and the same tasks seen
in 4me's form under ``/v1``. (Box's official SDK against a live server:
``test_box_sdk.py``.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.box import BoxAssignmentPublic, BoxTaskPublic
from tasks_service.store.schemas.shape import field_names
from tests.helpers import AccountInfo, Api, make_account

FILE = "11446498"
BOX_ERROR_FIELDS = ["type", "status", "code", "message", "context_info", "help_url", "request_id"]


class Box:
    """Box's API as one caller: a bearer token, nothing else (no account header)."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.client.open(
            f"/2.0{path}", method=method, json=json, headers=self.headers, **kwargs
        )

    def ok(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        response = self.call(method, path, json)
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def task(self, action: str = "review", **fields: Any) -> dict[str, Any]:
        body = {"item": {"type": "file", "id": FILE}, "action": action, **fields}
        task: dict[str, Any] = self.ok("POST", "/tasks", body, 201)
        return task

    def assign(self, task: dict[str, Any], **to: str) -> dict[str, Any]:
        body = {"task": {"type": "task", "id": task["id"]}, "assign_to": to}
        row: dict[str, Any] = self.ok("POST", "/task_assignments", body, 201)
        return row

    def resolve(self, row: dict[str, Any], state: str, **more: Any) -> TestResponse:
        body = {"resolution_state": state, **more}
        return self.call("PUT", f"/task_assignments/{row['id']}", body)


@dataclass
class Person:
    id: int
    email: str
    box: Box


@pytest.fixture
def box(client: FlaskClient, account: AccountInfo, api: Api) -> Box:
    """The account's admin under /2.0 (``api``: the same person under /v1, and the worker)."""
    return Box(client, account.token)


@pytest.fixture
def people(api: Api, client: FlaskClient, settings: Settings, account: AccountInfo) -> list[Person]:
    """Ann and Bob, each with a token of their own."""
    found = []
    for name in ("Ann", "Bob"):
        email = f"{name.lower()}@{account.slug}.example"
        row = api.create_person(name, email)
        with session_scope(settings) as session:
            token = do_create_token(session, account.account_id, row["id"])
        found.append(Person(row["id"], email, Box(client, token)))
    return found


def assert_box_error(
    response: TestResponse, status: int, code: str, name: str | None = None
) -> dict[str, Any]:
    """Box's error shape, with this status and Box's code (naming the field ``name``)."""
    assert response.status_code == status, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert list(body) == BOX_ERROR_FIELDS, body
    assert (body["type"], body["status"], body["code"]) == ("error", status, code), body
    assert body["message"]
    assert body["request_id"]
    if name is not None:
        assert name in [e["name"] for e in body["context_info"]["errors"]], body
    return body


def _shape(body: dict[str, Any], model: Any) -> None:
    """Exactly the public model's fields, in its order (the collection's entries too)."""
    model.model_validate(body)
    assert list(body) == list(field_names(model))
    for entry in body.get("task_assignment_collection", {}).get("entries", []):
        _shape(entry, BoxAssignmentPublic)


def _v1(api: Api, path: str) -> Any:
    response = api.get(f"/v1{path}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_review_task_is_done_once_every_assignee_approved(
    box: Box, api: Api, account: AccountInfo, people: list[Person]
) -> None:
    ann, bob = people
    task = box.task(
        message="Please review\nthe contract, page 3", due_at="2026-04-03T11:09:43-07:00"
    )
    _shape(task, BoxTaskPublic)
    assert task["item"] == {"type": "file", "id": FILE}
    assert (task["action"], task["completion_rule"], task["is_completed"]) == (
        "review",
        "all_assignees",
        False,
    )
    assert task["message"] == "Please review\nthe contract, page 3"
    assert task["due_at"] == "2026-04-03T18:09:43Z"
    admin = {"type": "user", "id": str(account.admin_id), "name": "Ada Admin"}
    assert task["created_by"] == {**admin, "login": f"ada@{account.slug}.example"}
    assert task["task_assignment_collection"] == {"total_count": 0, "entries": []}

    first = box.assign(task, id=str(ann.id))
    second = box.assign(task, login=bob.email.upper())  # a login in any case
    for row, person in ((first, ann), (second, bob)):
        _shape(row, BoxAssignmentPublic)
        assert row["assigned_to"] == {
            "type": "user",
            "id": str(person.id),
            "name": person.email.split("@")[0].title(),
            "login": person.email,
        }
        assert row["assigned_by"]["id"] == str(account.admin_id)
        assert (row["resolution_state"], row["completed_at"]) == ("incomplete", None)
        assert row["item"] == {"type": "file", "id": FILE}

    on_file = box.ok("GET", f"/files/{FILE}/tasks")
    assert on_file["total_count"] == 1
    [listed] = on_file["entries"]
    _shape(listed, BoxTaskPublic)
    assert [e["id"] for e in listed["task_assignment_collection"]["entries"]] == [
        first["id"],
        second["id"],
    ]
    assignments = box.ok("GET", f"/tasks/{task['id']}/assignments")
    assert [e["assigned_to"]["id"] for e in assignments["entries"]] == [str(ann.id), str(bob.id)]
    assert box.ok("GET", f"/task_assignments/{first['id']}") == first

    # each decides with their own token; one approval of two leaves the task open
    approved = ann.box.resolve(first, "approved", message="Fine by me")
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["resolution_state"] == "approved"
    assert approved.get_json()["message"] == "Fine by me"
    assert approved.get_json()["completed_at"] is not None
    assert box.ok("GET", f"/tasks/{task['id']}")["is_completed"] is False
    assert bob.box.resolve(second, "approved").status_code == 200
    done = box.ok("GET", f"/tasks/{task['id']}")
    assert done["is_completed"] is True
    states = [e["resolution_state"] for e in done["task_assignment_collection"]["entries"]]
    assert states == ["approved", "approved"]

    # the same task in 4me's form: an approval task, approved by its two approvals
    v1 = _v1(api, f"/tasks/{task['id']}")
    assert (v1["category"], v1["status"], v1["item_id"]) == ("approval", "approved", FILE)
    assert (v1["subject"], v1["instructions"]) == ("Please review", task["message"])
    approvals = _v1(api, f"/tasks/{task['id']}/approvals")
    assert [(a["approver"]["id"], a["status"]) for a in approvals] == [
        (ann.id, "approved"),
        (bob.id, "approved"),
    ]


def test_any_assignee_one_approval_is_enough(box: Box, api: Api, people: list[Person]) -> None:
    ann, bob = people
    task = box.task(completion_rule="any_assignee")
    assert task["message"] == ""
    assert task["completion_rule"] == "any_assignee"
    assert _v1(api, f"/tasks/{task['id']}")["subject"] == f"Review file {FILE}"
    first, second = box.assign(task, id=str(ann.id)), box.assign(task, id=str(bob.id))
    assert ann.box.resolve(first, "approved").status_code == 200
    done = box.ok("GET", f"/tasks/{task['id']}")
    assert done["is_completed"] is True
    # Bob's part is no longer needed: Box shows it incomplete, 4me canceled; it takes
    # no change any more
    states = [e["resolution_state"] for e in done["task_assignment_collection"]["entries"]]
    assert states == ["approved", "incomplete"]
    assert [a["status"] for a in _v1(api, f"/tasks/{task['id']}/approvals")] == [
        "approved",
        "canceled",
    ]
    assert_box_error(bob.box.resolve(second, "approved"), 400, "bad_request")


def test_a_complete_task_is_completed_and_states_follow_the_action(
    box: Box, api: Api, people: list[Person]
) -> None:
    ann, bob = people
    task = box.task("complete", message="Sign the form")
    assert task["action"] == "complete"
    first, second = box.assign(task, id=str(ann.id)), box.assign(task, id=str(bob.id))
    # a review's states on a complete task, and the other way around: 400s
    assert_box_error(ann.box.resolve(first, "approved"), 400, "bad_request", "resolution_state")
    review = box.task()
    on_review = box.assign(review, id=str(ann.id))
    assert_box_error(
        ann.box.resolve(on_review, "completed"), 400, "bad_request", "resolution_state"
    )
    # incomplete keeps it open; completed is the person's decision, only theirs
    assert ann.box.resolve(first, "incomplete").get_json()["resolution_state"] == "incomplete"
    assert_box_error(bob.box.resolve(first, "completed"), 403, "forbidden")
    assert ann.box.resolve(first, "completed").get_json()["resolution_state"] == "completed"
    assert box.ok("GET", f"/tasks/{task['id']}")["is_completed"] is False  # all_assignees
    assert bob.box.resolve(second, "completed").status_code == 200
    assert box.ok("GET", f"/tasks/{task['id']}")["is_completed"] is True
    v1 = _v1(api, f"/tasks/{task['id']}")
    assert (v1["category"], v1["status"]) == ("implementation", "completed")
    assert [a["state"] for a in _v1(api, f"/tasks/{task['id']}/assignments")] == [
        "completed",
        "completed",
    ]


def test_a_resolved_assignment_takes_no_change(box: Box, people: list[Person]) -> None:
    ann, bob = people
    task = box.task()
    first, _second = box.assign(task, id=str(ann.id)), box.assign(task, id=str(bob.id))
    assert ann.box.resolve(first, "rejected", message="No").status_code == 200
    for change in (
        {"resolution_state": "incomplete"},
        {"resolution_state": "approved"},
        {"message": "Yes after all"},
    ):
        refused = ann.box.call("PUT", f"/task_assignments/{first['id']}", change)
        body = assert_box_error(refused, 400, "bad_request")
        assert body["context_info"]["code"] == "invalid_status_transition"
    row = box.ok("GET", f"/task_assignments/{first['id']}")
    assert (row["resolution_state"], row["message"]) == ("rejected", "No")
    assert box.ok("GET", f"/tasks/{task['id']}")["is_completed"] is True  # one rejection


def test_a_change_of_the_task(box: Box, api: Api) -> None:
    task = box.task(message="Review the draft", due_at="2026-05-01T09:00:00Z")
    changed = box.ok(
        "PUT",
        f"/tasks/{task['id']}",
        {"action": "complete", "message": "\n  Finish\tthe draft  \nby Friday", "due_at": None},
    )
    _shape(changed, BoxTaskPublic)
    assert (changed["action"], changed["due_at"]) == ("complete", None)
    v1 = _v1(api, f"/tasks/{task['id']}")
    assert (v1["category"], v1["subject"]) == ("implementation", "Finish the draft")
    cleared = box.ok("PUT", f"/tasks/{task['id']}", {"message": None})
    assert cleared["message"] == ""
    assert _v1(api, f"/tasks/{task['id']}")["subject"] == f"Complete file {FILE}"
    rule = box.ok("PUT", f"/tasks/{task['id']}", {"completion_rule": "any_assignee"})
    assert rule["completion_rule"] == "any_assignee"


@pytest.mark.parametrize(
    ("path", "body", "name"),
    [
        ("/tasks", {"action": "review"}, "item"),
        ("/tasks", {"item": {"type": "file", "id": "a1"}}, "item.id"),
        ("/tasks", {"item": {"type": "folder", "id": "1"}}, "item.type"),
        ("/tasks", {"item": {"id": "1"}, "action": "approve"}, "action"),
        ("/tasks", {"item": {"id": "1"}, "completion_rule": "most"}, "completion_rule"),
        ("/tasks", {"item": {"id": "1"}, "due_at": "tomorrow"}, "due_at"),
        ("/tasks", {"item": {"id": "1"}, "is_completed": True}, "is_completed"),
        ("/tasks", {"item": {"id": "1"}, "owner": "me"}, "owner"),
        ("/task_assignments", {"task": {"id": 1}, "assign_to": {"id": "1"}}, "task.id"),
        ("/task_assignments", {"task": {"id": "x"}, "assign_to": {"id": "1"}}, "task.id"),
        ("/task_assignments", {"task": {"id": "1"}, "assign_to": {}}, "assign_to"),
        (
            "/task_assignments",
            {"task": {"id": "1"}, "assign_to": {"id": "1", "login": "a@b.example"}},
            "assign_to",
        ),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(
    box: Box, path: str, body: dict[str, Any], name: str
) -> None:
    before = box.ok("GET", "/files/1/tasks")["total_count"]
    body = assert_box_error(box.call("POST", path, body), 400, "bad_request", name)
    assert body["context_info"]["code"] == "validation_failed"
    assert box.ok("GET", "/files/1/tasks")["total_count"] == before


def test_what_box_does_not_see_is_a_404(
    box: Box, api: Api, client: FlaskClient, settings: Settings, people: list[Person]
) -> None:
    ann, _bob = people
    other = make_account(settings, "other")
    theirs = Box(client, other.token).task()
    theirs_person = other.admin_id
    plain = api.create_task(subject="No file")  # a /v1 task without an item
    mine = box.task()
    for task_id in (theirs["id"], str(plain["id"]), "999999", "2147483648"):
        assert_box_error(box.call("GET", f"/tasks/{task_id}"), 404, "not_found")
        assert_box_error(box.call("PUT", f"/tasks/{task_id}", {"message": "x"}), 404, "not_found")
        assert_box_error(box.call("DELETE", f"/tasks/{task_id}"), 404, "not_found")
        assert_box_error(box.call("GET", f"/tasks/{task_id}/assignments"), 404, "not_found")
        body = {"task": {"id": task_id}, "assign_to": {"id": str(ann.id)}}
        assert_box_error(box.call("POST", "/task_assignments", body), 404, "not_found")
    assert Box(client, other.token).ok("GET", f"/files/{FILE}/tasks")["total_count"] == 1
    for assign_to, name in (
        ({"id": str(theirs_person)}, "assign_to.id"),
        ({"id": "0"}, "assign_to.id"),
        ({"login": f"ada@{other.slug}.example"}, "assign_to.login"),
    ):
        body = {"task": {"id": mine["id"]}, "assign_to": assign_to}
        assert_box_error(box.call("POST", "/task_assignments", body), 404, "not_found", name)
    their_row = Box(client, other.token).assign(theirs, id=str(theirs_person))
    for method in ("GET", "PUT", "DELETE"):
        found = box.call(method, f"/task_assignments/{their_row['id']}", {})
        assert_box_error(found, 404, "not_found")
    assert_box_error(box.call("GET", "/files/abc/tasks"), 404, "not_found")
    assert_box_error(box.call("GET", "/folders/0/items"), 404, "not_found")  # no such path
    assert_box_error(box.call("PATCH", f"/tasks/{mine['id']}", {}), 405, "method_not_allowed")
    assert_box_error(box.call("GET", f"/tasks/{mine['id']}?fields=id"), 400, "bad_request")


def test_the_token_alone_names_the_account(
    client: FlaskClient, box: Box, api: Api, people: list[Person]
) -> None:
    ann, _bob = people
    assert ann.box.ok("GET", f"/files/{FILE}/tasks")["total_count"] == 0
    disabled = api.patch(f"/v1/people/{ann.id}", json={"disabled": True})
    assert disabled.status_code == 200, disabled.get_json()
    for caller in (Box(client, None), Box(client, "tsk_unknown"), ann.box):
        refused = caller.call("GET", f"/files/{FILE}/tasks")
        assert_box_error(refused, 401, "unauthorized")
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    # /v1 still wants its account header; /2.0 reads none
    assert api.get("/v1/tasks", headers={"X-Xurrent-Account": "someone-else"}).status_code == 401
    wrong_header = {**box.headers, "X-Xurrent-Account": "someone-else"}
    response = client.get(f"/2.0/files/{FILE}/tasks", headers=wrong_header)
    assert response.status_code == 200, response.get_json()


def test_delete_cancels_the_task_and_takes_it_off_its_file(
    box: Box, api: Api, people: list[Person]
) -> None:
    ann, bob = people
    task = box.task()
    first, second = box.assign(task, id=str(ann.id)), box.assign(task, id=str(bob.id))

    # an assignment first: gone from both forms
    removed = box.call("DELETE", f"/task_assignments/{second['id']}")
    assert (removed.status_code, removed.get_data()) == (204, b"")
    assert_box_error(box.call("GET", f"/task_assignments/{second['id']}"), 404, "not_found")
    assert [a["approver"]["id"] for a in _v1(api, f"/tasks/{task['id']}/approvals")] == [ann.id]

    deleted = box.call("DELETE", f"/tasks/{task['id']}")
    assert (deleted.status_code, deleted.get_data()) == (204, b"")
    assert_box_error(box.call("GET", f"/tasks/{task['id']}"), 404, "not_found")
    assert_box_error(box.call("GET", f"/task_assignments/{first['id']}"), 404, "not_found")
    on_file = [e["id"] for e in box.ok("GET", f"/files/{FILE}/tasks")["entries"]]
    assert task["id"] not in on_file
    assert_box_error(box.call("DELETE", f"/tasks/{task['id']}"), 404, "not_found")
    v1 = _v1(api, f"/tasks/{task['id']}")
    assert (v1["status"], v1["item_id"]) == ("canceled", None)
    [event] = [e for e in _v1(api, f"/tasks/{task['id']}/events") if e["action"] == "delete"]
    assert event["changes"]["status"] == ["assigned", "canceled"]
    assert event["changes"]["item_id"] == [FILE, None]

    # a finished task keeps its outcome: it only leaves its file
    decided = box.task()
    row = box.assign(decided, id=str(ann.id))
    assert ann.box.resolve(row, "approved").status_code == 200
    assert box.call("DELETE", f"/tasks/{decided['id']}").status_code == 204
    v1 = _v1(api, f"/tasks/{decided['id']}")
    assert (v1["status"], v1["item_id"]) == ("approved", None)
