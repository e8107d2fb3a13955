"""The kinds of durable command: what each targets, and how a worker applies it (one
call into the commands, and the resource it answers with)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from tasks_service.commands import (
    assignments,
    box_tasks,
    imports,
    instantiate,
    task_commands,
    workflows,
)
from tasks_service.core.assignments import AssignmentKind
from tasks_service.notify.outbox import Outbox
from tasks_service.querying.serializers.assignments import (
    serialize_approvals,
    serialize_work_assignments,
)
from tasks_service.querying.serializers.box import serialize_box_assignments, serialize_box_task
from tasks_service.querying.serializers.tasks import serialize_notes, serialize_task
from tasks_service.querying.serializers.workflows import serialize_workflow
from tasks_service.store.models import Operation, Task
from tasks_service.store.schemas.tasks import (
    LabelsAdd,
    NoteCreate,
    TaskUpdate,
    task_create_model,
)
from tasks_service.store.schemas.workflows import WorkflowUpdate, workflow_create_model

Apply = Callable[[Session, Outbox, Operation], dict[str, Any]]


@dataclass(frozen=True)
class OperationSpec:
    """A kind of operation: what it targets and how a worker applies it."""

    target_type: str | None
    apply: Apply
    creates: bool = False  # answered 201
    empty: bool = False  # answered 204, with no body


def _task_create(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    data = task_create_model(op.payload["data"]).model_validate(op.payload["data"])
    task = task_commands.do_create_task(
        session,
        outbox,
        op.account_id,
        op.person_id,
        data,
        workflow_id=op.payload.get("workflow_id"),
        operation_id=op.id,
        # a refused person is named as the client sent them (Trackops' ``users_list``)
        people_field=op.payload.get("sent_as", {}).get("assignee_ids", "assignee_ids"),
    )
    return _task_answer(session, outbox, op, task)


def _task_update(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    data = TaskUpdate.model_validate(op.payload["data"])
    task = task_commands.do_update_task(
        session, outbox, op.account_id, op.person_id, op.target_id or 0, data, operation_id=op.id
    )
    return _task_answer(session, outbox, op, task)


def _task_answer(session: Session, outbox: Outbox, op: Operation, task: Task) -> dict[str, Any]:
    """A created or changed task in the form the request used (``payload["form"]``):
    4me's (``/v1``, the default) or Box's (``"box"``, ``/2.0``)."""
    if op.payload.get("form") == "box":
        return serialize_box_task(session, task)
    return serialize_task(session, task, outbox.labels)


def _task_add_note(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    data = NoteCreate.model_validate(op.payload["data"])
    note = task_commands.do_add_note(
        session, op.account_id, op.person_id, op.target_id or 0, data.text, operation_id=op.id
    )
    return serialize_notes(session, [note])[0]


def _task_add_labels(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    data = LabelsAdd.model_validate(op.payload["data"])
    task = task_commands.do_add_labels(
        session,
        outbox,
        op.account_id,
        op.person_id,
        op.target_id or 0,
        data.names,
        operation_id=op.id,
    )
    return serialize_task(session, task, outbox.labels)


def _task_remove_label(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    task = task_commands.do_remove_label(
        session,
        outbox,
        op.account_id,
        op.person_id,
        op.target_id or 0,
        op.payload["name"],
        operation_id=op.id,
    )
    return serialize_task(session, task, outbox.labels)


def _task_link(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    """Adding a link answers with the task linked (4me's ``POST
    /tasks/:id/predecessors``); removing one with nothing (204)."""
    remove = op.kind == "task.unlink"
    other = task_commands.do_link_tasks(
        session,
        outbox,
        op.account_id,
        op.person_id,
        op.target_id or 0,
        op.payload["other_id"],
        op.payload["direction"],
        operation_id=op.id,
        remove=remove,
    )
    return {} if remove else serialize_task(session, other, outbox.labels)


#: How an assignment is answered with, by the form the request used: 4me's approval or
#: assignment (``/v1``), Box's task assignment (``/2.0``).
ASSIGNMENT_FORMS: dict[str, Callable[[Session, list[Any]], list[dict[str, Any]]]] = {
    "approval": serialize_approvals,
    "assignment": serialize_work_assignments,
    "box": serialize_box_assignments,
}


def _assignment_answer(session: Session, op: Operation, row: Any) -> dict[str, Any]:
    return ASSIGNMENT_FORMS[op.payload["form"]](session, [row])[0]


def _assignment_add(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    """``payload``: ``person_id`` (and ``field``, its name in the body), ``kind`` (the
    kind of task the route is for, or None), ``note``, ``planned_effort``, ``form``."""
    body = op.payload
    assignee = assignments.Assignee(
        body["person_id"],
        field=body.get("field", "person_id"),
        kind=_kind(op),
        note=body.get("note"),
        planned_effort=body.get("planned_effort"),
    )
    row = assignments.do_add_assignment(
        session, outbox, op.account_id, op.person_id, op.target_id or 0, assignee, op.id
    )
    return _assignment_answer(session, op, row)


def _assignment_update(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    """``payload``: ``assignment_id``, ``changes`` (``status``, ``note``,
    ``planned_effort``), ``form``."""
    row = assignments.do_update_assignment(
        session,
        outbox,
        op.account_id,
        op.person_id,
        op.target_id or 0,
        op.payload["assignment_id"],
        op.payload["changes"],
        op.id,
        _kind(op),
    )
    return _assignment_answer(session, op, row)


def _kind(op: Operation) -> AssignmentKind | None:
    kind = op.payload.get("kind")
    return AssignmentKind(kind) if kind else None


def _assignment_remove(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    assignments.do_remove_assignment(
        session,
        outbox,
        op.account_id,
        op.person_id,
        op.target_id or 0,
        op.payload["assignment_id"],
        op.id,
        _kind(op),
    )
    return {}


def _box_delete(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    """Box's ``DELETE /2.0/tasks/:id`` (``box_tasks.do_delete_box_task``): answered 204."""
    box_tasks.do_delete_box_task(
        session, outbox, op.account_id, op.person_id, op.target_id or 0, op.id
    )
    return {}


