"""Helpers shared by the benchmarks: a stack per backend, the processes' environment
(with logs and metrics off or on: ``observability_env``), starting them."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import sqlalchemy

from tasks_service.core.settings import Settings
from tasks_service.store.db import reset_engines

ROOT = Path(__file__).resolve().parent.parent


#: The observability settings ``--observability compare`` sets side by side
#: (``benchmarks.overhead``).
OFF, ON = "off", "on"


def observability_env(mode: str) -> dict[str, str]:
    """The environment of logs and metrics ``off`` (no per-request or per-operation
    line: only warnings are written; nothing counted, no metrics endpoint) or ``on`` (as
    in production: INFO lines as JSON, metrics, the worker's own metrics endpoint on a
    free port)."""
    if mode == OFF:
        return {"TASKS_METRICS": "false", "TASKS_LOG_LEVEL": "WARNING"}
    if mode == ON:
        return {
            "TASKS_METRICS": "true",
            "TASKS_LOG_LEVEL": "INFO",
            "TASKS_LOG_FORMAT": "json",
            "TASKS_WORKER_METRICS_PORT": str(free_port()),
        }
    raise ValueError(f"observability is {OFF!r} or {ON!r}, not {mode!r}")


def process_env(settings: Settings, observability: str | None = None) -> dict[str, str]:
    """The roles' environment: ``settings``' stack, logs at WARNING (metrics as their
    default) unless ``observability`` says ``off`` or ``on``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKS_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each role makes its own
    env.update(
        TASKS_ENV="production",
        TASKS_LOG_LEVEL="WARNING",
        TASKS_DATA_DIR=str(settings.resolved_data_dir),
        PYTHONPATH=str(ROOT),
    )
    if observability is not None:
        env.update(observability_env(observability))
    if settings.database_url:
        env["TASKS_DATABASE_URL"] = settings.database_url
    if settings.broker_url:
        env["TASKS_BROKER_URL"] = settings.broker_url
        env["TASKS_BROKER_PREFIX"] = settings.broker_prefix
    return env


def spawn(
    argv: list[str], env: dict[str, str], log: Path | None = None, **options: Any
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in the repository; its stdout and stderr appended to the file
    ``log`` (as a production supervisor keeps a role's lines), or discarded."""
    if log is None:
        return subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **options,
        )
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, **options
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def stack(backend: str, workdir: Path) -> tuple[Settings, Callable[[], None]]:
    """Settings of a fresh stack (a new PostgreSQL database, or SQLite files in
    ``workdir``) and the function that drops it."""
    if backend == "sqlite":
        settings = Settings(database_url=None, broker_url=None, data_dir=workdir)
        return settings, lambda: None
    base = Settings()
    url = sqlalchemy.make_url(base.test_database_url)
    name = f"tasks_bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    settings = Settings(
        database_url=url.set(database=name).render_as_string(hide_password=False),
        broker_url=base.test_broker_url,
        broker_prefix=f"bench-{uuid.uuid4().hex[:6]}:",
        data_dir=workdir,
    )

    def drop() -> None:
        reset_engines()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return settings, drop


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Terminate the processes, then wait for each (killed after 20 s)."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
