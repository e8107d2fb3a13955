"""Timers and deliveries, for operators: what is pending, and sending dead ones again."""

from __future__ import annotations

import click

from tasks_service.cli.output import database
from tasks_service.core.clock import utcnow
from tasks_service.identity.accounts import get_account
from tasks_service.notify import backlog, delivery
from tasks_service.store.db import session_scope


@click.group()
def timers() -> None:
    """Timers and deliveries (what the workers fire and send)."""


@timers.command("status")
def timers_status() -> None:
    """Count timers and deliveries by kind and state: what is due now, claims that
    went stale (a worker died), dead deliveries."""
    settings = database()
    with session_scope(settings, write=False) as session:
        report = backlog.report(session, settings, utcnow())
    for line in report:
        click.echo(line)


@timers.command("retry-dead")
@click.argument("slug")
@click.option("--webhook", "webhook_id", type=int, help="Only this webhook's deliveries.")
def timers_retry_dead(slug: str, webhook_id: int | None) -> None:
    """Send the account's dead deliveries again (after a receiver's outage), each
    under the webhook-id it had; prints how many. An unknown webhook is an error."""
    with session_scope(database()) as session:
        acct = get_account(session, slug)
        count = delivery.do_retry_dead(session, acct.id or 0, webhook_id)
    click.echo(f"{count} dead deliveries are pending again")
