"""Escalation and people's channels with real processes: start_at, escalation levels
and waiting_until firing in order while the deadline moves, mail through a local SMTP
sink and the in-app feed; a webhook failing for too long is disabled and the admins told;
the whole service restarted after its timers came due."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tests.helpers import (
    CLI,
    ROOT,
    AccountInfo,
    Api,
    ProcessGroup,
    Receiver,
    SmtpSink,
    free_port,
    http_ready,
    make_account,
    settings_env,
    start_beats,
    wait_for,
    with_own_broker,
)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_start_escalation_and_wake_fire_in_order_as_the_deadline_moves(
    api: Api, account: AccountInfo, settings, tmp_path, smtp_sink: SmtpSink
) -> None:
    ann = api.create_person("Ann", f"ann-{time.monotonic_ns()}@example.com")
    team = api.create_team("Ops", members=(ann["id"],))
    policy = api.post(
        "/v1/escalation_policies",
        json={
            "name": "Due date",
            "levels": [
                {"offset_minutes": -1, "relative_to": "due_at", "notify": ["team"]},
                {"offset_minutes": 0, "relative_to": "due_at", "notify": ["team"]},
            ],
        },
    )
    assert policy.status_code == 201, policy.get_json()
    changed = api.patch(
        f"/v1/teams/{team['id']}", json={"escalation_policy_id": policy.get_json()["id"]}
    )
    assert changed.status_code == 200, changed.get_json()
    beats = start_beats(settings, tmp_path)
    try:
        t0 = datetime.now(UTC)
        start_at, due_at = t0 + timedelta(seconds=4), t0 + timedelta(seconds=68)
        task = api.create_task(team_id=team["id"], start_at=_iso(start_at), due_at=_iso(due_at))
        url = f"/v1/tasks/{task['id']}"
        assert task["status"] == "registered"  # starts later: no levels yet
        wait_for(lambda: api.get(url).get_json()["status"] == "assigned", timeout=20, what="start")
        # level 1 is due at t0+8s; the task waits for something until t0+12s
        waiting = api.patch(
            url, json={"status": "waiting_for", "waiting_until": _iso(t0 + timedelta(seconds=12))}
        )
        assert waiting.status_code == 200, waiting.get_json()
        wait_for(lambda: api.get(url).get_json()["status"] == "assigned", timeout=20, what="wake")
        # the deadline moves in, with level 2 pending: it follows; level 1 stays fired
        new_due = t0 + timedelta(seconds=20)
        moved = api.patch(url, json={"due_at": _iso(new_due)})
        assert moved.status_code == 200, moved.get_json()
        wait_for(
            lambda: len(api.get(f"{url}/escalations").get_json()) == 2,
            timeout=30,
            interval=0.2,
            what="level 2",
        )
        # Ann (the team) was told of both levels: in her feed at once, and by mail
        wait_for(
            lambda: (
                len([m for m in smtp_sink.to(ann["primary_email"]) if "escalation" in m["Subject"]])
                == 2
            ),
            timeout=30,
            what="2 escalation emails",
        )
    finally:
        beats.stop_all()
    escalations = api.get(f"{url}/escalations").get_json()
    assert [e["level"] for e in escalations] == [1, 2]
    assert _at(escalations[0]["fire_at"]) == due_at - timedelta(minutes=1)
    assert _at(escalations[1]["fire_at"]) == new_due
    events = api.get(f"{url}/events?per_page=100").get_json()
    timed = [(e["action"], _at(e["created_at"])) for e in events]
    order = [a for a, _ in timed if a in ("start", "escalated", "wake")]
    assert order == ["start", "escalated", "wake", "escalated"], order
    fired_at = [t for a, t in timed if a in ("start", "escalated", "wake")]
    moments = dict(zip(["start", "level1", "wake", "level2"], fired_at, strict=True))
    for name, due in [
        ("start", start_at),
        ("level1", due_at - timedelta(minutes=1)),
        ("wake", t0 + timedelta(seconds=12)),
        ("level2", new_due),
    ]:
        assert due <= moments[name] < due + timedelta(seconds=3), (name, due, moments[name])
    subjects = sorted(str(m["Subject"]) for m in smtp_sink.to(ann["primary_email"]))
    assert [s.split(":")[0] for s in subjects if "escalation" in s] == [
        "escalation level 1",
        "escalation level 2",
    ]
    with session_scope(settings) as session:
        ann_token = do_create_token(session, account.account_id, ann["id"])
    feed = api.as_(ann_token, account.slug).get("/v1/people/me/notifications").get_json()
    assert [n["summary"].split(":")[0] for n in feed if n["event"] == "task.escalated"] == [
        "escalation level 2",
        "escalation level 1",
    ]


def test_a_webhook_failing_too_long_is_disabled_and_the_admins_told(
    settings, tmp_path, smtp_sink: SmtpSink
) -> None:
    own = with_own_broker(settings, tmp_path, "disable", webhook_disable_after=3.0)
    group = ProcessGroup(settings_env(own), tmp_path)
    group.start_worker("worker", concurrency=2)
    beats = start_beats(own, tmp_path)
    try:
        from web.app import create_app

        app = create_app(own)
        app.testing = True
        account = make_account(settings)
        api = Api(app.test_client(), account.token, account.slug)
        receiver = Receiver()
        receiver.script = [500] * 1000
        hook = api.post("/v1/webhooks", json={"uri": receiver.uri, "events": ["task.created"]})
        hook_id = hook.get_json()["id"]
        for _ in range(3):
            assert api.post(
                "/v1/tasks", json={"subject": "x", "category": "implementation"}
            ).status_code in (201, 202)
        wait_for(
            lambda: api.get(f"/v1/webhooks/{hook_id}").get_json()["disabled"],
            timeout=60,
            interval=0.3,
            what="the webhook to be disabled",
        )
        body = api.get(f"/v1/webhooks/{hook_id}").get_json()
        assert body["disabled_reason"].startswith("failing since")
        feed = api.get("/v1/people/me/notifications").get_json()
        assert [n["event"] for n in feed] == ["webhook.disabled"]
        admin_email = api.get("/v1/people/me").get_json()["primary_email"]
        wait_for(lambda: smtp_sink.to(admin_email), timeout=30, what="the admin's email")
        # enabled again by hand: a fresh start
        again = api.patch(f"/v1/webhooks/{hook_id}", json={"disabled": False}).get_json()
        assert (again["disabled"], again["failing_since"], again["disabled_reason"]) == (
            False,
            None,
            None,
        )
        app.extensions["outcomes"].stop()
        receiver.server.shutdown()
        receiver.server.server_close()
    finally:
        beats.stop_all()
        group.stop_all()


def test_the_whole_service_restarted_fires_what_came_due_while_it_was_down(
    settings, tmp_path
) -> None:
    own = with_own_broker(settings, tmp_path, "restart", timer_late_after=1.0)
    account = make_account(settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    http = requests.Session()
    http.headers.update(
        {"Authorization": f"Bearer {account.token}", "X-Xurrent-Account": account.slug}
    )

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / "run.log").open("ab") as log:  # the child has its own copy
            process = subprocess.Popen(
                [*CLI, "run", "--port", str(port), "--concurrency", "2"],
                env=settings_env(own),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_for(lambda: http_ready(base), timeout=60, interval=0.2, what="the service")
        return process

    def stop(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0

    receiver = Receiver()
    process = start()
    try:
        hook = http.post(
            f"{base}/v1/webhooks", json={"uri": receiver.uri, "events": ["task.alert"]}, timeout=10
        )
        assert hook.status_code == 201, hook.text
        team = http.post(f"{base}/v1/teams", json={"name": "Ops"}, timeout=10).json()
        soon = _iso(datetime.now(UTC) + timedelta(seconds=3))
        tasks = {
            "alert": _post(http, base, alert_at=soon),
            "start": _post(http, base, team_id=team["id"], start_at=soon),
            "wake": _post(http, base, team_id=team["id"]),
        }
        waiting = http.patch(
            f"{base}/v1/tasks/{tasks['wake']}",
            json={"status": "waiting_for", "waiting_until": soon},
            timeout=10,
        )
        assert waiting.status_code == 200, waiting.text
        stop(process)  # everything down before any of them is due
        time.sleep(max(0.0, (_at(soon) - datetime.now(UTC)).total_seconds()) + 2)
        down = {k: http_free_get(own, v) for k, v in tasks.items()}
        assert down["alert"]["alert_sent_at"] is None
        assert (down["start"]["status"], down["wake"]["status"]) == ("registered", "waiting_for")
        process = start()
        wait_for(
            lambda: all(
                (t := http.get(f"{base}/v1/tasks/{task_id}", timeout=5).json())["status"]
                == "assigned"
                or (kind == "alert" and t["alert_sent_at"])
                for kind, task_id in tasks.items()
            ),
            timeout=60,
            interval=0.3,
            what="the missed timers to fire",
        )
        wait_for(lambda: receiver.of("task.alert"), timeout=30, what="the late alert")
        for kind, task_id in tasks.items():
            events = http.get(f"{base}/v1/tasks/{task_id}/events", timeout=5).json()
            fired = [e for e in events if e["action"] == kind]
            assert len(fired) == 1, events
            assert fired[0]["changes"].get("late") == [None, True], events
        time.sleep(2)  # nothing more arrives: once
        assert len(receiver.of("task.alert")) == 1
        assert json.loads(receiver.of("task.alert")[0][1])["late"] is True
    finally:
        if process.poll() is None:
            stop(process)
        receiver.server.shutdown()
        receiver.server.server_close()


def _post(http: requests.Session, base: str, **fields: Any) -> int:
    response = http.post(
        f"{base}/v1/tasks",
        json={"subject": "Restart", "category": "implementation", **fields},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    task_id: int = response.json()["id"]
    return task_id


def http_free_get(settings, task_id: int) -> dict[str, Any]:
    """The task as stored, read without the service (it is down)."""
    from tasks_service.store.db import session_scope
    from tasks_service.store.models import Task

    with session_scope(settings, write=False) as session:
        task = session.get(Task, task_id)
        assert task is not None
        return {"alert_sent_at": task.alert_sent_at, "status": task.status}
