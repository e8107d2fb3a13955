"""Workflow commands: create, change, and keep a workflow's status following its tasks."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from tasks_service.core.clock import utcnow
from tasks_service.core.errors import field_error
from tasks_service.core.statuses import TaskStatus, WorkflowStatus, derive_workflow_status
from tasks_service.core.validation import provided
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
    )
    session.add(workflow)
    session.flush()
    return workflow


def do_update_workflow(
    session: Session,
    account_id: int,
    workflow_id: int,
    data: WorkflowUpdate,
    person_id: int | None = None,
) -> tuple[Workflow, Operation | None]:
    """Change subject, category, manager, calendar or escalation policy, or hold/release
    it (being_created <-> registered). Returns the workflow and, when its calendar or
    policy changed, the recompute of its open tasks this requested (``store.background``).

    Raises: NotFound; TaskValidationError.
    """
    workflow = lock_workflow(session, account_id, workflow_id)
    changes = provided(data)
    _check_refs(session, account_id, changes)
    before = background.movers(workflow)
    status = changes.pop("status", None)
    for key, value in changes.items():
        setattr(workflow, key, value)
    scope = {"workflow_id": workflow_id}
    recompute = background.request_if_moved(session, workflow, before, person_id, scope)
    if status is not None and status != workflow.status:
        # 4me: being_created holds a workflow that is still being put together; any
        # other status follows from its tasks and cannot be set by hand.
        if status == WorkflowStatus.being_created:
            if _derived_status(session, workflow) != WorkflowStatus.registered:
                raise field_error(
                    "status",
                    "invalid_value",
                    "only a workflow whose tasks have not started can be put back to being_created",
                )
            workflow.status = WorkflowStatus.being_created
        elif (
            status == WorkflowStatus.registered and workflow.status == WorkflowStatus.being_created
        ):
            workflow.status = _derived_status(session, workflow)
        else:
            raise field_error(
                "status",
                "invalid_value",
                "the status of a workflow follows its tasks;"
                " only being_created and registered can be set",
            )
    workflow.updated_at = utcnow()
    session.add(workflow)
    session.flush()
    return workflow, recompute


def _derived_status(session: Session, workflow: Workflow) -> WorkflowStatus:
    statuses = session.exec(select(Task.status).where(Task.workflow_id == workflow.id)).all()
    return derive_workflow_status([TaskStatus(s) for s in statuses])


def refresh_workflow_status(session: Session, account_id: int, workflow_id: int) -> None:
    """Make the workflow's status follow its tasks (unless it is held as being_created)."""
    workflow = session.get(Workflow, workflow_id)
    if workflow is None or workflow.account_id != account_id:
        return
    if workflow.status == WorkflowStatus.being_created:
        return
    status = _derived_status(session, workflow)
    if status != workflow.status:
        workflow.status = status
        workflow.completed_at = utcnow() if status == WorkflowStatus.completed else None
        workflow.updated_at = utcnow()
        session.add(workflow)
        session.flush()
