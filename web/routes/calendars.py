"""Calendars (issue 5) and the account's default calendar; changes need the admin flag.

A change that moves targets (a calendar's rules, the calendar a team or the account
uses) is committed with a recompute operation, handed to the workers after the commit;
the response names it in ``Operation-Location`` (``GET`` it for the progress).
"""

from __future__ import annotations

import structlog
from flask import Blueprint, Response, current_app

from tasks_service import calendar_store, identity, queries, recompute
from tasks_service.db import session_scope
from tasks_service.models import Operation
from tasks_service.schemas import (
    ACCOUNT_READONLY,
    CALENDAR_READONLY,
    AccountUpdate,
    CalendarCreate,
    CalendarUpdate,
)
from tasks_service.serializers import serialize_account, serialize_calendar
from web.http import actor, json_response, list_query, page_response, parse_body, settings

bp = Blueprint("calendars", __name__)
log = structlog.get_logger(__name__)


def respond_with_recompute(body: object, op: Operation | None) -> Response:
    """The response to a change; hands its recompute (if any) to the workers. If the
    broker is down the operation stays pending and the recovery sweep sends it."""
    if op is None:
        return json_response(body)
    try:
        current_app.extensions["submitter"].submit_fanout(op.id)
    except Exception as exc:
        log.warning("enqueue_failed", operation_id=op.id, error=str(exc).splitlines()[0])
    return json_response(body, headers={"Operation-Location": f"/v1/operations/{op.id}"})


@bp.get("/calendars")
def list_calendars() -> Response:
    query = list_query(queries.CALENDAR_QUERY)
    with session_scope(settings(), write=False) as session:
        page = queries.list_calendars(session, actor().account_id, query)
        return page_response(page, [serialize_calendar(c) for c in page.items])


@bp.post("/calendars")
def create_calendar() -> Response:
    identity.require_admin(actor())
    data = parse_body(CalendarCreate, CALENDAR_READONLY, wrapper="calendar")
    with session_scope(settings()) as session:
        row = calendar_store.do_create_calendar(session, actor().account_id, data)
        return json_response(serialize_calendar(row), 201)


@bp.get("/calendars/<id:calendar_id>")
def get_calendar(calendar_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        row = calendar_store.get_calendar(session, actor().account_id, calendar_id)
        return json_response(serialize_calendar(row))


@bp.route("/calendars/<id:calendar_id>", methods=["PATCH", "PUT"])
def update_calendar(calendar_id: int) -> Response:
    identity.require_admin(actor())
    data = parse_body(CalendarUpdate, CALENDAR_READONLY, wrapper="calendar")
    who = actor()
    with session_scope(settings()) as session:
        row, moved = calendar_store.do_update_calendar(session, who.account_id, calendar_id, data)
        op = (
            recompute.do_request_recompute(
                session, who.account_id, who.person_id, {"calendar_id": calendar_id}
            )
            if moved
            else None
        )
        body = serialize_calendar(row)
    return respond_with_recompute(body, op)


@bp.get("/account")
def get_account() -> Response:
    with session_scope(settings(), write=False) as session:
        account = identity.get_account_by_id(session, actor().account_id)
        return json_response(serialize_account(session, account))


@bp.route("/account", methods=["PATCH", "PUT"])
def update_account() -> Response:
    identity.require_admin(actor())
    data = parse_body(AccountUpdate, ACCOUNT_READONLY, wrapper="account")
    who = actor()
    with session_scope(settings()) as session:
        before = recompute.movers(identity.get_account_by_id(session, who.account_id))
        account = identity.do_update_account(session, who.account_id, data)
        op = recompute.do_request_if_moved(session, account, before, who.person_id, {})
        body = serialize_account(session, account)
    return respond_with_recompute(body, op)
