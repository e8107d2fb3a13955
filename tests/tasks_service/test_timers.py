"""Timers in-process, with the clock controlled: arming in the task's transaction,
claiming once, firing once, and what each kind does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlmodel import select

from tasks_service import commands, timers
from tasks_service.db import session_scope
from tasks_service.models import Delivery, TaskEvent, Timer
from tests.conftest import AccountInfo
from tests.tasks_service.test_targets import World

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


@pytest.fixture
def world(settings, account: AccountInfo) -> World:
    return World(settings, account)


def _timers(world: World, task_id: int) -> dict[str, tuple[datetime, str]]:
    with session_scope(world.settings, write=False) as session:
        rows = session.exec(select(Timer).where(Timer.task_id == task_id)).all()
        return {row.kind: (row.fire_at, row.state) for row in rows}


def _sweep(world: World, now: datetime) -> commands.Fired:
    """One sweep and its firing, in-process, at ``now``, as a worker does it: claim the
    due timers, fire them in one transaction."""
    with session_scope(world.settings) as session:
        ids = timers.do_claim_due(session, now)
    with time_machine.travel(now, tick=False), session_scope(world.settings) as session:
        return commands.do_fire_timers(session, ids)


def _mine(world: World, task_id: int) -> list[str]:
    """The timer actions this task's events show (other tests' timers fire too)."""
    with session_scope(world.settings, write=False) as session:
        events = session.exec(
            select(TaskEvent.action).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
        ).all()
    return [a for a in events if a in ("alert", "start", "wake", "overdue")]


def test_alert_timer_moves_rearms_and_cancels(world: World) -> None:
    task = world.task(T0, alert_at=(T0 + timedelta(hours=1)).isoformat())
    assert _timers(world, task.id) == {"alert": (T0 + timedelta(hours=1), "pending")}
    world.update(task.id, T0, alert_at=(T0 + timedelta(minutes=30)).isoformat())
    assert _timers(world, task.id)["alert"] == (T0 + timedelta(minutes=30), "pending")
    _sweep(world, T0 + timedelta(minutes=29))
    assert world.get(task.id).alert_sent_at is None  # not before its moment
    _sweep(world, T0 + timedelta(minutes=30))
    sent = world.get(task.id)
    assert sent.alert_sent_at == T0 + timedelta(minutes=30)
    assert _timers(world, task.id)["alert"][1] == "fired"
    _sweep(world, T0 + timedelta(minutes=31))  # fired once
    assert _mine(world, task.id) == ["alert"]
    # a new alert_at after it fired arms it again; clearing it cancels
    world.update(task.id, T0, alert_at=(T0 + timedelta(hours=2)).isoformat())
    assert _timers(world, task.id)["alert"] == (T0 + timedelta(hours=2), "pending")
    world.update(task.id, T0, alert_at=None)
    assert _timers(world, task.id)["alert"][1] == "canceled"
    _sweep(world, T0 + timedelta(hours=3))
    assert _mine(world, task.id) == ["alert"]


def test_a_claim_takes_a_timer_once_and_a_stale_claim_is_taken_again(world: World) -> None:
    task = world.task(T0, alert_at=T0.isoformat())
    with session_scope(world.settings) as session:
        first = [i for i in timers.do_claim_due(session, T0) if _is(world, i, task.id)]
    with session_scope(world.settings) as session:
        again = [i for i in timers.do_claim_due(session, T0) if _is(world, i, task.id)]
    assert len(first) == 1
    assert again == []
    later = T0 + timers.CLAIM_TIMEOUT + timedelta(seconds=1)
    with session_scope(world.settings) as session:  # the worker never came: claim again
        assert first[0] in timers.do_claim_due(session, later)
    with time_machine.travel(later, tick=False):
        with session_scope(world.settings) as session:
            assert commands.do_fire_timer(session, first[0]) == "alert"
        with session_scope(world.settings) as session:  # a duplicate message
            assert commands.do_fire_timer(session, first[0]) is None
    with session_scope(world.settings, write=False) as session:
        assert session.get(Timer, first[0]).attempts == 2


def _is(world: World, timer_id: int, task_id: int) -> bool:
    with session_scope(world.settings, write=False) as session:
        return session.get(Timer, timer_id).task_id == task_id


def test_a_late_timer_fires_flagged_late(world: World) -> None:
    task = world.task(T0, alert_at=T0.isoformat())
    _sweep(world, T0 + timedelta(days=2))  # everything was down for two days
    with session_scope(world.settings, write=False) as session:
        event = session.exec(
            select(TaskEvent).where(TaskEvent.task_id == task.id, TaskEvent.action == "alert")
        ).one()
        assert event.changes["late"] == [None, True]
        timer = session.exec(select(Timer).where(Timer.task_id == task.id)).one()
        assert timer.late


def test_start_at_keeps_the_task_registered_until_then(world: World) -> None:
    team = world.team("Ops")
    start = T0 + timedelta(hours=2)
    task = world.task(T0, team_id=team, start_at=start.isoformat(), planned_duration=60)
    assert (task.status, task.completion_target_at) == ("registered", None)
    assert _timers(world, task.id) == {"start": (start, "pending")}
    _sweep(world, start)
    started = world.get(task.id)
    assert (started.status, started.assigned_at) == ("assigned", start)
    assert started.completion_target_at == start + timedelta(hours=1)
    assert _timers(world, task.id)["target"] == (start + timedelta(hours=1), "pending")


def test_waking_up_and_a_wake_up_that_came_too_late(world: World) -> None:
    team = world.team("Ops")
    task = world.task(T0, team_id=team)
    until = T0 + timedelta(hours=1)
    world.update(task.id, T0, status="waiting_for", waiting_until=until.isoformat())
    _sweep(world, until)
    woken = world.get(task.id)
    assert (woken.status, woken.waiting_until) == ("assigned", None)
    # one that left waiting_for before its moment does nothing
    other = world.task(T0, team_id=team)
    world.update(other.id, T0, status="waiting_for", waiting_until=until.isoformat())
    world.update(other.id, T0 + timedelta(minutes=5), status="in_progress")
    assert _timers(world, other.id)["wake"][1] == "canceled"
    _sweep(world, until)
    assert world.get(other.id).status == "in_progress"
    assert _mine(world, task.id) == ["wake"]


def test_passing_due_at_or_the_target_makes_a_task_overdue(world: World) -> None:
    team = world.team("Ops")
    task = world.task(
        T0, team_id=team, planned_duration=60, due_at=(T0 + timedelta(hours=3)).isoformat()
    )
    _sweep(world, T0 + timedelta(hours=1))
    assert world.get(task.id).overdue  # past its target
    assert _mine(world, task.id) == ["overdue"]
    _sweep(world, T0 + timedelta(hours=3))  # past due too: overdue once
    assert _mine(world, task.id) == ["overdue"]
    # a later target and due date: no longer overdue
    moved = world.update(
        task.id,
        T0 + timedelta(hours=4),
        planned_duration=600,
        due_at=(T0 + timedelta(days=1)).isoformat(),
    )
    assert not moved.overdue
    done = world.update(task.id, T0 + timedelta(hours=5), status="completed")
    assert {kind: state for kind, (_m, state) in _timers(world, done.id).items()} == {
        "target": "canceled",
        "due": "canceled",
    }


def test_finished_tasks_do_not_alert(world: World) -> None:
    task = world.task(T0, alert_at=(T0 + timedelta(hours=1)).isoformat())
    with session_scope(world.settings) as session:  # claimed before it was finished
        ids = timers.do_claim_due(session, T0 + timedelta(hours=1))
    world.update(task.id, T0 + timedelta(minutes=59), status="canceled")
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        for timer_id in ids:
            with session_scope(world.settings) as session:
                commands.do_fire_timer(session, timer_id)
    assert world.get(task.id).alert_sent_at is None
    assert _mine(world, task.id) == []


def test_a_recompute_moves_the_target_timer(world: World) -> None:
    from tasks_service import calendar_store, recompute
    from tasks_service.schemas import CalendarUpdate
    from tests.tasks_service.test_targets import MONDAY_10, office, utc

    calendar_id = world.calendar("9-17", office())
    task = world.task(MONDAY_10, team_id=world.team("Ops", calendar_id), planned_duration=60)
    assert _timers(world, task.id)["target"] == (utc(2026, 11, 23, 10), "pending")
    with session_scope(world.settings) as session:
        calendar_store.do_update_calendar(
            session,
            world.account.account_id,
            calendar_id,
            CalendarUpdate(hours=office("13:00", "17:00")["hours"]),
        )
        op = recompute.do_request_recompute(
            session, world.account.account_id, None, {"calendar_id": calendar_id}
        )
        op_id = op.id
    recompute.run_inline(world.settings, op_id)
    assert _timers(world, task.id)["target"] == (utc(2026, 11, 23, 13), "pending")


def test_a_delivery_message_whose_claim_was_taken_again_sends_nothing(world: World) -> None:
    """A message that waited in a long queue past the claim timeout: the sweep claimed
    the delivery again, and only the newer claim's message may send it (no duplicate)."""
    from tasks_service import notifications
    from tasks_service.models import Webhook

    with session_scope(world.settings) as session:
        hook = Webhook(
            account_id=world.account.account_id,
            uri="http://127.0.0.1:9/hooks",
            events=["task.created"],
            secret=notifications.new_secret(),
        )
        session.add(hook)
    task = world.task(T0)
    with session_scope(world.settings, write=False) as session:
        [delivery_id] = session.exec(select(Delivery.id).where(Delivery.task_id == task.id)).all()
    claims = []
    for at in (T0 + timedelta(seconds=1), T0 + timedelta(minutes=5)):  # the first goes stale
        with session_scope(world.settings) as session:
            claimed = notifications.do_claim_due(session, at, 10_000)
            assert delivery_id in claimed
            claims.append(at)
    with session_scope(world.settings, write=False) as session:
        assert notifications.claimed(session, [delivery_id], claims[0]) == []  # stale claim
        [(found, hook)] = notifications.claimed(session, [delivery_id], claims[1])
        assert found.id == delivery_id
        assert hook is not None
        assert hook.id == found.webhook_id


