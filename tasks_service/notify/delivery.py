"""Sending: every message is a ``Delivery`` row, sent until it lands or dies.

A worker that fires timers claims the messages they emit in the same transaction
(``claim_emitted``) and sends them as soon as it commits; anything else due (retries,
held mail, a lost sender's claims) is claimed by a woken worker (``do_claim_due``).
Either way a ``Sender`` posts a chunk from a few threads at once and its outcomes are
recorded in one transaction (``do_record_attempts``). Network errors, timeouts, 429
and 5xx are retried with exponential backoff and jitter (``Retry-After`` honoured);
other 4xx are not; after the last attempt a delivery is dead (``do_retry`` sends it
again, under the same ``webhook-id``).
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import requests
import structlog
from sqlalchemy import update
from sqlmodel import Session, col, select

from tasks_service.core.clock import iso, utcnow
from tasks_service.core.errors import Conflict
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import DeliveryChannel, DeliveryState
from tasks_service.notify.message import Message
from tasks_service.notify.outbox import Outbox
from tasks_service.notify.personal import notify_people
from tasks_service.notify.transport import http
from tasks_service.notify.transport.outcome import Outcome
from tasks_service.notify.transport.smtp import send_email
from tasks_service.store import lookups
from tasks_service.store.db import claim_rows, is_postgres
from tasks_service.store.models import Delivery, Person, Webhook

log = structlog.get_logger(__name__)

CLAIM_TIMEOUT = timedelta(seconds=60)

#: A delivery claimed for sending, with its webhook (None for an email).
Claimed = tuple[Delivery, Webhook | None]
#: One attempt's result for ``do_record_attempts``: the delivery, the claim it was
#: sent under, and its outcome (None: not attempted, the claim given back).
Attempt = tuple[int, datetime | None, Outcome | None]


# --- claiming ---------------------------------------------------------------------------


def claim_emitted(session: Session, outbox: Outbox, now: datetime) -> list[Claimed]:
    """Claim, in the transaction that emitted them, the deliveries ``outbox`` added that
    are due now, for the caller to send once it commits (no sweep, no claim query).
    Left to the sweep: mail held for later, and webhooks already failing (a dead
    receiver must not slow down whoever fires timers). A caller that dies before
    sending leaves claims that go stale, and the sweep sends them."""
    out: list[Claimed] = []
    for delivery in outbox.emitted:
        hook = session.get(Webhook, delivery.webhook_id) if delivery.webhook_id else None
        if delivery.next_attempt_at > now or (hook is not None and hook.failing_since):
            continue
        delivery.state, delivery.claimed_at = DeliveryState.delivering, now
        out.append((delivery, hook))
    outbox.emitted.clear()
    session.flush()  # their ids
    return out


def do_claim_due(
    session: Session, now: datetime, limit: int = 500, stale_after: timedelta = CLAIM_TIMEOUT
) -> list[int]:
    """Claim deliveries whose attempt is due, or whose sender went silent (claimed more
    than ``stale_after`` ago: a killed worker; its receiver may see the same
    webhook-id twice, which is what the id is for)."""
    values = {"state": DeliveryState.delivering, "claimed_at": now}
    condition = _sendable(now, stale_after)
    return claim_rows(session, Delivery, condition, col(Delivery.next_attempt_at), values, limit)


def any_due(session: Session, now: datetime, stale_after: timedelta = CLAIM_TIMEOUT) -> bool:
    """Whether a claim would find anything (one indexed probe)."""
    probe = select(Delivery.id).where(_sendable(now, stale_after)).limit(1)
    return session.exec(probe).first() is not None


def _sendable(now: datetime, stale_after: timedelta) -> Any:
    due = (col(Delivery.state) == DeliveryState.pending) & (col(Delivery.next_attempt_at) <= now)
    lost = (col(Delivery.state) == DeliveryState.delivering) & (
        col(Delivery.claimed_at) < now - stale_after
    )
    return due | lost


def claimed(session: Session, delivery_ids: list[int], claim: datetime) -> list[Claimed]:
    """The deliveries (with their webhooks) still claimed by ``claim``, the moment of
    this sender's claim: one that went stale meanwhile and was claimed again belongs
    to the newer claim, and this sender leaves it alone. Two queries for the lot; no
    lock is held while sending (a slow receiver must not hold a transaction open)."""
    if not delivery_ids:
        return []
    rows = session.exec(select(Delivery).where(col(Delivery.id).in_(delivery_ids))).all()
    mine = [d for d in rows if d.state == DeliveryState.delivering and d.claimed_at == claim]
    hook_ids = {d.webhook_id for d in mine if d.webhook_id is not None}
    hooks = {h.id: h for h in session.exec(select(Webhook).where(col(Webhook.id).in_(hook_ids)))}
    out: list[Claimed] = []
    for delivery in sorted(mine, key=lambda d: d.id or 0):
        if delivery.channel == DeliveryChannel.email:
            out.append((delivery, None))
        elif delivery.webhook_id in hooks:
            out.append((delivery, hooks[delivery.webhook_id]))
    return out


# --- sending ----------------------------------------------------------------------------


class Sender:
    """Makes attempts, up to ``delivery_concurrency`` at once: a slow receiver costs a
    chunk one timeout, not one per message. It owns its threads and their HTTP sessions
    (each thread keeps its connections open between deliveries to one receiver;
    ``requests.Session`` is not meant to be shared between threads): ``close`` it, or
    use it as a context manager. Made after a worker's fork, never before."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Sender:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _http(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "http", None)
        if session is None:
            session = self._local.http = requests.Session()
            with self._lock:
                self._sessions.append(session)
        return session

    def send(self, delivery: Delivery, hook: Webhook | None) -> Outcome:
        """One attempt: POST the signed payload, or mail it. A delivery that cannot even
        be made (a row whose payload lacks its recipient...) is refused, so that it goes
        dead on its own: raised, it would end the whole chunk's attempts unrecorded, and
        every delivery claimed with it would be claimed and lost again, over and over."""
        try:
            if delivery.channel == DeliveryChannel.email:
                return send_email(self.settings, delivery)
            if hook is None:
                return Outcome(error="refused: the delivery's webhook is gone")
            return http.post(self._http(), self.settings, delivery, hook)
        except Exception as exc:
            log.exception("delivery_unsendable", delivery_id=delivery.id)
            return Outcome(error=f"refused: cannot be sent: {type(exc).__name__}: {exc}"[:255])

    def send_all(self, claims: list[Claimed], stale_after: timedelta) -> list[Attempt]:
        """One attempt for each claimed delivery. A delivery whose claim could go stale
        before its attempt ends (``stale_after``, counting a whole ``webhook_timeout``)
        is not attempted: another sender may take it, and must not find it sent
        already; its claim is given back instead."""
        budget = stale_after - timedelta(seconds=self.settings.webhook_timeout)

        def attempt(pair: Claimed) -> Attempt:
            delivery, hook = pair
            assert delivery.id is not None
            claimed_at = delivery.claimed_at
            if claimed_at is None or utcnow() - claimed_at >= budget:
                return delivery.id, claimed_at, None
            return delivery.id, claimed_at, self.send(delivery, hook)

        if len(claims) <= 1:
            return [attempt(pair) for pair in claims]
        return list(self._threads().map(attempt, claims))

    def _threads(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.delivery_concurrency, thread_name_prefix="send"
                )
            return self._pool

    def close(self) -> None:
        """Stop the threads (after the attempts under way) and close their connections."""
        with self._lock:
            pool, self._pool = self._pool, None
            sessions, self._sessions = self._sessions, []
        if pool is not None:
            pool.shutdown(wait=True)
        for session in sessions:
            session.close()


