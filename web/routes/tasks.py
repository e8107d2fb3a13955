"""Tasks (002), standalone (001) or in a workflow; their notes, labels, events and
escalations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from tasks_service.core.errors import NotFound
from tasks_service.querying import lists, resources
from tasks_service.querying.serializers.policies import serialize_escalations
from tasks_service.querying.serializers.tasks import (
    serialize_events,
    serialize_labels,
    serialize_notes,
    serialize_task,
    serialize_tasks,
)
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task
from tasks_service.store.schemas import trackops
from tasks_service.store.schemas.tasks import (
    MAX_LABEL_LENGTH,
    NOTE_READONLY,
    TASK_READONLY,
    TASK_UPDATE_READONLY,
    LabelsAdd,
    NoteCreate,
    PredecessorCreate,
    SuccessorCreate,
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
from web.submit import payload, submit

bp = Blueprint("tasks", __name__)


@bp.post("/tasks")
def create_task() -> Response:
    return submit("task.create", task_create_payload())


def task_create_payload(readonly: frozenset[str] = TASK_READONLY, **extra: Any) -> dict[str, Any]:
    """A create body, ``{...}`` or ``{"task": {...}}``, 4me's or Trackops' (``title``,
    ``users_list``...: ``store.schemas.trackops``), held to its shape, as an operation's
    payload (with the names the client sent, for a refusal by the command)."""
    body = json_body("task")
    data = trackops.validate_create(body, readonly)
    named = trackops.sent_as(body)
    return payload(data, **extra, **({"sent_as": named} if named else {}))


def task_page(
    workflow_id: int | None = None,
    view: str | None = None,
    linked: tuple[str, int] | None = None,
) -> Response:
    """A page of the account's tasks (or a workflow's, a predefined filter's, or a
    task's predecessors or successors: ``linked``), filtered, sorted and paged as asked."""
    query = list_query(resources.TASK_QUERY, resources.TASK_TRACKOPS)
    condition = resources.TASK_VIEWS[view](actor().person_id) if view else None
    with session_scope(settings(), write=False) as session:
        if linked is not None:
            direction, task_id = linked
            lookups.get(session, Task, actor().account_id, task_id)
            condition = resources.TASK_LINKS[direction](task_id)
        page = lists.list_tasks(
            session, actor().account_id, query, workflow_id=workflow_id, view=condition
        )
        return page_response(page, serialize_tasks(session, page.items))


@bp.get("/tasks")
def list_tasks() -> Response:
    return task_page()


@bp.get(f"/tasks/<any({', '.join(resources.TASK_VIEWS)}):view>")
def list_task_view(view: str) -> Response:
    """002's predefined filters: /tasks/open, /tasks/assigned_to_me, ..."""
    return task_page(view=view)


@bp.get("/tasks/<id:task_id>")
def get_task(task_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        task = lookups.get(session, Task, actor().account_id, task_id)
        return json_response(serialize_task(session, task))


@bp.route("/tasks/<id:task_id>", methods=["PATCH", "PUT"])
def update_task(task_id: int) -> Response:
    data = trackops.validate_update(json_body("task"), TASK_UPDATE_READONLY)
    return submit("task.update", payload(data), target_id=task_id)


@bp.get("/tasks/<id:task_id>/<any(predecessors, successors):direction>")
def list_linked(task_id: int, direction: str) -> Response:
    """The tasks before (or after) this one in its workflow's plan."""
    return task_page(linked=(direction, task_id))


_LINK_BODIES: dict[str, type[PredecessorCreate] | type[SuccessorCreate]] = {
    "predecessors": PredecessorCreate,
    "successors": SuccessorCreate,
}


@bp.post("/tasks/<id:task_id>/<any(predecessors, successors):direction>")
def add_link(task_id: int, direction: str) -> Response:
    """Body ``{"predecessor_id": N}`` (or ``successor_id``); answers with that task."""
    model = _LINK_BODIES[direction]
    data = parse_body(model, frozenset())
    other_id = getattr(data, f"{direction[:-1]}_id")
    return _link("task.link", task_id, other_id, direction)


@bp.post("/tasks/<id:task_id>/<any(predecessors, successors):direction>/<id:other_id>")
def add_link_in_path(task_id: int, direction: str, other_id: int) -> Response:
    """4me's form of adding a link: the other task in the path, no body."""
    return _link("task.link", task_id, other_id, direction)


@bp.delete("/tasks/<id:task_id>/<any(predecessors, successors):direction>/<id:other_id>")
def remove_link(task_id: int, direction: str, other_id: int) -> Response:
    """204; a 404 when the two are not linked."""
    return _link("task.unlink", task_id, other_id, direction)


def _link(kind: str, task_id: int, other_id: int, direction: str) -> Response:
    body = {"other_id": other_id, "direction": direction[:-1]}
    return submit(kind, body, target_id=task_id)


@bp.get("/tasks/<id:task_id>/notes")
def list_notes(task_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        query = list_query(resources.NOTE_QUERY)
        page = lists.list_notes(session, actor().account_id, task_id, query)
        return page_response(page, serialize_notes(session, page.items))


@bp.post("/tasks/<id:task_id>/notes")
def add_note(task_id: int) -> Response:
    data = parse_body(NoteCreate, NOTE_READONLY, wrapper="note")
    return submit("task.add_note", payload(data), target_id=task_id)


@bp.post("/tasks/<id:task_id>/labels")
def add_labels(task_id: int) -> Response:
    data = parse_body(LabelsAdd)
    return submit("task.add_labels", payload(data), target_id=task_id)


@bp.get("/tasks/<id:task_id>/labels")
def list_labels(task_id: int) -> Response:
    query = list_query(resources.LABEL_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_labels(session, actor().account_id, task_id, query)
        return page_response(page, serialize_labels(page.items))


# ``path``: every name, also one stored before label names were declared with a ``/``
# in it (``a/b`` or ``a%2Fb``); a name the task does not have changes nothing.
@bp.delete("/tasks/<id:task_id>/labels/<path:name>")
def remove_label(task_id: int, name: str) -> Response:
    if len(name) > MAX_LABEL_LENGTH or not name.isprintable():
        raise NotFound("no such label: no label has a name like that")
    return submit("task.remove_label", {"name": name}, target_id=task_id)


@bp.get("/tasks/<id:task_id>/events")
def list_events(task_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        query = list_query(resources.EVENT_QUERY)
        page = lists.list_events(session, actor().account_id, task_id, query)
        return page_response(page, serialize_events(session, page.items))


@bp.get("/tasks/<id:task_id>/escalations")
def task_escalations(task_id: int) -> Response:
    """The escalation levels that fired for the task (``schedule.escalation``)."""
    query = list_query(resources.TASK_ESCALATION_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_task_escalations(session, actor().account_id, task_id, query)
        return page_response(page, serialize_escalations(session, page.items))
