"""Migrations: up and down on both backends, and the models match them."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, inspect
from sqlmodel import SQLModel

from tasks_service.core.settings import Settings
from tasks_service.store import migrate
from tasks_service.store.db import make_engine
from tests.helpers import postgres_database


def _expression_indexes() -> set[tuple[str, str]]:
    """(table, index) of the models' indexes on expressions, e.g. ``lower(name)``."""
    return {
        (table.name, str(index.name))
        for table in SQLModel.metadata.tables.values()
        for index in table.indexes
        if any(not isinstance(e, Column) for e in index.expressions)
    }


def _fresh(settings: Settings, tmp_path):
    if settings.is_embedded:
        yield Settings(database_url=f"sqlite:///{tmp_path / 'migrations.db'}")
        return
    for url in postgres_database(settings.test_database_url):
        yield Settings(database_url=url)


def test_upgrade_downgrade_upgrade_and_models_match(settings: Settings, tmp_path) -> None:
    for fresh in _fresh(settings, tmp_path):
        migrate.upgrade(fresh)
        migrate.downgrade(fresh, "base")
        engine = make_engine(fresh.effective_database_url)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(fresh)
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite's reflection cannot read expression indexes (``lower(name)``):
            # Alembic skips them, with a warning; they are compared by name below
            warnings.filterwarnings("ignore", message=".*expression-based index")
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
            )
            indexes = {
                (row[0], row[1])
                for row in conn.exec_driver_sql(
                    "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'"
                    if engine.dialect.name == "sqlite"
                    else "SELECT tablename, indexname FROM pg_indexes"
                ).all()
            }
            triggers = (
                conn.exec_driver_sql(
                    "SELECT tgname FROM pg_trigger WHERE tgname = 'operation_done'"
                ).all()
                if engine.dialect.name == "postgresql"
                else [("n/a",)]
            )
        engine.dispose()
        assert diff == [], diff
        assert _expression_indexes() <= indexes
        assert triggers, "the NOTIFY trigger is missing"