def _hook(world: World, events: list[str]) -> int:
    from tasks_service import notifications
    from tasks_service.models import Webhook

    with session_scope(world.settings) as session:
        hook = Webhook(
            account_id=world.account.account_id,
            uri="http://127.0.0.1:9/hooks",
            events=events,
            secret=notifications.new_secret(),
        )
        session.add(hook)
        session.flush()
        assert hook.id is not None
        return hook.id


def test_a_timer_that_fails_is_rolled_back_alone_and_stays_claimed(
    world: World, monkeypatch
) -> None:
    """A chunk fires in one transaction, each timer in a savepoint: a firing that raises
    half-way (a bug, bad data) undoes only its own changes, the rest of the chunk fires."""
    first = world.task(T0, alert_at=T0.isoformat())
    broken = world.task(T0, alert_at=T0.isoformat())
    last = world.task(T0, alert_at=T0.isoformat())
    alert = commands._TIMER_ACTIONS["alert"]

    def fails_for_one(session, task, timer, now):
        done = alert(session, task, timer, now)  # changes the task, then breaks
        if task.id == broken.id:
            raise RuntimeError("injected")
        return done

    monkeypatch.setitem(commands._TIMER_ACTIONS, "alert", fails_for_one)
    fired = _sweep(world, T0)
    assert [t for t in fired.failed if _is(world, t, broken.id)] == fired.failed != []
    assert world.get(first.id).alert_sent_at == T0
    assert world.get(last.id).alert_sent_at == T0
    assert world.get(broken.id).alert_sent_at is None  # its changes were rolled back
    assert _mine(world, broken.id) == []
    assert _timers(world, broken.id)["alert"][1] == "claimed"  # taken again once stale
    monkeypatch.setitem(commands._TIMER_ACTIONS, "alert", alert)
    _sweep(world, T0 + timers.CLAIM_TIMEOUT + timedelta(seconds=1))
    assert world.get(broken.id).alert_sent_at is not None
    assert _mine(world, broken.id) == ["alert"]


