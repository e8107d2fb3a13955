"""Real role processes for tests: the environment that gives a child exactly some
settings, ``tasks-service worker``/``beat`` processes that a test can kill, and ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from tasks_service.core.settings import Settings
from tasks_service.store import heartbeats
from tasks_service.store.db import session_scope
from tasks_service.store.models.operations import Heartbeat
from tests.helpers.waiting import wait_for

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
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
        pid = group.processes[f"beat-{n}"].pid
        first = wait_for(partial(_beat_at, settings, pid), timeout=60, what=f"beat-{n}")
        # Each tick sends what is due, then beats: a beat two sweep intervals after the
        # first is a tick that has sent the timer sweep (beat logs it at DEBUG only).
        swept = first + timedelta(seconds=2 * settings.timer_sweep_interval)
        wait_for(partial(_beaten_by, settings, pid, swept), timeout=60, what=f"beat-{n} to sweep")
    return group


def _beaten_by(settings: Settings, pid: int, moment: datetime) -> bool:
    last = _beat_at(settings, pid)
    return last is not None and last >= moment


def _beat_at(settings: Settings, pid: int) -> datetime | None:
    """The last heartbeat of the beat process ``pid`` (``workers.liveness``), if any."""
    name = f"beat-{pid}@{socket.gethostname()}"
    with session_scope(settings, write=False) as session:
        row = session.get(Heartbeat, (heartbeats.SCHEDULER, name))
        return None if row is None else row.beat_at


def http_ready(base: str) -> bool:
    """Whether a service started at ``base`` answers ``/readyz``."""
    import requests

    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.RequestException:  # not listening yet, or still booting its workers
        return False
