"""Migration 0009 on both backends: a stopped clock's stored minutes become as many
seconds (7 minutes: 420 seconds), and whole minutes again on the way down."""

from __future__ import annotations

from sqlalchemy import text

from tasks_service.core.settings import Settings
from tasks_service.store import migrate
from tasks_service.store.db import make_engine
from tests.tasks_service.store.test_migrations import _fresh

_TASK = (
    "INSERT INTO task (account_id, subject, category, status, urgent, work_hours_are_24x7,"
    " created_at, updated_at, {column}) VALUES (:account, 'Waited', 'other', 'in_progress',"
    " false, false, :now, :now, :stood)"
)


def _stood(fresh: Settings, column: str) -> list[int]:
    engine = make_engine(fresh.effective_database_url)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {column} FROM task ORDER BY id")).scalars().all()
    engine.dispose()
    return list(rows)


def test_stopped_minutes_become_seconds_and_back(settings: Settings, tmp_path) -> None:
    for fresh in _fresh(settings, tmp_path):
        migrate.upgrade(fresh, "0008")
        engine = make_engine(fresh.effective_database_url)
        with engine.begin() as conn:
            now = "2026-12-01 10:00:00+00:00"
            account = conn.execute(
                text(
                    "INSERT INTO account (slug, name, created_at)"
                    " VALUES ('m', 'M', :now) RETURNING id"
                ),
                {"now": now},
            ).scalar_one()
            for stood in (0, 7):
                conn.execute(
                    text(_TASK.format(column="clock_stopped_minutes")),
                    {"account": account, "now": now, "stood": stood},
                )
        engine.dispose()
        migrate.upgrade(fresh, "0009")
        assert _stood(fresh, "clock_stopped_seconds") == [0, 420]
        migrate.downgrade(fresh, "0008")
        assert _stood(fresh, "clock_stopped_minutes") == [0, 7]
