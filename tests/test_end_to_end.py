"""``tasks-service run`` as a person starts it: real web, worker and beat processes,
real HTTP, a task taken through its whole lifecycle; then a clean Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid

import pytest
import requests

from tasks_service.core.settings import Settings
from tests.helpers import CLI, ROOT, free_port, http_ready, settings_env, wait_for


@pytest.fixture
def service(settings: Settings, tmp_path):
    port = free_port()
    own = settings.model_copy(
        update={
            "data_dir": tmp_path,
            "broker_prefix": f"e2e-{uuid.uuid4().hex[:8]}:" if settings.broker_url else "",
        }
    )
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(
        [*CLI, "run", "--port", str(port), "--concurrency", "2"],
        env=settings_env(own),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    yield process, base, tmp_path
    if process.poll() is None:
        process.kill()
        process.wait(10)
    assert process.stdout is not None
    process.stdout.close()
    log.close()


def test_run_serves_the_lifecycle_and_stops_cleanly(service, settings: Settings) -> None:
    process, base, tmp_path = service
    token = None
    lines = []
    assert process.stdout is not None
    if settings.is_embedded:
        # A fresh database gets the demo account; its token is printed once.
        for _ in range(5):
            lines.append(process.stdout.readline().decode())
            found = re.search(r"(tsk_[A-Za-z0-9_-]+)", lines[-1])
            if found:
                token = found.group(1)
                break
        assert token, lines
        assert any("curl" in line for line in [*lines, process.stdout.readline().decode()])
        account = "demo"
    else:
        # The shared PostgreSQL database has accounts already: make one with the CLI.
        account = f"e2e-{uuid.uuid4().hex[:8]}"
        created = subprocess.run(
            [
                *CLI,
                "account",
                "create",
                account,
                "--admin-name",
                "Eve",
                "--admin-email",
                "eve@e2e.example",
            ],
            env=settings_env(settings),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.strip().splitlines()[-1]
    wait_for(lambda: http_ready(base), timeout=60, interval=0.2, what=f"{base}/readyz")
    assert requests.get(f"{base}/v1", timeout=5).json() == {}

    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "X-Xurrent-Account": account})
    me = session.get(f"{base}/v1/people/me", timeout=5).json()
    created = session.post(
        f"{base}/v1/tasks",
        json={"subject": "End to end", "category": "implementation", "planned_duration": 30},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    task_url = f"{base}/v1/tasks/{created.json()['id']}"
    steps = [
        ({"member_id": me["id"]}, "assigned"),
        ({"status": "accepted"}, "accepted"),
        ({"status": "in_progress", "note": "working"}, "in_progress"),
        ({"status": "completed"}, "completed"),
    ]
    for body, status in steps:
        response = session.patch(task_url, json=body, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    refused = session.patch(task_url, json={"status": "in_progress"}, timeout=10)
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid_status_transition"
    reopened = session.patch(task_url, json={"status": "assigned"}, timeout=10)
    assert reopened.json()["status"] == "assigned"
    events = session.get(f"{task_url}/events", timeout=5).json()
    assert [e["action"] for e in events] == ["created"] + ["update"] * 5

    # A role that dies is reported and restarted: the service keeps answering.
    log_path = tmp_path / "run.log"
    worker_pid = int(re.findall(r"started worker \(pid (\d+)\)", log_path.read_text())[-1])
    os.kill(worker_pid, signal.SIGKILL)
    wait_for(
        lambda: log_path.read_text().count("started worker") == 2, timeout=30, what="worker restart"
    )
    assert "worker exited with code" in log_path.read_text()
    note = session.post(f"{task_url}/notes", json={"text": "after the restart"}, timeout=30)
    assert note.status_code == 201, note.text

    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    assert time.monotonic() - started < 30
    assert not http_ready(base)
