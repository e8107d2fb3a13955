"""Escalation policies (admins change them)."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.identity.accounts import require_admin
from tasks_service.querying import lists, resources
from tasks_service.querying.serializers.policies import serialize_policy
from tasks_service.schedule import escalation
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import EscalationPolicy
from tasks_service.store.schemas.policies import (
    ESCALATION_POLICY_READONLY,
    EscalationPolicyCreate,
    EscalationPolicyUpdate,
)
from web.http import actor, json_response, list_query, page_response, parse_body, settings
from web.submit import idempotent, respond_with_recompute

bp = Blueprint("escalation_policies", __name__)
READONLY, WRAPPER = ESCALATION_POLICY_READONLY, "escalation_policy"


@bp.get("/escalation_policies")
def list_policies() -> Response:
    query = list_query(resources.ESCALATION_POLICY_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_escalation_policies(session, actor().account_id, query)
        return page_response(page, [serialize_policy(row) for row in page.items])


@bp.post("/escalation_policies")
@idempotent
def create_policy() -> Response:
    require_admin(actor())
    data = parse_body(EscalationPolicyCreate, READONLY, wrapper=WRAPPER)
    with session_scope(settings()) as session:
        row = escalation.do_create_policy(session, actor().account_id, data)
        return json_response(serialize_policy(row), 201)


@bp.get("/escalation_policies/<id:policy_id>")
def get_policy(policy_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        row = lookups.get(session, EscalationPolicy, actor().account_id, policy_id)
        return json_response(serialize_policy(row))


@bp.route("/escalation_policies/<id:policy_id>", methods=["PATCH", "PUT"])
@idempotent
def update_policy(policy_id: int) -> Response:
    """A change to the levels re-plans the levels of the account's open tasks in the
    background (an operation, as for a calendar change)."""
    require_admin(actor())
    data = parse_body(EscalationPolicyUpdate, READONLY, wrapper=WRAPPER)
    who = actor()
    with session_scope(settings()) as session:
        row, op = escalation.do_update_policy(
            session, who.account_id, policy_id, data, who.person_id
        )
        body = serialize_policy(row)
    return respond_with_recompute(body, op)
