"""Deliveries that gave up, as the worker leaves them after a receiver refused them
(``tests/workers/test_webhooks.py`` makes them with real processes): for the tests of
what an operator does with them (the doctor, the CLI's retry-dead, the /ops page)."""

from __future__ import annotations

import uuid

from tasks_service.core.settings import Settings
from tasks_service.core.statuses import DeliveryChannel, DeliveryState
from tasks_service.store.db import session_scope
from tasks_service.store.models import Delivery
from tests.helpers.stacks import AccountInfo


def dead_deliveries(
    settings: Settings, account: AccountInfo, webhook_id: int | None, count: int = 1
) -> list[int]:
    """``count`` dead deliveries of the webhook (``webhook_id`` None: mail to the
    account's admin); their ids."""
    with session_scope(settings) as session:
        rows = [
            Delivery(
                account_id=account.account_id,
                webhook_id=webhook_id,
                channel=DeliveryChannel.email if webhook_id is None else DeliveryChannel.webhook,
                person_id=account.admin_id if webhook_id is None else None,
                key=f"test:{uuid.uuid4().hex}",
                event="task.alert",
                # as notify.personal and notify.outbox make them: a replay sends them
                payload=(
                    {"to": f"ada@{account.slug}.example", "subject": "task alert"}
                    if webhook_id is None
                    else {"type": "task.alert", "data": {}}
                ),
                state=DeliveryState.dead,
                attempts=1,
                last_status=None if webhook_id is None else 410,
                last_error="SMTP 550 no such mailbox" if webhook_id is None else None,
            )
            for _ in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id or 0 for row in rows]
