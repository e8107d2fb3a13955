"""Service-hours calendars: recomputing the targets of open tasks."""

from __future__ import annotations

import time

import click
from sqlmodel import select

from tasks_service.cli.output import Progress
from tasks_service.commands import recompute
from tasks_service.core.settings import Settings, get_settings
from tasks_service.core.statuses import OperationStatus
from tasks_service.store import background
from tasks_service.store.db import session_scope
from tasks_service.store.models import Account, Operation
from tasks_service.store.models import Calendar as CalendarRow


@click.group()
def calendars() -> None:
    """Service-hours calendars."""


@calendars.command("recompute")
@click.option("--calendar", "calendar_id", type=int, help="Only the tasks on this calendar.")
@click.option("--inline", is_flag=True, help="Run the batches in this process, not on the workers.")
@click.option(
    "--timeout", default=3600.0, show_default=True, help="Seconds to wait for the workers."
)
def calendars_recompute(calendar_id: int | None, inline: bool, timeout: float) -> None:
    """Recompute the completion targets of open tasks (of one calendar, or all).

    The work is a background operation per account, run by the workers in batches (the
    maintenance sweep picks it up within seconds); this shows its progress.
    """
    settings = get_settings()
    with session_scope(settings) as session:
        if calendar_id is not None:
            row = session.get(CalendarRow, calendar_id)
            if row is None:
                raise click.ClickException(f"no calendar {calendar_id}")
            requests = [(row.account_id, {"calendar_id": calendar_id})]
        else:
            accounts = session.exec(select(Account.id)).all()
            requests = [(account_id or 0, {}) for account_id in accounts]
        op_ids = [
            background.request_recompute(session, account_id, None, scope).id or 0
            for account_id, scope in requests
        ]
    started = time.monotonic()
    with Progress("recomputing targets") as progress:
        if inline:
            for op_id in op_ids:
                before = progress.done  # the accounts before this one

                def show(done: int, total: int, before: int = before) -> None:
                    progress.show(before + done, before + total)

                recompute.run_inline(settings, op_id, show)
        else:
            _follow(settings, op_ids, progress, started + timeout)
    with session_scope(settings, write=False) as session:
        ops = [session.get(Operation, op_id) for op_id in op_ids]
        total = sum(op.progress_total or 0 for op in ops if op is not None)
    click.echo(f"recomputed {total} open tasks in {time.monotonic() - started:.1f}s")


def _follow(settings: Settings, op_ids: list[int], progress: Progress, deadline: float) -> None:
    """Follow the operations until done, once the workers have planned them all."""
    while True:
        with session_scope(settings, write=False) as session:
            ops = [session.get(Operation, op_id) for op_id in op_ids]
        planned = [op for op in ops if op is not None and op.progress_total is not None]
        if len(planned) == len(op_ids):
            progress.show(
                sum(op.progress_done or 0 for op in planned),
                sum(op.progress_total or 0 for op in planned),
            )
            if all(op.status != OperationStatus.pending for op in planned):
                return
        if time.monotonic() > deadline:
            raise click.ClickException(
                "the workers did not finish in time (are `tasks-service worker` and "
                "`beat` running? --inline runs it here)"
            )
        time.sleep(0.2)
