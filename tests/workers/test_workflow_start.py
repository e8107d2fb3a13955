"""A workflow's ``start_at`` with real processes: beat sweeping, workers firing. Its
first tasks are assigned at that moment (each one's start timer), not before; a task
that waits for a predecessor stays registered through it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers import AccountInfo, Api, start_beats, wait_for


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_first_tasks_are_assigned_at_the_workflow_start(
    api: Api, account: AccountInfo, settings, tmp_path
) -> None:
    start = datetime.now(UTC) + timedelta(seconds=4)
    created = api.post("/v1/workflows", json={"subject": "Night change", "start_at": _iso(start)})
    assert created.status_code == 201, created.get_json()
    path = f"/v1/workflows/{created.get_json()['id']}/tasks"
    body = {"subject": "Stop", "category": "implementation", "member_id": account.admin_id}
    first = api.post(path, json=body).get_json()
    second = api.post(path, json={**body, "subject": "Start", "predecessor_ids": [first["id"]]})
    second = second.get_json()
    assert first["status"] == second["status"] == "registered"
    beats = start_beats(settings, tmp_path, 1)
    try:

        def started() -> bool:
            return bool(api.get(f"/v1/tasks/{first['id']}").get_json()["status"] == "assigned")

        wait_for(started, timeout=30, interval=0.2, what="the workflow's start")
    finally:
        beats.stop_all()
    assigned = api.get(f"/v1/tasks/{first['id']}").get_json()
    assert datetime.fromisoformat(assigned["assigned_at"]) >= start  # never early
    assert api.get(f"/v1/tasks/{second['id']}").get_json()["status"] == "registered"
    events = api.get(f"/v1/tasks/{first['id']}/events").get_json()
    assert [e["action"] for e in events].count("start") == 1
