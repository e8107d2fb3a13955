"""The roles: ``web``, ``worker`` and ``beat`` run one each (so that they can be spread
over processes and machines, as docker-compose does); ``run`` supervises all three as
real child processes. The roles are started as programs (gunicorn, celery), not
imported: the domain package knows the adapters only by their entry-point names.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from types import FrameType

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from tasks_service.core import metrics
from tasks_service.core.clock import utcnow
from tasks_service.core.logs import renders_json
from tasks_service.core.settings import Settings, get_settings
from tasks_service.identity.accounts import any_account, do_create_account, first_admin
from tasks_service.store import heartbeats, migrate
from tasks_service.store.db import session_scope
from tasks_service.store.migrate import ensure_schema

CELERY_APP = "workers.jobs:app"
WSGI_APP = "web.wsgi:app"
#: gunicorn's settings for the web role: its log lines as ours, metrics of ended workers.
GUNICORN_CONFIG = "python:web.gunicorn_conf"
DEMO_ACCOUNT = "demo"


# gunicorn's arbiter runs the web processes; in each, waitress (web.front) reads the
# requests, so that slow or half-open clients hold no thread.
WEB_WORKER_CLASS = "web.front.WaitressWorker"
# A Unix socket path longer than this cannot be bound (sun_path is 108 bytes).
_MAX_SOCKET_PATH = 100


def _web_argv(settings: Settings, host: str, port: int) -> list[str]:
    # gunicorn's control socket is per instance: under the data dir, not the shared
    # default in the home directory (two instances would take each other's).
    control = settings.resolved_data_dir / "gunicorn.ctl"
    if len(os.fsencode(control)) <= _MAX_SOCKET_PATH:
        control_args = ["--control-socket", str(control)]
    else:
        control_args = ["--no-control-socket"]
    public_url = settings.public_url or _listening_url(host, port)
    env_args = ["--env", f"TASKS_PUBLIC_URL={public_url}"] if public_url else []
    return [
        sys.executable, "-m", "gunicorn",
        "--bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "--workers", str(settings.web_workers),
        "--worker-class", WEB_WORKER_CLASS,
        "--threads", str(settings.web_threads),
        "--graceful-timeout", "10",
        "--config", GUNICORN_CONFIG,
        *control_args,
        *env_args,
        WSGI_APP,
    ]  # fmt: skip


def _listening_url(host: str, port: int) -> str | None:
    """The URL clients reach a server listening on ``host`` at; none for a wildcard
    address (0.0.0.0 / ::), which names no host a client could use: set
    TASKS_PUBLIC_URL there (links are relative meanwhile)."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (names them, binds nothing)
        return None
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _celery(settings: Settings) -> list[str]:
    # Celery's banner is many lines of text on stdout: not in a JSON log.
    quiet = ["--quiet"] if renders_json(settings) else []
    return [sys.executable, "-m", "celery", "-A", CELERY_APP, *quiet]


