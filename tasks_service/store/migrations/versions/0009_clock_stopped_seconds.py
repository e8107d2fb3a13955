"""A stopped clock is credited to the second (issue 14).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

``task.clock_stopped_minutes`` becomes ``task.clock_stopped_seconds``: the service time a
task's completion clock stood still in ``waiting_for_customer``, in seconds (65 s waiting
moves the target 65 s, not 60; 3 s, not 0). Stored minutes become as many seconds
times 60; on the way down, seconds become whole minutes again.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # RENAME COLUMN in place on both backends (SQLite 3.25+): no copy of the task table
    op.execute("ALTER TABLE task RENAME COLUMN clock_stopped_minutes TO clock_stopped_seconds")
    op.execute(
        "UPDATE task SET clock_stopped_seconds = clock_stopped_seconds * 60"
        " WHERE clock_stopped_seconds <> 0"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE task SET clock_stopped_seconds = clock_stopped_seconds / 60"
        " WHERE clock_stopped_seconds <> 0"
    )
    op.execute("ALTER TABLE task RENAME COLUMN clock_stopped_seconds TO clock_stopped_minutes")
