"""``Calendar`` against the oracle (tests/calendar_oracle.py), by hypothesis.

Calendars are drawn to hit what breaks calendar code: zones with DST (Amsterdam, New
York, Lord Howe's 30-minute shift, Sao Paulo's historic midnight changes) and without
(Kolkata, UTC); ranges whose bounds sit inside the skipped or repeated hour; several
ranges a day, touching ones, 00:00-24:00 days; listed holidays in runs and on weekends,
a country's holidays. Starts fall near a DST change, on range bounds (either side of a
repeated hour), before, inside and after ranges.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tasks_service.schedule.calendar import Calendar
from tests.helpers.calendar_oracle import WEEKDAYS, Oracle

# Zones and moments near which to start: their DST changes (found by scanning), or any
# date for zones without.
ZONE_YEARS = {
    "Europe/Amsterdam": (2026,),
    "America/New_York": (2026,),
    "Australia/Lord_Howe": (2026,),
    "America/Sao_Paulo": (2017, 2018, 2019),  # DST ended in 2019; changes at midnight
    "Asia/Kolkata": (2026,),
    "UTC": (2026,),
}
# Bounds that land in or next to DST hours (01:00-03:00 in most zones, 00:00 in
# Sao Paulo, 02:00-02:30 on Lord Howe), at lunch, and at the ends of the day.
BOUNDS = ["00:00", "00:30", "01:00", "01:30", "02:00", "02:15", "02:30", "03:00"]
BOUNDS += ["08:00", "09:00", "12:30", "13:30", "17:00", "23:00", "23:30", "24:00"]
COUNTRIES = [None, None, "NL", "US", "BR", "AU", "IN"]


def _changes(zone: str, year: int) -> list[datetime]:
    tz = ZoneInfo(zone)
    hour = datetime(year, 1, 1, tzinfo=UTC)
    changes = []
    while hour.year == year:
        after = hour + timedelta(hours=1)
        if hour.astimezone(tz).utcoffset() != after.astimezone(tz).utcoffset():
            changes.append(after)
        hour = after
    return changes or [datetime(year, 6, 15, tzinfo=UTC)]


ANCHORS = {
    zone: [c for y in years for c in _changes(zone, y)] for zone, years in ZONE_YEARS.items()
}


@st.composite
def day_ranges(draw: st.DrawFn, bounds: list[str]) -> list[tuple[str, str]]:
    """Non-overlapping ranges of one day, some touching."""
    points = sorted(set(draw(st.lists(st.sampled_from(bounds), min_size=2, max_size=6))))
    keep = draw(st.lists(st.booleans(), min_size=len(points), max_size=len(points)))
    return [(a, b) for a, b, k in zip(points, points[1:], keep, strict=False) if k]


def _around_the_change(anchor: datetime, zone: str) -> tuple[list[str], list[str]]:
    """The weekdays on which a DST change falls (just before and at it, which differ
    when clocks go back at midnight) and wall times within an hour of the change on
    either side: bounds that fall inside the skipped or repeated time."""
    tz = ZoneInfo(zone)
    walls = [(anchor - timedelta(microseconds=1)).astimezone(tz), anchor.astimezone(tz)]
    days = sorted({WEEKDAYS[w.weekday()] for w in walls})
    bounds = set()
    for wall in walls:
        for quarter in range(-4, 5):
            moment = (wall + timedelta(minutes=15 * quarter)).replace(second=0, microsecond=0)
            bounds.add(moment.strftime("%H:%M"))
    return days, sorted(bounds)


SHAPES = {
    "office": {d: [("09:00", "17:00")] for d in WEEKDAYS[:5]},
    "lunch": {d: [("08:00", "12:30"), ("13:30", "17:00")] for d in WEEKDAYS[:5]},
    "all_day": {d: [("00:00", "24:00")] for d in WEEKDAYS},
    "nights": {d: [("00:00", "03:00"), ("23:00", "24:00")] for d in WEEKDAYS},
}


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], datetime, int, datetime]:
    zone = draw(st.sampled_from(sorted(ZONE_YEARS)))
    anchor = draw(st.sampled_from(ANCHORS[zone]))
    shape = draw(st.sampled_from([*SHAPES, "drawn"]))
    by_day = {d: draw(day_ranges(BOUNDS)) for d in WEEKDAYS} if shape == "drawn" else SHAPES[shape]
    if draw(st.booleans()):  # ranges that begin or end inside the changed hour
        days, near = _around_the_change(anchor, zone)
        by_day = {**by_day, **{d: draw(day_ranges(near + near + BOUNDS)) for d in days}}
    hours = [{"weekday": d, "start": s, "end": e} for d in WEEKDAYS for s, e in by_day.get(d, [])]
    if not hours:
        hours = [{"weekday": "wednesday", "start": "02:00", "end": "03:00"}]
    holidays = []
    for _ in range(draw(st.integers(0, 3))):  # runs of consecutive days near the anchor
        first = anchor.date() + timedelta(days=draw(st.integers(-3, 15)))
        holidays += [first + timedelta(days=i) for i in range(draw(st.integers(1, 4)))]
    spec: dict[str, Any] = {
        "time_zone": zone,
        "hours": hours,
        "holidays": sorted({d.isoformat() for d in holidays}),
    }
    if country := draw(st.sampled_from(COUNTRIES)):
        spec["holiday_country"] = country

    if draw(st.booleans()):  # near the change
        start = anchor + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    else:  # on a range bound, either occurrence of a repeated wall time
        item = draw(st.sampled_from(hours))
        day = anchor.astimezone(ZoneInfo(zone)).date() + timedelta(days=draw(st.integers(-2, 2)))
        clock = draw(st.sampled_from([item["start"], item["end"]]))
        if clock == "24:00":
            day, clock = day + timedelta(days=1), "00:00"
        local = datetime.combine(day, datetime.strptime(clock, "%H:%M").time())
        start = local.replace(tzinfo=ZoneInfo(zone), fold=draw(st.integers(0, 1)))
        start = start.astimezone(UTC)
    weekly = sum(
        _clock(h["end"]) - _clock(h["start"]) for h in hours
    )  # wall minutes a week, to keep the oracle's walk short
    minutes = draw(st.integers(0, 3 * weekly))
    end = start + timedelta(minutes=draw(st.integers(-3 * 1440, 7 * 1440)))
    return spec, start, minutes, end


def _clock(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


SAO_PAULO_SATURDAY = {
    "time_zone": "America/Sao_Paulo",
    "hours": [{"weekday": "saturday", "start": "00:30", "end": "23:00"}],
}
SAO_PAULO_2018 = {
    "time_zone": "America/Sao_Paulo",
    "hours": [{"weekday": d, "start": "00:00", "end": "24:00"} for d in WEEKDAYS],
}


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
# Sao Paulo fell back at midnight on 18 Feb 2018 (Saturday 23:00 happened twice).
@example(
    (SAO_PAULO_2018, datetime(2018, 2, 17, 12, tzinfo=UTC), 3000, datetime(2018, 2, 19, tzinfo=UTC))
)
# A range ending at 23:00 on the Saturday whose 23:00-24:00 happened twice: it runs
# until the clock shows 23:00 for the last time (found by this test, in the oracle).
@example(
    (
        SAO_PAULO_SATURDAY,
        datetime(2017, 2, 19, 1, 58, tzinfo=UTC),
        1,
        datetime(2017, 2, 19, 2, tzinfo=UTC),
    )
)
@example(
    (
        SAO_PAULO_SATURDAY,
        datetime(2017, 2, 19, 2, tzinfo=UTC),
        0,
        datetime(2017, 2, 19, 1, 59, tzinfo=UTC),
    )
)
def test_calendar_agrees_with_the_oracle(
    case: tuple[dict[str, Any], datetime, int, datetime],
) -> None:
    spec, start, minutes, end = case
    calendar, oracle = Calendar.from_spec(spec), Oracle(spec)

    target = calendar.add_service_minutes(start, minutes)
    assert target == oracle.add(start, minutes), "add_service_minutes"
    assert calendar.service_minutes_between(start, end) == oracle.between(start, end), "between"
    # the inverse: the service time up to the target is what was added
    assert calendar.service_minutes_between(start, target) == minutes
    assert calendar.is_open(start) == oracle.is_open(start), "is_open"
    assert calendar.next_open(start) == oracle.next_open(start), "next_open"
    # counting back from ``end``: exactly ``minutes`` remain from there, and from a
    # minute later one fewer (it is the latest such instant)
    back = calendar.subtract_service_minutes(end, minutes)
    assert oracle.between(back, end) == minutes, "subtract_service_minutes"
    if minutes:
        assert oracle.between(back + timedelta(minutes=1), end) == minutes - 1, "latest"


# Bounds inside a repeated hour, which random draws reach only now and then: a range
# opens at the first time the clock shows its start and closes at the last time it shows
# its end, so it holds the whole repeated stretch in between.
@pytest.mark.parametrize(
    ("zone", "weekday", "start", "end", "around", "minutes"),
    [
        ("Europe/Amsterdam", "sunday", "02:30", "05:00", (2026, 10, 25), 210),
        ("Europe/Amsterdam", "sunday", "01:00", "02:30", (2026, 10, 25), 150),
        ("America/New_York", "sunday", "01:30", "04:00", (2026, 11, 1), 210),
        ("Australia/Lord_Howe", "sunday", "01:45", "03:00", (2026, 4, 5), 105),
        ("America/Sao_Paulo", "saturday", "23:15", "24:00", (2018, 2, 17), 105),
        ("America/Sao_Paulo", "saturday", "22:00", "23:00", (2017, 2, 18), 120),
    ],
)
def test_ranges_bounded_inside_a_repeated_hour(
    zone: str, weekday: str, start: str, end: str, around: tuple[int, int, int], minutes: int
) -> None:
    spec = {"time_zone": zone, "hours": [{"weekday": weekday, "start": start, "end": end}]}
    day = datetime(*around, tzinfo=UTC)
    a, b = day - timedelta(days=1), day + timedelta(days=2)
    assert Oracle(spec).between(a, b) == minutes
    calendar = Calendar.from_spec(spec)
    assert calendar.service_minutes_between(a, b) == minutes
    assert calendar.add_service_minutes(a, minutes) == Oracle(spec).add(a, minutes)
