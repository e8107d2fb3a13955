"""Every channel hears of the same events about a task: what a person's feed and email
get of a change, its account's webhooks get too (webhooks also hear of the events no
person is told of: ``task.created``, ``task.updated``, ``task.status_changed``). On
create with a member, with a team only, with a later start, in a workflow, and on a
reassignment."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from tasks_service.core.events import EVENTS
from tasks_service.core.statuses import DeliveryChannel
from tasks_service.identity import directory
from tasks_service.store.db import session_scope
from tasks_service.store.models import Delivery, Notification
from tasks_service.store.schemas.directory import PersonCreate
from tests.helpers import World
from tests.helpers.world import MONDAY_10


def _person(world: World, name: str, team_id: int) -> int:
    with session_scope(world.settings) as session:
        email = f"{name.lower()}@{world.account.slug}.x"
        person = directory.do_create_person(
            session, world.account.account_id, PersonCreate(name=name, primary_email=email)
        )
        directory.do_add_team_member(session, world.account.account_id, team_id, person.id)
        return person.id


def _heard(world: World, task_id: int, hook_id: int, person_id: int) -> dict[str, list[str]]:
    """The events of the task each channel got: the webhook, the person's feed, email."""
    with session_scope(world.settings, write=False) as session:
        hooked = session.exec(
            select(Delivery.event).where(
                Delivery.task_id == task_id, Delivery.webhook_id == hook_id
            )
        ).all()
        fed = session.exec(
            select(Notification.event).where(
                Notification.task_id == task_id, Notification.person_id == person_id
            )
        ).all()
        mailed = session.exec(
            select(Delivery.event).where(
                Delivery.task_id == task_id,
                Delivery.person_id == person_id,
                Delivery.channel == DeliveryChannel.email,
            )
        ).all()
    return {"webhook": sorted(hooked), "feed": sorted(fed), "email": sorted(mailed)}


def test_created_with_a_member_every_channel_hears_it_assigned(world: World) -> None:
    team = world.team("Assigned at create")
    ann = _person(world, "Ann", team)
    hook = world.webhook(list(EVENTS))
    task = world.task(MONDAY_10, team_id=team, member_id=ann)
    assert _heard(world, task.id, hook, ann) == {
        "webhook": ["task.assigned", "task.created"],
        "feed": ["task.assigned"],
        "email": ["task.assigned"],
    }
    # a later reassignment: the same on every channel
    bob = _person(world, "Bob", team)
    world.update(task.id, MONDAY_10 + timedelta(minutes=5), member_id=bob)
    heard = _heard(world, task.id, hook, bob)
    assert heard["feed"] == heard["email"] == ["task.assigned"]
    assert heard["webhook"].count("task.assigned") == 2  # at create, and now


def test_created_with_a_team_only(world: World) -> None:
    team = world.team("Team only")
    cyd = _person(world, "Cyd", team)
    hook = world.webhook(["task.assigned"])
    task = world.task(MONDAY_10, team_id=team)
    assert _heard(world, task.id, hook, cyd) == {
        "webhook": ["task.assigned"],
        "feed": ["task.assigned"],
        "email": ["task.assigned"],
    }


def test_created_to_start_later(world: World) -> None:
    """Registered with an assignee until its start: told of the assignee at create, on
    every channel; the start itself is a status change (webhooks only)."""
    team = world.team("Later")
    dee = _person(world, "Dee", team)
    hook = world.webhook(list(EVENTS))
    start = MONDAY_10 + timedelta(hours=1)
    task = world.task(MONDAY_10, team_id=team, member_id=dee, start_at=start.isoformat())
    assert task.status == "registered"
    assert _heard(world, task.id, hook, dee) == {
        "webhook": ["task.assigned", "task.created"],
        "feed": ["task.assigned"],
        "email": ["task.assigned"],
    }
    world.fire_due(start)
    assert world.get(task.id).status == "assigned"
    heard = _heard(world, task.id, hook, dee)
    assert heard["webhook"] == [
        "task.assigned",
        "task.created",
        "task.status_changed",
        "task.updated",
    ]
    assert heard["feed"] == heard["email"] == ["task.assigned"]


def test_created_in_a_workflow(world: World) -> None:
    team = world.team("In a workflow")
    eve = _person(world, "Eve", team)
    hook = world.webhook(["task.assigned"])
    workflow = world.workflow(None)
    task = world.task(MONDAY_10, workflow_id=workflow, team_id=team, member_id=eve)
    assert _heard(world, task.id, hook, eve) == {
        "webhook": ["task.assigned"],
        "feed": ["task.assigned"],
        "email": ["task.assigned"],
    }


def test_a_task_that_waits_is_told_assigned_when_its_plan_starts_it(world: World) -> None:
    """Held by an unfinished predecessor: no ``task.assigned`` at create; told on every
    channel in the operation that finishes its last predecessor."""
    team = world.team("Plan")
    eve = _person(world, "Eve", team)
    hook = world.webhook(["task.assigned"])
    workflow_id = world.workflow(None)
    first = world.task(MONDAY_10, workflow_id, team_id=team, member_id=eve)
    then = world.task(
        MONDAY_10, workflow_id, team_id=team, member_id=eve, predecessor_ids=[first.id]
    )
    assert then.status == "registered"
    assert _heard(world, then.id, hook, eve) == {"webhook": [], "feed": [], "email": []}
    world.update(first.id, MONDAY_10 + timedelta(minutes=5), status="completed")
    assert world.get(then.id).status == "assigned"
    assert _heard(world, then.id, hook, eve) == {
        "webhook": ["task.assigned"],
        "feed": ["task.assigned"],
        "email": ["task.assigned"],
    }
