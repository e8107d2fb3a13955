"""An account's world in-process, with the clock controlled (time-machine): calendars,
teams, workflows, tasks made and changed at a moment, and timers fired at a moment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import time_machine
from sqlmodel import select

from tasks_service.commands import drain, task_commands, workflows
from tasks_service.commands.firing import Fired, Firing
from tasks_service.core.settings import Settings
from tasks_service.identity import accounts, directory
from tasks_service.notify.outbox import Outbox
from tasks_service.notify.transport.signing import new_secret
from tasks_service.schedule import calendar_store
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task, TaskEvent, Timer, Webhook
from tasks_service.store.schemas.calendars import CalendarCreate
from tasks_service.store.schemas.directory import AccountUpdate, TeamCreate
from tasks_service.store.schemas.tasks import TaskCreate, TaskUpdate
from tasks_service.store.schemas.workflows import WorkflowCreate
from tests.helpers.stacks import AccountInfo

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


def office(start: str = "09:00", end: str = "17:00", **extra: Any) -> dict[str, Any]:
    """A calendar's rules: weekdays from ``start`` to ``end`` in Amsterdam."""
    return {
        "time_zone": "Europe/Amsterdam",
        "hours": [{"weekday": d, "start": start, "end": end} for d in WEEKDAYS],
        **extra,
    }


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


MONDAY_10 = utc(2026, 11, 23, 9)  # 10:00 in Amsterdam


class World:
    """An account with calendars, a team, a workflow; helpers to make tasks at a time."""

    def __init__(self, settings: Settings, account: AccountInfo) -> None:
        self.settings, self.account = settings, account

    def calendar(self, name: str, spec: dict[str, Any]) -> int:
        with session_scope(self.settings) as session:
            data = CalendarCreate.model_validate({"name": name, **spec})
            return calendar_store.do_create_calendar(session, self.account.account_id, data).id

    def team(self, name: str, calendar_id: int | None = None) -> int:
        with session_scope(self.settings) as session:
            data = TeamCreate(name=name, calendar_id=calendar_id)
            return directory.do_create_team(session, self.account.account_id, data).id

    def workflow(self, calendar_id: int | None) -> int:
        with session_scope(self.settings) as session:
            data = WorkflowCreate(subject="Change", calendar_id=calendar_id)
            return workflows.do_create_workflow(session, self.account.account_id, None, data).id

    def set_default(self, calendar_id: int | None) -> None:
        with session_scope(self.settings) as session:
            accounts.do_update_account(
                session, self.account.account_id, AccountUpdate(calendar_id=calendar_id)
            )

    def task(self, at: datetime, workflow_id: int | None = None, **fields: Any) -> Task:
        with time_machine.travel(at, tick=False), session_scope(self.settings) as session:
            data = TaskCreate.model_validate(
                {"subject": "Restore", "category": "implementation", **fields}
            )
            return task_commands.do_create_task(
                session,
                Outbox(self.settings),
                self.account.account_id,
                None,
                data,
                workflow_id=workflow_id,
            )

    def update(self, task_id: int, at: datetime, **fields: Any) -> Task:
        with time_machine.travel(at, tick=False), session_scope(self.settings) as session:
            data = TaskUpdate.model_validate(fields)
            return task_commands.do_update_task(
                session, Outbox(self.settings), self.account.account_id, None, task_id, data
            )

    def get(self, task_id: int) -> Task:
        with session_scope(self.settings, write=False) as session:
            return session.get(Task, task_id)

    def firing(self) -> Firing:
        """A firing transaction at this moment (the clock as the test set it)."""
        return Firing(self.settings, Outbox(self.settings))

    def fire_due(self, at: datetime) -> Fired:
        """What a woken worker does at ``at``: claim the due timers and fire them in one
        transaction (``commands.drain.fire_due``; what they emit is left unsent). Other
        tests' timers are due too in the shared stack: a claim takes up to 500."""
        with time_machine.travel(at, tick=False):
            return drain.fire_due(self.settings, limit=500)

    def timers(self, task_id: int) -> dict[str, tuple[datetime, str]]:
        """The task's timers: ``{kind: (fire_at, state)}``."""
        with session_scope(self.settings, write=False) as session:
            rows = session.exec(select(Timer).where(Timer.task_id == task_id)).all()
            return {row.kind: (row.fire_at, row.state) for row in rows}

    def timer_actions(self, task_id: int) -> list[str]:
        """The timer actions this task's events show (other tests' timers fire too)."""
        with session_scope(self.settings, write=False) as session:
            events = session.exec(
                select(TaskEvent.action).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
            ).all()
        return [a for a in events if a in ("alert", "start", "wake", "overdue")]

    def timer_of(self, timer_id: int) -> Timer:
        with session_scope(self.settings, write=False) as session:
            return session.get(Timer, timer_id)

    def webhook(self, events: list[str], uri: str = "http://127.0.0.1:9/hooks") -> int:
        """A webhook of the account subscribed to ``events`` (nothing listens there)."""
        with session_scope(self.settings) as session:
            hook = Webhook(
                account_id=self.account.account_id, uri=uri, events=events, secret=new_secret()
            )
            session.add(hook)
            session.flush()
            assert hook.id is not None
            return hook.id
