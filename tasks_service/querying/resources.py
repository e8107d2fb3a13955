"""Each collection's declaration: which fields it may be filtered and sorted on, what it
shows (from the resource's public model, ``store.schemas``), its predefined filters
(002's ``/tasks/open``...) and Trackops' list parameters (001)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, exists, null, true, union
from sqlmodel import col, select

from tasks_service.core.statuses import (
    FINISHED,
    OPEN,
    TRACKOPS_STATUSES,
    DeliveryState,
    TaskCategory,
    TaskImpact,
    TaskStatus,
    WorkflowCategory,
    WorkflowCompletionReason,
    WorkflowStatus,
)
from tasks_service.core.validation import MAX_ID
from tasks_service.querying.filters import (
    Extra,
    FieldSpec,
    Kind,
    QueryError,
    ResourceQuery,
    contains,
    day_bound,
    equals,
    moment_field,
)
from tasks_service.store.models import Calendar as CalendarRow
from tasks_service.store.models import (
    Delivery,
    EscalationPolicy,
    Note,
    Notification,
    Person,
    Task,
    TaskAssignment,
    TaskDependency,
    TaskEscalation,
    TaskEvent,
    TaskLabel,
    Team,
    TeamMembership,
    Webhook,
    Workflow,
)
from tasks_service.store.schemas.calendars import CALENDAR_FIELDS
from tasks_service.store.schemas.directory import PERSON_FIELDS, TEAM_FIELDS
from tasks_service.store.schemas.messages import (
    DeliveryPublic,
    NotificationPublic,
    WebhookPublic,
)
from tasks_service.store.schemas.policies import EscalationPolicyPublic, TaskEscalationPublic
from tasks_service.store.schemas.shape import field_names
from tasks_service.store.schemas.tasks import (
    TASK_COLLECTION_FIELDS,
    TASK_FIELDS,
    EventPublic,
    LabelPublic,
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
        moment_field("completion_target_at", col(Task.completion_target_at)),
        moment_field("finished_at", col(Task.finished_at)),
        moment_field("created_at", col(Task.created_at)),
        moment_field("updated_at", col(Task.updated_at)),
        moment_field("due_at", col(Task.due_at)),
        moment_field("alert_at", col(Task.alert_at)),
        moment_field("alert_sent_at", col(Task.alert_sent_at)),
        moment_field("start_at", col(Task.start_at)),
        moment_field("waiting_until", col(Task.waiting_until)),
        FieldSpec("labels", Kind.tag, condition=_labels_condition),
    ],
    # 002 lists the same fields as sortable and as shown in collections.
    sortable=TASK_COLLECTION_FIELDS,
    shown=TASK_FIELDS,
    collection_fields=TASK_COLLECTION_FIELDS,
)


def _user_condition(operator: str, ids: list[int]) -> ColumnElement[bool]:
    """Trackops' ``user`` (001: "the user assigned to this task"): the task's member, or
    a person with an assignment of it (its ``users_list``). ``user=`` is a task with
    neither, ``user=!`` one with either, ``user=!7`` one that is not person 7's. Their
    tasks are found through the indexes on the member and on the assignments' person."""
    if operator in ("empty", "present"):
        assigned = select(TaskAssignment.task_id)
        anyone = col(Task.member_id).is_not(None) | col(Task.id).in_(assigned)
        return anyone if operator == "present" else ~anyone
    theirs: Any = union(
        select(col(Task.id)).where(col(Task.member_id).in_(ids)),
        select(col(TaskAssignment.task_id)).where(col(TaskAssignment.person_id).in_(ids)),
    )
    return col(Task.id).in_(theirs) if operator == "in" else col(Task.id).not_in(theirs)


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
    # its member, or one of the people with an assignment of it (``users_list``)
    "user": equals(FieldSpec("user", Kind.reference, condition=_user_condition)),
    # the tasks whose completion target runs on this calendar
    "calendar": equals(FieldSpec("calendar", Kind.reference, col(Task.calendar_id))),
    # Trackops' references: its case and subject (``subject`` is 4me's filter on the
    # subject text, so Trackops' ``subject`` parameter is ``subject_id`` here)
    "case": equals(FieldSpec("case", Kind.reference, col(Task.casefile_id))),
    "subject_id": equals(FieldSpec("subject_id", Kind.reference, col(Task.subject_id))),
}


