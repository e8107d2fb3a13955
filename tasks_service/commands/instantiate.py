"""A workflow made from a workflow template, in one transaction (4me's templates).

``instantiate_workflow`` takes a workflow that was just created ``being_created`` and
puts the template's plan into it: the phases (in position order), then one task per
task template relation, each after its predecessors (the task template's fields, its
phase, ``template_id``, and its links to its predecessors, told in its "created"
event), then each task's failure task. The first tasks (no predecessors) are assigned
as they are made, unless the workflow's ``start_at`` is still to come; the others wait
(``commands.plan_rules.hold``). Then it is registered, and its phases, status and
anticipated assignments follow. Nobody outside the transaction ever sees it being
created.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from tasks_service.commands.phases import create_phases
from tasks_service.commands.plan_rules import locked_workflows
from tasks_service.commands.task_commands import do_create_task
from tasks_service.commands.templates import (
    fields_of,
    plan_of,
    usable_workflow_template,
    workflow_fields,
)
from tasks_service.commands.workflow_plan import release
from tasks_service.commands.workflows import do_create_workflow
from tasks_service.core.clock import utcnow
from tasks_service.core.errors import TaskValidationError, field_error
from tasks_service.core.graph import topological_order
from tasks_service.core.statuses import WorkflowStatus
from tasks_service.core.validation import provided
from tasks_service.notify.outbox import Outbox
from tasks_service.store.db import allocate_ids
from tasks_service.store.models import Task, TaskTemplate, Workflow, WorkflowTemplate
from tasks_service.store.schemas.tasks import TaskCreate
from tasks_service.store.schemas.templates import plan_links
from tasks_service.store.schemas.workflows import WorkflowCreate


def do_create_workflow_from_template(
    session: Session,
    outbox: Outbox,
    account_id: int,
    person_id: int | None,
    data: WorkflowCreate,
    operation_id: int | None = None,
) -> Workflow:
    """``POST /workflows`` with ``template_id``: the workflow (the template's subject and
    category unless the body gives them) and its whole plan, in the caller's one
    transaction. Raises: TaskValidationError (``template_id``, or the workflow's fields)."""
    template = usable_workflow_template(session, account_id, data.template_id or 0)
    given = provided(data)
    filled = {k: v for k, v in workflow_fields(template).items() if given.get(k) is None}
    held = data.model_copy(update={**filled, "status": WorkflowStatus.being_created})
    workflow = do_create_workflow(session, account_id, person_id, held)
    instantiate_workflow(session, outbox, account_id, person_id, workflow, template, operation_id)
    return workflow


def _in_relation(error: TaskValidationError, template_id: int) -> TaskValidationError:
    """A task template that no longer makes a valid task (its member left its team
    since it was saved): the error names ``template_id`` and the task template."""
    errors = [
        {
            "field": "template_id",
            "code": item["code"],
            "message": f"task template {template_id}: {item['field']}: {item['message']}",
        }
        for item in error.errors
    ] or [{"field": "template_id", "code": error.code, "message": error.message}]
    summary = "; ".join(item["message"] for item in errors)
    return TaskValidationError(f"template_id: {summary}", errors=errors)


def instantiate_workflow(
    session: Session,
    outbox: Outbox,
    account_id: int,
    person_id: int | None,
    workflow: Workflow,
    template: WorkflowTemplate,
    operation_id: int | None = None,
) -> None:
    """Put the template's plan into the (new, being_created) workflow, then register it
    and assign the tasks that are ready.

    Raises: TaskValidationError (``template_id``: the template is disabled, or one of
    its task templates no longer makes a valid task).
    """
    assert workflow.id is not None
    if template.disabled:
        raise field_error("template_id", "disabled", f"workflow template {template.id} is disabled")
    plan = plan_of(template)
    outbox.preload_account(session, account_id)
    locked_workflows(session).add(workflow.id)  # made in this transaction: held by it
    phase_ids: dict[str, int | None] = {}
    if plan.phases:
        names = [phase.name for phase in plan.ordered_phases()]
        made = create_phases(session, account_id, workflow.id, names)
        phase_ids = {name: phase.id for name, phase in made.items()}
    relations = {r.task_template_id: r for r in plan.task_template_relations}
    task_templates = {
        t.id: t
        for t in session.exec(
            select(TaskTemplate).where(
                col(TaskTemplate.account_id) == account_id,
                col(TaskTemplate.id).in_(list(relations)),
            )
        )
    }
    tasks: dict[int, Task] = {}
    # The rows first, in one statement (their ids taken at once); each create then
    # fills its row in, and what it adds (events, timers, links, notifications) is
    # written with the others': a few statements for the whole plan, not a few a task.
    order = topological_order(list(relations), plan_links(plan))
    ids = allocate_ids(session, "task", len(order))
    rows = {
        template_id: Task(
            id=task_id,
            account_id=account_id,
            workflow_id=workflow.id,
            subject=task_templates[template_id].subject,
            category=task_templates[template_id].category,
            created_by_id=person_id,
            template_id=template_id,
        )
        for template_id, task_id in zip(order, ids, strict=True)
        if template_id in task_templates
    }
    session.add_all(rows.values())
    session.flush()
    # The first tasks are assigned as they are made (the rest wait for them), unless
    # the workflow starts later: its start timers assign them then.
    starts = workflow.start_at is None or workflow.start_at <= utcnow()
    # Each task after its predecessors: ids follow the plan's order.
    for template_id in order:
        task_template = task_templates.get(template_id)
        if task_template is None:  # templates are never deleted; another account's?
            raise field_error("template_id", "not_found", f"no task template {template_id}")
        relation = relations[template_id]
        values: dict[str, Any] = fields_of(task_template)
        if relation.phase_name is not None:
            values["phase_id"] = phase_ids[relation.phase_name]
        # its predecessors are made already: linked as it is created (the plan was
        # checked whole when saved), its "created" event tells them
        before = [tasks[p].id or 0 for p in dict.fromkeys(relation.predecessor_task_template_ids)]
        try:
            task = do_create_task(
                session,
                outbox,
                account_id,
                person_id,
                TaskCreate.model_validate(values),
                workflow_id=workflow.id,
                operation_id=operation_id,
                planned_predecessors=before,
                # Filled here, not through ``template_id`` on the create: the plan was
                # checked when it was saved, and a task template disabled since stays.
                made_from=template_id,
                start=starts and not before,
                into=rows[template_id],
            )
        except TaskValidationError as exc:
            raise _in_relation(exc, template_id) from None
        tasks[template_id] = task
    for template_id, relation in relations.items():
        task = tasks[template_id]
        if relation.failure_task_template_id is not None:
            task.failure_task_id = tasks[relation.failure_task_template_id].id
        session.add(task)
    workflow.template_id = template.id
    workflow.status = WorkflowStatus.registered
    workflow.updated_at = utcnow()
    session.add(workflow)
    session.flush()
    release(session, outbox, workflow, person_id, operation_id, made=list(tasks.values()))
