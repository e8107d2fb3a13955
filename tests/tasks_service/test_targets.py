"""Completion targets on tasks, in-process with the clock controlled (time-machine):
which calendar a task uses, the stopped clock in waiting_for_customer,
``resolution_duration``, and the recompute fan-out run batch by batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from sqlmodel import select

from tasks_service import calendar_store, commands, identity, recompute, workflows
from tasks_service.calendars import Calendar
from tasks_service.db import session_scope
from tasks_service.models import Operation, OperationBatch, Task, TaskEvent
from tasks_service.schemas import (
    AccountUpdate,
    CalendarCreate,
    CalendarUpdate,
    TaskCreate,
    TaskUpdate,
    TeamCreate,
    TeamUpdate,
    WorkflowCreate,
)
from tests.conftest import AccountInfo

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


def office(start: str = "09:00", end: str = "17:00", **extra: Any) -> dict[str, Any]:
    return {
        "time_zone": "Europe/Amsterdam",
        "hours": [{"weekday": d, "start": start, "end": end} for d in WEEKDAYS],
        **extra,
    }


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


MONDAY_10 = utc(2026, 11, 23, 9)  # 10:00 in Amsterdam


class World:
    """An account with calendars, a team, a workflow; helpers to make tasks at a time."""

    def __init__(self, settings, account: AccountInfo) -> None:
        self.settings, self.account = settings, account

    def calendar(self, name: str, spec: dict[str, Any]) -> int:
        with session_scope(self.settings) as session:
            data = CalendarCreate.model_validate({"name": name, **spec})
            return calendar_store.do_create_calendar(session, self.account.account_id, data).id

    def team(self, name: str, calendar_id: int | None = None) -> int:
        with session_scope(self.settings) as session:
            data = TeamCreate(name=name, calendar_id=calendar_id)
            return identity.do_create_team(session, self.account.account_id, data).id

    def workflow(self, calendar_id: int | None) -> int:
        with session_scope(self.settings) as session:
            data = WorkflowCreate(subject="Change", calendar_id=calendar_id)
            return workflows.do_create_workflow(session, self.account.account_id, None, data).id

    def set_default(self, calendar_id: int | None) -> None:
        with session_scope(self.settings) as session:
            identity.do_update_account(
                session, self.account.account_id, AccountUpdate(calendar_id=calendar_id)
            )

    def task(self, at: datetime, workflow_id: int | None = None, **fields: Any) -> Task:
        with time_machine.travel(at, tick=False), session_scope(self.settings) as session:
            data = TaskCreate.model_validate(
                {"subject": "Restore", "category": "implementation", **fields}
            )
            return commands.do_create_task(
                session, self.account.account_id, None, data, workflow_id=workflow_id
            )

    def update(self, task_id: int, at: datetime, **fields: Any) -> Task:
        with time_machine.travel(at, tick=False), session_scope(self.settings) as session:
            data = TaskUpdate.model_validate(fields)
            return commands.do_update_task(session, self.account.account_id, None, task_id, data)

    def get(self, task_id: int) -> Task:
        with session_scope(self.settings, write=False) as session:
            return session.get(Task, task_id)


@pytest.fixture
def world(settings, account: AccountInfo) -> World:
    return World(settings, account)


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
    assert back.clock_stopped_minutes == 7 * 60
    # stopping again adds up
    world.update(task.id, utc(2026, 11, 24, 10), status="waiting_for_customer")
    again = world.update(task.id, utc(2026, 11, 24, 11), status="accepted")
    assert again.completion_target_at == utc(2026, 11, 24, 13)
    events = _events(world, task.id)
    assert [e.changes["status"][1] for e in events if "status" in e.changes][1:3] == [
        "waiting_for_customer",
        "in_progress",
    ]
    assert all("clock_stopped_minutes" not in e.changes for e in events)


def test_resolution_duration_counts_service_minutes(world: World) -> None:
    team = world.team("Ops", world.calendar("9-17", office()))
    task = world.task(MONDAY_10, team_id=team, planned_duration=60)
    # finished Tuesday 11:00 local: 7h Monday + 2h Tuesday
    done = world.update(task.id, utc(2026, 11, 24, 10), status="completed")
    assert done.resolution_duration == 9 * 60
    reopened = world.update(task.id, utc(2026, 11, 24, 11), status="assigned")
    assert reopened.resolution_duration is None


def test_recompute_moves_the_targets_of_open_tasks_in_batches(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recompute, "BATCH_SIZE", 3)
    calendar_id = world.calendar("9-17", office())
    team = world.team("Ops", calendar_id)
    open_ids = [world.task(MONDAY_10, team_id=team, planned_duration=60).id for _ in range(7)]
    finished = world.task(MONDAY_10, team_id=team, planned_duration=60, status="completed")
    elsewhere = world.task(MONDAY_10, team_id=world.team("Plain"), planned_duration=60)  # 24x7
    settings, account_id = world.settings, world.account.account_id

    with session_scope(settings) as session:
        calendar_store.do_update_calendar(
            session,
            account_id,
            calendar_id,
            CalendarUpdate(hours=office("13:00", "17:00")["hours"]),
        )
        op_id = recompute.do_request_recompute(
            session, account_id, None, {"calendar_id": calendar_id}
        ).id
    with session_scope(settings) as session:
        assert recompute.do_plan(session, op_id) == [0, 1, 2]
    with session_scope(settings) as session:  # planning again plans nothing new
        assert recompute.do_plan(session, op_id) == [0, 1, 2]
        assert session.get(Operation, op_id).progress_total == 7
    with session_scope(settings) as session:
        assert recompute.do_run_batch(session, op_id, 1) == 3
    with session_scope(settings) as session:  # a batch runs once
        assert recompute.do_run_batch(session, op_id, 1) == 0
        op = session.get(Operation, op_id)
        assert (op.status, op.progress_done, op.progress_total) == ("pending", 3, 7)
    progress = []
    recompute.run_inline(settings, op_id, lambda done, total: progress.append((done, total)))
    assert progress == [(6, 7), (7, 7)]
    with session_scope(settings, write=False) as session:
        op = session.get(Operation, op_id)
        assert (op.status, op.result) == ("succeeded", {"recomputed": 7})
        assert (
            len(
                session.exec(
                    select(OperationBatch).where(OperationBatch.operation_id == op_id)
                ).all()
            )
            == 3
        )
    # Monday 10:00 + 1h on 13-17: Monday 14:00 local
    assert {world.get(i).completion_target_at for i in open_ids} == {utc(2026, 11, 23, 13)}
    assert world.get(finished.id).completion_target_at is None
    assert world.get(elsewhere.id).completion_target_at == utc(2026, 11, 23, 10)
    assert [e.action for e in _events(world, open_ids[0])][-1] == "calendar_changed"


def test_a_team_calendar_change_recomputes_its_tasks(world: World) -> None:
    team = world.team("Ops")
    task = world.task(MONDAY_10, team_id=team, planned_duration=60)
    assert task.completion_target_at == utc(2026, 11, 23, 10)
    calendar_id = world.calendar("afternoons", office("13:00", "17:00"))
    with session_scope(world.settings) as session:
        identity.do_update_team(
            session, world.account.account_id, team, TeamUpdate(calendar_id=calendar_id)
        )
        op_id = recompute.do_request_recompute(
            session, world.account.account_id, None, {"team_id": team}
        ).id
    recompute.run_inline(world.settings, op_id)
    moved = world.get(task.id)
    assert (moved.completion_target_at, moved.calendar_id) == (utc(2026, 11, 23, 13), calendar_id)


def test_an_empty_recompute_succeeds_at_once(world: World) -> None:
    with session_scope(world.settings) as session:
        op_id = recompute.do_request_recompute(session, world.account.account_id, None, {}).id
    with session_scope(world.settings) as session:
        assert recompute.do_plan(session, op_id) == []
        op = session.get(Operation, op_id)
        assert (op.status, op.progress_total, op.progress_done) == ("succeeded", 0, 0)


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
