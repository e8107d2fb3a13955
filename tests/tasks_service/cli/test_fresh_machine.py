"""A newcomer's first commands, through the real ``tasks-service`` entry point: a brand-new
data dir (the embedded default migrates itself), a PostgreSQL database nobody migrated
and one that cannot be reached (one line naming the fix, exit 1, never a traceback)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tasks_service import people, tasks
from tasks_service.core.errors import DatabaseUnreachable, NotFound, SchemaNotMigrated, TaskError
from tasks_service.core.settings import Settings
from tasks_service.store import migrate
from tests.helpers import BASE, ROOT, free_port, postgres_database

#: The installed console script (what a user types), else the module.
ENTRY = (
    [str(Path(sys.executable).with_name("tasks-service"))]
    if Path(sys.executable).with_name("tasks-service").exists()
    else [sys.executable, "-m", "tasks_service.cli"]
)

ADMIN = ["--admin-name", "Ops Lead", "--admin-email", "lead@acme.example"]


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ENTRY, *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def fresh_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKS_")}
    env["TASKS_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        env["TASKS_DATABASE_URL"] = database_url
    return env


def tables(db_file: Path) -> set[str]:
    with sqlite3.connect(db_file) as connection:
        rows = connection.execute("select name from sqlite_master where type = 'table'")
        return {row[0] for row in rows}


#: Each command a newcomer may type first, with what it prints on success (stdout).
FIRST_COMMANDS = {
    "account create": (["account", "create", "acme", *ADMIN], "Created account 'acme'"),
    "timers status": (["timers", "status"], "timers"),
    "calendars recompute --inline": (["calendars", "recompute", "--inline"], "recomputed 0"),
}

#: Commands naming an account that a brand-new data dir does not have: one line.
UNKNOWN_ACCOUNT = {
    "token create": ["token", "create", "nope", "--email", "lead@acme.example"],
    "timers retry-dead": ["timers", "retry-dead", "nope"],
    "escalation-policies list": ["escalation-policies", "list", "nope"],
    "escalation-policies create": ["escalation-policies", "create", "nope", "-"],
}


@pytest.mark.parametrize("name", FIRST_COMMANDS)
def test_a_first_command_in_an_empty_data_dir_migrates_and_works(tmp_path, name) -> None:
    args, expected = FIRST_COMMANDS[name]
    result = run(fresh_env(tmp_path / "var"), *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert expected in result.stdout
    assert {"task", "account", "alembic_version"} <= tables(tmp_path / "var" / "tasks.db")


@pytest.mark.parametrize("name", UNKNOWN_ACCOUNT)
def test_an_unknown_account_is_one_line(tmp_path, name) -> None:
    result = run(fresh_env(tmp_path / "var"), *UNKNOWN_ACCOUNT[name], stdin='{"name": "x"}')
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["Error: no account 'nope'"]
    assert "task" in tables(tmp_path / "var" / "tasks.db")  # migrated all the same


def test_user_caused_failures_are_one_line_and_debug_shows_the_traceback(tmp_path) -> None:
    env = fresh_env(tmp_path / "var")
    assert run(env, "account", "create", "acme", *ADMIN).returncode == 0
    cases = {
        ("token", "create", "acme", "--email", "nobody@acme.example"): (
            "Error: no person with email nobody@acme.example in 'acme'"
        ),
        ("timers", "retry-dead", "acme", "--webhook", "999"): "Error: no webhook 999",
        ("calendars", "recompute", "--calendar", "999"): "Error: no calendar 999",
        ("account", "create", "acme", *ADMIN): "Error: account 'acme' exists already",
    }
    for args, line in cases.items():
        result = run(env, *args)
        assert result.returncode == 1, (args, result.stdout)
        assert result.stderr.strip().splitlines() == [line], args
    bad_json = run(env, "escalation-policies", "create", "acme", "-", stdin="{nope")
    assert bad_json.returncode == 1
    assert bad_json.stderr.startswith("Error: the body is not JSON")
    assert "Traceback" not in bad_json.stderr
    debug = run(env, "--debug", "timers", "retry-dead", "acme", "--webhook", "999")
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    assert "NotFound: no webhook 999" in debug.stderr


def test_recompute_says_it_waits_for_the_workers(tmp_path) -> None:
    env = fresh_env(tmp_path / "var")
    assert run(env, "account", "create", "acme", *ADMIN).returncode == 0
    result = run(env, "calendars", "recompute", "--timeout", "1")  # no workers running
    assert result.returncode == 1
    assert "waiting for the workers to recompute" in result.stdout
    assert "did not finish within 1s" in result.stderr
    assert "--inline" in result.stderr
    assert "Traceback" not in result.stderr
    help_text = run(env, "calendars", "recompute", "--help").stdout
    assert "--timeout" in help_text
    assert "3600" in help_text


@pytest.fixture
def unmigrated_postgres() -> Iterator[str]:
    yield from postgres_database(BASE.test_database_url)


def test_postgres_not_migrated_names_db_upgrade(tmp_path, unmigrated_postgres) -> None:
    env = fresh_env(tmp_path / "var", unmigrated_postgres)
    for args in (
        ["timers", "status"],
        ["account", "create", "acme", *ADMIN],
        ["escalation-policies", "list", "acme"],
        ["token", "create", "acme", "--email", "lead@acme.example"],
    ):
        result = run(env, *args)
        assert result.returncode == 1, args
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("Error: the database ")
        assert "is not migrated" in line
        assert line.endswith("run `tasks-service db upgrade`")
    settings = Settings(data_dir=tmp_path / "var", database_url=unmigrated_postgres)
    with pytest.raises(SchemaNotMigrated) as info, tasks.account("demo", settings=settings):
        pass
    assert isinstance(info.value, TaskError)
    # nothing was created by the refusals; once migrated, the same command works
    assert migrate.current_revision(settings) is None
    assert run(env, "db", "upgrade").returncode == 0
    assert run(env, "account", "create", "acme", *ADMIN).returncode == 0


def test_an_unreachable_database_is_one_line(tmp_path) -> None:
    port = free_port()
    url = make_url(BASE.test_database_url).set(port=port).render_as_string(hide_password=False)
    env = fresh_env(tmp_path / "var", url)
    for args in (["timers", "status"], ["db", "upgrade"], ["account", "create", "a", *ADMIN]):
        result = run(env, *args)
        assert result.returncode == 1, args
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"Error: cannot reach the database 127.0.0.1:{port}/"), line
    settings = Settings(data_dir=tmp_path / "var", database_url=url)
    with pytest.raises(DatabaseUnreachable), tasks.account("demo", settings=settings):
        pass


def test_python_api_creates_an_account_and_names_an_unknown_one(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "var")  # brand new: migrated by the call
    created = tasks.create_account(
        "acme", admin_name="Ops Lead", admin_email="lead@acme.example", settings=settings
    )
    assert created.admin.admin
    assert created.token.startswith("tsk_")
    with tasks.account("acme", settings=settings):
        assert people.get_service_user() == created.admin
        ops = people.create_team("Ops", members=(created.admin,))
        assert next(people.list_teams(name="Ops")) == ops
    with pytest.raises(NotFound) as info, tasks.account("nope", settings=settings):
        pass
    assert "'nope'" in str(info.value)
