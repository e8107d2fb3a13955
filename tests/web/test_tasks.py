"""Task lifecycle over REST, applied by real worker processes."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.helpers import AccountInfo, Api, assert_error, make_account


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def test_create_flat_or_wrapped_and_read_back(api: Api, account: AccountInfo) -> None:
    flat = api.create_task(
        subject="Renew certificate", impact="high", sourceID="ext-1", labels=["tls", "ops"]
    )
    assert flat["status"] == "registered"
    assert flat["created_by"] == {"id": account.admin_id, "name": "Ada Admin"}
    assert flat["labels"] == ["ops", "tls"]
    assert flat["sourceID"] == "ext-1"
    wrapped = api.post("/v1/tasks", json={"task": {"subject": "Wrapped", "category": "automation"}})
    assert wrapped.status_code == 201
    fetched = api.get(f"/v1/tasks/{flat['id']}").get_json()
    assert fetched == flat
    listing = api.get("/v1/tasks")
    assert [t["id"] for t in listing.get_json()] == [wrapped.get_json()["id"], flat["id"]]
    assert set(listing.get_json()[0]) == {
        "id",
        "sourceID",
        "subject",
        "impact",
        "category",
        "status",
        "team",
        "member",
        "completion_target_at",
        "finished_at",
        "created_at",
        "updated_at",
    }


def test_assignment_sets_assigned_and_target(api: Api, account: AccountInfo) -> None:
    team = api.create_team("Ops", members=(account.admin_id,))
    task = api.create_task(planned_duration=90)
    assert task["completion_target_at"] is None
    assigned = api.patch(
        f"/v1/tasks/{task['id']}", json={"team_id": team["id"], "member_id": account.admin_id}
    )
    body = assigned.get_json()
    assert assigned.status_code == 200, body
    assert body["status"] == "assigned"
    assert body["team"] == {"id": team["id"], "name": "Ops"}
    assert parse(body["completion_target_at"]) - parse(body["assigned_at"]) == timedelta(minutes=90)


def test_start_at_later_than_assignment_moves_the_target(api: Api, account: AccountInfo) -> None:
    start = "2030-01-01T09:00:00Z"
    # 002, "Start no earlier than": it stays registered with its member until start_at
    # (its start timer assigns it then; tests/workers/test_timers.py) ...
    waiting = api.create_task(planned_duration=60, start_at=start, member_id=account.admin_id)
    assert (waiting["status"], waiting["completion_target_at"]) == ("registered", None)
    # ... and one assigned at once anyway runs its clock from start_at
    task = api.create_task(
        planned_duration=60, start_at=start, member_id=account.admin_id, status="assigned"
    )
    assert task["completion_target_at"] == "2030-01-01T10:00:00Z"


def test_member_must_belong_to_team(api: Api, account: AccountInfo) -> None:
    team = api.create_team("Empty")
    response = api.post(
        "/v1/tasks",
        json={
            "subject": "x",
            "category": "implementation",
            "team_id": team["id"],
            "member_id": account.admin_id,
        },
    )
    assert_error(response, 422, "validation_failed", "member_id")
    response = api.post(
        "/v1/tasks", json={"subject": "x", "category": "implementation", "team_id": 999999}
    )
    assert_error(response, 422, "validation_failed", "team_id")


def test_lifecycle_and_finished_at(api: Api, account: AccountInfo) -> None:
    task = api.create_task(member_id=account.admin_id)
    path = f"/v1/tasks/{task['id']}"
    for status in ("accepted", "in_progress"):
        assert api.patch(path, json={"status": status}).get_json()["status"] == status
    done = api.patch(path, json={"status": "completed"}).get_json()
    assert done["finished_at"] is not None
    assert done["completion_target_at"] is None
    refused = api.patch(path, json={"status": "in_progress"})
    body = assert_error(refused, 409, "invalid_status_transition")
    assert body["action"] == "update"
    assert body["actual_status"] == "completed"
    assert "assigned" in body["expected_status"]
    reopened = api.put(path, json={"status": "assigned"}).get_json()
    assert reopened["status"] == "assigned"
    assert reopened["finished_at"] is None


def test_approval_outcomes_depend_on_category(api: Api, account: AccountInfo) -> None:
    approval = api.create_task(category="approval", member_id=account.admin_id)
    assert_error(
        api.patch(f"/v1/tasks/{approval['id']}", json={"status": "completed"}),
        422,
        "validation_failed",
        "status",
    )
    assert (
        api.patch(f"/v1/tasks/{approval['id']}", json={"status": "approved"}).get_json()["status"]
        == "approved"
    )
    work = api.create_task(member_id=account.admin_id)
    assert_error(
        api.patch(f"/v1/tasks/{work['id']}", json={"status": "rejected"}),
        422,
        "validation_failed",
        "status",
    )


def test_waiting_until_only_with_waiting_for(api: Api, account: AccountInfo) -> None:
    task = api.create_task(member_id=account.admin_id)
    path = f"/v1/tasks/{task['id']}"
    later = "2031-05-01T12:00:00Z"
    assert_error(
        api.patch(path, json={"waiting_until": later}), 422, "validation_failed", "waiting_until"
    )
    waiting = api.patch(path, json={"status": "waiting_for", "waiting_until": later}).get_json()
    assert waiting["waiting_until"] == later
    back = api.patch(path, json={"status": "in_progress"}).get_json()
    assert back["waiting_until"] is None


def test_refused_change_changes_nothing(api: Api, account: AccountInfo) -> None:
    task = api.create_task(member_id=account.admin_id, subject="Before")
    path = f"/v1/tasks/{task['id']}"
    response = api.patch(path, json={"subject": "After", "status": "approved"})
    assert response.status_code == 422
    after = api.get(path).get_json()
    assert after["subject"] == "Before"
    assert after["updated_at"] == task["updated_at"]
    assert len(api.get(f"{path}/events").get_json()) == 1


def test_notes_labels_and_events(api: Api, account: AccountInfo) -> None:
    task = api.create_task(labels=["a"])
    path = f"/v1/tasks/{task['id']}"
    note = api.post(f"{path}/notes", json={"text": "Looked into it"})
    assert note.status_code == 201
    assert note.get_json()["person"]["id"] == account.admin_id
    api.patch(path, json={"note": "Second note via PATCH"})
    notes = api.get(f"{path}/notes").get_json()
    assert [n["text"] for n in notes] == ["Looked into it", "Second note via PATCH"]
    labelled = api.post(f"{path}/labels", json={"names": ["b", "a", "c"]}).get_json()
    assert labelled["labels"] == ["a", "b", "c"]
    unlabelled = api.delete(f"{path}/labels/b").get_json()
    assert unlabelled["labels"] == ["a", "c"]
    events = api.get(f"{path}/events").get_json()
    assert [e["action"] for e in events] == ["created", "note_added", "update", "label", "label"]
    assert events[3]["changes"]["labels"] == [["a"], ["a", "b", "c"]]
    assert all(e["person"]["id"] == account.admin_id for e in events)


def test_another_accounts_task_is_404(api: Api, settings, client) -> None:
    task = api.create_task()
    other = make_account(settings)
    stranger = Api(client, other.token, other.slug)
    assert_error(stranger.get(f"/v1/tasks/{task['id']}"), 404, "not_found")
    assert_error(
        stranger.patch(f"/v1/tasks/{task['id']}", json={"subject": "mine"}), 404, "not_found"
    )
    assert stranger.get("/v1/tasks").get_json() == []
    assert api.get(f"/v1/tasks/{task['id']}").get_json()["subject"] == task["subject"]


def test_pagination_headers_and_links(api: Api) -> None:
    ids = [api.create_task(subject=f"T{i}")["id"] for i in range(5)]
    page = api.get("/v1/tasks?per_page=2&page=2&status=registered")
    assert [t["id"] for t in page.get_json()] == [ids[2], ids[1]]
    assert page.headers["X-Pagination-Total-Entries"] == "5"
    assert page.headers["X-Pagination-Total-Pages"] == "3"
    assert page.headers["X-Pagination-Current-Page"] == "2"
    assert page.headers["X-Pagination-Per-Page"] == "2"
    links = {
        part.split("; ")[1][5:-1]: part.split("; ")[0][1:-1]
        for part in page.headers["Link"].split(", ")
    }
    assert set(links) == {"first", "prev", "next", "last"}
    # relative: this app has no TASKS_PUBLIC_URL, and the Host header is not trusted
    assert links["next"] == "/v1/tasks?per_page=2&status=registered&page=3"
    assert links["prev"].endswith("page=1")


def test_workflow_status_follows_its_tasks(api: Api, account: AccountInfo) -> None:
    created = api.post("/v1/workflows", json={"subject": "Install rack", "category": "standard"})
    assert created.status_code == 201, created.get_json()
    workflow = created.get_json()
    assert workflow["manager"]["id"] == account.admin_id
    assert workflow["status"] == "registered"
    wpath = f"/v1/workflows/{workflow['id']}"
    first = api.post(
        f"{wpath}/tasks",
        json={"subject": "Order", "category": "implementation", "member_id": account.admin_id},
    ).get_json()
    second = api.post(
        f"{wpath}/tasks", json={"subject": "Approve", "category": "approval"}
    ).get_json()
    assert first["workflow"] == {"id": workflow["id"], "subject": "Install rack"}
    assert first["manager"]["id"] == account.admin_id
    assert api.get(wpath).get_json()["status"] == "in_progress"
    api.patch(f"/v1/tasks/{first['id']}", json={"status": "failed"})
    assert api.get(wpath).get_json()["status"] == "progress_halted"
    api.patch(f"/v1/tasks/{second['id']}", json={"status": "canceled"})
    # issue 15: a failed task (without a failure task) keeps it halted until it is
    # completed after all; then every task is completed or canceled
    assert api.get(wpath).get_json()["status"] == "progress_halted"
    api.patch(f"/v1/tasks/{first['id']}", json={"status": "completed"})
    done = api.get(wpath).get_json()
    assert done["status"] == "completed"
    assert done["completed_at"] is not None
    assert [t["id"] for t in api.get(f"{wpath}/tasks").get_json()] == [second["id"], first["id"]]
    renamed = api.patch(wpath, json={"subject": "Install two racks"})
    assert renamed.get_json()["subject"] == "Install two racks"
    assert_error(
        api.patch(wpath, json={"status": "in_progress"}), 422, "validation_failed", "status"
    )
    assert_error(
        api.post("/v1/workflows/999999/tasks", json={"subject": "x", "category": "implementation"}),
        404,
        "not_found",
    )
