"""Answers that tell the truth under faults (issue 14).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

``operation.submit_token``: made by the API before it stores an operation, so that it can
look the row up when the commit's answer was lost. ``idempotent_request``: the answers
of synchronous writes under an Idempotency-Key. ``heartbeat``: the last sign of life of
the scheduler and of each worker.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tasks_service.store.models.columns

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = tasks_service.store.models.columns.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.add_column("operation", sa.Column("submit_token", sa.String(length=32), nullable=True))
    op.create_index("ix_operation_submit_token", "operation", ["submit_token"])
    op.create_table(
        "idempotent_request",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("account_id", "idempotency_key"),
    )
    op.create_index("ix_idempotent_request_created", "idempotent_request", ["created_at"])
    op.create_table(
        "heartbeat",
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("broker", sa.String(length=16), nullable=False),
        sa.Column("beat_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("role", "name"),
    )


def downgrade() -> None:
    op.drop_table("heartbeat")
    op.drop_index("ix_idempotent_request_created", table_name="idempotent_request")
    op.drop_table("idempotent_request")
    op.drop_index("ix_operation_submit_token", table_name="operation")
    op.drop_column("operation", "submit_token")
