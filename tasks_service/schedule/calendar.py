"""Service-hours calendars: pure functions, no database.

A calendar says when a team works: weekly ranges of local wall-clock time in an IANA
zone, minus holidays (listed dates, and a country's from the ``holidays`` package), or
around the clock (``is_24x7``). Service time is counted in real elapsed time: in whole
minutes (``add_service_minutes``...) or to the microsecond (``add_service_time``,
``service_time_between``: a percent of a planned duration, a pause in seconds).

How a range becomes real time. A range ``start``-``end`` on a local date runs from the
*first* instant the wall clock shows ``start`` to the *last* instant it shows ``end``; a
wall time that does not exist (skipped by a DST change) means the instant of the change.
So a 00:00-24:00 day lasts 23 or 25 hours on DST days, an 01:00-04:00 range that
spans a spring-forward lasts 2 hours, and ranges that overlap in real time (clocks
going back at midnight) are merged: no instant is counted twice.

How it is fast. A calendar keeps a timeline: its service intervals in UTC microseconds,
sorted, with the service time before each one (a prefix sum), built a year at a time,
on demand, and cached with the calendar. ``add_service_minutes`` and
``service_minutes_between`` are then two binary searches each, whatever the duration:
a 600,000-minute target costs what a 60-minute one does. Building a year walks its days
once per calendar (a few milliseconds), never per call.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tasks_service.core.errors import TaskValidationError
from tasks_service.core.validation import FIRST_YEAR, LAST_YEAR, MAX_SERVICE_MINUTES, validate
from tasks_service.store.schemas.calendars import CalendarSpec

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
_MINUTE = 60 * _US
# The API's range of moments (``core.validation``): what a calendar is asked about and
# what it answers stays within it (and far from datetime's own limits).
_FIRST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
_LAST = datetime(LAST_YEAR, 12, 31, 23, 59, 59, tzinfo=UTC)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _aware(name: str, moment: datetime) -> int:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise TaskValidationError(
            f"{name} must be a timezone-aware datetime",
            code="naive_datetime",
            params={"field": name},
        )
    try:
        in_range = _FIRST <= moment <= _LAST
    except OverflowError:  # an offset that takes it past datetime's own limits
        in_range = False
    if not in_range:
        raise TaskValidationError(
            f"{name} must be between the years {FIRST_YEAR} and {LAST_YEAR}",
            code="out_of_range",
            params={"field": name},
        )
    return _micros(moment)


def _check_minutes(minutes: int) -> None:
    if (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not 0 <= minutes <= MAX_SERVICE_MINUTES
    ):
        raise TaskValidationError(
            f"minutes must be a whole number from 0 to {MAX_SERVICE_MINUTES}",
            code="invalid_value",
            params={"field": "minutes"},
        )


def _duration_micros(duration: timedelta) -> int:
    """A duration of service time to count, in microseconds (as ``_check_minutes``)."""
    if not isinstance(duration, timedelta) or not (
        timedelta(0) <= duration <= timedelta(minutes=MAX_SERVICE_MINUTES)
    ):
        raise TaskValidationError(
            f"duration must be a timedelta from 0 to {MAX_SERVICE_MINUTES} minutes",
            code="invalid_value",
            params={"field": "duration"},
        )
    return (duration.days * 86_400 + duration.seconds) * _US + duration.microseconds


def _beyond(direction: str) -> TaskValidationError:
    year = LAST_YEAR if direction == "past" else FIRST_YEAR
    return TaskValidationError(
        f"service time runs {direction} the year {year}",
        code="out_of_range",
        params={"field": "minutes"},
    )


def _answer(micros: int) -> datetime:
    """A moment the calendar answers, within the API's range."""
    moment = _moment(micros)
    if moment > _LAST:
        raise _beyond("past")
    if moment < _FIRST:
        raise _beyond("back before")
    return moment


@dataclass
class _Timeline:
    """Service intervals ``[starts[i], ends[i])`` and ``before[i]``, the service time
    before interval i, for the local years ``first_year`` to ``last_year``."""

    first_year: int
    last_year: int
    starts: list[int]
    ends: list[int]
    before: list[int]

    def after(self, i: int) -> int:
        """Service time up to the end of interval i."""
        return self.before[i] + self.ends[i] - self.starts[i]


