"""Messages to people in-process: a feed entry and an email each (email only with SMTP
on), minus each person's opt-outs, once per key; the feed keeps 500 characters of a
summary, the email all of it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from tasks_service.core.settings import Settings
from tasks_service.identity import directory
from tasks_service.notify.message import Message
from tasks_service.notify.outbox import Outbox
from tasks_service.notify.personal import notify_people
from tasks_service.store.db import session_scope
from tasks_service.store.models import Delivery, Notification
from tasks_service.store.schemas.directory import NotificationPreferences, PersonCreate
from tests.helpers import World

MOMENT = datetime(2026, 11, 23, 9, tzinfo=UTC)


def _person(world: World, name: str, opt_outs: list[str]) -> int:
    with session_scope(world.settings) as session:
        email = f"{name.lower()}@{world.account.slug}.x"
        person = directory.do_create_person(
            session, world.account.account_id, PersonCreate(name=name, primary_email=email)
        )
        directory.do_set_opt_outs(
            session,
            world.account.account_id,
            person.id,
            NotificationPreferences(notification_opt_outs=opt_outs),
        )
        return person.id


def _sent(world: World, settings: Settings, people: list[int], summary: str) -> int:
    message = Message("task.alert", MOMENT, summary=summary)
    with session_scope(settings) as session:
        return notify_people(
            session, Outbox(settings), message, people, {"type": "task.alert"}, subject="s1"
        )


def _received(world: World, people: list[int]) -> tuple[set, set]:
    with session_scope(world.settings, write=False) as session:
        feed = session.exec(select(Notification).where(Notification.person_id.in_(people)))
        mail = session.exec(select(Delivery).where(Delivery.person_id.in_(people)))
        return (
            {(n.person_id, n.summary) for n in feed},
            {(d.person_id, d.channel, d.payload["subject"]) for d in mail},
        )


def test_opt_outs_keys_and_the_length_of_a_summary(world: World) -> None:
    ann = _person(world, "Ann", [])
    bob = _person(world, "Bob", ["email:task.alert"])
    cyd = _person(world, "Cyd", ["in_app:task.alert"])
    dee = _person(world, "Dee", ["task.alert"])
    summary = "alert: " + "x" * 600
    people = [ann, bob, cyd, dee]
    assert _sent(world, world.settings, people, summary) == 4  # 2 feed entries, 2 emails
    feed, mail = _received(world, people)
    assert feed == {(ann, summary[:500]), (bob, summary[:500])}
    assert mail == {(ann, "email", summary), (cyd, "email", summary)}
    assert _sent(world, world.settings, people, summary) == 0  # the same keys: nothing new


def test_no_email_without_an_smtp_server(world: World) -> None:
    eve = _person(world, "Eve", [])
    no_smtp = world.settings.model_copy(update={"smtp_host": None})
    assert _sent(world, no_smtp, [eve], "alert: #1") == 1
    feed, mail = _received(world, [eve])
    assert (feed, mail) == ({(eve, "alert: #1")}, set())
