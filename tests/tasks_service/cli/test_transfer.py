"""``tasks-service tasks export`` and ``import`` on both backends: 10,000 tasks from one
account to another and back out the same (CSV in, JSON out, and the JSON again:
already there), idempotency by source + sourceID, and refusals naming their row, line
and field, with nothing refused applied.

The command runs in this process (click's runner, with exactly the stack's settings in
the environment): what is timed is the work, not a fresh interpreter's start."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, insert
from sqlmodel import col, select

from tasks_service.cli.main import main
from tasks_service.core.settings import Settings, get_settings
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation, Task, TaskEvent, TaskLabel, Timer
from tasks_service.transfer import IGNORED, import_tasks
from tests.helpers import AccountInfo, World, make_account, settings_env, wait_for
from workers.app import Submitter

ROUND_TRIP = 10_000


def tasks_cli(settings: Settings, *args: str) -> Result:
    """``tasks-service tasks ...`` in this process, seeing exactly the stack's settings."""
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("TASKS_")}
    env |= settings_env(settings)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, ["tasks", *args], env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def timed(settings: Settings, *args: str) -> tuple[Result, float]:
    """``tasks_cli``, checked to succeed; with how long it took."""
    started = time.monotonic()
    result = tasks_cli(settings, *args)
    assert result.exit_code == 0, result.output[-3000:]
    return result, time.monotonic() - started


def _varied(account: AccountInfo, i: int) -> dict[str, Any]:
    """Task ``i`` of the round trip: every kind of field a create takes, CSV's hard
    cases in its texts (commas, quotes, new lines, accents), some with labels."""
    approval = i % 7 == 0
    statuses = ["registered", "in_progress", "completed", "canceled", "accepted"]
    status = ("registered", "approved")[i % 2] if approval else statuses[i % 5]
    soon = datetime(2031, 1, 1, 9, tzinfo=UTC) + timedelta(hours=i)
    return {
        "account_id": account.account_id,
        "created_by_id": account.admin_id,
        "subject": f'Task {i}: "quoted", comma, ünïcödé',
        "category": "approval" if approval else ("implementation", "automation")[i % 2],
        "impact": [None, "none", "low", "medium", "high", "top"][i % 6],
        "status": status,
        "instructions": f"first line\nsecond line, {i}" if i % 3 else None,
        "planned_duration": 30 + i % 900 if i % 4 else None,
        "planned_effort": i % 120 or None,
        "urgent": i % 11 == 0,
        "work_hours_are_24x7": i % 13 == 0,
        "source": "legacy" if i % 17 else "other",
        "source_id": f"L-{i:05d}",
        "custom_fields": {"n": i, "nested": {"tags": ["a", "b"]}} if i % 4 == 0 else None,
        "start_at": soon if i % 19 == 0 and status == "registered" else None,
        "due_at": soon + timedelta(days=3) if i % 2 else None,
        "alert_at": soon + timedelta(days=1) if i % 5 == 0 else None,
        "required_approvals": 1 + i % 3 if approval else 1,
        "completion_rule": "any_assignee" if i % 23 == 0 and not approval else None,
        "item_id": f"file-{i}" if i % 29 == 0 else None,
        "casefile_id": 1000 + i if i % 6 == 0 else None,
        "subject_id": 2000 + i if i % 8 == 0 else None,
        "case_service_id": 3 if i % 9 == 0 else None,
        "address": {"address_1": "2000 Blake Street", "city": "Denver", "zip": 80202}
        if i % 10 == 0
        else None,
    }


def _seed(settings: Settings, account: AccountInfo, count: int) -> None:
    """The first account's tasks, written straight into the tables (what an export
    reads is what is stored; how it got there is beside the point here)."""
    rows = [_varied(account, i) for i in range(count)]
    with session_scope(settings) as session:
        session.execute(insert(Task.__table__), rows)  # one executemany, no ORM
        mine = select(Task.id).where(Task.account_id == account.account_id)
        ids = session.exec(mine.order_by(col(Task.id))).all()
        labels = [
            {"task_id": task_id, "name": name}
            for i, task_id in enumerate(ids)
            if i % 10 == 0
            for name in (f"group {i % 3}", "net:edge")
        ]
        session.execute(insert(TaskLabel), labels)


