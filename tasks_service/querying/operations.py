"""The account's operations as a collection (``GET /operations``, ``tasks-service
operations list``): above all the pending ones, oldest first, with their age, so that
commands nobody applies (no scheduler, no worker) can be seen."""

from __future__ import annotations

from sqlmodel import Session, col

from tasks_service.core.statuses import OperationStatus
from tasks_service.querying.filters import FieldSpec, Kind, ResourceQuery
from tasks_service.querying.paging import ListQuery, Page, run_list
from tasks_service.store.models import Operation
from tasks_service.store.schemas.operations import OperationPublic
from tasks_service.store.schemas.shape import field_names

OPERATION_QUERY = ResourceQuery.of(
    [
        FieldSpec("id", Kind.integer, col(Operation.id), nullable=False),
        FieldSpec("kind", Kind.text, col(Operation.kind), nullable=False),
        FieldSpec("status", Kind.enum, col(Operation.status), OperationStatus, nullable=False),
        FieldSpec("created_at", Kind.moment, col(Operation.created_at), nullable=False),
        FieldSpec("finished_at", Kind.moment, col(Operation.finished_at)),
    ],
    sortable=["id", "created_at", "finished_at"],
    shown=field_names(OperationPublic),
    default_sort="id",
)


def list_operations(session: Session, account_id: int, query: ListQuery) -> Page[Operation]:
    """A page of the account's operations matching ``query`` (oldest first)."""
    return run_list(session, Operation, [col(Operation.account_id) == account_id], query)
