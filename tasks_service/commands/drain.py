"""The workers' background loops, as domain functions (the Celery tasks in
``workers/jobs.py`` call each once):

- ``due_work``: the one-second sweep's question, whether timers or deliveries are due
  (or timers come due within the next interval), so that it wakes workers only then;
- ``drain_timers`` / ``drain_deliveries``: what a woken worker does. It claims a chunk
  (``fire_due`` / ``send_due``), works on it, and goes on while chunks come back full
  and its budget lasts. Claims are made by the worker that works on them, never
  queued, so a claim goes stale only when its worker dies. A timer drain that finds
  none due waits for one due before the next sweep, and fires it on its moment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from tasks_service.commands.firing import Fired, do_fire_timers
from tasks_service.core import metrics
from tasks_service.core.clock import utcnow
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import DeliveryState
from tasks_service.notify import delivery
from tasks_service.notify.delivery import Claimed, Sender
from tasks_service.schedule import timers
from tasks_service.store.db import session_scope


@dataclass(frozen=True)
class DueWork:
    timers: bool
    deliveries: bool


def due_work(settings: Settings) -> DueWork:
    """Whether a timer claim would find anything now (or a timer comes due within the
    sweep interval), and whether a delivery claim would: two indexed probes."""
    now = utcnow()
    with session_scope(settings, write=False) as session:
        return DueWork(
            timers=timers.any_due(
                session,
                now,
                timedelta(seconds=settings.timer_claim_timeout),
                timedelta(seconds=settings.timer_sweep_interval),
            ),
            deliveries=delivery.any_due(
                session, now, timedelta(seconds=settings.delivery_claim_timeout)
            ),
        )


def fire_due(settings: Settings, limit: int | None = None) -> Fired:
    """Claim up to ``limit`` due timers (``timer_claim_batch``) and fire them in one
    transaction; what they emit that is due now is claimed in it (``Fired.to_send``),
    for the caller to send. Timers that fail stay claimed, and are claimed again once
    their claim is stale (their attempts count)."""
    stale = timedelta(seconds=settings.timer_claim_timeout)
    with session_scope(settings) as session:
        ids = timers.do_claim_due(session, utcnow(), limit or settings.timer_claim_batch, stale)
    if not ids:
        return Fired()
    with session_scope(settings) as session:
        return do_fire_timers(session, settings, ids)


def send(settings: Settings, sender: Sender, claims: list[Claimed]) -> int:
    """One attempt for each claimed delivery, then their outcomes in one transaction;
    returns how many were delivered."""
    if not claims:
        return 0
    attempts = sender.send_all(claims, timedelta(seconds=settings.delivery_claim_timeout))
    with session_scope(settings) as session:
        states = delivery.do_record_attempts(session, settings, attempts)
    metrics.count_deliveries([d.channel for d, _hook in claims], states)  # committed
    return states.count(DeliveryState.delivered)


def send_due(settings: Settings, sender: Sender, limit: int | None = None) -> tuple[int, int]:
    """Claim up to ``limit`` due deliveries and make one attempt for each (no
    transaction stays open while receivers answer); returns (claimed, delivered)."""
    claim = utcnow()
    stale = timedelta(seconds=settings.delivery_claim_timeout)
    chunk = limit or settings.timer_claim_batch
    with session_scope(settings) as session:
        ids = delivery.do_claim_due(session, claim, chunk, stale)
    with session_scope(settings, write=False) as session:
        claims = delivery.claimed(session, ids, claim)
    return len(ids), send(settings, sender, claims)


def drain_timers(settings: Settings, sender: Sender, budget: float) -> int:
    """Fire due timers chunk by chunk for up to ``budget`` seconds, sending what each
    chunk emits right after it commits; returns how many timers acted."""
    deadline = time.monotonic() + budget
    ahead = timedelta(seconds=settings.timer_sweep_interval)
    acted = 0
    while time.monotonic() < deadline:
        fired = fire_due(settings)
        send(settings, sender, fired.to_send)
        acted += fired.acted
        if fired.claimed == settings.timer_claim_batch:
            continue  # a full chunk: more may be due
        with session_scope(settings, write=False) as session:
            moment = timers.next_pending(session, utcnow() + ahead)
        wait = None if moment is None else (moment - utcnow()).total_seconds()
        if wait is None or time.monotonic() + wait >= deadline:
            break
        time.sleep(max(0.0, wait))
    return acted


def drain_deliveries(settings: Settings, sender: Sender, budget: float) -> int:
    """Send due deliveries chunk by chunk for up to ``budget`` seconds; returns how
    many were delivered."""
    deadline = time.monotonic() + budget
    delivered = 0
    while time.monotonic() < deadline:
        claimed, sent = send_due(settings, sender)
        delivered += sent
        if claimed < settings.timer_claim_batch:
            break
    return delivered
