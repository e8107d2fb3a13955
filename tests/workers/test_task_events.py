"""Workers send Celery's task events when asked (``TASKS_WORKER_EVENTS``): what Flower
(docker-compose.yml) shows. Events travel on the broker's fanout exchange, which the
Redis broker has and the embedded SQLite one does not: the test runs on Redis."""

from __future__ import annotations

import threading

import pytest

from tasks_service.core.settings import Settings
from tests.helpers import ProcessGroup, settings_env, wait_for, with_own_broker
from workers.app import APPLY_OPERATION, Submitter, make_celery

APPLY = APPLY_OPERATION


def _watch(settings: Settings, seen: list[dict], stop: threading.Event) -> threading.Thread:
    celery = make_celery(settings)

    def receive() -> None:
        with celery.connection_for_read() as connection:
            receiver = celery.events.Receiver(connection, handlers={"*": seen.append})
            while not stop.is_set():
                try:  # a quiet half second ends a capture: look at stop, listen again
                    receiver.capture(limit=None, timeout=0.5, wakeup=False)
                except TimeoutError:
                    continue

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("events", [True, False], ids=["events-on", "events-off"])
def test_a_worker_reports_each_command_it_runs_only_when_asked(
    settings: Settings, tmp_path, events: bool
) -> None:
    if not settings.broker_url:
        pytest.skip("task events need the Redis broker's fanout exchange (Flower's setup)")
    own = with_own_broker(settings, tmp_path, "events", worker_events=events)
    seen: list[dict] = []
    stop = threading.Event()
    watcher = _watch(own, seen, stop)
    group = ProcessGroup(settings_env(own, TASKS_WORKER_EVENTS=str(events).lower()), tmp_path)
    group.start_worker("worker")
    try:
        wait_for(lambda: any(e["type"] == "worker-online" for e in seen), timeout=30)
        Submitter(own).submit(2**31 - 7)  # an id no operation has: it runs and returns
        if events:
            wait_for(lambda: {"task-received", "task-succeeded"} <= _kinds(seen), timeout=30)
            sent = [e for e in seen if e["type"] == "task-sent"]
            assert [e["name"] for e in sent] == [APPLY]
        else:
            # the worker's own heartbeats still go out; no task ones
            wait_for(lambda: sum(e["type"] == "worker-heartbeat" for e in seen) >= 1, timeout=30)
            assert not {k for k in _kinds(seen) if k.startswith("task-")}
    finally:
        group.stop_all()
        stop.set()
        watcher.join(timeout=5)


def _kinds(seen: list[dict]) -> set[str]:
    return {e["type"] for e in seen}