def _my_teams(person_id: int) -> Any:
    return select(TeamMembership.team_id).where(TeamMembership.person_id == person_id)


def _mine(person_id: int) -> ColumnElement[bool]:
    assigned = select(TaskAssignment.task_id).where(TaskAssignment.person_id == person_id)
    return (col(Task.member_id) == person_id) | col(Task.id).in_(assigned)


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
    # its member, or one of the people with an assignment of it (``core.assignments``)
    "assigned_to_me": lambda me: _mine(me),
    "approval_by_me": lambda me: (
        _mine(me)
        & (col(Task.category) == TaskCategory.approval)
        & (col(Task.status) != TaskStatus.registered)
    ),
}

#: A task's links in its workflow's plan, as list conditions (``GET
#: /tasks/:id/predecessors`` and ``/successors``).
TASK_LINKS: dict[str, Callable[[int], ColumnElement[bool]]] = {
    "predecessors": lambda task_id: col(Task.id).in_(
        select(TaskDependency.predecessor_id).where(TaskDependency.successor_id == task_id)
    ),
    "successors": lambda task_id: col(Task.id).in_(
        select(TaskDependency.successor_id).where(TaskDependency.predecessor_id == task_id)
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
        FieldSpec("template", Kind.reference, col(Workflow.template_id)),
        moment_field("start_at", col(Workflow.start_at)),
        FieldSpec("impact", Kind.enum, col(Workflow.impact), TaskImpact),
        moment_field("completion_target_at", col(Workflow.completion_target_at)),
        FieldSpec(
            "completion_reason",
            Kind.enum,
            col(Workflow.completion_reason),
            WorkflowCompletionReason,
        ),
        moment_field("created_at", col(Workflow.created_at)),
        moment_field("updated_at", col(Workflow.updated_at)),
        moment_field("completed_at", col(Workflow.completed_at)),
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
        moment_field("created_at", col(Person.created_at)),
        moment_field("updated_at", col(Person.updated_at)),
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
        moment_field("created_at", col(Team.created_at)),
        moment_field("updated_at", col(Team.updated_at)),
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
        moment_field("created_at", col(CalendarRow.created_at)),
        moment_field("updated_at", col(CalendarRow.updated_at)),
    ],
    sortable=["id", "name", "created_at", "updated_at"],
    shown=CALENDAR_FIELDS,
    default_sort="id",
)

NOTE_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Note.id), nullable=False),
        FieldSpec("person", Kind.reference, col(Note.person_id)),
        moment_field("created_at", col(Note.created_at)),
    ],
    sortable=["id", "created_at"],
    shown=field_names(NotePublic),
    default_sort="id",
)

#: A task's labels (``/tasks/:id/labels``): a name is one label of the task.
LABEL_QUERY = ResourceQuery.of(
    [
        FieldSpec("name", Kind.text, col(TaskLabel.name), nullable=False),
        moment_field("created_at", col(TaskLabel.created_at)),
    ],
    sortable=["name", "created_at"],
    shown=field_names(LabelPublic),
    default_sort="name",
    key="name",
)

EVENT_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(TaskEvent.id), nullable=False),
        FieldSpec("action", Kind.text, col(TaskEvent.action), nullable=False),
        FieldSpec("person", Kind.reference, col(TaskEvent.person_id)),
        moment_field("created_at", col(TaskEvent.created_at)),
    ],
    sortable=["id", "created_at"],
    shown=field_names(EventPublic),
    default_sort="id",
)

