"""The Canvas-style Python API (000), in-process, on both backends."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlmodel import select

from tasks_service import people, policies, tasks
from tasks_service.commands import drain
from tasks_service.schedule import calendar_store
from tasks_service.schedule.calendar import Calendar
from tasks_service.store import lookups, models
from tasks_service.store.db import session_scope
from tasks_service.store.models import Timer
from tasks_service.store.schemas.calendars import CalendarCreate
from tasks_service.tasks import InvalidTaskStatusError, Task, TaskNotFound, TaskValidationError
from tests.helpers import AccountInfo, make_account


def test_canvas_usage_example_runs(in_account) -> None:
    # The example at the top of 000, with staff as people.
    people.create_team("Refills")
    review_refills_task = tasks.create_task(
        title="Review all refill requests",
        creator=people.get_service_user_staff(),
        labels=["urgent"],
    )
    review_refills_task = tasks.get_task(task_id=review_refills_task.id)
    refills_team = next(people.list_teams(name="Refills"))
    tasks.assign_task(review_refills_task, assignee=refills_team)
    tasks.update_task(review_refills_task, due=date.today())
    tasks.add_task_labels(review_refills_task, label_names=("important",))
    review_refills_task.add_label(label="important")
    tasks.remove_task_label(review_refills_task, label_name="urgent")
    tasks.add_task_comment(review_refills_task, comment="We'll need to get this done quickly!")
    review_refills_task.add_comment(comment="On it.")
    tasks.close_task(review_refills_task)
    tasks.reopen_task(review_refills_task)
    tasks.complete_task(review_refills_task)
    refill_reviews = tasks.list_tasks(status=Task.Status.OPEN, assignee=refills_team)

    final = tasks.get_task(task_id=review_refills_task.id)
    assert final.status == Task.Status.COMPLETED
    assert final.xurrent_status == "completed"
    assert final.labels == ["important"]
    assert [c.comment for c in final.comments] == ["We'll need to get this done quickly!", "On it."]
    assert final.team_id == refills_team.id
    # a date alone is the end of that day (the account runs 24x7: in UTC)
    assert final.due == datetime.combine(date.today(), datetime.min.time(), UTC).replace(
        hour=23, minute=59, second=59
    )
    assert refill_reviews == []


def test_the_task_a_call_was_given_shows_what_the_call_did(in_account) -> None:
    team = people.create_team("Shown")
    review = tasks.create_task(title="Review", creator=people.get_service_user(), labels=["urgent"])
    same = tasks.assign_task(review, assignee=team)
    assert same is review
    assert (review.team_id, review.xurrent_status) == (team.id, "assigned")
    tasks.add_task_labels(review, label_names=("important",))
    tasks.remove_task_label(review, label_name="urgent")
    assert review.labels == ["important"]
    tasks.update_task(review, title="Review all")
    assert review.title == "Review all"
    tasks.add_task_comment(review, comment="Soon")
    assert [c.comment for c in review.comments] == ["Soon"]
    tasks.complete_task(review)
    assert review.status == Task.Status.COMPLETED
    assert review == tasks.get_task(task_id=review.id)
    by_id = tasks.reopen_task(review.id)  # an id in: a new snapshot out
    assert by_id.status == Task.Status.OPEN
    assert review.status == Task.Status.COMPLETED


def test_a_date_alone_is_due_at_the_end_of_that_day_in_the_calendar_zone(
    in_account, settings, account: AccountInfo
) -> None:
    spec = {"time_zone": "Europe/Amsterdam", "is_24x7": True}
    with session_scope(settings) as session:
        row = calendar_store.do_create_calendar(
            session, account.account_id, CalendarCreate.model_validate({"name": "AMS", **spec})
        )
    amsterdam = people.create_team("Amsterdam due", calendar_id=row.id)
    creator = people.get_service_user()
    winter = tasks.create_task(
        title="Winter", creator=creator, assignee=amsterdam, due=date(2026, 12, 1)
    )
    assert winter.due == datetime(2026, 12, 1, 22, 59, 59, tzinfo=UTC)  # CET, +01:00
    tasks.update_task(winter, due=date(2027, 7, 1))
    assert winter.due == datetime(2027, 7, 1, 21, 59, 59, tzinfo=UTC)  # CEST, +02:00
    # the zone of the calendar the change gives it: 24x7 runs on UTC
    tasks.update_task(winter, due=date(2027, 7, 1), work_hours_are_24x7=True)
    assert winter.due == datetime(2027, 7, 1, 23, 59, 59, tzinfo=UTC)
    exact = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)  # a datetime is taken as it is
    assert tasks.create_task(title="Exact", creator=creator, due=exact).due == exact


def test_close_complete_reopen_rules(in_account) -> None:
    creator = people.get_service_user()
    task = tasks.create_task(title="One", creator=creator)
    assert task.status == Task.Status.OPEN
    task.close()
    assert (task.status, task.xurrent_status) == (Task.Status.CLOSED, "canceled")
    for action in (tasks.close_task, tasks.complete_task, tasks.update_task):
        with pytest.raises(InvalidTaskStatusError) as info:
            action(task)
        assert info.value.actual_status == "closed"
        assert info.value.expected_status == "open"
    with pytest.raises(InvalidTaskStatusError):
        tasks.assign_task(task, assignee=creator)
    task.reopen()
    assert task.xurrent_status == "registered"  # nobody to go back to
    with pytest.raises(InvalidTaskStatusError) as info:
        tasks.reopen_task(task)
    assert info.value.action == "reopen"
    task.assign(creator)
    assert task.xurrent_status == "assigned"
    approval = tasks.create_task(
        title="Approve", creator=creator, category="approval", assignee=creator
    )
    assert tasks.complete_task(approval).xurrent_status == "approved"


def test_list_tasks_filters(in_account) -> None:
    creator = people.get_service_user()
    other = people.create_person("Bo", "bo@example.com")
    team = people.create_team("Desk", members=(other,))
    mine = tasks.create_task(title="mine", creator=creator, assignee=creator)
    theirs = tasks.create_task(title="theirs", creator=other, assignee=team)
    loose = tasks.create_task(title="loose", creator=creator)
    tasks.complete_task(mine)
    assert [t.id for t in tasks.list_tasks()] == [loose.id, theirs.id, mine.id]
    assert [t.id for t in tasks.list_tasks(status=Task.Status.OPEN)] == [loose.id, theirs.id]
    assert [t.id for t in tasks.list_tasks(status=Task.Status.COMPLETED)] == [mine.id]
    assert [t.id for t in tasks.list_tasks(assignee=None)] == [loose.id]
    assert [t.id for t in tasks.list_tasks(assignee=team)] == [theirs.id]
    assert [t.id for t in tasks.list_tasks(assignee=creator)] == [mine.id]
    assert [t.id for t in tasks.list_tasks(creator=other)] == [theirs.id]
    assert [t.id for t in tasks.list_tasks(status="registered")] == [loose.id]
    with pytest.raises(TaskValidationError):
        tasks.list_tasks(status="nonsense")
    # The REST API's filter language, through the same query layer.
    assert [t.id for t in tasks.list_tasks(query={"id": f"{mine.id},{loose.id}"})] == [
        loose.id,
        mine.id,
    ]
    assert [
        t.id for t in tasks.list_tasks(status=Task.Status.OPEN, query={"member": "", "team": "!"})
    ] == [theirs.id]
    with pytest.raises(tasks.QueryError) as info:
        tasks.list_tasks(query={"colour": "red"})
    assert info.value.field == "colour"


def test_errors_and_tenancy(settings, in_account) -> None:
    creator = people.get_service_user()
    with pytest.raises(TaskValidationError) as info:
        tasks.create_task(title="", creator=creator)
    assert info.value.errors[0]["field"] == "subject"
    with pytest.raises(TaskNotFound):
        tasks.get_task(task_id=987654321)
    task = tasks.create_task(title="private", creator=creator)
    other = make_account(settings)
    with tasks.account(other.slug, settings=settings), pytest.raises(TaskNotFound):
        tasks.get_task(task_id=task.id)
    assert tasks.get_task(task_id=task.id).title == "private"


def test_update_task_keeps_a_change_made_while_it_waited(
    in_account, settings, account: AccountInfo
) -> None:
    """``update_task(patient=...)`` merges the patient into the task's custom fields as
    read under the row lock it writes them with: another writer's change, committed
    while the call waited for that lock, is kept (it was lost when the fields were read
    in a transaction of their own, before the one that wrote them)."""
    task = tasks.create_task(
        title="Chart", creator=people.get_service_user(), custom_fields={"ward": 1}
    )
    holding = threading.Event()

    def other_writer() -> None:
        with session_scope(settings) as session:
            row = lookups.lock(session, models.Task, account.account_id, task.id)
            holding.set()
            time.sleep(1.0)  # the update below starts meanwhile, and waits for the row
            row.custom_fields = {"ward": 2, "bed": 7}
            session.add(row)

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert holding.wait(10)
    updated = tasks.update_task(task, patient="p-1")
    writer.join(10)
    assert updated.custom_fields == {"ward": 2, "bed": 7, "patient": "p-1"}
    assert tasks.get_task(task.id).custom_fields == {"ward": 2, "bed": 7, "patient": "p-1"}
    # given with custom fields of its own, the patient joins those
    again = tasks.update_task(task, patient="p-2", custom_fields={"bed": 8})
    assert again.custom_fields == {"ward": 2, "bed": 8, "patient": "p-2"}


def test_no_account_selected_is_an_error() -> None:
    with pytest.raises(tasks.TaskError, match="no account selected"):
        tasks.get_task(task_id=1)


def test_targets_follow_the_team_calendar(in_account, settings, account: AccountInfo) -> None:
    spec = {
        "time_zone": "Asia/Kolkata",
        "hours": [{"weekday": "monday", "start": "10:00", "end": "11:00"}],
    }
    with session_scope(settings) as session:
        row = calendar_store.do_create_calendar(
            session, account.account_id, CalendarCreate.model_validate({"name": "Mon", **spec})
        )
    team = people.create_team("Weekly", calendar_id=row.id)
    task = tasks.create_task(
        title="Once a week", creator=people.get_service_user(), assignee=team, planned_duration=90
    )
    # 90 minutes of a one-hour-a-week calendar: the second Monday after assignment
    assert task.completion_target_at == Calendar.from_spec(spec).add_service_minutes(
        task.assigned_at, 90
    )
    assert task.completion_target_at - task.assigned_at > timedelta(days=7)
    with pytest.raises(TaskValidationError) as info:
        people.create_team("Nowhere", calendar_id=999_999)
    assert info.value.errors[0]["field"] == "calendar_id"


def _pending_levels(settings, task_id: int) -> dict[int, datetime]:
    with session_scope(settings, write=False) as session:
        rows = session.exec(
            select(Timer).where(
                Timer.task_id == task_id, Timer.kind == "escalation", Timer.state == "pending"
            )
        )
        return {row.level: row.fire_at for row in rows}


def test_escalation_policies_through_the_python_api(in_account, settings) -> None:
    policy = policies.create_escalation_policy("Half", [{"percent": 50}, {"offset_minutes": 15}])
    assert policies.get_escalation_policy(policy.id) == policy
    assert policy in policies.list_escalation_policies()
    team = people.create_team("Escalating", escalation_policy_id=policy.id)
    creator = people.get_service_user()
    task = tasks.create_task(title="Watched", creator=creator, assignee=team, planned_duration=60)
    assert _pending_levels(settings, task.id) == {
        1: task.assigned_at + timedelta(minutes=30),
        2: task.completion_target_at + timedelta(minutes=15),
    }
    # new levels re-plan the open tasks before the call returns (no worker needed)
    changed = policies.update_escalation_policy(policy, levels=[{"percent": 25}])
    assert changed.levels == ({"percent": 25, "notify": []},)  # as given (REST shows the same)
    assert _pending_levels(settings, task.id) == {1: task.assigned_at + timedelta(minutes=15)}
    # the account's default applies where no team or workflow names a policy
    default = policies.create_escalation_policy("Default", [{"offset_minutes": 0}])
    policies.set_account_escalation_policy(default)
    plain = tasks.create_task(
        title="Plain", creator=creator, assignee=people.create_team("Plain"), planned_duration=60
    )
    assert _pending_levels(settings, plain.id) == {1: plain.completion_target_at}
    # what fired, when, for whom
    moment = task.assigned_at + timedelta(minutes=15)
    with time_machine.travel(moment, tick=False):
        drain.fire_due(settings, limit=500)
    [fired] = policies.get_task_escalations(task)
    assert (fired["level"], fired["escalation_policy"]["id"]) == (1, policy.id)
    assert fired["fire_at"] == moment.isoformat().replace("+00:00", "Z")
    assert policies.get_task_escalations(plain) == []
    # bad input names the field; nothing changes
    with pytest.raises(TaskValidationError) as info:
        policies.create_escalation_policy("Bad", [{"percent": 50, "offset_minutes": 5}])
    assert info.value.errors[0]["field"].startswith("levels.0")
    with pytest.raises(TaskValidationError) as info:
        people.create_team("Nowhere", escalation_policy_id=999_999)
    assert info.value.errors[0]["field"] == "escalation_policy_id"
    with pytest.raises(TaskValidationError) as info:
        policies.set_account_escalation_policy(999_999)
    assert info.value.errors[0]["field"] == "escalation_policy_id"
    assert [p.name for p in policies.list_escalation_policies()] == ["Half", "Default"]
