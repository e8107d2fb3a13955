"""Reading collections and single records, always scoped to one account.

``list_*`` returns a ``Page`` (``querying.paging``) of a collection declared in
``querying.resources``; a single record comes from ``store.lookups`` (``get`` raises
``TaskNotFound`` / ``NotFound``, ``find`` returns None). Another account's record is
simply not there.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from tasks_service.querying.paging import ListQuery, Page, run_list
from tasks_service.store import lookups
from tasks_service.store.models import Calendar as CalendarRow
from tasks_service.store.models import (
    Delivery,
    EscalationPolicy,
    Note,
    Notification,
    Person,
    Task,
    TaskEscalation,
    TaskEvent,
    TaskLabel,
    TaskTemplate,
    Team,
    TeamMembership,
    Webhook,
    Workflow,
    WorkflowPhase,
    WorkflowTemplate,
)


def list_tasks(
    session: Session,
    account_id: int,
    query: ListQuery,
    workflow_id: int | None = None,
    view: ColumnElement[bool] | None = None,
) -> Page[Task]:
    """A page of the account's tasks (or one workflow's) matching ``query`` and the
    predefined filter ``view``. Raises: NotFound for a workflow of another account."""
    if workflow_id is not None:
        lookups.get(session, Workflow, account_id, workflow_id)
    return run_list(session, Task, task_list_conditions(account_id, workflow_id, view), query)


def task_list_conditions(
    account_id: int, workflow_id: int | None = None, view: ColumnElement[bool] | None = None
) -> list[ColumnElement[bool]]:
    """What every task list of an account (or of one of its workflows) starts from."""
    conditions = [col(Task.account_id) == account_id]
    if workflow_id is not None:
        conditions.append(col(Task.workflow_id) == workflow_id)
    if view is not None:
        conditions.append(view)
    return conditions


def list_workflows(
    session: Session, account_id: int, query: ListQuery, view: ColumnElement[bool] | None = None
) -> Page[Workflow]:
    conditions = [col(Workflow.account_id) == account_id]
    if view is not None:
        conditions.append(view)
    return run_list(session, Workflow, conditions, query)


def list_notes(session: Session, account_id: int, task_id: int, query: ListQuery) -> Page[Note]:
    """Notes of a task, oldest first unless sorted. Raises: TaskNotFound."""
    lookups.get(session, Task, account_id, task_id)
    return run_list(session, Note, [col(Note.task_id) == task_id], query)


def list_labels(
    session: Session, account_id: int, task_id: int, query: ListQuery
) -> Page[TaskLabel]:
    """A task's labels, by name unless sorted. Raises: TaskNotFound."""
    lookups.get(session, Task, account_id, task_id)
    return run_list(session, TaskLabel, [col(TaskLabel.task_id) == task_id], query)


def list_events(
    session: Session, account_id: int, task_id: int, query: ListQuery
) -> Page[TaskEvent]:
    """The change history of a task, oldest first unless sorted. Raises: TaskNotFound."""
    lookups.get(session, Task, account_id, task_id)
    return run_list(session, TaskEvent, [col(TaskEvent.task_id) == task_id], query)


def list_people(session: Session, account_id: int, query: ListQuery) -> Page[Person]:
    return run_list(session, Person, [col(Person.account_id) == account_id], query)


def list_teams(session: Session, account_id: int, query: ListQuery) -> Page[Team]:
    return run_list(session, Team, [col(Team.account_id) == account_id], query)


def list_calendars(session: Session, account_id: int, query: ListQuery) -> Page[CalendarRow]:
    return run_list(session, CalendarRow, [col(CalendarRow.account_id) == account_id], query)


def list_team_members(
    session: Session, account_id: int, team_id: int, query: ListQuery
) -> Page[Person]:
    """Raises: NotFound (also for another account's team)."""
    lookups.get(session, Team, account_id, team_id)
    members = select(TeamMembership.person_id).where(TeamMembership.team_id == team_id)
    return run_list(session, Person, [col(Person.id).in_(members)], query)


def list_person_teams(
    session: Session, account_id: int, person_id: int, query: ListQuery
) -> Page[Team]:
    """Raises: NotFound (also for another account's person)."""
    lookups.get(session, Person, account_id, person_id)
    teams = select(TeamMembership.team_id).where(TeamMembership.person_id == person_id)
    return run_list(
        session, Team, [col(Team.id).in_(teams), col(Team.account_id) == account_id], query
    )


def list_escalation_policies(
    session: Session, account_id: int, query: ListQuery
) -> Page[EscalationPolicy]:
    return run_list(
        session, EscalationPolicy, [col(EscalationPolicy.account_id) == account_id], query
    )


def list_task_escalations(
    session: Session, account_id: int, task_id: int, query: ListQuery
) -> Page[TaskEscalation]:
    """The escalation levels that fired for a task. Raises: TaskNotFound."""
    lookups.get(session, Task, account_id, task_id)
    return run_list(session, TaskEscalation, [col(TaskEscalation.task_id) == task_id], query)


def list_webhooks(session: Session, account_id: int, query: ListQuery) -> Page[Webhook]:
    return run_list(session, Webhook, [col(Webhook.account_id) == account_id], query)


def list_deliveries(
    session: Session, account_id: int, webhook_id: int, query: ListQuery
) -> Page[Delivery]:
    """A webhook's deliveries, newest first unless sorted. Raises: NotFound."""
    lookups.get(session, Webhook, account_id, webhook_id)
    return run_list(session, Delivery, [col(Delivery.webhook_id) == webhook_id], query)


def list_notifications(session: Session, person_id: int, query: ListQuery) -> Page[Notification]:
    """A person's own feed, newest first unless sorted."""
    return run_list(session, Notification, [col(Notification.person_id) == person_id], query)


def list_phases(
    session: Session, account_id: int, workflow_id: int, query: ListQuery
) -> Page[WorkflowPhase]:
    """A workflow's phases, by position then id unless sorted. Raises: NotFound."""
    lookups.get(session, Workflow, account_id, workflow_id)
    return run_list(session, WorkflowPhase, [col(WorkflowPhase.workflow_id) == workflow_id], query)


def list_task_templates(session: Session, account_id: int, query: ListQuery) -> Page[TaskTemplate]:
    return run_list(session, TaskTemplate, [col(TaskTemplate.account_id) == account_id], query)


def list_workflow_templates(
    session: Session, account_id: int, query: ListQuery
) -> Page[WorkflowTemplate]:
    return run_list(
        session, WorkflowTemplate, [col(WorkflowTemplate.account_id) == account_id], query
    )
