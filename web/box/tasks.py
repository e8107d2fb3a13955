"""Box's tasks (003): ``/2.0/tasks`` and a file's tasks. A Box task is a task with an
item (``commands.box_tasks``); the same task is under ``/v1`` in 4me's form."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.commands import box_tasks
from tasks_service.commands.assignment_rules import of_task
from tasks_service.core.errors import NotFound
from tasks_service.querying.serializers.box import (
    serialize_box_assignments,
    serialize_box_task,
    serialize_box_tasks,
)
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.box import (
    BOX_TASK_READONLY,
    BoxTaskCreate,
    BoxTaskUpdate,
    is_file_id,
)
from web.http import actor, json_response, parse_body, settings
from web.submit import payload, submit

bp = Blueprint("tasks", __name__)


@bp.post("/tasks")
def create_task() -> Response:
    """``{"item": {"type": "file", "id"}, "action", "message", "due_at", "completion_rule"}``."""
    data = parse_body(BoxTaskCreate, BOX_TASK_READONLY)
    return submit("task.create", payload(box_tasks.task_create_of(data), form="box"))


@bp.get("/tasks/<id:task_id>")
def get_task(task_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        task = box_tasks.get_box_task(session, actor().account_id, task_id)
        return json_response(serialize_box_task(session, task))


@bp.put("/tasks/<id:task_id>")
def update_task(task_id: int) -> Response:
    """``action``, ``message``, ``due_at``, ``completion_rule``: what is sent changes."""
    data = parse_body(BoxTaskUpdate, BOX_TASK_READONLY)
    with session_scope(settings(), write=False) as session:
        task = box_tasks.get_box_task(session, actor().account_id, task_id)
        change = box_tasks.task_update_of(task, data)
    return submit("task.update", payload(change, form="box"), target_id=task_id)


@bp.delete("/tasks/<id:task_id>")
def delete_task(task_id: int) -> Response:
    """204: the task is canceled and taken off its file (``do_delete_box_task``)."""
    return submit("task.box_delete", {}, target_id=task_id)


@bp.get("/tasks/<id:task_id>/assignments")
def list_task_assignments(task_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        box_tasks.get_box_task(session, actor().account_id, task_id)
        entries = serialize_box_assignments(session, of_task(session, task_id))
        return json_response({"total_count": len(entries), "entries": entries})


@bp.get("/files/<file_id>/tasks")
def list_file_tasks(file_id: str) -> Response:
    """The file's tasks, oldest first; Box pages none (the first 1,000 are shown,
    ``total_count`` counts them all)."""
    if not is_file_id(file_id):
        raise NotFound(f"no file {file_id[:64]!r}")
    with session_scope(settings(), write=False) as session:
        total, tasks = box_tasks.list_file_tasks(session, actor().account_id, file_id)
        return json_response({"total_count": total, "entries": serialize_box_tasks(session, tasks)})
