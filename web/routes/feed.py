"""Each person's own feed of notifications (``/people/me/notifications``)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from tasks_service.notify import feed
from tasks_service.querying.serializers.messages import serialize_notification
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.messages import NOTIFICATION_READONLY, NotificationUpdate
from web.http import actor, int_arg, json_response, parse_body, settings

bp = Blueprint("feed", __name__)


@bp.get("/people/me/notifications")
def my_notifications() -> Response:
    """Newest first; ``?unread=true`` for the unread only; ``X-Unread-Count`` says how
    many are unread in all. Paged by ``before`` (an id) and ``per_page``."""
    who = actor()
    unread_only = request.args.get("unread", "false").lower() in ("true", "1")
    before = int_arg("before", 2**31 - 1, 1, 2**31 - 1)
    per_page = int_arg("per_page", 25, 1, 100)
    with session_scope(settings(), write=False) as session:
        rows = feed.notifications_of(session, who.person_id, unread_only, before, per_page)
        unread = feed.unread_count(session, who.person_id)
        return json_response(
            [serialize_notification(row) for row in rows],
            headers={"X-Unread-Count": str(unread)},
        )


@bp.get("/people/me/notifications/unread_count")
def my_unread_count() -> Response:
    with session_scope(settings(), write=False) as session:
        return json_response({"unread": feed.unread_count(session, actor().person_id)})


@bp.route("/people/me/notifications/<id:notification_id>", methods=["PATCH", "PUT"])
def mark_notification(notification_id: int) -> Response:
    data = parse_body(NotificationUpdate, NOTIFICATION_READONLY)
    with session_scope(settings()) as session:
        who = actor()
        row = feed.do_mark(session, who.account_id, who.person_id, notification_id, data.read)
        return json_response(serialize_notification(row))


@bp.post("/people/me/notifications/read")
def mark_all_read() -> Response:
    with session_scope(settings()) as session:
        count = feed.do_mark_all_read(session, actor().person_id)
        return json_response({"marked_read": count})
