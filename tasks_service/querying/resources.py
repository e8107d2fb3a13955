"""Each collection's declaration: which fields it may be filtered and sorted on, what it
shows (from the resource's public model, ``store.schemas``), its predefined filters
(002's ``/tasks/open``...) and Trackops' list parameters (001)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, exists, null
from sqlmodel import col, select

from tasks_service.core.statuses import (
    FINISHED,
    OPEN,
    TRACKOPS_STATUSES,
    TaskCategory,
    TaskImpact,
    TaskStatus,
    WorkflowCategory,
    WorkflowStatus,
)
from tasks_service.querying.filters import (
    Extra,
    FieldSpec,
    Kind,
    ResourceQuery,
    contains,
    day_bound,
    equals,
)
from tasks_service.store.models import Calendar as CalendarRow
from tasks_service.store.models import (
    Note,
    Person,
    Task,
    TaskEvent,
    TaskLabel,
    Team,
    TeamMembership,
    Workflow,
)
from tasks_service.store.schemas.calendars import CALENDAR_FIELDS
from tasks_service.store.schemas.directory import PERSON_FIELDS, TEAM_FIELDS
from tasks_service.store.schemas.shape import field_names
from tasks_service.store.schemas.tasks import (
    TASK_COLLECTION_FIELDS,
    TASK_FIELDS,
    EventPublic,
    NotePublic,
)
from tasks_service.store.schemas.workflows import WORKFLOW_FIELDS


def _labels_condition(operator: str, names: list[str]) -> ColumnElement[bool]:
    def having(*where: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(col(TaskLabel.task_id) == Task.id, *where)

    return {
        "empty": lambda: ~having(),
        "present": lambda: having(),
        "in": lambda: having(col(TaskLabel.name).in_(names)),
        "not_in": lambda: ~having(col(TaskLabel.name).in_(names)),
    }[operator]()


def _moment(name: str, column: object) -> FieldSpec:
    # Every record has these two; saying so keeps cursor conditions free of "or null".
    return FieldSpec(name, Kind.moment, column, nullable=name not in ("created_at", "updated_at"))


#: Filterable task fields: those 002 lists, plus the dates of 001/003, labels and
#: planned_duration. ``template`` exists in 002 but not here: it matches only ``template=``.
TASK_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Task.id), nullable=False),
        FieldSpec("source", Kind.text, col(Task.source)),
        FieldSpec("sourceID", Kind.text, col(Task.source_id)),
        FieldSpec("subject", Kind.text, col(Task.subject), nullable=False),
        FieldSpec("impact", Kind.enum, col(Task.impact), TaskImpact),
        FieldSpec("category", Kind.enum, col(Task.category), TaskCategory, nullable=False),
        FieldSpec(
            "status",
            Kind.enum,
            col(Task.status),
            TaskStatus,
            nullable=False,
            aliases=TRACKOPS_STATUSES,
        ),
        FieldSpec("team", Kind.reference, col(Task.team_id)),
        FieldSpec("member", Kind.reference, col(Task.member_id)),
        FieldSpec("workflow", Kind.reference, col(Task.workflow_id)),
        FieldSpec("template", Kind.reference, null()),
        FieldSpec("planned_duration", Kind.integer, col(Task.planned_duration)),
        _moment("completion_target_at", col(Task.completion_target_at)),
        _moment("finished_at", col(Task.finished_at)),
        _moment("created_at", col(Task.created_at)),
        _moment("updated_at", col(Task.updated_at)),
        _moment("due_at", col(Task.due_at)),
        _moment("alert_at", col(Task.alert_at)),
        _moment("alert_sent_at", col(Task.alert_sent_at)),
        _moment("start_at", col(Task.start_at)),
        _moment("waiting_until", col(Task.waiting_until)),
        FieldSpec("labels", Kind.tag, condition=_labels_condition),
    ],
    # 002 lists the same fields as sortable and as shown in collections.
    sortable=TASK_COLLECTION_FIELDS,
    shown=TASK_FIELDS,
    collection_fields=TASK_COLLECTION_FIELDS,
)

#: Trackops' list parameters (001) on ``/tasks``, next to the 4me filters.
TASK_TRACKOPS: Extra = {
    **{
        f"{name}_{end}": day_bound(f"{name}_{end}", column, upper=end == "to")
        for name, column in [
            ("due", col(Task.due_at)),
            ("complete", col(Task.finished_at)),
            ("alert", col(Task.alert_at)),
            ("alert_sent", col(Task.alert_sent_at)),
            ("created", col(Task.created_at)),
            ("updated", col(Task.updated_at)),
        ]
        for end in ("from", "to")
    },
    "title": contains("title", col(Task.subject)),
    "user": equals(FieldSpec("user", Kind.reference, col(Task.member_id))),
    # the tasks whose completion target runs on this calendar
    "calendar": equals(FieldSpec("calendar", Kind.reference, col(Task.calendar_id))),
}


def _my_teams(person_id: int) -> Any:
    return select(TeamMembership.team_id).where(TeamMembership.person_id == person_id)


def _managed_by(person_id: int) -> Any:
    return select(Workflow.id).where(Workflow.manager_id == person_id)


#: 002's predefined task filters, for the API user ``person_id``.
TASK_VIEWS: dict[str, Callable[[int], ColumnElement[bool]]] = {
    "finished": lambda _me: col(Task.status).in_(sorted(FINISHED)),
    # The open statuses listed (not "not finished"): the index on (account, status)
    # then reads only open tasks' entries, instead of all the account's.
    "open": lambda _me: col(Task.status).in_(sorted(OPEN)),
    "managed_by_me": lambda me: col(Task.workflow_id).in_(_managed_by(me)),
    "assigned_to_my_team": lambda me: col(Task.team_id).in_(_my_teams(me)),
    "assigned_to_me": lambda me: col(Task.member_id) == me,
    "approval_by_me": lambda me: (
        (col(Task.member_id) == me)
        & (col(Task.category) == TaskCategory.approval)
        & (col(Task.status) != TaskStatus.registered)
    ),
}

WORKFLOW_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Workflow.id), nullable=False),
        FieldSpec("subject", Kind.text, col(Workflow.subject), nullable=False),
        FieldSpec("category", Kind.enum, col(Workflow.category), WorkflowCategory, nullable=False),
        FieldSpec("status", Kind.enum, col(Workflow.status), WorkflowStatus, nullable=False),
        FieldSpec("manager", Kind.reference, col(Workflow.manager_id)),
        FieldSpec("calendar", Kind.reference, col(Workflow.calendar_id)),
        FieldSpec("escalation_policy", Kind.reference, col(Workflow.escalation_policy_id)),
        _moment("created_at", col(Workflow.created_at)),
        _moment("updated_at", col(Workflow.updated_at)),
        _moment("completed_at", col(Workflow.completed_at)),
    ],
    sortable=WORKFLOW_FIELDS,  # every field a workflow shows can order its list
    shown=WORKFLOW_FIELDS,
)

#: 002's predefined workflow filters.
WORKFLOW_VIEWS: dict[str, Callable[[int], ColumnElement[bool]]] = {
    "open": lambda _me: col(Workflow.status) != WorkflowStatus.completed,
    "completed": lambda _me: col(Workflow.status) == WorkflowStatus.completed,
    "managed_by_me": lambda me: col(Workflow.manager_id) == me,
}

PERSON_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Person.id), nullable=False),
        FieldSpec("name", Kind.text, col(Person.name), nullable=False),
        FieldSpec("primary_email", Kind.text, col(Person.primary_email), nullable=False),
        FieldSpec("disabled", Kind.boolean, col(Person.disabled), nullable=False),
        _moment("created_at", col(Person.created_at)),
        _moment("updated_at", col(Person.updated_at)),
    ],
    sortable=["id", "name", "created_at", "updated_at"],
    shown=PERSON_FIELDS,
    default_sort="id",
)

TEAM_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Team.id), nullable=False),
        FieldSpec("name", Kind.text, col(Team.name), nullable=False),
        FieldSpec("disabled", Kind.boolean, col(Team.disabled), nullable=False),
        FieldSpec("calendar", Kind.reference, col(Team.calendar_id)),
        FieldSpec("escalation_policy", Kind.reference, col(Team.escalation_policy_id)),
        _moment("created_at", col(Team.created_at)),
        _moment("updated_at", col(Team.updated_at)),
    ],
    sortable=["id", "name", "created_at", "updated_at"],
    shown=TEAM_FIELDS,
    default_sort="id",
)

CALENDAR_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(CalendarRow.id), nullable=False),
        FieldSpec("name", Kind.text, col(CalendarRow.name), nullable=False),
        FieldSpec("time_zone", Kind.text, col(CalendarRow.time_zone), nullable=False),
        FieldSpec("is_24x7", Kind.boolean, col(CalendarRow.is_24x7), nullable=False),
        _moment("created_at", col(CalendarRow.created_at)),
        _moment("updated_at", col(CalendarRow.updated_at)),
    ],
    sortable=["id", "name", "created_at", "updated_at"],
    shown=CALENDAR_FIELDS,
    default_sort="id",
)

NOTE_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Note.id), nullable=False),
        FieldSpec("person", Kind.reference, col(Note.person_id)),
        _moment("created_at", col(Note.created_at)),
    ],
    sortable=["id", "created_at"],
    shown=field_names(NotePublic),
    default_sort="id",
)

EVENT_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(TaskEvent.id), nullable=False),
        FieldSpec("action", Kind.text, col(TaskEvent.action), nullable=False),
        FieldSpec("person", Kind.reference, col(TaskEvent.person_id)),
        _moment("created_at", col(TaskEvent.created_at)),
    ],
    sortable=["id", "created_at"],
    shown=field_names(EventPublic),
    default_sort="id",
)