class Calendar:
    """Service hours in a zone. Build with ``Calendar.from_spec`` (the REST JSON)."""

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self.zone = ZoneInfo(spec.time_zone)
        self.is_24x7 = spec.is_24x7
        self._ranges: list[list[tuple[time, time | None]]] = [[] for _ in WEEKDAYS]
        for item in spec.hours:
            self._ranges[WEEKDAYS.index(item.weekday)].append((item.start, item.end))
        for day in self._ranges:
            day.sort(key=lambda pair: pair[0])
        self._holidays: set[date] = set(spec.holidays)
        self._country = None
        if spec.holiday_country:
            import holidays  # here: it takes 150 ms to import, and most calendars need none

            self._country = holidays.country_holidays(
                spec.holiday_country, subdiv=spec.holiday_subdivision
            )
        self._lock = threading.Lock()
        self._timeline: _Timeline | None = None

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Calendar:
        """A calendar from its REST form. Raises: TaskValidationError (every bad field)."""
        return cls(validate(CalendarSpec, spec))

    # -- the four questions ----------------------------------------------------------------

    def add_service_minutes(self, start: datetime, minutes: int) -> datetime:
        """The earliest instant at which ``minutes`` of service time have passed since
        ``start`` (time before an opening counts from the opening; a target that ends at
        closing time is that closing time). Raises: TaskValidationError."""
        at = _aware("start", start)
        _check_minutes(minutes)
        return self._add(start, at, minutes * _MINUTE)

    def add_service_time(self, start: datetime, duration: timedelta) -> datetime:
        """``add_service_minutes`` to the microsecond (a percent of a planned duration, a
        pause of 65 seconds are not whole minutes). Raises: TaskValidationError."""
        at = _aware("start", start)
        return self._add(start, at, _duration_micros(duration))

    def _add(self, start: datetime, at: int, micros: int) -> datetime:
        if micros == 0:
            return start.astimezone(UTC)
        if self.is_24x7:
            return _answer(at + micros)
        timeline = self._covering(at)
        target = _service_before(timeline, at) + micros
        while not timeline.ends or timeline.after(len(timeline.ends) - 1) < target:
            timeline = self._extend(timeline)
        i = bisect_left(_AfterView(timeline), target)
        return _answer(timeline.starts[i] + target - timeline.before[i])

    def subtract_service_minutes(self, end: datetime, minutes: int) -> datetime:
        """The latest instant from which ``minutes`` of service time pass until ``end``
        (an escalation warning "30 service minutes before due": 30 minutes before a
        Monday 09:10 deadline that opens at 09:00 is Friday 16:40, the latest instant
        at which 30 minutes still remain). Raises: TaskValidationError."""
        at = _aware("end", end)
        _check_minutes(minutes)
        if minutes == 0:
            return end.astimezone(UTC)
        if self.is_24x7:
            return _answer(at - minutes * _MINUTE)
        timeline = self._covering(at)
        while _service_before(timeline, at) < minutes * _MINUTE:
            if timeline.first_year <= FIRST_YEAR:
                raise _beyond("back before")
            span = timeline.last_year - timeline.first_year + 1  # grow by doubling
            timeline = self._build(max(FIRST_YEAR, timeline.first_year - span), timeline.last_year)
        target = _service_before(timeline, at) - minutes * _MINUTE
        i = bisect_right(timeline.before, target) - 1  # the last interval starting at/before
        return _answer(timeline.starts[i] + target - timeline.before[i])

    def service_minutes_between(self, start: datetime, end: datetime) -> int:
        """Whole minutes of service time from ``start`` to ``end`` (negative if ``end``
        comes first). Raises: TaskValidationError."""
        micros = self._between(_aware("start", start), _aware("end", end))
        return micros // _MINUTE if micros >= 0 else -(-micros // _MINUTE)

    def service_time_between(self, start: datetime, end: datetime) -> timedelta:
        """``service_minutes_between`` to the microsecond. Raises: TaskValidationError."""
        return timedelta(microseconds=self._between(_aware("start", start), _aware("end", end)))

    def _between(self, a: int, b: int) -> int:
        if self.is_24x7:
            return b - a
        if b < a:
            return -self._between(b, a)
        self._covering(a)
        timeline = self._covering(b)  # now covers both: one timeline for both counts
        return _service_before(timeline, b) - _service_before(timeline, a)

    def is_open(self, moment: datetime) -> bool:
        at = _aware("moment", moment)
        if self.is_24x7:
            return True
        timeline = self._covering(at)
        i = bisect_right(timeline.starts, at) - 1
        return i >= 0 and at < timeline.ends[i]

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` if open, else the next opening (UTC)."""
        at = _aware("moment", moment)
        if self.is_24x7:
            return moment.astimezone(UTC)
        timeline = self._covering(at)
        i = bisect_right(timeline.ends, at)
        while i >= len(timeline.ends):
            timeline = self._extend(timeline)
            i = bisect_right(timeline.ends, at)
        return moment.astimezone(UTC) if timeline.starts[i] <= at else _answer(timeline.starts[i])

    # -- the timeline --------------------------------------------------------------------

    def _covering(self, at: int) -> _Timeline:
        """The timeline, grown to cover the local year of ``at`` and the next one."""
        year = _moment(at).astimezone(self.zone).year
        timeline = self._timeline
        if timeline is None or not timeline.first_year <= year < timeline.last_year:
            first = year if timeline is None else min(year, timeline.first_year)
            last = year + 1 if timeline is None else max(year + 1, timeline.last_year)
            timeline = self._build(first, last)
        return timeline

    def _extend(self, timeline: _Timeline) -> _Timeline:
        """The timeline grown forward, doubling its span (a long search builds each
        year a few times, not once per year it passes). Raises: TaskValidationError
        past the API's last year."""
        if timeline.last_year > LAST_YEAR:
            raise _beyond("past")
        span = timeline.last_year - timeline.first_year + 1
        return self._build(timeline.first_year, min(LAST_YEAR + 1, timeline.last_year + span))

    def _build(self, first_year: int, last_year: int) -> _Timeline:
        with self._lock:
            current = self._timeline
            if current and current.first_year <= first_year and last_year <= current.last_year:
                return current
            starts: list[int] = []
            ends: list[int] = []
            day = date(first_year, 1, 1) - timedelta(days=1)  # a range may cross into Jan 1
            stop = date(last_year + 1, 1, 1)
            while day <= stop:
                if not self._is_holiday(day):
                    for begin, finish in self._ranges[day.weekday()]:
                        a = self._first(datetime.combine(day, begin))
                        b = self._last(
                            datetime.combine(day + timedelta(days=1), time(0))
                            if finish is None
                            else datetime.combine(day, finish)
                        )
                        if b <= a:
                            continue
                        if ends and a <= ends[-1]:  # touching or overlapping in real time
                            ends[-1] = max(ends[-1], b)
                        else:
                            starts.append(a)
                            ends.append(b)
                day += timedelta(days=1)
            before = [0] * len(starts)
            total = 0
            for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
                before[i] = total
                total += b - a
            # (no service in these years at all, every day a holiday: the callers look
            # further, up to the API's last year)
            self._timeline = _Timeline(first_year, last_year, starts, ends, before)
            return self._timeline

    def _is_holiday(self, day: date) -> bool:
        return day in self._holidays or (self._country is not None and day in self._country)

    def _first(self, local: datetime) -> int:
        """The first instant the wall clock shows ``local`` (a skipped time: the change)."""
        early = _micros(local.replace(tzinfo=self.zone, fold=0))
        late = _micros(local.replace(tzinfo=self.zone, fold=1))
        if late >= early:  # exists (once, or twice: the first is ``early``)
            return early
        return self._change_between(late, early)

    def _last(self, local: datetime) -> int:
        early = _micros(local.replace(tzinfo=self.zone, fold=0))
        late = _micros(local.replace(tzinfo=self.zone, fold=1))
        if late >= early:
            return late
        return self._change_between(late, early)

    def _change_between(self, low: int, high: int) -> int:
        """The instant of the UTC offset change in ``(low, high)`` (a skipped wall time
        lies inside a forward change), to the second."""
        offset = _moment(low).astimezone(self.zone).utcoffset()
        low_s, high_s = low // _US, -(-high // _US)
        while high_s - low_s > 1:
            middle = (low_s + high_s) // 2
            if _moment(middle * _US).astimezone(self.zone).utcoffset() == offset:
                low_s = middle
            else:
                high_s = middle
        return high_s * _US


def _service_before(timeline: _Timeline, at: int) -> int:
    """Service time from the timeline's start to ``at``."""
    i = bisect_right(timeline.starts, at) - 1
    if i < 0:
        return 0
    return timeline.before[i] + min(at, timeline.ends[i]) - timeline.starts[i]


class _AfterView:
    """``timeline.after(i)`` as a sequence, for ``bisect`` without building a list."""

    def __init__(self, timeline: _Timeline) -> None:
        self.timeline = timeline

    def __len__(self) -> int:
        return len(self.timeline.starts)

    def __getitem__(self, i: int) -> int:
        return self.timeline.after(i)