ESCALATION_POLICY_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(EscalationPolicy.id), nullable=False),
        FieldSpec("name", Kind.text, col(EscalationPolicy.name), nullable=False),
        FieldSpec(
            "offsets_in_service_time",
            Kind.boolean,
            col(EscalationPolicy.offsets_in_service_time),
            nullable=False,
        ),
        moment_field("created_at", col(EscalationPolicy.created_at)),
        moment_field("updated_at", col(EscalationPolicy.updated_at)),
    ],
    sortable=["id", "name", "created_at", "updated_at"],
    shown=field_names(EscalationPolicyPublic),
    default_sort="id",
)

#: A task's fired escalation levels (``/tasks/:id/escalations``), in the order they fired.
TASK_ESCALATION_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(TaskEscalation.id), nullable=False),
        FieldSpec("level", Kind.integer, col(TaskEscalation.level), nullable=False),
        FieldSpec("escalation_policy", Kind.reference, col(TaskEscalation.policy_id)),
        FieldSpec("late", Kind.boolean, col(TaskEscalation.late), nullable=False),
        FieldSpec("fire_at", Kind.moment, col(TaskEscalation.fire_at), nullable=False),
        FieldSpec("fired_at", Kind.moment, col(TaskEscalation.fired_at), nullable=False),
    ],
    sortable=["id", "level", "fire_at", "fired_at"],
    shown=field_names(TaskEscalationPublic),
    default_sort="id",
)

WEBHOOK_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Webhook.id), nullable=False),
        FieldSpec("disabled", Kind.boolean, col(Webhook.disabled), nullable=False),
        moment_field("failing_since", col(Webhook.failing_since)),
        moment_field("created_at", col(Webhook.created_at)),
        moment_field("updated_at", col(Webhook.updated_at)),
    ],
    sortable=["id", "created_at", "updated_at"],
    shown=field_names(WebhookPublic),
    default_sort="id",
)

#: A webhook's deliveries (``/webhooks/:id/deliveries``), newest first.
DELIVERY_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Delivery.id), nullable=False),
        FieldSpec("event", Kind.text, col(Delivery.event), nullable=False),
        FieldSpec("task_id", Kind.reference, col(Delivery.task_id)),
        FieldSpec("state", Kind.enum, col(Delivery.state), DeliveryState, nullable=False),
        FieldSpec("attempts", Kind.integer, col(Delivery.attempts), nullable=False),
        FieldSpec("last_status", Kind.integer, col(Delivery.last_status)),
        moment_field("next_attempt_at", col(Delivery.next_attempt_at)),
        moment_field("delivered_at", col(Delivery.delivered_at)),
        moment_field("created_at", col(Delivery.created_at)),
    ],
    sortable=["id", "attempts", "next_attempt_at", "delivered_at", "created_at"],
    shown=field_names(DeliveryPublic),
    default_sort="-id",
)

#: A person's feed (``/people/me/notifications``), newest first.
NOTIFICATION_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Notification.id), nullable=False),
        FieldSpec("event", Kind.text, col(Notification.event), nullable=False),
        FieldSpec("task", Kind.reference, col(Notification.task_id)),
        moment_field("read_at", col(Notification.read_at)),
        moment_field("created_at", col(Notification.created_at)),
    ],
    sortable=["id", "created_at"],
    shown=field_names(NotificationPublic),
    default_sort="-id",
)


def _unread(text: str) -> ColumnElement[bool]:
    if text not in ("true", "false"):
        raise QueryError("unread", f"{text!r} is not true or false")
    return col(Notification.read_at).is_(None) if text == "true" else true()


def _before(text: str) -> ColumnElement[bool]:
    number = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= number <= MAX_ID:
        raise QueryError("before", f"{text!r} is not the id of a notification (1 to {MAX_ID})")
    return col(Notification.id) < number


#: The feed's own parameters (README): ``unread=true`` for the unread only, ``before=<id>``
#: for those older than a notification seen.
NOTIFICATION_PARAMETERS: Extra = {"unread": _unread, "before": _before}
