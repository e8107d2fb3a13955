"""The caller's account: its name, default calendar and default escalation policy
(admins change them; a new default recomputes the open tasks it moves)."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.identity.accounts import do_update_account, require_admin
from tasks_service.querying.serializers.directory import serialize_account
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.directory import ACCOUNT_READONLY, AccountUpdate
from web.http import actor, json_response, parse_body, settings
from web.submit import idempotent, respond_with_recompute

bp = Blueprint("account", __name__)


@bp.get("/account")
def get_account() -> Response:
    with session_scope(settings(), write=False) as session:
        account = lookups.get_account(session, actor().account_id)
        return json_response(serialize_account(session, account))


@bp.route("/account", methods=["PATCH", "PUT"])
@idempotent
def update_account() -> Response:
    require_admin(actor())
    data = parse_body(AccountUpdate, ACCOUNT_READONLY, wrapper="account")
    who = actor()
    with session_scope(settings()) as session:
        account, op = do_update_account(session, who.account_id, data, who.person_id)
        body = serialize_account(session, account)
    return respond_with_recompute(body, op)
