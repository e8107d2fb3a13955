"""The account-scoped look-ups, one family for every resource:

- ``find(session, Model, account_id, id)``: the row, or None (another account's row is
  not there);
- ``get(...)``: the row, or the resource's not-found error (``TaskNotFound`` for a task,
  ``NotFound`` for the rest);
- ``lock(...)``: as ``get``, row-locked until the transaction ends; for commands only,
  never on a read path;
- ``check_ref(...)``: an id a client gave in a field names a row of the account, or a
  422 naming that field.

``ensure_free`` checks that a name or email is not taken in the account (without regard
to case), ``store_unique`` stores a row that must stay so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel, select

from tasks_service.core.errors import NotFound, TaskNotFound, field_error
from tasks_service.core.validation import MAX_ID
from tasks_service.store.db import is_postgres
from tasks_service.store.models import (
    Account,
    Calendar,
    Delivery,
    EscalationPolicy,
    Notification,
    Operation,
    Person,
    Task,
    TaskTemplate,
    Team,
    Webhook,
    Workflow,
    WorkflowPhase,
    WorkflowTemplate,
)

R = TypeVar("R", bound=SQLModel)

#: What each resource is called in messages ("no escalation policy 7").
NAMES: dict[type[SQLModel], str] = {
    Task: "task",
    Workflow: "workflow",
    Person: "person",
    Team: "team",
    Calendar: "calendar",
    EscalationPolicy: "escalation policy",
    Webhook: "webhook",
    Delivery: "delivery",
    Notification: "notification",
    Operation: "operation",
    WorkflowPhase: "phase",
    TaskTemplate: "task template",
    WorkflowTemplate: "workflow template",
}


def not_found(model: type[SQLModel], row_id: object) -> NotFound:
    """The error for a missing row of ``model`` (``TaskNotFound`` for tasks)."""
    error = TaskNotFound if model is Task else NotFound
    return error(f"no {NAMES[model]} {row_id}")


def find(session: Session, model: type[R], account_id: int, row_id: int) -> R | None:
    """The account's row of ``model`` with this id, or None. A plain read (rows already
    in the session cost no query)."""
    if not 1 <= row_id <= MAX_ID:  # beyond any id (and the column's range)
        return None
    row = keep(session, session.get(model, row_id))
    return row if row is not None and cast(Any, row).account_id == account_id else None


def get(session: Session, model: type[R], account_id: int, row_id: int) -> R:
    """Raises: TaskNotFound / NotFound (also for another account's row)."""
    row = find(session, model, account_id, row_id)
    if row is None:
        raise not_found(model, row_id)
    return row


def lock(session: Session, model: type[R], account_id: int, row_id: int) -> R:
    """The row, locked until the transaction ends. Raises: TaskNotFound / NotFound.

    On PostgreSQL this is ``SELECT ... FOR UPDATE`` (read afresh, whatever the session
    held); SQLite write transactions hold the database's write lock from ``BEGIN
    IMMEDIATE`` on, which serialises them already.
    """
    table = cast(Any, model)
    query = select(model).where(table.id == row_id, table.account_id == account_id)
    if is_postgres(session):
        query = query.with_for_update()
    row = keep(session, session.exec(query.execution_options(populate_existing=True)).first())
    if row is None:
        raise not_found(model, row_id)
    return row


def check_ref(
    session: Session, model: type[SQLModel], account_id: int, row_id: int | None, field: str
) -> None:
    """An id given in ``field`` names a row of the account (None names nothing).
    Raises: TaskValidationError (``field``, code ``not_found``)."""
    if row_id is not None and find(session, model, account_id, row_id) is None:
        raise field_error(field, "not_found", f"no {NAMES[model]} {row_id}")


class HasContainers(Protocol):
    @property
    def account_id(self) -> int: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def workflow_id(self) -> int | None: ...


def named_for(session: Session, task: HasContainers, field: str) -> int | None:
    """What applies to a task of what its team, workflow and account name in ``field``
    (``calendar_id``, ``escalation_policy_id``): its team's, else its workflow's, else
    the account's (None: none names one). By primary key, so rows already in the
    session (the team just checked, the workflow locked) cost no query. (A calendar
    chosen for the task itself comes before these: ``calendar_store.calendar_for``.)"""
    for model, row_id in ((Team, task.team_id), (Workflow, task.workflow_id)):
        if row_id is not None:
            row = keep(session, session.get(model, row_id))
            if row is not None and getattr(row, field) is not None:
                named: int = getattr(row, field)
                return named
    account = keep(session, session.get(Account, task.account_id))
    return None if account is None else getattr(account, field)


def rows_by_id(session: Session, model: type[R], ids: Iterable[int]) -> list[R]:
    """The rows of ``model`` with these ids (any account's: the caller chose the ids),
    in the order given: those the session holds from there, the rest in one query; all
    held by the session from then on (``keep``)."""
    wanted = list(dict.fromkeys(ids))
    found: dict[int, R] = {}
    missing = []
    for row_id in wanted:
        row = session.identity_map.get(identity_key(model, row_id))
        if row is not None:
            found[row_id] = row
        else:
            missing.append(row_id)
    if missing:
        table = cast(Any, model)
        for row in session.exec(select(model).where(table.id.in_(missing))):
            found[cast(Any, row).id] = row
    return [kept for row_id in wanted if (kept := keep(session, found.get(row_id)))]


def keep(session: Session, row: R | None) -> R | None:
    """``row``, held by the session until it closes. The session's identity map holds
    rows weakly: a team or account looked up for each of many tasks in one transaction
    would be read again each time once nothing else held it. Held, it is read once, and
    changes made to it in the transaction are still seen (it is the same object)."""
    if row is not None:
        session.info.setdefault("kept", {})[(type(row), id(row))] = row
    return row


def get_account(session: Session, account_id: int) -> Account:
    """Raises: NotFound."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


def ensure_free(
    session: Session,
    model: type[SQLModel],
    account_id: int,
    field: str,
    value: Any,
    own_id: int | None,
    message: str,
) -> None:
    """No other row of ``model`` in the account has ``value`` in ``field`` (a name, an
    email), in whatever letters: texts are compared with the database's ``lower``, as
    its unique indexes on ``lower(...)`` do (migration 0010).
    Raises: TaskValidationError (``field``, code ``taken``)."""
    table = cast(Any, model)
    column = getattr(table, field)
    same = func.lower(column) == func.lower(value) if isinstance(value, str) else column == value
    other = session.exec(select(table.id).where(table.account_id == account_id, same)).first()
    if other is not None and other != own_id:
        raise field_error(field, "taken", message)


def store_unique(session: Session, row: SQLModel, field: str, message: str) -> None:
    """Add and flush ``row``. Two requests that raced past ``ensure_free`` meet the
    database's unique index instead, and the later one gets the same 422.
    Raises: TaskValidationError (``field``, code ``taken``)."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise field_error(field, "taken", message) from None
