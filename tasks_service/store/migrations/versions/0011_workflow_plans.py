"""Workflows that run themselves (issue 15): links, failure paths, phases, templates.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

New tables ``task_template``, ``workflow_template``, ``workflow_phase`` and
``task_dependency``; on tasks their failure task, phase, template, anticipated
assignment and completion, required approvals and rejection count; on workflows their
template, ``start_at``, the derived impact and completion target, and the completion
reason. Columns are added in place (nullable, or with a default).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tasks_service.store.models.columns

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = tasks_service.store.models.columns.UTCDateTime(timezone=True)

#: (table, column, referenced table, constraint)
_REFERENCES = (
    ("task", "failure_task_id", "task", "fk_task_failure_task_id"),
    ("task", "phase_id", "workflow_phase", "fk_task_phase_id"),
    ("task", "template_id", "task_template", "fk_task_template_id"),
    ("workflow", "template_id", "workflow_template", "fk_workflow_template_id"),
)
#: (table, column, type, server default)
_COLUMNS = (
    ("task", "anticipated_assignment_at", _UTC, None),
    ("task", "anticipated_completion_at", _UTC, None),
    ("task", "required_approvals", sa.Integer(), "1"),
    ("task", "rejection_count", sa.Integer(), "0"),
    ("workflow", "start_at", _UTC, None),
    ("workflow", "impact", sa.String(length=16), None),
    ("workflow", "completion_target_at", _UTC, None),
    ("workflow", "completion_reason", sa.String(length=16), None),
)


def _add_reference(table: str, column: str, target: str, constraint: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(constraint, table, target, [column], ["id"])
    else:  # SQLite adds a column with its reference in place (Alembic would copy)
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
            f"CONSTRAINT {constraint} REFERENCES {target} (id)"
        )


def upgrade() -> None:
    op.create_table(
        "task_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("impact", sa.String(length=16), nullable=True),
        sa.Column("planned_duration", sa.Integer(), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("work_hours_are_24x7", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_task_template_account", "task_template", ["account_id", "id"])
    op.create_table(
        "workflow_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workflow_template_account", "workflow_template", ["account_id", "id"])
    op.create_table(
        "workflow_phase",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", _UTC, nullable=True),
        sa.Column("completed_at", _UTC, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflow.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "name", name="uq_workflow_phase_name"),
    )
    op.create_index("ix_workflow_phase_workflow", "workflow_phase", ["workflow_id", "position"])
    op.create_table(
        "task_dependency",
        sa.Column("predecessor_id", sa.Integer(), nullable=False),
        sa.Column("successor_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["predecessor_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["successor_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflow.id"]),
        sa.PrimaryKeyConstraint("predecessor_id", "successor_id"),
    )
    op.create_index(
        "ix_task_dependency_successor", "task_dependency", ["successor_id", "predecessor_id"]
    )
    op.create_index("ix_task_dependency_workflow", "task_dependency", ["workflow_id"])
    for reference in _REFERENCES:
        _add_reference(*reference)
    for table, column, type_, default in _COLUMNS:
        nullable = default is None
        op.add_column(
            table, sa.Column(column, type_, nullable=nullable, server_default=default)
        )


def downgrade() -> None:
    with warnings.catch_warnings():
        # the copy reflects the tables these reference too, whose ``lower(name)``
        # indexes SQLite cannot reflect (Alembic warns and leaves them as they are)
        warnings.filterwarnings("ignore", message=".*expression-based index")
        _drop_columns()
    op.drop_table("task_dependency")
    op.drop_table("workflow_phase")
    op.drop_table("workflow_template")
    op.drop_table("task_template")


def _drop_columns() -> None:
    for table in ("task", "workflow"):
        with op.batch_alter_table(table) as batch:
            for owner, column, _target, constraint in _REFERENCES:
                if owner == table:
                    if op.get_bind().dialect.name == "postgresql":
                        batch.drop_constraint(constraint, type_="foreignkey")
                    batch.drop_column(column)
            for owner, column, _type, _default in _COLUMNS:
                if owner == table:
                    batch.drop_column(column)
