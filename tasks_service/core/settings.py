"""Configuration, read once from the environment (prefix ``TASKS_``).

This is the only module that reads ``os.environ``. With neither ``TASKS_DATABASE_URL``
nor ``TASKS_BROKER_URL`` set the service runs on the embedded default: SQLite files
under ``TASKS_DATA_DIR`` for the data and for the Celery broker.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASKS_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = None
    broker_url: str | None = None
    # Prefix for every Redis key of the broker, so that several deployments (or test
    # runs) can share one Redis database without consuming each other's messages.
    broker_prefix: str = ""

    # How long a write request waits for its operation before answering 202.
    command_wait: float = Field(default=5.0, ge=0, le=60)
    # Interval between two looks at a pending operation while a request waits: at
    # most ~20 reads a second per waiting request.
    command_poll_interval: float = Field(default=0.05, gt=0, le=1)
    # An operation still pending this long after it was accepted is enqueued again
    # by the recovery sweep (the broker may have lost the message).
    recovery_after: float = Field(default=30.0, gt=0)
    recovery_interval: float = Field(default=5.0, gt=0)
    # Answers under faults (issue 14). Idempotency-Keys (and the answers replayed for
    # them) are kept at least this long; the scheduler is reported stale (``/readyz``
    # 503) when its last sweep is older than ``scheduler_stale_after``; a write answers
    # 202 at once, without waiting, when no worker has shown life for
    # ``worker_stale_after`` or more than ``command_backlog_limit`` commands are queued.
    idempotency_retention: float = Field(default=86_400.0, gt=0)
    scheduler_stale_after: float = Field(default=15.0, gt=0)
    worker_stale_after: float = Field(default=10.0, gt=0)
    command_backlog_limit: int = Field(default=200, ge=0)
    # Timers: how often beat sweeps for due ones (and how far ahead it looks).
    timer_sweep_interval: float = Field(default=1.0, gt=0)
    # Timers (and deliveries) a worker claims at a time: one transaction fires them all.
    timer_claim_batch: int = Field(default=50, ge=1, le=1_000)
    # A timer that fires this many seconds after its moment is marked late.
    timer_late_after: float = Field(default=60.0, gt=0)
    # Seconds after which a claimed timer / delivery that was not done is taken again
    # (its worker died or its message was lost). A delivery's must exceed the timeout.
    timer_claim_timeout: float = Field(default=20.0, gt=0)
    delivery_claim_timeout: float = Field(default=60.0, gt=0)
    # Webhooks: seconds per attempt; attempts before a delivery is dead; the backoff
    # (base * 2^(attempt-1), jittered, capped); private addresses allowed (tests, local).
    webhook_timeout: float = Field(default=10.0, gt=0, le=120)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_retry_base: float = Field(default=2.0, gt=0)
    webhook_retry_max: float = Field(default=3600.0, gt=0)
    webhook_allow_private: bool = False
    # Attempts one worker process makes at once (threads): a slow receiver costs a
    # chunk one timeout, not one per message.
    delivery_concurrency: int = Field(default=8, ge=1, le=64)
    # A webhook whose attempts have failed for this long (no success between) is
    # disabled, and the account's admins are told.
    webhook_disable_after: float = Field(default=86_400.0, gt=0)

    # Email over SMTP to the people an event concerns; off while no host is set.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "tasks@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = Field(default=10.0, gt=0, le=120)

    # Embedded broker: how often an idle worker looks for work in the SQLite queue, and
    # how long delivered messages are kept before the prune sweep deletes them.
    embedded_broker_poll: float = Field(default=0.02, gt=0)
    embedded_broker_retention: float = Field(default=3600.0, gt=0)

    # Lists: from this many rows deep, ``next`` links page by cursor instead of by
    # number (deep offset pages cost the database every row before them).
    cursor_threshold: int = Field(default=2_000, ge=1)

    # The service's address as clients reach it (scheme, host, port, no path), e.g.
    # https://tasks.example.com: absolute links (pagination) are built from it, never
    # from a request's Host header. ``web``/``run`` set it from their host and port
    # when it is unset; without it links are relative (``/v1/tasks?page=2``).
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+$")
    web_workers: int = Field(default=2, ge=1)
    web_threads: int = Field(default=8, ge=1)
    max_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"
    # Logs: one JSON object a line, or a human-readable form; ``auto`` is the readable
    # one when stderr is a terminal (``tasks-service run`` by hand), JSON otherwise.
    log_format: Literal["auto", "json", "console"] = "auto"
    # Prometheus metrics (``core.metrics``): web's ``GET /metrics`` and, when a port is
    # set, the worker's own endpoint (its main process; address: worker_metrics_host).
    # Off, nothing is exported and the web does not time its requests.
    metrics: bool = True
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    # Celery's task events (sent, started, succeeded...) for a monitor such as Flower
    # (docker-compose.yml): a broker message per event, so off unless one watches.
    worker_events: bool = False

    # Test suites point these at the servers they use (see tests/conftest.py).
    test_database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    test_broker_url: str = "redis://127.0.0.1:6379/15"
    require_services: bool = Field(default=False, validation_alias="CI")

    def child_env(self) -> dict[str, str]:
        """Environment for the processes ``run`` starts: same settings, absolute paths."""
        env = dict(os.environ)
        env["TASKS_DATA_DIR"] = str(self.resolved_data_dir)
        return env

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'tasks.db'}"

    @property
    def effective_broker_url(self) -> str:
        """The broker URL as Celery takes it.

        The embedded broker is a plain ``sqlite:///`` URL without kombu's ``sqla+``
        prefix: with the prefix kombu picks its stock transport and ignores our
        subclass (see ``workers/transport.py``).
        """
        if self.broker_url:
            return self.broker_url
        return f"sqlite:///{self.resolved_data_dir / 'broker.db'}"

    @property
    def uses_embedded_broker(self) -> bool:
        return self.effective_broker_url.startswith("sqlite")

    @property
    def is_embedded(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
