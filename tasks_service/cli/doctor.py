"""``tasks-service doctor``: the settings in effect, then one line per check; exit 1
with each problem and its fix."""

from __future__ import annotations

import json
import sys

import click

from tasks_service.core.settings import get_settings
from tasks_service.ops.doctor import masked_settings, run_checks


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(as_json: bool) -> None:
    """Check the stack: database, broker, workers, beat, operations, deliveries."""
    settings = get_settings()
    shown = masked_settings(settings)
    checks = run_checks(settings)
    problems = [check for check in checks if not check.ok]
    if as_json:
        body = {"settings": shown, "checks": [c.as_dict() for c in checks], "ok": not problems}
        click.echo(json.dumps(body, indent=2, default=str))
    else:
        click.echo("settings:")
        for name, value in shown.items():
            click.echo(f"  {name} = {value}")
        click.echo("")
        for check in checks:
            line = f"{'ok' if check.ok else 'PROBLEM':<8}{check.name}: {check.detail}"
            click.echo(line + (f" -> {check.fix}" if not check.ok else ""))
        click.echo("")
        summary = f"{len(problems)} problem(s)" if problems else f"all {len(checks)} checks ok"
        click.echo(summary)
    sys.exit(1 if problems else 0)
