"""Migration 0010 on both backends: names stored before it that differ only in case get
the later row's id appended; emails that do are not rewritten (the upgrade stops and
lists them); afterwards the database refuses both."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tasks_service.core.settings import Settings
from tasks_service.store import migrate
from tasks_service.store.db import make_engine
from tests.tasks_service.store.test_migrations import _fresh

NOW = "2026-12-01 10:00:00+00:00"


def _account(conn) -> int:
    return int(
        conn.execute(
            text(
                "INSERT INTO account (slug, name, created_at) VALUES ('m', 'M', :now) RETURNING id"
            ),
            {"now": NOW},
        ).scalar_one()
    )


def _team(conn, account: int, name: str) -> None:
    conn.execute(
        text(
            "INSERT INTO team (account_id, name, disabled, created_at, updated_at)"
            " VALUES (:account, :name, false, :now, :now)"
        ),
        {"account": account, "name": name, "now": NOW},
    )


def _person(conn, account: int, email: str) -> None:
    conn.execute(
        text(
            "INSERT INTO person (account_id, name, primary_email, admin, disabled,"
            " notification_opt_outs, created_at, updated_at)"
            " VALUES (:account, 'P', :email, false, false, '[]', :now, :now)"
        ),
        {"account": account, "email": email, "now": NOW},
    )


def test_clashing_names_are_renamed_and_then_refused(settings: Settings, tmp_path) -> None:
    for fresh in _fresh(settings, tmp_path):
        migrate.upgrade(fresh, "0009")
        engine = make_engine(fresh.effective_database_url)
        with engine.begin() as conn:
            account = _account(conn)
            for name in ("Ops", "ops", "OPS", "Network"):
                _team(conn, account, name)
        migrate.upgrade(fresh, "0010")
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT id, name FROM team ORDER BY id")).all()
        assert [name for _, name in rows] == [
            "Ops",
            f"ops ({rows[1][0]})",
            f"OPS ({rows[2][0]})",
            "Network",
        ]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            _team(conn, account, "NETWORK")
        migrate.downgrade(fresh, "0009")
        with engine.begin() as conn:
            _team(conn, account, "NETWORK")  # the index is gone again
        engine.dispose()


def test_clashing_emails_stop_the_upgrade_naming_them(settings: Settings, tmp_path) -> None:
    for fresh in _fresh(settings, tmp_path):
        migrate.upgrade(fresh, "0009")
        engine = make_engine(fresh.effective_database_url)
        with engine.begin() as conn:
            account = _account(conn)
            _person(conn, account, "p2@demo.example")
            _person(conn, account, "P2@DEMO.EXAMPLE")
        with pytest.raises(RuntimeError, match=r"P2@DEMO\.EXAMPLE"):
            migrate.upgrade(fresh, "0010")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE person SET primary_email = 'p3@demo.example' WHERE primary_email = 'P2@DEMO.EXAMPLE'"
                )
            )
        migrate.upgrade(fresh, "0010")
        assert migrate.current_revision(fresh) == "0010"
        engine.dispose()
