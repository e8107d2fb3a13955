"""Importing a file's tasks into an account: its rows, some hundreds per durable command
(``task.import``, ``commands.imports``), and the summary of what each row became."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from tasks_service.commands.imports import ChunkOutcome, field_errors
from tasks_service.commands.operations import apply_operation, do_record_operation
from tasks_service.core.errors import NotFound, TaskError
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import OperationStatus
from tasks_service.identity.accounts import get_account
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation, Person
from tasks_service.transfer.exporting import Progress
from tasks_service.transfer.formats import Row, read_rows

#: Rows per ``task.import`` operation.
CHUNK_SIZE = 500


@dataclass(frozen=True)
class Refusal:
    """Why a row was not imported: one field's error, as the REST API gives it."""

    row: int
    line: int | None
    field: str
    code: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (line {self.line})" if self.line else "")
        return f"{where}: {self.field}: {self.code}: {self.message}"


@dataclass
class ImportSummary:
    """What an import did: rows read, created, already there (by source + sourceID),
    refused (each refusal names its row, line and field); ``unkeyed``: rows created
    without a sourceID, which another import of the file creates again."""

    rows: int = 0
    created: int = 0
    existing: int = 0
    unkeyed: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    #: the tasks made, by row
    task_ids: dict[int, int] = field(default_factory=dict)

    @property
    def refused(self) -> int:
        return len({refusal.row for refusal in self.refusals})

    def refuse(self, row: int, line: int | None, errors: Sequence[dict[str, str]]) -> None:
        for error in errors:
            self.refusals.append(
                Refusal(row, line, error["field"], error["code"], error["message"])
            )

    def lines(self) -> list[str]:
        head = (
            f"{self.rows} rows: {self.created} created, {self.existing} already there, "
            f"{self.refused} refused"
        )
        if self.unkeyed:
            head += (
                f" ({self.unkeyed} created without a sourceID: importing the file again"
                " creates them again)"
            )
        return [head, *(str(refusal) for refusal in sorted(self.refusals, key=_order))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "existing": self.existing,
            "refused": self.refused,
            "unkeyed": self.unkeyed,
            "refusals": [vars(refusal) for refusal in sorted(self.refusals, key=_order)],
        }


def _order(refusal: Refusal) -> int:
    return refusal.row


def _acting_person(settings: Settings, slug: str) -> tuple[int, int]:
    """The account and the person an import acts as: its first administrator (as the
    Python API's service user). Raises: NotFound."""
    with session_scope(settings, write=False) as session:
        account_id = get_account(session, slug).id or 0
        admin = session.exec(
            select(Person.id)
            .where(col(Person.account_id) == account_id, col(Person.admin))
            .order_by(col(Person.id))
        ).first()
    if admin is None:
        raise NotFound(f"account {slug!r} has no administrator to import as")
    return account_id, admin


def _apply_chunk(
    settings: Settings, account_id: int, person_id: int, chunk: Sequence[Row]
) -> ChunkOutcome:
    """One ``task.import`` operation: stored (the durable copy: were this process to
    stop now, the recovery sweep would hand it to a worker), then applied here."""
    with session_scope(settings) as session:
        payload = {"rows": [{"row": row.row, "body": row.body} for row in chunk]}
        op, _replayed = do_record_operation(session, account_id, person_id, "task.import", payload)
        op_id = op.id or 0
    apply_operation(settings, op_id)
    with session_scope(settings, write=False) as session:
        done = session.get(Operation, op_id)
        if done is None or done.status == OperationStatus.pending:
            raise TaskError(f"operation {op_id} was not applied")
        if done.status == OperationStatus.succeeded and done.result is not None:
            return ChunkOutcome.from_dict(done.result)
        errors = field_errors(done.error or {"message": "failed", "code": "failed"})
        return ChunkOutcome(refused=[(row.row, errors) for row in chunk])


def import_tasks(
    settings: Settings,
    slug: str,
    text: str,
    fmt: str,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ImportSummary:
    """Import the tasks of a JSON or CSV file's ``text`` into the account (see the
    module's docstring). Raises: NotFound (the account); FileRefused."""
    account_id, person_id = _acting_person(settings, slug)
    rows = read_rows(text, fmt)
    lines = {row.row: row.line for row in rows}
    summary = ImportSummary(rows=len(rows))
    for unreadable in rows:
        if unreadable.errors:
            summary.refuse(unreadable.row, unreadable.line, unreadable.errors)
    readable = [row for row in rows if not row.errors]
    done = len(rows) - len(readable)
    if progress is not None:
        progress(done, len(rows))
    for start in range(0, len(readable), chunk_size):
        chunk = readable[start : start + chunk_size]
        outcome = _apply_chunk(settings, account_id, person_id, chunk)
        summary.created += len(outcome.created)
        summary.existing += len(outcome.existing)
        summary.unkeyed += len(outcome.unkeyed)
        summary.task_ids.update(outcome.created)
        for number, errors in outcome.refused:
            summary.refuse(number, lines[number], errors)
        done += len(chunk)
        if progress is not None:
            progress(done, len(rows))
    return summary
