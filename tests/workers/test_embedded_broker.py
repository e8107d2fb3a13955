"""The embedded broker (kombu's SQLAlchemy transport over SQLite) does not grow forever."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from tasks_service.core.settings import Settings
from workers.app import Submitter, celery_config
from workers.transport import prune_delivered


def test_delivered_messages_are_pruned_after_retention(tmp_path) -> None:
    settings = Settings(database_url=None, broker_url=None, data_dir=tmp_path)
    url = settings.effective_broker_url
    submitter = Submitter(settings)
    for operation_id in range(1, 6):
        submitter.submit(operation_id)
    path = url.removeprefix("sqlite:///")
    long_ago = (datetime.now() - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.%f")
    recently = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(path) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM kombu_message ORDER BY id")]
        assert len(ids) == 5
        # Three delivered long ago, one delivered just now, one still waiting.
        db.executemany(
            "UPDATE kombu_message SET visible = 0, timestamp = ? WHERE id = ?",
            [(long_ago, i) for i in ids[:3]],
        )
        db.execute(
            "UPDATE kombu_message SET visible = 0, timestamp = ? WHERE id = ?", (recently, ids[3])
        )
    assert prune_delivered(url, timedelta(hours=1)) == 3
    with sqlite3.connect(path) as db:
        left = sorted(db.execute("SELECT id, visible FROM kombu_message"))
    assert left == [(ids[3], 0), (ids[4], 1)]
    assert prune_delivered(url, timedelta(hours=1)) == 0


def test_prune_of_a_broker_never_used_is_a_no_op(tmp_path) -> None:
    assert prune_delivered(f"sqlite:///{tmp_path / 'empty.db'}", timedelta(hours=1)) == 0


def test_the_prune_is_scheduled_only_for_the_embedded_broker(tmp_path) -> None:
    embedded = celery_config(Settings(database_url=None, broker_url=None, data_dir=tmp_path))
    redis = celery_config(Settings(broker_url="redis://127.0.0.1:6379/0", data_dir=tmp_path))
    assert "prune-embedded-broker" in embedded["beat_schedule"]
    assert "prune-embedded-broker" not in redis["beat_schedule"]
