"""The servers a test stack runs on, and accounts in it.

Every test that touches storage runs twice: on the embedded default (SQLite files,
kombu's SQLAlchemy transport) and on PostgreSQL + Redis. The servers come from
``TASKS_TEST_DATABASE_URL`` / ``TASKS_TEST_BROKER_URL``; when they cannot be reached
the PostgreSQL half is skipped, unless ``CI=true`` (or ``TASKS_REQUIRE_SERVICES=1``),
where that is a failure. Tests isolate themselves by tenancy: each one creates its own
account (``make_account``), and every query is account-scoped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
import sqlalchemy

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_account
from tasks_service.store.db import reset_engines, session_scope

#: The settings the environment gives (where the test servers are).
BASE = Settings()
REQUIRE_SERVICES = BASE.require_services or os.environ.get("TASKS_REQUIRE_SERVICES") == "1"


def postgres_database(base_url: str) -> Iterator[str]:
    """A fresh database on the test server for this run, dropped afterwards."""
    url = sqlalchemy.make_url(base_url)
    name = f"tasks_test_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL at {url.render_as_string(hide_password=True)} unavailable: {exc}"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        reset_engines()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def redis_url(base_url: str) -> str:
    """The test Redis, once it answers (skipped, or failed under CI, when it does not)."""
    client = redis.Redis.from_url(base_url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis at {base_url} unavailable: {exc}"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()
    return base_url


@dataclass(frozen=True)
class AccountInfo:
    slug: str
    token: str
    admin_id: int
    account_id: int


def make_account(settings: Settings, prefix: str = "acct") -> AccountInfo:
    """A fresh account (tenant) with an admin and a token: a test's private world."""
    slug = f"{prefix}-{uuid.uuid4().hex[:12]}"
    with session_scope(settings) as session:
        account, admin, token = do_create_account(
            session, slug, slug.title(), "Ada Admin", f"ada@{slug}.example"
        )
        return AccountInfo(slug, token, admin.id or 0, account.id or 0)
