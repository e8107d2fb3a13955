"""The request that recorded an operation (issue 17): ``operation.request_id``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09

The API stores the request's ``X-Request-Id`` on the operation it records; the worker
that applies it logs its outcome with it. Nullable: operations recorded before (and
recomputes recorded by workers) have none.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("operation", sa.Column("request_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with warnings.catch_warnings():
        # the copy reflects the tables these reference too, whose ``lower(name)``
        # indexes SQLite cannot reflect (Alembic warns and leaves them as they are)
        warnings.filterwarnings("ignore", message=".*expression-based index")
        with op.batch_alter_table("operation") as batch:
            batch.drop_column("request_id")
