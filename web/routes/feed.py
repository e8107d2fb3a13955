"""Each person's own feed of notifications (``/people/me/notifications``)."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.notify import feed
from tasks_service.querying import lists, resources
from tasks_service.querying.serializers.messages import serialize_notification
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.messages import (
    NOTIFICATION_READONLY,
    NotificationsRead,
    NotificationUpdate,
)
from web.http import actor, json_response, list_query, page_response, parse_body, settings
from web.submit import idempotent

bp = Blueprint("feed", __name__)


@bp.get("/people/me/notifications")
def my_notifications() -> Response:
    """Newest first; ``?unread=true`` for the unread only; ``X-Unread-Count`` says how
    many are unread in all. Paged by ``before`` (an id) and ``per_page``, or as every
    list is (``resources.NOTIFICATION_QUERY``)."""
    who = actor()
    query = list_query(resources.NOTIFICATION_QUERY, resources.NOTIFICATION_PARAMETERS)
    with session_scope(settings(), write=False) as session:
        page = lists.list_notifications(session, who.person_id, query)
        response = page_response(page, [serialize_notification(row) for row in page.items])
        response.headers["X-Unread-Count"] = str(feed.unread_count(session, who.person_id))
        return response


@bp.get("/people/me/notifications/unread_count")
def my_unread_count() -> Response:
    with session_scope(settings(), write=False) as session:
        return json_response({"unread": feed.unread_count(session, actor().person_id)})


@bp.route("/people/me/notifications/<id:notification_id>", methods=["PATCH", "PUT"])
@idempotent
def mark_notification(notification_id: int) -> Response:
    data = parse_body(NotificationUpdate, NOTIFICATION_READONLY)
    with session_scope(settings()) as session:
        who = actor()
        row = feed.do_mark(session, who.account_id, who.person_id, notification_id, data.read)
        return json_response(serialize_notification(row))


@bp.post("/people/me/notifications/read")
@idempotent
def mark_all_read() -> Response:
    parse_body(NotificationsRead)  # no fields: {"ids": [...]} is not a way to pick some
    with session_scope(settings()) as session:
        count = feed.do_mark_all_read(session, actor().person_id)
        return json_response({"marked_read": count})
