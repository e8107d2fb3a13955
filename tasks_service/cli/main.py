"""The ``tasks-service`` command: an adapter beside ``web`` and ``workers``, calling the
domain and the public Python API."""

from __future__ import annotations

import click

from tasks_service.cli import admin, calendars, policies, roles, timers


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Task backend: REST API, Celery workers and scheduler over one database."""


for command in (roles.web, roles.worker, roles.beat, roles.run):
    main.add_command(command)
for group in (
    admin.db,
    admin.account,
    admin.token,
    calendars.calendars,
    policies.escalation_policies,
    timers.timers,
):
    main.add_command(group)
