"""Anticipated assignments (``schedule.anticipation``): the forward pass on plain values,
``anticipate`` on stored workflows (both backends), a property test against a
brute-force longest path, and the pass after a calendar recompute."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlmodel import Session, select

from tasks_service.commands import recompute
from tasks_service.core.errors import NotFound
from tasks_service.core.statuses import TaskStatus
from tasks_service.schedule import anticipation, calendar_store
from tasks_service.schedule.anticipation import TaskFacts, forward_pass, latest_completion
from tasks_service.schedule.calendar import Calendar
from tasks_service.store.db import get_engine, session_scope
from tasks_service.store.models import Task, TaskDependency, Workflow
from tasks_service.store.schemas.calendars import CalendarUpdate
from tests.helpers import MONDAY_10, World, office, utc

OFFICE = Calendar.from_spec(office())  # weekdays 09-17 in Amsterdam
FRIDAY_16 = utc(2026, 11, 27, 15)  # 16:00 in Amsterdam
H = timedelta(hours=1)


class Calendars:
    """A calendar resolver for the pure pass: 1 is the office, None 24x7; counts asks."""

    def __init__(self) -> None:
        self.asked: list[int | None] = []

    def __call__(self, calendar_id: int | None) -> Calendar:
        self.asked.append(calendar_id)
        return OFFICE if calendar_id == 1 else calendar_store.ALWAYS


def _facts(task_id: int, status: str = "registered", **fields: Any) -> TaskFacts:
    return TaskFacts(id=task_id, status=TaskStatus(status), **fields)


# --- the pass on plain values ---------------------------------------------------------


def test_a_chain_waits_for_each_predecessor_on_24x7() -> None:
    tasks = [_facts(1, planned_duration=60), _facts(2, planned_duration=30), _facts(3)]
    out = forward_pass(tasks, [(1, 2), (2, 3)], Calendars(), MONDAY_10)
    assert out == {
        1: (MONDAY_10, MONDAY_10 + H),
        2: (MONDAY_10 + H, MONDAY_10 + 1.5 * H),
        3: (MONDAY_10 + 1.5 * H, MONDAY_10 + 1.5 * H),  # no planned duration: done at once
    }


def test_a_task_waits_for_its_latest_predecessor() -> None:
    tasks = [
        _facts(1, planned_duration=60),
        _facts(2, planned_duration=240),
        _facts(3, planned_duration=10),
        _facts(4, planned_duration=0),
    ]
    # listed successor first: the order given does not matter, only the links
    out = forward_pass(list(reversed(tasks)), [(1, 4), (2, 4), (3, 4)], Calendars(), MONDAY_10)
    assert out[4] == (MONDAY_10 + 4 * H, MONDAY_10 + 4 * H)


def test_start_at_of_the_task_and_of_the_workflow_hold_it_back() -> None:
    calendars = Calendars()
    later, latest = MONDAY_10 + 2 * H, MONDAY_10 + 5 * H
    tasks = [_facts(1, planned_duration=60, start_at=later), _facts(2, planned_duration=60)]
    out = forward_pass(tasks, [], calendars, MONDAY_10)
    assert out == {1: (later, later + H), 2: (MONDAY_10, MONDAY_10 + H)}
    out = forward_pass(tasks, [], calendars, MONDAY_10, workflow_start_at=latest)
    assert out == {1: (latest, latest + H), 2: (latest, latest + H)}
    # a start_at in the past: now wins
    past = [_facts(1, planned_duration=60, start_at=MONDAY_10 - 3 * H)]
    assert forward_pass(past, [], calendars, MONDAY_10) == {1: (MONDAY_10, MONDAY_10 + H)}


def test_service_time_runs_on_the_tasks_own_calendar() -> None:
    tasks = [
        _facts(1, planned_duration=120, calendar_id=1),  # Friday 16:00 + 2h of 09-17
        _facts(2, planned_duration=120),  # 24x7
        _facts(3, planned_duration=60, calendar_id=1),
    ]
    out = forward_pass(tasks, [(1, 3)], Calendars(), FRIDAY_16)
    monday_10 = utc(2026, 11, 30, 9)
    assert out[1] == (FRIDAY_16, monday_10)
    assert out[2] == (FRIDAY_16, FRIDAY_16 + 2 * H)
    assert out[3] == (monday_10, monday_10 + H)


def test_finished_tasks_are_done_when_they_finished() -> None:
    assigned, finished = MONDAY_10 - 5 * H, MONDAY_10 - 2 * H
    tasks = [
        _facts(1, "completed", planned_duration=600, assigned_at=assigned, finished_at=finished),
        _facts(2, "canceled", planned_duration=60, finished_at=finished - H),  # never assigned
        _facts(3, planned_duration=60),
    ]
    out = forward_pass(tasks, [(1, 3), (2, 3)], Calendars(), MONDAY_10)
    assert out[1] == (assigned, finished)
    assert out[2] == (None, finished - H)
    assert out[3] == (MONDAY_10, MONDAY_10 + H)  # not before now


def test_an_active_task_is_done_at_its_target_even_when_that_has_passed() -> None:
    assigned = MONDAY_10 - 5 * H
    tasks = [
        # overdue: its target stays in the past (not pulled forward to now)
        _facts(1, "in_progress", planned_duration=60, assigned_at=assigned,
               completion_target_at=assigned + H),
        # waiting for the customer: no target, so assigned_at + planned duration
        _facts(2, "waiting_for_customer", planned_duration=600, assigned_at=assigned,
               calendar_id=1),
        _facts(3, "assigned", assigned_at=assigned),  # no planned duration
        _facts(4, planned_duration=30),
    ]  # fmt: skip
    out = forward_pass(tasks, [(1, 4), (3, 4)], Calendars(), MONDAY_10)
    assert out[1] == (assigned, assigned + H)
    # Monday 05:00 local + 10h of 09-17: Monday 8h, Tuesday 2h: Tuesday 11:00 local
    assert out[2] == (assigned, utc(2026, 11, 24, 10))
    assert out[3] == (assigned, assigned)
    assert out[4] == (MONDAY_10, MONDAY_10 + 0.5 * H)


def test_a_declined_task_is_anticipated_as_a_registered_one() -> None:
    tasks = [_facts(1, planned_duration=60), _facts(2, "declined", planned_duration=60,
                                                    assigned_at=MONDAY_10 - H)]  # fmt: skip
    out = forward_pass(tasks, [(1, 2)], Calendars(), MONDAY_10)
    assert out[2] == (MONDAY_10 + H, MONDAY_10 + 2 * H)


def test_what_cannot_be_foreseen_is_none_and_so_is_what_waits_for_it() -> None:
    late = utc(2999, 12, 1)
    tasks = [
        _facts(1, planned_duration=100_000, start_at=late),  # past the year 2999
        _facts(2, planned_duration=60),
        _facts(3, "assigned"),  # active without assigned_at or target
        _facts(4),
    ]
    out = forward_pass(tasks, [(1, 2), (3, 4)], Calendars(), MONDAY_10)
    assert out == {1: (late, None), 2: (None, None), 3: (None, None), 4: (None, None)}
    assert latest_completion(out.values()) is None


def test_the_workflows_completion_is_the_latest_of_its_tasks() -> None:
    assert latest_completion([]) is None
    results = [(MONDAY_10, MONDAY_10 + H), (None, MONDAY_10 + 3 * H), (MONDAY_10, MONDAY_10)]
    assert latest_completion(results) == MONDAY_10 + 3 * H


def test_links_to_unknown_tasks_are_left_out_and_a_cycle_is_refused() -> None:
    tasks = [_facts(1, planned_duration=60), _facts(2, planned_duration=60)]
    out = forward_pass(tasks, [(9, 1), (1, 2), (2, 8)], Calendars(), MONDAY_10)
    assert out[2] == (MONDAY_10 + H, MONDAY_10 + 2 * H)
    with pytest.raises(ValueError, match="cycle"):
        forward_pass(tasks, [(1, 2), (2, 1)], Calendars(), MONDAY_10)


def test_with_changed_the_others_keep_their_stored_values() -> None:
    # Stored values that are deliberately not what the rule gives: kept means reused.
    a, b = MONDAY_10 + 10 * H, MONDAY_10 + 11 * H
    tasks = [
        _facts(1, planned_duration=60, calendar_id=1,
               anticipated_assignment_at=a, anticipated_completion_at=b),
        _facts(2, planned_duration=60, calendar_id=1,
               anticipated_assignment_at=b, anticipated_completion_at=b + H),
        _facts(3, planned_duration=60, calendar_id=1,
               anticipated_assignment_at=a, anticipated_completion_at=a + H),
    ]  # fmt: skip
    edges = [(1, 2)]
    calendars = Calendars()
    out = forward_pass(tasks, edges, calendars, MONDAY_10, changed=set())
    assert out == {1: (a, b), 2: (b, b + H), 3: (a, a + H)}
    assert calendars.asked == []  # no arithmetic at all
    # 1 changed: recomputed, and 2 after it (its predecessor moved); 3 is elsewhere
    out = forward_pass(tasks, edges, calendars, MONDAY_10, changed={1})
    assert out == {
        1: (MONDAY_10, MONDAY_10 + H),
        2: (MONDAY_10 + H, MONDAY_10 + 2 * H),
        3: (a, a + H),
    }
    assert len(calendars.asked) == 2
    # all of them without changed
    assert forward_pass(tasks, edges, Calendars(), MONDAY_10)[3] == (MONDAY_10, MONDAY_10 + H)


def test_with_changed_a_predecessor_that_did_not_move_spares_its_successors() -> None:
    right = (MONDAY_10, MONDAY_10 + H)
    tasks = [
        _facts(1, planned_duration=60, anticipated_assignment_at=right[0],
               anticipated_completion_at=right[1]),
        _facts(2, planned_duration=60, anticipated_assignment_at=MONDAY_10 + 7 * H,
               anticipated_completion_at=MONDAY_10 + 8 * H),
    ]  # fmt: skip
    out = forward_pass(tasks, [(1, 2)], Calendars(), MONDAY_10, changed={1})
    assert out == {1: right, 2: (MONDAY_10 + 7 * H, MONDAY_10 + 8 * H)}


def test_with_changed_stale_values_are_recomputed() -> None:
    earlier = MONDAY_10 - 3 * H
    tasks = [
        # waiting, anticipated before now: time moved on, so recomputed (and 2 after it)
        _facts(1, planned_duration=60, anticipated_assignment_at=earlier,
               anticipated_completion_at=earlier + H),
        _facts(2, planned_duration=60, anticipated_assignment_at=earlier + H,
               anticipated_completion_at=earlier + 2 * H),
        _facts(3, planned_duration=60),  # never computed
        # active, with a past target: its stored values hold whatever the time
        _facts(4, "assigned", assigned_at=earlier, completion_target_at=earlier + H,
               anticipated_assignment_at=earlier, anticipated_completion_at=earlier + H),
    ]  # fmt: skip
    out = forward_pass(tasks, [(1, 2)], Calendars(), MONDAY_10, changed=set())
    assert out == {
        1: (MONDAY_10, MONDAY_10 + H),
        2: (MONDAY_10 + H, MONDAY_10 + 2 * H),
        3: (MONDAY_10, MONDAY_10 + H),
        4: (earlier, earlier + H),
    }


# --- anticipate on stored workflows -----------------------------------------------------


@dataclass
class Plan:
    workflow_id: int
    ids: list[int] = field(default_factory=list)


def _plan(
    session: Session,
    account_id: int,
    tasks: list[dict[str, Any]],
    edges: list[tuple[int, int]],
    start_at: datetime | None = None,
) -> Plan:
    """A workflow with these tasks (fields of each) and links (by index), inserted."""
    flow = Workflow(account_id=account_id, subject="Plan", category="standard", start_at=start_at)
    session.add(flow)
    session.flush()
    assert flow.id is not None
    rows = [
        Task(
            account_id=account_id,
            workflow_id=flow.id,
            subject=f"Step {i}",
            category="implementation",
            **fields,
        )
        for i, fields in enumerate(tasks)
    ]
    session.add_all(rows)
    session.flush()
    plan = Plan(flow.id, [row.id for row in rows if row.id is not None])
    session.add_all(
        TaskDependency(
            predecessor_id=plan.ids[a],
            successor_id=plan.ids[b],
            account_id=account_id,
            workflow_id=flow.id,
        )
        for a, b in edges
    )
    session.flush()
    return plan


def _stored(world: World, plan: Plan) -> tuple[list[tuple[Any, Any]], Any]:
    with session_scope(world.settings, write=False) as session:
        rows = {
            row.id: (row.anticipated_assignment_at, row.anticipated_completion_at)
            for row in session.exec(select(Task).where(Task.workflow_id == plan.workflow_id))
        }
        flow = session.get(Workflow, plan.workflow_id)
        assert flow is not None
        return [rows[i] for i in plan.ids], flow.completion_target_at


@contextmanager
def _statements(world: World) -> Iterator[list[str]]:
    """The SQL statements sent meanwhile (an executemany is one)."""
    seen: list[str] = []
    engine = get_engine(world.settings)

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_anticipate_writes_the_pass_and_the_workflows_target(world: World) -> None:
    office_id = world.calendar("9-17", office())
    account_id = world.account.account_id
    assigned = FRIDAY_16 - 2 * H
    with session_scope(world.settings) as session:
        plan = _plan(
            session,
            account_id,
            [
                {"status": "completed", "assigned_at": assigned - H, "finished_at": assigned},
                {"status": "in_progress", "assigned_at": assigned, "planned_duration": 240,
                 "completion_target_at": FRIDAY_16 + 3 * H},
                {"planned_duration": 120, "calendar_id": office_id},
                {"planned_duration": 30},
            ],
            [(0, 1), (1, 2), (0, 3)],
        )  # fmt: skip
        moved = anticipation.anticipate(session, plan.workflow_id, FRIDAY_16)
    # Friday 19:00 local, then 2h of 09-17: Monday 11:00 local
    monday_11 = utc(2026, 11, 30, 10)
    expected = [
        (assigned - H, assigned),
        (assigned, FRIDAY_16 + 3 * H),
        (FRIDAY_16 + 3 * H, monday_11),
        (FRIDAY_16, FRIDAY_16 + 0.5 * H),
    ]
    assert moved == dict(zip(plan.ids, expected, strict=True))
    assert _stored(world, plan) == (expected, monday_11)
    # Nothing moved since: nothing is written (no UPDATE at all).
    with session_scope(world.settings) as session, _statements(world) as sent:
        assert anticipation.anticipate(session, plan.workflow_id, FRIDAY_16) == {}
    assert "UPDATE" not in sent


def test_only_the_rows_that_moved_are_written(world: World) -> None:
    account_id = world.account.account_id
    with session_scope(world.settings) as session:
        plan = _plan(
            session,
            account_id,
            [{"planned_duration": 60} for _ in range(4)],
            [(0, 1), (2, 3)],
            start_at=MONDAY_10,
        )
        anticipation.anticipate(session, plan.workflow_id, MONDAY_10)
    with session_scope(world.settings) as session:
        session.get(Task, plan.ids[2]).planned_duration = 120
        moved = anticipation.anticipate(session, plan.workflow_id, MONDAY_10, changed={plan.ids[2]})
    assert moved == {
        plan.ids[2]: (MONDAY_10, MONDAY_10 + 2 * H),
        plan.ids[3]: (MONDAY_10 + 2 * H, MONDAY_10 + 3 * H),
    }
    rows, target = _stored(world, plan)
    assert rows == [
        (MONDAY_10, MONDAY_10 + H),
        (MONDAY_10 + H, MONDAY_10 + 2 * H),
        (MONDAY_10, MONDAY_10 + 2 * H),
        (MONDAY_10 + 2 * H, MONDAY_10 + 3 * H),
    ]
    assert target == MONDAY_10 + 3 * H


def test_the_sessions_own_rows_see_what_was_written(world: World) -> None:
    account_id = world.account.account_id
    with session_scope(world.settings) as session:
        plan = _plan(session, account_id, [{"planned_duration": 60}], [])
        held = session.get(Task, plan.ids[0])
        assert held.anticipated_completion_at is None
        anticipation.anticipate(session, plan.workflow_id, MONDAY_10)
        assert (held.anticipated_assignment_at, held.anticipated_completion_at) == (
            MONDAY_10,
            MONDAY_10 + H,
        )
        held.subject = "Renamed"  # a later change to the row does not write them back
        session.flush()
        assert session.get(Workflow, plan.workflow_id).completion_target_at == MONDAY_10 + H
    assert _stored(world, plan) == ([(MONDAY_10, MONDAY_10 + H)], MONDAY_10 + H)


def test_anticipate_does_not_commit(world: World) -> None:
    account_id = world.account.account_id
    with session_scope(world.settings) as session:
        plan = _plan(session, account_id, [{"planned_duration": 60}], [])
    with session_scope(world.settings) as session:
        anticipation.anticipate(session, plan.workflow_id, MONDAY_10)
        session.rollback()
    assert _stored(world, plan) == ([(None, None)], None)


def test_an_empty_workflow_has_no_target_and_a_missing_one_is_not_found(world: World) -> None:
    account_id = world.account.account_id
    with session_scope(world.settings) as session:
        plan = _plan(session, account_id, [], [])
        flow = session.get(Workflow, plan.workflow_id)
        flow.completion_target_at = MONDAY_10
        session.flush()
        assert anticipation.anticipate(session, plan.workflow_id, MONDAY_10) == {}
        assert flow.completion_target_at is None
        with pytest.raises(NotFound):
            anticipation.anticipate(session, 2_000_000_000, MONDAY_10)


def test_the_statements_do_not_grow_with_the_workflow(world: World) -> None:
    """A few reads and one executemany UPDATE, whatever the size (no query per task)."""
    office_id = world.calendar("9-17", office())
    account_id = world.account.account_id
    sizes = {}
    for size in (3, 300):
        tasks = [
            {"planned_duration": 30, "calendar_id": office_id if i % 2 else None}
            for i in range(size)
        ]
        with session_scope(world.settings) as session:
            plan = _plan(session, account_id, tasks, [(i, i + 1) for i in range(size - 1)])
        with session_scope(world.settings) as session, _statements(world) as sent:
            moved = anticipation.anticipate(session, plan.workflow_id, MONDAY_10)
            session.flush()
        assert len(moved) == size
        sizes[size] = sent
    assert sizes[3] == sizes[300]
    # the workflow, its tasks, its links, the calendar; the tasks (one executemany), the
    # workflow (at the flush)
    assert [s for s in sizes[300] if s != "BEGIN"] == ["SELECT"] * 4 + ["UPDATE"] * 2


def test_a_task_that_cannot_be_foreseen_leaves_the_workflow_without_target(
    world: World,
) -> None:
    account_id = world.account.account_id
    late = utc(2999, 12, 1)
    with session_scope(world.settings) as session:
        plan = _plan(
            session,
            account_id,
            [{"planned_duration": 100_000, "start_at": late}, {"planned_duration": 60}],
            [],
        )
        anticipation.anticipate(session, plan.workflow_id, MONDAY_10)
    assert _stored(world, plan) == ([(late, None), (MONDAY_10, MONDAY_10 + H)], None)
    with session_scope(world.settings) as session:  # after a change to the other one
        session.get(Task, plan.ids[1]).planned_duration = 120
        anticipation.anticipate(session, plan.workflow_id, MONDAY_10, changed={plan.ids[1]})
    assert _stored(world, plan) == ([(late, None), (MONDAY_10, MONDAY_10 + 2 * H)], None)


@pytest.mark.parametrize("shape", ["chain", "fan-in"])
def test_after_a_change_the_statements_do_not_grow_either(world: World, shape: str) -> None:
    """The pass after a change to the last predecessor (what finishing it does): the
    same statements for 3 tasks as for 300, only the two tasks written."""
    account_id = world.account.account_id
    sent_by_size = {}
    for size in (3, 300):
        tasks = [{"planned_duration": 30} for _ in range(size)]
        if shape == "chain":
            edges = [(i, i + 1) for i in range(size - 1)]
        else:
            edges = [(i, size - 1) for i in range(size - 1)]
        with session_scope(world.settings) as session:
            plan = _plan(session, account_id, tasks, edges)
            anticipation.anticipate(session, plan.workflow_id, MONDAY_10)
        last, sink = plan.ids[-2], plan.ids[-1]
        with session_scope(world.settings) as session, _statements(world) as sent:
            session.get(Task, last).planned_duration = 90
            session.flush()
            sent.clear()
            moved = anticipation.anticipate(
                session, plan.workflow_id, MONDAY_10, changed={last, sink}
            )
            session.flush()
        assert set(moved) == {last, sink}
        sent_by_size[size] = [s for s in sent if s != "BEGIN"]
        rows, target = _stored(world, plan)
        assert target == rows[-1][1]
    assert sent_by_size[3] == sent_by_size[300]


def test_a_long_way_downstream_reads_the_whole_workflow(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anticipation, "WHOLE_BEYOND", 2)
    account_id = world.account.account_id
    with session_scope(world.settings) as session:
        plan = _plan(session, account_id, [{"planned_duration": 60} for _ in range(4)],
                     [(0, 1), (1, 2), (2, 3)])  # fmt: skip
        anticipation.anticipate(session, plan.workflow_id, MONDAY_10)
    with session_scope(world.settings) as session:
        session.get(Task, plan.ids[0]).planned_duration = 120
        moved = anticipation.anticipate(session, plan.workflow_id, MONDAY_10, changed={plan.ids[0]})
    assert len(moved) == 4
    expected = [(MONDAY_10, MONDAY_10 + 2 * H)] + [
        (MONDAY_10 + k * H, MONDAY_10 + (k + 1) * H) for k in (2, 3, 4)
    ]
    assert _stored(world, plan) == (expected, MONDAY_10 + 5 * H)


def test_after_a_change_the_rest_keeps_its_stored_values(world: World) -> None:
    """Values outside what the change reaches are neither read for the pass nor
    rewritten: planted ones (in the future, so not stale) stay."""
    account_id = world.account.account_id
    planted = (MONDAY_10 + 10 * H, MONDAY_10 + 20 * H)
    with session_scope(world.settings) as session:
        plan = _plan(session, account_id, [{"planned_duration": 60} for _ in range(3)],
                     [(0, 1)])  # fmt: skip
        anticipation.anticipate(session, plan.workflow_id, MONDAY_10)
        other = session.get(Task, plan.ids[2])
        other.anticipated_assignment_at, other.anticipated_completion_at = planted
    with session_scope(world.settings) as session:
        session.get(Task, plan.ids[0]).planned_duration = 30
        anticipation.anticipate(session, plan.workflow_id, MONDAY_10, changed={plan.ids[0]})
    rows, target = _stored(world, plan)
    assert rows == [
        (MONDAY_10, MONDAY_10 + 0.5 * H),
        (MONDAY_10 + 0.5 * H, MONDAY_10 + 1.5 * H),
        planted,
    ]
    assert target == planted[1]  # the latest stored completion of the workflow's tasks


# --- the property: the pass is a longest path ---------------------------------------------

T0 = utc(2026, 11, 2, 8)  # a Monday, 09:00 in Amsterdam
NOW = T0 + timedelta(days=30)


@dataclass
class Drawn:
    """A random plan: each task's fields and the links, consistent with a run of it."""

    tasks: list[dict[str, Any]]
    edges: list[tuple[int, int]]
    office: list[bool]
    start_at: datetime | None


