"""Workflows that run themselves, for the in-process Python API (issue 15), in the
style of ``tasks_service.tasks``: the same commands as the REST workers, one
transaction per call. Workflows, phases and templates come back in their REST form
(dicts with the field names of ``README.md``); tasks as ``tasks.Task``. Select the
account first::

    from tasks_service import people, tasks, workflows

    with tasks.account("demo"):
        me = people.get_service_user()
        change = workflows.create_workflow("Replace the switch")
        order = tasks.create_task("Order", creator=me, assignee=me, workflow_id=change["id"])
        fit = tasks.create_task(
            "Fit", creator=me, assignee=me, workflow_id=change["id"], predecessor_ids=[order.id]
        )
        tasks.complete_task(order)  # fit is assigned in the same transaction
        workflows.complete_workflow(change, "withdrawn", note="Not needed after all")

A plan made once and used again is a workflow template of task templates
(``create_task_template``, ``create_workflow_template``); ``create_workflow(template=...)``
instantiates it whole.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from tasks_service.commands import instantiate, phases, recompute, task_commands, templates
from tasks_service.commands import workflows as workflow_commands
from tasks_service.context import current
from tasks_service.core.statuses import WorkflowCompletionReason, WorkflowStatus
from tasks_service.core.validation import validate
from tasks_service.identity.accounts import Actor
from tasks_service.notify.outbox import Outbox
from tasks_service.people import get_service_user
from tasks_service.querying.serializers.phases import serialize_phase, serialize_phases
from tasks_service.querying.serializers.templates import (
    serialize_task_template,
    serialize_workflow_template,
)
from tasks_service.querying.serializers.workflows import serialize_workflow
from tasks_service.store import lookups, models
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.phases import PhaseCreate
from tasks_service.store.schemas.templates import (
    TaskTemplateCreate,
    TaskTemplateUpdate,
    WorkflowTemplateCreate,
    WorkflowTemplateUpdate,
)
from tasks_service.store.schemas.workflows import WorkflowUpdate, workflow_create_model
from tasks_service.tasks import Task, get_task, list_tasks

__all__ = [
    "complete_workflow",
    "create_phase",
    "create_task_template",
    "create_workflow",
    "create_workflow_template",
    "get_workflow",
    "link_tasks",
    "list_phases",
    "predecessors_of",
    "successors_of",
    "unlink_tasks",
    "update_task_template",
    "update_workflow",
    "update_workflow_template",
    "workflow_tasks",
]

Ref = dict[str, Any] | int


def _id(thing: Ref | Task) -> int:
    if isinstance(thing, Task):
        return thing.id
    return int(thing["id"]) if isinstance(thing, dict) else thing


def _actor() -> Actor:
    """The service user (an administrator), who acts in the Python API."""
    return Actor(account_id=current().account_id, person_id=get_service_user().id, admin=True)


def create_workflow(
    subject: str | None = None, *, template: Ref | None = None, **fields: Any
) -> dict[str, Any]:
    """A new workflow (002 fields: category, manager_id, start_at, calendar_id...), or
    one made from a workflow ``template`` with its whole plan, its first tasks assigned
    (or at its ``start_at``). Raises: TaskValidationError."""
    ctx = current()
    body: dict[str, Any] = {**fields}
    if subject is not None:
        body["subject"] = subject
    if template is not None:
        body["template_id"] = _id(template)
    data = validate(workflow_create_model(body), body)
    person_id = get_service_user().id
    with session_scope(ctx.settings) as session:
        outbox = Outbox(ctx.settings)
        if data.template_id is None:
            row = workflow_commands.do_create_workflow(session, ctx.account_id, person_id, data)
        else:
            row = instantiate.do_create_workflow_from_template(
                session, outbox, ctx.account_id, person_id, data
            )
        return serialize_workflow(session, row)


def get_workflow(workflow: Ref) -> dict[str, Any]:
    """Raises: NotFound."""
    ctx = current()
    with session_scope(ctx.settings, write=False) as session:
        row = lookups.get(session, models.Workflow, ctx.account_id, _id(workflow))
        return serialize_workflow(session, row)


def update_workflow(workflow: Ref, **fields: Any) -> dict[str, Any]:
    """Change the workflow's fields (as ``PATCH /workflows/:id``); its open tasks'
    targets follow a new calendar in this process before the call returns.
    Raises: NotFound; TaskValidationError."""
    ctx = current()
    data = validate(WorkflowUpdate, fields)
    with session_scope(ctx.settings) as session:
        outbox = Outbox(ctx.settings)
        row, moved = workflow_commands.do_update_workflow(
            session, outbox, ctx.account_id, _id(workflow), data, get_service_user().id
        )
        answer = serialize_workflow(session, row)
    if moved is not None and moved.id is not None:
        recompute.run_inline(ctx.settings, moved.id)  # in this process, as policies do
    return answer


def complete_workflow(
    workflow: Ref, reason: str = WorkflowCompletionReason.complete, note: str | None = None
) -> dict[str, Any]:
    """Complete the workflow by hand: its open tasks are canceled, each with ``note``.
    Raises: NotFound; TaskValidationError."""
    fields: dict[str, Any] = {"status": WorkflowStatus.completed, "completion_reason": reason}
    if note is not None:
        fields["note"] = note
    return update_workflow(workflow, **fields)


def workflow_tasks(workflow: Ref) -> list[Task]:
    """The workflow's tasks, newest first. Raises: NotFound."""
    get_workflow(workflow)
    return list_tasks(query={"workflow": str(_id(workflow))})


