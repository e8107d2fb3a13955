"""A worker killed with SIGKILL mid-way loses nothing and doubles nothing.

The stack here has its own broker (so the suite's shared worker does not take the
messages), a short recovery delay, and a beat process running the recovery sweep.
"""

from __future__ import annotations

import pytest
from sqlmodel import col, func, select

from tasks_service.core.settings import Settings
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation, Task, TaskEvent
from tests.helpers import AccountInfo, Api, ProcessGroup, settings_env, wait_for, with_own_broker
from web.app import create_app

COMMANDS = 200


@pytest.fixture
def crash_stack(settings: Settings, tmp_path) -> tuple[Settings, ProcessGroup]:
    own = with_own_broker(settings, tmp_path, "crash", recovery_after=2.0, recovery_interval=1.0)
    group = ProcessGroup(settings_env(own), tmp_path)
    yield own, group
    group.stop_all()


def _counts(settings: Settings, account_id: int) -> dict[str, int]:
    with session_scope(settings, write=False) as session:
        rows = session.exec(
            select(Operation.status, func.count())
            .where(Operation.account_id == account_id)
            .group_by(Operation.status)
        ).all()
    return dict(rows)


def test_sigkill_mid_way_loses_and_doubles_nothing(crash_stack, account: AccountInfo) -> None:
    settings, group = crash_stack
    api = Api(create_app(settings).test_client(), account.token, account.slug)
    for i in range(COMMANDS):
        response = api.post(
            "/v1/tasks",
            json={"subject": f"crash-{i}", "category": "implementation"},
            headers={"Prefer": "respond-async"},
        )
        assert response.status_code == 202
    assert _counts(settings, account.account_id) == {"pending": COMMANDS}

    group.start_worker("worker-1", concurrency=2)
    wait_for(
        lambda: _counts(settings, account.account_id).get("succeeded", 0) >= 20,
        timeout=60,
        interval=0.01,
    )
    group.kill("worker-1")
    at_kill = _counts(settings, account.account_id)
    assert at_kill.get("succeeded", 0) < COMMANDS, "the worker finished before it could be killed"

    group.start_worker("worker-2", concurrency=2)
    group.start("beat", "beat")
    wait_for(
        lambda: _counts(settings, account.account_id) == {"succeeded": COMMANDS},
        timeout=120,
        what="all 200 applied",
    )

    with session_scope(settings, write=False) as session:
        subjects = session.exec(
            select(Task.subject).where(Task.account_id == account.account_id)
        ).all()
        created_events = session.exec(
            select(func.count())
            .select_from(TaskEvent)
            .where(TaskEvent.account_id == account.account_id, TaskEvent.action == "created")
        ).one()
        attempts = session.exec(
            select(Operation.attempts).where(Operation.account_id == account.account_id)
        ).all()
        linked = session.exec(
            select(func.count(func.distinct(TaskEvent.operation_id))).where(
                TaskEvent.account_id == account.account_id, col(TaskEvent.operation_id).is_not(None)
            )
        ).one()
    assert sorted(subjects) == sorted(
        f"crash-{i}" for i in range(COMMANDS)
    )  # none lost, none doubled
    assert created_events == COMMANDS == linked
    assert set(attempts) == {1}  # each applied once: a killed attempt left no trace
