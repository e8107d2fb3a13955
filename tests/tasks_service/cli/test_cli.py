"""The ``tasks-service`` command line."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from click.testing import CliRunner

from tasks_service.cli.main import main
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import DeliveryState
from tasks_service.identity.accounts import authenticate
from tasks_service.notify.transport.signing import new_secret
from tasks_service.schedule import calendar_store
from tasks_service.store.db import session_scope
from tasks_service.store.models import Account, Delivery, Task, Webhook
from tasks_service.store.schemas.calendars import CalendarUpdate
from tests.helpers import CLI, MONDAY_10, ROOT, World, office, settings_env, start_beats
from tests.helpers.deliveries import dead_deliveries

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
    ["escalation-policies"],
    ["escalation-policies", "list"],
    ["escalation-policies", "create"],
    ["escalation-policies", "update"],
    ["timers"],
    ["timers", "status"],
    ["timers", "retry-dead"],
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
    """A 9-17 calendar, a team on it with ``count`` tasks, then new hours (13-17); the
    recompute that change requested is withdrawn, so the targets move only when the
    command recomputes them."""
    world = World(settings, account)
    calendar_id = world.calendar("9-17", office())
    team = world.team("Ops", calendar_id)
    ids = [world.task(MONDAY_10, team_id=team, planned_duration=60).id for _ in range(count)]
    with session_scope(settings) as session:
        _row, requested = calendar_store.do_update_calendar(
            session,
            account.account_id,
            calendar_id,
            CalendarUpdate(hours=office("13:00", "17:00")["hours"]),
        )
        session.delete(requested)
    return calendar_id, ids


def _targets(settings: Settings, ids: list[int]) -> set[str]:
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
    calendar_id, ids = _calendar_with_tasks(settings, account, 4)
    beat = start_beats(settings, tmp_path)  # its sweep hands the recompute to the workers
    try:
        result = cli(settings, "calendars", "recompute", "--calendar", str(calendar_id))
    finally:
        beat.stop_all()
    assert "recomputed 4 open tasks" in result.stdout
    assert _targets(settings, ids) == {"2026-11-23T13:00:00+00:00"}


def test_escalation_policies_from_the_command_line(settings: Settings, account, tmp_path) -> None:
    body = tmp_path / "policy.json"
    body.write_text(json.dumps({"name": "Night", "levels": [{"offset_minutes": -30}]}))
    created = json.loads(
        cli(settings, "escalation-policies", "create", account.slug, str(body), "--default").stdout
    )
    assert (created["name"], created["levels"][0]["offset_minutes"]) == ("Night", -30)
    with session_scope(settings, write=False) as session:
        assert session.get(Account, account.account_id).escalation_policy_id == created["id"]
    listed = json.loads(cli(settings, "escalation-policies", "list", account.slug).stdout)
    assert [p["id"] for p in listed] == [created["id"]]
    # a body from stdin; a bad level is refused, naming the field, and changes nothing
    bad = subprocess.run(
        [*CLI, "escalation-policies", "update", account.slug, str(created["id"]), "-"],
        input=json.dumps({"levels": [{"percent": 0}]}),
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "levels.0.percent:" in bad.stderr
    again = json.loads(cli(settings, "escalation-policies", "list", account.slug).stdout)
    assert again == listed
    body.write_text("{not json")
    broken = cli(settings, "escalation-policies", "create", account.slug, str(body), check=False)
    assert (broken.returncode, "not JSON" in broken.stderr) == (1, True)
    body.write_text(json.dumps({"levels": [{"offset_minutes": 5}]}))
    changed = json.loads(
        cli(
            settings, "escalation-policies", "update", account.slug, str(created["id"]), str(body)
        ).stdout
    )
    assert changed["levels"][0]["offset_minutes"] == 5
    missing = cli(settings, "escalation-policies", "list", "no-such-account", check=False)
    assert missing.returncode == 1
    assert "no account" in missing.stderr


def test_timers_status_and_dead_deliveries_sent_again(settings: Settings, account) -> None:
    with session_scope(settings) as session:
        hook = Webhook(
            account_id=account.account_id,
            uri="http://127.0.0.1:9/hooks",
            events=["task.alert"],
            secret=new_secret(),
        )
        session.add(hook)
        session.flush()
        hook_id = hook.id or 0
    dead_ids = dead_deliveries(settings, account, hook_id, count=2)
    report = cli(settings, "timers", "status").stdout
    assert report.splitlines()[0].split()[:3] == ["timers", "pending", "due"]
    webhook_row = next(line for line in report.splitlines() if line.startswith("webhook"))
    assert int(webhook_row.split()[-1].replace(",", "")) >= 2  # the dead column
    sent = cli(settings, "timers", "retry-dead", account.slug, "--webhook", str(hook_id))
    assert "2 dead deliveries are pending again" in sent.stdout
    with session_scope(settings, write=False) as session:
        states = {
            session.get(Delivery, i).state: session.get(Delivery, i).attempts for i in dead_ids
        }
    assert states == {DeliveryState.pending: 0}
