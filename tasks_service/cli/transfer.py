"""``tasks-service tasks``: an account's tasks to a file and back (``tasks_service.transfer``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click
import rich.progress
from rich.console import Console

from tasks_service.cli.output import database
from tasks_service.transfer import CHUNK_SIZE, FORMATS, detect_format, export_tasks, import_tasks

#: The most refusals the summary lists (``--json`` has them all).
SHOWN_REFUSALS = 100


class _Bar:
    """Progress on stderr (stdout may carry the export itself): rich's live bar on a
    terminal; elsewhere (logs, pipes) a line per step."""

    def __init__(self, label: str) -> None:
        self.label = label
        console = Console(stderr=True)
        self.bar: rich.progress.Progress | None = None
        if console.is_terminal:
            self.bar = rich.progress.Progress(
                rich.progress.TextColumn("{task.description}"),
                rich.progress.BarColumn(),
                rich.progress.MofNCompleteColumn(),
                rich.progress.TimeElapsedColumn(),
                console=console,
            )
            self.task = self.bar.add_task(label, total=None)

    def __enter__(self) -> _Bar:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def show(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=max(total, 1))
        elif done:
            click.echo(f"{self.label}: {done}/{total}", err=True)


@click.group()
def tasks() -> None:
    """An account's tasks to a file and back: JSON or CSV in the REST API's field names."""


@contextmanager
def _output(path: str, fmt: str) -> Iterator[IO[str]]:
    """stdout for ``-``; else the file, removed again if the export fails half-way."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    try:
        opened = target.open("w", encoding="utf-8", newline="" if fmt == "csv" else None)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with opened as out:
            yield out
    except BaseException:
        target.unlink(missing_ok=True)
        raise


@tasks.command("export")
@click.argument("slug")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="json (a list of task objects) or csv; by default --output's suffix, else json.",
)
@click.option(
    "--query",
    "queries",
    multiple=True,
    help="The REST list's parameters: filters, sort, fields (e.g. 'status=assigned&team=3').",
)
@click.option(
    "--output",
    "-o",
    default="-",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    help="The file to write (default: stdout).",
)
def tasks_export(slug: str, fmt: str | None, queries: tuple[str, ...], output: str) -> None:
    """Write the account's tasks, every field as GET /v1/tasks shows it (id order
    unless --query sorts them), page by page."""
    settings = database()
    chosen = fmt or ("csv" if output.lower().endswith(".csv") else "json")
    with _output(output, chosen) as out, _Bar("exporting") as bar:
        count = export_tasks(settings, slug, out, chosen, "&".join(queries), bar.show)
    click.echo(f"exported {count} tasks", err=True)


@tasks.command("import")
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="json or csv; by default the file's suffix, else what it starts with.",
)
@click.option(
    "--chunk-size",
    default=CHUNK_SIZE,
    show_default=True,
    type=click.IntRange(1, 5000),
    help="Tasks per durable command (task.import operation).",
)
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON, every refusal.")
def tasks_import(slug: str, file: str, fmt: str | None, chunk_size: int, as_json: bool) -> None:
    """Create the tasks of FILE (JSON or CSV, as `tasks export` writes it, or POST
    /v1/tasks bodies) in the account, each through a POST's validation; rows whose
    source + sourceID name a task already there create nothing. Prints what was
    created, already there and refused (row, line, field, why); exits 1 if any row was
    refused (the others are imported)."""
    settings = database()
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file} is not UTF-8 text: {exc}") from None
    chosen = fmt or detect_format(None if file == "-" else file, text)
    with _Bar("importing") as bar:
        summary = import_tasks(settings, slug, text, chosen, bar.show, chunk_size)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        lines = summary.lines()
        for line in lines[: SHOWN_REFUSALS + 1]:
            click.echo(line)
        if len(lines) > SHOWN_REFUSALS + 1:
            click.echo(f"... and {len(lines) - SHOWN_REFUSALS - 1} more (--json lists them all)")
    if summary.refused:
        click.get_current_context().exit(1)
