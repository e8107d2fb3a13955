"""Completion targets on tasks, in-process with the clock controlled (time-machine):
which calendar a task uses, the stopped clock in waiting_for_customer,
``resolution_duration``. (The recompute after a calendar change:
``tests/tasks_service/commands/test_recompute.py``.)"""

from __future__ import annotations

from sqlmodel import select

from tasks_service.schedule.calendar import Calendar
from tasks_service.store.db import session_scope
from tasks_service.store.models import TaskEvent
from tests.helpers import MONDAY_10, World, office, utc


def test_no_calendar_anywhere_means_24x7(world: World) -> None:
    team = world.team("Ops")
    task = world.task(MONDAY_10, team_id=team, planned_duration=90)
    assert task.completion_target_at == utc(2026, 11, 23, 10, 30)
    assert task.calendar_id is None


def test_the_calendar_comes_from_24x7_then_team_then_workflow_then_account(world: World) -> None:
    nine_to_five = world.calendar("9-17", office())
    mornings = world.calendar("mornings", office("08:00", "12:00"))
    evenings = world.calendar("evenings", office("18:00", "22:00"))
    world.set_default(evenings)
    flow = world.workflow(mornings)
    team = world.team("Ops", nine_to_five)
    plain_team = world.team("Plain")

    # Monday 10:00 + 8 service hours: 9-17 ends Tuesday 10:00 (CET = UTC+1).
    assert world.task(MONDAY_10, flow, team_id=team, planned_duration=480).completion_target_at == (
        utc(2026, 11, 24, 9)
    )
    # no team calendar: the workflow's (08-12: 2h Monday, 4h Tuesday, 2h Wednesday)
    by_flow = world.task(MONDAY_10, flow, team_id=plain_team, planned_duration=480)
    assert (by_flow.completion_target_at, by_flow.calendar_id) == (utc(2026, 11, 25, 9), mornings)
    # neither: the account's (18-22, 4h a day: Monday and Tuesday evening)
    assert world.task(MONDAY_10, team_id=plain_team, planned_duration=480).completion_target_at == (
        utc(2026, 11, 24, 21)
    )
    # work_hours_are_24x7 beats them all
    fast = world.task(MONDAY_10, flow, team_id=team, planned_duration=480, work_hours_are_24x7=True)
    assert (fast.completion_target_at, fast.calendar_id) == (utc(2026, 11, 23, 17), None)


def test_target_follows_changes_to_its_inputs(world: World) -> None:
    nine_to_five = world.calendar("9-17", office())
    team = world.team("Ops", nine_to_five)
    other = world.team("Other")
    task = world.task(MONDAY_10, team_id=team, planned_duration=60)
    assert task.completion_target_at == utc(2026, 11, 23, 10)
    later = utc(2026, 11, 23, 12)
    assert world.update(task.id, later, planned_duration=480).completion_target_at == utc(
        2026, 11, 24, 9
    )
    # start_at later than the assignment: the clock runs from start_at
    start = utc(2026, 11, 25, 8)  # Wednesday 09:00 Amsterdam
    assert world.update(task.id, later, start_at=start.isoformat()).completion_target_at == utc(
        2026, 11, 25, 16
    )
    # 24x7 on, then another team (no calendar): both 24x7 from start_at
    assert world.update(task.id, later, work_hours_are_24x7=True).completion_target_at == utc(
        2026, 11, 25, 16
    )
    moved = world.update(task.id, later, work_hours_are_24x7=False, team_id=other)
    # reassigned at 12:00 Monday, start_at still Wednesday 08:00Z; 24x7: + 8h
    assert moved.completion_target_at == utc(2026, 11, 25, 16)
    assert moved.calendar_id is None


