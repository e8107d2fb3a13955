"""``tasks-service doctor`` on both backends: a healthy stack (a real worker and beat)
exits 0; each problem gives exit 1 and its own line with its fix; secrets are masked.

Two stacks of this module's own (other tests leave dead deliveries on the shared one):
``live`` with a worker and a beat, ``quiet`` with neither (so a stale pending operation
stays stale for the doctor to see).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tasks_service.core.clock import utcnow
from tasks_service.core.settings import Settings
from tasks_service.notify.transport.signing import new_secret
from tasks_service.store import migrate
from tasks_service.store.db import session_scope
from tasks_service.store.models import Webhook
from tasks_service.store.models.operations import Operation
from tests.helpers import (
    BASE,
    CLI,
    ROOT,
    ProcessGroup,
    make_account,
    postgres_database,
    settings_env,
    start_beats,
)
from tests.helpers.deliveries import dead_deliveries


def _fresh(settings: Settings, data_dir: Path, *, migrated: bool = True) -> Iterator[Settings]:
    """A stack like ``settings`` on its own database (and broker prefix)."""
    if settings.database_url is None:
        stack = settings.model_copy(update={"data_dir": data_dir})
        if migrated:
            migrate.upgrade(stack)
        yield stack
        return
    for url in postgres_database(BASE.test_database_url):
        prefix = f"doctor-{uuid.uuid4().hex[:8]}:"
        stack = settings.model_copy(update={"database_url": url, "broker_prefix": prefix})
        if migrated:
            migrate.upgrade(stack)
        yield stack


@pytest.fixture(scope="module")
def live(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    for stack in _fresh(settings, tmp_path_factory.mktemp("doctor-live")):
        logs = tmp_path_factory.mktemp("doctor-logs")
        workers = ProcessGroup(settings_env(stack), logs)
        workers.start_worker("worker", concurrency=1)
        beats = start_beats(stack, logs)
        try:
            yield stack
        finally:
            beats.stop_all()
            workers.stop_all()


@pytest.fixture(scope="module")
def quiet(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from _fresh(settings, tmp_path_factory.mktemp("doctor-quiet"))


def doctor(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "doctor", *args],
        env=settings_env(settings, **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def problems(ran: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in ran.stdout.splitlines() if line.startswith("PROBLEM")]


def test_a_healthy_stack_exits_0(live: Settings) -> None:
    ran = doctor(live)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert problems(ran) == []
    assert ran.stdout.rstrip().endswith("checks ok")
    body = json.loads(doctor(live, "--json").stdout)
    assert body["ok"] is True
    assert {c["name"] for c in body["checks"]} >= {"database", "broker", "beat", "workers"}


def test_no_worker_and_no_beat_are_problems_with_their_fix(quiet: Settings) -> None:
    ran = doctor(quiet)
    assert ran.returncode == 1
    lines = problems(ran)
    assert any(
        "beat:" in line and "start `tasks-service beat` (or `run`)" in line for line in lines
    )
    assert any("workers:" in line and "start `tasks-service worker`" in line for line in lines)


def test_dead_deliveries_and_disabled_webhooks(quiet: Settings) -> None:
    account = make_account(quiet)
    with session_scope(quiet) as session:
        hook = Webhook(
            account_id=account.account_id,
            uri="http://127.0.0.1:9/hooks",
            events=["task.alert"],
            secret=new_secret(),
            disabled=True,
            disabled_reason="failing for a day",
        )
        session.add(hook)
        session.flush()
        hook_id = hook.id or 0
    dead_deliveries(quiet, account, hook_id, count=3)
    ran = doctor(quiet)
    assert ran.returncode == 1
    lines = problems(ran)
    assert any(
        f"3 dead deliveries in account {account.slug}" in line
        and f"`tasks-service timers retry-dead {account.slug}` once the receiver is back" in line
        for line in lines
    ), lines
    assert any(
        f"webhook {hook_id} in account {account.slug} is disabled (failing for a day)" in line
        and "->" in line
        for line in lines
    ), lines


def test_a_stale_pending_operation(quiet: Settings) -> None:
    account = make_account(quiet)
    long_ago = utcnow() - timedelta(seconds=quiet.recovery_after * 10)
    with session_scope(quiet) as session:
        session.add(
            Operation(
                account_id=account.account_id,
                kind="task.update",
                created_at=long_ago,
                updated_at=long_ago,
            )
        )
    lines = problems(doctor(quiet))
    assert any(
        "operations:" in line and "pending operations older than" in line and "->" in line
        for line in lines
    ), lines


def test_an_unmigrated_database(settings: Settings, tmp_path: Path) -> None:
    for bare in _fresh(settings, tmp_path, migrated=False):
        ran = doctor(bare)
        assert ran.returncode == 1
        assert any(
            "database:" in line and "not migrated" in line and "`tasks-service db upgrade`" in line
            for line in problems(ran)
        ), ran.stdout


def test_an_unreachable_broker(quiet: Settings) -> None:
    ran = doctor(quiet, TASKS_BROKER_URL="redis://:s3cret-pw@127.0.0.1:1/0")
    assert ran.returncode == 1
    assert any(
        "broker:" in line and "cannot reach" in line and "TASKS_BROKER_URL" in line
        for line in problems(ran)
    ), ran.stdout
    assert "s3cret-pw" not in ran.stdout + ran.stderr


def test_an_unreachable_database_is_a_line_not_a_traceback(quiet: Settings) -> None:
    url = "postgresql+psycopg://postgres:db-pw-123@127.0.0.1:1/nowhere"
    ran = doctor(quiet, TASKS_DATABASE_URL=url)
    assert ran.returncode == 1
    assert "Traceback" not in ran.stderr
    assert any(
        "database:" in line and "cannot reach" in line and "TASKS_DATABASE_URL" in line
        for line in problems(ran)
    ), ran.stdout
    assert "db-pw-123" not in ran.stdout + ran.stderr


def test_secrets_are_masked(quiet: Settings) -> None:
    ran = doctor(quiet, TASKS_SMTP_PASSWORD="smtp-pw-456", TASKS_SMTP_USERNAME="mailer")
    assert "smtp-pw-456" not in ran.stdout
    assert "smtp_password = ***" in ran.stdout
    assert "smtp_username = mailer" in ran.stdout
