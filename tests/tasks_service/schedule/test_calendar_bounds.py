"""The calendar engine's arguments stay within the API's own range (issue 14): a huge
number of minutes or a moment near datetime's limits is a ``TaskValidationError``
naming the argument, at once, never a bare ValueError/OverflowError or a search that
does not end."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tasks_service.core.errors import TaskValidationError
from tasks_service.core.validation import MAX_SERVICE_MINUTES
from tasks_service.schedule.calendar import Calendar

WORKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
SPEC = {
    "time_zone": "Europe/Amsterdam",
    "hours": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in WORKDAYS],
}
OFFICE = Calendar.from_spec({**SPEC, "holiday_country": "NL"})
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _refused(call: object, field: str) -> None:
    began = time.monotonic()
    with pytest.raises(TaskValidationError) as info:
        call()  # type: ignore[operator]
    assert time.monotonic() - began < 2
    assert info.value.errors[0]["field"] == field, info.value.to_dict()


def test_the_longest_allowed_count_is_answered_quickly() -> None:
    began = time.monotonic()
    target = OFFICE.add_service_minutes(START, MAX_SERVICE_MINUTES)  # 10**7: took 14.6 s
    assert time.monotonic() - began < 5
    assert OFFICE.service_minutes_between(START, target) == MAX_SERVICE_MINUTES
    assert OFFICE.subtract_service_minutes(target, MAX_SERVICE_MINUTES) == START


@pytest.mark.parametrize("minutes", [MAX_SERVICE_MINUTES + 1, 10**9, 10**30])
def test_more_minutes_than_any_plan_are_refused(minutes: int) -> None:
    for calendar in (OFFICE, Calendar.from_spec({"is_24x7": True})):
        _refused(lambda c=calendar: c.add_service_minutes(START, minutes), "minutes")
        _refused(lambda c=calendar: c.subtract_service_minutes(START, minutes), "minutes")


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))),
        datetime(1899, 12, 31, tzinfo=UTC),
        datetime(3000, 1, 1, tzinfo=UTC),
    ],
)
def test_moments_outside_the_api_range_are_refused(moment: datetime) -> None:
    for calendar in (OFFICE, Calendar.from_spec({"is_24x7": True})):
        _refused(lambda c=calendar: c.add_service_minutes(moment, 5), "start")
        _refused(lambda c=calendar: c.subtract_service_minutes(moment, 5), "end")
        _refused(lambda c=calendar: c.service_minutes_between(START, moment), "end")
        _refused(lambda c=calendar: c.service_minutes_between(moment, START), "start")
        _refused(lambda c=calendar: c.is_open(moment), "moment")
        _refused(lambda c=calendar: c.next_open(moment), "moment")


def test_an_answer_past_the_api_range_is_refused() -> None:
    late = datetime(2999, 6, 1, tzinfo=UTC)
    _refused(lambda: Calendar.from_spec(SPEC).add_service_minutes(late, 1_000_000), "minutes")
    _refused(
        lambda: Calendar.from_spec({"is_24x7": True}).add_service_minutes(late, 10**6), "minutes"
    )
    early = datetime(1900, 6, 1, tzinfo=UTC)
    _refused(lambda: Calendar.from_spec(SPEC).subtract_service_minutes(early, 10**6), "minutes")


def test_a_calendar_without_service_for_years_looks_further() -> None:
    """Every Monday of 2026 and 2027 a holiday: the first opening is in 2028 (was a
    ValueError, "no service time in these years")."""
    mondays = [str(datetime(2026, 1, 5) + timedelta(weeks=w))[:10] for w in range(104)]
    calendar = Calendar.from_spec(
        {
            "time_zone": "UTC",
            "hours": [{"weekday": "monday", "start": "09:00", "end": "10:00"}],
            "holidays": mondays,
        }
    )
    assert calendar.next_open(START) == datetime(2028, 1, 3, 9, tzinfo=UTC)
    assert calendar.add_service_minutes(START, 30) == datetime(2028, 1, 3, 9, 30, tzinfo=UTC)
    assert not calendar.is_open(START)
