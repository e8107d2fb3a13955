"""Structured logs (structlog), one JSON-ish line per event."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from tasks_service.core.settings import Settings


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(message)s")
    renderer: list[Any] = (
        # plain tracebacks: rich's (structlog's default when rich is installed) print
        # each frame's local variables, settings and their passwords among them
        [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
        if settings.env == "development"
        else [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Logs go to stderr: stdout carries command output (tokens) for scripts.
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
