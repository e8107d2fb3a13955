"""Box's task assignments (003): ``/2.0/task_assignments``. An assignment is named by
its id alone (in the caller's account); its task is the operation's target. They are
the task's assignments under ``/v1`` too (a review task's approvals)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from tasks_service.commands import box_tasks
from tasks_service.querying.serializers.box import serialize_box_assignments
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.box import (
    BOX_ASSIGNMENT_READONLY,
    BoxAssignmentCreate,
    BoxAssignmentUpdate,
    row_id,
)
from web.http import actor, json_response, parse_body, settings
from web.submit import submit

bp = Blueprint("task_assignments", __name__)


@bp.post("/task_assignments")
def create_assignment() -> Response:
    """``{"task": {"id"}, "assign_to": {"id"} or {"login"}}``: one more person on the
    task (a review task's approver)."""
    data = parse_body(BoxAssignmentCreate, BOX_ASSIGNMENT_READONLY)
    task_id = row_id(data.task.id)
    with session_scope(settings(), write=False) as session:
        box_tasks.get_box_task(session, actor().account_id, task_id)
        if data.assign_to.login is not None:
            person_id = box_tasks.person_by_login(session, actor().account_id, data.assign_to.login)
            field = "assign_to.login"
        else:
            person_id, field = row_id(data.assign_to.id or ""), "assign_to.id"
    body = {"person_id": person_id, "field": field, "kind": None, "form": "box"}
    return submit("task.add_assignment", body, target_id=task_id)


def _task_of(assignment_id: int) -> int:
    with session_scope(settings(), write=False) as session:
        return box_tasks.get_box_assignment(session, actor().account_id, assignment_id).task_id


@bp.get("/task_assignments/<id:assignment_id>")
def get_assignment(assignment_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        row = box_tasks.get_box_assignment(session, actor().account_id, assignment_id)
        return json_response(serialize_box_assignments(session, [row])[0])


@bp.put("/task_assignments/<id:assignment_id>")
def update_assignment(assignment_id: int) -> Response:
    """``resolution_state`` (incomplete, approved or rejected on a review task;
    incomplete or completed on a complete task) and ``message``; a resolved assignment
    takes no change (400)."""
    data = parse_body(BoxAssignmentUpdate, BOX_ASSIGNMENT_READONLY)
    changes: dict[str, Any] = data.model_dump(mode="json", exclude_unset=True)
    body = {"assignment_id": assignment_id, "changes": changes, "form": "box"}
    return submit("task.box_update_assignment", body, target_id=_task_of(assignment_id))


@bp.delete("/task_assignments/<id:assignment_id>")
def delete_assignment(assignment_id: int) -> Response:
    """204: the person's undecided assignment is taken away."""
    body = {"assignment_id": assignment_id, "kind": None, "form": "box"}
    return submit("task.remove_assignment", body, target_id=_task_of(assignment_id))
