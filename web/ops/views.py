"""The operator page's routes: the overview, signing in and out, and its three writes
(each the call the REST API or the CLI makes for the same change)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from tasks_service.core.clock import utcnow
from tasks_service.core.errors import TaskError
from tasks_service.core.validation import validate
from tasks_service.identity.accounts import Actor
from tasks_service.notify import delivery, webhooks
from tasks_service.ops.overview import overview as read_overview
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.messages import WebhookUpdate
from web.errors import status_for
from web.http import settings
from web.ops import auth, charts
from web.ops.auth import OpsSession, Refused
from web.ops.queues import DepthReader

log = structlog.get_logger(__name__)

bp = Blueprint("ops", __name__, url_prefix="/ops", template_folder="templates")

#: Nothing but this page's own inline styles and forms; no script at all.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@bp.after_request
def _page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(Refused)
def _refused(exc: Refused) -> BaseResponse:
    return _message(exc.status, exc.message)


@bp.errorhandler(TaskError)
def _domain_error(exc: TaskError) -> BaseResponse:
    body = exc.to_dict()
    return _message(status_for(body), str(body.get("message", exc)))


def as_page_error(response: Response, body: dict[str, Any]) -> Response:
    """A JSON refusal of a request under ``/ops`` that no view of the page made (a path
    that matches none, a method the page does not take) as the page's HTML message."""
    page = _message(response.status_code, str(body.get("message") or "refused"))
    for name in ("Allow", "Retry-After"):
        if name in response.headers:
            page.headers[name] = response.headers[name]
    return _page_headers(page)


def _message(status: int, message: str) -> Response:
    # no query here: the refusal may be that the database is away
    page = render_template("ops/message.html", status=status, message=message)
    return make_response(page, status)


def _signed_in() -> OpsSession:
    """The session of a write. Raises: Refused 401 (signed out), 403 (bad CSRF token)."""
    session = auth.current_session()
    if session is None:
        raise Refused(401, "sign in first (or again: the token no longer works)")
    auth.check_csrf(session)
    return session


# --- signing in and out -----------------------------------------------------------------


def _signin_page(status: int = 200, error: str | None = None) -> Response:
    csrf = auth.signin_csrf()
    response = make_response(render_template("ops/signin.html", csrf=csrf, error=error), status)
    auth.keep_signin_csrf(response, csrf)
    return response


@bp.get("/sign-in")
def sign_in_form() -> BaseResponse:
    if auth.current_session() is not None:
        return redirect(url_for("ops.overview"), 303)
    return _signin_page()


@bp.post("/sign-in")
def sign_in() -> BaseResponse:
    auth.check_signin_csrf()
    token = request.form.get("token", "")
    if not token.strip():
        return _signin_page(400, "paste an administrator's API token")
    try:
        actor = auth.admin_for(token)
    except Refused as refused:
        return _signin_page(refused.status, refused.message)
    log.info("ops_signed_in", account_id=actor.account_id, person_id=actor.person_id)
    response = redirect(url_for("ops.overview"), 303)
    auth.sign_in(response, token)
    return response


@bp.post("/sign-out")
def sign_out() -> BaseResponse:
    _signed_in()
    response = redirect(url_for("ops.sign_in_form"), 303)
    auth.sign_out(response)
    return response


# --- the overview -----------------------------------------------------------------------


def _depths() -> dict[str, int] | None:
    reader: DepthReader = current_app.extensions["ops_queue_depths"]
    try:
        return dict(reader())
    except Exception as exc:  # the page still shows the rest; the section says why
        log.warning("ops_queue_depths_unavailable", error=str(exc))
        return None


def _count_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else None


@bp.get("")
def overview() -> BaseResponse:
    session = auth.current_session()
    if session is None:
        return redirect(url_for("ops.sign_in_form"), 303)
    depths = _depths()
    with session_scope(settings(), write=False) as db:
        data = read_overview(db, settings(), session.actor.account_id, utcnow(), depths)
    page = render_template(
        "ops/overview.html",
        ov=data,
        csrf=session.csrf,
        queue_chart=None if data.queues is None else charts.queue_chart(data.queues),
        lag_chart=charts.lag_chart(data.lags),
        late_seconds=charts.LATE_SECONDS,
        notice={
            "replayed": _count_arg("replayed"),
            "webhook": _count_arg("webhook"),
            "enabled": _count_arg("enabled"),
        },
        when=_when,
        took=charts.seconds_label,
    )
    return make_response(page)


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# --- the writes -------------------------------------------------------------------------


def _written(event: str, actor: Actor, **data: int) -> None:
    """Who changed what from the page: the log is its audit trail."""
    log.info(event, account_id=actor.account_id, person_id=actor.person_id, **data)


@bp.post("/deliveries/replay")
def replay_all() -> BaseResponse:
    """``tasks-service timers retry-dead SLUG``: every dead delivery of the account."""
    actor = _signed_in().actor
    with session_scope(settings()) as db:
        count = delivery.do_retry_dead(db, actor.account_id)
    _written("ops_replayed", actor, count=count)
    return redirect(url_for("ops.overview", replayed=count), 303)


@bp.post("/webhooks/<id:webhook_id>/replay")
def replay_webhook(webhook_id: int) -> BaseResponse:
    """``tasks-service timers retry-dead SLUG --webhook ID``."""
    actor = _signed_in().actor
    with session_scope(settings()) as db:
        count = delivery.do_retry_dead(db, actor.account_id, webhook_id)
    _written("ops_replayed", actor, count=count, webhook_id=webhook_id)
    return redirect(url_for("ops.overview", replayed=count, webhook=webhook_id), 303)


@bp.post("/webhooks/<id:webhook_id>/enable")
def enable_webhook(webhook_id: int) -> BaseResponse:
    """``PATCH /v1/webhooks/ID {"disabled": false}``: enabled again, a fresh start."""
    actor = _signed_in().actor
    change = validate(WebhookUpdate, {"disabled": False})
    with session_scope(settings()) as db:
        webhooks.do_update_webhook(db, settings(), actor.account_id, webhook_id, change)
    _written("ops_webhook_enabled", actor, webhook_id=webhook_id)
    return redirect(url_for("ops.overview", enabled=webhook_id), 303)
