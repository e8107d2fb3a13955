"""Test helpers: a REST client wrapper, real process management, polling."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tasks_service.settings import Settings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "tasks_service.cli"]


def settings_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment that gives a child process exactly these settings."""
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("TASKS_")]:
        del env[key]
    env["TASKS_ENV"] = settings.env
    env["TASKS_DATA_DIR"] = str(settings.resolved_data_dir)
    if settings.database_url:
        env["TASKS_DATABASE_URL"] = settings.database_url
    if settings.broker_url:
        env["TASKS_BROKER_URL"] = settings.broker_url
    if settings.broker_prefix:
        env["TASKS_BROKER_PREFIX"] = settings.broker_prefix
    env["TASKS_RECOVERY_AFTER"] = str(settings.recovery_after)
    env["TASKS_RECOVERY_INTERVAL"] = str(settings.recovery_interval)
    env["TASKS_COMMAND_WAIT"] = str(settings.command_wait)
    env["TASKS_WEBHOOK_ALLOW_PRIVATE"] = str(settings.webhook_allow_private).lower()
    env["TASKS_WEBHOOK_RETRY_BASE"] = str(settings.webhook_retry_base)
    env["TASKS_TIMER_CLAIM_TIMEOUT"] = str(settings.timer_claim_timeout)
    env["TASKS_DELIVERY_CLAIM_TIMEOUT"] = str(settings.delivery_claim_timeout)
    env["TASKS_WEBHOOK_TIMEOUT"] = str(settings.webhook_timeout)
    env["TASKS_TIMER_LATE_AFTER"] = str(settings.timer_late_after)
    env["TASKS_WEBHOOK_DISABLE_AFTER"] = str(settings.webhook_disable_after)
    if settings.smtp_host:
        env["TASKS_SMTP_HOST"], env["TASKS_SMTP_PORT"] = settings.smtp_host, str(settings.smtp_port)
    env["PYTHONPATH"] = str(ROOT)
    env.update(overrides)
    return env


def with_own_broker(settings: Settings, data_dir: Path, name: str, **changes: Any) -> Settings:
    """The same database, but a broker of its own (a SQLite file, or a fresh Redis key
    prefix): the suite's shared worker never sees these messages."""
    return settings.model_copy(
        update={
            "data_dir": data_dir,
            "database_url": settings.effective_database_url,
            "broker_url": settings.broker_url or f"sqlite:///{data_dir / f'{name}-broker.db'}",
            "broker_prefix": f"{name}-{uuid.uuid4().hex[:8]}:" if settings.broker_url else "",
            **changes,
        }
    )


def wait_for(
    probe: Callable[[], T], timeout: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProcessGroup:
    """Real role processes (``tasks-service worker``/``beat``), each in its own session
    so that a test can kill one with everything it forked, as a crash would."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def log(self, name: str) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with self.log_path(name).open("ab") as log:
            process = subprocess.Popen(
                [*CLI, *args],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def start_worker(self, name: str, concurrency: int = 2, ready_timeout: float = 60.0) -> None:
        self.start(name, "worker", "--concurrency", str(concurrency))
        wait_for(
            lambda: " ready." in self.log(name) or self._died(name),
            timeout=ready_timeout,
            what=f"{name} to be ready",
        )
        if self._died(name):
            raise AssertionError(f"{name} exited:\n{self.log(name)[-3000:]}")

    def _died(self, name: str) -> bool:
        return self.processes[name].poll() is not None

    def kill(self, name: str) -> None:
        """SIGKILL the role and every process it forked: no clean shutdown at all."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            try:
                process.terminate()  # the main process shuts its pool down (warm shutdown)
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
            except ProcessLookupError:
                pass

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


class Api:
    """The REST API as one caller (bearer token + account header)."""

    def __init__(self, client: FlaskClient, token: str | None, account: str | None) -> None:
        self.client = client
        self.headers: dict[str, str] = {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        if account:
            self.headers["X-Xurrent-Account"] = account

    def as_(self, token: str, account: str) -> Api:
        return Api(self.client, token, account)

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        all_headers = {**self.headers, **(headers or {})}
        return self.client.open(path, method=method, json=json, headers=all_headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)

    def create_task(self, **fields: Any) -> dict[str, Any]:
        body = {"subject": "Check the backups", "category": "implementation", **fields}
        response = self.post("/v1/tasks", json=body)
        assert response.status_code == 201, response.get_json()
        result: dict[str, Any] = response.get_json()
        return result

    def create_team(self, name: str, members: tuple[int, ...] = ()) -> dict[str, Any]:
        response = self.post("/v1/teams", json={"name": name})
        assert response.status_code == 201, response.get_json()
        team: dict[str, Any] = response.get_json()
        for person_id in members:
            added = self.post(f"/v1/teams/{team['id']}/members", json={"person_id": person_id})
            assert added.status_code == 201, added.get_json()
        return team

    def create_person(self, name: str, email: str, admin: bool = False) -> dict[str, Any]:
        response = self.post(
            "/v1/people", json={"name": name, "primary_email": email, "admin": admin}
        )
        assert response.status_code == 201, response.get_json()
        person: dict[str, Any] = response.get_json()
        return person


def links(response: TestResponse) -> dict[str, dict[str, str]]:
    """``{rel: query parameters}`` of a list's Link header, checking its exact form."""
    out = {}
    for part in response.headers["Link"].split(", "):
        match = re.fullmatch(r'<(http://localhost/[^>]+)>; rel="(first|prev|next|last)"', part)
        assert match, part
        query = urlsplit(match.group(1)).query
        out[match.group(2)] = dict(parse_qsl(query, keep_blank_values=True))
    return out


def start_beats(settings: Settings, log_dir: Path, count: int = 1) -> ProcessGroup:
    """``count`` real ``tasks-service beat`` processes on this stack, each with its own
    schedule file (as beats on separate machines have), once each has sent a sweep."""
    group = ProcessGroup(settings_env(settings), log_dir)
    for n in range(count):
        own_dir = log_dir / f"beat-{n}"
        own_dir.mkdir(exist_ok=True)
        group.env = settings_env(
            settings,
            TASKS_DATA_DIR=str(own_dir),
            TASKS_DATABASE_URL=settings.effective_database_url,
            TASKS_BROKER_URL=settings.effective_broker_url,
        )
        group.start(f"beat-{n}", "beat")
    for n in range(count):
        wait_for(
            lambda n=n: "Sending due task sweep-timers" in group.log(f"beat-{n}"),
            timeout=60,
            what=f"beat-{n} to sweep",
        )
    return group


class SmtpSink:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = message_from_bytes(envelope.content, policy=email_policy.default)
                assert isinstance(message, EmailMessage)
                sink.messages.append(message)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def to(self, address_start: str) -> list[EmailMessage]:
        return [m for m in list(self.messages) if str(m["To"]).startswith(address_start)]

    def stop(self) -> None:
        self.controller.stop()


def http_ready(base: str) -> bool:
    """Whether a service started at ``base`` answers ``/readyz``."""
    import requests

    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.RequestException:  # not listening yet, or still booting its workers
        return False
