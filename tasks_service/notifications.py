"""Notifications: events about tasks, delivered to webhooks exactly once in effect.

An event (``task.alert``, ``task.overdue``, ``task.waking``, ...) is emitted in the
transaction that causes it, as one ``Delivery`` row per subscribed webhook. Its ``key``
(event, task, moment, channel, recipient) is unique, so an event emitted again by a
replayed firing adds nothing. Payload (documented in the README)::

    {"type": "task.alert", "timestamp": "...Z", "account": "<slug>", "data": {<task>}}

Sending: a worker that fires timers claims the messages they emit in the same
transaction (``claim_emitted``) and sends them as soon as it commits; anything else due
(retries, held mail, a lost sender's claims) is claimed by a woken worker
(``do_claim_due``). Either way a chunk is posted by a few threads at once
(``send_all``) and its outcomes recorded in one transaction (``do_record_attempts``).
Webhooks are signed per Standard Webhooks: ``webhook-id`` (the same on every attempt of
one delivery), ``webhook-timestamp``, ``webhook-signature`` (``v1,`` +
base64 HMAC-SHA256 of ``id.timestamp.body`` with the secret). Network errors,
timeouts, 429 and 5xx are retried with exponential backoff and jitter (``Retry-After``
honoured); other 4xx are not; after the last attempt a delivery is dead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import random
import secrets
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import Session, col, select

from tasks_service.db import claim_rows, is_postgres, settings_of
from tasks_service.models import (
    Account,
    Delivery,
    Notification,
    Person,
    Task,
    TaskLabel,
    Webhook,
    utcnow,
)
from tasks_service.serializers import iso, remember_labels, serialize_task
from tasks_service.settings import Settings

EVENTS = (
    "task.created",
    "task.updated",
    "task.status_changed",
    "task.assigned",
    "task.alert",
    "task.overdue",
    "task.escalated",
    "task.waking",
)
PENDING, DELIVERING, DELIVERED, DEAD = "pending", "delivering", "delivered", "dead"
CLAIM_TIMEOUT = timedelta(seconds=60)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


#: Events people hear about (webhooks hear about all of ``EVENTS``).
PEOPLE_EVENTS = (
    "task.assigned",
    "task.alert",
    "task.overdue",
    "task.escalated",
    "task.waking",
    "webhook.disabled",
)


def publish(
    session: Session,
    task: Task,
    events: list[str],
    moment: datetime,
    *,
    detail: str = "",
    extra: dict[str, Any] | None = None,
    people: list[int] | None = None,
    summary: str | None = None,
    email_not_before: datetime | None = None,
    people_only: bool = False,
) -> int:
    """Events about ``task``, in the transaction that causes them: one delivery per
    webhook of its account that wants each event, and for people's events (``PEOPLE_EVENTS``)
    a feed entry and an email to ``people``, or by default to those it concerns
    (``concerned``). ``moment`` (the timer's, or the change's) and ``detail`` (an
    escalation's level) make every key; the task is serialized once for all of them.
    Returns how many messages are new."""
    hooks = [] if people_only else _hooks(session, task.account_id)
    to_hooks = {event: [h for h in hooks if event in h.events] for event in events}
    to_people = {
        event: concerned(session, task, event) if people is None else people
        for event in events
        if event in PEOPLE_EVENTS
    }
    if not any(to_hooks.values()) and not any(to_people.values()):
        return 0
    account = _account(session, task.account_id)
    data = serialize_task(session, task)
    subject = f"{task.id}{detail}"
    added = 0
    for event in events:
        payload = {
            "type": event,
            "timestamp": iso(moment),
            "account": account.slug if account else None,
            "data": data,
            **(extra or {}),
        }
        base = f"{event}:{subject}:{iso(moment)}"
        added += _add_new(
            session,
            Delivery,
            {
                f"{base}:webhook:{hook.id}": Delivery(
                    account_id=task.account_id,
                    webhook_id=hook.id,
                    task_id=task.id,
                    key=f"{base}:webhook:{hook.id}",
                    event=event,
                    payload=payload,
                )
                for hook in to_hooks[event]
            },
        )
        if to_people.get(event):
            title = summary or f"{event.removeprefix('task.')}: #{task.id} {task.subject}"
            added += notify_people(
                session,
                event,
                moment,
                to_people[event],
                title,
                payload,
                task=task,
                subject=subject,
                email_not_before=email_not_before,
            )
    return added


#: ``session.info`` key of what ``preload`` loaded for a chunk of firings.
_PRELOADED = "publish_preloaded"


def preload(session: Session, tasks: list[Task]) -> None:
    """Load once what ``publish`` looks up for these tasks (each account's webhooks and
    row, each task's labels), for a chunk of firings; held until ``forget_preloaded``."""
    account_ids = {task.account_id for task in tasks}
    hooks: dict[int, list[Webhook]] = {account_id: [] for account_id in account_ids}
    for hook in _enabled_hooks(session, account_ids):
        hooks[hook.account_id].append(hook)
    accounts = session.exec(select(Account).where(col(Account.id).in_(account_ids)))
    session.info[_PRELOADED] = (hooks, {account.id: account for account in accounts})
    labels: dict[int, list[str]] = {task.id: [] for task in tasks if task.id is not None}
    for label in session.exec(
        select(TaskLabel)
        .where(col(TaskLabel.task_id).in_(list(labels)))
        .order_by(col(TaskLabel.task_id), col(TaskLabel.name))
    ):
        labels[label.task_id].append(label.name)
    for task_id, names in labels.items():
        remember_labels(session, task_id, names)


def forget_preloaded(session: Session) -> None:
    session.info.pop(_PRELOADED, None)


def _hooks(session: Session, account_id: int) -> list[Webhook]:
    preloaded = session.info.get(_PRELOADED)
    if preloaded is not None and account_id in preloaded[0]:
        return list(preloaded[0][account_id])
    return _enabled_hooks(session, {account_id})


def _enabled_hooks(session: Session, account_ids: set[int]) -> list[Webhook]:
    query = select(Webhook).where(
        col(Webhook.account_id).in_(account_ids), col(Webhook.disabled).is_(False)
    )
    return list(session.exec(query.order_by(col(Webhook.id))))


def _account(session: Session, account_id: int) -> Account | None:
    preloaded = session.info.get(_PRELOADED)
    if preloaded is not None and account_id in preloaded[1]:
        found: Account = preloaded[1][account_id]
        return found
    return session.get(Account, account_id)


def concerned(session: Session, task: Task, event: str) -> list[int]:
    """Whom an event about a task concerns by default: its member (or, with none, its
    team's members); for ``task.overdue`` its workflow's manager too. (Escalation
    levels name their own recipients.)"""
    from tasks_service.escalation import recipients

    notify = ["member"] if task.member_id else ["team"]
    if event == "task.overdue":
        notify.append("manager")
    return recipients(session, task, notify)


def notify_people(
    session: Session,
    event: str,
    moment: datetime,
    person_ids: list[int],
    summary: str,
    payload: dict[str, Any],
    *,
    task: Task | None = None,
    subject: str,
    email_not_before: datetime | None = None,
) -> int:
    """An entry in each person's feed, and an email to each when SMTP is configured
    (not before ``email_not_before``: escalation mail held to service hours), minus
    each person's opt-outs. Keys as for webhooks: replays add nothing. Returns how
    many messages are new."""
    email = bool(settings_of(session).smtp_host)
    base = f"{event}:{subject}:{iso(moment)}"
    feed: dict[str, Notification] = {}
    mail: dict[str, Delivery] = {}
    for person in session.exec(select(Person).where(col(Person.id).in_(person_ids))):
        assert person.id is not None
        outs = set(person.notification_opt_outs)
        if event in outs or person.disabled:
            continue
        if f"in_app:{event}" not in outs:
            feed[f"{base}:in_app:{person.id}"] = Notification(
                account_id=person.account_id,
                person_id=person.id,
                task_id=task.id if task else None,
                key=f"{base}:in_app:{person.id}",
                event=event,
                summary=summary[:500],
                payload=payload,
            )
        if email and f"email:{event}" not in outs:
            mail[f"{base}:email:{person.id}"] = Delivery(
                account_id=person.account_id,
                channel="email",
                person_id=person.id,
                task_id=task.id if task else None,
                key=f"{base}:email:{person.id}",
                event=event,
                payload={"to": person.primary_email, "subject": summary, **payload},
                next_attempt_at=email_not_before or utcnow(),
            )
    return _add_new(session, Notification, feed) + _add_new(session, Delivery, mail)


def _add_new(session: Session, model: Any, rows: dict[str, Any]) -> int:
    """Add the rows whose key is not stored yet (one query for all): a replayed
    firing finds its messages and adds nothing."""
    if not rows:
        return 0
    # A chunk of firings (``preload``) skips the query: the keys' unique constraint fails
    # its flush instead, and the chunk is fired again one timer at a time, with queries.
    preloaded = _PRELOADED in session.info
    query = select(model.key).where(col(model.key).in_(list(rows)))
    stored = set() if preloaded else set(session.exec(query))
    for key, row in rows.items():
        if key not in stored:
            session.add(row)
            if model is Delivery:
                emitted(session).append(row)
    return len(rows) - len(stored)


def emitted(session: Session) -> list[Delivery]:
    """The deliveries this transaction added so far (``claim_emitted`` takes them)."""
    found: list[Delivery] = session.info.setdefault("emitted_deliveries", [])
    return found


#: A delivery claimed for sending, with its webhook (None for an email).
Claimed = tuple[Delivery, Webhook | None]


def claim_emitted(session: Session, now: datetime) -> list[Claimed]:
    """Claim, in the transaction that emitted them, the deliveries it added that are
    due now, for the caller to send once it commits (no sweep, no claim query). Left
    to the sweep: mail held for later, and webhooks already failing (a dead receiver
    must not slow down whoever fires timers). A caller that dies before sending leaves
    claims that go stale, and the sweep sends them."""
    rows, out = emitted(session), []
    for delivery in rows:
        hook = session.get(Webhook, delivery.webhook_id) if delivery.webhook_id else None
        if delivery.next_attempt_at > now or (hook is not None and hook.failing_since):
            continue
        delivery.state, delivery.claimed_at = DELIVERING, now
        out.append((delivery, hook))
    rows.clear()
    session.flush()  # their ids
    return out


def do_claim_due(
    session: Session, now: datetime, limit: int = 500, stale_after: timedelta = CLAIM_TIMEOUT
) -> list[int]:
    """Claim deliveries whose attempt is due, or whose sender went silent (claimed more
    than ``stale_after`` ago: a killed worker; its receiver may see the same
    webhook-id twice, which is what the id is for)."""
    values = {"state": DELIVERING, "claimed_at": now}
    condition = _sendable(now, stale_after)
    return claim_rows(session, Delivery, condition, col(Delivery.next_attempt_at), values, limit)


def any_due(session: Session, now: datetime, stale_after: timedelta = CLAIM_TIMEOUT) -> bool:
    """Whether a claim would find anything (one indexed probe)."""
    probe = select(Delivery.id).where(_sendable(now, stale_after)).limit(1)
    return session.exec(probe).first() is not None


def _sendable(now: datetime, stale_after: timedelta) -> Any:
    due = (col(Delivery.state) == PENDING) & (col(Delivery.next_attempt_at) <= now)
    lost = (col(Delivery.state) == DELIVERING) & (col(Delivery.claimed_at) < now - stale_after)
    return due | lost


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: a status code, or an error; and a server's Retry-After."""

    status: int | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
        "content-type": "application/json",
    }


class UnsafeAddress(Exception):
    """The URI resolves to an address outbound webhooks must not reach."""


def check_address(uri: str, allow_private: bool) -> None:
    """Refuse loopback, private, link-local, multicast and reserved addresses (every
    address the name resolves to), unless ``allow_private``. Raises: UnsafeAddress."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeAddress("the URI must be http(s)://host/...")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise UnsafeAddress(f"{parts.hostname} does not resolve: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        ):
            raise UnsafeAddress(f"{parts.hostname} resolves to {address}, which is not public")


_local = threading.local()


def _http() -> Any:
    """This thread's HTTP session: its connections stay open between deliveries to the
    same receiver (``requests.Session`` is not meant to be shared between threads)."""
    session = getattr(_local, "http", None)
    if session is None:
        import requests

        session = _local.http = requests.Session()
    return session


def send(settings: Settings, delivery: Delivery, hook: Webhook | None) -> Outcome:
    """One attempt: POST the signed payload (no redirects followed), or mail it."""
    if delivery.channel == "email":
        return send_email(settings, delivery)
    assert hook is not None
    if hook.disabled:
        return Outcome(error="refused: the webhook is disabled")
    import requests

    try:
        check_address(hook.uri, settings.webhook_allow_private)
    except UnsafeAddress as exc:
        return Outcome(error=f"refused: {exc}")
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = signed_headers(hook.secret, f"msg_{delivery.id}", int(utcnow().timestamp()), body)
    try:
        response = _http().post(
            hook.uri,
            data=body,
            headers=headers,
            timeout=settings.webhook_timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(status=response.status_code, retry_after=_retry_after(response.headers))


def send_email(settings: Settings, delivery: Delivery) -> Outcome:
    """One attempt over SMTP. A refused recipient is final (like a 4xx); a server that
    is down or answers 4xx (try later) is retried."""
    import smtplib
    from email.message import EmailMessage

    if not settings.smtp_host:
        return Outcome(error="refused: no SMTP server is configured")
    payload = delivery.payload
    message = EmailMessage()
    message["From"], message["To"] = settings.smtp_from, payload["to"]
    message["Subject"] = payload.get("subject", delivery.event)
    message["Message-ID"] = f"<delivery-{delivery.id}@{settings.smtp_from.rpartition('@')[2]}>"
    body = {k: v for k, v in payload.items() if k not in ("to", "subject")}
    message.set_content(f"{message['Subject']}\n\n{json.dumps(body, indent=2, sort_keys=True)}\n")
    try:
        server = (settings.smtp_host, settings.smtp_port)
        with smtplib.SMTP(*server, timeout=settings.smtp_timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        return Outcome(status=550, error=f"refused: {exc}"[:500])
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:  # "try again later"
            return Outcome(error=f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:500])
        return Outcome(status=exc.smtp_code, error=f"refused: {exc.smtp_error!r}"[:500])
    except (OSError, smtplib.SMTPException) as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(status=250)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def claimed(session: Session, delivery_ids: list[int], claim: datetime) -> list[Claimed]:
    """The deliveries (with their webhooks) still claimed by ``claim``, the moment of
    this sender's claim: one that went stale meanwhile and was claimed again belongs
    to the newer claim, and this sender leaves it alone. Two queries for the lot; no
    lock is held while sending (a slow receiver must not hold a transaction open)."""
    if not delivery_ids:
        return []
    rows = session.exec(select(Delivery).where(col(Delivery.id).in_(delivery_ids))).all()
    mine = [d for d in rows if d.state == DELIVERING and d.claimed_at == claim]
    hook_ids = {d.webhook_id for d in mine if d.webhook_id is not None}
    hooks = {h.id: h for h in session.exec(select(Webhook).where(col(Webhook.id).in_(hook_ids)))}
    out: list[Claimed] = []
    for delivery in sorted(mine, key=lambda d: d.id or 0):
        if delivery.channel == "email":
            out.append((delivery, None))
        elif delivery.webhook_id in hooks:
            out.append((delivery, hooks[delivery.webhook_id]))
    return out


#: One attempt's result for ``do_record_attempts``: the delivery, the claim it was
#: sent under, and its outcome (None: not attempted, the claim given back).
Attempt = tuple[int, datetime | None, Outcome | None]


def send_all(settings: Settings, claimed: list[Claimed], stale_after: timedelta) -> list[Attempt]:
    """One attempt for each claimed delivery, up to ``delivery_concurrency`` at once (a
    slow receiver costs the chunk one timeout, not one per message). A delivery whose
    claim could go stale before its attempt ends (``stale_after``, counting a whole
    ``webhook_timeout``) is not attempted: another sender may take it, and must not
    find it sent already; its claim is given back instead."""
    budget = stale_after - timedelta(seconds=settings.webhook_timeout)

    def attempt(pair: Claimed) -> Attempt:
        delivery, hook = pair
        assert delivery.id is not None
        claimed_at = delivery.claimed_at
        if claimed_at is None or utcnow() - claimed_at >= budget:
            return delivery.id, claimed_at, None
        return delivery.id, claimed_at, send(settings, delivery, hook)

    if len(claimed) <= 1:
        return [attempt(pair) for pair in claimed]
    return list(_senders(settings.delivery_concurrency).map(attempt, claimed))


@cache
def _senders(threads: int) -> ThreadPoolExecutor:
    """The process's sending threads (made on first use, after a worker's fork)."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="send")


