"""Timers (issue 6): one table of moments to act on, and tasks' ``overdue``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

Existing tasks get their timers here, as ``commands`` would have armed them: so an
upgrade neither forgets a pending alert nor sends an old one again (an alert already
sent is recorded as fired).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tasks_service.store.models.columns

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = tasks_service.store.models.columns.UTCDateTime(timezone=True)
_FINISHED = "('failed', 'rejected', 'completed', 'approved', 'canceled')"
#: kind -> (moment column, condition on the task)
BACKFILL = {
    "alert": ("alert_at", f"status NOT IN {_FINISHED}"),
    "start": (
        "start_at",
        "status = 'registered' AND (team_id IS NOT NULL OR member_id IS NOT NULL)",
    ),
    "wake": ("waiting_until", "status = 'waiting_for'"),
    "due": ("due_at", f"status NOT IN {_FINISHED}"),
    "target": ("completion_target_at", f"status NOT IN {_FINISHED}"),
}


def upgrade() -> None:
    op.create_table(
        "timer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("fire_at", _UTC, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", _UTC, nullable=True),
        sa.Column("fired_at", _UTC, nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "kind", "level"),
    )
    op.create_index("ix_timer_state_fire_at", "timer", ["state", "fire_at"])
    op.add_column(
        "task", sa.Column("overdue", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    for kind, (column, condition) in BACKFILL.items():
        state = (
            "CASE WHEN alert_sent_at IS NOT NULL THEN 'fired' ELSE 'pending' END"
            if kind == "alert"
            else "'pending'"
        )
        op.execute(
            "INSERT INTO timer (account_id, task_id, kind, level, fire_at, state, attempts,"
            " late, created_at) "
            f"SELECT account_id, id, '{kind}', 0, {column}, {state}, 0, false, updated_at "
            f"FROM task WHERE {column} IS NOT NULL AND {condition}"
        )


def downgrade() -> None:
    op.drop_column("task", "overdue")
    op.drop_index("ix_timer_state_fire_at", table_name="timer")
    op.drop_table("timer")
