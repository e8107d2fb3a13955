"""What the commands print: errors naming their fields, JSON bodies read, progress."""

from __future__ import annotations

import json
from typing import IO, Any

import click
import rich.progress
from rich.console import Console

from tasks_service.core.errors import TaskError
from tasks_service.core.settings import Settings, get_settings
from tasks_service.store.migrate import ensure_schema


def fail(exc: TaskError) -> click.ClickException:
    """A domain error as the CLI shows it: the message, then each bad field."""
    lines = [exc.message] + [
        f"  {err['field']}: {err['code']}: {err['message']}" for err in getattr(exc, "errors", [])
    ]
    return click.ClickException("\n".join(lines))


def database() -> Settings:
    """The settings, once the database is known to have this version's schema (the
    embedded default is brought to it here). Raises: DatabaseNotReady."""
    settings = get_settings()
    ensure_schema(settings)
    return settings


def json_body(source: IO[str]) -> Any:
    try:
        return json.load(source)
    except ValueError as exc:
        raise click.ClickException(f"the body is not JSON: {exc}") from None


class Progress:
    """Progress of long work: rich's live bar on a terminal; elsewhere (logs, pipes) a
    line per change, so that a log shows how far it got."""

    def __init__(self, label: str) -> None:
        self.label, self.done, self.total = label, 0, 0
        self.console = Console(stderr=False)
        self.bar: rich.progress.Progress | None = None
        self.bar_task: rich.progress.TaskID | None = None
        if self.console.is_terminal:
            self.bar = rich.progress.Progress(
                rich.progress.TextColumn("{task.description}"),
                rich.progress.BarColumn(),
                rich.progress.MofNCompleteColumn(),
                rich.progress.TimeElapsedColumn(),
                console=self.console,
            )

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.start()
            self.bar_task = self.bar.add_task(self.label, total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def note(self, text: str) -> None:
        """A message beside the bar (above it on a terminal)."""
        if self.bar is not None:
            self.bar.console.print(text, markup=False, highlight=False)
        else:
            click.echo(text)

    def show(self, done: int, total: int) -> None:
        if (done, total) == (self.done, self.total):
            return
        self.done, self.total = done, total
        if self.bar is not None and self.bar_task is not None:
            self.bar.update(self.bar_task, completed=done, total=max(total, 1))
        else:
            percent = 100 * done // total if total else 100
            click.echo(f"{self.label}: {done}/{total} ({percent}%)")
