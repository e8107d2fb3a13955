"""Structured logs (structlog): one event a line, as JSON or in a human-readable form.

structlog's loggers and the standard library's (Celery, kombu, gunicorn, waitress) go
through the same processors, so that every line a role writes is one JSON object (or,
on a terminal, one readable line). The context bound with ``structlog.contextvars``
(``request_id``, ``account``...) is added to every line of its request or task.

JSON unless ``TASKS_LOG_FORMAT`` says otherwise or stderr is a terminal
(``tasks-service run`` by hand). ``TASKS_LOG_LEVEL=WARNING`` keeps the per-request and
per-task lines quiet.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import IO, Any, TextIO

import structlog
from structlog.typing import Processor

from tasks_service.core.settings import Settings

#: Marks the root handler ``configure_logging`` installs (replaced, not stacked, when
#: it runs again; other handlers, e.g. pytest's, are left alone).
_OURS = "_tasks_service"


def renders_json(settings: Settings, stream: IO[str] | None = None) -> bool:
    """Whether lines are JSON: as ``log_format`` says, or (``auto``) unless ``stream``
    (stderr) is a terminal."""
    if settings.log_format != "auto":
        return settings.log_format == "json"
    isatty = getattr(stream or sys.stderr, "isatty", None)
    return not (callable(isatty) and isatty())


def _level(settings: Settings) -> int:
    return logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(as_json: bool, stream: IO[str]) -> list[Processor]:
    if as_json:
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    # plain tracebacks: rich's (structlog's default when rich is installed) print each
    # frame's local variables, settings and their passwords among them
    isatty = getattr(stream, "isatty", None)
    return [
        structlog.dev.ConsoleRenderer(
            colors=bool(callable(isatty) and isatty()),
            exception_formatter=structlog.dev.plain_traceback,
        )
    ]


class _CurrentStderr:
    """``sys.stderr`` as it is at each write, not as it was when logging was set up: a
    test runner swaps it for each test (and closes the old one), as may a daemon."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


STDERR: TextIO = _CurrentStderr()  # type: ignore[assignment]


def stdlib_handler(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing the standard library's records as our lines."""
    stream = stream or STDERR
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_shared(), structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_renderer(renders_json(settings, stream), stream),
            ],
        )
    )
    setattr(handler, _OURS, True)
    return handler


def configure_logging(settings: Settings) -> None:
    level = _level(settings)
    # Logs go to stderr: stdout carries command output (tokens) for scripts.
    stream = STDERR
    structlog.configure(
        processors=[*_shared(), *_renderer(renders_json(settings, stream), stream)],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
    root.addHandler(stdlib_handler(settings, stream))
    root.setLevel(level)
    logging.captureWarnings(True)  # a warning is a line like any other, not raw text


def gunicorn_logging(settings: Settings) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its own loggers hand their records to the root
    logger, which writes our lines (gunicorn would format them its own way)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {},
        "handlers": {"stderr": {"()": functools.partial(stdlib_handler, settings)}},
        "root": {"level": logging.getLevelName(_level(settings)), "handlers": ["stderr"]},
        "loggers": {
            name: {"level": "INFO", "handlers": [], "propagate": True}
            for name in ("gunicorn.error", "gunicorn.access")
        },
    }
