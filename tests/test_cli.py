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
