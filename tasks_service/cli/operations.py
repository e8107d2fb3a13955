"""Durable commands of an account, for operators: what waits to be applied, and since
when (e.g. no worker or no scheduler running)."""

from __future__ import annotations

import click

from tasks_service.cli.output import database, fail
from tasks_service.core.clock import iso, utcnow
from tasks_service.core.errors import TaskError
from tasks_service.core.statuses import OperationStatus
from tasks_service.identity.accounts import get_account
from tasks_service.querying.operations import OPERATION_QUERY, list_operations
from tasks_service.querying.paging import MAX_PER_PAGE, parse_list
from tasks_service.store.db import session_scope


@click.group()
def operations() -> None:
    """Durable commands (writes to tasks and workflows) and where they stand."""


@operations.command("list")
@click.argument("slug")
@click.option(
    "--status",
    type=click.Choice([s.value for s in OperationStatus]),
    default=None,
    help="Only operations in this state (e.g. pending).",
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, MAX_PER_PAGE))
def operations_list(slug: str, status: str | None, limit: int) -> None:
    """The account's operations, oldest first, with their age in seconds (from their
    acceptance until they finished, or until now while pending)."""
    try:
        settings = database()
        params = [("status", status)] if status else []
        query = parse_list(OPERATION_QUERY, params, page=1, per_page=limit)
        now = utcnow()
        with session_scope(settings, write=False) as session:
            acct = get_account(session, slug)
            page = list_operations(session, acct.id or 0, query)
            rows = [
                (
                    op.id,
                    op.kind,
                    op.status,
                    ((op.finished_at or now) - op.created_at).total_seconds(),
                    iso(op.created_at),
                )
                for op in page.items
            ]
    except TaskError as exc:
        raise fail(exc) from None
    click.echo(f"{'id':>8}  {'kind':<22}{'status':<11}{'age (s)':>10}  created")
    for op_id, kind, state, age, created in rows:
        click.echo(f"{op_id:>8}  {kind:<22}{state:<11}{age:>10.1f}  {created}")
    more = page.total - len(rows)
    click.echo(f"{page.total} operation(s)" + (f", {more} more not shown" if more > 0 else ""))