def do_record_attempts(
    session: Session, settings: Settings, attempts: list[Attempt]
) -> list[str | None]:
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
    states: list[str | None] = []
    for delivery_id, claimed_at, outcome in attempts:
        delivery = rows.get(delivery_id)
        if delivery is None or delivery.state != DELIVERING or delivery.claimed_at != claimed_at:
            states.append(None)
            continue
        delivery.claimed_at = None
        if outcome is None:
            delivery.state = PENDING
        else:
            _apply_outcome(delivery, settings, outcome, now)
            if delivery.channel == "webhook" and delivery.webhook_id is not None:
                _track_health(session, settings, delivery.webhook_id, outcome, now)
        session.add(delivery)
        states.append(delivery.state)
    return states


def _apply_outcome(delivery: Delivery, settings: Settings, outcome: Outcome, now: datetime) -> None:
    delivery.attempts += 1
    delivery.last_status, delivery.last_error = outcome.status, outcome.error
    refused = outcome.error is not None and outcome.error.startswith("refused")
    if outcome.delivered:
        delivery.state, delivery.delivered_at = DELIVERED, now
    elif refused or not outcome.retryable or delivery.attempts >= settings.webhook_max_attempts:
        delivery.state = DEAD
    else:
        backoff = settings.webhook_retry_base * 2 ** (delivery.attempts - 1)
        delay = min(settings.webhook_retry_max, backoff) * random.uniform(0.5, 1.0)
        if outcome.retry_after is not None:
            delay = max(delay, min(outcome.retry_after, settings.webhook_retry_max))
        delivery.state, delivery.next_attempt_at = PENDING, now + timedelta(seconds=delay)


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
        hook.disabled = True
        reason = outcome.error or f"HTTP {outcome.status}"
        hook.disabled_reason = f"failing since {iso(hook.failing_since)}: {reason}"[:255]
        admins = session.exec(
            select(Person.id).where(
                Person.account_id == hook.account_id, col(Person.admin).is_(True)
            )
        ).all()
        summary = f"webhook {hook.id} ({hook.uri}) was disabled: {hook.disabled_reason}"
        payload = {
            "type": "webhook.disabled",
            "timestamp": iso(now),
            "data": {"webhook_id": hook.id, "uri": hook.uri, "reason": hook.disabled_reason},
        }
        notify_people(
            session,
            "webhook.disabled",
            hook.failing_since,
            [a for a in admins if a is not None],
            summary,
            payload,
            subject=f"webhook{hook.id}",
        )
    session.add(hook)


def do_retry(session: Session, account_id: int, webhook_id: int, delivery_id: int) -> Delivery:
    """Send a dead delivery again (same webhook-id). Raises: NotFound; Conflict."""
    from tasks_service.errors import Conflict, NotFound

    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.account_id != account_id or delivery.webhook_id != webhook_id:
        raise NotFound(f"no delivery {delivery_id}")
    if delivery.state != DEAD:
        raise Conflict(f"delivery {delivery_id} is {delivery.state}, not dead")
    delivery.state, delivery.next_attempt_at, delivery.attempts = PENDING, utcnow(), 0
    session.add(delivery)
    return delivery


def do_retry_dead(session: Session, account_id: int, webhook_id: int | None = None) -> int:
    """Send all of an account's dead deliveries again (of one webhook, or all, and
    email), as ``do_retry`` does for one; returns how many."""
    condition = (col(Delivery.account_id) == account_id) & (col(Delivery.state) == DEAD)
    if webhook_id is not None:
        condition &= col(Delivery.webhook_id) == webhook_id
    values = {"state": PENDING, "next_attempt_at": utcnow(), "attempts": 0}
    result = session.execute(update(Delivery).where(condition).values(**values))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
