"""What the web tells of itself: a request id for every request, its line in the log,
the HTTP metrics, and ``GET /metrics`` for administrators.

- The request id is the client's ``X-Request-Id`` when it is well formed (1 to 128
  letters, digits or ``._:@+=/-``), else a new one; it is answered in ``X-Request-Id``,
  bound to every log line of the request, and stored on the operation a write records
  (``web.submit``), so that the worker's line of that operation carries it too.
- Each request counts once (route template, method, status) and its time goes into a
  histogram: two in-memory increments, no query (``core.metrics``).
- ``GET /metrics`` (an admin's token: ``Authorization: Bearer``) answers the
  counters of every web process, and the state of the stack read at that moment
  (``read_state``: queue depths, stale operations, timers due, dead deliveries, the
  scheduler's last sweep).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from functools import partial

import structlog
from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlmodel import col, func, select

from tasks_service.core import metrics
from tasks_service.core.clock import utcnow
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import DeliveryState, OperationStatus, TimerState
from tasks_service.identity.accounts import authenticate_token
from tasks_service.store import heartbeats
from tasks_service.store.db import session_scope
from tasks_service.store.models import Delivery, Operation, Timer
from web.errors import ApiError
from web.http import settings
from workers.app import Submitter

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")
#: Methods counted by name; anything else a client makes up is ``OTHER`` (a label
#: value per made-up method would grow the series without bound).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route of a request that matched none (404s, 405s of unknown paths).
UNMATCHED = "<unmatched>"
#: No token is longer; a longer header is not looked up.
_MAX_TOKEN_LENGTH = 256


def request_id() -> str | None:
    """This request's id (``X-Request-Id``)."""
    rid: str | None = g.get("request_id")
    return rid


def install(app: Flask) -> None:
    """Give ``app`` request ids, its log lines and metrics, and ``/metrics``. Installed
    before the app's other hooks: the id is there for their refusals too."""
    stack: Settings = app.config["SETTINGS"]
    app.before_request(_begin)
    app.after_request(partial(_answered, counted=stack.metrics))
    app.teardown_request(_end)
    state = CollectorRegistry(auto_describe=False)
    state.register(metrics.StateCollector(partial(read_state, stack, app.extensions["submitter"])))
    app.extensions["observe_state"] = state
    app.add_url_rule("/metrics", "observe.metrics", metrics_page, methods=["GET"])


def _begin() -> None:
    structlog.contextvars.clear_contextvars()
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    rid = sent if _WELL_FORMED.fullmatch(sent) else uuid.uuid4().hex
    g.request_id, g.observe_started = rid, time.perf_counter()
    structlog.contextvars.bind_contextvars(request_id=rid)


def _answered(response: Response, *, counted: bool) -> Response:
    rid = g.get("request_id")
    if rid is None:  # a request whose hooks did not run (a test's bare context)
        return response
    response.headers[REQUEST_ID_HEADER] = rid
    elapsed = time.perf_counter() - g.observe_started
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in _METHODS else "OTHER"
    if counted:
        metrics.HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        metrics.HTTP_LATENCY.labels(route, method).observe(elapsed)
    actor = g.get("actor")
    log.info(
        "request",
        method=method,
        path=request.path,
        route=route,
        status=response.status_code,
        duration_ms=round(elapsed * 1000, 2),
        **({"account": actor.account_id} if actor is not None else {}),
    )
    return response


def _end(_exc: BaseException | None) -> None:
    structlog.contextvars.clear_contextvars()


def metrics_page() -> Response:
    """The metrics, in Prometheus' text format: an admin's token (of any account) reads
    them; they name no account."""
    if not settings().metrics:
        raise ApiError(404, "not_found", "metrics are off (TASKS_METRICS=false)")
    _require_admin()
    body = generate_latest(metrics.scrape_registry())
    body += generate_latest(current_app.extensions["observe_state"])
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def _require_admin() -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_LENGTH:
        raise _unauthorized("send Authorization: Bearer <an administrator's token>")
    with session_scope(settings(), write=False) as session:
        actor = authenticate_token(session, token)
    if actor is None:
        raise _unauthorized("unknown token")
    if not actor.admin:
        raise ApiError(403, "forbidden", "the metrics are for administrators")


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="tasks"'}
    )


def read_state(stack: Settings, submitter: Submitter) -> metrics.ServiceState:
    """The stack's state for a scrape: the queues' lengths from the broker, the rest
    in four indexed counts; what cannot be read is left out (and logged)."""
    try:
        depths: dict[str, int] | None = submitter.queue_depths()
    except Exception as exc:
        log.warning("metrics_queue_depths_unavailable", error=str(exc).splitlines()[0])
        depths = None
    now = utcnow()
    stale_before = now - timedelta(seconds=stack.recovery_after)
    try:
        with session_scope(stack, write=False) as session:
            stale = session.exec(
                select(func.count()).where(
                    col(Operation.status) == OperationStatus.pending,
                    col(Operation.updated_at) < stale_before,
                )
            ).one()
            due = session.exec(
                select(func.count()).where(
                    col(Timer.state) == TimerState.pending, col(Timer.fire_at) <= now
                )
            ).one()
            dead = session.exec(
                select(func.count()).where(col(Delivery.state) == DeliveryState.dead)
            ).one()
            sweep = heartbeats.age(session, stack, heartbeats.SCHEDULER, now)
    except Exception as exc:
        log.warning("metrics_state_unavailable", error=str(exc).splitlines()[0])
        return metrics.ServiceState(queue_depths=depths)
    return metrics.ServiceState(
        queue_depths=depths,
        stale_operations=int(stale),
        timers_due=int(due),
        dead_deliveries=int(dead),
        beat_sweep_age=None if sweep is None else sweep.total_seconds(),
    )
