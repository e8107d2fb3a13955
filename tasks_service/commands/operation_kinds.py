"""The kinds of durable command: what each targets, and how a worker applies it (one
call into the commands, and the resource it answers with)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from tasks_service.commands import instantiate, task_commands, workflows
from tasks_service.notify.outbox import Outbox
from tasks_service.querying.serializers.tasks import serialize_notes, serialize_task
from tasks_service.querying.serializers.workflows import serialize_workflow
from tasks_service.store.models import Operation
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
    )
    return serialize_task(session, task, outbox.labels)


def _task_update(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    data = TaskUpdate.model_validate(op.payload["data"])
    task = task_commands.do_update_task(
        session, outbox, op.account_id, op.person_id, op.target_id or 0, data, operation_id=op.id
    )
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
    "workflow.create": OperationSpec(None, _workflow_create, creates=True),
    "workflow.update": OperationSpec("workflow", _workflow_update),
}
