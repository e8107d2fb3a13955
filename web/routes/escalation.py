"""Escalation policies (admins), a task's escalations, and each person's own feed of
notifications and opt-outs (issue 6)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from tasks_service import commands, escalation, feed, identity, recompute
from tasks_service.db import session_scope
from tasks_service.schemas import (
    ESCALATION_POLICY_READONLY,
    PERSON_READONLY,
    EscalationPolicyCreate,
    EscalationPolicyUpdate,
    NotificationPreferences,
    NotificationUpdate,
)
from tasks_service.serializers import (
    serialize_escalations,
    serialize_notification,
    serialize_person,
    serialize_policy,
)
from web.http import actor, int_arg, json_response, parse_body, settings
from web.routes.calendars import respond_with_recompute

bp = Blueprint("escalation", __name__)
READONLY, WRAPPER = ESCALATION_POLICY_READONLY, "escalation_policy"


@bp.get("/escalation_policies")
def list_policies() -> Response:
    with session_scope(settings(), write=False) as session:
        rows = escalation.list_policies(session, actor().account_id)
        return json_response([serialize_policy(row) for row in rows])


@bp.post("/escalation_policies")
def create_policy() -> Response:
    identity.require_admin(actor())
    data = parse_body(EscalationPolicyCreate, READONLY, wrapper=WRAPPER)
    with session_scope(settings()) as session:
        row = escalation.do_create_policy(session, actor().account_id, data)
        return json_response(serialize_policy(row), 201)


@bp.get("/escalation_policies/<id:policy_id>")
def get_policy(policy_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        return json_response(
            serialize_policy(escalation.get_policy(session, actor().account_id, policy_id))
        )


@bp.route("/escalation_policies/<id:policy_id>", methods=["PATCH", "PUT"])
def update_policy(policy_id: int) -> Response:
    """A change to the levels re-plans the levels of the account's open tasks in the
    background (an operation, as for a calendar change)."""
    identity.require_admin(actor())
    data = parse_body(EscalationPolicyUpdate, READONLY, wrapper=WRAPPER)
    who = actor()
    with session_scope(settings()) as session:
        row, timing = escalation.do_update_policy(session, who.account_id, policy_id, data)
        op = (
            recompute.do_request_recompute(session, who.account_id, who.person_id, {})
            if timing
            else None
        )
        body = serialize_policy(row)
    return respond_with_recompute(body, op)


@bp.get("/tasks/<id:task_id>/escalations")
def task_escalations(task_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        commands.lock_task(session, actor().account_id, task_id)  # 404 for another's
        rows = escalation.escalations_of(session, task_id)
        return json_response(serialize_escalations(session, rows))


# --- the person's own feed -------------------------------------------------------------


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
    data = parse_body(NotificationUpdate, frozenset({"id", "event", "created_at"}))
    with session_scope(settings()) as session:
        row = feed.do_mark(session, actor().person_id, notification_id, data.read)
        return json_response(serialize_notification(row))


@bp.post("/people/me/notifications/read")
def mark_all_read() -> Response:
    with session_scope(settings()) as session:
        count = feed.do_mark_all_read(session, actor().person_id)
        return json_response({"marked_read": count})


@bp.route("/people/me", methods=["PATCH", "PUT"])
def update_me() -> Response:
    """What a person may change about themselves: their notification opt-outs."""
    data = parse_body(NotificationPreferences, PERSON_READONLY, wrapper="person")
    who = actor()
    with session_scope(settings()) as session:
        person = feed.do_set_opt_outs(session, who.account_id, who.person_id, data)
        return json_response(serialize_person(person))