# --- recording --------------------------------------------------------------------------


def do_record_attempts(
    session: Session, settings: Settings, attempts: list[Attempt]
) -> list[DeliveryState | None]:
    """The attempts' results on their rows (locked together, in one transaction):
    delivered, pending again (after a backoff with jitter, at least ``Retry-After``),
    or dead; a claim given back (no outcome) is pending again at once. An attempt
    whose claim was taken over meanwhile (this sender was too slow) is ignored.
    Returns each delivery's new state (None when ignored)."""
    ids = [delivery_id for delivery_id, _claim, _outcome in attempts]
    query = select(Delivery).where(col(Delivery.id).in_(ids)).order_by(col(Delivery.id))
    if is_postgres(session):
        query = query.with_for_update()
    rows = {d.id: d for d in session.exec(query.execution_options(populate_existing=True))}
    now = utcnow()
    states: list[DeliveryState | None] = []
    for delivery_id, claimed_at, outcome in attempts:
        delivery = rows.get(delivery_id)
        if (
            delivery is None
            or delivery.state != DeliveryState.delivering
            or delivery.claimed_at != claimed_at
        ):
            states.append(None)
            continue
        delivery.claimed_at = None
        if outcome is None:
            delivery.state = DeliveryState.pending
        else:
            _apply_outcome(delivery, settings, outcome, now)
            if delivery.channel == DeliveryChannel.webhook and delivery.webhook_id is not None:
                _track_health(session, settings, delivery.webhook_id, outcome, now)
        session.add(delivery)
        states.append(DeliveryState(delivery.state))
    return states


