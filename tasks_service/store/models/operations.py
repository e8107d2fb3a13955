"""Tables of durable commands: operations and the batches of a fan-out."""

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
