"""A slow, obviously-right calendar: the oracle that ``schedule.calendar`` is checked
against (by the property tests, and by ``benchmarks/calendars.py``).

It shares no code with the implementation. It walks real time one UTC minute at a
time, asks the zone what the wall clock shows (``datetime.fromtimestamp``), and decides
whether that minute is service time by the rule the calendar documents: a range
``S``-``E`` of local day ``D`` is open from the first instant the wall clock reaches
``S`` to the last instant it still shows ``E`` or less. With ``W(t)`` the wall clock at
minute ``t``, minute ``[t, t+1)`` lies in that range when

* the clock has already reached ``S``: ``max(W(t') for t' <= t) >= D+S``, and
* the clock still shows ``E`` or less at the minute's end or later. Just before a whole
  minute ``t'`` the clock shows ``W(t'-1) + 1 min`` (it differs from ``W(t')`` when
  clocks jump), at ``t'`` itself ``W(t')``; so the condition is
  ``min(W(t) + 1 min, min(W(t') for t' > t)) <= D+E``.

No folds, no offsets, no bisection: repeated and skipped wall times fall out of the
running max and min. Instants are whole UTC minutes; the oracle refuses others.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holiday_sets

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = 1440
_MARGIN = 2 * _DAY  # wider than any DST shift, so the running max and min are exact


def _clock(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def minute_of(moment: datetime) -> int:
    """Whole UTC minutes since 1970 (the oracle's only unit)."""
    delta = moment - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    if seconds % 60 or delta.microseconds:
        raise ValueError(f"the oracle takes whole minutes, not {moment}")
    return seconds // 60


def moment_of(minute: int) -> datetime:
    return _EPOCH + timedelta(minutes=minute)


class Oracle:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.zone = ZoneInfo(spec.get("time_zone", "UTC"))
        self.is_24x7 = bool(spec.get("is_24x7"))
        self.ranges: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
        for item in spec.get("hours", []):
            self.ranges[WEEKDAYS.index(item["weekday"])].append(
                (_clock(item["start"]), _clock(item["end"]))
            )
        self.listed = {date.fromisoformat(d) for d in spec.get("holidays", [])}
        country = spec.get("holiday_country")
        self.country = (
            holiday_sets.country_holidays(country, subdiv=spec.get("holiday_subdivision"))
            if country
            else None
        )
        self._holiday: dict[int, bool] = {}
        self.lo = self.hi = 0
        self.prefix = array("q")  # prefix[i]: open minutes in [lo, lo + i)

    # -- answers -----------------------------------------------------------------------

    def is_open(self, moment: datetime) -> bool:
        t = minute_of(moment)
        self._cover(t, t + 1)
        return self.prefix[t + 1 - self.lo] > self.prefix[t - self.lo]

    def between(self, start: datetime, end: datetime) -> int:
        a, b = minute_of(start), minute_of(end)
        if b < a:
            return -self.between(end, start)
        self._cover(a, b)
        return self.prefix[b - self.lo] - self.prefix[a - self.lo]

    def add(self, start: datetime, minutes: int) -> datetime:
        a = minute_of(start)
        if minutes == 0:
            return moment_of(a)
        span = 7 * _DAY
        while True:
            self._cover(a, a + span)
            goal = self.prefix[a - self.lo] + minutes
            if self.prefix[-1] >= goal:
                # the first i with prefix[i] == goal: the end of the minutes-th open minute
                return moment_of(self.lo + bisect_left(self.prefix, goal))
            span *= 2

    def next_open(self, moment: datetime) -> datetime:
        return self.add(moment, 1) - timedelta(minutes=1)

    # -- the minute table --------------------------------------------------------------

    def _cover(self, a: int, b: int) -> None:
        if self.prefix and self.lo <= a and b <= self.hi:
            return
        lo = min(a, self.lo) if self.prefix else a
        hi = max(b, self.hi) if self.prefix else b
        self._build(lo - _DAY, hi + _DAY)

    def _build(self, lo: int, hi: int) -> None:
        count = hi - lo
        walls = [
            self._wall(lo - _MARGIN + i) for i in range(count + 2 * _MARGIN)
        ]  # local wall minutes since 1970-01-01 00:00 local
        reached = array("q", walls)
        for i in range(1, len(reached)):
            reached[i] = max(reached[i], reached[i - 1])
        later = array("q", walls)  # later[i]: min(W) from i on
        for i in range(len(later) - 2, -1, -1):
            later[i] = min(later[i], later[i + 1])
        still = array("q", (min(w + 1, after) for w, after in zip(walls, later[1:], strict=False)))
        prefix = array("q", [0]) * (count + 1)
        total = 0
        for i in range(count):
            j = i + _MARGIN
            if self.is_24x7 or self._open(reached[j], still[j]):
                total += 1
            prefix[i + 1] = total
        self.lo, self.hi, self.prefix = lo, hi, prefix

    def _wall(self, minute: int) -> int:
        local = datetime.fromtimestamp(minute * 60, self.zone).replace(tzinfo=None)
        return (local - datetime(1970, 1, 1)) // timedelta(minutes=1)

    def _open(self, reached: int, still: int) -> bool:
        # A day whose range holds the minute starts at or before ``reached`` and ends at
        # or after ``still``: one of the (at most two) days between them.
        for day in range((still - 1) // _DAY, reached // _DAY + 1):
            if self._is_holiday(day):
                continue
            base = day * _DAY
            for start, end in self.ranges[(day + 3) % 7]:  # 1970-01-01 was a Thursday
                if base + start <= reached and still <= base + end:
                    return True
        return False

    def _is_holiday(self, day: int) -> bool:
        if day not in self._holiday:
            when = date(1970, 1, 1) + timedelta(days=day)
            self._holiday[day] = when in self.listed or (
                self.country is not None and when in self.country
            )
        return self._holiday[day]
