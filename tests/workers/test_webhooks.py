"""Webhooks with real processes and a local receiver: signed per Standard Webhooks
(verified with the ``standardwebhooks`` package, as a receiver would), retried with the
same webhook-id, dead on a 4xx and sent again on request; the 2,000-alert and killed-worker runs. (The address guard in-process:
``tests/tasks_service/notify/test_guard.py``.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from tasks_service.commands import task_commands
from tasks_service.notify import webhooks
from tasks_service.notify.outbox import Outbox
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.messages import WebhookCreate
from tasks_service.store.schemas.tasks import TaskCreate
from tests.helpers import Api, ProcessGroup, Receiver, settings_env, start_beats, wait_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


@pytest.fixture
def beat(settings, tmp_path) -> Iterator[None]:
    group = start_beats(settings, tmp_path)
    yield
    group.stop_all()


def _hook(api: Api, uri: str, events: list[str]) -> dict[str, Any]:
    response = api.post("/v1/webhooks", json={"uri": uri, "events": events})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    assert body["secret"].startswith("whsec_")
    assert "secret" not in api.get(f"/v1/webhooks/{body['id']}").get_json()  # shown once
    return body


def test_an_alert_arrives_signed_once(api: Api, receiver: Receiver, beat: None) -> None:
    hook = _hook(api, receiver.uri, ["task.alert"])
    alert_at = datetime.now(UTC) + timedelta(seconds=3)
    task = api.create_task(alert_at=alert_at.isoformat())
    wait_for(lambda: receiver.of("task.alert"), timeout=30, interval=0.2, what="the alert")
    headers, body = receiver.of("task.alert")[0]
    payload = Verifier(hook["secret"]).verify(body, headers)  # raises if the signature is off
    assert payload["data"]["id"] == task["id"]
    assert payload["data"]["alert_sent_at"] is not None
    assert datetime.fromisoformat(payload["timestamp"]) == alert_at.replace(
        microsecond=alert_at.microsecond
    )

    def recorded() -> list[dict[str, Any]] | None:
        # the worker records the outcome once the receiver has answered: just after
        found: list[dict[str, Any]] = api.get(f"/v1/webhooks/{hook['id']}/deliveries").get_json()
        return found if all(d["state"] != "delivering" for d in found) else None

    deliveries = wait_for(recorded, timeout=10, interval=0.1, what="the outcome recorded")
    assert [(d["event"], d["state"], d["attempts"]) for d in deliveries] == [
        ("task.alert", "delivered", 1)
    ]
    assert headers["webhook-id"] == deliveries[0]["message_id"]
    assert deliveries[0]["webhook_id"] == hook["id"]


def test_a_task_created_with_a_member_is_heard_assigned_by_webhooks(
    api: Api, receiver: Receiver, beat: None
) -> None:
    """As the member's feed hears of it (every channel the same events)."""
    _hook(api, receiver.uri, ["task.assigned"])
    ann = api.create_person("Ann", "ann.assigned@example.com")
    task = api.create_task(member_id=ann["id"])
    wait_for(lambda: receiver.of("task.assigned"), timeout=30, interval=0.2, what="task.assigned")
    [(_headers, body)] = receiver.of("task.assigned")
    assert json.loads(body)["data"]["id"] == task["id"]


def test_retried_after_500s_with_the_same_id(api: Api, receiver: Receiver, beat: None) -> None:
    receiver.script = [500, 503]
    hook = _hook(api, receiver.uri, ["task.created"])
    api.create_task()
    wait_for(lambda: len(receiver.requests) >= 3, timeout=30, interval=0.2, what="3 attempts")
    ids = {headers["webhook-id"] for headers, _body in receiver.requests}
    assert len(ids) == 1
    for headers, body in receiver.requests:
        Verifier(hook["secret"]).verify(body, headers)
    wait_for(
        lambda: (
            api.get(f"/v1/webhooks/{hook['id']}/deliveries").get_json()[0]["state"] == "delivered"
        ),
        timeout=10,
        what="the delivery to be recorded",
    )
    delivery = api.get(f"/v1/webhooks/{hook['id']}/deliveries").get_json()[0]
    assert (delivery["attempts"], delivery["last_status"]) == (3, 200)


def test_a_4xx_is_dead_at_once_and_can_be_sent_again(
    api: Api, receiver: Receiver, beat: None
) -> None:
    receiver.script = [410]
    hook = _hook(api, receiver.uri, ["task.created"])
    api.create_task()
    deliveries = f"/v1/webhooks/{hook['id']}/deliveries"
    wait_for(lambda: api.get(deliveries).get_json()[0]["state"] == "dead", timeout=30, what="dead")
    dead = api.get(deliveries).get_json()[0]
    assert (dead["attempts"], dead["last_status"], len(receiver.requests)) == (1, 410, 1)
    retried = api.post(f"{deliveries}/{dead['id']}/retry")
    assert retried.status_code == 202
    wait_for(
        lambda: api.get(deliveries).get_json()[0]["state"] == "delivered",
        timeout=30,
        what="the retry",
    )
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[1][0]["webhook-id"]
    again = api.post(f"{deliveries}/{dead['id']}/retry")
    assert again.status_code == 409  # only a dead delivery is sent again


