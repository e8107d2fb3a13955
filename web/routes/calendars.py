"""Calendars (issue 5); changes need the admin flag.

A change to a calendar's rules moves the targets of its open tasks: it is committed
with a recompute operation, handed to the workers after the commit; the response names
it in ``Operation-Location`` (``GET`` it for the progress).
"""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.identity.accounts import require_admin
from tasks_service.querying import lists, resources
from tasks_service.querying.serializers.calendars import serialize_calendar
from tasks_service.schedule import calendar_store
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Calendar
from tasks_service.store.schemas.calendars import (
    CALENDAR_READONLY,
    CalendarCreate,
    CalendarUpdate,
)
from web.http import actor, json_response, list_query, page_response, parse_body, settings
from web.submit import idempotent, respond_with_recompute

bp = Blueprint("calendars", __name__)


@bp.get("/calendars")
def list_calendars() -> Response:
    query = list_query(resources.CALENDAR_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_calendars(session, actor().account_id, query)
        return page_response(page, [serialize_calendar(c) for c in page.items])


@bp.post("/calendars")
@idempotent
def create_calendar() -> Response:
    require_admin(actor())
    data = parse_body(CalendarCreate, CALENDAR_READONLY, wrapper="calendar")
    with session_scope(settings()) as session:
        row = calendar_store.do_create_calendar(session, actor().account_id, data)
        return json_response(serialize_calendar(row), 201)


@bp.get("/calendars/<id:calendar_id>")
def get_calendar(calendar_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        row = lookups.get(session, Calendar, actor().account_id, calendar_id)
        return json_response(serialize_calendar(row))


@bp.route("/calendars/<id:calendar_id>", methods=["PATCH", "PUT"])
@idempotent
def update_calendar(calendar_id: int) -> Response:
    require_admin(actor())
    data = parse_body(CalendarUpdate, CALENDAR_READONLY, wrapper="calendar")
    who = actor()
    with session_scope(settings()) as session:
        row, op = calendar_store.do_update_calendar(
            session, who.account_id, calendar_id, data, who.person_id
        )
        body = serialize_calendar(row)
    return respond_with_recompute(body, op)
