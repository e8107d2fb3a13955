"""The ``tasks-service`` command.

``run`` supervises the three roles as real child processes (web via gunicorn, Celery
worker, Celery beat); ``web``, ``worker`` and ``beat`` run one role each, so that the
roles can also be spread over processes and machines (docker-compose does). The roles
are started as programs (gunicorn, celery), not imported: the domain package knows the
adapters only by their entry-point names.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import IO, Any

import click
from sqlmodel import select

from tasks_service import identity, migrate, notifications, policies, recompute, status
from tasks_service.context import account as account_context
from tasks_service.db import session_scope
from tasks_service.errors import TaskError
from tasks_service.models import Account, Operation, OperationStatus, utcnow
from tasks_service.models import Calendar as CalendarRow
from tasks_service.schemas import EscalationPolicyCreate, validate
from tasks_service.settings import Settings, get_settings

CELERY_APP = "workers.tasks:app"
WSGI_APP = "web.wsgi:app"
DEMO_ACCOUNT = "demo"


def _web_argv(settings: Settings, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{host}:{port}",
        "--workers", str(settings.web_workers),
        "--worker-class", "gthread",
        "--threads", str(settings.web_threads),
        "--graceful-timeout", "10",
        "--access-logfile", "-",
        WSGI_APP,
    ]  # fmt: skip


def _worker_argv(settings: Settings, concurrency: int, hostname: str | None = None) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", CELERY_APP, "worker",
        "--concurrency", str(concurrency),
        "--queues", "commands,timers,maintenance",
        "--hostname", hostname or f"worker-{os.getpid()}@%h",
        "--loglevel", settings.log_level,
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip


def _beat_argv(settings: Settings) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", CELERY_APP, "beat",
        "--schedule", str(settings.resolved_data_dir / "celerybeat-schedule"),
        "--loglevel", settings.log_level,
    ]  # fmt: skip


def _exec(argv: list[str], settings: Settings) -> None:
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    os.execve(argv[0], argv, settings.child_env())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Task backend: REST API, Celery workers and scheduler over one database."""


# --- roles -----------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def web(host: str, port: int) -> None:
    """Serve the REST API with gunicorn."""
    _exec(_web_argv(get_settings(), host, port), get_settings())


@main.command()
@click.option("--concurrency", "-c", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")  # fmt: skip
@click.option("--hostname", "-n", default=None, help="Celery node name (default: worker-PID@host).")
def worker(concurrency: int, hostname: str | None) -> None:
    """Run a Celery worker that applies commands."""
    _exec(_worker_argv(get_settings(), concurrency, hostname), get_settings())


@main.command()
def beat() -> None:
    """Run the scheduler (Celery beat): the periodic sweeps."""
    _exec(_beat_argv(get_settings()), get_settings())


@dataclass
class _Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)


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
        child.process = subprocess.Popen(child.argv, env=self.env)
        click.echo(f"[run] started {child.name} (pid {child.process.pid})", err=True)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for child in self.children:
            self._start(child)
        exit_code = 0
        while not self.stopping:
            time.sleep(0.2)
            for child in self.children:
                assert child.process is not None
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


def _ensure_demo_account(settings: Settings, host: str, port: int) -> None:
    with session_scope(settings) as session:
        if identity.any_account(session):
            return
        _account, admin, token = identity.do_create_account(
            session, DEMO_ACCOUNT, "Demo", "Demo Admin", "admin@demo.example"
        )
        email = admin.primary_email
    click.echo(f"Created account '{DEMO_ACCOUNT}' with administrator {email}.")
    click.echo(f"API token (shown once): {token}")
    click.echo(
        f"Try: curl -H 'Authorization: Bearer {token}' -H 'X-Xurrent-Account: {DEMO_ACCOUNT}' "
        f"http://{host}:{port}/v1/people/me"
    )


@main.command()
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
    click.echo(f"Serving on http://{host}:{port} ({where}); Ctrl-C stops.", err=True)
    supervisor = Supervisor(
        [
            _Child("web", _web_argv(settings, host, port)),
            _Child("worker", _worker_argv(settings, concurrency)),
            _Child("beat", _beat_argv(settings)),
        ],
        settings.child_env(),
    )
    sys.exit(supervisor.run())


