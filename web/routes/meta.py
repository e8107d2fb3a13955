"""The API root, health and readiness (no authentication)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from sqlalchemy import text

from tasks_service.core.clock import utcnow
from tasks_service.store import heartbeats
from tasks_service.store.db import session_scope
from web.http import json_response, settings

public = Blueprint("meta", __name__)


@public.get("/v1")
def api_root() -> Response:
    return json_response({})


@public.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@public.get("/readyz")
def readyz() -> Response:
    """Ready when the database and the broker answer and the scheduler (beat) swept
    within ``TASKS_SCHEDULER_STALE_AFTER`` seconds: without it no timer fires and no
    lost command is sent again. A scheduler never seen on this broker is not checked
    (a web serving before its first beat)."""
    checks: dict[str, str] = {}
    stale_after = settings().scheduler_stale_after
    try:
        with session_scope(settings(), write=False) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            since = heartbeats.age(session, settings(), heartbeats.SCHEDULER, utcnow())
        checks["database"] = "ok"
        if since is not None:
            seconds = since.total_seconds()
            checks["scheduler"] = (
                "ok"
                if seconds <= stale_after
                else f"stale: no sweep for {seconds:.0f} s (more than {stale_after:g} s)"
            )
    except Exception as exc:
        checks["database"] = f"unavailable: {str(exc).splitlines()[0]}"
    try:
        current_app.extensions["submitter"].ping_broker()
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"unavailable: {exc}"
    failing = [name for name, state in checks.items() if state != "ok"]
    if failing:
        return json_response(
            {
                "message": "not ready: "
                + ", ".join(f"{n} {checks[n].split(':')[0]}" for n in failing),
                "code": "not_ready",
                "errors": [
                    {"field": n, "code": checks[n].split(":")[0], "message": checks[n]}
                    for n in failing
                ],
            },
            503,
            {"Retry-After": "5"},
        )
    return json_response({"status": "ready", "checks": checks})
