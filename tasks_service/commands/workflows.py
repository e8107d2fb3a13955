"""Workflow commands: create and change a workflow, start it, complete it by hand.

A workflow's status otherwise follows its tasks (``commands.plan_rules``): it is held
as ``being_created`` while its plan is put together, and no task is assigned before
its ``start_at`` (each first task's start timer assigns it then).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from tasks_service.commands import plan_rules, workflow_plan
from tasks_service.commands.task_change import apply_task_change, settle_plan
from tasks_service.core.clock import utcnow
from tasks_service.core.errors import field_error
from tasks_service.core.statuses import (
    OPEN,
    TaskStatus,
    WorkflowCompletionReason,
    WorkflowStatus,
    derive_workflow_status,
)
from tasks_service.core.validation import provided
from tasks_service.notify.outbox import Outbox
from tasks_service.schedule import timers
from tasks_service.store import background, lookups
from tasks_service.store.models import (
    Calendar,
    EscalationPolicy,
    Operation,
    Person,
    Task,
    Workflow,
)
from tasks_service.store.schemas.workflows import WorkflowCreate, WorkflowUpdate


def lock_workflow(session: Session, account_id: int, workflow_id: int) -> Workflow:
    """The workflow, row-locked until the transaction ends. Raises: NotFound."""
    return lookups.lock(session, Workflow, account_id, workflow_id)


def _check_refs(session: Session, account_id: int, changes: dict[str, Any]) -> None:
    """The manager, calendar and escalation policy a change names exist in the account.
    Raises: TaskValidationError naming the field."""
    for name, model in (
        ("manager_id", Person),
        ("calendar_id", Calendar),
        ("escalation_policy_id", EscalationPolicy),
    ):
        if name in changes:
            lookups.check_ref(session, model, account_id, changes[name], name)


def do_create_workflow(
    session: Session, account_id: int, person_id: int | None, data: WorkflowCreate
) -> Workflow:
    """Create a workflow; its manager defaults to its creator. Raises: TaskValidationError."""
    manager_id = data.manager_id if data.manager_id is not None else person_id
    refs = {"calendar_id": data.calendar_id, "escalation_policy_id": data.escalation_policy_id}
    _check_refs(session, account_id, {"manager_id": manager_id, **refs})
    status = data.status or WorkflowStatus.registered
    if status not in (WorkflowStatus.registered, WorkflowStatus.being_created):
        raise field_error(
            "status", "invalid_value", "a new workflow is registered or being_created"
        )
    workflow = Workflow(
        account_id=account_id,
        subject=data.subject,
        category=data.category,
        manager_id=manager_id,
        created_by_id=person_id,
        status=status,
        calendar_id=data.calendar_id,
        escalation_policy_id=data.escalation_policy_id,
        start_at=data.start_at,
    )
    session.add(workflow)
    session.flush()
    return workflow


def do_update_workflow(
    session: Session,
    outbox: Outbox,
    account_id: int,
    workflow_id: int,
    data: WorkflowUpdate,
    person_id: int | None = None,
    operation_id: int | None = None,
) -> tuple[Workflow, Operation | None]:
    """Change subject, category, manager, calendar, escalation policy or ``start_at``;
    hold or release it (being_created <-> registered); or complete it by hand. Returns
    the workflow and, when its calendar or policy changed, the recompute of its open
    tasks this requested (``store.background``).

    Raises: NotFound; TaskValidationError.
    """
    workflow = lock_workflow(session, account_id, workflow_id)
    changes = provided(data)
    _check_refs(session, account_id, changes)
    before = background.movers(workflow)
    status = changes.pop("status", None)
    reason = changes.pop("completion_reason", None)
    note = changes.pop("note", None)
    if reason is not None and status != WorkflowStatus.completed:
        raise field_error(
            "completion_reason", "requires_completed", "is given when completing a workflow"
        )
    start_moved = "start_at" in changes and changes["start_at"] != workflow.start_at
    for key, value in changes.items():
        setattr(workflow, key, value)
    scope = {"workflow_id": workflow_id}
    recompute = background.request_if_moved(session, workflow, before, person_id, scope)
    if status is not None and status != workflow.status:
        _change_status(session, outbox, workflow, status, reason, note, person_id, operation_id)
    elif note is not None and status is not None:  # completed already: nothing to note
        raise field_error("note", "unchanged_status", f"the workflow is {status} already")
    elif note is not None:
        raise field_error("note", "requires_completed", "is given when completing a workflow")
    workflow.updated_at = utcnow()
    session.add(workflow)
    session.flush()
    if start_moved:
        _start_moved(session, outbox, workflow, person_id, operation_id)
    return workflow, recompute


def _change_status(
    session: Session,
    outbox: Outbox,
    workflow: Workflow,
    status: WorkflowStatus,
    reason: WorkflowCompletionReason | None,
    note: str | None,
    person_id: int | None,
    operation_id: int | None,
) -> None:
    """4me: being_created holds a workflow that is still being put together, and
    completed by hand ends it (its open tasks are canceled); any other status follows
    from its tasks and cannot be set by hand."""
    if status == WorkflowStatus.being_created:
        if _derived_status(session, workflow) != WorkflowStatus.registered:
            raise field_error(
                "status",
                "invalid_value",
                "only a workflow whose tasks have not started can be put back to being_created",
            )
        workflow.status = WorkflowStatus.being_created
    elif status == WorkflowStatus.registered and workflow.status == WorkflowStatus.being_created:
        workflow.status = _derived_status(session, workflow)
        session.flush()
        workflow_plan.release(session, outbox, workflow, person_id, operation_id)
    elif status == WorkflowStatus.completed:
        complete_by_hand(
            session,
            outbox,
            workflow,
            reason or WorkflowCompletionReason.complete,
            note,
            person_id,
            operation_id,
        )
    else:
        raise field_error(
            "status",
            "invalid_value",
            "the status of a workflow follows its tasks;"
            " only being_created, registered and completed can be set",
        )


def complete_by_hand(
    session: Session,
    outbox: Outbox,
    workflow: Workflow,
    reason: WorkflowCompletionReason,
    note: str | None,
    person_id: int | None,
    operation_id: int | None,
) -> None:
    """Cancel every open task of the (locked) workflow, each with the workflow's note,
    and complete it with ``reason``."""
    now = utcnow()
    text = note or f"Canceled because workflow #{workflow.id} was completed ({reason.value})"
    query = (
        select(Task)
        .where(Task.workflow_id == workflow.id, col(Task.status).in_([s.value for s in OPEN]))
        .order_by(col(Task.id))
    )
    canceled = []
    for task in session.exec(query.execution_options(populate_existing=True)).all():
        changes = {"status": TaskStatus.canceled, "note": text}
        apply_task_change(
            session, outbox, task, person_id, changes, "cancel", operation_id, cascade=False
        )
        canceled.append(task)
    workflow.status = WorkflowStatus.completed
    workflow.completion_reason = reason
    workflow.completed_at = now
    settle_plan(session, workflow.id or 0, canceled, now)


def _start_moved(
    session: Session,
    outbox: Outbox,
    workflow: Workflow,
    person_id: int | None,
    operation_id: int | None,
) -> None:
    """A new ``start_at``: the tasks waiting to start re-arm their start timers, and
    those that nothing holds any more (it was cleared or moved to the past) start now."""
    now = utcnow()
    for task in plan_rules.waiting_to_start(session, workflow.id or 0):
        timers.sync(session, task, now)
    workflow_plan.release(session, outbox, workflow, person_id, operation_id, now, everything=True)


def _derived_status(session: Session, workflow: Workflow) -> WorkflowStatus:
    rows = session.exec(
        select(Task.status, Task.failure_task_id).where(Task.workflow_id == workflow.id)
    ).all()
    return derive_workflow_status((TaskStatus(s), failure is not None) for s, failure in rows)