def test_what_a_chunk_emits_is_claimed_for_its_worker_unless_the_webhook_fails(
    world: World,
) -> None:
    from tasks_service import notifications
    from tasks_service.models import Webhook

    hook_id = _hook(world, ["task.alert"])
    task = world.task(T0, alert_at=T0.isoformat())
    fired = _sweep(world, T0)
    mine = [(d, h) for d, h in fired.to_send if d.task_id == task.id]
    assert len(mine) == 1
    delivery, hook = mine[0]
    assert hook is not None
    assert (hook.id, delivery.event, delivery.claimed_at) == (hook_id, "task.alert", T0)
    with session_scope(world.settings, write=False) as session:
        stored = session.get(Delivery, delivery.id)
        assert (stored.state, stored.claimed_at) == (notifications.DELIVERING, T0)
        # another sender's claim does not take it (it is not stale)
        assert delivery.id not in notifications.do_claim_due(session, T0, 10_000)
    # a webhook that is failing is left to the sweep: a dead receiver must not slow
    # down the firing of timers
    with session_scope(world.settings) as session:
        session.get(Webhook, hook_id).failing_since = T0
    other = world.task(T0, alert_at=(T0 + timedelta(minutes=1)).isoformat())
    fired = _sweep(world, T0 + timedelta(minutes=1))
    assert [d for d, _h in fired.to_send if d.task_id == other.id] == []
    with session_scope(world.settings, write=False) as session:
        [state] = session.exec(select(Delivery.state).where(Delivery.task_id == other.id)).all()
        assert state == notifications.PENDING