def _worker_argv(settings: Settings, concurrency: int, hostname: str | None = None) -> list[str]:
    return [
        *_celery(settings), "worker",
        "--concurrency", str(concurrency),
        "--queues", "commands,timers,maintenance",
        "--hostname", hostname or f"worker-{os.getpid()}@%h",
        "--loglevel", settings.log_level,
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip


def _beat_argv(settings: Settings) -> list[str]:
    return [
        *_celery(settings), "beat",
        "--schedule", str(settings.resolved_data_dir / "celerybeat-schedule"),
        "--loglevel", settings.log_level,
    ]  # fmt: skip


def _role_env(settings: Settings) -> dict[str, str]:
    """The roles' environment; each one that serves metrics adds its own directory
    (``metrics.role_environment``), none inherits another's."""
    env = settings.child_env()
    env.pop(metrics.MULTIPROC_ENV, None)
    return env


def _exec(argv: list[str], settings: Settings, metrics_role: str | None = None) -> None:
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    # A role over a database without this version's schema would fail at its first
    # query: say so (or, embedded, migrate) before it starts.
    ensure_schema(settings)
    env = _role_env(settings)
    if metrics_role:  # this process becomes the role (exec keeps the pid)
        env.update(metrics.role_environment(settings, metrics_role, os.getpid()))
    os.execve(argv[0], argv, env)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def web(host: str, port: int) -> None:
    """Serve the REST API with gunicorn."""
    _exec(_web_argv(get_settings(), host, port), get_settings(), "web")


@click.command()
@click.option("--concurrency", "-c", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")  # fmt: skip
@click.option("--hostname", "-n", default=None, help="Celery node name (default: worker-PID@host).")
def worker(concurrency: int, hostname: str | None) -> None:
    """Run a Celery worker that applies commands."""
    _exec(_worker_argv(get_settings(), concurrency, hostname), get_settings(), "worker")


@click.command()
def beat() -> None:
    """Run the scheduler (Celery beat): the periodic sweeps."""
    _exec(_beat_argv(get_settings()), get_settings())


@dataclass
class _Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    #: Started once this says so (or ``HOLD_AT_MOST`` has passed), not at once.
    after: Callable[[], bool] | None = None
    #: Said when it is first started.
    announce: str = ""
    #: More environment, made anew at each start (a metrics directory, emptied).
    extra_env: Callable[[], dict[str, str]] | None = None


#: The longest a held role waits for what it waits for (then it starts all the same).
HOLD_AT_MOST = 60.0


class Supervisor:
    """Starts the roles, restarts one that dies, and stops them all on a signal.

    A role that dies more than ``max_restarts`` times within ``window`` seconds brings
    the whole service down with a non-zero exit: never a silent half-running service.
    """

    def __init__(
        self,
        children: list[_Child],
        env: dict[str, str],
        max_restarts: int = 5,
        window: float = 60.0,
    ) -> None:
        self.children = children
        self.env = env
        self.max_restarts = max_restarts
        self.window = window
        self.stopping = False

    def _start(self, child: _Child) -> None:
        env = {**self.env, **(child.extra_env() if child.extra_env else {})}
        child.process = subprocess.Popen(child.argv, env=env)
        click.echo(f"[run] started {child.name} (pid {child.process.pid})", err=True)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _start_held(self, started: float) -> None:
        for child in self.children:
            if child.process is not None or child.after is None:
                continue
            waited = time.monotonic() - started
            if child.after() or waited > HOLD_AT_MOST:
                if waited > HOLD_AT_MOST:
                    click.echo(f"[run] starting {child.name} after {waited:.0f}s anyway", err=True)
                self._start(child)
                if child.announce:
                    click.echo(child.announce, err=True)

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        started = time.monotonic()
        for child in self.children:
            if child.after is None:
                self._start(child)
        exit_code = 0
        while not self.stopping:
            time.sleep(0.2)
            self._start_held(started)
            for child in self.children:
                if child.process is None:
                    continue
                code = child.process.poll()
                if code is None or self.stopping:
                    continue
                now = time.monotonic()
                child.restarts = [t for t in child.restarts if now - t < self.window] + [now]
                click.echo(f"[run] {child.name} exited with code {code}", err=True)
                if len(child.restarts) > self.max_restarts:
                    click.echo(
                        f"[run] {child.name} died {len(child.restarts)} times"
                        f" in {self.window:.0f}s: stopping",
                        err=True,
                    )
                    self.stopping, exit_code = True, 1
                    break
                self._start(child)
        self.stop()
        return exit_code

    def stop(self, timeout: float = 15.0) -> None:
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                click.echo(f"[run] {child.name} did not stop in time: killing it", err=True)
                child.process.kill()
                child.process.wait()
        click.echo("[run] stopped", err=True)


def _workers_alive(settings: Settings) -> bool:
    """Whether a worker on this broker has shown life lately (``store.heartbeats``)."""
    try:
        with session_scope(settings, write=False) as session:
            age = heartbeats.age(session, settings, heartbeats.WORKER, utcnow())
    except (OperationalError, InterfaceError):
        return False
    return age is not None and age.total_seconds() < settings.worker_stale_after


def _ensure_demo_account(settings: Settings, host: str, port: int) -> None:
    """On the first start, the account ``demo`` and its administrator's token; on a
    restart, how to get a new token (tokens are stored hashed: none can be shown again)."""
    with session_scope(settings) as session:
        existing = any_account(session)
        if existing:
            slug, email = first_admin(session) or (DEMO_ACCOUNT, "EMAIL")
        else:
            _account, admin, token = do_create_account(
                session, DEMO_ACCOUNT, "Demo", "Demo Admin", "admin@demo.example"
            )
            email = admin.primary_email
    if existing:
        click.echo(
            f"Account {slug!r} exists (administrator {email}); a token is shown only when it"
            f" is made. A new one: tasks-service token create {slug} --email {email}"
        )
        return
    click.echo(f"Created account '{DEMO_ACCOUNT}' with administrator {email}.")
    click.echo("Its API token, shown once (paste the line):")
    click.echo(f"export TOKEN={token}")
    click.echo(
        f"Try: curl -H \"Authorization: Bearer $TOKEN\" -H 'X-Xurrent-Account: {DEMO_ACCOUNT}' "
        f"http://{host}:{port}/v1/people/me"
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--concurrency", "-c", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")  # fmt: skip
def run(host: str, port: int, concurrency: int) -> None:
    """Migrate, then run web, worker and beat together until Ctrl-C."""
    settings = get_settings()
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings)
    _ensure_demo_account(settings, host, port)
    where = "embedded SQLite" if settings.is_embedded else "the configured database"
    metrics_env = partial(metrics.role_environment, settings, owner_pid=os.getpid())
    supervisor = Supervisor(
        [
            # The web starts once a worker is alive: a write sent at once is then applied,
            # not answered 202 for want of a worker (web.submit).
            _Child(
                "web",
                _web_argv(settings, host, port),
                after=lambda: _workers_alive(settings),
                announce=f"Serving on http://{host}:{port} ({where}); Ctrl-C stops.",
                extra_env=partial(metrics_env, role="web"),
            ),
            _Child(
                "worker",
                _worker_argv(settings, concurrency),
                extra_env=partial(metrics_env, role="worker"),
            ),
            _Child("beat", _beat_argv(settings)),
        ],
        _role_env(settings),
    )
    sys.exit(supervisor.run())
