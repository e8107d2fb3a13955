"""Escalation levels in-process, with the clock controlled: when each level is due,
that it fires once per target, moves with the target and the stopped clock, stops at
the finish, tells whom it names and does what it says."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from tasks_service.core.errors import TaskValidationError
from tasks_service.core.validation import validate
from tasks_service.identity import accounts, directory
from tasks_service.notify import feed
from tasks_service.schedule import escalation
from tasks_service.store.db import session_scope
from tasks_service.store.models import Delivery, Timer
from tasks_service.store.schemas.directory import AccountUpdate, PersonCreate, TeamCreate
from tasks_service.store.schemas.policies import EscalationPolicyCreate
from tests.helpers import AccountInfo, World, office

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)  # a Monday
_NUMBERS = itertools.count(1)  # distinct policy names


class Desk(World):
    """A World with people, a team with members and escalation policies."""

    def person(self, name: str) -> int:
        with session_scope(self.settings) as session:
            data = PersonCreate(name=name, primary_email=f"{name.lower()}@{self.account.slug}.x")
            return directory.do_create_person(session, self.account.account_id, data).id

    def team_of(self, name: str, members: list[int], **fields: Any) -> int:
        with session_scope(self.settings) as session:
            data = validate(TeamCreate, {"name": name, **fields})
            team = directory.do_create_team(session, self.account.account_id, data)
            for person_id in members:
                directory.do_add_team_member(session, self.account.account_id, team.id, person_id)
            return team.id

    def policy(self, levels: list[dict[str, Any]], **fields: Any) -> int:
        with session_scope(self.settings) as session:
            data = validate(
                EscalationPolicyCreate,
                {"name": f"policy {next(_NUMBERS)}", "levels": levels, **fields},
            )
            return escalation.do_create_policy(session, self.account.account_id, data).id

    def default_policy(self, policy_id: int | None) -> None:
        with session_scope(self.settings) as session:
            accounts.do_update_account(
                session, self.account.account_id, AccountUpdate(escalation_policy_id=policy_id)
            )

    def levels(self, task_id: int) -> dict[int, tuple[datetime, str]]:
        with session_scope(self.settings, write=False) as session:
            rows = session.exec(
                select(Timer).where(Timer.task_id == task_id, Timer.kind == "escalation")
            ).all()
            return {row.level: (row.fire_at, row.state) for row in rows}

    def fired(self, task_id: int) -> list[tuple[int, datetime]]:
        with session_scope(self.settings, write=False) as session:
            return [(r.level, r.fire_at) for r in escalation.escalations_of(session, task_id)]

    def feed_of(self, person_id: int) -> list[str]:
        with session_scope(self.settings, write=False) as session:
            rows = feed.notifications_of(session, person_id, False, 2**31 - 1, 100)
            return [row.summary for row in reversed(rows)]


@pytest.fixture
def desk(settings, account: AccountInfo) -> Desk:
    return Desk(settings, account)


LEVELS = [
    {"percent": 50, "notify": ["member"]},
    {"offset_minutes": -30, "notify": ["team"]},
    {"offset_minutes": 0, "notify": ["team"], "actions": {"set_impact": "high"}},
    {"offset_minutes": 60, "relative_to": "due_at", "notify": ["manager"]},
]


def test_levels_fire_in_order_once_and_tell_whom_they_name(desk: Desk) -> None:
    ann, bob = desk.person("Ann"), desk.person("Bob")
    team = desk.team_of("Ops", [ann, bob])
    desk.default_policy(desk.policy(LEVELS))
    due = T0 + timedelta(hours=3)
    task = desk.task(T0, team_id=team, member_id=ann, planned_duration=120, due_at=due.isoformat())
    target = T0 + timedelta(minutes=120)  # 24x7: no calendar anywhere
    assert desk.levels(task.id) == {
        1: (T0 + timedelta(minutes=60), "pending"),
        2: (target - timedelta(minutes=30), "pending"),
        3: (target, "pending"),
        4: (due + timedelta(minutes=60), "pending"),
    }
    desk.fire_due(T0 + timedelta(minutes=59))
    assert desk.fired(task.id) == []  # never early
    for minutes in (60, 61, 90, 119, 120, 121, 239, 240, 300):
        desk.fire_due(T0 + timedelta(minutes=minutes))
    assert [level for level, _ in desk.fired(task.id)] == [1, 2, 3, 4]
    assert desk.get(task.id).impact == "high"  # level 3's action
    # level 1 told the member; 2 and 3 the team; 4 the manager (none: no workflow)
    assert [s.split(":")[0] for s in desk.feed_of(ann)].count("escalation level 1") == 1
    assert sum("escalation level" in s for s in desk.feed_of(ann)) == 3
    assert sum("escalation level" in s for s in desk.feed_of(bob)) == 2
    assert set(desk.levels(task.id).values()) == {
        (m, "fired") for m, _ in desk.levels(task.id).values()
    }


def test_a_moved_target_moves_pending_levels_and_rearms_passed_ones_only_when_ahead(
    desk: Desk,
) -> None:
    desk.default_policy(desk.policy([{"percent": 50}, {"offset_minutes": 0}]))
    team = desk.team_of("Ops", [])
    task = desk.task(T0, team_id=team, planned_duration=120)
    desk.fire_due(T0 + timedelta(minutes=60))
    assert desk.fired(task.id) == [(1, T0 + timedelta(minutes=60))]
    # a calendar-free change of the same clock would not re-fire level 1; a new planned
    # duration is a new target: level 1 (now at 90 min) is ahead again and re-arms
    desk.update(task.id, T0 + timedelta(minutes=70), planned_duration=180)
    assert desk.levels(task.id) == {
        1: (T0 + timedelta(minutes=90), "pending"),
        2: (T0 + timedelta(minutes=180), "pending"),
    }
    desk.fire_due(T0 + timedelta(minutes=90))
    # shorter again, with level 1's new moment already passed: it stays fired
    desk.update(task.id, T0 + timedelta(minutes=95), planned_duration=60)
    assert desk.levels(task.id) == {
        1: (T0 + timedelta(minutes=90), "fired"),  # its new moment (30 min) has passed
        2: (T0 + timedelta(minutes=60), "pending"),  # overdue now: fires at once
    }
    desk.fire_due(T0 + timedelta(minutes=96))
    assert [level for level, _ in desk.fired(task.id)] == [1, 1, 2]


def test_waiting_for_the_customer_holds_levels_and_pushes_them_forward(desk: Desk) -> None:
    desk.default_policy(desk.policy([{"offset_minutes": -10}, {"offset_minutes": 0}]))
    team = desk.team_of("Ops", [])
    task = desk.task(T0, team_id=team, planned_duration=60)
    desk.update(task.id, T0 + timedelta(minutes=20), status="waiting_for_customer")
    assert {state for _, state in desk.levels(task.id).values()} == {"canceled"}
    desk.fire_due(T0 + timedelta(minutes=65))
    assert desk.fired(task.id) == []  # the clock stood still
    desk.update(task.id, T0 + timedelta(minutes=80), status="in_progress")
    # 60 minutes stood still: every level an hour later
    assert desk.levels(task.id) == {
        1: (T0 + timedelta(minutes=110), "pending"),
        2: (T0 + timedelta(minutes=120), "pending"),
    }


def test_percent_levels_and_pauses_keep_their_seconds(desk: Desk) -> None:
    """10 % of a one-minute task is 6 seconds (not 0: at assignment); a pause of 65 s
    moves every level 65 s, one of 3 s moves them 3 s (not 60 and 0)."""
    desk.default_policy(
        desk.policy(
            [
                {"percent": 10},
                {"percent": 33},
                {"offset_minutes": 0},
                {"offset_minutes": 5, "relative_to": "due_at"},
            ]
        )
    )
    team = desk.team_of("Ops", [])
    due = T0 + timedelta(hours=1)
    task = desk.task(T0, team_id=team, planned_duration=1, due_at=due.isoformat())
    seconds = timedelta(seconds=1)
    assert desk.levels(task.id) == {
        1: (T0 + 6 * seconds, "pending"),
        2: (T0 + timedelta(seconds=19.8), "pending"),
        3: (T0 + 60 * seconds, "pending"),
        4: (due + timedelta(minutes=5), "pending"),
    }
    desk.fire_due(T0)
    assert desk.fired(task.id) == []  # 10 % is not due at assignment
    desk.update(task.id, T0 + 2 * seconds, status="waiting_for_customer")
    back = desk.update(task.id, T0 + 67 * seconds, status="in_progress")
    assert back.completion_target_at == T0 + 125 * seconds
    assert desk.levels(task.id) == {
        1: (T0 + 71 * seconds, "pending"),
        2: (T0 + timedelta(seconds=84.8), "pending"),
        3: (T0 + 125 * seconds, "pending"),
        4: (due + timedelta(minutes=5) + 65 * seconds, "pending"),
    }
    desk.update(task.id, T0 + 68 * seconds, status="waiting_for_customer")
    again = desk.update(task.id, T0 + 71 * seconds, status="in_progress")
    assert again.completion_target_at == T0 + 128 * seconds
    assert desk.levels(task.id)[1] == (T0 + 74 * seconds, "pending")


def test_finishing_cancels_the_rest(desk: Desk) -> None:
    desk.default_policy(desk.policy([{"percent": 50}, {"offset_minutes": 0}]))
    team = desk.team_of("Ops", [])
    task = desk.task(T0, team_id=team, planned_duration=60)
    desk.fire_due(T0 + timedelta(minutes=30))
    desk.update(task.id, T0 + timedelta(minutes=40), status="completed")
    assert desk.levels(task.id) == {
        1: (T0 + timedelta(minutes=30), "fired"),
        2: (T0 + timedelta(minutes=60), "canceled"),
    }
    desk.fire_due(T0 + timedelta(minutes=90))
    assert [level for level, _ in desk.fired(task.id)] == [1]


def test_the_policy_comes_from_the_team_then_the_workflow_then_the_account(desk: Desk) -> None:
    account_policy = desk.policy([{"offset_minutes": 1}])
    team_policy = desk.policy([{"offset_minutes": 2}])
    desk.default_policy(account_policy)
    plain, special = (
        desk.team_of("Plain", []),
        desk.team_of("Special", [], escalation_policy_id=team_policy),
    )
    one = desk.task(T0, team_id=plain, planned_duration=60)
    two = desk.task(T0, team_id=special, planned_duration=60)
    assert desk.levels(one.id) == {1: (T0 + timedelta(minutes=61), "pending")}
    assert desk.levels(two.id) == {1: (T0 + timedelta(minutes=62), "pending")}
    desk.default_policy(None)
    three = desk.task(T0, team_id=plain, planned_duration=60)
    assert desk.levels(three.id) == {}  # no policy anywhere: no escalation


def test_service_time_offsets_count_the_calendar(desk: Desk) -> None:
    nine_to_five = desk.calendar("office", office())
    policy = desk.policy(
        [{"offset_minutes": -30, "relative_to": "due_at"}, {"offset_minutes": 30}],
        offsets_in_service_time=True,
    )
    team = desk.team_of("Ops", [], calendar_id=nine_to_five, escalation_policy_id=policy)
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 16:00 in Amsterdam
    monday_0910 = datetime(2026, 11, 30, 8, 10, tzinfo=UTC)
    task = desk.task(friday, team_id=team, planned_duration=60, due_at=monday_0910.isoformat())
    assert desk.levels(task.id) == {
        # 30 service minutes before Monday 09:10 is Friday 16:40
        1: (datetime(2026, 11, 27, 15, 40, tzinfo=UTC), "pending"),
        # 60 minutes from Friday 16:00 ends Monday 09:00; 30 service minutes after: 09:30
        2: (datetime(2026, 11, 30, 8, 30, tzinfo=UTC), "pending"),
    }


def test_a_reassigning_level_gives_the_new_team_a_fresh_clock(desk: Desk) -> None:
    first, second = desk.team_of("First", []), desk.team_of("Second", [])
    desk.default_policy(
        desk.policy(
            [{"offset_minutes": 0, "actions": {"reassign_team_id": second, "set_urgent": True}}]
        )
    )
    task = desk.task(T0, team_id=first, planned_duration=60)
    desk.fire_due(T0 + timedelta(minutes=60))
    moved = desk.get(task.id)
    assert (moved.team_id, moved.urgent) == (second, True)
    # the new team's clock starts now: its level is armed again for the new target
    assert desk.levels(task.id) == {1: (T0 + timedelta(minutes=120), "pending")}


def test_escalation_mail_waits_for_service_hours_the_feed_does_not(desk: Desk) -> None:
    desk.settings = desk.settings.model_copy(update={"smtp_host": "127.0.0.1"})
    ann = desk.person("Ann")
    nine_to_five = desk.calendar("office", office())
    policy = desk.policy([{"offset_minutes": 0, "notify": ["member"]}])
    team = desk.team_of("Ops", [ann], calendar_id=nine_to_five, escalation_policy_id=policy)
    monday_1630 = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    task = desk.task(monday_1630, team_id=team, member_id=ann, planned_duration=30)
    target = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 17:00, closing time
    assert desk.levels(task.id) == {1: (target, "pending")}
    late_evening = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # the sweep runs at 23:00
    desk.fire_due(late_evening)
    assert any("escalation level 1" in s for s in desk.feed_of(ann))  # at once
    with session_scope(desk.settings, write=False) as session:
        mail = session.exec(
            select(Delivery).where(
                Delivery.task_id == task.id,
                Delivery.channel == "email",
                Delivery.event == "task.escalated",
            )
        ).one()
    assert mail.payload["to"].startswith("ann@")
    assert mail.next_attempt_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 09:00 Tuesday


@pytest.mark.parametrize(
    ("level", "field", "code"),
    [
        ({"percent": 50, "offset_minutes": 10}, "levels.0", "invalid_value"),
        ({"notify": ["everyone"]}, "levels.0.notify.0", "invalid_format"),
        ({"notify": ["person:999999999"]}, "levels.0.notify.0", "not_found"),
        (
            {"actions": {"reassign_team_id": 999999999}},
            "levels.0.actions.reassign_team_id",
            "not_found",
        ),
        ({"offset_minutes": 10**7}, "levels.0.offset_minutes", "out_of_range"),
        ({"relative_to": "created_at"}, "levels.0.relative_to", "invalid_value"),
    ],
)
def test_bad_levels_are_refused_naming_the_field(
    desk: Desk, level: dict[str, Any], field: str, code: str
) -> None:
    with pytest.raises(TaskValidationError) as info:
        desk.policy([level])
    assert (info.value.errors[0]["field"], info.value.errors[0]["code"]) == (field, code)
