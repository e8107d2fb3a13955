"""Calendars as account data: the ``/calendars`` resource, which calendar a task uses,
and the built calendars, shared.

A task uses, in this order: 24x7 when ``work_hours_are_24x7`` is set, the calendar
chosen for the task itself (``chosen_calendar_id``: Trackops' ``calendar_id``), the
calendar of its team, of its workflow, of the account; with none of those, 24x7.
``Calendar`` objects are built once per (id, version) and shared: building one is
parsing its rules; its timeline is then extended on demand and kept
(``schedule.calendar``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, date, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlmodel import Session

from tasks_service.core.clock import utcnow
from tasks_service.core.validation import provided, validate
from tasks_service.schedule.calendar import Calendar
from tasks_service.store import background, lookups
from tasks_service.store.models import Calendar as CalendarRow
from tasks_service.store.models import Operation, Task
from tasks_service.store.schemas.calendars import (
    RULES,
    CalendarCreate,
    CalendarSpec,
    CalendarUpdate,
    rules_of,
)

#: The built-in calendar of tasks with no calendar (and of ``work_hours_are_24x7``).
ALWAYS = Calendar.from_spec({"is_24x7": True})

_TAKEN = "another calendar has this name"


class BuiltCalendars:
    """The ``Calendar`` of each stored calendar, built once per (id, version) and
    shared by every caller of the process (building one takes ~0.1 s; its timeline then
    grows on demand). A new version is a new key, so an entry is never stale; the
    least recently used go beyond ``size``."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._built: OrderedDict[tuple[int, int, datetime], Calendar] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, row: CalendarRow) -> Calendar:
        # ``created_at`` too: a process that opens two databases (the tests do) sees
        # calendar 1 version 1 in both, and they are not the same calendar.
        key = (row.id or 0, row.version, row.created_at)
        with self._lock:
            calendar = self._built.get(key)
            if calendar is not None:
                self._built.move_to_end(key)
                return calendar
        calendar = Calendar.from_spec(rules_of(row))
        with self._lock:
            self._built[key] = calendar
            while len(self._built) > self.size:
                self._built.popitem(last=False)
        return calendar


#: The process's built calendars: pure values keyed by version, safe to share.
BUILT = BuiltCalendars()


# --- which calendar a task uses ---------------------------------------------------------


class WouldBeTask(lookups.HasContainers, Protocol):
    """What decides a task's calendar: an existing task, or the fields of one to come
    (with the calendar chosen for it, if any, given apart)."""

    @property
    def work_hours_are_24x7(self) -> bool: ...


def calendar_for(session: Session, task: WouldBeTask, chosen: int | None = None) -> int | None:
    """The id of the calendar a task (or one to come) uses, None for 24x7: 24x7 when
    ``work_hours_are_24x7``, else ``chosen`` (the calendar chosen for the task itself),
    else its team's, its workflow's, the account's (``lookups.named_for``)."""
    if task.work_hours_are_24x7:
        return None
    return chosen if chosen is not None else lookups.named_for(session, task, "calendar_id")


def applicable_calendar_id(session: Session, task: Task) -> int | None:
    """The id of the calendar the task uses, None for 24x7."""
    return calendar_for(session, task, task.chosen_calendar_id)


def end_of_day(
    session: Session, task: WouldBeTask, day: date, chosen: int | None = None
) -> datetime:
    """The last second of ``day`` in the zone of the task's calendar (``calendar_for``;
    UTC when it runs 24x7): what a date-only due date means."""
    calendar_id = calendar_for(session, task, chosen)
    row = None if calendar_id is None else _row(session, calendar_id)
    zone = UTC if row is None else ZoneInfo(row.time_zone)
    return datetime.combine(day, time(23, 59, 59), zone).astimezone(UTC)


def _row(session: Session, calendar_id: int) -> CalendarRow | None:
    """The calendar's row, held by the session (``lookups.keep``): a recompute asks for
    a task's chosen calendar for each of its tasks, and no team holds it for them."""
    return lookups.keep(session, session.get(CalendarRow, calendar_id))


def calendar_by_id(session: Session, calendar_id: int | None) -> Calendar:
    if calendar_id is None:
        return ALWAYS
    row = _row(session, calendar_id)
    return ALWAYS if row is None else BUILT.of(row)


# --- the resource -----------------------------------------------------------------------


def _stored_rules(spec: CalendarSpec) -> dict[str, Any]:
    data = spec.model_dump(mode="json", include=set(RULES))
    # store what the client wrote: "24:00" for the end of the day, not null
    data["hours"] = [
        {"weekday": h.weekday, "start": _clock(h.start), "end": _clock(h.end)} for h in spec.hours
    ]
    return data


def _clock(value: Any) -> str:
    return "24:00" if value is None else str(value.strftime("%H:%M"))


def do_create_calendar(session: Session, account_id: int, data: CalendarCreate) -> CalendarRow:
    """Raises: TaskValidationError (a taken name)."""
    lookups.ensure_free(session, CalendarRow, account_id, "name", data.name, None, _TAKEN)
    row = CalendarRow(account_id=account_id, name=data.name, **_stored_rules(data))
    lookups.store_unique(session, row, "name", _TAKEN)
    return row


def do_update_calendar(
    session: Session,
    account_id: int,
    calendar_id: int,
    data: CalendarUpdate,
    person_id: int | None = None,
) -> tuple[CalendarRow, Operation | None]:
    """Change the fields sent. Returns the calendar and, when its rules changed (then
    its version goes up), the recompute of its open tasks' targets this requested
    (``store.background``).

    Raises: NotFound; TaskValidationError (the merged calendar is validated whole).
    """
    row = lookups.get(session, CalendarRow, account_id, calendar_id)
    changes = provided(data)
    if "name" in changes:
        name = changes.pop("name")
        lookups.ensure_free(session, CalendarRow, account_id, "name", name, calendar_id, _TAKEN)
        row.name = name
    merged = validate(CalendarSpec, {**rules_of(row), **changes})
    new_rules = _stored_rules(merged)
    rules_changed = new_rules != rules_of(row)
    if rules_changed:
        for name, value in new_rules.items():
            setattr(row, name, value)
        row.version += 1
    row.updated_at = utcnow()
    lookups.store_unique(session, row, "name", _TAKEN)
    if not rules_changed:
        return row, None
    scope = {"calendar_id": calendar_id}
    return row, background.request_recompute(session, account_id, person_id, scope)
