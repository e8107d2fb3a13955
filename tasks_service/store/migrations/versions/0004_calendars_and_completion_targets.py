"""Calendars and completion targets (issue 5).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

A ``calendar`` table; the calendar an account, a team or a workflow names; on tasks the
calendar their target was computed with and the stopped completion clock; progress and
batches for fan-out operations. New columns are added in place (nullable, or with a
default), so neither backend rewrites the task table; the task index is built
``CONCURRENTLY`` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tasks_service.store.models.columns

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = tasks_service.store.models.columns.UTCDateTime(timezone=True)
#: Tables that name a calendar, and the name of that constraint.
REFERRERS = {
    "team": "fk_team_calendar_id",
    "workflow": "fk_workflow_calendar_id",
    "task": "fk_task_calendar_id",
}


def upgrade() -> None:
    op.create_table(
        "calendar",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("holiday_country", sa.String(length=8), nullable=True),
        sa.Column("holiday_subdivision", sa.String(length=16), nullable=True),
        sa.Column("is_24x7", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name"),
    )
    op.create_index("ix_calendar_account_id", "calendar", ["account_id"])
    op.create_table(
        "operation_batch",
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("done_at", _UTC, nullable=True),
        sa.ForeignKeyConstraint(["operation_id"], ["operation.id"]),
        sa.PrimaryKeyConstraint("operation_id", "seq"),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, constraint in {"account": "fk_account_calendar_id", **REFERRERS}.items():
        if postgres:
            op.add_column(table, sa.Column("calendar_id", sa.Integer(), nullable=True))
            op.create_foreign_key(constraint, table, "calendar", ["calendar_id"], ["id"])
        else:  # SQLite adds a column with its reference in place (Alembic would copy)
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN calendar_id INTEGER "
                f"CONSTRAINT {constraint} REFERENCES calendar (id)"
            )
    op.add_column("operation", sa.Column("progress_done", sa.Integer(), nullable=True))
    op.add_column("operation", sa.Column("progress_total", sa.Integer(), nullable=True))
    op.add_column("task", sa.Column("clock_stopped_at", _UTC, nullable=True))
    op.add_column("task", sa.Column("resolution_duration", sa.Integer(), nullable=True))
    op.add_column(
        "task",
        sa.Column("clock_stopped_minutes", sa.Integer(), nullable=False, server_default="0"),
    )
    # Tasks finished before this revision keep the (24x7) duration they showed.
    minutes = (
        "EXTRACT(EPOCH FROM finished_at - assigned_at)::int / 60"
        if postgres
        else "CAST((julianday(finished_at) - julianday(assigned_at)) * 1440 AS INTEGER)"
    )
    op.execute(
        f"UPDATE task SET resolution_duration = {minutes} "
        "WHERE finished_at IS NOT NULL AND assigned_at IS NOT NULL AND finished_at >= assigned_at"
    )
    if postgres:
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_task_calendar_id", "task", ["calendar_id", "id"], postgresql_concurrently=True
            )
    else:
        op.create_index("ix_task_calendar_id", "task", ["calendar_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_task_calendar_id", table_name="task")
    for table, column in [
        ("task", "clock_stopped_minutes"),
        ("task", "clock_stopped_at"),
        ("task", "resolution_duration"),
        ("operation", "progress_total"),
        ("operation", "progress_done"),
    ]:
        op.drop_column(table, column)
    for table, constraint in {"account": "fk_account_calendar_id", **REFERRERS}.items():
        with op.batch_alter_table(table) as batch:
            if op.get_bind().dialect.name == "postgresql":
                batch.drop_constraint(constraint, type_="foreignkey")
            batch.drop_column("calendar_id")
    op.drop_table("operation_batch")
    op.drop_index("ix_calendar_account_id", table_name="calendar")
    op.drop_table("calendar")
