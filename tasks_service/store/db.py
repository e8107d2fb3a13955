"""Engines and the one way to open a unit of work: ``session_scope``.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and write
transactions start with ``BEGIN IMMEDIATE``: SQLite then takes its single write lock at
the start instead of failing with "database is locked" when a reader upgrades to a
writer mid-transaction. Read scopes use a plain deferred ``BEGIN`` so that readers
never queue behind writers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text, update
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from tasks_service.core.settings import Settings, get_settings

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not pysqlite) emit BEGIN, so that we choose its kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # If the folder cannot be made, connecting fails with an OperationalError,
            # which callers treat as "database unavailable".
            with suppress(OSError):
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine(settings: Settings | None = None) -> Engine:
    """The process-wide engine for these settings' database (created once)."""
    url = (settings or get_settings()).effective_database_url
    engine = _engines.get(url)
    if engine is None:
        with _lock:
            engine = _engines.get(url)
            if engine is None:
                engine = _engines[url] = make_engine(url)
    return engine


def dispose_engines() -> None:
    """Drop pooled connections inherited over ``fork`` (worker child processes)."""
    for engine in _engines.values():
        engine.dispose(close=False)


def reset_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(settings: Settings | None = None, *, write: bool = True) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises.

    Commands take the session, may ``flush()``, and never ``commit()``.
    """
    engine = get_engine(settings)
    if engine.dialect.name == "sqlite":
        engine = engine.execution_options(sqlite_begin="IMMEDIATE" if write else "DEFERRED")
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def allocate_ids(session: Session, table: str, count: int) -> list[int]:
    """``count`` new ids of ``table``, taken now, so that many rows can be made and
    referred to before any is written, and then written together (a workflow's plan:
    its tasks, their events, timers and links). On PostgreSQL they come from the
    table's sequence; on SQLite after its largest id, which is safe because a write
    transaction holds the database's write lock from its start."""
    if count <= 0:
        return []
    if is_postgres(session):
        sequence = f"pg_get_serial_sequence('{table}', 'id')"
        query = text(f"SELECT nextval({sequence}) FROM generate_series(1, :n)")
        rows = session.execute(query, {"n": count})
        return [int(row[0]) for row in rows]
    largest = session.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
    return list(range(int(largest) + 1, int(largest) + 1 + count))


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def claim_rows(
    session: Session,
    model: Any,
    condition: Any,
    order_by: Any,
    values: dict[str, Any],
    limit: int,
) -> list[int]:
    """Set ``values`` on up to ``limit`` rows matching ``condition`` (in ``order_by``)
    and return their ids, so that concurrent claimers never take the same row:
    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; one ``UPDATE ... RETURNING`` on SQLite,
    whose writers are serialized. (The timers' and the deliveries' sweeps.)"""
    chosen = select(model.id).where(condition).order_by(order_by).limit(limit)
    if is_postgres(session):
        ids = [i for i in session.exec(chosen.with_for_update(skip_locked=True)) if i is not None]
        if ids:
            session.execute(update(model).where(model.id.in_(ids)).values(**values))
        return ids
    result = session.execute(
        update(model)
        .where(model.id.in_(chosen.scalar_subquery()))
        .values(**values)
        .returning(model.id)
    )
    return [row[0] for row in result]
