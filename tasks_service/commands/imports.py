"""Importing tasks, a chunk at a time (``task.import``): many creates in one unit of work.

An operation of kind ``task.import`` carries some hundreds of ``POST /v1/tasks``
bodies, each numbered by its row in the file it came from. Applying it holds each body
to a POST's validation (``store.schemas.trackops``) and creates its task through
``do_create_task``, as a POST's worker does, all in one transaction: the rows are
written beforehand in one statement (as ``commands.instantiate`` writes a plan's) and
what the creates add (events, timers, deliveries) is flushed together at the end.

Idempotent by ``source`` + ``sourceID``: a row whose pair names a task of the account
(or an earlier row of the chunk) creates nothing and is counted as already there. A row
without a ``sourceID`` has no such key and is created every time.

A row the commands refuse (an unknown team, a status its category does not have) is
refused alone: the chunk is created at once in a savepoint; when a row fails, that
attempt is rolled back, the rows before it (which got through) are created again, the
failed one is recorded with its errors, and the rest go on from there. So a chunk with
refusals costs at most about twice one without, and nothing refused is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import func, insert, inspect, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, col, select

from tasks_service.commands.task_commands import do_create_task
from tasks_service.core.errors import TaskError, TaskValidationError
from tasks_service.notify.outbox import Outbox
from tasks_service.store.db import allocate_ids, is_postgres
from tasks_service.store.models import Operation, Task
from tasks_service.store.schemas import trackops
from tasks_service.store.schemas.tasks import TASK_READONLY, TaskCreate

log = structlog.get_logger(__name__)

#: What identifies a task in the system it came from: (source, sourceID).
Key = tuple[str | None, str]
#: The key space of ``pg_advisory_xact_lock(space, account_id)``: imports into one
#: account take turns, so that two of them cannot both find a key missing and create it.
_IMPORT_LOCK_SPACE = 17_001


@dataclass(frozen=True)
class ImportRow:
    """One row of a chunk, validated: its row in the file, its create."""

    row: int
    data: TaskCreate
    #: what the body called ``assignee_ids`` (Trackops' ``users_list``), for a refusal
    people_field: str = "assignee_ids"

    @property
    def key(self) -> Key | None:
        if not self.data.source_id:
            return None
        return (self.data.source, self.data.source_id)


def _validated(items: Sequence[dict[str, Any]], out: ChunkOutcome) -> list[ImportRow]:
    """Each ``{"row", "body"}`` held to ``POST /v1/tasks``'s validation (errors naming
    the fields as sent); the refused go to ``out``."""
    rows = []
    for item in items:
        try:
            data = trackops.validate_create(item["body"], TASK_READONLY)
        except TaskValidationError as exc:
            out.refused.append((item["row"], field_errors(exc.to_dict())))
            continue
        named = trackops.sent_as(item["body"]).get("assignee_ids", "assignee_ids")
        rows.append(ImportRow(item["row"], data, named))
    return rows


@dataclass
class ChunkOutcome:
    """What a chunk did, row by row: ``created`` and ``existing`` as (row, task id),
    ``refused`` as (row, errors), each error ``{"field", "code", "message"}`` as the
    REST API gives it; ``unkeyed``: the rows created without a sourceID."""

    created: list[tuple[int, int]] = field(default_factory=list)
    existing: list[tuple[int, int]] = field(default_factory=list)
    refused: list[tuple[int, list[dict[str, str]]]] = field(default_factory=list)
    unkeyed: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": [list(pair) for pair in self.created],
            "existing": [list(pair) for pair in self.existing],
            "refused": [{"row": row, "errors": errors} for row, errors in self.refused],
            "unkeyed": self.unkeyed,
        }

    @classmethod
    def from_dict(cls, result: dict[str, Any]) -> ChunkOutcome:
        return cls(
            created=[(row, task_id) for row, task_id in result["created"]],
            existing=[(row, task_id) for row, task_id in result["existing"]],
            refused=[(item["row"], item["errors"]) for item in result["refused"]],
            unkeyed=list(result["unkeyed"]),
        )


def field_errors(error: dict[str, Any]) -> list[dict[str, str]]:
    """A domain error (``TaskError.to_dict``) as field errors: its own list when it
    has one; else one error on the field it names (a status error names ``status``)."""
    if error.get("errors"):
        return [dict(item) for item in error["errors"]]
    default = "status" if error.get("code") == "invalid_status_transition" else "body"
    name = str(error.get("field") or default)
    return [{"field": name, "code": str(error.get("code")), "message": str(error["message"])}]


class _RowFailed(Exception):
    """A row of an attempt was refused: its place in the attempt and its errors."""

    def __init__(self, index: int, errors: list[dict[str, str]]) -> None:
        super().__init__(index)
        self.index, self.errors = index, errors


@dataclass(frozen=True)
class _Importer:
    session: Session
    outbox: Outbox
    account_id: int
    person_id: int | None
    operation_id: int | None

    def create(self, rows: Sequence[ImportRow]) -> list[int]:
        """Create the rows in one savepoint, in order; their ids. Raises: _RowFailed;
        what their writes raise together (at the savepoint's flush)."""
        mark = len(self.outbox.emitted)
        try:
            with self.session.begin_nested():
                return self._create_all(rows)
        except Exception:
            del self.outbox.emitted[mark:]  # rolled back: what it emitted is not sent
            raise

    def _create_all(self, rows: Sequence[ImportRow]) -> list[int]:
        # A plain task's row is written first, with the others', in one statement (and
        # read back as one: loaded rows cost less than made ones); a task in a workflow
        # or from a template is left to ``do_create_task``, which checks those
        # references before its row refers to them.
        plain = [
            i
            for i, r in enumerate(rows)
            if r.data.workflow_id is None and r.data.template_id is None
        ]
        ids = allocate_ids(self.session, "task", len(plain))
        if plain:
            values = [
                {
                    "id": task_id,
                    "account_id": self.account_id,
                    "subject": rows[index].data.subject,
                    "category": rows[index].data.category,
                    "created_by_id": self.person_id,
                }
                for index, task_id in zip(plain, ids, strict=True)
            ]
            self.session.execute(insert(Task), values)
        # read afresh: an attempt rolled back may have left rows of these ids in the session
        fresh = select(Task).where(col(Task.id).in_(ids)).execution_options(populate_existing=True)
        written = {task.id: task for task in self.session.exec(fresh)}
        into = dict(zip(plain, (written[task_id] for task_id in ids), strict=True))
        made = []
        for index, row in enumerate(rows):
            try:
                task = do_create_task(
                    self.session,
                    self.outbox,
                    self.account_id,
                    self.person_id,
                    row.data,
                    operation_id=self.operation_id,
                    into=into.get(index),
                    people_field=row.people_field,
                )
            except (OperationalError, InterfaceError):
                raise  # the database went away: the whole unit is retried
            except TaskError as exc:
                raise _RowFailed(index, field_errors(exc.to_dict())) from None
            except Exception as exc:
                # a bug, not the row's fault: the row is refused, the others go on
                log.exception("import_row_failed", operation_id=self.operation_id, row=row.row)
                raise _RowFailed(index, [_internal(exc)]) from None
            if index in into and inspect(task).modified:
                _write_whole(task)  # unless its create flushed it already (its labels)
            made.append(task.id or 0)
        return made

    def create_each(self, rows: Sequence[ImportRow], out: ChunkOutcome) -> None:
        """Create the rows, refusing those the commands refuse (see the module's
        docstring); the outcomes go to ``out`` in row order."""
        rest = list(rows)
        while rest:
            try:
                ids = self.create(rest)
            except (OperationalError, InterfaceError):
                raise
            except _RowFailed as failed:
                before, refused = rest[: failed.index], rest[failed.index]
                rest = rest[failed.index + 1 :]
                self.create_each(before, out)  # they got through: normally at once
                out.refused.append((refused.row, failed.errors))
                continue
            except Exception:
                # the writes of the attempt failed together (at its flush), not one
                # row's command: each row on its own then, to find the one
                log.exception("import_chunk_failed", operation_id=self.operation_id)
                self._one_by_one(rest, out)
                return
            out.created.extend((row.row, task_id) for row, task_id in zip(rest, ids, strict=True))
            return

    def _one_by_one(self, rows: Sequence[ImportRow], out: ChunkOutcome) -> None:
        for row in rows:
            try:
                out.created.extend((row.row, task_id) for task_id in self.create([row]))
            except (OperationalError, InterfaceError):
                raise
            except _RowFailed as failed:
                out.refused.append((row.row, failed.errors))
            except Exception as exc:
                log.exception("import_row_failed", operation_id=self.operation_id, row=row.row)
                out.refused.append((row.row, [_internal(exc)]))


#: The columns a created row is given: all but its key and its account.
_FILLED = tuple(name for name in Task.model_fields if name not in ("id", "account_id"))


def _write_whole(task: Task) -> None:
    """Have the flush write every column of a pre-written row, not only those whose
    value differs from the placeholder's: a flush writes consecutive rows that name
    the same columns in one statement (an executemany), and created tasks differ in
    which of their fields are set, so each would be an UPDATE of its own (a round trip
    each on PostgreSQL)."""
    for name in _FILLED:
        flag_modified(task, name)


def _internal(exc: Exception) -> dict[str, str]:
    message = f"internal error while creating the task ({type(exc).__name__})"
    return _error("body", "internal_error", message)


def _take_turns(session: Session, account_id: int) -> None:
    """Imports into one account one at a time: on PostgreSQL a transaction-scoped
    advisory lock (nothing else waits on it); SQLite's write transactions are one at a
    time already (``BEGIN IMMEDIATE``)."""
    if is_postgres(session):
        lock = text("SELECT pg_advisory_xact_lock(:space, :account)")
        session.execute(lock, {"space": _IMPORT_LOCK_SPACE, "account": account_id})


def stored_keys(session: Session, account_id: int, keys: set[Key]) -> dict[Key, int]:
    """The account's tasks with these (source, sourceID) pairs: the first one's id of
    each (index ``ix_task_account_source_id``); one query."""
    if not keys:
        return {}
    source_ids = sorted({source_id for _source, source_id in keys})
    query = (
        select(Task.source, Task.source_id, func.min(Task.id))
        .where(col(Task.account_id) == account_id, col(Task.source_id).in_(source_ids))
        .group_by(col(Task.source), col(Task.source_id))
    )
    found: dict[Key, int] = {}
    for source, source_id, task_id in session.exec(query):
        if source_id is not None and task_id is not None and (source, source_id) in keys:
            found[(source, source_id)] = task_id
    return found


def do_import_tasks(
    session: Session,
    outbox: Outbox,
    account_id: int,
    person_id: int | None,
    items: Sequence[dict[str, Any]],
    operation_id: int | None = None,
) -> ChunkOutcome:
    """Create the tasks of the chunk's bodies (``{"row", "body"}``) that pass a POST's
    validation and are not there yet (by source + sourceID), in the caller's
    transaction; each row's outcome. Raises nothing for a row: a refusal is an outcome."""
    out = ChunkOutcome()
    rows = _validated(items, out)
    _take_turns(session, account_id)
    outbox.preload_account(session, account_id)
    found = stored_keys(session, account_id, {r.key for r in rows if r.key is not None})
    fresh: list[ImportRow] = []
    later: list[ImportRow] = []  # a key an earlier row of the chunk has
    first: dict[Key, ImportRow] = {}
    for row in rows:
        if row.key is not None and row.key in found:
            out.existing.append((row.row, found[row.key]))
        elif row.key is not None and row.key in first:
            later.append(row)
        else:
            fresh.append(row)
            if row.key is not None:
                first[row.key] = row
    _Importer(session, outbox, account_id, person_id, operation_id).create_each(fresh, out)
    made = dict(out.created)
    for row in later:
        earlier = first[row.key or (None, "")].row
        if earlier in made:
            out.existing.append((row.row, made[earlier]))
        else:
            message = f"has the source and sourceID of row {earlier}, which was refused"
            out.refused.append((row.row, [_error("sourceID", "duplicate", message)]))
    out.unkeyed = sorted(row.row for row in fresh if row.key is None and row.row in made)
    for pairs in (out.created, out.existing):
        pairs.sort()
    out.refused.sort(key=lambda item: item[0])
    return out


def _error(name: str, code: str, message: str) -> dict[str, str]:
    return {"field": name, "code": code, "message": message}


def apply_task_import(session: Session, outbox: Outbox, op: Operation) -> dict[str, Any]:
    """``task.import``'s apply (``commands.operation_kinds``): ``payload["rows"]``, each
    ``{"row", "body"}``; answered with the chunk's outcome (``ChunkOutcome.to_dict``)."""
    rows = op.payload["rows"]
    return do_import_tasks(session, outbox, op.account_id, op.person_id, rows, op.id).to_dict()