@st.composite
def plans(draw: st.DrawFn) -> Drawn:
    n = draw(st.integers(1, 9))
    pairs = [(a, b) for b in range(n) for a in range(b)]
    edges = sorted(draw(st.sets(st.sampled_from(pairs), max_size=12))) if pairs else []
    minutes = st.integers(0, 600)
    tasks: list[dict[str, Any]] = []
    on_office: list[bool] = []
    for i in range(n):
        preds = [a for a, b in edges if b == i]
        on = draw(st.booleans())
        fields: dict[str, Any] = {
            "planned_duration": draw(st.none() | st.integers(0, 3000)),
            "start_at": draw(st.none() | st.integers(0, 60 * 24 * 40).map(_after_t0)),
        }
        done = all(tasks[p]["status"] == "completed" for p in preds)
        status = draw(st.sampled_from(["registered", "assigned", "waiting_for_customer",
                                       "completed"])) if done else "registered"  # fmt: skip
        fields["status"] = status
        if status != "registered":
            ready = max([T0, *(tasks[p]["finished_at"] for p in preds)])
            fields["assigned_at"] = ready + timedelta(minutes=draw(minutes))
        if status == "completed":
            fields["finished_at"] = fields["assigned_at"] + timedelta(minutes=draw(minutes))
        if status == "assigned" and fields["planned_duration"] is not None:
            clock = OFFICE if on else calendar_store.ALWAYS
            planned = timedelta(minutes=fields["planned_duration"])
            fields["completion_target_at"] = clock.add_service_time(fields["assigned_at"], planned)
        tasks.append(fields)
        on_office.append(on)
    start_at = draw(st.none() | st.integers(0, 60 * 24 * 40).map(_after_t0))
    return Drawn(tasks, edges, on_office, start_at)


