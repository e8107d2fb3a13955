"""Schema migrations (Alembic), run by ``tasks-service db upgrade`` and ``run``, and the
check every other entry point makes first (``ensure_schema``).

The embedded default (SQLite) brings itself to the current schema wherever it is opened:
a newcomer's first command in an empty data dir just works. A server database
(PostgreSQL) is migrated by an operator, once, before the roles start: opening one that
is behind (or unreachable) is a ``DatabaseNotReady`` in one line naming the fix.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from tasks_service.core.errors import DatabaseUnreachable, SchemaNotMigrated
from tasks_service.core.settings import Settings, get_settings
from tasks_service.store.db import get_engine

_ready: set[str] = set()
_ready_lock = threading.Lock()


def alembic_config(settings: Settings | None = None) -> Config:
    settings = settings or get_settings()
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.effective_database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(settings), revision)


def head_revision(settings: Settings | None = None) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_revision(settings: Settings | None = None) -> str | None:
    """The revision the database is at (``None``: never migrated).
    Raises: DatabaseUnreachable."""
    settings = settings or get_settings()
    try:
        engine = get_engine(settings)
        if engine.dialect.name == "sqlite":  # a read: never queue behind a writer
            engine = engine.execution_options(sqlite_begin="DEFERRED")
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnreachable(unreachable_message(settings, exc)) from exc


def ensure_schema(settings: Settings | None = None) -> None:
    """Make sure the database has this version's schema, once per process and database.

    SQLite: migrated here if it is behind (Alembic's transaction begins IMMEDIATE, so
    two processes starting at once migrate it once). PostgreSQL: checked only.
    Raises: DatabaseUnreachable; SchemaNotMigrated (naming ``tasks-service db upgrade``).
    """
    settings = settings or get_settings()
    url = settings.effective_database_url
    if url in _ready:
        return
    with _ready_lock:
        if url in _ready:
            return
        head, current = head_revision(settings), current_revision(settings)
        if current != head:
            if make_url(url).get_backend_name() != "sqlite":
                state = f"at revision {current}" if current else "not migrated"
                raise SchemaNotMigrated(
                    f"the database {describe(settings)} is {state} (this version needs"
                    f" {head}): run `tasks-service db upgrade`"
                )
            try:
                upgrade(settings)
            except (OperationalError, InterfaceError) as exc:
                raise DatabaseUnreachable(unreachable_message(settings, exc)) from exc
        _ready.add(url)


def describe(settings: Settings) -> str:
    """The database as an operator names it: the file, or host:port/name (no password)."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def unreachable_message(settings: Settings, exc: DBAPIError) -> str:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    return f"cannot reach the database {describe(settings)}: {reason}"
