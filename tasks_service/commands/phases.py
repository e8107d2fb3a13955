"""A workflow's phases (4me): a phase starts when its first task leaves registered and
is completed once all its tasks are finished; its status follows its tasks, inside the
operation that moved them.

The phases themselves are planned by hand (``/workflows/:id/phases``) or made with the
workflow from a template (``create_phases``). These writes are small and synchronous
(no operation queue, as for teams): they move no task, arm no timer and send nothing.
Each one locks the workflow first, so that the writes to one workflow's phases (and
the creation of its tasks, which locks it too) happen one after the other: the checks
of a name and of a phase's tasks cannot be overtaken by another request. (The lock is
``lookups.lock`` on the workflow, as ``commands.workflows.lock_workflow`` does: that
module reaches this one through the task change, so this one cannot import it.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from tasks_service.core.clock import utcnow
from tasks_service.core.errors import Conflict, NotFound, PermissionDenied, field_error
from tasks_service.core.statuses import FINISHED, PhaseStatus, TaskStatus
from tasks_service.core.validation import provided, validate
from tasks_service.identity.accounts import Actor
from tasks_service.store import lookups
from tasks_service.store.db import is_postgres
from tasks_service.store.models import Task, Workflow, WorkflowPhase
from tasks_service.store.schemas.phases import (
    MAX_POSITION,
    PhaseCreate,
    PhaseUpdate,
)


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


# -- planning the phases -------------------------------------------------------------


def may_plan(workflow: Workflow, actor: Actor) -> None:
    """Who may change a workflow's phases: an administrator, or the workflow's manager
    (4me: the manager plans the workflow); everyone in the account may read them.
    Raises: PermissionDenied."""
    if not actor.admin and workflow.manager_id != actor.person_id:
        raise PermissionDenied(
            "only the manager of the workflow or an administrator may change its phases"
        )


def get_phase(session: Session, account_id: int, workflow_id: int, phase_id: int) -> WorkflowPhase:
    """The phase ``phase_id`` of the account's workflow ``workflow_id`` (a phase of
    another workflow is not there). Raises: NotFound (for the workflow, or the phase)."""
    lookups.get(session, Workflow, account_id, workflow_id)
    phase = lookups.find(session, WorkflowPhase, account_id, phase_id)
    if phase is None or phase.workflow_id != workflow_id:
        raise NotFound(f"no phase {phase_id} in workflow {workflow_id}")
    return phase


def _lock_phase(
    session: Session, account_id: int, workflow_id: int, phase_id: int
) -> WorkflowPhase:
    """As ``get_phase``, the phase row locked too (on PostgreSQL; a SQLite write holds
    the database), read afresh: a task change may have just moved its status."""
    get_phase(session, account_id, workflow_id, phase_id)
    query = select(WorkflowPhase).where(col(WorkflowPhase.id) == phase_id)
    if is_postgres(session):
        query = query.with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).one()


def _taken(name: str) -> str:
    return f"this workflow has a phase named {name!r} already"


def _ensure_name_free(
    session: Session, workflow_id: int, name: str, own_id: int | None = None
) -> None:
    """No other phase of the workflow is called ``name``, in whatever letters (a task
    template names its phase by name, and "Build" and "build" would read as one).
    Raises: TaskValidationError (``name``, code ``taken``)."""
    other = session.exec(
        select(WorkflowPhase.id).where(
            col(WorkflowPhase.workflow_id) == workflow_id,
            func.lower(WorkflowPhase.name) == func.lower(name),
            col(WorkflowPhase.id) != (own_id or 0),
        )
    ).first()
    if other is not None:
        raise field_error("name", "taken", _taken(name))


def _next_position(session: Session, workflow_id: int) -> int:
    """After the last phase: one past the highest position (1 for the first). At the
    highest position allowed it stays there; the order by id puts the newer after."""
    last = session.exec(
        select(func.max(WorkflowPhase.position)).where(
            col(WorkflowPhase.workflow_id) == workflow_id
        )
    ).one()
    return min((last or 0) + 1, MAX_POSITION)


def do_create_phase(
    session: Session,
    account_id: int,
    workflow_id: int,
    data: PhaseCreate,
    *,
    actor: Actor | None = None,
) -> WorkflowPhase:
    """Add a phase to a workflow, at ``position`` or after the last one; it starts
    registered (its status follows the tasks later put in it). ``actor``: checked with
    ``may_plan`` (none: the system's own call).

    Raises: NotFound (the workflow); PermissionDenied; TaskValidationError (a name the
    workflow has already).
    """
    workflow = lookups.lock(session, Workflow, account_id, workflow_id)
    if actor is not None:
        may_plan(workflow, actor)
    _ensure_name_free(session, workflow_id, data.name)
    position = data.position if data.position is not None else _next_position(session, workflow_id)
    phase = WorkflowPhase(
        account_id=account_id, workflow_id=workflow_id, name=data.name, position=position
    )
    lookups.store_unique(session, phase, "name", _taken(data.name))
    return phase


def do_update_phase(
    session: Session,
    account_id: int,
    workflow_id: int,
    phase_id: int,
    data: PhaseUpdate,
    *,
    actor: Actor | None = None,
) -> WorkflowPhase:
    """Rename a phase or move it (a new position; the others keep theirs).

    Raises: NotFound (the workflow, or the phase); PermissionDenied; TaskValidationError
    (a name another phase of the workflow has).
    """
    workflow = lookups.lock(session, Workflow, account_id, workflow_id)
    if actor is not None:
        may_plan(workflow, actor)
    phase = _lock_phase(session, account_id, workflow_id, phase_id)
    changes: dict[str, Any] = {
        key: value for key, value in provided(data).items() if getattr(phase, key) != value
    }
    if not changes:
        return phase
    if "name" in changes:
        _ensure_name_free(session, workflow_id, changes["name"], phase_id)
    for key, value in changes.items():
        setattr(phase, key, value)
    phase.updated_at = utcnow()
    lookups.store_unique(session, phase, "name", _taken(phase.name))
    return phase


def do_delete_phase(
    session: Session,
    account_id: int,
    workflow_id: int,
    phase_id: int,
    *,
    actor: Actor | None = None,
) -> None:
    """Delete a phase that has no task.

    A phase that still has tasks is not deleted (409, ``errors[0].code`` is
    ``phase_has_tasks``, ``task_count`` says how many): taking its tasks out of it on
    the quiet would change the plan the workflow shows (which tasks belong to which
    stage, and so when each stage starts and completes) as a side effect of a delete.
    The client moves them first (``phase_id`` on ``PATCH /tasks/:id``: another phase,
    or null), and then deletes the empty phase.

    Raises: NotFound (the workflow, or the phase); PermissionDenied; Conflict.
    """
    workflow = lookups.lock(session, Workflow, account_id, workflow_id)
    if actor is not None:
        may_plan(workflow, actor)
    phase = _lock_phase(session, account_id, workflow_id, phase_id)
    in_it = session.exec(
        select(Task.id).where(col(Task.phase_id) == phase_id).order_by(col(Task.id)).limit(6)
    ).all()
    if in_it:
        raise _has_tasks(session, phase_id, in_it)
    try:
        # A task changed without its workflow's lock (a PATCH locks the task) may have
        # been put in the phase after the check: the foreign key then refuses the delete,
        # and the answer is the same 409.
        with session.begin_nested():
            session.delete(phase)
    except IntegrityError:
        raise _has_tasks(session, phase_id, []) from None


def _has_tasks(session: Session, phase_id: int, some: Sequence[int | None]) -> Conflict:
    count = session.exec(select(func.count()).where(col(Task.phase_id) == phase_id)).one()
    shown = ", ".join(f"#{task_id}" for task_id in some[:5])
    more = f" ({shown}{', ...' if count > 5 else ''})" if shown else ""
    message = (
        f"phase {phase_id} still has {count or 'some'} task{'' if count == 1 else 's'}{more};"
        " move them to another phase (or out of it) before deleting it"
    )
    return Conflict(
        message,
        errors=[{"field": "phase", "code": "phase_has_tasks", "message": message}],
        task_count=count,
    )


def create_phases(
    session: Session, account_id: int, workflow_id: int, names_in_order: Sequence[str]
) -> dict[str, WorkflowPhase]:
    """The phases of a workflow made from a template, in one flush: one per name, in
    this order, after the phases it has (positions 1, 2, ... in a new workflow).
    Returns them by the names given (a task template relation names its phase by
    ``phase_name``). The caller holds the workflow (it has just made it, in the same
    transaction, or locked it).

    Raises: NotFound (the workflow); TaskValidationError (``name``: a name that is not
    one; ``phases``: a name given twice, or one the workflow has already, in whatever
    letters).
    """
    lookups.get(session, Workflow, account_id, workflow_id)
    names = [validate(PhaseCreate, {"name": name}).name for name in names_in_order]
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise field_error("phases", "duplicate", f"the phase {name!r} is given twice")
        seen.add(name.lower())
    existing = session.exec(
        select(WorkflowPhase.name).where(col(WorkflowPhase.workflow_id) == workflow_id)
    ).all()
    clash = [name for name in names if name.lower() in {e.lower() for e in existing}]
    if clash:
        raise field_error("phases", "taken", _taken(clash[0]))
    first = _next_position(session, workflow_id) if existing else 1
    phases = {
        given: WorkflowPhase(
            account_id=account_id,
            workflow_id=workflow_id,
            name=name,
            position=min(first + i, MAX_POSITION),
        )
        for i, (given, name) in enumerate(zip(names_in_order, names, strict=True))
    }
    session.add_all(phases.values())
    session.flush()
    return phases
