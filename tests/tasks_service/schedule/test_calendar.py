"""Calendars, hand-written cases: DST days of 2026 in Amsterdam and New York, NL
year-end holidays, bounds, and spec errors. (The oracle property test is test_calendar_properties.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tasks_service.core.errors import TaskValidationError
from tasks_service.schedule.calendar import Calendar

AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")
WORKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


def office(zone: str, start: str = "09:00", end: str = "17:00", **extra: object) -> Calendar:
    hours = [{"weekday": d, "start": start, "end": end} for d in WORKDAYS]
    return Calendar.from_spec({"time_zone": zone, "hours": hours, **extra})


def all_day(zone: str) -> Calendar:
    days = [*WORKDAYS, "saturday", "sunday"]
    hours = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in days]
    return Calendar.from_spec({"time_zone": zone, "hours": hours})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


ADD_CASES = [
    # Friday 16:00 CET + 2h: 1h on Friday, then Monday after the DST change (CEST).
    (office("Europe/Amsterdam"), datetime(2026, 3, 27, 16, tzinfo=AMS), 120, utc(2026, 3, 30, 8)),
    # Ends exactly at closing time: that closing time.
    (office("Europe/Amsterdam"), datetime(2026, 3, 23, 9, tzinfo=AMS), 480, utc(2026, 3, 23, 16)),
    # Before the opening: counts from the opening.
    (office("Europe/Amsterdam"), datetime(2026, 3, 23, 7, tzinfo=AMS), 30, utc(2026, 3, 23, 8, 30)),
    # After closing: the next opening.
    (office("Europe/Amsterdam"), datetime(2026, 3, 23, 18, tzinfo=AMS), 1, utc(2026, 3, 24, 8, 1)),
    # 24h of service from midnight on the 23-hour day ends at 01:00 the next day.
    (all_day("Europe/Amsterdam"), datetime(2026, 3, 29, tzinfo=AMS), 1440, utc(2026, 3, 29, 23)),
    # ... and on the 25-hour day at 23:00 local (22:00Z) the same day.
    (all_day("Europe/Amsterdam"), datetime(2026, 10, 25, tzinfo=AMS), 1440, utc(2026, 10, 25, 22)),
    # New York springs forward on 8 March: Friday 16:00 EST + 2h ends Monday 10:00 EDT.
    (office("America/New_York"), datetime(2026, 3, 6, 16, tzinfo=NYC), 120, utc(2026, 3, 9, 14)),
    (all_day("America/New_York"), datetime(2026, 11, 1, tzinfo=NYC), 1500, utc(2026, 11, 2, 5)),
    # NL: Christmas and Boxing Day (Fri, Sat) are holidays.
    (
        office("Europe/Amsterdam", holiday_country="NL"),
        datetime(2026, 12, 24, 16, tzinfo=AMS),
        120,
        utc(2026, 12, 28, 9),
    ),
    # Listed holidays too: New Year's Day and the Friday after.
    (
        office("Europe/Amsterdam", holidays=["2027-01-01", "2026-12-31"]),
        datetime(2026, 12, 30, 16, 30, tzinfo=AMS),
        60,
        utc(2027, 1, 4, 8, 30),
    ),
]


@pytest.mark.parametrize(("calendar", "start", "minutes", "expected"), ADD_CASES)
def test_add_service_minutes(
    calendar: Calendar, start: datetime, minutes: int, expected: datetime
) -> None:
    got = calendar.add_service_minutes(start, minutes)
    assert got == expected
    assert got.tzinfo == UTC
    assert calendar.service_minutes_between(start, got) == minutes


@pytest.mark.parametrize(
    ("zone", "day", "minutes"),
    [
        ("Europe/Amsterdam", (2026, 3, 29), 23 * 60),
        ("Europe/Amsterdam", (2026, 10, 25), 25 * 60),
        ("America/New_York", (2026, 3, 8), 23 * 60),
        ("America/New_York", (2026, 11, 1), 25 * 60),
        ("Asia/Kolkata", (2026, 3, 29), 24 * 60),
    ],
)
def test_a_whole_day_counts_the_hours_that_really_passed(
    zone: str, day: tuple[int, int, int], minutes: int
) -> None:
    tz = ZoneInfo(zone)
    start = datetime(*day, tzinfo=tz)
    end = datetime.fromordinal(start.toordinal() + 1).replace(tzinfo=tz)
    assert all_day(zone).service_minutes_between(start, end) == minutes


def test_a_range_across_the_skipped_hour_lasts_what_really_passed() -> None:
    calendar = Calendar.from_spec(
        {
            "time_zone": "America/New_York",
            "hours": [{"weekday": "sunday", "start": "01:00", "end": "04:00"}],
        }
    )
    start, end = datetime(2026, 3, 8, tzinfo=NYC), datetime(2026, 3, 9, tzinfo=NYC)
    assert calendar.service_minutes_between(start, end) == 120
    # A range starting in the skipped hour opens at the change.
    skipped = Calendar.from_spec(
        {
            "time_zone": "America/New_York",
            "hours": [{"weekday": "sunday", "start": "02:30", "end": "04:00"}],
        }
    )
    assert skipped.next_open(start) == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert skipped.service_minutes_between(start, end) == 60


def test_long_durations_are_exact_and_invert() -> None:
    calendar = office("Europe/Amsterdam", holiday_country="NL")
    start = datetime(2026, 1, 5, 9, tzinfo=AMS)
    target = calendar.add_service_minutes(start, 600_000)
    assert calendar.service_minutes_between(start, target) == 600_000
    assert calendar.add_service_minutes(start, 599_999) < target
    assert calendar.is_open(
        target - (target - target.replace(second=0)) - (utc(2000, 1, 1, 0, 1) - utc(2000, 1, 1))
    )


def test_zero_minutes_and_open_questions() -> None:
    calendar = office("Europe/Amsterdam")
    monday_noon = datetime(2026, 3, 23, 12, tzinfo=AMS)
    assert calendar.add_service_minutes(monday_noon, 0) == monday_noon
    assert calendar.is_open(monday_noon)
    saturday = datetime(2026, 3, 28, 12, tzinfo=AMS)
    assert not calendar.is_open(saturday)
    assert calendar.next_open(saturday) == utc(2026, 3, 30, 7)
    assert calendar.next_open(monday_noon) == monday_noon


def test_24x7() -> None:
    calendar = Calendar.from_spec({"is_24x7": True})
    start = utc(2026, 3, 29)
    assert calendar.add_service_minutes(start, 90) == utc(2026, 3, 29, 1, 30)
    assert calendar.service_minutes_between(start, utc(2026, 3, 30)) == 1440


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.add_service_minutes(datetime(2026, 1, 1), 5), "start"),
        (lambda c: c.add_service_minutes(utc(2026, 1, 1), -1), "minutes"),
        (lambda c: c.service_minutes_between(utc(2026, 1, 1), datetime(2026, 1, 2)), "end"),
        (lambda c: c.is_open(datetime(2026, 1, 1)), "moment"),
    ],
)
def test_bad_arguments(call: object, field: str) -> None:
    with pytest.raises(TaskValidationError) as info:
        call(office("UTC"))  # type: ignore[operator]
    assert info.value.params["field"] == field


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"time_zone": "Mars/Olympus", "is_24x7": True}, "IANA"),
        ({"hours": []}, "service hours"),
        ({"hours": [{"weekday": "monday", "start": "10:00", "end": "09:00"}]}, "end after"),
        (
            {
                "hours": [
                    {"weekday": "monday", "start": "08:00", "end": "12:00"},
                    {"weekday": "monday", "start": "11:00", "end": "13:00"},
                ]
            },
            "overlap",
        ),
        ({"hours": [{"weekday": "monday", "start": "8:00", "end": "12:00"}]}, "HH:MM"),
        ({"hours": [{"weekday": "funday", "start": "08:00", "end": "12:00"}]}, "weekday"),
        ({"is_24x7": True, "holiday_country": "XX"}, "holiday country"),
        ({"is_24x7": True, "holiday_country": "NL", "holiday_subdivision": "ZZ"}, "subdivision"),
    ],
)
def test_invalid_specs(spec: dict[str, object], message: str) -> None:
    with pytest.raises(TaskValidationError) as info:
        Calendar.from_spec(spec)
    assert message in str(info.value.to_dict())
