"""What a finished task accepts (issue 14, ``core.statuses.FINISHED_ACCEPTS``): a status
change that reopens it (with other changes, if any), or notes; every other change is a
409 whose message says the rule, and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import AccountInfo, Api, assert_error

RULE = (
    "cannot update a task that is completed: a completed task accepts only a status change "
    "that reopens it (to assigned or registered) and notes"
)


def _completed(api: Api, account: AccountInfo) -> tuple[str, dict[str, Any]]:
    task = api.create_task(subject="Done", member_id=account.admin_id, labels=["kept"])
    path = f"/v1/tasks/{task['id']}"
    done = api.patch(path, json={"status": "completed"})
    assert done.status_code == 200, done.get_json()
    return path, done.get_json()


@pytest.mark.parametrize(
    "body",
    [
        {"subject": "Changed after the fact"},
        {"status": "in_progress"},
        {"status": "completed", "subject": "Changed after the fact"},
        {"impact": "high", "note": "and a note"},
        {"labels": ["new"]},
        {"due_at": "2027-01-01T00:00:00Z"},
        {"member_id": None},
    ],
)
def test_a_completed_task_refuses_a_change_that_does_not_reopen_it(
    api: Api, account: AccountInfo, body: dict[str, Any]
) -> None:
    path, before = _completed(api, account)
    refused = assert_error(api.patch(path, json=body), 409, "invalid_status_transition")
    assert refused["message"] == RULE, refused
    assert (refused["action"], refused["actual_status"]) == ("update", "completed")
    assert "assigned" in refused["expected_status"]
    assert api.get(path).get_json() == before
    events = api.get(f"{path}/events").get_json()
    assert [e["action"] for e in events] == ["created", "update"]


def test_labels_of_a_completed_task_are_refused_as_other_changes(
    api: Api, account: AccountInfo
) -> None:
    path, _ = _completed(api, account)
    added = api.post(f"{path}/labels", json={"names": ["late"]})
    assert assert_error(added, 409, "invalid_status_transition")["message"].startswith(
        "cannot label a task that is completed: a completed task accepts only"
    )
    assert_error(api.delete(f"{path}/labels/kept"), 409, "invalid_status_transition")
    assert api.get(path).get_json()["labels"] == ["kept"]


def test_a_completed_task_takes_notes(api: Api, account: AccountInfo) -> None:
    path, _ = _completed(api, account)
    noted = api.patch(path, json={"note": "for the record"})
    assert noted.status_code == 200, noted.get_json()
    assert noted.get_json()["status"] == "completed"
    assert api.post(f"{path}/notes", json={"text": "another"}).status_code == 201
    notes = api.get(f"{path}/notes").get_json()
    assert [n["text"] for n in notes] == ["for the record", "another"]
    # its own status again, or nothing, changes nothing
    assert api.patch(path, json={"status": "completed"}).status_code == 200
    assert api.patch(path, json={}).get_json()["status"] == "completed"


def test_a_status_change_reopens_it_with_the_other_changes(api: Api, account: AccountInfo) -> None:
    path, _ = _completed(api, account)
    reopened = api.patch(path, json={"status": "assigned", "subject": "Once more", "note": "n"})
    assert reopened.status_code == 200, reopened.get_json()
    body = reopened.get_json()
    assert (body["status"], body["subject"], body["finished_at"]) == ("assigned", "Once more", None)
    # open again: every change is taken
    assert api.patch(path, json={"impact": "high"}).get_json()["impact"] == "high"
