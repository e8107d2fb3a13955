"""Waiting for operations to finish, without each request polling the database.

One ``OutcomeWatcher`` per process keeps the set of operations that requests wait on.
Its thread wakes a request as soon as its operation is finished:

- on PostgreSQL a trigger (migration 0002) sends ``NOTIFY operation_done, '<id>'`` in
  the transaction that finishes an operation (delivered at commit, so never before the
  result is visible), and the watcher ``LISTEN``s on a dedicated connection;
- on every backend, the watcher also looks all waited-on ids up in one query per tick
  (every ``TASKS_COMMAND_POLL_INTERVAL``, 50 ms by default): a safety net for a lost
  notification, and the mechanism on SQLite, where it first checks the cheap
  ``PRAGMA data_version`` and queries only when another connection committed (the
  embedded default thus answers up to one tick later than PostgreSQL).

So however many requests wait, the database sees one look-up per tick per process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable

import structlog
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from tasks_service.core.settings import Settings
from tasks_service.core.statuses import OperationStatus
from tasks_service.store.db import get_engine, session_scope
from tasks_service.store.models import Operation

log = structlog.get_logger(__name__)

CHANNEL = "operation_done"


class OutcomeWatcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tick = settings.command_poll_interval
        self._lock = threading.Lock()
        self._waiting: dict[int, threading.Event] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._pid = 0
        self._postgres = get_engine(settings).dialect.name == "postgresql"

    # --- request side ------------------------------------------------------------------

    def wait(self, operation_id: int, timeout: float) -> Operation:
        """The operation once finished, or as it stands when ``timeout`` runs out."""
        event = threading.Event()
        with self._lock:
            self._waiting[operation_id] = event
            self._ensure_thread()
        try:
            # If it finished before we registered (its notification came too early for
            # us), the next tick's sweep still finds it: no need to look first.
            event.wait(timeout)
            return self._load(operation_id)
        finally:
            with self._lock:
                self._waiting.pop(operation_id, None)

    def _load(self, operation_id: int) -> Operation:
        with session_scope(self.settings, write=False) as session:
            op = session.get(Operation, operation_id)
        assert op is not None
        return op

    # --- watcher thread ----------------------------------------------------------------

    def _ensure_thread(self) -> None:
        # After a fork (gunicorn workers) the parent's thread does not exist here.
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="outcome-watcher", daemon=True)
            self._thread.start()

    def _wake(self, ids: Iterable[int]) -> None:
        with self._lock:
            for op_id in ids:
                event = self._waiting.get(op_id)
                if event is not None:
                    event.set()

    def _waited_ids(self) -> list[int]:
        with self._lock:
            return list(self._waiting)

    def _sweep(self) -> None:
        ids = self._waited_ids()
        if not ids:
            return
        with session_scope(self.settings, write=False) as session:
            done = session.exec(
                select(Operation.id).where(
                    col(Operation.id).in_(ids), Operation.status != OperationStatus.pending
                )
            ).all()
        self._wake(i for i in done if i is not None)

    def stop(self) -> None:
        """Let the watcher thread end (it notices within a tick)."""
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._postgres:
                    self._listen_postgres()
                else:
                    self._watch_sqlite()
            except Exception as exc:  # the database went away: keep trying, slowly
                if self._stopping.is_set():
                    return
                log.warning("outcome_watcher_error", error=str(exc).splitlines()[0])
                self._stopping.wait(1.0)

    def _listen_postgres(self) -> None:
        import psycopg  # here: only PostgreSQL listens; SQLite never loads the driver

        url = make_url(self.settings.effective_database_url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self._sweep()  # anything that finished before we listened
            while not self._stopping.is_set():
                for note in conn.notifies(timeout=self.tick):
                    self._wake([int(note.payload)])
                self._sweep()

    def _watch_sqlite(self) -> None:
        engine = get_engine(self.settings)
        last_version = None
        with engine.connect() as conn:
            while not self._stopping.is_set():
                if self._waited_ids():
                    # Changes when another connection commits: cheap, no table read.
                    version = conn.exec_driver_sql("PRAGMA data_version").scalar()
                    conn.rollback()
                    if version != last_version:
                        last_version = version
                        self._sweep()
                time.sleep(self.tick)
