"""Task templates and workflow templates (4me); changes need the admin flag."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.commands import templates
from tasks_service.identity import accounts
from tasks_service.querying import lists, plan_resources
from tasks_service.querying.serializers.templates import (
    serialize_task_template,
    serialize_task_templates,
    serialize_workflow_template,
    serialize_workflow_templates,
)
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.templates import (
    TASK_TEMPLATE_READONLY,
    WORKFLOW_TEMPLATE_READONLY,
    TaskTemplateCreate,
    TaskTemplateUpdate,
    WorkflowTemplateCreate,
    WorkflowTemplateUpdate,
)
from web.http import actor, json_response, list_query, page_response, parse_body, settings
from web.submit import idempotent

bp = Blueprint("templates", __name__)


@bp.get("/task_templates")
def list_task_templates() -> Response:
    query = list_query(plan_resources.TASK_TEMPLATE_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_task_templates(session, actor().account_id, query)
        return page_response(page, serialize_task_templates(session, page.items))


@bp.post("/task_templates")
@idempotent
def create_task_template() -> Response:
    accounts.require_admin(actor())
    data = parse_body(TaskTemplateCreate, TASK_TEMPLATE_READONLY, wrapper="task_template")
    with session_scope(settings()) as session:
        template = templates.do_create_task_template(session, actor().account_id, data)
        return json_response(serialize_task_template(session, template), 201)


@bp.get("/task_templates/<id:template_id>")
def get_task_template(template_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        template = templates.get_task_template(session, actor().account_id, template_id)
        return json_response(serialize_task_template(session, template))


@bp.route("/task_templates/<id:template_id>", methods=["PATCH", "PUT"])
@idempotent
def update_task_template(template_id: int) -> Response:
    accounts.require_admin(actor())
    data = parse_body(TaskTemplateUpdate, TASK_TEMPLATE_READONLY, wrapper="task_template")
    with session_scope(settings()) as session:
        template = templates.do_update_task_template(session, actor().account_id, template_id, data)
        return json_response(serialize_task_template(session, template))


@bp.get("/workflow_templates")
def list_workflow_templates() -> Response:
    query = list_query(plan_resources.WORKFLOW_TEMPLATE_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_workflow_templates(session, actor().account_id, query)
        return page_response(page, serialize_workflow_templates(page.items))


@bp.post("/workflow_templates")
@idempotent
def create_workflow_template() -> Response:
    accounts.require_admin(actor())
    data = parse_body(
        WorkflowTemplateCreate, WORKFLOW_TEMPLATE_READONLY, wrapper="workflow_template"
    )
    with session_scope(settings()) as session:
        template = templates.do_create_workflow_template(session, actor().account_id, data)
        return json_response(serialize_workflow_template(template), 201)


@bp.get("/workflow_templates/<id:template_id>")
def get_workflow_template(template_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        template = templates.get_workflow_template(session, actor().account_id, template_id)
        return json_response(serialize_workflow_template(template))


@bp.route("/workflow_templates/<id:template_id>", methods=["PATCH", "PUT"])
@idempotent
def update_workflow_template(template_id: int) -> Response:
    accounts.require_admin(actor())
    data = parse_body(
        WorkflowTemplateUpdate, WORKFLOW_TEMPLATE_READONLY, wrapper="workflow_template"
    )
    with session_scope(settings()) as session:
        template = templates.do_update_workflow_template(
            session, actor().account_id, template_id, data
        )
        return json_response(serialize_workflow_template(template))