def link_tasks(predecessor: Task | int, successor: Task | int) -> Task:
    """``successor`` waits for ``predecessor`` (both of one workflow; no cycle). Returns
    the successor as it is now. Raises: TaskNotFound; TaskValidationError."""
    return _relink(predecessor, successor, remove=False)


def unlink_tasks(predecessor: Task | int, successor: Task | int) -> Task:
    """The successor no longer waits for the predecessor (assigned if nothing else
    holds it). Raises: TaskNotFound; NotFound when they are not linked."""
    return _relink(predecessor, successor, remove=True)


def _relink(predecessor: Task | int, successor: Task | int, *, remove: bool) -> Task:
    ctx = current()
    with session_scope(ctx.settings) as session:
        task_commands.do_link_tasks(
            session,
            Outbox(ctx.settings),
            ctx.account_id,
            get_service_user().id,
            _id(successor),
            _id(predecessor),
            "predecessor",
            remove=remove,
        )
    return get_task(_id(successor))


def predecessors_of(task: Task | int) -> list[Task]:
    return [get_task(i) for i in get_task(_id(task)).predecessor_ids]


def successors_of(task: Task | int) -> list[Task]:
    return [get_task(i) for i in get_task(_id(task)).successor_ids]


def create_phase(workflow: Ref, name: str, position: int | None = None) -> dict[str, Any]:
    """Raises: NotFound; TaskValidationError (a name taken)."""
    ctx = current()
    body: dict[str, Any] = {"name": name}
    if position is not None:
        body["position"] = position
    data = validate(PhaseCreate, body)
    with session_scope(ctx.settings) as session:
        row = phases.do_create_phase(session, ctx.account_id, _id(workflow), data, actor=_actor())
        return serialize_phase(session, row)


def list_phases(workflow: Ref) -> list[dict[str, Any]]:
    """The workflow's phases in their order. Raises: NotFound."""
    ctx = current()
    with session_scope(ctx.settings, write=False) as session:
        found = lookups.get(session, models.Workflow, ctx.account_id, _id(workflow))
        rows = session.exec(
            select(models.WorkflowPhase)
            .where(models.WorkflowPhase.workflow_id == found.id)
            .order_by(col(models.WorkflowPhase.position), col(models.WorkflowPhase.id))
        ).all()
        return serialize_phases(session, rows)


def create_task_template(subject: str, **fields: Any) -> dict[str, Any]:
    """A task template (category, impact, planned_duration, instructions, team_id,
    member_id, required_approvals, work_hours_are_24x7, disabled). Raises:
    TaskValidationError."""
    ctx = current()
    data = validate(TaskTemplateCreate, {"subject": subject, **fields})
    with session_scope(ctx.settings) as session:
        row = templates.do_create_task_template(session, ctx.account_id, data)
        return serialize_task_template(session, row)


def update_task_template(template: Ref, **fields: Any) -> dict[str, Any]:
    """Raises: NotFound; TaskValidationError."""
    ctx = current()
    data = validate(TaskTemplateUpdate, fields)
    with session_scope(ctx.settings) as session:
        row = templates.do_update_task_template(session, ctx.account_id, _id(template), data)
        return serialize_task_template(session, row)


def create_workflow_template(subject: str, **fields: Any) -> dict[str, Any]:
    """A workflow template: ``phases`` (``[{"name": ...}]``) and
    ``task_template_relations`` (``[{"task_template_id", "phase_name",
    "failure_task_template_id", "predecessor_task_template_ids"}]``), checked whole.
    Raises: TaskValidationError (``dependency_cycle`` naming the cycle, ...)."""
    ctx = current()
    data = validate(WorkflowTemplateCreate, {"subject": subject, **fields})
    with session_scope(ctx.settings) as session:
        row = templates.do_create_workflow_template(session, ctx.account_id, data)
        return serialize_workflow_template(row)


def update_workflow_template(template: Ref, **fields: Any) -> dict[str, Any]:
    """Raises: NotFound; TaskValidationError."""
    ctx = current()
    data = validate(WorkflowTemplateUpdate, fields)
    with session_scope(ctx.settings) as session:
        row = templates.do_update_workflow_template(session, ctx.account_id, _id(template), data)
        return serialize_workflow_template(row)
