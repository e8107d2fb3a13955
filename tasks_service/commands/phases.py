"""A workflow's phases (4me): a phase starts when its first task leaves registered and
is completed once all its tasks are finished; its status follows its tasks, inside the
operation that moved them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from tasks_service.core.errors import field_error
from tasks_service.core.statuses import FINISHED, PhaseStatus, TaskStatus
from tasks_service.store.models import Task, WorkflowPhase


def check_phase(
    session: Session, account_id: int, workflow_id: int | None, phase_id: int | None
) -> None:
    """A task's phase is one of its own workflow's. Raises: TaskValidationError."""
    if phase_id is None:
        return
    phase = session.get(WorkflowPhase, phase_id)
    if phase is None or phase.account_id != account_id:
        raise field_error("phase_id", "not_found", f"no phase {phase_id}")
    if phase.workflow_id != workflow_id:
        where = f"workflow {workflow_id}" if workflow_id else "no workflow"
        raise field_error(
            "phase_id",
            "not_in_workflow",
            f"phase {phase_id} is a phase of workflow {phase.workflow_id}; this task is in {where}",
        )


def phase_status(statuses: list[TaskStatus]) -> PhaseStatus:
    """No task, or all registered: registered; all finished: completed; else in progress."""
    if not statuses or all(s == TaskStatus.registered for s in statuses):
        return PhaseStatus.registered
    if all(s in FINISHED for s in statuses):
        return PhaseStatus.completed
    return PhaseStatus.in_progress


def follow(session: Session, phase_id: int, now: datetime) -> None:
    """Let the phase's status (and ``started_at`` / ``completed_at``) follow its tasks."""
    phase = session.get(WorkflowPhase, phase_id)
    if phase is None:
        return
    statuses = session.exec(select(Task.status).where(Task.phase_id == phase_id)).all()
    status = phase_status([TaskStatus(s) for s in statuses])
    if status == phase.status:
        return
    if status != PhaseStatus.registered and phase.started_at is None:
        phase.started_at = now
    if status == PhaseStatus.registered:
        phase.started_at = None
    phase.completed_at = now if status == PhaseStatus.completed else None
    phase.status = status
    phase.updated_at = now
    session.add(phase)