def _after_t0(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _longest_paths(drawn: Drawn, now: datetime) -> list[tuple[Any, Any]]:
    """The anticipation by brute force: each task's, recursively over its predecessors
    (memoised), with the office calendar built anew and 24x7 as plain addition."""
    office_calendar = Calendar.from_spec(office())
    memo: dict[int, tuple[Any, Any]] = {}

    def plus(i: int, begin: datetime) -> datetime:
        minutes = drawn.tasks[i]["planned_duration"]
        if minutes is None:
            return begin
        if drawn.office[i]:
            return office_calendar.add_service_time(begin, timedelta(minutes=minutes))
        return begin + timedelta(minutes=minutes)

    def of(i: int) -> tuple[Any, Any]:
        if i not in memo:
            task = drawn.tasks[i]
            if task["status"] == "completed":
                memo[i] = (task["assigned_at"], task["finished_at"])
            elif task["status"] in ("assigned", "waiting_for_customer"):
                target = task.get("completion_target_at")
                memo[i] = (task["assigned_at"], target or plus(i, task["assigned_at"]))
            else:
                waits = [of(a)[1] for a, b in drawn.edges if b == i]
                fixed = [m for m in (task["start_at"], drawn.start_at) if m is not None]
                begin = max([now, *fixed, *waits])
                memo[i] = (begin, plus(i, begin))
        return memo[i]

    return [of(i) for i in range(len(drawn.tasks))]


@pytest.fixture
def office_id(world: World) -> int:
    return world.calendar("9-17", office())


@hypothesis_settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=plans(), change=st.integers(0, 8), later=st.integers(0, 60 * 24 * 40))
def test_anticipate_is_the_longest_path(
    world: World, office_id: int, drawn: Drawn, change: int, later: int
) -> None:
    account_id = world.account.account_id
    rows = [{**t, "calendar_id": office_id if on else None}
            for t, on in zip(drawn.tasks, drawn.office, strict=True)]  # fmt: skip
    with session_scope(world.settings) as session:
        plan = _plan(session, account_id, rows, drawn.edges, start_at=drawn.start_at)
        anticipation.anticipate(session, plan.workflow_id, NOW)
    expected = _longest_paths(drawn, NOW)
    assert _stored(world, plan) == (expected, max(c for _a, c in expected))

    # One task's planned duration changes, later: the pass given only that task.
    i = change % len(drawn.tasks)
    drawn.tasks[i]["planned_duration"] = (drawn.tasks[i]["planned_duration"] or 0) + 45
    drawn.tasks[i].pop("completion_target_at", None)  # as if its clock stood still
    if drawn.tasks[i]["status"] == "assigned":
        drawn.tasks[i]["status"] = "waiting_for_customer"
    now = NOW + timedelta(minutes=later)
    with session_scope(world.settings) as session:
        task = session.get(Task, plan.ids[i])
        task.planned_duration = drawn.tasks[i]["planned_duration"]
        task.status = drawn.tasks[i]["status"]
        task.completion_target_at = None
        anticipation.anticipate(session, plan.workflow_id, now, changed={plan.ids[i]})
    expected = _longest_paths(drawn, now)
    assert _stored(world, plan) == (expected, max(c for _a, c in expected))


