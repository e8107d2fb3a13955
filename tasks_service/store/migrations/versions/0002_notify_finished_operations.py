"""PostgreSQL: announce finished operations with NOTIFY from a trigger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Waiting web processes LISTEN on ``operation_done`` (tasks_service/commands/outcomes.py). The
trigger fires in the transaction that finishes an operation, so PostgreSQL delivers the
notification at commit and no code path can forget to send it. SQLite has no
notifications; waiters there look the operations up once per tick.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION notify_operation_done() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('operation_done', NEW.id::text);
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER operation_done AFTER UPDATE OF status ON operation
        FOR EACH ROW WHEN (NEW.status <> 'pending' AND OLD.status = 'pending')
        EXECUTE FUNCTION notify_operation_done()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS operation_done ON operation")
    op.execute("DROP FUNCTION IF EXISTS notify_operation_done()")