def _box_assignment_update(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    """``payload``: ``assignment_id``, ``changes`` (Box's ``resolution_state``,
    ``message``, as sent), ``form``."""
    row = box_tasks.do_update_box_assignment(
        session,
        outbox,
        op.account_id,
        op.person_id,
        op.target_id or 0,
        op.payload["assignment_id"],
        op.payload["changes"],
        op.id,
    )
    return _assignment_answer(session, op, row)


def _workflow_create(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    data = workflow_create_model(op.payload["data"]).model_validate(op.payload["data"])
    if data.template_id is None:
        workflow = workflows.do_create_workflow(session, op.account_id, op.person_id, data)
    else:
        workflow = instantiate.do_create_workflow_from_template(
            session, outbox, op.account_id, op.person_id, data, op.id
        )
    return serialize_workflow(session, workflow)


def _workflow_update(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    """A new calendar or policy records a recompute of the workflow's tasks; the
    recovery sweep hands it to the workers (a worker enqueues nothing itself)."""
    data = WorkflowUpdate.model_validate(op.payload["data"])
    workflow, _recompute = workflows.do_update_workflow(
        session, outbox, op.account_id, op.target_id or 0, data, op.person_id, op.id
    )
    return serialize_workflow(session, workflow)


KINDS: dict[str, OperationSpec] = {
    "task.create": OperationSpec(None, _task_create, creates=True),
    "task.update": OperationSpec("task", _task_update),
    "task.add_note": OperationSpec("task", _task_add_note, creates=True),
    "task.add_labels": OperationSpec("task", _task_add_labels),
    "task.remove_label": OperationSpec("task", _task_remove_label),
    "task.link": OperationSpec("task", _task_link),
    "task.unlink": OperationSpec("task", _task_link, empty=True),
    "task.add_assignment": OperationSpec("task", _assignment_add, creates=True),
    "task.update_assignment": OperationSpec("task", _assignment_update),
    "task.remove_assignment": OperationSpec("task", _assignment_remove, empty=True),
    "task.box_delete": OperationSpec("task", _box_delete, empty=True),
    "task.box_update_assignment": OperationSpec("task", _box_assignment_update),
    "task.import": OperationSpec(None, imports.apply_task_import, creates=True),
    "workflow.create": OperationSpec(None, _workflow_create, creates=True),
    "workflow.update": OperationSpec("workflow", _workflow_update),
}
