"""Publishing events about tasks, in the transaction that causes them.

An event (``task.alert``, ``task.overdue``, ``task.waking``, ...) becomes one
``Delivery`` row per webhook of the task's account that subscribes to it, and for
people's events (``PEOPLE_EVENTS``) a feed entry and an email for each person it
concerns (``notify.personal``). Every row's ``key`` (event, task, moment, channel,
receiver) is unique, so an event published again by a replayed firing adds nothing.
The payload (documented in the README)::

    {"type": "task.alert", "timestamp": "...Z", "account": "<slug>", "data": {<task>}}

Sending is ``notify.delivery``'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from tasks_service.core.clock import iso
from tasks_service.core.events import PEOPLE_EVENTS
from tasks_service.identity.audience import concerned
from tasks_service.notify.message import Message
from tasks_service.notify.outbox import Outbox
from tasks_service.notify.personal import notify_people
from tasks_service.querying.serializers.tasks import serialize_task
from tasks_service.store.models import Delivery, Task, Webhook


def publish(session: Session, outbox: Outbox, task: Task, messages: Sequence[Message]) -> int:
    """Publish ``messages`` about ``task`` through ``outbox``: to the webhooks that want
    each, and to the people each concerns. The task is serialized once, and only when
    someone is to hear of it. Returns how many messages are new."""
    hooks = outbox.hooks_of(session, task.account_id)
    audiences = [(message, *_audience(session, task, message, hooks)) for message in messages]
    if not any(to_hooks or to_people for _m, to_hooks, to_people in audiences):
        return 0
    account = outbox.account(session, task.account_id)
    data = serialize_task(session, task, outbox.labels)
    added = 0
    for message, to_hooks, to_people in audiences:
        payload = {
            "type": message.event,
            "timestamp": iso(message.moment),
            "account": account.slug if account else None,
            "data": data,
            **message.extra,
        }
        added += _to_webhooks(session, outbox, task, message, to_hooks, payload)
        if to_people:
            title = message.summary or (
                f"{message.event.removeprefix('task.')}: #{task.id} {task.subject}"
            )
            added += notify_people(
                session,
                outbox,
                dataclasses.replace(message, summary=title),
                to_people,
                payload,
                subject=str(task.id),
                task_id=task.id,
            )
    return added


def _audience(
    session: Session, task: Task, message: Message, hooks: list[Webhook]
) -> tuple[list[Webhook], list[int]]:
    """The webhooks and the people that are to hear of ``message``."""
    to_hooks = [h for h in hooks if message.event in h.events]
    to_people: list[int] = []
    if message.event in PEOPLE_EVENTS:
        people = message.people
        to_people = concerned(session, task, message.event) if people is None else people
    return to_hooks, to_people


def _to_webhooks(
    session: Session,
    outbox: Outbox,
    task: Task,
    message: Message,
    hooks: list[Webhook],
    payload: dict[str, Any],
) -> int:
    base = message.key(str(task.id))
    rows = {
        f"{base}:webhook:{hook.id}": Delivery(
            account_id=task.account_id,
            webhook_id=hook.id,
            task_id=task.id,
            key=f"{base}:webhook:{hook.id}",
            event=message.event,
            payload=payload,
        )
        for hook in hooks
    }
    return outbox.add(session, Delivery, rows)
