"""Fixtures shared by the whole suite (the helpers they use live in ``tests.helpers``).

Every test that touches storage runs twice, on the embedded default and on PostgreSQL +
Redis (``tests.helpers.stacks``). Workers are real ``tasks-service worker`` processes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tasks_service.core.settings import Settings
from tasks_service.store import migrate
from tasks_service.store.db import reset_engines
from tests.helpers import (
    BASE,
    AccountInfo,
    Api,
    ProcessGroup,
    SmtpSink,
    make_account,
    postgres_database,
    redis_url,
    settings_env,
)

BACKENDS = ("sqlite", "postgres")


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
        # email goes to a local sink (tests.helpers.SmtpSink)
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_sink.port,
    }
    if backend == "sqlite":
        stack = Settings(database_url=None, broker_url=None, **common)
        migrate.upgrade(stack)
        yield stack
        reset_engines()
        return
    for database_url in postgres_database(BASE.test_database_url):
        stack = Settings(
            database_url=database_url,
            broker_url=redis_url(BASE.test_broker_url),
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
