"""Timers with real processes: a beat sweeping every second, workers firing, on time
and once; and timers that came due while nothing ran fire when beat starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import Api, start_beats, wait_for


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _events(api: Api, task_id: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = api.get(f"/v1/tasks/{task_id}/events?per_page=100").get_json()
    return events


def test_alert_wake_and_start_fire_on_time_and_once(api: Api, settings, tmp_path) -> None:
    beats = start_beats(settings, tmp_path, 2)  # two schedulers at once: still once
    try:
        team = api.create_team("Ops")
        now = datetime.now(UTC)
        alert_at = now + timedelta(seconds=4)
        alerting = api.create_task(alert_at=_iso(alert_at))
        starting = api.create_task(team_id=team["id"], start_at=_iso(now + timedelta(seconds=4)))
        assert starting["status"] == "registered"
        waiting = api.create_task(team_id=team["id"])
        changed = api.patch(
            f"/v1/tasks/{waiting['id']}",
            json={"status": "waiting_for", "waiting_until": _iso(now + timedelta(seconds=4))},
        )
        assert changed.status_code == 200, changed.get_json()

        def fired() -> bool:
            return all(
                api.get(f"/v1/tasks/{t['id']}").get_json()[field] == value
                for t, field, value in [
                    (starting, "status", "assigned"),
                    (waiting, "status", "assigned"),
                ]
            ) and bool(api.get(f"/v1/tasks/{alerting['id']}").get_json()["alert_sent_at"])

        wait_for(fired, timeout=30, interval=0.2, what="the timers to fire")
        sent = datetime.fromisoformat(
            api.get(f"/v1/tasks/{alerting['id']}").get_json()["alert_sent_at"]
        )
        assert alert_at <= sent < alert_at + timedelta(seconds=3)  # on time, never early
        for task, action in [(alerting, "alert"), (starting, "start"), (waiting, "wake")]:
            actions = [e["action"] for e in _events(api, task["id"])]
            assert actions.count(action) == 1, actions
    finally:
        beats.stop_all()


def test_timers_due_while_nothing_ran_fire_when_beat_starts(api: Api, settings, tmp_path) -> None:
    task = api.create_task(alert_at=_iso(datetime.now(UTC) + timedelta(seconds=1)))
    wait_for(
        lambda: datetime.now(UTC) > datetime.fromisoformat(task["alert_at"]) + timedelta(seconds=2),
        timeout=10,
        interval=0.2,
        what="the alert to pass",
    )
    assert api.get(f"/v1/tasks/{task['id']}").get_json()["alert_sent_at"] is None
    beat = start_beats(settings, tmp_path)
    try:
        wait_for(
            lambda: api.get(f"/v1/tasks/{task['id']}").get_json()["alert_sent_at"] is not None,
            timeout=30,
            interval=0.2,
            what="the missed alert to fire on start",
        )
    finally:
        beat.stop_all()
    assert [e["action"] for e in _events(api, task["id"])].count("alert") == 1
