"""Notifications: events about tasks, delivered to webhooks exactly once in effect.

An event (``task.alert``, ``task.overdue``, ``task.waking``, ...) is emitted in the
transaction that causes it, as one ``Delivery`` row per subscribed webhook. Its ``key``
(event, task, moment, channel, recipient) is unique, so an event emitted again by a
replayed firing adds nothing. Payload (documented in the README)::

    {"type": "task.alert", "timestamp": "...Z", "account": "<slug>", "data": {<task>}}

Sending follows the timers' shape: the sweep claims due deliveries (``do_claim_due``),
workers post them (``send``) and record the outcome (``do_record_attempt``) on the
row. Webhooks are signed per Standard Webhooks: ``webhook-id`` (the same on every
attempt of one delivery), ``webhook-timestamp``, ``webhook-signature`` (``v1,`` +
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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from tasks_service.db import claim_rows, is_postgres
from tasks_service.models import Account, Delivery, Task, Webhook, utcnow
from tasks_service.serializers import iso, serialize_task
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


def emit(session: Session, task: Task, event: str, moment: datetime) -> int:
    """Record ``event`` about ``task`` for every webhook of its account that wants it;
    ``moment`` (the timer's, or the change's) makes the delivery key. Returns how many
    deliveries are new."""
    hooks = [
        hook
        for hook in session.exec(
            select(Webhook).where(
                Webhook.account_id == task.account_id, col(Webhook.disabled).is_(False)
            )
        )
        if event in hook.events
    ]
    if not hooks:
        return 0
    account = session.get(Account, task.account_id)
    payload = {
        "type": event,
        "timestamp": iso(moment),
        "account": account.slug if account else None,
        "data": serialize_task(session, task),
    }
    added = 0
    for hook in hooks:
        key = f"{event}:{task.id}:{iso(moment)}:webhook:{hook.id}"
        exists = session.exec(select(Delivery.id).where(Delivery.key == key)).first()
        if exists is None:
            session.add(
                Delivery(
                    account_id=task.account_id,
                    webhook_id=hook.id,
                    task_id=task.id,
                    key=key,
                    event=event,
                    payload=payload,
                )
            )
            added += 1
    return added


def do_claim_due(
    session: Session, now: datetime, limit: int = 500, stale_after: timedelta = CLAIM_TIMEOUT
) -> list[int]:
    """Claim deliveries whose attempt is due, or whose sender went silent (claimed more
    than ``stale_after`` ago: a killed worker; its receiver may see the same
    webhook-id twice, which is what the id is for)."""
    due = (col(Delivery.state) == PENDING) & (col(Delivery.next_attempt_at) <= now)
    lost = (col(Delivery.state) == DELIVERING) & (col(Delivery.claimed_at) < now - stale_after)
    values = {"state": DELIVERING, "claimed_at": now}
    return claim_rows(session, Delivery, due | lost, col(Delivery.next_attempt_at), values, limit)


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


def send(settings: Settings, delivery: Delivery, hook: Webhook) -> Outcome:
    """One attempt: POST the signed payload (no redirects followed)."""
    import requests

    try:
        check_address(hook.uri, settings.webhook_allow_private)
    except UnsafeAddress as exc:
        return Outcome(error=f"refused: {exc}")
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = signed_headers(hook.secret, f"msg_{delivery.id}", int(utcnow().timestamp()), body)
    try:
        response = requests.post(
            hook.uri,
            data=body,
            headers=headers,
            timeout=settings.webhook_timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(status=response.status_code, retry_after=_retry_after(response.headers))


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def claimed(session: Session, delivery_id: int) -> tuple[Delivery, Webhook] | None:
    """The delivery and its webhook, if it is claimed for sending. (No lock is held
    while sending: a slow receiver must not hold a transaction open.)"""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.state != DELIVERING or delivery.webhook_id is None:
        return None
    hook = session.get(Webhook, delivery.webhook_id)
    return None if hook is None else (delivery, hook)


def do_record_attempt(
    session: Session,
    settings: Settings,
    delivery_id: int,
    claimed_at: datetime | None,
    outcome: Outcome,
) -> str | None:
    """The attempt's result on its row: delivered, pending again (after a backoff with
    jitter, at least ``Retry-After``), or dead. Ignored if the claim was taken over
    meanwhile (this sender was too slow). Returns the new state."""
    query = select(Delivery).where(Delivery.id == delivery_id)
    if is_postgres(session):
        query = query.with_for_update()
    delivery = session.exec(query.execution_options(populate_existing=True)).first()
    if delivery is None or delivery.state != DELIVERING or delivery.claimed_at != claimed_at:
        return None
    now = utcnow()
    delivery.attempts += 1
    delivery.last_status, delivery.last_error = outcome.status, outcome.error
    delivery.claimed_at = None
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
    session.add(delivery)
    return delivery.state


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
