"""Emails and names unique without regard to case (issue 14).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Unique indexes on ``(account_id, lower(column))`` for people's emails and the names of
teams, calendars and escalation policies: ``P2@DEMO.EXAMPLE`` beside
``p2@demo.example``, or a team ``ops`` beside ``Ops``, cannot be stored, even by two
requests that race (the API checks first and says "another person has this email").
(``lower`` folds ASCII letters on SQLite, and by the database's locale on PostgreSQL;
the API compares with the database's ``lower`` too, so both agree.)

Rows stored before that clash are not guessed at: names that clash get their id
appended (``Ops (7)``), the later one of each pair; clashing emails stop the upgrade
with a message listing them, for an admin to change (a person's address is not ours to
rewrite).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, column) pairs unique per account without regard to case.
UNIQUE = (
    ("person", "primary_email"),
    ("team", "name"),
    ("calendar", "name"),
    ("escalation_policy", "name"),
)


def _clashes(table: str, column: str) -> list[tuple[int, str]]:
    """(id, value) of every row whose value another, earlier row has in other letters."""
    query = sa.text(
        f"SELECT later.id, later.{column} FROM {table} later JOIN {table} earlier "
        f"ON earlier.account_id = later.account_id "
        f"AND lower(earlier.{column}) = lower(later.{column}) AND earlier.id < later.id "
        f"ORDER BY later.id"
    )
    return [(int(row[0]), str(row[1])) for row in op.get_bind().execute(query)]


def upgrade() -> None:
    emails = _clashes("person", "primary_email")
    if emails:
        listed = ", ".join(f"person {i}: {email}" for i, email in emails)
        raise RuntimeError(
            "emails that differ only in case cannot be told apart; change these "
            f"people's primary_email, then upgrade again: {listed}"
        )
    for table, column in UNIQUE[1:]:
        for row_id, value in _clashes(table, column):
            renamed = f"{value[: 255 - len(str(row_id)) - 3]} ({row_id})"
            op.get_bind().execute(
                sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
                {"value": renamed, "id": row_id},
            )
    for table, column in UNIQUE:
        op.create_index(
            f"uq_{table}_{column}_lower",
            table,
            ["account_id", sa.text(f"lower({column})")],
            unique=True,
        )


def downgrade() -> None:
    for table, column in UNIQUE:
        op.drop_index(f"uq_{table}_{column}_lower", table_name=table)
