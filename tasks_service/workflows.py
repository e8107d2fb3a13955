"""Workflow commands: create, change, and keep a workflow's status following its tasks."""

from __future__ import annotations

from sqlmodel import Session, select

from tasks_service import recompute
from tasks_service.calendar_store import check_calendar_ref
from tasks_service.db import lock_in_account
from tasks_service.errors import NotFound, field_error
from tasks_service.escalation import check_policy_ref
from tasks_service.identity import find_person
from tasks_service.models import Task, Workflow, utcnow
from tasks_service.schemas import WorkflowCreate, WorkflowUpdate, provided
from tasks_service.statuses import TaskStatus, WorkflowStatus, derive_workflow_status


def lock_workflow(session: Session, account_id: int, workflow_id: int) -> Workflow:
    """The workflow, row-locked until the transaction ends. Raises: NotFound."""
    workflow: Workflow | None = lock_in_account(session, Workflow, account_id, workflow_id)
    if workflow is None:
        raise NotFound(f"no workflow {workflow_id}")
    return workflow


def do_create_workflow(
    session: Session, account_id: int, person_id: int | None, data: WorkflowCreate
) -> Workflow:
    """Create a workflow; its manager defaults to its creator. Raises: TaskValidationError."""
    manager_id = data.manager_id if data.manager_id is not None else person_id
    if manager_id is not None and find_person(session, account_id, manager_id) is None:
        raise field_error("manager_id", "not_found", f"no person {manager_id}")
    check_calendar_ref(session, account_id, data.calendar_id)
    check_policy_ref(session, account_id, data.escalation_policy_id)
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
    session: Session, account_id: int, workflow_id: int, data: WorkflowUpdate
) -> Workflow:
    """Change subject, category, manager, or hold/release it (being_created <-> registered).

    Raises: NotFound; TaskValidationError.
    """
    workflow = lock_workflow(session, account_id, workflow_id)
    changes = provided(data)
    if "manager_id" in changes and find_person(session, account_id, changes["manager_id"]) is None:
        raise field_error("manager_id", "not_found", f"no person {changes['manager_id']}")
    if "calendar_id" in changes:
        check_calendar_ref(session, account_id, changes["calendar_id"])
    if "escalation_policy_id" in changes:
        check_policy_ref(session, account_id, changes["escalation_policy_id"])
    before = recompute.movers(workflow)
    status = changes.pop("status", None)
    for key, value in changes.items():
        setattr(workflow, key, value)
    # another calendar or policy: its tasks' targets and levels move, in the background
    recompute.do_request_if_moved(session, workflow, before, None, {"workflow_id": workflow_id})
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
    return workflow


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