def retry_delay(settings: Settings, attempts: int, retry_after: float | None) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: ``base *
    2^(attempts-1)``, capped at ``webhook_retry_max``, jittered down to half of it (so
    that receivers back from an outage are not hit by every sender at once); at least a
    server's ``Retry-After`` (capped too)."""
    backoff: float = settings.webhook_retry_base * 2 ** (attempts - 1)
    delay = min(settings.webhook_retry_max, backoff) * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.webhook_retry_max))
    return delay


def _apply_outcome(delivery: Delivery, settings: Settings, outcome: Outcome, now: datetime) -> None:
    delivery.attempts += 1
    delivery.last_status, delivery.last_error = outcome.status, outcome.error
    if outcome.delivered:
        delivery.state, delivery.delivered_at = DeliveryState.delivered, now
    elif not outcome.retryable or delivery.attempts >= settings.webhook_max_attempts:
        delivery.state = DeliveryState.dead
    else:
        delay = retry_delay(settings, delivery.attempts, outcome.retry_after)
        delivery.state = DeliveryState.pending
        delivery.next_attempt_at = now + timedelta(seconds=delay)


def _track_health(
    session: Session, settings: Settings, webhook_id: int, outcome: Outcome, now: datetime
) -> None:
    """A success clears ``failing_since``; failures from then on for longer than
    ``webhook_disable_after`` disable the webhook and tell the account's admins."""
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        return
    if outcome.delivered:
        hook.failing_since = None
    elif hook.failing_since is None:
        hook.failing_since = now
    elif not hook.disabled and now - hook.failing_since >= timedelta(
        seconds=settings.webhook_disable_after
    ):
        _disable(session, settings, hook, outcome, now)
    session.add(hook)


def _disable(
    session: Session, settings: Settings, hook: Webhook, outcome: Outcome, now: datetime
) -> None:
    assert hook.failing_since is not None
    hook.disabled = True
    reason = outcome.error or f"HTTP {outcome.status}"
    hook.disabled_reason = f"failing since {iso(hook.failing_since)}: {reason}"[:255]
    admins = session.exec(
        select(Person.id).where(Person.account_id == hook.account_id, col(Person.admin).is_(True))
    ).all()
    message = Message(
        "webhook.disabled",
        hook.failing_since,
        summary=f"webhook {hook.id} ({hook.uri}) was disabled: {hook.disabled_reason}",
    )
    payload = {
        "type": "webhook.disabled",
        "timestamp": iso(now),
        "data": {"webhook_id": hook.id, "uri": hook.uri, "reason": hook.disabled_reason},
    }
    admin_ids = [a for a in admins if a is not None]
    notify_people(
        session, Outbox(settings), message, admin_ids, payload, subject=f"webhook{hook.id}"
    )


# --- sending dead ones again ------------------------------------------------------------


def do_retry(session: Session, account_id: int, webhook_id: int, delivery_id: int) -> Delivery:
    """Send a dead delivery again (same webhook-id). Raises: NotFound; Conflict."""
    delivery = lookups.find(session, Delivery, account_id, delivery_id)
    if delivery is None or delivery.webhook_id != webhook_id:
        raise lookups.not_found(Delivery, delivery_id)
    if delivery.state != DeliveryState.dead:
        raise Conflict(f"delivery {delivery_id} is {delivery.state}, not dead")
    delivery.state, delivery.next_attempt_at, delivery.attempts = (
        DeliveryState.pending,
        utcnow(),
        0,
    )
    session.add(delivery)
    return delivery


def do_retry_dead(session: Session, account_id: int, webhook_id: int | None = None) -> int:
    """Send all of an account's dead deliveries again (of one webhook, or all, and
    email), as ``do_retry`` does for one; returns how many. Raises: NotFound (no such
    webhook in the account: "0 retried" would hide a typo)."""
    if webhook_id is not None:
        lookups.get(session, Webhook, account_id, webhook_id)
    condition = (col(Delivery.account_id) == account_id) & (
        col(Delivery.state) == DeliveryState.dead
    )
    if webhook_id is not None:
        condition &= col(Delivery.webhook_id) == webhook_id
    values = {"state": DeliveryState.pending, "next_attempt_at": utcnow(), "attempts": 0}
    result = session.execute(update(Delivery).where(condition).values(**values))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
