"""The outbox of one unit of work: the messages its changes emit, added in its own
transaction (so they exist exactly when the change does), and what it knows for that.

An ``Outbox`` is made by whoever opens the unit of work (an operation's worker, the
Python API, a chunk of timer firings) and handed to the commands, which publish
through it (``notify.publish``). It carries:

- the settings (whether email is on);
- ``emitted``: the deliveries it added, which a firing worker claims and sends right
  after commit (``notify.delivery.claim_emitted``); anything else leaves them to the sweep;
- ``labels``: task labels its commands wrote or loaded, so that serializing those tasks
  for a payload or a response needs no query for them;
- for a chunk of firings, the webhooks and accounts of its tasks, loaded once
  (``preload``). A preloaded outbox adds messages without first asking which keys are
  stored: the keys' unique constraint fails the chunk's flush instead, and the chunk
  is fired again one timer at a time (``commands.firing``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from tasks_service.core.settings import Settings
from tasks_service.querying.serializers.tasks import labels_of
from tasks_service.store.models import Account, Delivery, Task, Webhook


@dataclass
class Outbox:
    settings: Settings
    emitted: list[Delivery] = field(default_factory=list)
    labels: dict[int, list[str]] = field(default_factory=dict)
    hooks: dict[int, list[Webhook]] | None = None
    accounts: dict[int, Account] | None = None

    @property
    def email(self) -> bool:
        """Whether people get email (an SMTP server is configured)."""
        return bool(self.settings.smtp_host)

    def preload(self, session: Session, tasks: list[Task]) -> None:
        """Load once what publishing about these tasks looks up: each account's enabled
        webhooks and row, each task's labels."""
        account_ids = {task.account_id for task in tasks}
        self.hooks = {account_id: [] for account_id in account_ids}
        for hook in enabled_hooks(session, account_ids):
            self.hooks[hook.account_id].append(hook)
        accounts = session.exec(select(Account).where(col(Account.id).in_(account_ids)))
        self.accounts = {account.id or 0: account for account in accounts}
        task_ids = [task.id for task in tasks if task.id is not None]
        self.labels.update({task_id: [] for task_id in task_ids})
        self.labels.update(labels_of(session, task_ids))

    def preload_account(self, session: Session, account_id: int) -> None:
        """Load once the account's enabled webhooks and row, for publishing about many
        tasks made in this transaction (a workflow's plan): what is published about
        them cannot be stored already, so nothing is looked up again either."""
        self.hooks = {**(self.hooks or {}), account_id: enabled_hooks(session, {account_id})}
        account = session.get(Account, account_id)
        if account is not None:
            self.accounts = {**(self.accounts or {}), account_id: account}

    def hooks_of(self, session: Session, account_id: int) -> list[Webhook]:
        if self.hooks is not None and account_id in self.hooks:
            return list(self.hooks[account_id])
        return enabled_hooks(session, {account_id})

    def account(self, session: Session, account_id: int) -> Account | None:
        if self.accounts is not None and account_id in self.accounts:
            return self.accounts[account_id]
        return session.get(Account, account_id)

    def add(self, session: Session, model: Any, rows: Mapping[str, Any]) -> int:
        """Add the rows (by ``key``) that are not stored yet, in one query for all: a
        replayed firing finds its messages and adds nothing. Returns how many are new."""
        if not rows:
            return 0
        stored: set[str] = set()
        if self.hooks is None:  # not a preloaded chunk: see the module's docstring
            stored = set(session.exec(select(model.key).where(col(model.key).in_(list(rows)))))
        for key, row in rows.items():
            if key not in stored:
                session.add(row)
                if model is Delivery:
                    self.emitted.append(row)
        return len(rows) - len(stored)


def enabled_hooks(session: Session, account_ids: set[int]) -> list[Webhook]:
    """The enabled webhooks of these accounts, in id order: one query."""
    query = select(Webhook).where(
        col(Webhook.account_id).in_(account_ids), col(Webhook.disabled).is_(False)
    )
    return list(session.exec(query.order_by(col(Webhook.id))))
