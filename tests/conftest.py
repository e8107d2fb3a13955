"""Fixtures shared by the whole suite.

Every test that touches storage runs twice: on the embedded default (SQLite files,
kombu's SQLAlchemy transport) and on PostgreSQL + Redis. The servers come from
``TASKS_TEST_DATABASE_URL`` / ``TASKS_TEST_BROKER_URL``; when they cannot be reached
the PostgreSQL half is skipped, unless ``CI=true`` (or ``TASKS_REQUIRE_SERVICES=1``),
where that is a failure.

Workers are real ``tasks-service worker`` processes. Tests isolate themselves by
tenancy: each one creates its own account, and every query is account-scoped, so
committed rows of other tests are invisible to it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy
from flask import Flask
from flask.testing import FlaskClient

from tasks_service import migrate
from tasks_service.db import reset_engines, session_scope
from tasks_service.identity import do_create_account
from tasks_service.settings import Settings
from tests.helpers import Api, ProcessGroup, SmtpSink, settings_env, wait_for

BACKENDS = ("sqlite", "postgres")
_base = Settings()
REQUIRE_SERVICES = _base.require_services or os.environ.get("TASKS_REQUIRE_SERVICES") == "1"


def _postgres_database(base_url: str) -> Iterator[str]:
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


def _redis_url(base_url: str) -> str:
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


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    """A local SMTP server keeping every message (aiosmtpd): the outer edge of email."""
    sink = SmtpSink()
    yield sink
    sink.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, smtp_sink: SmtpSink
) -> Iterator[Settings]:
    """Settings of a migrated, empty stack on this backend."""
    data_dir = tmp_path_factory.mktemp(f"stack-{backend}")
    common: dict[str, Any] = {
        "env": "test",
        "data_dir": data_dir,
        "command_wait": 15.0,
        "recovery_after": 3.0,
        "recovery_interval": 1.0,
        # the receivers of the webhook tests listen on 127.0.0.1; retries come quickly
        "webhook_allow_private": True,
        "webhook_retry_base": 0.2,
        # a killed worker's claims are taken again quickly
        "timer_claim_timeout": 3.0,
        "delivery_claim_timeout": 5.0,
        "webhook_timeout": 3.0,
        # email goes to a local sink (tests/helpers.SmtpSink)
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_sink.port,
    }
    if backend == "sqlite":
        stack = Settings(database_url=None, broker_url=None, **common)
        migrate.upgrade(stack)
        yield stack
        reset_engines()
        return
    for database_url in _postgres_database(_base.test_database_url):
        stack = Settings(
            database_url=database_url,
            broker_url=_redis_url(_base.test_broker_url),
            broker_prefix=f"test-{uuid.uuid4().hex[:8]}:",
            **common,
        )
        migrate.upgrade(stack)
        yield stack


@pytest.fixture(scope="session")
def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessGroup]:
    """A real ``tasks-service worker`` (2 processes) consuming this stack's broker."""
    logs = tmp_path_factory.mktemp("worker-logs")
    group = ProcessGroup(settings_env(settings), logs)
    group.start_worker("worker", concurrency=2)
    yield group
    group.stop_all()


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[Flask]:
    from web.app import create_app

    flask_app = create_app(settings)
    flask_app.testing = True
    yield flask_app
    flask_app.extensions["outcomes"].stop()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class AccountInfo:
    def __init__(self, slug: str, token: str, admin_id: int, account_id: int) -> None:
        self.slug, self.token, self.admin_id, self.account_id = slug, token, admin_id, account_id


def make_account(settings: Settings, prefix: str = "acct") -> AccountInfo:
    slug = f"{prefix}-{uuid.uuid4().hex[:12]}"
    with session_scope(settings) as session:
        account, admin, token = do_create_account(
            session, slug, slug.title(), "Ada Admin", f"ada@{slug}.example"
        )
        return AccountInfo(slug, token, admin.id or 0, account.id or 0)


@pytest.fixture
def account(settings: Settings) -> AccountInfo:
    """A fresh account (tenant) with an admin and a token: the test's private world."""
    return make_account(settings)


@pytest.fixture
def api(client: FlaskClient, account: AccountInfo, worker: ProcessGroup) -> Api:
    """REST calls as the account's admin, applied by the real worker."""
    return Api(client, account.token, account.slug)


@pytest.fixture
def anon(client: FlaskClient) -> Api:
    return Api(client, None, None)


__all__ = ["AccountInfo", "Path", "make_account", "wait_for"]
