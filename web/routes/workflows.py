"""Workflows (002) and the tasks in them."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.core.validation import validate
from tasks_service.querying import lists, resources
from tasks_service.querying.serializers.workflows import serialize_workflow, serialize_workflows
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Workflow
from tasks_service.store.schemas.tasks import TASK_READONLY
from tasks_service.store.schemas.workflows import (
    WORKFLOW_READONLY,
    WorkflowUpdate,
    workflow_create_model,
)
from web.http import (
    actor,
    json_body,
    json_response,
    list_query,
    page_response,
    parse_body,
    settings,
)
from web.routes.tasks import task_create_payload, task_page
from web.submit import payload, submit

bp = Blueprint("workflows", __name__)


@bp.post("/workflows")
def create_workflow() -> Response:
    body = json_body("workflow")
    data = validate(workflow_create_model(body), body, WORKFLOW_READONLY)
    return submit("workflow.create", payload(data))


@bp.get("/workflows")
def list_workflows(view: str | None = None) -> Response:
    query = list_query(resources.WORKFLOW_QUERY)
    condition = resources.WORKFLOW_VIEWS[view](actor().person_id) if view else None
    with session_scope(settings(), write=False) as session:
        page = lists.list_workflows(session, actor().account_id, query, view=condition)
        return page_response(page, serialize_workflows(session, page.items))


@bp.get(f"/workflows/<any({', '.join(resources.WORKFLOW_VIEWS)}):view>")
def list_workflow_view(view: str) -> Response:
    """002's predefined filters: /workflows/open, /completed, /managed_by_me."""
    return list_workflows(view)


@bp.get("/workflows/<id:workflow_id>")
def get_workflow(workflow_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        workflow = lookups.get(session, Workflow, actor().account_id, workflow_id)
        return json_response(serialize_workflow(session, workflow))


@bp.route("/workflows/<id:workflow_id>", methods=["PATCH", "PUT"])
def update_workflow(workflow_id: int) -> Response:
    data = parse_body(WorkflowUpdate, WORKFLOW_READONLY, wrapper="workflow")
    return submit("workflow.update", payload(data), target_id=workflow_id)


@bp.get("/workflows/<id:workflow_id>/tasks")
def list_workflow_tasks(workflow_id: int) -> Response:
    return task_page(workflow_id)


@bp.post("/workflows/<id:workflow_id>/tasks")
def create_workflow_task(workflow_id: int) -> Response:
    body = task_create_payload(TASK_READONLY | {"workflow_id"}, workflow_id=workflow_id)
    with session_scope(settings(), write=False) as session:
        lookups.get(session, Workflow, actor().account_id, workflow_id)  # 404 before accepting
    return submit("task.create", body)