# --- administration --------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrate.upgrade(get_settings(), revision)
    click.echo(f"database at {revision}", err=True)


@main.group()
def account() -> None:
    """Accounts (tenants)."""


@account.command("create")
@click.argument("slug")
@click.option("--admin-name", required=True, help="Name of the account's administrator.")
@click.option("--admin-email", required=True, help="Email of the account's administrator.")
@click.option("--name", default=None, help="Display name of the account (default: SLUG).")
def account_create(slug: str, admin_name: str, admin_email: str, name: str | None) -> None:
    """Create an account and its admin; print the admin's API token on the last line."""
    try:
        with session_scope(get_settings()) as session:
            _account, _admin, token = identity.do_create_account(
                session, slug, name or slug, admin_name, admin_email
            )
    except TaskError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Created account {slug!r} with administrator {admin_email}.")
    click.echo(token)


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("slug")
@click.option("--email", required=True, help="Primary email of the person in the account.")
def token_create(slug: str, email: str) -> None:
    """Create an API token for a person; print it on the last line."""
    try:
        with session_scope(get_settings()) as session:
            acct = identity.get_account(session, slug)
            person = identity.find_person_by_email(session, acct.id or 0, email)
            if person is None:
                raise click.ClickException(f"no person with email {email} in {slug}")
            new_token = identity.do_create_token(session, acct.id or 0, person.id or 0)
    except TaskError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(new_token)


@main.group()
def calendars() -> None:
    """Service-hours calendars."""


@calendars.command("recompute")
@click.option("--calendar", "calendar_id", type=int, help="Only the tasks on this calendar.")
@click.option("--inline", is_flag=True, help="Run the batches in this process, not on the workers.")
@click.option(
    "--timeout", default=3600.0, show_default=True, help="Seconds to wait for the workers."
)
def calendars_recompute(calendar_id: int | None, inline: bool, timeout: float) -> None:
    """Recompute the completion targets of open tasks (of one calendar, or all).

    The work is a background operation per account, run by the workers in batches (the
    maintenance sweep picks it up within seconds); this shows its progress.
    """
    settings = get_settings()
    with session_scope(settings) as session:
        if calendar_id is not None:
            row = session.get(CalendarRow, calendar_id)
            if row is None:
                raise click.ClickException(f"no calendar {calendar_id}")
            requests = [(row.account_id, {"calendar_id": calendar_id})]
        else:
            accounts = session.exec(select(Account.id)).all()
            requests = [(account_id or 0, {}) for account_id in accounts]
        op_ids = [
            recompute.do_request_recompute(session, account_id, None, scope).id or 0
            for account_id, scope in requests
        ]
    started = time.monotonic()
    with _Progress("recomputing targets") as progress:
        if inline:
            for op_id in op_ids:
                before = progress.done  # the accounts before this one

                def show(done: int, total: int, before: int = before) -> None:
                    progress.show(before + done, before + total)

                recompute.run_inline(settings, op_id, show)
        else:
            _follow(settings, op_ids, progress, started + timeout)
    with session_scope(settings, write=False) as session:
        ops = [session.get(Operation, op_id) for op_id in op_ids]
        total = sum(op.progress_total or 0 for op in ops if op is not None)
    click.echo(f"recomputed {total} open tasks in {time.monotonic() - started:.1f}s")


@main.group("escalation-policies")
def escalation_policies() -> None:
    """Escalation policies of an account (bodies as for /v1/escalation_policies)."""


def _fail(exc: TaskError) -> click.ClickException:
    """A domain error as the CLI shows it: the message, then each bad field."""
    lines = [exc.message] + [
        f"  {err['field']}: {err['code']}: {err['message']}" for err in getattr(exc, "errors", [])
    ]
    return click.ClickException("\n".join(lines))


def _json_body(source: IO[str]) -> Any:
    try:
        return json.load(source)
    except ValueError as exc:
        raise click.ClickException(f"the body is not JSON: {exc}") from None


@escalation_policies.command("list")
@click.argument("slug")
def policies_list(slug: str) -> None:
    """Print the account's policies as JSON."""
    try:
        with account_context(slug):
            rows = policies.list_escalation_policies()
    except TaskError as exc:
        raise _fail(exc) from None
    click.echo(json.dumps([dataclasses.asdict(row) for row in rows], indent=2))


