"""The baseline of ``benchmarks/timers.py``: what many Celery users write for a timed
alert, one ``apply_async(eta=alert_at)`` per alert, whose task loads the task and posts
the same signed webhook. Run as its own Celery app on the same broker server, with the
same number of worker processes as the service's."""

from __future__ import annotations

import json
import os

import requests
from celery import Celery

from tasks_service.core.clock import iso, utcnow
from tasks_service.core.settings import get_settings
from tasks_service.notify.transport.signing import signed_headers
from tasks_service.querying.serializers.tasks import serialize_task
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task, Webhook

app = Celery("timers_baseline", broker=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/14"))
# Celery's advice for ETA tasks on Redis: a visibility timeout beyond the furthest ETA.
app.conf.update(broker_transport_options={"visibility_timeout": 3600}, task_acks_late=True)
_http = requests.Session()


@app.task(name="baseline.send_alert")
def send_alert(task_id: int, webhook_id: int, alert_at: str) -> None:
    with session_scope(get_settings()) as session:
        task = session.get(Task, task_id)
        hook = session.get(Webhook, webhook_id)
        assert task is not None
        assert hook is not None
        task.alert_sent_at = utcnow()
        session.add(task)
        payload = {
            "type": "task.alert",
            "timestamp": alert_at,
            "account": None,
            "data": serialize_task(session, task),
        }
        uri, secret = hook.uri, hook.secret
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = signed_headers(secret, f"base_{task_id}", int(utcnow().timestamp()), body)
    _http.post(uri, data=body, headers=headers, timeout=10)


__all__ = ["app", "iso", "send_alert"]
