"""Which account (and which settings) the in-process Python API works in.

``with account("demo"):`` selects an account for the block; ``use_account("demo")``
selects it for the rest of the current context (thread or task).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from tasks_service.core.errors import TaskError
from tasks_service.core.settings import Settings, get_settings
from tasks_service.identity.accounts import get_account
from tasks_service.store.db import session_scope
from tasks_service.store.migrate import ensure_schema


@dataclass(frozen=True)
class AccountContext:
    settings: Settings
    account_id: int
    slug: str


_current: ContextVar[AccountContext | None] = ContextVar("tasks_account", default=None)


def _resolve(slug: str, settings: Settings | None) -> AccountContext:
    settings = settings or get_settings()
    ensure_schema(settings)  # the embedded default migrates itself here
    with session_scope(settings, write=False) as session:
        acct = get_account(session, slug)
        return AccountContext(settings=settings, account_id=acct.id or 0, slug=slug)


@contextmanager
def account(slug: str, settings: Settings | None = None) -> Iterator[AccountContext]:
    """Work in the account ``slug`` inside the block.

    Raises: NotFound (no such account); DatabaseNotReady (unreachable, or a PostgreSQL
    database not migrated: ``tasks-service db upgrade``)."""
    token = _current.set(_resolve(slug, settings))
    try:
        yield _current.get()  # type: ignore[misc]
    finally:
        _current.reset(token)


def use_account(slug: str, settings: Settings | None = None) -> AccountContext:
    """Work in the account ``slug`` from now on in this context.

    Raises: NotFound; DatabaseNotReady."""
    ctx = _resolve(slug, settings)
    _current.set(ctx)
    return ctx


def current() -> AccountContext:
    ctx = _current.get()
    if ctx is None:
        raise TaskError("no account selected: wrap the calls in `with tasks.account('slug'):`")
    return ctx
