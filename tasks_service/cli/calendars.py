"""Service-hours calendars: recomputing the targets of open tasks."""

from __future__ import annotations

import time

import click
from sqlmodel import select

from tasks_service.cli.output import Progress, database
from tasks_service.commands import recompute
from tasks_service.core.errors import NotFound
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import OperationStatus
from tasks_service.store import background
from tasks_service.store.db import session_scope
from tasks_service.store.models import Account, Operation
from tasks_service.store.models import Calendar as CalendarRow


@click.group()
def calendars() -> None:
    """Service-hours calendars."""


#: How long the workers may leave a recompute unplanned before the command says so.
NO_WORKER_HINT_AFTER = 10.0


@calendars.command("recompute")
@click.option("--calendar", "calendar_id", type=int, help="Only the tasks on this calendar.")
@click.option("--inline", is_flag=True, help="Run the batches in this process, not on the workers.")
@click.option(
    "--timeout",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds to wait for the workers to finish; the recompute goes on after that.",
)
def calendars_recompute(calendar_id: int | None, inline: bool, timeout: float) -> None:
    """Recompute the completion targets of open tasks (of one calendar, or all).

    The work is a background operation per account that the workers run in batches:
    this waits for them (`tasks-service worker` and `beat` must be running; the beat's
    maintenance sweep hands it over within seconds) and shows their progress, for at
    most --timeout seconds (if it gives up, the workers still finish the job). --inline
    runs the batches in this process instead, with no workers needed.
    """
    settings = database()
    with session_scope(settings) as session:
        if calendar_id is not None:
            row = session.get(CalendarRow, calendar_id)
            if row is None:
                raise NotFound(f"no calendar {calendar_id}")
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
            progress.note(
                f"waiting for the workers to recompute (operation {', '.join(map(str, op_ids))};"
                f" at most {timeout:g}s, --inline runs it here)"
            )
            _follow(settings, op_ids, progress, started, timeout)
    with session_scope(settings, write=False) as session:
        ops = [session.get(Operation, op_id) for op_id in op_ids]
        total = sum(op.progress_total or 0 for op in ops if op is not None)
    click.echo(f"recomputed {total} open tasks in {time.monotonic() - started:.1f}s")


def _follow(
    settings: Settings, op_ids: list[int], progress: Progress, started: float, timeout: float
) -> None:
    """Follow the operations until done, once the workers have planned them all; say so
    when no worker has taken them up for a while (none running, or all busy)."""
    hinted = False
    while True:
        with session_scope(settings, write=False) as session:
            ops = [session.get(Operation, op_id) for op_id in op_ids]
        planned = [op for op in ops if op is not None and op.progress_total is not None]
        waited = time.monotonic() - started
        if len(planned) == len(op_ids):
            progress.show(
                sum(op.progress_done or 0 for op in planned),
                sum(op.progress_total or 0 for op in planned),
            )
            if all(op.status != OperationStatus.pending for op in planned):
                return
        elif waited > NO_WORKER_HINT_AFTER and not hinted:
            hinted = True
            progress.note(
                f"no worker has started it after {waited:.0f}s: are `tasks-service worker`"
                " and `beat` running? (--inline runs it here)"
            )
        if waited > timeout:
            raise click.ClickException(
                f"the workers did not finish within {timeout:g}s (are `tasks-service worker`"
                " and `beat` running? --inline runs it here); the recompute stays queued"
                f" as operation {', '.join(map(str, op_ids))}"
            )
        time.sleep(0.2)
