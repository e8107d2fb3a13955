"""Deliveries in-process: a claim belongs to its sender until taken again, an attempt
that could outlast its claim gives it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlmodel import select

from tasks_service.core.settings import Settings
from tasks_service.core.statuses import DeliveryChannel, DeliveryState
from tasks_service.notify.delivery import (
    Sender,
    claimed,
    do_claim_due,
    do_record_attempts,
    retry_delay,
)
from tasks_service.notify.transport.outcome import Outcome
from tasks_service.notify.transport.signing import new_secret
from tasks_service.store.db import session_scope
from tasks_service.store.models import Delivery, Webhook
from tests.helpers import World

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_a_delivery_message_whose_claim_was_taken_again_sends_nothing(world: World) -> None:
    """A message that waited in a long queue past the claim timeout: the sweep claimed
    the delivery again, and only the newer claim's message may send it (no duplicate)."""
    with session_scope(world.settings) as session:
        hook = Webhook(
            account_id=world.account.account_id,
            uri="http://127.0.0.1:9/hooks",
            events=["task.created"],
            secret=new_secret(),
        )
        session.add(hook)
    task = world.task(T0)
    with session_scope(world.settings, write=False) as session:
        [delivery_id] = session.exec(select(Delivery.id).where(Delivery.task_id == task.id)).all()
    claims = []
    for at in (T0 + timedelta(seconds=1), T0 + timedelta(minutes=5)):  # the first goes stale
        with session_scope(world.settings) as session:
            ids = do_claim_due(session, at, 10_000)
            assert delivery_id in ids
            claims.append(at)
    with session_scope(world.settings, write=False) as session:
        assert claimed(session, [delivery_id], claims[0]) == []  # stale claim
        [(found, hook)] = claimed(session, [delivery_id], claims[1])
        assert found.id == delivery_id
        assert hook is not None
        assert hook.id == found.webhook_id


def test_an_attempt_that_could_outlast_its_claim_gives_the_claim_back(world: World) -> None:
    """A sender whose chunk took so long that an attempt might end after its claim goes
    stale does not make it: the claim is given back (pending, due now), and no other
    sender can find it half sent."""
    world.webhook(["task.alert"])
    task = world.task(T0, alert_at=T0.isoformat())
    fired = world.fire_due(T0)
    mine = [pair for pair in fired.to_send if pair[0].task_id == task.id]
    # claimed at T0, and now is much later than the claim timeout allows
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        with Sender(world.settings) as sender:
            attempts = sender.send_all(mine, timedelta(seconds=60))
        assert [outcome for _id, _claim, outcome in attempts] == [None]
        with session_scope(world.settings) as session:
            states = do_record_attempts(session, world.settings, attempts)
    assert states == [DeliveryState.pending]
    with session_scope(world.settings, write=False) as session:
        stored = session.get(Delivery, mine[0][0].id)
        assert (stored.state, stored.claimed_at, stored.attempts) == ("pending", None, 0)


def test_backoff_doubles_from_the_base_is_jittered_and_capped() -> None:
    settings = Settings(webhook_retry_base=2.0, webhook_retry_max=60.0)
    for attempts, full in [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (12, 60.0)]:
        delays = [retry_delay(settings, attempts, None) for _ in range(200)]
        assert all(full / 2 <= delay <= full for delay in delays), (attempts, min(delays))
        assert max(delays) - min(delays) > full / 10  # jittered: senders spread out


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    settings = Settings(webhook_retry_base=2.0, webhook_retry_max=60.0)
    assert all(retry_delay(settings, 1, 30.0) == 30.0 for _ in range(50))
    assert retry_delay(settings, 1, 86_400.0) == 60.0
    assert 1.0 <= retry_delay(settings, 1, 0.0) <= 2.0  # "now" is no reason to hurry


@pytest.mark.parametrize(
    ("outcome", "delivered", "retryable"),
    [
        (Outcome(status=200), True, False),
        (Outcome(status=204), True, False),
        (Outcome(status=429), False, True),
        (Outcome(status=500), False, True),
        (Outcome(status=503), False, True),
        (Outcome(error="ConnectTimeout: timed out"), False, True),
        (Outcome(status=400), False, False),
        (Outcome(status=410), False, False),
        (Outcome(error="refused: 10.0.0.1 is not public"), False, False),
    ],
)
def test_which_outcomes_are_tried_again(outcome: Outcome, delivered: bool, retryable: bool) -> None:
    assert (outcome.delivered, outcome.retryable) == (delivered, retryable)


def test_attempts_recorded_pending_after_a_backoff_then_dead(world: World) -> None:
    """A 5xx is tried again after the backoff; at the last attempt, or on a 4xx, the
    delivery is dead."""
    world.webhook(["task.created"])
    task = world.task(T0)
    with session_scope(world.settings, write=False) as session:
        [delivery_id] = session.exec(select(Delivery.id).where(Delivery.task_id == task.id)).all()
    base = world.settings.webhook_retry_base
    for attempt, outcome in enumerate([Outcome(status=500), Outcome(status=503)], start=1):
        now = T0 + timedelta(hours=attempt)
        with time_machine.travel(now, tick=False):
            with session_scope(world.settings) as session:
                assert delivery_id in do_claim_due(session, now, 10_000)
            with session_scope(world.settings) as session:
                [state] = do_record_attempts(session, world.settings, [(delivery_id, now, outcome)])
        assert state == DeliveryState.pending
        with session_scope(world.settings, write=False) as session:
            stored = session.get(Delivery, delivery_id)
        full = base * 2 ** (attempt - 1)
        assert stored.attempts == attempt
        assert now + timedelta(seconds=full / 2) <= stored.next_attempt_at
        assert stored.next_attempt_at <= now + timedelta(seconds=full)
    now = T0 + timedelta(hours=3)
    with time_machine.travel(now, tick=False):
        with session_scope(world.settings) as session:
            assert delivery_id in do_claim_due(session, now, 10_000)
        with session_scope(world.settings) as session:
            attempts = [(delivery_id, now, Outcome(status=410))]
            assert do_record_attempts(session, world.settings, attempts) == [DeliveryState.dead]
    with session_scope(world.settings, write=False) as session:
        stored = session.get(Delivery, delivery_id)
    assert (stored.state, stored.attempts, stored.last_status) == ("dead", 3, 410)


def test_a_delivery_that_cannot_be_made_is_refused_not_raised(world: World) -> None:
    """An email row without its recipient (written by hand, or by an older version):
    the attempt is a final refusal, so the delivery goes dead on its own; raised, it
    would end its whole chunk's attempts, and they would be claimed again forever."""
    broken = Delivery(
        account_id=world.account.account_id,
        channel=DeliveryChannel.email,
        key="broken",
        event="task.assigned",
        payload={"subject": "no recipient"},
    )
    with Sender(world.settings) as sender:
        outcome = sender.send(broken, None)
        assert outcome.refused
        assert outcome.error is not None
        assert "KeyError" in outcome.error
        webhook_gone = Delivery(
            account_id=world.account.account_id, key="gone", event="task.created"
        )
        assert sender.send(webhook_gone, None).refused
