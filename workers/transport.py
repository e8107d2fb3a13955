"""The embedded broker: kombu's SQLAlchemy transport over a SQLite file, made quick.

The stock transport sleeps a full second between polls of an empty queue, and its
transport options all go to ``create_engine`` (so ``polling_interval`` cannot be set
there). This subclass polls every ``TASKS_EMBEDDED_BROKER_POLL`` seconds (20 ms by
default) and runs the SQLite file in WAL mode with a busy timeout, so that the web
process publishing and the workers consuming do not trip over each other's locks; a
closed channel gives its database session back (the stock one keeps it forever).

Celery selects it with ``broker_transport = "workers.transport:SQLiteTransport"`` and a
plain ``sqlite:///...`` broker URL; with kombu's ``sqla+`` prefix the subclass would be
ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqla
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from tasks_service.core.settings import get_settings


class Channel(kombu_sqla.Channel):
    def _engine_from_config(self) -> Any:
        engine = super()._engine_from_config()

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine

    def close(self) -> None:
        # The stock channel never gives its session back: each channel opened and
        # closed (every readiness ping, every attendance check) kept one pooled
        # connection checked out, in an open read transaction, until the pool ran dry
        # and the next ping hung.
        session, self._session = self._session, None
        if session is not None:
            session.close()
        super().close()


class SQLiteTransport(kombu_sqla.Transport):
    Channel = Channel
    polling_interval = get_settings().embedded_broker_poll


def prune_delivered(broker_url: str, older_than: timedelta) -> int:
    """Delete messages delivered more than ``older_than`` ago; returns how many.

    The stock transport never deletes a message: it marks it invisible on delivery and
    keeps it, so the broker file would grow forever. A delivered message is never
    delivered again (not even if its worker died: the operation recovery sweep covers
    that), so old ones are dead weight. kombu stamps them with local naive time.
    """
    cutoff = (datetime.now() - older_than).strftime("%Y-%m-%d %H:%M:%S.%f")
    engine = create_engine(broker_url, connect_args={"timeout": 30})
    try:
        with engine.begin() as conn:
            result = conn.execute(
                text("DELETE FROM kombu_message WHERE visible = 0 AND timestamp < :cutoff"),
                {"cutoff": cutoff},
            )
            return int(result.rowcount or 0)
    except OperationalError:
        return 0  # no message table yet: nothing was ever sent
    finally:
        engine.dispose()