# --- after a calendar recompute -------------------------------------------------------------


def test_a_calendar_recompute_moves_the_anticipated_assignments(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recompute, "BATCH_SIZE", 2)  # the workflow spans two batches
    calendar_id = world.calendar("9-17", office())
    team = world.team("Ops", calendar_id)
    flow = world.workflow(None)
    ids = [world.task(MONDAY_10, flow, team_id=team, planned_duration=60).id for _ in range(3)]
    account_id = world.account.account_id
    with session_scope(world.settings) as session:
        session.add_all(
            TaskDependency(
                predecessor_id=a, successor_id=b, account_id=account_id, workflow_id=flow
            )
            for a, b in pairwise(ids)
        )
        for waiting in ids[1:]:  # as the plan keeps them: waiting for their predecessor
            task = session.get(Task, waiting)
            task.status, task.assigned_at, task.completion_target_at = "registered", None, None
        session.flush()
        anticipation.anticipate(session, flow, MONDAY_10)
    plan = Plan(flow, ids)
    hours = [MONDAY_10 + k * H for k in range(4)]  # 10:00, 11:00 ... local
    assert _stored(world, plan) == ([(hours[k], hours[k + 1]) for k in range(3)], hours[3])

    with session_scope(world.settings) as session:
        _row, op = calendar_store.do_update_calendar(
            session, account_id, calendar_id, CalendarUpdate(hours=office("13:00")["hours"])
        )
        assert op is not None
        op_id = op.id
    with time_machine.travel(MONDAY_10, tick=False):
        recompute.run_inline(world.settings, op_id)
    # now 10:00 local; 13-17: 13:00-14:00, 14:00-15:00, 15:00-16:00 local
    afternoon = [utc(2026, 11, 23, 12 + k) for k in range(4)]
    expected = [(MONDAY_10, afternoon[1]), (afternoon[1], afternoon[2]),
                (afternoon[2], afternoon[3])]  # fmt: skip
    assert _stored(world, plan) == (expected, afternoon[3])
