"""Assignments (issue 16): approvals, Box task assignments, Trackops' users_list.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

A new table ``task_assignment`` (one row per person of a task, with its own state);
on tasks how many people have one, Box's completion rule and item, and Trackops'
calendar, case, subject, case service and address, the references indexed where they
are set. Columns are added in place
(nullable).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tasks_service.store.models.columns

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = tasks_service.store.models.columns.UTCDateTime(timezone=True)

#: (column, type) added to ``task``
_COLUMNS = (
    ("completion_rule", sa.String(length=16)),
    ("item_id", sa.String(length=64)),
    ("casefile_id", sa.Integer()),
    ("subject_id", sa.Integer()),
    ("case_service_id", sa.Integer()),
    ("address", sa.JSON()),
)
#: The references other systems find tasks by, indexed where they are set.
_INDEXED = ("item_id", "casefile_id", "subject_id")


def upgrade() -> None:
    op.create_table(
        "task_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("planned_effort", sa.Integer(), nullable=True),
        sa.Column("assigned_at", _UTC, nullable=True),
        sa.Column("decided_at", _UTC, nullable=True),
        sa.Column("reminded_at", _UTC, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["assigned_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "person_id", name="uq_task_assignment_person"),
    )
    op.create_index("ix_task_assignment_person", "task_assignment", ["person_id", "task_id"])
    for column, type_ in _COLUMNS:
        op.add_column("task", sa.Column(column, type_, nullable=True))
    op.add_column(
        "task", sa.Column("assignee_count", sa.Integer(), nullable=False, server_default="0")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("task", sa.Column("chosen_calendar_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_task_chosen_calendar_id", "task", "calendar", ["chosen_calendar_id"], ["id"]
        )
    else:  # SQLite adds a column with its reference in place (Alembic would copy)
        op.execute(
            "ALTER TABLE task ADD COLUMN chosen_calendar_id INTEGER "
            "CONSTRAINT fk_task_chosen_calendar_id REFERENCES calendar (id)"
        )
    for column in _INDEXED:
        condition = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_task_account_{column}",
            "task",
            ["account_id", column, "id"],
            postgresql_where=condition,
            sqlite_where=condition,
        )


def downgrade() -> None:
    for column in _INDEXED:
        op.drop_index(f"ix_task_account_{column}", table_name="task")
    with warnings.catch_warnings():
        # the copy reflects the tables these reference too, whose ``lower(name)``
        # indexes SQLite cannot reflect (Alembic warns and leaves them as they are)
        warnings.filterwarnings("ignore", message=".*expression-based index")
        with op.batch_alter_table("task") as batch:
            for column, _type in _COLUMNS:
                batch.drop_column(column)
            batch.drop_column("assignee_count")
            if op.get_bind().dialect.name == "postgresql":
                batch.drop_constraint("fk_task_chosen_calendar_id", type_="foreignkey")
            batch.drop_column("chosen_calendar_id")
    op.drop_table("task_assignment")
