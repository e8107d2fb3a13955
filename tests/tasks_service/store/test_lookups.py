"""The account-scoped look-ups: another account's row is not there (None, the
resource's not-found error, a 422 naming the field), ids beyond any column are nobody's,
and reads never wait for a row lock."""

from __future__ import annotations

import threading
import time

import pytest

from tasks_service import policies, tasks
from tasks_service.core.errors import NotFound, TaskNotFound, TaskValidationError
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Person, Task, Team
from tests.helpers import World, make_account, utc


def test_another_accounts_row_is_not_there(world: World, settings) -> None:
    task = world.task(utc(2026, 11, 23, 9))
    other = make_account(settings)
    with session_scope(settings) as session:
        assert lookups.find(session, Task, world.account.account_id, task.id).id == task.id
        assert lookups.find(session, Task, other.account_id, task.id) is None
        with pytest.raises(TaskNotFound, match=f"no task {task.id}"):
            lookups.get(session, Task, other.account_id, task.id)
        with pytest.raises(TaskNotFound):
            lookups.lock(session, Task, other.account_id, task.id)
        with pytest.raises(NotFound, match=f"no person {world.account.admin_id}") as info:
            lookups.get(session, Person, other.account_id, world.account.admin_id)
        assert not isinstance(info.value, TaskNotFound)  # a person is not a task


def test_a_reference_to_nothing_names_its_field(world: World, settings) -> None:
    team = world.team("Ops")
    other = make_account(settings)
    with session_scope(settings) as session:
        lookups.check_ref(session, Team, world.account.account_id, team, "team_id")
        lookups.check_ref(session, Team, other.account_id, None, "team_id")  # names nothing
        with pytest.raises(TaskValidationError) as info:
            lookups.check_ref(session, Team, other.account_id, team, "team_id")
    assert info.value.errors == [
        {"field": "team_id", "code": "not_found", "message": f"no team {team}"}
    ]


@pytest.mark.parametrize("row_id", [0, -1, 2**31, 10**12])
def test_ids_beyond_any_column_are_nobodys(world: World, settings, row_id: int) -> None:
    with session_scope(settings, write=False) as session:
        assert lookups.find(session, Task, world.account.account_id, row_id) is None


def test_reads_do_not_wait_for_a_row_lock(world: World, settings) -> None:
    """A task held by a writer (a command applying to it) can still be read: through the
    Python API, its snapshot and its escalations come at once."""
    task = world.task(utc(2026, 11, 23, 9))
    holding, done = threading.Event(), threading.Event()

    def writer() -> None:
        with session_scope(settings) as session:
            lookups.lock(session, Task, world.account.account_id, task.id)
            holding.set()
            done.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with tasks.account(world.account.slug, settings=settings):
            assert tasks.get_task(task.id).id == task.id
            assert policies.get_task_escalations(task.id) == []
        assert time.monotonic() - started < 2.0
    finally:
        done.set()
        thread.join(10)
