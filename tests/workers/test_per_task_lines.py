"""Celery's line per task received and succeeded, and beat's per task sent, are dropped
unless at DEBUG (``workers.observe.PerTaskLines``); its other per-task lines (retries,
failures, beat's send errors) stay."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator

import pytest
from celery.app.trace import LOG_FAILURE, LOG_RECEIVED, LOG_RETRY, LOG_SUCCESS
from celery.beat import Scheduler

from workers.observe import BEAT_SENDING, PerTaskLines

BEAT_ERROR = "Message Error: %s\n%s"


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(str(record.msg))


@pytest.fixture
def kept() -> Iterator[_Kept]:
    handler = _Kept()
    loggers = [logging.getLogger(name) for name in PerTaskLines.LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        PerTaskLines.keep(True)
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def _say_all() -> None:
    context = {"name": "tasks.apply_operation", "id": "abc", "runtime": 0.01}
    strategy, trace, beat = (logging.getLogger(name) for name in PerTaskLines.LOGGERS)
    strategy.info(LOG_RECEIVED, {**context})
    trace.info(LOG_SUCCESS, {**context, "return_value": None})
    trace.info(LOG_RETRY, {**context, "exc": "later"})
    trace.error(LOG_FAILURE, {**context, "exc": "boom", "description": "raised"})
    beat.info(BEAT_SENDING, "sweep-timers", "tasks.sweep_timers")
    beat.error(BEAT_ERROR, "broker away", "traceback")


def test_the_templates_are_celerys_own() -> None:
    """A Celery release that words its beat line otherwise fails here, not silently."""
    source = inspect.getsource(Scheduler.apply_entry)
    assert repr(BEAT_SENDING) in source
    assert repr(BEAT_ERROR) in source


def test_received_and_succeeded_are_dropped_the_rest_kept(kept: _Kept) -> None:
    PerTaskLines.keep(False)
    PerTaskLines.keep(False)  # again: still one filter
    assert (
        sum(isinstance(f, PerTaskLines) for f in logging.getLogger("celery.app.trace").filters) == 1
    )
    _say_all()
    assert kept.messages == [LOG_RETRY, LOG_FAILURE, BEAT_ERROR]


def test_at_debug_every_line_is_kept(kept: _Kept) -> None:
    PerTaskLines.keep(False)
    PerTaskLines.keep(True)
    _say_all()
    assert kept.messages == [
        LOG_RECEIVED,
        LOG_SUCCESS,
        LOG_RETRY,
        LOG_FAILURE,
        BEAT_SENDING,
        BEAT_ERROR,
    ]
