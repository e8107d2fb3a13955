"""Tasks, their notes and their events in their REST form (``store.schemas.tasks``).

A page of tasks costs a fixed number of queries whatever its size: references
(team, member, workflow, manager, creator, calendar) and labels are loaded for the
whole page at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from tasks_service.core.assignments import AssignmentStatus, Tally
from tasks_service.core.clock import iso
from tasks_service.querying.serializers import refs
from tasks_service.store.models import Note, Task, TaskAssignment, TaskEvent, TaskLabel, Workflow

#: Labels already known to the caller (the command that just wrote them), by task id.
KnownLabels = Mapping[int, list[str]]


@dataclass(frozen=True)
class _Refs:
    """What a batch of tasks refers to, by id."""

    workflows: dict[int, tuple[str, int | None]]  # subject, manager
    people: dict[int, str]
    teams: dict[int, str]
    calendars: dict[int, str]
    phases: dict[int, str]
    failure_tasks: dict[int, str]
    templates: dict[int, str]
    labels: Mapping[int, list[str]]
    assignments: Mapping[int, list[AssignmentStatus]]


def _workflows(session: Session, ids: set[int]) -> dict[int, tuple[str, int | None]]:
    subjects = refs.names(session, col(Workflow.id), col(Workflow.subject), set(ids))
    managers = refs.values(session, col(Workflow.id), col(Workflow.manager_id), set(ids))
    return {wid: (subject, managers.get(wid)) for wid, subject in subjects.items()}


def labels_of(session: Session, task_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each task's labels, sorted: one query for all."""
    labels: dict[int, list[str]] = defaultdict(list)
    for label in session.exec(
        select(TaskLabel)
        .where(col(TaskLabel.task_id).in_(task_ids))
        .order_by(col(TaskLabel.task_id), col(TaskLabel.name))
    ):
        labels[label.task_id].append(label.name)
    return labels


def assignment_statuses(
    session: Session, task_ids: Sequence[int]
) -> dict[int, list[AssignmentStatus]]:
    """Each task's assignments' states: one query for all."""
    found: dict[int, list[AssignmentStatus]] = defaultdict(list)
    if not task_ids:
        return found
    rows = session.exec(
        select(TaskAssignment.task_id, TaskAssignment.status).where(
            col(TaskAssignment.task_id).in_(task_ids)
        )
    )
    for task_id, status in rows:
        found[task_id].append(AssignmentStatus(status))
    return found


def _refs(session: Session, tasks: Sequence[Task], known: KnownLabels) -> _Refs:
    task_ids = [t.id or 0 for t in tasks]
    workflows = _workflows(session, {t.workflow_id for t in tasks if t.workflow_id})
    people = {t.member_id for t in tasks} | {t.created_by_id for t in tasks}
    people |= {manager for _subject, manager in workflows.values()}
    known_all = all(task_id in known for task_id in task_ids)
    return _Refs(
        workflows=workflows,
        people=refs.people(session, people),
        teams=refs.teams(session, {t.team_id for t in tasks}),
        calendars=refs.calendars(session, {t.calendar_id for t in tasks}),
        phases=refs.phases(session, {t.phase_id for t in tasks}),
        failure_tasks=refs.task_subjects(session, {t.failure_task_id for t in tasks}),
        templates=refs.task_templates(session, {t.template_id for t in tasks}),
        labels=known if known_all else labels_of(session, task_ids),
        # only tasks with people of their own have any (most have none: no query)
        assignments=assignment_statuses(session, [t.id or 0 for t in tasks if t.assignee_count]),
    )


def _form(task: Task, found: _Refs) -> dict[str, Any]:
    workflow = found.workflows.get(task.workflow_id) if task.workflow_id else None
    return {
        "id": task.id,
        "subject": task.subject,
        "category": task.category,
        "impact": task.impact,
        "status": task.status,
        "team": refs.ref(found.teams, task.team_id),
        "member": refs.ref(found.people, task.member_id),
        "workflow": {"id": task.workflow_id, "subject": workflow[0]} if workflow else None,
        "manager": refs.ref(found.people, workflow[1]) if workflow else None,
        "created_by": refs.ref(found.people, task.created_by_id),
        "instructions": task.instructions,
        "planned_duration": task.planned_duration,
        "planned_effort": task.planned_effort,
        "urgent": task.urgent,
        "work_hours_are_24x7": task.work_hours_are_24x7,
        "source": task.source,
        "sourceID": task.source_id,
        "custom_fields": task.custom_fields,
        "labels": found.labels.get(task.id or 0, []),
        "start_at": iso(task.start_at),
        "waiting_until": iso(task.waiting_until),
        "assigned_at": iso(task.assigned_at),
        "finished_at": iso(task.finished_at),
        "completion_target_at": iso(task.completion_target_at),
        "resolution_duration": task.resolution_duration,
        "calendar": refs.ref(found.calendars, task.calendar_id),
        "overdue": task.overdue,
        "due_at": iso(task.due_at),
        "alert_at": iso(task.alert_at),
        "alert_sent_at": iso(task.alert_sent_at),
        "phase": refs.ref(found.phases, task.phase_id),
        "failure_task": refs.subject_ref(found.failure_tasks, task.failure_task_id),
        "template": refs.subject_ref(found.templates, task.template_id),
        "anticipated_assignment_at": iso(task.anticipated_assignment_at),
        "required_approvals": task.required_approvals,
        "missing_approvers": Tally.of(
            task.category,
            task.completion_rule,
            task.required_approvals,
            found.assignments.get(task.id or 0, ()),
        ).missing_approvers,
        "rejection_count": task.rejection_count,
        "completion_rule": task.completion_rule,
        "item_id": task.item_id,
        "casefile_id": task.casefile_id,
        "subject_id": task.subject_id,
        "case_service_id": task.case_service_id,
        "address": task.address,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
    }


def serialize_tasks(
    session: Session, tasks: Sequence[Task], known_labels: KnownLabels | None = None
) -> list[dict[str, Any]]:
    """Tasks in their REST form (``TaskPublic``). ``known_labels``: the labels of these
    tasks when the caller has them already (no query for them then)."""
    if not tasks:
        return []
    found = _refs(session, tasks, known_labels or {})
    return [_form(task, found) for task in tasks]


def serialize_task(
    session: Session, task: Task, known_labels: KnownLabels | None = None
) -> dict[str, Any]:
    return serialize_tasks(session, [task], known_labels)[0]


def serialize_notes(session: Session, notes: Sequence[Note]) -> list[dict[str, Any]]:
    people = refs.people(session, {n.person_id for n in notes})
    return [
        {
            "id": n.id,
            "text": n.text,
            "person": refs.ref(people, n.person_id),
            "created_at": iso(n.created_at),
        }
        for n in notes
    ]


def serialize_labels(labels: Sequence[TaskLabel]) -> list[dict[str, Any]]:
    return [{"name": label.name, "created_at": iso(label.created_at)} for label in labels]


def serialize_events(session: Session, events: Sequence[TaskEvent]) -> list[dict[str, Any]]:
    people = refs.people(session, {e.person_id for e in events})
    return [
        {
            "id": e.id,
            "action": e.action,
            "person": refs.ref(people, e.person_id),
            "changes": e.changes,
            "created_at": iso(e.created_at),
        }
        for e in events
    ]
