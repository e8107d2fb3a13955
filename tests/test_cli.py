"""The ``tasks-service`` command line."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from click.testing import CliRunner

from tasks_service.cli import main
from tasks_service.db import session_scope
from tasks_service.identity import authenticate
from tasks_service.settings import Settings
from tests.helpers import CLI, ROOT, settings_env

COMMAND_PATHS = [
    [],
    ["run"],
    ["web"],
    ["worker"],
    ["beat"],
    ["db"],
    ["db", "upgrade"],
    ["account"],
    ["account", "create"],
    ["token"],
    ["token", "create"],
    ["calendars"],
    ["calendars", "recompute"],
]


def cli(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "root")
def test_help_on_every_level(path: list[str]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: main {' '.join(path)}".rstrip() in result.output


def test_account_and_token_create(settings: Settings) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    created = cli(
        settings,
        "account",
        "create",
        slug,
        "--admin-name",
        "Ops Lead",
        "--admin-email",
        "lead@ops.example",
    )
    token = created.stdout.strip().splitlines()[-1]
    again = cli(settings, "token", "create", slug, "--email", "lead@ops.example")
    second = again.stdout.strip().splitlines()[-1]
    assert token != second
    with session_scope(settings, write=False) as session:
        first_actor = authenticate(session, token, slug)
        second_actor = authenticate(session, second, slug)
    assert first_actor is not None
    assert first_actor.admin
    assert second_actor == first_actor
    duplicate = cli(
        settings,
        "account",
        "create",
        slug,
        "--admin-name",
        "X",
        "--admin-email",
        "x@x.example",
        check=False,
    )
    assert duplicate.returncode != 0
    assert "exists already" in duplicate.stderr
    unknown = cli(settings, "token", "create", slug, "--email", "nobody@x.example", check=False)
    assert unknown.returncode != 0
    assert "no person" in unknown.stderr


def test_db_upgrade_is_idempotent(settings: Settings) -> None:
    assert cli(settings, "db", "upgrade").returncode == 0


def _calendar_with_tasks(settings: Settings, account, count: int) -> tuple[int, list[int]]:
    """A 9-17 calendar, a team on it with ``count`` tasks, then new hours (13-17) whose
    recompute has not been asked for."""
    from tasks_service import calendar_store
    from tasks_service.schemas import CalendarUpdate
    from tests.tasks_service.test_targets import MONDAY_10, World, office

    world = World(settings, account)
    calendar_id = world.calendar("9-17", office())
    team = world.team("Ops", calendar_id)
    ids = [world.task(MONDAY_10, team_id=team, planned_duration=60).id for _ in range(count)]
    with session_scope(settings) as session:
        calendar_store.do_update_calendar(
            session,
            account.account_id,
            calendar_id,
            CalendarUpdate(hours=office("13:00", "17:00")["hours"]),
        )
    return calendar_id, ids


def _targets(settings: Settings, ids: list[int]) -> set[str]:
    from tasks_service.models import Task

    with session_scope(settings, write=False) as session:
        return {session.get(Task, i).completion_target_at.isoformat() for i in ids}


def test_calendars_recompute_inline_shows_progress(settings: Settings, account) -> None:
    calendar_id, ids = _calendar_with_tasks(settings, account, 3)
    assert _targets(settings, ids) == {"2026-11-23T10:00:00+00:00"}
    result = cli(settings, "calendars", "recompute", "--calendar", str(calendar_id), "--inline")
    assert "recomputed 3 open tasks" in result.stdout
    assert "recomputing targets: 3/3 (100%)" in result.stdout  # progress, as lines off a tty
    assert _targets(settings, ids) == {"2026-11-23T13:00:00+00:00"}
    missing = cli(settings, "calendars", "recompute", "--calendar", "999999", check=False)
    assert missing.returncode == 1
    assert "no calendar 999999" in missing.stderr


def test_calendars_recompute_on_the_workers(settings: Settings, account, worker, tmp_path) -> None:
    from tests.helpers import start_beats

    calendar_id, ids = _calendar_with_tasks(settings, account, 4)
    beat = start_beats(settings, tmp_path)  # its sweep hands the recompute to the workers
    try:
        result = cli(settings, "calendars", "recompute", "--calendar", str(calendar_id))
    finally:
        beat.stop_all()
    assert "recomputed 4 open tasks" in result.stdout
    assert _targets(settings, ids) == {"2026-11-23T13:00:00+00:00"}
