"""Messages to people: an entry in each one's feed, and an email to each when SMTP is
configured, minus what each has opted out of (``Person.notification_opt_outs``)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from tasks_service.core.clock import utcnow
from tasks_service.core.statuses import DeliveryChannel
from tasks_service.notify.message import Message
from tasks_service.notify.outbox import Outbox
from tasks_service.store import lookups
from tasks_service.store.models import Delivery, Notification, Person


def notify_people(
    session: Session,
    outbox: Outbox,
    message: Message,
    person_ids: list[int],
    payload: dict[str, Any],
    *,
    subject: str,
    task_id: int | None = None,
) -> int:
    """Feed entries (and emails, not before ``message.email_not_before``) for these
    people. Keys as for webhooks (``Message.key`` of ``subject``, then the channel and
    the person): replays add nothing. Returns how many messages are new."""
    summary = message.summary or message.event  # a feed entry keeps the first 500
    base = message.key(subject)
    feed: dict[str, Notification] = {}
    mail: dict[str, Delivery] = {}
    for person in lookups.rows_by_id(session, Person, person_ids):
        assert person.id is not None
        outs = set(person.notification_opt_outs)
        if message.event in outs or person.disabled:
            continue
        if f"in_app:{message.event}" not in outs:
            key = f"{base}:in_app:{person.id}"
            feed[key] = Notification(
                account_id=person.account_id,
                person_id=person.id,
                task_id=task_id,
                key=key,
                event=message.event,
                summary=summary[:500],
                payload=payload,
            )
        if outbox.email and f"email:{message.event}" not in outs:
            key = f"{base}:email:{person.id}"
            mail[key] = Delivery(
                account_id=person.account_id,
                channel=DeliveryChannel.email,
                person_id=person.id,
                task_id=task_id,
                key=key,
                event=message.event,
                payload={"to": person.primary_email, "subject": summary, **payload},
                next_attempt_at=message.email_not_before or utcnow(),
            )
    return outbox.add(session, Notification, feed) + outbox.add(session, Delivery, mail)
