"""Read queries, always scoped to one account.

``get_*`` raises ``NotFound``/``TaskNotFound``; ``find_*`` returns None; ``list_*``
returns a ``Page``. Another account's object is simply not there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, exists, func, null, true
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from tasks_service.errors import NotFound, TaskNotFound
from tasks_service.models import Note, Task, TaskEvent, TaskLabel, Workflow
from tasks_service.querying import FieldSpec, Kind, ResourceQuery, parse_sort
from tasks_service.serializers import TASK_COLLECTION_FIELDS
from tasks_service.statuses import (
    TaskCategory,
    TaskImpact,
    TaskStatus,
    WorkflowCategory,
    WorkflowStatus,
)

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


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
    return FieldSpec(name, Kind.moment, column)


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
        FieldSpec("status", Kind.enum, col(Task.status), TaskStatus, nullable=False),
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
)

WORKFLOW_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Workflow.id), nullable=False),
        FieldSpec("subject", Kind.text, col(Workflow.subject), nullable=False),
        FieldSpec("category", Kind.enum, col(Workflow.category), WorkflowCategory, nullable=False),
        FieldSpec("status", Kind.enum, col(Workflow.status), WorkflowStatus, nullable=False),
        FieldSpec("manager", Kind.reference, col(Workflow.manager_id)),
        _moment("created_at", col(Workflow.created_at)),
        _moment("updated_at", col(Workflow.updated_at)),
        _moment("completed_at", col(Workflow.completed_at)),
    ],
    sortable=[
        "id",
        "subject",
        "category",
        "status",
        "manager",
        "created_at",
        "updated_at",
        "completed_at",
    ],
)


def paginate(session: Session, query: SelectOfScalar[Any], request: PageRequest) -> Page[Any]:
    """One count and one page query, whatever the page size."""
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    items = list(
        session.exec(query.offset((request.page - 1) * request.per_page).limit(request.per_page))
    )
    return Page(items=items, total=total, page=request.page, per_page=request.per_page)


def find_task(session: Session, account_id: int, task_id: int) -> Task | None:
    task = session.get(Task, task_id)
    return task if task is not None and task.account_id == account_id else None


def get_task(session: Session, account_id: int, task_id: int) -> Task:
    """The task. Raises: TaskNotFound (also for another account's task)."""
    task = find_task(session, account_id, task_id)
    if task is None:
        raise TaskNotFound(f"no task {task_id}")
    return task


def list_tasks(
    session: Session,
    account_id: int,
    request: PageRequest,
    workflow_id: int | None = None,
    where: ColumnElement[bool] | None = None,
    order: list[Any] | None = None,
) -> Page[Task]:
    """Tasks of the account (or of one workflow) matching ``where``, newest first.

    Raises: NotFound for a workflow of another account.
    """
    query = select(Task).where(
        Task.account_id == account_id, where if where is not None else true()
    )
    if workflow_id is not None:
        get_workflow(session, account_id, workflow_id)
        query = query.where(Task.workflow_id == workflow_id)
    return paginate(session, query.order_by(*(order or parse_sort(TASK_QUERY, None))), request)


def get_workflow(session: Session, account_id: int, workflow_id: int) -> Workflow:
    """Raises: NotFound (also for another account's workflow)."""
    workflow = session.get(Workflow, workflow_id)
    if workflow is None or workflow.account_id != account_id:
        raise NotFound(f"no workflow {workflow_id}")
    return workflow


def list_workflows(
    session: Session,
    account_id: int,
    request: PageRequest,
    where: ColumnElement[bool] | None = None,
    order: list[Any] | None = None,
) -> Page[Workflow]:
    """Workflows of the account matching ``where``, newest first unless ``order`` says."""
    query = (
        select(Workflow)
        .where(Workflow.account_id == account_id, where if where is not None else true())
        .order_by(*(order or parse_sort(WORKFLOW_QUERY, None)))
    )
    return paginate(session, query, request)


def list_notes(session: Session, account_id: int, task_id: int, request: PageRequest) -> Page[Note]:
    """Notes of a task, oldest first. Raises: TaskNotFound."""
    get_task(session, account_id, task_id)
    query = select(Note).where(Note.task_id == task_id).order_by(col(Note.id))
    return paginate(session, query, request)


def list_events(
    session: Session, account_id: int, task_id: int, request: PageRequest
) -> Page[TaskEvent]:
    """The change history of a task, oldest first. Raises: TaskNotFound."""
    get_task(session, account_id, task_id)
    query = select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(col(TaskEvent.id))
    return paginate(session, query, request)
