"""Operations: where a durable command stands (``Location`` of a 202)."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.querying.serializers.operations import serialize_operation
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation
from web.http import actor, json_response, settings

bp = Blueprint("operations", __name__)


@bp.get("/operations/<id:operation_id>")
def get_operation(operation_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        op = lookups.get(session, Operation, actor().account_id, operation_id)
        return json_response(serialize_operation(op))
