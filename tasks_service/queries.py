"""Read queries, always scoped to one account.

``get_*`` raises ``NotFound``/``TaskNotFound``; ``find_*`` returns None; ``list_*``
returns a ``Page``. Another account's object is simply not there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from tasks_service.errors import NotFound, TaskNotFound
from tasks_service.models import Note, Task, TaskEvent, Workflow

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
) -> Page[Task]:
    """Tasks of the account (or of one workflow), newest first."""
    query = select(Task).where(Task.account_id == account_id)
    if workflow_id is not None:
        get_workflow(session, account_id, workflow_id)
        query = query.where(Task.workflow_id == workflow_id)
    return paginate(session, query.order_by(col(Task.id).desc()), request)


def get_workflow(session: Session, account_id: int, workflow_id: int) -> Workflow:
    """Raises: NotFound (also for another account's workflow)."""
    workflow = session.get(Workflow, workflow_id)
    if workflow is None or workflow.account_id != account_id:
        raise NotFound(f"no workflow {workflow_id}")
    return workflow


def list_workflows(session: Session, account_id: int, request: PageRequest) -> Page[Workflow]:
    query = (
        select(Workflow).where(Workflow.account_id == account_id).order_by(col(Workflow.id).desc())
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
