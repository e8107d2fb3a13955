"""Labels (issue 14): a label name's characters are declared, so every name that can be
created can be named in ``DELETE /tasks/:id/labels/:name``; ``GET /tasks/:id/labels``
lists a task's labels as every list is listed."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlmodel import select

from tasks_service.store.db import session_scope
from tasks_service.store.models import TaskLabel
from tests.helpers import AccountInfo, Api, assert_error, make_account

REFUSED = ["../../etc/passwd", "a/b", "a,b", "..", ".hidden", "50%", "what?", "#tag", 'say "hi"']
ACCEPTED = ["v1.2", "needs review", "ünïcode", "a:b+c@d-e_f", "_private", "42"]


def _names(api: Api, task_id: int) -> list[str]:
    return list(api.get(f"/v1/tasks/{task_id}").get_json()["labels"])


@pytest.mark.parametrize("name", REFUSED)
def test_a_label_name_outside_the_declared_characters_is_refused(api: Api, name: str) -> None:
    created = api.post("/v1/tasks", json={"subject": "L", "category": "other", "labels": [name]})
    assert created.status_code == 422
    created = api.post(
        "/v1/tasks", json={"subject": "L", "category": "implementation", "labels": [name]}
    )
    body = assert_error(created, 422, "validation_failed", "labels.0")
    assert "letters, digits" in body["message"], body
    task = api.create_task(labels=["kept"])
    path = f"/v1/tasks/{task['id']}"
    assert_error(api.post(f"{path}/labels", json={"names": [name]}), 422, "validation_failed")
    assert_error(api.patch(path, json={"labels": [name]}), 422, "validation_failed", "labels.0")
    assert _names(api, task["id"]) == ["kept"]  # nothing stored


def test_every_name_that_can_be_created_can_be_deleted_by_name(api: Api) -> None:
    task = api.create_task(labels=ACCEPTED)
    path = f"/v1/tasks/{task['id']}"
    assert _names(api, task["id"]) == sorted(ACCEPTED)
    for name in ACCEPTED:
        removed = api.delete(f"{path}/labels/{quote(name, safe='')}")
        assert removed.status_code == 200, (name, removed.get_json())
        assert name not in removed.get_json()["labels"]
    assert _names(api, task["id"]) == []


def test_a_label_stored_before_names_were_declared_can_still_be_deleted(
    api: Api, settings, account: AccountInfo
) -> None:
    task = api.create_task(labels=["plain"])
    with session_scope(settings) as session:
        session.add(TaskLabel(task_id=task["id"], name="a/b"))
        session.add(TaskLabel(task_id=task["id"], name="c/d/e"))
    path = f"/v1/tasks/{task['id']}"
    assert api.delete(f"{path}/labels/a/b").status_code == 200
    assert api.delete(f"{path}/labels/{quote('c/d/e', safe='')}").status_code == 200
    with session_scope(settings, write=False) as session:
        rows = session.exec(select(TaskLabel.name).where(TaskLabel.task_id == task["id"]))
        assert list(rows) == ["plain"]


def test_deleting_a_name_no_label_can_have_is_a_404(api: Api) -> None:
    task = api.create_task(labels=["plain"])
    path = f"/v1/tasks/{task['id']}/labels"
    assert_error(api.delete(f"{path}/{'x' * 101}"), 404, "not_found")
    assert_error(api.delete(f"{path}/a%01b"), 404, "not_found")
    assert api.delete(f"{path}/absent").get_json()["labels"] == ["plain"]  # changes nothing
    assert _names(api, task["id"]) == ["plain"]


def test_a_tasks_labels_are_a_list(api: Api, settings) -> None:
    task = api.create_task(labels=["b", "a", "c"])
    path = f"/v1/tasks/{task['id']}/labels"
    listed = api.get(path)
    assert listed.status_code == 200, listed.get_json()
    body = listed.get_json()
    assert [label["name"] for label in body] == ["a", "b", "c"]
    assert set(body[0]) == {"name", "created_at"}
    assert listed.headers["X-Pagination-Total-Entries"] == "3"
    assert [x["name"] for x in api.get(f"{path}?sort=-name").get_json()] == ["c", "b", "a"]
    assert api.get(f"{path}?fields=name").get_json()[0] == {"name": "a"}
    assert [x["name"] for x in api.get(f"{path}?name=b").get_json()] == ["b"]
    first = api.get(f"{path}?per_page=2&search_after=")
    assert [x["name"] for x in first.get_json()] == ["a", "b"]
    assert 'rel="next"' in first.headers["Link"]
    for bad in ("sort=bogus", "foo=bar", "page=0", "fields=id,bogus"):
        assert api.get(f"{path}?{bad}").status_code == 400, bad
    assert_error(api.get("/v1/tasks/2147483647/labels"), 404, "not_found")
    other = make_account(settings)
    stranger = api.as_(other.token, other.slug)
    assert_error(stranger.get(path), 404, "not_found")
