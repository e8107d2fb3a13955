"""What the commands print: errors naming their fields, JSON bodies read, progress."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import click

from tasks_service.core.errors import TaskError


def fail(exc: TaskError) -> click.ClickException:
    """A domain error as the CLI shows it: the message, then each bad field."""
    lines = [exc.message] + [
        f"  {err['field']}: {err['code']}: {err['message']}" for err in getattr(exc, "errors", [])
    ]
    return click.ClickException("\n".join(lines))


def json_body(source: IO[str]) -> Any:
    try:
        return json.load(source)
    except ValueError as exc:
        raise click.ClickException(f"the body is not JSON: {exc}") from None


class Progress:
    """A progress bar on a terminal; otherwise (logs, pipes) a line per change."""

    def __init__(self, label: str) -> None:
        self.label, self.done, self.total = label, 0, 0
        self.bar: Any = None
        if sys.stdout.isatty():
            self.bar = click.progressbar(length=1, label=label)

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def show(self, done: int, total: int) -> None:
        if (done, total) == (self.done, self.total):
            return
        self.done, self.total = done, total
        if self.bar is not None:
            self.bar.length = max(total, 1)
            self.bar.update(done - self.bar.pos)
        else:
            percent = 100 * done // total if total else 100
            click.echo(f"{self.label}: {done}/{total} ({percent}%)")