def _carried(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What an import carries over, in source order: every field a client writes."""
    return [{k: v for k, v in item.items() if k not in IGNORED} for item in items]


@pytest.mark.slow
def test_round_trip_of_ten_thousand_tasks(
    settings: Settings, account: AccountInfo, tmp_path: Path, record_property
) -> None:
    _seed(settings, account, ROUND_TRIP)
    other = make_account(settings, "target")
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    as_csv = tmp_path / "first.csv"
    done, exported = timed(settings, "export", account.slug, "-o", str(first))
    assert f"exporting: {ROUND_TRIP}/{ROUND_TRIP}" in done.stderr  # progress, off a terminal
    timed(settings, "export", account.slug, "-o", str(as_csv))
    done, imported = timed(settings, "import", other.slug, str(as_csv))
    assert done.stdout.splitlines()[0] == (
        f"{ROUND_TRIP} rows: {ROUND_TRIP} created, 0 already there, 0 refused"
    )
    _done, again = timed(settings, "export", other.slug, "-o", str(second))
    source, copy = json.loads(first.read_text()), json.loads(second.read_text())
    assert len(source) == len(copy) == ROUND_TRIP
    assert _carried(copy) == _carried(source)
    assert {task["created_by"]["id"] for task in copy} == {other.admin_id}
    # the JSON file into the same account: every task is there already
    done, _seconds = timed(settings, "import", other.slug, str(first))
    assert done.stdout.splitlines()[0] == (
        f"{ROUND_TRIP} rows: 0 created, {ROUND_TRIP} already there, 0 refused"
    )
    with session_scope(settings, write=False) as session:
        count = select(func.count()).select_from(Task).where(Task.account_id == other.account_id)
        assert session.exec(count).one() == ROUND_TRIP
    total = exported + imported + again
    record_property("round_trip_seconds", round(total, 1))
    print(
        f"\n{(settings.database_url and 'postgres') or 'sqlite'}: export {exported:.1f}s,"
        f" import {imported:.1f}s, export {again:.1f}s ({total:.1f}s for {ROUND_TRIP})"
    )


def test_export_takes_the_list_filters(settings: Settings, account: AccountInfo) -> None:
    _seed(settings, account, 60)
    result = tasks_cli(
        settings,
        "export",
        account.slug,
        "--query",
        "status=completed&sort=-id",
        "--query",
        "fields=subject,sourceID,labels",
    )
    assert result.exit_code == 0, result.stderr
    items = json.loads(result.stdout)
    assert len(items) == 10  # 60 tasks, one in six completed (_varied)
    assert [set(item) for item in items] == [{"id", "subject", "sourceID", "labels"}] * 10
    assert [item["id"] for item in items] == sorted((item["id"] for item in items), reverse=True)
    as_csv = tasks_cli(settings, "export", account.slug, "--format", "csv", "--query", "id=<0")
    assert as_csv.stdout.splitlines()[0].split(",")[:6] == [
        "id",
        "subject",
        "category",
        "impact",
        "status",
        "team_id",
    ]
    refused = tasks_cli(settings, "export", account.slug, "--query", "colour=red")
    assert refused.exit_code == 1
    assert "colour: filtering is not allowed" in refused.stderr
    paged = tasks_cli(settings, "export", account.slug, "--query", "page=2")
    assert (paged.exit_code, "page: an export walks every page" in paged.stderr) == (1, True)


def _import(settings: Settings, slug: str, path: Path, *more: str) -> tuple[Result, list[str]]:
    result = tasks_cli(settings, "import", slug, str(path), *more)
    return result, result.stdout.splitlines()


def _tasks_of(settings: Settings, account: AccountInfo) -> list[Task]:
    with session_scope(settings, write=False) as session:
        query = select(Task).where(Task.account_id == account.account_id).order_by(col(Task.id))
        return list(session.exec(query))


def test_json_import_refuses_rows_by_row_and_field_and_applies_none_of_them(
    settings: Settings, account: AccountInfo, tmp_path: Path
) -> None:
    team = World(settings, account).team("Ops")
    rows: list[Any] = [
        {
            "subject": "Good",
            "category": "implementation",
            "team": {"id": team, "name": "Ops"},
            "source": "crm",
            "sourceID": "1",
            "labels": ["kept"],
            "due_at": "2031-01-01T00:00:00Z",
        },
        {"subject": "Bad status", "category": "implementation", "status": "bogus", "sourceID": "2"},
        {
            "subject": "Unknown team",
            "category": "implementation",
            "team_id": 999999,
            "source": "crm",
            "sourceID": "3",
            "alert_at": "2031-01-01T00:00:00Z",
        },
        {
            "subject": "Approved work",
            "category": "implementation",
            "status": "approved",
            "source": "crm",
            "sourceID": "4",
            "labels": ["never"],
        },
        {
            "task": {
                "title": "Trackops' own",
                "due_on": "2031-02-03",
                "users_list": [account.admin_id],
                "source": "crm",
                "sourceID": "5",
            }
        },
        42,
        {"subject": "No key", "category": "automation", "member": {"id": account.admin_id}},
        {"subject": "Good, again", "category": "implementation", "source": "crm", "sourceID": "1"},
        {
            "subject": "Readonly left out",
            "category": "implementation",
            "id": 5,
            "created_at": "2020-01-01T00:00:00Z",
            "completion_target_at": None,
            "calendar": None,
            "source": "crm",
            "sourceID": "6",
            "colour": "red",
        },
    ]
    path = tmp_path / "tasks.json"
    path.write_text("[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n")
    result, lines = _import(settings, account.slug, path, "--chunk-size", "3")
    assert result.exit_code == 1
    assert lines[0] == (
        "9 rows: 3 created, 1 already there, 5 refused"
        " (1 created without a sourceID: importing the file again creates them again)"
    )
    assert lines[1].startswith("row 2 (line 3): status: ")
    assert lines[2] == "row 3 (line 4): team_id: not_found: no team 999999"
    assert lines[3].startswith("row 4 (line 5): status: invalid_for_category: ")
    assert lines[4] == "row 6 (line 7): body: invalid_type: expected an object"
    assert lines[5] == "row 9 (line 10): colour: unknown_field: is not a field of this resource"
    made = _tasks_of(settings, account)
    assert [(t.subject, t.team_id, t.member_id) for t in made] == [
        ("Good", team, None),
        ("Trackops' own", None, None),
        ("No key", None, account.admin_id),
    ]
    assert made[1].assignee_count == 1
    assert made[1].due_at is not None
    # nothing of the refused was written: not the alert of row 3, not the label of row 4
    with session_scope(settings, write=False) as session:
        ids = [t.id for t in made]
        kinds = session.exec(select(Timer.kind).where(col(Timer.task_id).in_(ids))).all()
        labels = session.exec(select(TaskLabel.name).where(col(TaskLabel.task_id).in_(ids)))
        assert "alert" not in kinds
        assert "due" in kinds
        assert list(labels) == ["kept"]
        events = session.exec(select(TaskEvent.action).where(col(TaskEvent.task_id).in_(ids)))
        assert list(events).count("created") == 3
    # the same file again: nothing new but the row without a key
    again, lines = _import(settings, account.slug, path, "--json")
    summary = json.loads(again.stdout)
    assert (summary["created"], summary["existing"], summary["refused"]) == (1, 3, 5)
    assert summary["refusals"][1] == {
        "row": 3,
        "line": 4,
        "field": "team_id",
        "code": "not_found",
        "message": "no team 999999",
    }
    assert len(_tasks_of(settings, account)) == 4
    with session_scope(settings, write=False) as session:
        kinds = session.exec(
            select(Operation.kind).where(Operation.account_id == account.account_id)
        ).all()
    assert kinds == ["task.import"] * 4  # 3 chunks, then the whole file in one


def test_csv_import_refuses_malformed_lines_and_takes_the_rest(
    settings: Settings, account: AccountInfo, tmp_path: Path
) -> None:
    path = tmp_path / "tasks.csv"
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["subject", "category", "team_id", "labels", "urgent", "sourceID", "id"])
    rows.writerow(["First, with a comma", "implementation", "", '["a b"]', "true", "1", "77"])
    rows.writerow(["Labels not JSON", "implementation", "", "a,b", "", "2", ""])
    out.write('"Open quote,implementation,,,,3,\n')  # swallows the rest of the file...
    text = out.getvalue()
    path.write_text(text)
    result, lines = _import(settings, account.slug, path)
    assert result.exit_code == 1
    assert lines[0] == "3 rows: 1 created, 0 already there, 2 refused"
    assert lines[1].startswith("row 2 (line 3): labels: invalid_json: is not JSON text")
    assert lines[2].startswith("row 3 (line 4): body: malformed_csv: is not a CSV record")
    # ... so close it, and give a record too many cells and one with a bad id
    path.write_text(
        text.replace('"Open quote', '"Closed" quote')
        + "Too many,implementation,,,,4,,extra\n"
        + "Bad id,implementation,3x,,,5,\n"
        + "\n"
        + "Last,automation,,[],false,6,\n"
    )
    result, lines = _import(settings, account.slug, path)
    assert lines[0] == "6 rows: 1 created, 1 already there, 4 refused"
    assert lines[1].startswith("row 2 (line 3): labels: invalid_json")
    assert lines[2].startswith("row 3 (line 4): body: malformed_csv: is not a CSV record")
    assert lines[3] == (
        "row 4 (line 5): body: malformed_csv: has 8 cells where the header names 7 fields"
    )
    assert lines[4].startswith("row 5 (line 6): team_id: invalid_type: ")
    made = _tasks_of(settings, account)
    assert [(t.subject, t.urgent, t.source_id) for t in made] == [
        ("First, with a comma", True, "1"),
        ("Last", False, "6"),
    ]


def test_files_that_cannot_be_read_import_nothing(
    settings: Settings, account: AccountInfo, tmp_path: Path
) -> None:
    cases = {
        "object.json": ('{"subject": "One", "category": "implementation"}', "not a JSON list"),
        "broken.json": ('[{"subject": "One", "category": "implementation"},', "not JSON"),
        "nan.json": ('[{"subject": "One", "category": "implementation", "x": NaN}]', "not JSON"),
        "columns.csv": ("subject,category,colour\nOne,implementation,red\n", "colour"),
        "empty.csv": ("", "the file is empty"),
    }
    for name, (text, said) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        result = tasks_cli(settings, "import", account.slug, str(path))
        assert result.exit_code == 1, name
        assert said in result.stderr, (name, result.stderr)
    assert _tasks_of(settings, account) == []
    missing = tasks_cli(settings, "import", "no-such-account", str(tmp_path / "object.json"))
    assert (missing.exit_code, "no account" in missing.stderr) == (1, True)


def test_an_import_chunk_is_a_durable_command_that_a_worker_applies(
    settings: Settings, account: AccountInfo, worker
) -> None:
    """Were the command to stop between storing a chunk and applying it, the recovery
    sweep would hand the operation to a worker: the worker applies it the same way."""
    bodies = [
        {"row": 1, "body": {"subject": "By a worker", "category": "automation", "sourceID": "w1"}},
        {"row": 2, "body": {"subject": "Refused", "category": "implementation", "team_id": 999999}},
    ]
    with session_scope(settings) as session:
        op = Operation(
            account_id=account.account_id,
            person_id=account.admin_id,
            kind="task.import",
            payload={"rows": bodies},
        )
        session.add(op)
        session.flush()
        op_id = op.id
    Submitter(settings).submit(op_id)

    def finished() -> Operation | None:
        with session_scope(settings, write=False) as session:
            row = session.get(Operation, op_id)
            return row if row.status != "pending" else None

    done = wait_for(finished, timeout=60, what="the worker to apply the import")
    assert done.status == "succeeded"
    [(row, task_id)] = done.result["created"]
    assert done.result["refused"] == [
        {
            "row": 2,
            "errors": [{"field": "team_id", "code": "not_found", "message": "no team 999999"}],
        }
    ]
    assert [(t.id, t.subject, t.source_id) for t in _tasks_of(settings, account)] == [
        (task_id, "By a worker", "w1")
    ]
    assert row == 1


def test_refusals_among_many_rows_leave_the_others_in_file_order(
    settings: Settings, account: AccountInfo, tmp_path: Path
) -> None:
    """A chunk with refusals here and there: each refused row alone is left out; the
    rows around it are created, in the file's order (ids ascending with the rows)."""
    bad = {2, 3, 7, 15, 16, 17, 30, 39}
    rows = [
        {
            "subject": f"Row {n}",
            "category": "implementation",
            "sourceID": f"r{n}",
            "labels": ["tagged"] if n % 4 == 0 else [],
            **({"team_id": 999999} if n in bad else {}),
        }
        for n in range(1, 41)
    ]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(rows))
    _result, lines = _import(settings, account.slug, path, "--chunk-size", "16")
    assert lines[0] == f"40 rows: {40 - len(bad)} created, 0 already there, {len(bad)} refused"
    assert [line.split(":")[0] for line in lines[1:]] == [f"row {n} (line 1)" for n in sorted(bad)]
    made = _tasks_of(settings, account)
    assert [t.subject for t in made] == [f"Row {n}" for n in range(1, 41) if n not in bad]
    with session_scope(settings, write=False) as session:
        ids = [t.id for t in made]
        labelled = session.exec(select(TaskLabel.task_id).where(col(TaskLabel.task_id).in_(ids)))
        assert sorted(labelled) == [t.id for t in made if int(t.subject.split()[1]) % 4 == 0]
        created = session.exec(
            select(func.count()).where(
                col(TaskEvent.task_id).in_(ids), col(TaskEvent.action) == "created"
            )
        ).one()
    assert created == len(made)


def test_two_imports_of_one_file_at_once_create_each_task_once(
    settings: Settings, account: AccountInfo
) -> None:
    """Imports into one account take turns chunk by chunk (an advisory lock on
    PostgreSQL, the write lock on SQLite), so each finds what the other made."""
    rows = [{"subject": f"T{n}", "category": "automation", "sourceID": f"c{n}"} for n in range(200)]
    text = json.dumps(rows)
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(import_tasks, settings, account.slug, text, "json", chunk_size=20)
            for _ in range(2)
        ]
        summaries = [run.result() for run in runs]
    assert sum(s.created for s in summaries) == 200
    assert sum(s.existing for s in summaries) == 200
    assert len(_tasks_of(settings, account)) == 200