def test_an_attempt_that_could_outlast_its_claim_gives_the_claim_back(world: World) -> None:
    """A sender whose chunk took so long that an attempt might end after its claim goes
    stale does not make it: the claim is given back (pending, due now), and no other
    sender can find it half sent."""
    from tasks_service import notifications

    _hook(world, ["task.alert"])
    task = world.task(T0, alert_at=T0.isoformat())
    fired = _sweep(world, T0)
    mine = [pair for pair in fired.to_send if pair[0].task_id == task.id]
    # claimed at T0, and now is much later than the claim timeout allows
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        attempts = notifications.send_all(world.settings, mine, timedelta(seconds=60))
        assert [outcome for _id, _claim, outcome in attempts] == [None]
        with session_scope(world.settings) as session:
            states = notifications.do_record_attempts(session, world.settings, attempts)
    assert states == [notifications.PENDING]
    with session_scope(world.settings, write=False) as session:
        stored = session.get(Delivery, mine[0][0].id)
        assert (stored.state, stored.claimed_at, stored.attempts) == ("pending", None, 0)


def test_a_firing_that_emits_a_stored_message_again_sends_nothing_new(world: World) -> None:
    """A due date moved away after it passed and then back: the task is overdue again,
    but the message has the key of the first (same event, task, moment): the chunk's
    flush meets the unique key, the chunk is fired again one timer at a time, and no
    second delivery is added, while the other timer of the chunk still sends."""
    _hook(world, ["task.overdue"])
    task = world.task(T0 - timedelta(hours=1), due_at=T0.isoformat())
    other = world.task(T0, due_at=(T0 + timedelta(minutes=1)).isoformat())
    _sweep(world, T0)
    assert world.get(task.id).overdue
    later = (T0 + timedelta(days=1)).isoformat()
    assert not world.update(task.id, T0 + timedelta(seconds=20), due_at=later).overdue
    world.update(task.id, T0 + timedelta(seconds=30), due_at=T0.isoformat())
    fired = _sweep(world, T0 + timedelta(minutes=1))  # the due date again, and another's
    assert fired.failed == []
    assert _mine(world, task.id) == ["overdue", "overdue"]
    assert _mine(world, other.id) == ["overdue"]
    with session_scope(world.settings, write=False) as session:
        keys = session.exec(select(Delivery.key).where(Delivery.task_id == task.id)).all()
        others = session.exec(select(Delivery.id).where(Delivery.task_id == other.id)).all()
    assert len(keys) == len(set(keys)) == 1
    assert len(others) == 1
    assert [d.task_id for d, _hook in fired.to_send] == [other.id]


def test_on_a_running_clock_a_chunk_claims_what_it_emits(world: World) -> None:
    """As in a worker, the clock runs while a chunk fires: the messages it emits (due
    the moment they are made) are still claimed for its worker to send."""
    _hook(world, ["task.alert"])
    now = datetime.now(UTC)
    task = world.task(now - timedelta(minutes=1), alert_at=(now - timedelta(seconds=1)).isoformat())
    with session_scope(world.settings) as session:
        ids = timers.do_claim_due(session, datetime.now(UTC))
    with session_scope(world.settings) as session:
        fired = commands.do_fire_timers(session, ids)
    assert [d.task_id for d, _hook in fired.to_send if d.task_id == task.id] == [task.id]
