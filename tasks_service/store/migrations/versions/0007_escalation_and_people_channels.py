"""Escalation policies, the in-app feed, email deliveries, failing webhooks (issue 6).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24

New tables ``escalation_policy``, ``task_escalation`` and ``notification``; the policy an
account, a team or a workflow names; a person's notification opt-outs; on timers the
anchor of an escalation level; on deliveries their channel and person; on webhooks
since when they fail. Columns are added in place (nullable, or with a default).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tasks_service.store.models.columns

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = tasks_service.store.models.columns.UTCDateTime(timezone=True)
#: Tables that name an escalation policy.
REFERRERS = ("account", "team", "workflow")


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
        "escalation_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("offsets_in_service_time", sa.Boolean(), nullable=False),
        sa.Column("hold_email_to_service_hours", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name"),
    )
    op.create_index("ix_escalation_policy_account_id", "escalation_policy", ["account_id"])
    op.create_table(
        "task_escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("fire_at", _UTC, nullable=False),
        sa.Column("fired_at", _UTC, nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("notified", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["policy_id"], ["escalation_policy.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_task_escalation_task", "task_escalation", ["task_id", "id"])
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("read_at", _UTC, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_notification_person", "notification", ["person_id", "id"])
    for table in REFERRERS:
        _add_reference(
            table,
            "escalation_policy_id",
            "escalation_policy",
            f"fk_{table}_escalation_policy_id",
        )
    op.add_column(
        "person",
        sa.Column("notification_opt_outs", sa.JSON(), nullable=False, server_default="[]"),
    )
    op.add_column("timer", sa.Column("anchor", sa.String(length=160), nullable=True))
    op.add_column("webhook", sa.Column("failing_since", _UTC, nullable=True))
    op.add_column("webhook", sa.Column("disabled_reason", sa.String(length=255), nullable=True))
    op.add_column(
        "delivery",
        sa.Column("channel", sa.String(length=16), nullable=False, server_default="webhook"),
    )
    _add_reference("delivery", "person_id", "person", "fk_delivery_person_id")


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("person_id")
        batch.drop_column("channel")
    with op.batch_alter_table("webhook") as batch:
        batch.drop_column("disabled_reason")
        batch.drop_column("failing_since")
    with op.batch_alter_table("timer") as batch:
        batch.drop_column("anchor")
    with op.batch_alter_table("person") as batch:
        batch.drop_column("notification_opt_outs")
    for table in REFERRERS:
        with op.batch_alter_table(table) as batch:
            if op.get_bind().dialect.name == "postgresql":
                batch.drop_constraint(f"fk_{table}_escalation_policy_id", type_="foreignkey")
            batch.drop_column("escalation_policy_id")
    op.drop_index("ix_notification_person", table_name="notification")
    op.drop_table("notification")
    op.drop_index("ix_task_escalation_task", table_name="task_escalation")
    op.drop_table("task_escalation")
    op.drop_index("ix_escalation_policy_account_id", table_name="escalation_policy")
    op.drop_table("escalation_policy")
