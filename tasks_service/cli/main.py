"""The ``tasks-service`` command: an adapter beside ``web`` and ``workers``, calling the
domain and the public Python API."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from tasks_service.cli import (
    admin,
    calendars,
    doctor,
    operations,
    policies,
    roles,
    timers,
    transfer,
)
from tasks_service.cli.output import fail
from tasks_service.core.errors import DatabaseUnreachable, TaskError
from tasks_service.core.settings import get_settings
from tasks_service.store.migrate import unreachable_message


class _Commands(click.Group):
    """Every command's failures a user can cause (an unknown account, a bad file, a
    database that is down or not migrated) end in one line on stderr and exit 1;
    ``--debug`` shows the traceback instead."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (OperationalError, InterfaceError) as exc:
            if ctx.params.get("debug"):
                raise
            raise fail(DatabaseUnreachable(unreachable_message(get_settings(), exc))) from None
        except TaskError as exc:
            if ctx.params.get("debug"):
                raise
            raise fail(exc) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the traceback of a failure.")
def main(debug: bool) -> None:
    """Task backend: REST API, Celery workers and scheduler over one database.

    On the embedded default (SQLite under TASKS_DATA_DIR) every command brings the
    database to the current schema by itself; a PostgreSQL database is migrated with
    `tasks-service db upgrade` before the roles start.
    """


for command in (roles.web, roles.worker, roles.beat, roles.run):
    main.add_command(command)
for group in (
    admin.db,
    admin.account,
    admin.token,
    calendars.calendars,
    policies.escalation_policies,
    timers.timers,
    operations.operations,
):
    main.add_command(group)
main.add_command(doctor.doctor)
main.add_command(transfer.tasks)
