"""Migrations: up and down on both backends, and the models match them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from tasks_service.core.settings import Settings
from tasks_service.store import migrate
from tasks_service.store.db import make_engine
from tests.helpers import postgres_database


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
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
            )
            triggers = (
                conn.exec_driver_sql(
                    "SELECT tgname FROM pg_trigger WHERE tgname = 'operation_done'"
                ).all()
                if engine.dialect.name == "postgresql"
                else [("n/a",)]
            )
        engine.dispose()
        assert diff == [], diff
        assert triggers, "the NOTIFY trigger is missing"
