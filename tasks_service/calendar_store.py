"""Calendars as account data: the ``/calendars`` resource, which calendar a task uses,
and a cache of built calendars.

A task uses, in this order: 24x7 when ``work_hours_are_24x7`` is set, the calendar of
its team, of its workflow, of the account; with none of those, 24x7. ``Calendar``
objects are built once per (id, version) and shared: building one is parsing its rules;
its timeline is then extended on demand and kept (``tasks_service.calendars``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlmodel import Session

from tasks_service.calendars import Calendar
from tasks_service.db import ensure_free
from tasks_service.errors import NotFound, field_error
from tasks_service.models import Account, Task, Team, Workflow, utcnow
from tasks_service.models import Calendar as CalendarRow
from tasks_service.schemas import CalendarCreate, CalendarSpec, CalendarUpdate, provided, validate

#: The built-in calendar of tasks with no calendar (and of ``work_hours_are_24x7``).
ALWAYS = Calendar.from_spec({"is_24x7": True})
#: What a calendar's rules are: changing one of these moves targets.
RULES = ("time_zone", "hours", "holidays", "holiday_country", "holiday_subdivision", "is_24x7")

_TAKEN = "another calendar has this name"
_CACHE_SIZE = 256
_cache: OrderedDict[tuple[int, int], Calendar] = OrderedDict()
_cache_lock = threading.Lock()


def spec_of(row: CalendarRow) -> dict[str, Any]:
    """The calendar's rules in their REST form (what ``Calendar.from_spec`` takes)."""
    return {
        "time_zone": row.time_zone,
        "hours": row.hours,
        "holidays": row.holidays,
        "holiday_country": row.holiday_country,
        "holiday_subdivision": row.holiday_subdivision,
        "is_24x7": row.is_24x7,
    }


def built(row: CalendarRow) -> Calendar:
    """The ``Calendar`` of this row, shared by every caller while its version holds."""
    key = (row.id or 0, row.version)
    with _cache_lock:
        calendar = _cache.get(key)
        if calendar is not None:
            _cache.move_to_end(key)
            return calendar
    calendar = Calendar.from_spec(spec_of(row))
    with _cache_lock:
        _cache[key] = calendar
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return calendar


# --- which calendar a task uses ---------------------------------------------------------


def applicable_calendar_id(session: Session, task: Task) -> int | None:
    """The id of the calendar the task uses, None for 24x7. Loads by primary key, so
    rows already in the session (the team just checked, the workflow locked) are free."""
    if task.work_hours_are_24x7:
        return None
    if task.team_id is not None:
        team = session.get(Team, task.team_id)
        if team is not None and team.calendar_id is not None:
            return team.calendar_id
    if task.workflow_id is not None:
        workflow = session.get(Workflow, task.workflow_id)
        if workflow is not None and workflow.calendar_id is not None:
            return workflow.calendar_id
    account = session.get(Account, task.account_id)
    return account.calendar_id if account is not None else None


def calendar_by_id(session: Session, calendar_id: int | None) -> Calendar:
    if calendar_id is None:
        return ALWAYS
    row = session.get(CalendarRow, calendar_id)
    return ALWAYS if row is None else built(row)


# --- the resource -----------------------------------------------------------------------


def find_calendar(session: Session, account_id: int, calendar_id: int) -> CalendarRow | None:
    row = session.get(CalendarRow, calendar_id)
    return row if row is not None and row.account_id == account_id else None


def get_calendar(session: Session, account_id: int, calendar_id: int) -> CalendarRow:
    """Raises: NotFound (also for another account's calendar)."""
    row = find_calendar(session, account_id, calendar_id)
    if row is None:
        raise NotFound(f"no calendar {calendar_id}")
    return row


def check_calendar_ref(session: Session, account_id: int, calendar_id: int | None) -> None:
    """A ``calendar_id`` given in a request names a calendar of this account.
    Raises: TaskValidationError (field ``calendar_id``)."""
    if calendar_id is not None and find_calendar(session, account_id, calendar_id) is None:
        raise field_error("calendar_id", "not_found", f"no calendar {calendar_id}")


def _spec_json(spec: CalendarSpec) -> dict[str, Any]:
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
    ensure_free(session, CalendarRow, account_id, "name", data.name, None, _TAKEN)
    row = CalendarRow(account_id=account_id, name=data.name, **_spec_json(data))
    session.add(row)
    session.flush()
    return row


def do_update_calendar(
    session: Session, account_id: int, calendar_id: int, data: CalendarUpdate
) -> tuple[CalendarRow, bool]:
    """Change the fields sent; returns the calendar and whether its rules changed (then
    its version goes up, and the targets of its open tasks need recomputing).

    Raises: NotFound; TaskValidationError (the merged calendar is validated whole).
    """
    row = get_calendar(session, account_id, calendar_id)
    changes = provided(data)
    if "name" in changes:
        ensure_free(session, CalendarRow, account_id, "name", changes["name"], calendar_id, _TAKEN)
        row.name = changes.pop("name")
    merged = validate(CalendarSpec, {**spec_of(row), **changes})
    new_rules = _spec_json(merged)
    rules_changed = new_rules != spec_of(row)
    if rules_changed:
        for name, value in new_rules.items():
            setattr(row, name, value)
        row.version += 1
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row, rules_changed
