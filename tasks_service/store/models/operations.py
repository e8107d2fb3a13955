"""Tables of durable commands: operations and the batches of a fan-out; the answers
kept for Idempotency-Keys of synchronous writes; the heartbeats of the roles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from tasks_service.core.statuses import OperationStatus
from tasks_service.store.models.columns import created, timestamp


class Operation(SQLModel, table=True):
    """A durable command: written by the API, applied once by a worker.

    Ids are monotonic; commands on one target are applied in id order.
    """

    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key"),
        Index("ix_operation_status_updated", "status", "updated_at"),
        Index("ix_operation_target", "target_type", "target_id", "status"),
        Index("ix_operation_submit_token", "submit_token"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    kind: str = Field(max_length=48)
    target_type: str | None = Field(default=None, max_length=16)
    target_id: int | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: OperationStatus = Field(default=OperationStatus.pending, sa_type=String(16))
    idempotency_key: str | None = Field(default=None, max_length=255)
    request_hash: str | None = Field(default=None, max_length=64)
    # Made by the API before the insert: when the commit's answer is lost (the
    # connection dropped), a fresh connection looks for it to learn whether it stored.
    submit_token: str | None = Field(default=None, max_length=32)
    # The request that recorded it (``X-Request-Id``): the worker's log line of its
    # outcome carries it, so one grep follows a write from the request to the worker.
    request_id: str | None = Field(default=None, max_length=128)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    attempts: int = 0
    # Background operations (a recompute fan-out) report how far they got.
    progress_done: int | None = None
    progress_total: int | None = None
    created_at: datetime = created()
    updated_at: datetime = created()
    finished_at: datetime | None = timestamp()


class OperationBatch(SQLModel, table=True):
    """One slice of a fan-out operation: the tasks with ids ``first_id``..``last_id``.

    A batch is applied once (``done_at`` is set in the transaction that does its work),
    so a redelivered or re-enqueued batch finds it done and changes nothing.
    """

    __tablename__ = "operation_batch"

    operation_id: int = Field(foreign_key="operation.id", primary_key=True)
    seq: int = Field(primary_key=True)
    first_id: int
    last_id: int
    size: int
    done_at: datetime | None = timestamp()


class IdempotentRequest(SQLModel, table=True):
    """The answer given to a synchronous write under an Idempotency-Key, replayed when
    the same key comes again with the same request (``web.submit.idempotent``).

    ``status_code`` is None while the first request is in flight. Kept for
    ``TASKS_IDEMPOTENCY_RETENTION`` seconds (as are the keys on operations).
    """

    __tablename__ = "idempotent_request"
    __table_args__ = (Index("ix_idempotent_request_created", "created_at"),)

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    idempotency_key: str = Field(max_length=255, primary_key=True)
    request_hash: str = Field(max_length=64)
    status_code: int | None = None
    body: Any = Field(default=None, sa_column=Column(JSON))
    headers: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = created()
    finished_at: datetime | None = timestamp()


class Heartbeat(SQLModel, table=True):
    """The last sign of life of a role process: the scheduler (beat, each sweep) and
    each worker (its command consumer), for ``/readyz``, ``timers status`` and the
    web's choice not to wait for commands nobody consumes.

    ``broker`` names the broker the process serves (``heartbeats.broker_id``): several
    deployments (or test stacks) may share one database, each with its own broker."""

    role: str = Field(max_length=16, primary_key=True)
    name: str = Field(max_length=255, primary_key=True)
    broker: str = Field(max_length=16)
    beat_at: datetime = created()