@escalation_policies.command("create")
@click.argument("slug")
@click.argument("body", type=click.File("r"))
@click.option("--default", "make_default", is_flag=True, help="Make it the account's default.")
def policies_create(slug: str, body: IO[str], make_default: bool) -> None:
    """Create a policy from BODY (a JSON file, or - for stdin); print it as JSON."""
    data = _json_body(body)
    try:
        with account_context(slug):
            fields = validate(EscalationPolicyCreate, data).model_dump(mode="json")
            row = policies.create_escalation_policy(**fields)
            if make_default:
                policies.set_account_escalation_policy(row)
    except TaskError as exc:
        raise _fail(exc) from None
    click.echo(json.dumps(dataclasses.asdict(row), indent=2))


@escalation_policies.command("update")
@click.argument("slug")
@click.argument("policy_id", type=int)
@click.argument("body", type=click.File("r"))
def policies_update(slug: str, policy_id: int, body: IO[str]) -> None:
    """Change a policy with BODY (the fields to change, JSON); a change to its timing
    re-plans the levels of the account's open tasks before this returns."""
    data = _json_body(body)
    if not isinstance(data, dict):
        raise click.ClickException("the body must be a JSON object")
    try:
        with account_context(slug):
            row = policies.update_escalation_policy(policy_id, **data)
    except TaskError as exc:
        raise _fail(exc) from None
    click.echo(json.dumps(dataclasses.asdict(row), indent=2))


@main.group()
def timers() -> None:
    """Timers and deliveries (what the workers fire and send)."""


@timers.command("status")
def timers_status() -> None:
    """Count timers and deliveries by kind and state: what is due now, claims that
    went stale (a worker died), dead deliveries."""
    settings = get_settings()
    with session_scope(settings, write=False) as session:
        report = status.of_timers(session, settings, utcnow())
    for line in report:
        click.echo(line)


@timers.command("retry-dead")
@click.argument("slug")
@click.option("--webhook", "webhook_id", type=int, help="Only this webhook's deliveries.")
def timers_retry_dead(slug: str, webhook_id: int | None) -> None:
    """Send the account's dead deliveries again (after a receiver's outage), each
    under the webhook-id it had; prints how many."""
    try:
        with session_scope(get_settings()) as session:
            acct = identity.get_account(session, slug)
            count = notifications.do_retry_dead(session, acct.id or 0, webhook_id)
    except TaskError as exc:
        raise _fail(exc) from None
    click.echo(f"{count} dead deliveries are pending again")


class _Progress:
    """A progress bar on a terminal; otherwise (logs, pipes) a line per change."""

    def __init__(self, label: str) -> None:
        self.label, self.done, self.total = label, 0, 0
        self.bar: Any = None
        if sys.stdout.isatty():
            self.bar = click.progressbar(length=1, label=label)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def show(self, done: int, total: int) -> None:
        if (done, total) == (self.done, self.total):
            return
        self.done, self.total = done, total
        if self.bar is not None:
            self.bar.length = max(total, 1)
            self.bar.update(done - self.bar.pos)
        else:
            percent = 100 * done // total if total else 100
            click.echo(f"{self.label}: {done}/{total} ({percent}%)")


def _follow(settings: Settings, op_ids: list[int], progress: _Progress, deadline: float) -> None:
    """Follow the operations until done, once the workers have planned them all."""
    while True:
        with session_scope(settings, write=False) as session:
            ops = [session.get(Operation, op_id) for op_id in op_ids]
        planned = [op for op in ops if op is not None and op.progress_total is not None]
        if len(planned) == len(op_ids):
            progress.show(
                sum(op.progress_done or 0 for op in planned),
                sum(op.progress_total or 0 for op in planned),
            )
            if all(op.status != OperationStatus.pending for op in planned):
                return
        if time.monotonic() > deadline:
            raise click.ClickException(
                "the workers did not finish in time (are `tasks-service worker` and "
                "`beat` running? --inline runs it here)"
            )
        time.sleep(0.2)


if __name__ == "__main__":
    main()
