"""The recompute of open tasks after a calendar (or policy) change, in-process: planned
in batches once, each batch run once, progress counted, the targets moved."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tasks_service.commands import recompute
from tasks_service.identity import directory
from tasks_service.schedule import calendar_store
from tasks_service.store import background
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation, OperationBatch, TaskEvent
from tasks_service.store.schemas.calendars import CalendarUpdate
from tasks_service.store.schemas.directory import TeamUpdate
from tests.helpers import MONDAY_10, World, office, utc


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
        _calendar, op = calendar_store.do_update_calendar(
            session,
            account_id,
            calendar_id,
            CalendarUpdate(hours=office("13:00", "17:00")["hours"]),
        )
        assert op is not None  # new rules: the change requested the recompute
        assert op.payload == {"scope": {"calendar_id": calendar_id}}
        op_id = op.id
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
        _team, op = directory.do_update_team(
            session, world.account.account_id, team, TeamUpdate(calendar_id=calendar_id)
        )
        assert op is not None
        assert op.payload == {"scope": {"team_id": team}}
        op_id = op.id
    with session_scope(world.settings) as session:  # the same calendar again: nothing moves
        _team, again = directory.do_update_team(
            session, world.account.account_id, team, TeamUpdate(calendar_id=calendar_id)
        )
        assert again is None
    recompute.run_inline(world.settings, op_id)
    moved = world.get(task.id)
    assert (moved.completion_target_at, moved.calendar_id) == (utc(2026, 11, 23, 13), calendar_id)


def test_an_empty_recompute_succeeds_at_once(world: World) -> None:
    with session_scope(world.settings) as session:
        op_id = background.request_recompute(session, world.account.account_id, None, {}).id
    with session_scope(world.settings) as session:
        assert recompute.do_plan(session, op_id) == []
        op = session.get(Operation, op_id)
        assert (op.status, op.progress_total, op.progress_done) == ("succeeded", 0, 0)


def _events(world: World, task_id: int) -> list[TaskEvent]:
    with session_scope(world.settings, write=False) as session:
        return list(
            session.exec(
                select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
            )
        )
