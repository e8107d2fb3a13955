"""``tasks-service doctor``: the settings in effect and the stack's health, as data.

Each check is one ``Check`` (name, ok, detail, fix): the database reachable and at the
head migration, the broker reachable, workers and beat alive (their heartbeats against
the settings' stale thresholds), pending operations older than the recovery threshold,
dead deliveries and disabled webhooks per account. A check that cannot even run (the
database is away) is a failed check, never an exception: the doctor is what an
operator runs when things are broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from tasks_service.core.clock import utcnow
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import DeliveryState, OperationStatus
from tasks_service.store import heartbeats, migrate
from tasks_service.store.db import session_scope
from tasks_service.store.models import Account, Delivery
from tasks_service.store.models.messages import Webhook
from tasks_service.store.models.operations import Operation

MASK = "***"
_SECRET_WORDS = ("password", "token", "secret")


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report; ``fix`` says what to do when not ``ok``."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mask_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except Exception:
        return url
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)  # shown as ***


def masked_settings(settings: Settings) -> dict[str, Any]:
    """The settings in effect, passwords in URLs and any secret-like setting masked."""
    out: dict[str, Any] = {}
    for name, value in sorted(settings.model_dump().items()):
        if any(word in name for word in _SECRET_WORDS) and value:
            out[name] = MASK
        elif isinstance(value, str) and "://" in value:
            out[name] = _mask_url(value)
        else:
            out[name] = value
    out["effective_database_url"] = _mask_url(settings.effective_database_url)
    out["effective_broker_url"] = _mask_url(settings.effective_broker_url)
    return out


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return (str(orig if orig is not None else exc).strip().splitlines() or [repr(exc)])[0]


def check_database(settings: Settings) -> Check:
    where = migrate.describe(settings)
    try:
        current = migrate.current_revision(settings)
    except Exception as exc:
        return Check(
            "database",
            False,
            _first_line(exc) if "cannot reach" in str(exc) else f"cannot reach {where}: {exc}",
            "check TASKS_DATABASE_URL and that the database server is up",
        )
    head = migrate.head_revision(settings)
    if current != head:
        state = f"at revision {current}" if current else "not migrated"
        return Check(
            "database",
            False,
            f"{where} is {state} (this version needs {head})",
            "run `tasks-service db upgrade`",
        )
    return Check("database", True, f"{where} reachable, at head {head}")


def check_broker(settings: Settings) -> Check:
    url = settings.effective_broker_url
    shown = _mask_url(url)
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            try:
                client.ping()
            finally:
                client.close()
        else:  # the embedded broker: a SQLAlchemy transport over a database URL
            engine = create_engine(url.removeprefix("sqla+"))
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            finally:
                engine.dispose()
    except Exception as exc:
        return Check(
            "broker",
            False,
            f"cannot reach {shown}: {_first_line(exc)}",
            "check TASKS_BROKER_URL and that the broker is up",
        )
    return Check("broker", True, f"{shown} reachable")


@dataclass(frozen=True)
class _Beating:
    """A role that proves it is alive by its heartbeat, and how each answer reads."""

    check: str
    heartbeat: str
    stale_after: Callable[[Settings], float]
    missing: str  # "{seen}": "never seen", or "{silence} for N s"
    silence: str
    alive: str  # "{seconds}": since the last beat
    fix: str


_BEATING = (
    _Beating(
        "beat",
        heartbeats.SCHEDULER,
        lambda s: s.scheduler_stale_after,
        "{seen}",
        "no sweep",
        "last sweep {seconds:.1f} s ago",
        "start `tasks-service beat` (or `run`)",
    ),
    _Beating(
        "workers",
        heartbeats.WORKER,
        lambda s: s.worker_stale_after,
        "no worker alive: {seen}",
        "none seen",
        "alive (last beat {seconds:.1f} s ago)",
        "start `tasks-service worker` (or `run`)",
    ),
)


def _liveness(session: Session, settings: Settings) -> list[Check]:
    now = utcnow()
    out: list[Check] = []
    for role in _BEATING:
        age = heartbeats.age(session, settings, role.heartbeat, now)
        limit = role.stale_after(settings)
        if age is None or age.total_seconds() > limit:
            seen = (
                "never seen" if age is None else f"{role.silence} for {age.total_seconds():.0f} s"
            )
            said = role.missing.format(seen=seen)
            out.append(Check(role.check, False, f"{said} (more than {limit:g} s)", role.fix))
        else:
            out.append(Check(role.check, True, role.alive.format(seconds=age.total_seconds())))
    return out


def _operations(session: Session, settings: Settings) -> Check:
    before = utcnow() - timedelta(seconds=settings.recovery_after)
    stale = session.exec(
        select(func.count()).where(
            Operation.status == OperationStatus.pending, col(Operation.updated_at) < before
        )
    ).one()
    if stale:
        return Check(
            "operations",
            False,
            f"{stale} pending operations older than {settings.recovery_after:g} s",
            "make sure workers and beat run (beat sends them again); see"
            " `tasks-service operations`",
        )
    return Check("operations", True, "no stale pending operations")


def _per_account(session: Session) -> list[Check]:
    out: list[Check] = []
    dead = session.exec(
        select(Account.slug, func.count())
        .join(Delivery, col(Delivery.account_id) == col(Account.id))
        .where(Delivery.state == DeliveryState.dead)
        .group_by(Account.slug)
        .order_by(Account.slug)
    ).all()
    for slug, count in dead:
        out.append(
            Check(
                "deliveries",
                False,
                f"{count} dead deliveries in account {slug}",
                f"`tasks-service timers retry-dead {slug}` once the receiver is back",
            )
        )
    disabled = session.exec(
        select(Account.slug, Webhook.id, Webhook.disabled_reason)
        .join(Webhook, col(Webhook.account_id) == col(Account.id))
        .where(col(Webhook.disabled).is_(True))
        .order_by(Account.slug, col(Webhook.id))
    ).all()
    for slug, webhook_id, reason in disabled:
        out.append(
            Check(
                "webhooks",
                False,
                f"webhook {webhook_id} in account {slug} is disabled ({reason or 'no reason'})",
                f"fix the receiver, then PATCH /v1/webhooks/{webhook_id} with"
                ' {"disabled": false} (or Enable on /ops)',
            )
        )
    if not dead:
        out.append(Check("deliveries", True, "no dead deliveries"))
    if not disabled:
        out.append(Check("webhooks", True, "no disabled webhooks"))
    return out


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in order; the ones needing the database only when it is usable."""
    database = check_database(settings)
    checks = [database, check_broker(settings)]
    if not database.ok:  # unreachable or without this version's tables
        return checks
    try:
        with session_scope(settings) as session:
            checks += _liveness(session, settings)
            checks.append(_operations(session, settings))
            checks += _per_account(session)
    except Exception as exc:
        checks.append(
            Check("queries", False, f"cannot read the database: {_first_line(exc)}", database.fix)
        )
    return checks