def test_webhook_input_errors(api: Api) -> None:
    bad = api.post("/v1/webhooks", json={"uri": "http://127.0.0.1:9/x", "events": ["task.nope"]})
    assert bad.status_code == 422
    assert bad.get_json()["errors"][0]["field"] == "events"
    assert api.get("/v1/webhooks").get_json() == []


def _alerts(settings, account, receiver: Receiver, moments: list[datetime]) -> tuple[str, dict]:
    """A webhook for alerts, and tasks alerting at ``moments`` (made in-process: the
    firing is what is tested). Returns the webhook's secret and {task id: alert_at}."""
    with session_scope(settings) as session:
        hook = webhooks.do_create_webhook(
            session,
            settings,
            account.account_id,
            WebhookCreate(uri=receiver.uri, events=["task.alert"]),
        )
        due = {}
        for i, moment in enumerate(moments):
            data = TaskCreate(subject=f"alert {i}", category="implementation", alert_at=moment)
            task = task_commands.do_create_task(
                session, Outbox(settings), account.account_id, None, data
            )
            due[task.id] = moment
        return hook.secret, due


def _each_once(secret: str, receiver: Receiver, due: dict) -> dict[int, datetime]:
    """Every task alerted, each under one webhook-id (a repeat only as a retry of it);
    returns when each alert was sent."""
    by_id: dict[str, int] = {}
    sent_at = {}
    for headers, body in receiver.requests:
        payload = Verifier(secret).verify(body, headers)
        task_id = payload["data"]["id"]
        assert by_id.setdefault(headers["webhook-id"], task_id) == task_id
        sent_at[task_id] = datetime.fromisoformat(payload["data"]["alert_sent_at"])
    assert sorted(sent_at) == sorted(due)
    assert sorted(by_id.values()) == sorted(due)
    return sent_at


def test_two_thousand_alerts_arrive_once_each_never_early(
    settings, account, receiver: Receiver, tmp_path
) -> None:
    """2 beats and 4 worker processes; 2,000 alerts due within the same 10 seconds."""
    workers = ProcessGroup(settings_env(settings), tmp_path)
    workers.start_worker("workers-a", concurrency=2)
    workers.start_worker("workers-b", concurrency=2)
    beats = start_beats(settings, tmp_path, 2)
    try:
        # due from 30 s on (time to create them on a loaded machine), within 10 s
        start = datetime.now(UTC) + timedelta(seconds=30)
        moments = [start + timedelta(milliseconds=5 * i) for i in range(2000)]
        secret, due = _alerts(settings, account, receiver, moments)
        assert datetime.now(UTC) < start, "creating the tasks took too long for the test"
        wait_for(
            lambda: len({h["webhook-id"] for h, _ in receiver.requests}) >= 2000,
            timeout=120,
            interval=0.5,
            what="2,000 alerts",
        )
        sent_at = _each_once(secret, receiver, due)
        assert all(sent_at[t] >= due[t] for t in due), "an alert went out early"
    finally:
        beats.stop_all()
        workers.stop_all()


def test_a_worker_killed_mid_delivery_loses_nothing(
    settings, account, receiver: Receiver, tmp_path
) -> None:
    """SIGKILL of a worker while its deliveries are in flight: every alert still arrives;
    one seen twice comes under the same webhook-id (a retry of that delivery)."""
    receiver.delay = 0.05  # slow answers keep deliveries in flight
    doomed = ProcessGroup(settings_env(settings), tmp_path)
    doomed.start_worker("doomed", concurrency=2)
    beats = start_beats(settings, tmp_path)
    survivor = ProcessGroup(settings_env(settings), tmp_path)
    try:
        secret, due = _alerts(
            settings, account, receiver, [datetime.now(UTC) + timedelta(seconds=2)] * 200
        )
        wait_for(lambda: len(receiver.requests) >= 20, timeout=30, what="deliveries to start")
        doomed.kill("doomed")  # SIGKILL, with everything it forked
        survivor.start_worker("survivor", concurrency=2)
        wait_for(
            lambda: len({h["webhook-id"] for h, _ in receiver.requests}) >= 200,
            timeout=90,
            interval=0.5,
            what="every alert after the kill",
        )
        _each_once(secret, receiver, due)
    finally:
        beats.stop_all()
        survivor.stop_all()
        doomed.stop_all()
