"""Timers in-process, with the clock controlled: armed, moved, re-armed and canceled in
the task's transaction, claimed once (a stale claim taken again), re-planned by a
recompute. (What each kind does when it fires: ``commands/test_firing.py``.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from tasks_service.commands import firing, recompute
from tasks_service.schedule import calendar_store, timers
from tasks_service.store.db import session_scope
from tasks_service.store.models import Timer
from tasks_service.store.schemas.calendars import CalendarUpdate
from tests.helpers import MONDAY_10, World, office, utc

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_alert_timer_moves_rearms_and_cancels(world: World) -> None:
    task = world.task(T0, alert_at=(T0 + timedelta(hours=1)).isoformat())
    assert world.timers(task.id) == {"alert": (T0 + timedelta(hours=1), "pending")}
    world.update(task.id, T0, alert_at=(T0 + timedelta(minutes=30)).isoformat())
    assert world.timers(task.id)["alert"] == (T0 + timedelta(minutes=30), "pending")
    world.fire_due(T0 + timedelta(minutes=29))
    assert world.get(task.id).alert_sent_at is None  # not before its moment
    world.fire_due(T0 + timedelta(minutes=30))
    sent = world.get(task.id)
    assert sent.alert_sent_at == T0 + timedelta(minutes=30)
    assert world.timers(task.id)["alert"][1] == "fired"
    world.fire_due(T0 + timedelta(minutes=31))  # fired once
    assert world.timer_actions(task.id) == ["alert"]
    # a new alert_at after it fired arms it again; clearing it cancels
    world.update(task.id, T0, alert_at=(T0 + timedelta(hours=2)).isoformat())
    assert world.timers(task.id)["alert"] == (T0 + timedelta(hours=2), "pending")
    world.update(task.id, T0, alert_at=None)
    assert world.timers(task.id)["alert"][1] == "canceled"
    world.fire_due(T0 + timedelta(hours=3))
    assert world.timer_actions(task.id) == ["alert"]


def test_a_claim_takes_a_timer_once_and_a_stale_claim_is_taken_again(world: World) -> None:
    task = world.task(T0, alert_at=T0.isoformat())
    with session_scope(world.settings) as session:
        first = [
            i for i in timers.do_claim_due(session, T0) if world.timer_of(i).task_id == task.id
        ]
    with session_scope(world.settings) as session:
        again = [
            i for i in timers.do_claim_due(session, T0) if world.timer_of(i).task_id == task.id
        ]
    assert len(first) == 1
    assert again == []
    later = T0 + timers.CLAIM_TIMEOUT + timedelta(seconds=1)
    with session_scope(world.settings) as session:  # the worker never came: claim again
        assert first[0] in timers.do_claim_due(session, later)
    with time_machine.travel(later, tick=False):
        with session_scope(world.settings) as session:
            assert firing.do_fire_timer(session, world.firing(), first[0]) == "alert"
        with session_scope(world.settings) as session:  # a duplicate message
            assert firing.do_fire_timer(session, world.firing(), first[0]) is None
    with session_scope(world.settings, write=False) as session:
        assert session.get(Timer, first[0]).attempts == 2


def test_a_recompute_moves_the_target_timer(world: World) -> None:
    calendar_id = world.calendar("9-17", office())
    task = world.task(MONDAY_10, team_id=world.team("Ops", calendar_id), planned_duration=60)
    assert world.timers(task.id)["target"] == (utc(2026, 11, 23, 10), "pending")
    with session_scope(world.settings) as session:
        _row, op = calendar_store.do_update_calendar(
            session,
            world.account.account_id,
            calendar_id,
            CalendarUpdate(hours=office("13:00", "17:00")["hours"]),
        )
        op_id = op.id
    recompute.run_inline(world.settings, op_id)
    assert world.timers(task.id)["target"] == (utc(2026, 11, 23, 13), "pending")
