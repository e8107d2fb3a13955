"""Logs and metrics (issue 17): request ids answered and carried from the request to
the worker's line of its operation, JSON one event a line from web, worker and beat,
and the metrics of a real web (gunicorn, 2 processes) and a real worker (2 pool
processes) scraped before and after real traffic."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tests.helpers import (
    AccountInfo,
    Api,
    ProcessGroup,
    Receiver,
    free_port,
    make_account,
    settings_env,
    start_beats,
    wait_for,
    with_own_broker,
)
from tests.helpers.faults import WebServer

MADE = re.compile(r"[0-9a-f]{32}")
BODY = {"subject": "Observed", "category": "implementation"}
#: Celery's "Task tasks.x[id] received" and "... succeeded in 0.01s: None".
_CELERY_PER_TASK = re.compile(r"^Task \S+\[[^\]]+\] (received|succeeded in )")


def _events(log: str) -> list[dict[str, Any]]:
    """Every line of a role's log as the JSON object it must be."""
    out = []
    for line in log.splitlines():
        if line.strip():
            event = json.loads(line)  # fails the test on a line that is not JSON
            assert isinstance(event, dict), line
            assert {"event", "timestamp", "level"} <= event.keys(), line
            out.append(event)
    return out


def _value(scraped: str, sample: str, **labels: str) -> float:
    """A sample's value in a scrape (0 when absent: a counter not yet incremented)."""
    for family in text_string_to_metric_families(scraped):
        for found in family.samples:
            if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


def _has(scraped: str, sample: str) -> bool:
    families = text_string_to_metric_families(scraped)
    return any(s.name == sample for family in families for s in family.samples)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _member_token(settings: Settings, api: Api, account: AccountInfo) -> str:
    person = api.create_person("Mo Member", f"mo-{uuid.uuid4().hex[:8]}@example.com")
    with session_scope(settings) as session:
        return do_create_token(session, account.account_id, person["id"])


# --- in-process: the request id and /metrics' door ---------------------------------------


def test_a_request_id_is_taken_when_well_formed_and_made_otherwise(
    client: FlaskClient, account: AccountInfo
) -> None:
    auth = {"Authorization": f"Bearer {account.token}", "X-Xurrent-Account": account.slug}
    for sent in ("trace-1", "Root=1-67a2:b/c+d@e.f_g", "x" * 128):
        answer = client.get("/v1/people/me", headers={**auth, "X-Request-Id": sent})
        assert answer.status_code == 200
        assert answer.headers["X-Request-Id"] == sent
    made = set()
    for bad in ("a b", "x" * 129, "tab\there", 'quote"d', "é", ""):
        answer = client.get("/v1/people/me", headers={**auth, "X-Request-Id": bad})
        assert answer.status_code == 200
        assert MADE.fullmatch(answer.headers["X-Request-Id"]), bad
        made.add(answer.headers["X-Request-Id"])
    assert len(made) == 6  # a new one each time
    # refusals carry it too: unauthenticated, no such route, a hook's own refusal
    for path, headers, status in (
        ("/v1/people/me", {}, 401),
        ("/v1/nothing-here", auth, 404),
        ("/v1/people/me?x=%00", auth, 400),
    ):
        answer = client.get(path, headers={**headers, "X-Request-Id": "kept-on-refusal"})
        assert answer.status_code == status, path
        assert answer.headers["X-Request-Id"] == "kept-on-refusal"


def test_metrics_are_for_administrators_and_count_each_request(
    client: FlaskClient, api: Api, account: AccountInfo, settings: Settings
) -> None:
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "unauthorized"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    for token in ("not-a-token", "y" * 300):
        unknown = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert unknown.status_code == 401
        assert unknown.get_json()["code"] == "unauthorized"
    member = _member_token(settings, api, account)
    forbidden = client.get("/metrics", headers={"Authorization": f"Bearer {member}"})
    assert forbidden.status_code == 403
    assert forbidden.get_json()["code"] == "forbidden"
    assert forbidden.get_json()["errors"] == []

    admin = {"Authorization": f"Bearer {account.token}"}

    def scrape() -> str:
        answer = client.get("/metrics", headers=admin)
        assert answer.status_code == 200
        assert answer.content_type.startswith("text/plain")
        return answer.get_data(as_text=True)

    labels = {"route": "/v1/tasks/<id:task_id>", "method": "GET", "status": "404"}
    before = scrape()
    for _ in range(3):
        assert api.get("/v1/tasks/2147483000").status_code == 404
    after = scrape()
    assert (
        _value(after, "tasks_http_requests_total", **labels)
        - _value(before, "tasks_http_requests_total", **labels)
        == 3
    )
    timed = {"route": "/v1/tasks/<id:task_id>", "method": "GET"}
    count = "tasks_http_request_duration_seconds_count"
    assert _value(after, count, **timed) - _value(before, count, **timed) == 3
    # the state, read at the scrape
    for queue in ("commands", "timers", "maintenance"):
        assert _value(after, "tasks_queue_depth", queue=queue) >= 0
    for gauge in ("tasks_operations_stale", "tasks_timers_due", "tasks_deliveries_dead"):
        assert _has(after, gauge), gauge


