"""The API root, health and readiness (no authentication)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from sqlalchemy import text

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
    checks: dict[str, str] = {}
    try:
        with session_scope(settings(), write=False) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        checks["database"] = "ok"
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
                "message": f"not ready: {', '.join(failing)} unreachable",
                "code": "not_ready",
                "errors": [
                    {"field": n, "code": "unavailable", "message": checks[n]} for n in failing
                ],
                "checks": checks,
            },
            503,
            {"Retry-After": "5"},
        )
    return json_response({"status": "ready", "checks": checks})
