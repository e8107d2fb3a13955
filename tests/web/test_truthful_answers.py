"""Answers that tell the truth under faults (issue 14), through real processes: a
gunicorn web, celery workers and beat, PostgreSQL behind a proxy that cuts connections,
a private redis-server killed and started again.

- a commit whose answer is lost is looked up: 202 with ``Location`` when it is stored;
- a stored operation is never answered with a 503;
- with no worker alive a write answers 202 at once instead of holding a thread;
- a scheduler gone silent makes ``/readyz`` 503 and ``timers status`` say so, and the
  pending operations can be listed with their age;
- Idempotency-Key replays the first answer on a synchronous POST too, and a reused key
  is a 422 in the one error shape.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from sqlmodel import func, select

from tasks_service.core.settings import Settings
from tasks_service.store import heartbeats
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation, Person, Task
from tests.helpers import (
    CLI,
    ROOT,
    AccountInfo,
    ProcessGroup,
    make_account,
    settings_env,
    wait_for,
    with_own_broker,
)
from tests.helpers.faults import PgProxy, WebServer

BODY = {"subject": "Rotate keys", "category": "implementation"}
ERROR_SHAPE = {"message", "code", "errors"}


@pytest.fixture
def own(settings: Settings, tmp_path) -> Settings:
    """This stack's database with a broker of its own (the suite's worker never sees it)."""
    return with_own_broker(settings, tmp_path, "truth", command_wait=6.0)


@pytest.fixture
def group(own: Settings, tmp_path) -> Iterator[ProcessGroup]:
    processes = ProcessGroup(settings_env(own), tmp_path)
    yield processes
    processes.stop_all()


@pytest.fixture
def proxied(own: Settings, tmp_path) -> Iterator[tuple[PgProxy, WebServer]]:
    """A gunicorn web reaching PostgreSQL through a proxy that cuts connections."""
    if own.is_embedded:
        pytest.skip("cutting database connections: PostgreSQL")
    proxy, through = PgProxy.in_front_of(own.effective_database_url)
    web = WebServer(own.model_copy(update={"database_url": through}), tmp_path).start()
    yield proxy, web
    web.stop()
    proxy.close()


def _operations(settings: Settings, account_id: int) -> list[Operation]:
    with session_scope(settings, write=False) as session:
        return list(session.exec(select(Operation).where(Operation.account_id == account_id)))


def _finished(http: requests.Session, base: str, location: str) -> dict:
    def done() -> dict | None:
        body = http.get(f"{base}{location}", timeout=10).json()
        return body if body["status"] != "pending" else None

    return wait_for(done, timeout=60, interval=0.2, what=f"{location} to finish")


def test_a_commit_whose_answer_is_lost_is_looked_up_not_refused(
    own: Settings, group: ProcessGroup, proxied, account: AccountInfo
) -> None:
    proxy, web = proxied
    group.start_worker("worker")
    http = web.session(account.token, account.slug)
    assert http.get(f"{web.base}/v1/tasks", timeout=10).status_code == 200  # pool warmed

    proxy.cut_next_commit()
    response = http.post(f"{web.base}/v1/tasks", json=BODY, timeout=30)

    assert proxy.commits_cut == 1
    assert response.status_code == 202, response.text  # stored: not "nothing is stored"
    location = response.headers["Location"]
    assert location == f"/v1/operations/{response.json()['id']}"
    assert _finished(http, web.base, location)["status"] == "succeeded"  # it was enqueued
    with session_scope(own, write=False) as session:
        subjects = session.exec(
            select(Task.subject).where(Task.account_id == account.account_id)
        ).all()
    assert subjects == ["Rotate keys"]


def test_a_connection_cut_while_waiting_answers_202_not_503(
    own: Settings, group: ProcessGroup, tmp_path, account: AccountInfo
) -> None:
    if own.is_embedded:
        pytest.skip("cutting database connections: PostgreSQL")
    proxy, through = PgProxy.in_front_of(own.effective_database_url)
    slow = own.model_copy(update={"database_url": through, "command_wait": 20.0})
    web = WebServer(slow, tmp_path).start()
    try:
        http = web.session(account.token, account.slug)
        # A worker is said to be alive (so the request waits); the real one starts
        # only once the web has lost the database, and applies the command meanwhile.
        assert heartbeats.beat(own, heartbeats.WORKER, "about-to-start")
        answers: list[requests.Response] = []
        create = threading.Thread(
            target=lambda: answers.append(http.post(f"{web.base}/v1/tasks", json=BODY, timeout=60))
        )
        create.start()
        wait_for(lambda: _operations(own, account.account_id), timeout=20, what="the create stored")
        proxy.down()
        group.start_worker("worker")
        wait_for(
            lambda: [op.status for op in _operations(own, account.account_id)] == ["succeeded"],
            timeout=60,
            what="the create applied",
        )
        create.join(60)
        proxy.up()
        (response,) = answers
        assert response.status_code == 202, response.text  # stored: never a 503
        location = response.headers["Location"]
        assert _finished(http, web.base, location)["status"] == "succeeded"
    finally:
        web.stop()
        proxy.close()


def test_with_no_worker_alive_a_write_answers_202_at_once(
    own: Settings, group: ProcessGroup, tmp_path, account: AccountInfo
) -> None:
    web = WebServer(own.model_copy(update={"command_wait": 20.0}), tmp_path).start()
    try:
        http = web.session(account.token, account.slug)
        started = time.monotonic()
        response = http.post(f"{web.base}/v1/tasks", json=BODY, timeout=30)
        took = time.monotonic() - started
        assert response.status_code == 202, response.text
        assert took < 3.0, f"held {took:.1f} s with nobody to apply the command"

        group.start_worker("worker")
        applied = http.post(f"{web.base}/v1/tasks", json={**BODY, "subject": "Later"}, timeout=30)
        assert applied.status_code == 201, applied.text  # a live worker: the request waits
        assert _finished(http, web.base, response.headers["Location"])["status"] == "succeeded"
    finally:
        web.stop()


def test_a_backed_up_command_queue_answers_202_at_once(
    own: Settings, tmp_path, account: AccountInfo
) -> None:
    """A worker is alive but the queue holds more than TASKS_COMMAND_BACKLOG_LIMIT
    commands: the request does not wait behind them."""
    slow = own.model_copy(update={"command_wait": 20.0})
    web = WebServer(slow, tmp_path, TASKS_COMMAND_BACKLOG_LIMIT="0").start()
    try:
        http = web.session(account.token, account.slug)
        assert heartbeats.beat(own, heartbeats.WORKER, "busy-elsewhere")
        queued = http.post(
            f"{web.base}/v1/tasks", json=BODY, headers={"Prefer": "respond-async"}, timeout=30
        )
        assert queued.status_code == 202, queued.text  # one command in the queue now
        started = time.monotonic()
        response = http.post(f"{web.base}/v1/tasks", json=BODY, timeout=30)
        took = time.monotonic() - started
        assert response.status_code == 202, response.text
        assert took < 3.0, f"held {took:.1f} s behind a backed-up queue"
    finally:
        web.stop()


def _cli(settings: Settings, *args: str, **env: str) -> str:
    result = subprocess.run(
        [*CLI, *args],
        env=settings_env(settings, **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_dead_scheduler_is_reported_and_pending_operations_listed(
    own: Settings, group: ProcessGroup, tmp_path, account: AccountInfo
) -> None:
    stale = {"TASKS_SCHEDULER_STALE_AFTER": "3"}
    web = WebServer(own, tmp_path, **stale).start()
    try:
        group.start("beat", "beat")

        def readiness() -> requests.Response:
            return requests.get(f"{web.base}/readyz", timeout=20)

        wait_for(
            lambda: readiness().json().get("checks", {}).get("scheduler") == "ok",
            timeout=120,
            interval=0.2,
            what="the scheduler's heartbeat",
        )
        assert "scheduler   ok" in _cli(own, "timers", "status", **stale)

        group.kill("beat")  # dead, not stopped: its heartbeat stays and goes stale
        body = wait_for(
            lambda: (r := readiness()).status_code == 503 and r.json(),
            timeout=60,
            interval=0.2,
            what="/readyz to report the scheduler",
        )
        assert {e["field"] for e in body["errors"]} == {"scheduler"}
        assert "scheduler" in body["message"]
        assert "STALE" in _cli(own, "timers", "status", **stale)

        # No worker either: the create stays pending, and an admin can see it, and since when.
        http = web.session(account.token, account.slug)
        created = http.post(f"{web.base}/v1/tasks", json=BODY, timeout=30)
        assert created.status_code == 202, created.text
        time.sleep(1.0)
        listed = http.get(f"{web.base}/v1/operations", params={"status": "pending"}, timeout=10)
        assert listed.status_code == 200, listed.text
        (pending,) = listed.json()
        assert pending["id"] == created.json()["id"]
        assert pending["status"] == "pending"
        assert pending["age_seconds"] >= 1.0
        assert listed.headers["X-Pagination-Total-Entries"] == "1"
        bad = http.get(f"{web.base}/v1/operations", params={"status": "bogus"}, timeout=10)
        assert bad.status_code == 400
        assert set(bad.json()) == ERROR_SHAPE
        shown = _cli(own, "operations", "list", account.slug, "--status", "pending")
        assert f"{pending['id']:>8}  task.create" in shown
        assert "1 operation(s)" in shown
    finally:
        web.stop()


def test_idempotency_key_replays_a_synchronous_post(
    settings: Settings, worker: ProcessGroup, tmp_path
) -> None:
    account = make_account(settings)
    web = WebServer(settings, tmp_path).start()
    try:
        http = web.session(account.token, account.slug)
        url = f"{web.base}/v1/people"
        person = {"name": "Pat Doe", "primary_email": "pat@replay.example"}
        key = {"Idempotency-Key": "create-pat-1"}
        first = http.post(url, json=person, headers=key, timeout=10)
        second = http.post(url, json=person, headers=key, timeout=10)
        assert first.status_code == second.status_code == 201, second.text
        assert first.json() == second.json()
        with session_scope(settings, write=False) as session:
            count = session.exec(
                select(func.count())
                .select_from(Person)
                .where(
                    Person.account_id == account.account_id,
                    Person.primary_email == "pat@replay.example",
                )
            ).one()
        assert count == 1

        other = http.post(url, json={**person, "name": "Other"}, headers=key, timeout=10)
        assert other.status_code == 422
        assert set(other.json()) == ERROR_SHAPE, other.json()
        assert other.json()["code"] == "idempotency_key_reused"
        assert other.json()["errors"][0]["field"] == "Idempotency-Key"
        # One key names one request, whichever route: a team under it is refused too.
        team = http.post(f"{web.base}/v1/teams", json={"name": "Replays"}, headers=key, timeout=10)
        assert team.status_code == 422
        assert set(team.json()) == ERROR_SHAPE

        # Every POST, synchronous or durable: the same key and body, the same answer once.
        task_id = http.post(f"{web.base}/v1/tasks", json=BODY, timeout=30).json()["id"]
        for path, body in (
            ("/v1/teams", {"name": "Replayed team"}),
            ("/v1/webhooks", {"uri": "http://127.0.0.1:9/hook", "events": ["task.alert"]}),
            (f"/v1/tasks/{task_id}/notes", {"text": "only once"}),
            ("/v1/people", {"name": "No email"}),  # a 422, replayed as such
        ):
            headers = {"Idempotency-Key": f"every-post {path}"}
            answers = [
                http.post(f"{web.base}{path}", json=body, headers=headers, timeout=30)
                for _ in range(2)
            ]
            assert answers[0].status_code == answers[1].status_code, (path, answers[1].text)
            assert answers[0].json() == answers[1].json(), path
        notes = http.get(f"{web.base}/v1/tasks/{task_id}/notes", timeout=10).json()
        assert [n["text"] for n in notes] == ["only once"]
        teams = http.get(f"{web.base}/v1/teams", params={"name": "Replayed team"}, timeout=10)
        assert len(teams.json()) == 1

        # The durable path: a reused key's 422 has the one shape as well.
        tasks_key = {"Idempotency-Key": "create-task-1"}
        made = http.post(f"{web.base}/v1/tasks", json=BODY, headers=tasks_key, timeout=30)
        assert made.status_code == 201, made.text
        reused = http.post(
            f"{web.base}/v1/tasks", json={**BODY, "subject": "x"}, headers=tasks_key, timeout=30
        )
        assert reused.status_code == 422
        assert set(reused.json()) == ERROR_SHAPE, reused.json()
    finally:
        web.stop()
