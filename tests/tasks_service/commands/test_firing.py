"""Firing timers in-process, with the clock controlled: what each kind does, once; a
chunk fired in one transaction (a failing timer rolled back alone, a stored message not
sent twice), and the messages it emits claimed for its worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlmodel import select

from tasks_service.commands import assignments, firing
from tasks_service.core.statuses import DeliveryState, TimerKind
from tasks_service.identity import audience, directory
from tasks_service.notify.delivery import do_claim_due
from tasks_service.notify.outbox import Outbox
from tasks_service.schedule import timers
from tasks_service.store.db import session_scope
from tasks_service.store.models import (
    Delivery,
    Notification,
    Task,
    TaskAssignment,
    TaskEvent,
    Timer,
    Webhook,
)
from tasks_service.store.schemas.directory import PersonCreate
from tests.helpers import World

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_a_late_timer_fires_flagged_late(world: World) -> None:
    task = world.task(T0, alert_at=T0.isoformat())
    world.fire_due(T0 + timedelta(days=2))  # everything was down for two days
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
    assert world.timers(task.id) == {"start": (start, "pending")}
    world.fire_due(start)
    started = world.get(task.id)
    assert (started.status, started.assigned_at) == ("assigned", start)
    assert started.completion_target_at == start + timedelta(hours=1)
    assert world.timers(task.id)["target"] == (start + timedelta(hours=1), "pending")


def test_waking_up_and_a_wake_up_that_came_too_late(world: World) -> None:
    team = world.team("Ops")
    task = world.task(T0, team_id=team)
    until = T0 + timedelta(hours=1)
    world.update(task.id, T0, status="waiting_for", waiting_until=until.isoformat())
    world.fire_due(until)
    woken = world.get(task.id)
    assert (woken.status, woken.waiting_until) == ("assigned", None)
    # one that left waiting_for before its moment does nothing
    other = world.task(T0, team_id=team)
    world.update(other.id, T0, status="waiting_for", waiting_until=until.isoformat())
    world.update(other.id, T0 + timedelta(minutes=5), status="in_progress")
    assert world.timers(other.id)["wake"][1] == "canceled"
    world.fire_due(until)
    assert world.get(other.id).status == "in_progress"
    assert world.timer_actions(task.id) == ["wake"]


def test_passing_due_at_or_the_target_makes_a_task_overdue(world: World) -> None:
    team = world.team("Ops")
    task = world.task(
        T0, team_id=team, planned_duration=60, due_at=(T0 + timedelta(hours=3)).isoformat()
    )
    world.fire_due(T0 + timedelta(hours=1))
    assert world.get(task.id).overdue  # past its target
    assert world.timer_actions(task.id) == ["overdue"]
    world.fire_due(T0 + timedelta(hours=3))  # past due too: overdue once
    assert world.timer_actions(task.id) == ["overdue"]
    # a later target and due date: no longer overdue
    moved = world.update(
        task.id,
        T0 + timedelta(hours=4),
        planned_duration=600,
        due_at=(T0 + timedelta(days=1)).isoformat(),
    )
    assert not moved.overdue
    done = world.update(task.id, T0 + timedelta(hours=5), status="completed")
    assert {kind: state for kind, (_m, state) in world.timers(done.id).items()} == {
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
                firing.do_fire_timer(session, world.firing(), timer_id)
    assert world.get(task.id).alert_sent_at is None
    assert world.timer_actions(task.id) == []


def test_a_timer_that_fails_is_rolled_back_alone_and_stays_claimed(
    world: World, monkeypatch
) -> None:
    """A chunk fires in one transaction, each timer in a savepoint: a firing that raises
    half-way (a bug, bad data) undoes only its own changes, the rest of the chunk fires."""
    first = world.task(T0, alert_at=T0.isoformat())
    broken = world.task(T0, alert_at=T0.isoformat())
    last = world.task(T0, alert_at=T0.isoformat())
    alert = firing.ACTIONS[TimerKind.alert]

    def fails_for_one(session, chunk, task, timer):
        done = alert(session, chunk, task, timer)  # changes the task, then breaks
        if task.id == broken.id:
            raise RuntimeError("injected")
        return done

    monkeypatch.setitem(firing.ACTIONS, TimerKind.alert, fails_for_one)
    fired = world.fire_due(T0)
    assert [t for t in fired.failed if world.timer_of(t).task_id == broken.id] == fired.failed != []
    assert world.get(first.id).alert_sent_at == T0
    assert world.get(last.id).alert_sent_at == T0
    assert world.get(broken.id).alert_sent_at is None  # its changes were rolled back
    assert world.timer_actions(broken.id) == []
    assert world.timers(broken.id)["alert"][1] == "claimed"  # taken again once stale
    monkeypatch.setitem(firing.ACTIONS, TimerKind.alert, alert)
    world.fire_due(T0 + timers.CLAIM_TIMEOUT + timedelta(seconds=1))
    assert world.get(broken.id).alert_sent_at is not None
    assert world.timer_actions(broken.id) == ["alert"]


def test_what_a_chunk_emits_is_claimed_for_its_worker_unless_the_webhook_fails(
    world: World,
) -> None:
    hook_id = world.webhook(["task.alert"])
    task = world.task(T0, alert_at=T0.isoformat())
    fired = world.fire_due(T0)
    mine = [(d, h) for d, h in fired.to_send if d.task_id == task.id]
    assert len(mine) == 1
    delivery, hook = mine[0]
    assert hook is not None
    assert (hook.id, delivery.event, delivery.claimed_at) == (hook_id, "task.alert", T0)
    with session_scope(world.settings, write=False) as session:
        stored = session.get(Delivery, delivery.id)
        assert (stored.state, stored.claimed_at) == (DeliveryState.delivering, T0)
        # another sender's claim does not take it (it is not stale)
        assert delivery.id not in do_claim_due(session, T0, 10_000)
    # a webhook that is failing is left to the sweep: a dead receiver must not slow
    # down the firing of timers
    with session_scope(world.settings) as session:
        session.get(Webhook, hook_id).failing_since = T0
    other = world.task(T0, alert_at=(T0 + timedelta(minutes=1)).isoformat())
    fired = world.fire_due(T0 + timedelta(minutes=1))
    assert [d for d, _h in fired.to_send if d.task_id == other.id] == []
    with session_scope(world.settings, write=False) as session:
        [state] = session.exec(select(Delivery.state).where(Delivery.task_id == other.id)).all()
        assert state == DeliveryState.pending


def test_a_firing_that_emits_a_stored_message_again_sends_nothing_new(world: World) -> None:
    """A due date moved away after it passed and then back: the task is overdue again,
    but the message has the key of the first (same event, task, moment): the chunk's
    flush meets the unique key, the chunk is fired again one timer at a time, and no
    second delivery is added, while the other timer of the chunk still sends."""
    world.webhook(["task.overdue"])
    task = world.task(T0 - timedelta(hours=1), due_at=T0.isoformat())
    other = world.task(T0, due_at=(T0 + timedelta(minutes=1)).isoformat())
    world.fire_due(T0)
    assert world.get(task.id).overdue
    later = (T0 + timedelta(days=1)).isoformat()
    assert not world.update(task.id, T0 + timedelta(seconds=20), due_at=later).overdue
    world.update(task.id, T0 + timedelta(seconds=30), due_at=T0.isoformat())
    fired = world.fire_due(T0 + timedelta(minutes=1))  # the due date again, and another's
    assert fired.failed == []
    assert world.timer_actions(task.id) == ["overdue", "overdue"]
    assert world.timer_actions(other.id) == ["overdue"]
    with session_scope(world.settings, write=False) as session:
        keys = session.exec(select(Delivery.key).where(Delivery.task_id == task.id)).all()
        others = session.exec(select(Delivery.id).where(Delivery.task_id == other.id)).all()
    assert len(keys) == len(set(keys)) == 1
    assert len(others) == 1
    assert [d.task_id for d, _hook in fired.to_send] == [other.id]


def test_on_a_running_clock_a_chunk_claims_what_it_emits(world: World) -> None:
    """As in a worker, the clock runs while a chunk fires: the messages it emits (due
    the moment they are made) are still claimed for its worker to send."""
    world.webhook(["task.alert"])
    now = datetime.now(UTC)
    task = world.task(now - timedelta(minutes=1), alert_at=(now - timedelta(seconds=1)).isoformat())
    with session_scope(world.settings) as session:
        ids = timers.do_claim_due(session, datetime.now(UTC))
    with session_scope(world.settings) as session:
        fired = firing.do_fire_timers(session, world.settings, ids)
    assert [d.task_id for d, _hook in fired.to_send if d.task_id == task.id] == [task.id]


def test_the_due_notice_reaches_each_assignee(world: World) -> None:
    """Assignments time with their task: past its due date, each person whose
    assignment waits hears of it (feed) and the assignment shows when; one who has
    decided already does not; an escalation level naming ``member`` reaches them too."""
    with session_scope(world.settings) as session:
        people = [
            directory.do_create_person(
                session,
                world.account.account_id,
                PersonCreate(name=name, primary_email=f"{name}@{world.account.slug}.example"),
            ).id
            for name in ("ann", "bob", "cid")
        ]
    due = T0 + timedelta(hours=3)
    task = world.task(T0, assignee_ids=people, due_at=due.isoformat())
    assert task.status == "assigned"
    with session_scope(world.settings) as session:
        rows = session.exec(select(TaskAssignment).where(TaskAssignment.task_id == task.id))
        cids = next(row for row in rows if row.person_id == people[2])
        assignments.do_update_assignment(
            session,
            Outbox(world.settings),
            world.account.account_id,
            people[2],
            task.id,
            cids.id,
            {"status": "completed"},
        )
        assert audience.recipients(session, session.get(Task, task.id), ["member"]) == people[:2]
    world.fire_due(due)
    assert world.get(task.id).overdue
    with session_scope(world.settings, write=False) as session:
        told = session.exec(
            select(Notification.person_id).where(
                Notification.task_id == task.id, Notification.event == "task.overdue"
            )
        ).all()
        assert sorted(told) == people[:2]
        reminded = {
            row.person_id: row.reminded_at
            for row in session.exec(select(TaskAssignment).where(TaskAssignment.task_id == task.id))
        }
        assert reminded == {people[0]: due, people[1]: due, people[2]: None}
