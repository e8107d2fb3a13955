"""A task's people, each with their own part (``core.assignments``), in 4me's forms:
an approval task's approvals (``/tasks/:id/approvals``), another task's assignees
(``/tasks/:id/assignments``). The decisions themselves are made by the approver on the
task (``PATCH /tasks/:id {"status": "approved"}``) or on the assignment's state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import Blueprint, Response

from tasks_service.commands.assignments import get_assignment
from tasks_service.core.assignments import AssignmentKind, AssignmentStatus
from tasks_service.core.validation import provided
from tasks_service.querying.assignment_resources import (
    APPROVAL_QUERY,
    ASSIGNMENT_QUERY,
    list_assignments,
)
from tasks_service.querying.serializers.assignments import (
    serialize_approvals,
    serialize_work_assignments,
)
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task, TaskAssignment
from tasks_service.store.schemas.assignments import (
    APPROVAL_READONLY,
    ASSIGNMENT_READONLY,
    ApprovalCreate,
    ApprovalUpdate,
    AssignmentCreate,
    AssignmentUpdate,
    WorkState,
)
from web.http import actor, json_response, list_query, page_response, parse_body, settings
from web.submit import submit

bp = Blueprint("assignments", __name__)

Serialize = Callable[[Any, Sequence[TaskAssignment]], list[dict[str, Any]]]
_FORMS: dict[str, tuple[AssignmentKind, Serialize]] = {
    "approval": (AssignmentKind.approval, serialize_approvals),
    "assignment": (AssignmentKind.work, serialize_work_assignments),
}


def _page(task_id: int, form: str) -> Response:
    kind, serialize = _FORMS[form]
    query = list_query(APPROVAL_QUERY if form == "approval" else ASSIGNMENT_QUERY)
    with session_scope(settings(), write=False) as session:
        page = list_assignments(session, actor().account_id, task_id, query, kind)
        return page_response(page, serialize(session, page.items))


def _one(task_id: int, assignment_id: int, form: str) -> Response:
    kind, serialize = _FORMS[form]
    with session_scope(settings(), write=False) as session:
        task = lookups.get(session, Task, actor().account_id, task_id)
        row = get_assignment(session, task, assignment_id, kind)
        return json_response(serialize(session, [row])[0])


def _add(task_id: int, form: str, person_id: int, field: str, **more: Any) -> Response:
    kind = _FORMS[form][0]
    body = {"person_id": person_id, "field": field, "kind": kind, "form": form, **more}
    return submit("task.add_assignment", body, target_id=task_id)


def _change(task_id: int, assignment_id: int, form: str, changes: dict[str, Any]) -> Response:
    body = {
        "assignment_id": assignment_id,
        "changes": changes,
        "kind": _FORMS[form][0],
        "form": form,
    }
    return submit("task.update_assignment", body, target_id=task_id)


def _remove(task_id: int, assignment_id: int, form: str) -> Response:
    body = {"assignment_id": assignment_id, "kind": _FORMS[form][0], "form": form}
    return submit("task.remove_assignment", body, target_id=task_id)


@bp.get("/tasks/<id:task_id>/approvals")
def list_approvals(task_id: int) -> Response:
    return _page(task_id, "approval")


@bp.post("/tasks/<id:task_id>/approvals")
def add_approval(task_id: int) -> Response:
    """Body ``{"approver_id": N}`` (with ``note``, ``planned_effort``)."""
    data = parse_body(ApprovalCreate, APPROVAL_READONLY, wrapper="approval")
    return _add(
        task_id,
        "approval",
        data.approver_id,
        "approver_id",
        note=data.note,
        planned_effort=data.planned_effort,
    )


@bp.get("/tasks/<id:task_id>/approvals/<id:approval_id>")
def get_approval(task_id: int, approval_id: int) -> Response:
    return _one(task_id, approval_id, "approval")


@bp.route("/tasks/<id:task_id>/approvals/<id:approval_id>", methods=["PATCH", "PUT"])
def update_approval(task_id: int, approval_id: int) -> Response:
    data = parse_body(ApprovalUpdate, APPROVAL_READONLY, wrapper="approval")
    return _change(task_id, approval_id, "approval", provided(data))


@bp.delete("/tasks/<id:task_id>/approvals/<id:approval_id>")
def remove_approval(task_id: int, approval_id: int) -> Response:
    return _remove(task_id, approval_id, "approval")


@bp.get("/tasks/<id:task_id>/assignments")
def list_work_assignments(task_id: int) -> Response:
    return _page(task_id, "assignment")


@bp.post("/tasks/<id:task_id>/assignments")
def add_work_assignment(task_id: int) -> Response:
    """Body ``{"person_id": N}`` (with ``message``)."""
    data = parse_body(AssignmentCreate, ASSIGNMENT_READONLY, wrapper="assignment")
    return _add(task_id, "assignment", data.person_id, "person_id", note=data.message)


@bp.get("/tasks/<id:task_id>/assignments/<id:assignment_id>")
def get_work_assignment(task_id: int, assignment_id: int) -> Response:
    return _one(task_id, assignment_id, "assignment")


@bp.route("/tasks/<id:task_id>/assignments/<id:assignment_id>", methods=["PATCH", "PUT"])
def update_work_assignment(task_id: int, assignment_id: int) -> Response:
    """``state``: ``completed`` (the person's decision) or ``incomplete``; ``message``."""
    data = parse_body(AssignmentUpdate, ASSIGNMENT_READONLY, wrapper="assignment")
    sent = provided(data)
    changes: dict[str, Any] = {}
    if "state" in sent:
        completed = sent["state"] == WorkState.completed
        changes["status"] = AssignmentStatus.completed if completed else AssignmentStatus.assigned
    if "message" in sent:
        changes["note"] = sent["message"]
    return _change(task_id, assignment_id, "assignment", changes)


@bp.delete("/tasks/<id:task_id>/assignments/<id:assignment_id>")
def remove_work_assignment(task_id: int, assignment_id: int) -> Response:
    return _remove(task_id, assignment_id, "assignment")
