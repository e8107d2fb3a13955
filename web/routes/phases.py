"""A workflow's phases (4me's ``/workflows/:id/phases``).

Everyone in the account reads them; the workflow's manager or an administrator
changes them (``commands.phases.may_plan``). The writes are small and synchronous, as
for teams: they move no task, so they need no operation on the command queue.
"""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.commands import phases
from tasks_service.querying import lists, plan_resources
from tasks_service.querying.serializers.phases import serialize_phase, serialize_phases
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.phases import PHASE_READONLY, PhaseCreate, PhaseUpdate
from web.http import actor, json_response, list_query, page_response, parse_body, settings
from web.submit import idempotent

bp = Blueprint("phases", __name__)


@bp.get("/workflows/<id:workflow_id>/phases")
def list_phases(workflow_id: int) -> Response:
    query = list_query(plan_resources.PHASE_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_phases(session, actor().account_id, workflow_id, query)
        return page_response(page, serialize_phases(session, page.items))


@bp.post("/workflows/<id:workflow_id>/phases")
@idempotent
def create_phase(workflow_id: int) -> Response:
    data = parse_body(PhaseCreate, PHASE_READONLY, wrapper="phase")
    who = actor()
    with session_scope(settings()) as session:
        phase = phases.do_create_phase(session, who.account_id, workflow_id, data, actor=who)
        return json_response(serialize_phase(session, phase), 201)


@bp.get("/workflows/<id:workflow_id>/phases/<id:phase_id>")
def get_phase(workflow_id: int, phase_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        phase = phases.get_phase(session, actor().account_id, workflow_id, phase_id)
        return json_response(serialize_phase(session, phase))


@bp.route("/workflows/<id:workflow_id>/phases/<id:phase_id>", methods=["PATCH", "PUT"])
@idempotent
def update_phase(workflow_id: int, phase_id: int) -> Response:
    data = parse_body(PhaseUpdate, PHASE_READONLY, wrapper="phase")
    who = actor()
    with session_scope(settings()) as session:
        phase = phases.do_update_phase(
            session, who.account_id, workflow_id, phase_id, data, actor=who
        )
        return json_response(serialize_phase(session, phase))


@bp.delete("/workflows/<id:workflow_id>/phases/<id:phase_id>")
@idempotent
def delete_phase(workflow_id: int, phase_id: int) -> Response:
    who = actor()
    with session_scope(settings()) as session:
        phases.do_delete_phase(session, who.account_id, workflow_id, phase_id, actor=who)
    return Response(status=204)