def test_the_clock_stops_while_waiting_for_the_customer(world: World) -> None:
    team = world.team("Ops", world.calendar("9-17", office()))
    task = world.task(MONDAY_10, team_id=team, planned_duration=240)  # target Monday 14:00
    assert task.completion_target_at == utc(2026, 11, 23, 13)
    # at 11:00 (1h used), the customer is asked: the clock stops, the target reads null
    waiting = world.update(task.id, utc(2026, 11, 23, 10), status="waiting_for_customer")
    assert waiting.completion_target_at is None
    # an unrelated change while stopped keeps it null
    assert world.update(task.id, utc(2026, 11, 23, 15), subject="x").completion_target_at is None
    # back on Tuesday 10:00: 3h left -> Tuesday 13:00 local (12:00Z); the evening and
    # night it waited through were not service time anyway, so 7h of it count
    back = world.update(task.id, utc(2026, 11, 24, 9), status="in_progress")
    assert back.completion_target_at == utc(2026, 11, 24, 12)
    assert back.clock_stopped_seconds == 7 * 3600
    # stopping again adds up
    world.update(task.id, utc(2026, 11, 24, 10), status="waiting_for_customer")
    again = world.update(task.id, utc(2026, 11, 24, 11), status="accepted")
    assert again.completion_target_at == utc(2026, 11, 24, 13)
    events = _events(world, task.id)
    assert [e.changes["status"][1] for e in events if "status" in e.changes][1:3] == [
        "waiting_for_customer",
        "in_progress",
    ]
    assert all("clock_stopped_seconds" not in e.changes for e in events)


def test_a_pause_is_credited_to_the_second(world: World) -> None:
    team = world.team("Ops", world.calendar("9-17", office()))
    task = world.task(MONDAY_10, team_id=team, planned_duration=60)  # target Monday 11:00
    assert task.completion_target_at == utc(2026, 11, 23, 10)
    # 65 seconds waiting: the target 65 seconds later (not 60)
    world.update(task.id, utc(2026, 11, 23, 9, 10), status="waiting_for_customer")
    back = world.update(task.id, utc(2026, 11, 23, 9, 11, 5), status="in_progress")
    assert back.completion_target_at == utc(2026, 11, 23, 10, 1, 5)
    assert back.clock_stopped_seconds == 65
    # 3 seconds: 3 seconds more (not 0)
    world.update(task.id, utc(2026, 11, 23, 9, 20), status="waiting_for_customer")
    again = world.update(task.id, utc(2026, 11, 23, 9, 20, 3), status="in_progress")
    assert again.completion_target_at == utc(2026, 11, 23, 10, 1, 8)
    # across closing time: 30 s on Monday and 10 s on Tuesday count, the night does not
    world.update(task.id, utc(2026, 11, 23, 15, 59, 30), status="waiting_for_customer")
    tuesday = world.update(task.id, utc(2026, 11, 24, 8, 0, 10), status="in_progress")
    assert tuesday.clock_stopped_seconds == 65 + 3 + 40
    assert tuesday.completion_target_at == utc(2026, 11, 23, 10, 1, 48)


def test_resolution_duration_counts_service_minutes(world: World) -> None:
    team = world.team("Ops", world.calendar("9-17", office()))
    task = world.task(MONDAY_10, team_id=team, planned_duration=60)
    # finished Tuesday 11:00 local: 7h Monday + 2h Tuesday
    done = world.update(task.id, utc(2026, 11, 24, 10), status="completed")
    assert done.resolution_duration == 9 * 60
    reopened = world.update(task.id, utc(2026, 11, 24, 11), status="assigned")
    assert reopened.resolution_duration is None


def test_targets_agree_with_the_calendar_api(world: World) -> None:
    spec = office(holiday_country="NL", holidays=["2026-12-28"])
    team = world.team("Ops", world.calendar("NL", spec))
    start = utc(2026, 12, 23, 15)
    task = world.task(start, team_id=team, planned_duration=600)
    assert task.completion_target_at == Calendar.from_spec(spec).add_service_minutes(start, 600)
    # 1h on Wednesday 23, 8h on Thursday 24; 25, 26 (NL) and 28 (listed) are holidays,
    # 27 a Sunday: the 10th hour ends on Tuesday 29 at 10:00 local
    assert task.completion_target_at == utc(2026, 12, 29, 9)


def _events(world: World, task_id: int) -> list[TaskEvent]:
    with session_scope(world.settings, write=False) as session:
        return list(
            session.exec(
                select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
            )
        )