def test_metrics_turned_off_answer_404(settings: Settings, account: AccountInfo) -> None:
    from web.app import create_app

    app: Flask = create_app(settings.model_copy(update={"metrics": False}))
    try:
        answer = app.test_client().get("/metrics", headers={"Authorization": "Bearer x"})
        assert answer.status_code == 404
        assert answer.get_json()["code"] == "not_found"
        assert "X-Request-Id" in answer.headers  # ids and log lines stay
    finally:
        app.extensions["outcomes"].stop()


# --- real processes: one grep from request to outcome; both endpoints move -------------


class _Stack:
    """A real web, worker (metrics on a port) and beat on a broker of their own."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.settings = with_own_broker(settings, tmp_path, "observe")
        self.worker_port = free_port()
        env = settings_env(self.settings, TASKS_WORKER_METRICS_PORT=str(self.worker_port))
        self.workers = ProcessGroup(env, tmp_path)
        (tmp_path / "beats").mkdir()
        (tmp_path / "web").mkdir()
        self.beats: ProcessGroup | None = None
        self.web = WebServer(self.settings, tmp_path / "web")
        self.tmp_path = tmp_path

    def start(self) -> None:
        self.workers.start_worker("worker", concurrency=2)
        self.beats = start_beats(self.settings, self.tmp_path / "beats")
        self.web.start()

    def stop(self) -> None:
        self.web.stop()
        if self.beats is not None:
            self.beats.stop_all()
        self.workers.stop_all()

    def scrape_web(self, token: str) -> str:
        answer = requests.get(
            f"{self.web.base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        return answer.text

    def scrape_worker(self) -> str:
        answer = requests.get(f"http://127.0.0.1:{self.worker_port}/metrics", timeout=10)
        assert answer.status_code == 200
        return answer.text


def _moved(before: str, after: str, sample: str, **labels: str) -> float:
    return _value(after, sample, **labels) - _value(before, sample, **labels)


def test_one_grep_follows_a_write_and_both_endpoints_count_it(
    settings: Settings, tmp_path: Path
) -> None:
    stack = _Stack(settings, tmp_path)
    account = make_account(stack.settings)
    receiver = Receiver()
    stack.start()
    try:
        http = stack.web.session(account.token, account.slug)
        base = stack.web.base
        web_before, worker_before = stack.scrape_web(account.token), stack.scrape_worker()

        hook = http.post(
            f"{base}/v1/webhooks",
            json={"uri": receiver.uri, "events": ["task.created", "task.escalated"]},
        )
        assert hook.status_code == 201, hook.text
        policy = http.post(
            f"{base}/v1/escalation_policies",
            json={
                "name": "At due",
                "levels": [{"offset_minutes": 0, "relative_to": "due_at", "notify": ["team"]}],
            },
        )
        assert policy.status_code == 201, policy.text
        team = http.post(f"{base}/v1/teams", json={"name": "Observed"}).json()
        changed = http.patch(
            f"{base}/v1/teams/{team['id']}", json={"escalation_policy_id": policy.json()["id"]}
        )
        assert changed.status_code == 200, changed.text

        created: dict[str, int] = {}
        due = _iso(datetime.now(UTC) + timedelta(seconds=2))
        for n in range(3):
            rid = f"obs-{n}-{uuid.uuid4().hex[:8]}"
            body = {**BODY, "team_id": team["id"], "due_at": due} if n == 0 else BODY
            answer = http.post(f"{base}/v1/tasks", json=body, headers={"X-Request-Id": rid})
            assert answer.status_code == 201, answer.text
            assert answer.headers["X-Request-Id"] == rid
            created[rid] = answer.json()["id"]
        # a write the worker refuses: a finished task is not worked on again
        worked = list(created.values())[1]  # no team: the admin works on it
        path = f"{base}/v1/tasks/{worked}"
        mine = {"member_id": account.admin_id}
        assert http.patch(path, json=mine).status_code == 200
        for status in ("accepted", "in_progress", "completed"):
            assert http.patch(path, json={"status": status}).status_code == 200
        failing = f"obs-fail-{uuid.uuid4().hex[:8]}"
        refused = http.patch(
            path, json={"status": "in_progress"}, headers={"X-Request-Id": failing}
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "invalid_status_transition"
        wait_for(lambda: receiver.of("task.escalated"), timeout=30, what="the escalation")
        wait_for(lambda: len(receiver.of("task.created")) >= 3, timeout=30, what="webhooks")

        # one grep: the web's line that accepted it, the worker's that applied it
        web_events = _events(stack.web.group.log("web"))
        worker_events = _events(stack.workers.log("worker"))
        for rid, task_id in created.items():
            accepted = [e for e in web_events if e.get("request_id") == rid]
            names = {e["event"] for e in accepted}
            assert {"operation.accepted", "request"} <= names, accepted
            op_id = next(e["operation_id"] for e in accepted if e["event"] == "operation.accepted")
            line = next(e for e in accepted if e["event"] == "request")
            assert (line["route"], line["method"], line["status"]) == ("/v1/tasks", "POST", 201)
            assert line["account"] == account.account_id
            applied = [e for e in worker_events if e.get("request_id") == rid]
            assert [e["event"] for e in applied] == ["operation.applied"], applied
            assert applied[0]["operation_id"] == op_id
            assert applied[0]["task_id"] == task_id
            assert applied[0]["account"] == account.account_id
            assert applied[0]["kind"] == "task.create"
        failed = [e for e in worker_events if e.get("request_id") == failing]
        assert [e["event"] for e in failed] == ["operation.failed"], failed
        assert failed[0]["error"] == "invalid_status_transition"
        assert failed[0]["task_id"] == worked
        # Celery's line per task received and succeeded is left to DEBUG: at INFO the
        # operation's own line (above) is the only one
        per_task = [e for e in worker_events if _CELERY_PER_TASK.search(e["event"])]
        assert per_task == [], per_task[:3]
        # every line of each role is a JSON event; Celery's own lines too
        assert any("ready." in e["event"] for e in worker_events)
        beat_events = _events(stack.beats.log("beat-0") if stack.beats else "")
        assert any(e["event"] == "beat: Starting..." for e in beat_events), beat_events[:3]
        # ... but not its line per periodic task sent (a line a second: DEBUG only)
        sent = [e for e in beat_events if "Sending due task" in e["event"]]
        assert sent == [], sent[:3]
        assert any(e.get("logger", "").startswith("gunicorn") for e in web_events)

        web_after, worker_after = stack.scrape_web(account.token), stack.scrape_worker()
        posts = {"route": "/v1/tasks", "method": "POST"}
        assert (
            _moved(web_before, web_after, "tasks_http_requests_total", **posts, status="201") == 3
        )
        assert (
            _moved(web_before, web_after, "tasks_http_request_duration_seconds_count", **posts) == 3
        )
        patches = {"route": "/v1/tasks/<id:task_id>", "method": "PATCH"}
        assert (
            _moved(web_before, web_after, "tasks_http_requests_total", **patches, status="409") == 1
        )
        for queue in ("commands", "timers", "maintenance"):
            assert _value(web_after, "tasks_queue_depth", queue=queue) >= 0
        assert 0 <= _value(web_after, "tasks_beat_last_sweep_age_seconds") < 15
        for gauge in ("tasks_operations_stale", "tasks_timers_due", "tasks_deliveries_dead"):
            assert _has(web_after, gauge), gauge

        creates = {"kind": "task.create"}
        ops = "tasks_operations_total"
        assert _moved(worker_before, worker_after, ops, **creates, outcome="succeeded") == 3
        updates = {"kind": "task.update"}
        assert _moved(worker_before, worker_after, ops, **updates, outcome="succeeded") == 4
        assert _moved(worker_before, worker_after, ops, **updates, outcome="failed") == 1
        latency = "tasks_operation_latency_seconds_count"
        assert _moved(worker_before, worker_after, latency, **creates) == 3
        delivered = {"channel": "webhook", "outcome": "delivered"}
        assert _moved(worker_before, worker_after, "tasks_deliveries_total", **delivered) >= 3
        assert _moved(worker_before, worker_after, "tasks_escalations_total") >= 1
        lags = "tasks_timer_lag_seconds_count"
        assert _moved(worker_before, worker_after, lags, kind="escalation") >= 1
    finally:
        receiver.close()
        stack.stop()
