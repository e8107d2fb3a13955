"""A broker that comes back is used again within a second (issue 14).

Celery's consumer reconnects with kombu's backoff (2, 4, 6, 8... s): after an outage
commands waited up to 10 s for workers that were fine. ``workers.liveness`` makes the
consumer try every 0.25 s. Measured with a private redis-server that is killed and
started again on the same port, a real worker, and a real gunicorn web (the publisher).
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from redis import Redis

from tasks_service.core.settings import Settings
from tests.helpers import ProcessGroup, make_account, settings_env, wait_for
from tests.helpers.faults import RedisServer, WebServer

OUTAGE = 7.0  # long enough that kombu's backoff would sleep past the return
BODY = {"subject": "After the outage", "category": "implementation"}


def _connected_at(log: str) -> list[float]:
    """When the worker's consumer (re)connected, from its log's lines (JSON: our
    ``core.logs``, Celery's own lines among them) and their timestamps."""
    found = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and str(entry.get("event", "")).startswith("Connected to redis"):
            found.append(datetime.fromisoformat(entry["timestamp"]).timestamp())
    return found


def test_workers_and_web_use_a_returning_broker_within_a_second(
    settings: Settings, tmp_path
) -> None:
    if settings.is_embedded:
        pytest.skip("a broker server to kill: Redis")
    redis = RedisServer(tmp_path)
    redis.start()
    own = settings.model_copy(
        update={
            "data_dir": tmp_path,
            "database_url": settings.effective_database_url,
            "broker_url": redis.url,
            "broker_prefix": "reconnect:",
            "command_wait": 20.0,
        }
    )
    group = ProcessGroup(settings_env(own), tmp_path)
    web = WebServer(own, tmp_path)
    account = make_account(settings)
    try:
        group.start_worker("worker")
        web.start()
        http = web.session(account.token, account.slug)
        assert http.post(f"{web.base}/v1/tasks", json=BODY, timeout=30).status_code == 201
        # The answer comes at the command's commit; its message is acked a moment
        # later (kombu's ``unacked`` hash empties). The outage starts after that: a
        # broker lost between the two takes kombu's restore path (which can end the
        # worker, for its supervisor to start again), not what this test measures.
        unacked = Redis.from_url(redis.url)
        wait_for(lambda: unacked.hlen("reconnect:unacked") == 0, timeout=10, what="the ack")
        unacked.close()

        redis.kill()
        wait_for(
            lambda: "Connection to broker lost" in group.log("worker"),
            timeout=10,
            what="the worker to notice",
        )
        time.sleep(OUTAGE)
        redis.start()
        back = time.time()

        reconnected = wait_for(
            lambda: [t for t in _connected_at(group.log("worker")) if t >= back - 0.5],
            timeout=30,
            interval=0.05,
            what="the worker to reconnect",
        )
        assert reconnected[0] - back < 1.0, f"reconnected {reconnected[0] - back:.1f} s late"

        started = time.monotonic()
        created = http.post(f"{web.base}/v1/tasks", json=BODY, timeout=30)
        took = time.monotonic() - started
        assert created.status_code == 201, created.text  # published, consumed, applied
        assert took < 2.0, f"the first command after the outage took {took:.1f} s"
    finally:
        web.stop()
        group.stop_all()
        redis.kill()
