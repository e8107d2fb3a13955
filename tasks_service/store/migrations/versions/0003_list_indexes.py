"""Indexes for the task lists: filters, predefined filters, sorts and cursors.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Every list is one account's, so most indexes lead with ``account_id``; references
(team, member, workflow) lead with themselves (their ids are unique across accounts)
and end with ``id`` for "newest first". Fields that are mostly empty and not sortable
(due_at, alert_at, ...) are indexed only where set. On PostgreSQL the indexes are built
``CONCURRENTLY``, so upgrading a live database does not block writes to tasks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPARSE = ("due_at", "alert_at", "alert_sent_at", "start_at", "waiting_until")

#: (table, name, columns, partial) created by this revision.
NEW: list[tuple[str, str, list[str], bool]] = [
    ("task", "ix_task_account_id_id", ["account_id", "id"], False),
    ("task", "ix_task_account_status", ["account_id", "status", "id"], False),
    ("task", "ix_task_account_impact", ["account_id", "impact"], False),
    ("task", "ix_task_account_category", ["account_id", "category"], False),
    ("task", "ix_task_account_subject", ["account_id", "subject", "id"], False),
    ("task", "ix_task_account_source", ["account_id", "source"], False),
    ("task", "ix_task_account_source_id", ["account_id", "source_id", "id"], False),
    ("task", "ix_task_account_planned_duration", ["account_id", "planned_duration"], False),
    ("task", "ix_task_account_completion_target_at", ["account_id", "completion_target_at", "id"], False),
    ("task", "ix_task_account_finished_at", ["account_id", "finished_at", "id"], False),
    ("task", "ix_task_account_created_at", ["account_id", "created_at", "id"], False),
    ("task", "ix_task_account_updated_at", ["account_id", "updated_at", "id"], False),
    ("task", "ix_task_team_id", ["team_id", "id"], False),
    ("task", "ix_task_member_id", ["member_id", "id"], False),
    ("task", "ix_task_workflow_id", ["workflow_id", "id"], False),
    *(("task", f"ix_task_account_{name}", ["account_id", name], True) for name in SPARSE),
    ("task_label", "ix_task_label_name", ["name", "task_id"], False),
    ("note", "ix_note_task_id", ["task_id", "id"], False),
    ("task_event", "ix_task_event_task_id", ["task_id", "id"], False),
    ("workflow", "ix_workflow_account_status", ["account_id", "status"], False),
    ("workflow", "ix_workflow_manager_id", ["manager_id"], False),
]

#: (table, name, columns) of revision 0001 that the new ones replace.
OLD: list[tuple[str, str, list[str]]] = [
    ("task", "ix_task_account_id", ["account_id"]),
    ("task", "ix_task_team_id", ["team_id"]),
    ("task", "ix_task_member_id", ["member_id"]),
    ("task", "ix_task_workflow_id", ["workflow_id"]),
    ("note", "ix_note_task_id", ["task_id"]),
    ("task_event", "ix_task_event_task_id", ["task_id"]),
]


@contextmanager
def _outside_transaction() -> Iterator[dict[str, Any]]:
    """PostgreSQL builds indexes CONCURRENTLY, which needs autocommit; SQLite as usual."""
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            yield {"postgresql_concurrently": True}
    else:
        yield {}


def _partial(column: str) -> dict[str, Any]:
    condition = sa.text(f"{column} IS NOT NULL")
    return {"postgresql_where": condition, "sqlite_where": condition}


def upgrade() -> None:
    with _outside_transaction() as options:
        for table, name, _columns in OLD:
            op.drop_index(name, table_name=table, **options)
        for table, name, columns, partial in NEW:
            extra = _partial(columns[-1]) if partial else {}
            op.create_index(name, table, columns, **options, **extra)


def downgrade() -> None:
    with _outside_transaction() as options:
        for table, name, _columns, _partial_index in NEW:
            op.drop_index(name, table_name=table, **options)
        for table, name, columns in OLD:
            op.create_index(name, table, columns, **options)
