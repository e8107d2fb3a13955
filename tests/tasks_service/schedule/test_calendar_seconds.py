"""Service time to the microsecond (``add_service_time``, ``service_time_between``): a
percent of a planned duration and a pause of 65 seconds are not whole minutes. They
agree with the minute questions on whole minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasks_service.core.errors import TaskValidationError
from tasks_service.schedule.calendar import Calendar

WORKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
OFFICE = Calendar.from_spec(
    {
        "time_zone": "Europe/Amsterdam",
        "hours": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in WORKDAYS],
    }
)
AROUND_THE_CLOCK = Calendar.from_spec({"time_zone": "UTC", "is_24x7": True})
MONDAY_16_59 = datetime(2026, 11, 23, 15, 59, tzinfo=UTC)  # 16:59 in Amsterdam


@pytest.mark.parametrize("calendar", [OFFICE, AROUND_THE_CLOCK], ids=["office", "24x7"])
def test_seconds_are_kept(calendar: Calendar) -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)  # Monday 10:00 in Amsterdam
    for duration in (timedelta(seconds=6), timedelta(seconds=65), timedelta(microseconds=1)):
        end = calendar.add_service_time(start, duration)
        assert end == start + duration
        assert calendar.service_time_between(start, end) == duration
        assert calendar.service_time_between(end, start) == -duration
    # on whole minutes, the same as the minute questions
    for minutes in (0, 1, 59, 481, 10_000):
        end = calendar.add_service_time(start, timedelta(minutes=minutes))
        assert end == calendar.add_service_minutes(start, minutes)
        assert calendar.service_minutes_between(start, end) == minutes


def test_seconds_across_the_closing_time() -> None:
    # 40 s from 16:59:30: 30 s on Monday, 10 s from Tuesday's opening
    start = MONDAY_16_59 + timedelta(seconds=30)
    end = OFFICE.add_service_time(start, timedelta(seconds=40))
    assert end == datetime(2026, 11, 24, 8, 0, 10, tzinfo=UTC)
    assert OFFICE.service_time_between(start, end) == timedelta(seconds=40)
    # a minute question of the same stretch says 0 whole minutes
    assert OFFICE.service_minutes_between(start, end) == 0


def test_bad_durations() -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    for bad in (timedelta(seconds=-1), 5, None):
        with pytest.raises(TaskValidationError) as info:
            OFFICE.add_service_time(start, bad)  # type: ignore[arg-type]
        assert info.value.errors[0]["field"] == "duration"
    with pytest.raises(TaskValidationError):
        OFFICE.service_time_between(start, datetime(2026, 11, 23, 9))  # naive
