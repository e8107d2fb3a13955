"""Operations: where a durable command stands (``Location`` of a 202), and the list of
them (admins), e.g. ``?status=pending`` to see what waits to be applied."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.identity.accounts import require_admin
from tasks_service.querying.operations import OPERATION_QUERY, list_operations
from tasks_service.querying.serializers.operations import serialize_operation
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation
from web.http import actor, json_response, list_query, page_response, settings

bp = Blueprint("operations", __name__)


@bp.get("/operations")
def list_all() -> Response:
    require_admin(actor())
    query = list_query(OPERATION_QUERY)
    with session_scope(settings(), write=False) as session:
        page = list_operations(session, actor().account_id, query)
        return page_response(page, [serialize_operation(op) for op in page.items])


@bp.get("/operations/<id:operation_id>")
def get_operation(operation_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        op = lookups.get(session, Operation, actor().account_id, operation_id)
        return json_response(serialize_operation(op))
