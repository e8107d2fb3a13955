"""Completion targets: ``tasks_service.schedule.calendar`` against pandas and businesstimedelta.

    python3 -m uv run --locked --group bench python -m benchmarks.calendars [--cases N]

1. 100,000 random cases: 12 business-hours calendars (Europe/Amsterdam,
   America/New_York, Australia/Lord_Howe, America/Sao_Paulo in its DST years,
   Asia/Kolkata, UTC; 09:00-17:00, or 08:00-12:30 + 13:30-17:00, Monday to Friday;
   each with its country's holidays), starts anywhere in a year, durations log-uniform
   in 1..600,000 minutes. Each case is timed alone (median and p99 microseconds per
   target) and checked against the oracle of the test suite (tests/calendar_oracle.py,
   a minute-by-minute walk). The calendars are built and warmed first: building a
   timeline is a one-off per calendar, reported on its own line.
2. The same for pandas' ``CustomBusinessHour`` (10,000 cases; it takes whole hours
   only, so it is asked for the duration rounded down to whole hours, at least one, and
   checked against the oracle on that question) and ``businesstimedelta`` (1,000
   cases). Their disagreements are split into known conventions (wall-clock arithmetic
   across a DST change; a target at closing time moved to the next opening) and other.
3. Cost against duration: 60 versus 600,000 minutes, 10,000 starts each.
4. Recomputing 100,000 open tasks after a calendar change, on PostgreSQL: in one
   process (``recompute.run_inline``), then as the fan-out on 2 worker processes.

Ratios are against ours (the baseline row) measured in the same run.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.common import ROOT, process_env, stack
from tasks_service.schedule.calendar import Calendar
from tests.helpers.calendar_oracle import Oracle

WORKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
#: zone -> (holiday country, first year of starts)
ZONES = {
    "Europe/Amsterdam": ("NL", 2026),
    "America/New_York": ("US", 2026),
    "Australia/Lord_Howe": ("AU", 2026),
    "America/Sao_Paulo": ("BR", 2016),  # DST until 2019: starts in 2016, targets to 2022
    "Asia/Kolkata": ("IN", 2026),
    "UTC": (None, 2026),
}
SHAPES = {
    "9-17": [("09:00", "17:00")],
    "lunch": [("08:00", "12:30"), ("13:30", "17:00")],
}
MAX_MINUTES = 600_000


@dataclass
class Setup:
    spec: dict[str, Any]
    first_year: int
    calendar: Calendar = field(init=False)

    def __post_init__(self) -> None:
        self.calendar = Calendar.from_spec(self.spec)


@dataclass
class Case:
    setup: int
    start: datetime
    minutes: int


def setups() -> list[Setup]:
    out = []
    for zone, (country, year) in ZONES.items():
        for ranges in SHAPES.values():
            spec: dict[str, Any] = {
                "time_zone": zone,
                "hours": [
                    {"weekday": d, "start": s, "end": e} for d in WORKDAYS for s, e in ranges
                ],
            }
            if country:
                spec["holiday_country"] = country
            out.append(Setup(spec, year))
    return out


def cases(all_setups: list[Setup], n: int, rng: random.Random) -> list[Case]:
    out = []
    for _ in range(n):
        i = rng.randrange(len(all_setups))
        year_start = datetime(all_setups[i].first_year, 1, 1, tzinfo=UTC)
        start = year_start + timedelta(minutes=rng.randrange(366 * 1440))
        minutes = min(MAX_MINUTES, int(math.exp(rng.uniform(0, math.log(MAX_MINUTES + 1)))))
        out.append(Case(i, start, max(1, minutes)))
    return out


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    begin = time.perf_counter_ns()
    result = call()
    return (time.perf_counter_ns() - begin) / 1000, result


def summary(micros: list[float]) -> tuple[float, float]:
    ordered = sorted(micros)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


# --- the oracle, one calendar at a time -----------------------------------------------------


_ORACLES: dict[int, Oracle] = {}


def oracle_answers(all_setups: list[Setup], asked: list[tuple[Case, int]]) -> list[datetime]:
    """The oracle's target for each (case, minutes): one minute table per calendar, grown
    to cover every case of that calendar and kept for the next contender."""
    answers: list[datetime | None] = [None] * len(asked)
    by_setup: dict[int, list[int]] = {}
    for index, (case, _minutes) in enumerate(asked):
        by_setup.setdefault(case.setup, []).append(index)
    for setup_index, indexes in sorted(by_setup.items()):
        oracle = _ORACLES.setdefault(setup_index, Oracle(all_setups[setup_index].spec))
        for k in sorted(indexes, key=lambda k: asked[k][0].start):
            case, minutes = asked[k]
            answers[k] = oracle.add(case.start, minutes)
    return [a for a in answers if a is not None]


# --- the contenders ------------------------------------------------------------------------


def pandas_offset(setup: Setup) -> Any:
    import pandas as pd

    ranges = SHAPES["9-17"] if len(setup.spec["hours"]) == 5 else SHAPES["lunch"]
    country = setup.spec.get("holiday_country")
    days = _holidays(country, setup.first_year)
    return pd.offsets.CustomBusinessHour(
        start=[s for s, _ in ranges],
        end=[e for _, e in ranges],
        weekmask="Mon Tue Wed Thu Fri",
        holidays=days,
    )


def _holidays(country: str | None, first_year: int) -> list[date]:
    if not country:
        return []
    import holidays

    return sorted(holidays.country_holidays(country, years=range(first_year, first_year + 12)))


def businesstimedelta_rules(setup: Setup) -> Any:
    import businesstimedelta as btd
    import pytz

    zone = pytz.timezone(setup.spec["time_zone"])
    ranges = SHAPES["9-17"] if len(setup.spec["hours"]) == 5 else SHAPES["lunch"]
    start = datetime.strptime(ranges[0][0], "%H:%M").time()
    end = datetime.strptime(ranges[-1][1], "%H:%M").time()
    rules: list[Any] = [btd.WorkDayRule(start_time=start, end_time=end, tz=zone)]
    if len(ranges) == 2:
        rules.append(
            btd.LunchTimeRule(
                start_time=datetime.strptime(ranges[0][1], "%H:%M").time(),
                end_time=datetime.strptime(ranges[1][0], "%H:%M").time(),
                working_days=[0, 1, 2, 3, 4],
                tz=zone,
            )
        )
    country = setup.spec.get("holiday_country")
    if country:
        rules.append(btd.HolidayRule(_holidays(country, setup.first_year), tz=zone))
    return btd.Rules(rules)


def classify(setup: Setup, start: datetime, theirs: datetime, truth: datetime) -> str:
    """Why a library's target differs from the oracle's: a known convention or not."""
    zone = ZoneInfo(setup.spec["time_zone"])
    low, high = min(start, theirs, truth), max(start, theirs, truth)
    if low.astimezone(zone).utcoffset() != high.astimezone(zone).utcoffset():
        return "dst"  # wall-clock arithmetic across a DST change
    if setup.calendar.next_open(truth) == theirs.astimezone(UTC):
        return "closing"  # a target at closing time given as the next opening
    return "other"


@dataclass
class Row:
    name: str
    cases: int
    median: float
    p99: float
    disagree: int
    conventions: str = ""


def run_ours(all_setups: list[Setup], sample: list[Case]) -> tuple[Row, list[datetime]]:
    micros, results = [], []
    for case in sample:
        calendar = all_setups[case.setup].calendar
        spent, result = timed(
            lambda c=case, cal=calendar: cal.add_service_minutes(c.start, c.minutes)
        )
        micros.append(spent)
        results.append(result)
    median, p99 = summary(micros)
    return Row("ours: tasks_service.schedule.calendar", len(sample), median, p99, 0), results


def run_library(
    name: str,
    all_setups: list[Setup],
    sample: list[Case],
    minutes_of: Callable[[Case], int],
    prepare: Callable[[Setup], Any],
    add: Callable[[Any, datetime, int, Setup], datetime],
) -> Row:
    prepared = {i: prepare(s) for i, s in enumerate(all_setups)}
    micros, answers = [], []
    for case in sample:
        setup = all_setups[case.setup]
        spent, result = timed(
            lambda c=case, s=setup: add(prepared[c.setup], c.start, minutes_of(c), s)
        )
        micros.append(spent)
        answers.append(result)
    truths = oracle_answers(all_setups, [(c, minutes_of(c)) for c in sample])
    kinds: dict[str, int] = {}
    for case, theirs, truth in zip(sample, answers, truths, strict=True):
        if theirs != truth:
            kind = classify(all_setups[case.setup], case.start, theirs, truth)
            kinds[kind] = kinds.get(kind, 0) + 1
    median, p99 = summary(micros)
    conventions = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    return Row(name, len(sample), median, p99, sum(kinds.values()), conventions)


def pandas_add(offset: Any, start: datetime, minutes: int, setup: Setup) -> datetime:
    import pandas as pd

    local = pd.Timestamp(start).tz_convert(setup.spec["time_zone"])
    result = local + offset.__class__(
        n=minutes // 60,
        start=offset.start,
        end=offset.end,
        weekmask=offset.weekmask,
        holidays=offset.holidays,
    )
    return result.to_pydatetime().astimezone(UTC)


def pandas_minutes(case: Case) -> int:
    return max(1, case.minutes // 60) * 60


def btd_add(rules: Any, start: datetime, minutes: int, setup: Setup) -> datetime:
    import businesstimedelta as btd

    local = start.astimezone(ZoneInfo(setup.spec["time_zone"]))
    result = local + btd.BusinessTimeDelta(rules, seconds=minutes * 60)
    return result.astimezone(UTC)


# --- the recompute on PostgreSQL -----------------------------------------------------------


def recompute_on_postgres(n: int) -> list[tuple[str, float]]:
    from tasks_service.commands import recompute
    from tasks_service.identity.accounts import do_create_account
    from tasks_service.identity.directory import do_create_team
    from tasks_service.schedule import calendar_store
    from tasks_service.store import migrate
    from tasks_service.store.db import session_scope
    from tasks_service.store.models import Operation
    from tasks_service.store.schemas.calendars import CalendarCreate, CalendarUpdate
    from tasks_service.store.schemas.directory import TeamCreate
    from workers.app import Submitter

    workdir = Path(tempfile.mkdtemp(prefix="bench-calendars-"))
    settings, drop = stack("postgres", workdir)
    workers = None
    try:
        migrate.upgrade(settings)
        office = {"time_zone": "Europe/Amsterdam", "hours": _hours("09:00", "17:00")}
        with session_scope(settings) as session:
            account, _admin, _token = do_create_account(
                session, "bench", "Bench", "Bench", "b@bench.example"
            )
            account_id = account.id or 0
            row = calendar_store.do_create_calendar(
                session, account_id, CalendarCreate.model_validate({"name": "Office", **office})
            )
            calendar_id = row.id or 0
            team = do_create_team(
                session, account_id, TeamCreate(name="Ops", calendar_id=calendar_id)
            )
            session.exec(  # type: ignore[call-overload]
                _insert_tasks(n, account_id, team.id or 0, calendar_id)
            )
        rows: list[tuple[str, float]] = []

        def change(hours: tuple[str, str]) -> int:
            with session_scope(settings) as session:
                _row, op = calendar_store.do_update_calendar(
                    session, account_id, calendar_id, CalendarUpdate(hours=_hours(*hours))
                )
                assert op is not None  # new hours: the change requested the recompute
                return op.id or 0

        op_id = change(("08:00", "16:00"))
        begin = time.perf_counter()
        recompute.run_inline(settings, op_id)
        rows.append(("in one process (run_inline)", time.perf_counter() - begin))

        env = process_env(settings)
        workers = subprocess.Popen(
            [sys.executable, "-m", "tasks_service.cli", "worker", "--concurrency", "2"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(8)  # boot
        op_id = change(("10:00", "18:00"))
        begin = time.perf_counter()
        Submitter(settings).submit_fanout(op_id)
        while True:
            with session_scope(settings, write=False) as session:
                op = session.get(Operation, op_id)
                assert op is not None
                if op.status != "pending":
                    break
            time.sleep(0.05)
        rows.append(("fan-out on 2 worker processes", time.perf_counter() - begin))
        return rows
    finally:
        if workers is not None:
            workers.terminate()
            workers.wait(30)
        drop()


def _hours(start: str, end: str) -> list[dict[str, str]]:
    return [{"weekday": d, "start": start, "end": end} for d in WORKDAYS]


def _insert_tasks(n: int, account_id: int, team_id: int, calendar_id: int) -> Any:
    from sqlalchemy import text

    return text(
        "INSERT INTO task (account_id, subject, category, status, team_id, planned_duration,"
        " urgent, work_hours_are_24x7, assigned_at, calendar_id, clock_stopped_seconds,"
        " created_at, updated_at) "
        "SELECT :account, 'Task ' || g, 'implementation', 'assigned', :team,"
        " 30 + (g * 7919) % 20000, false, false,"
        " now() - ((g % 10000) || ' minutes')::interval, :calendar, 0, now(), now() "
        "FROM generate_series(1, :n) AS g"
    ).bindparams(account=account_id, team=team_id, calendar=calendar_id, n=n)


# --- the table -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--pandas-cases", type=int, default=10_000)
    parser.add_argument("--btd-cases", type=int, default=1_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--parts", default="targets,recompute", help="targets, recompute, or both (default)"
    )
    args = parser.parse_args()
    if "targets" in args.parts:
        compare_targets(args)
    if "recompute" in args.parts:
        print(f"\nrecomputing {args.tasks:,} open tasks after a calendar change (PostgreSQL)")
        timings = recompute_on_postgres(args.tasks)
        for name, seconds in timings:
            print(
                f"  {name:32} {seconds:6.1f} s  {args.tasks / seconds:>8,.0f} tasks/s  "
                f"{seconds / timings[0][1]:.2f}x in one process"
            )


def compare_targets(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    all_setups = setups()

    build = []
    for setup in all_setups:  # build and warm every timeline over the years the cases reach
        year = datetime(setup.first_year, 1, 1, tzinfo=UTC)
        spent, _ = timed(
            lambda s=setup, y=year: s.calendar.add_service_minutes(y, MAX_MINUTES * 13 // 10)
        )
        build.append(spent)

    sample = cases(all_setups, args.cases, rng)
    ours, results = run_ours(all_setups, sample)
    truths = oracle_answers(all_setups, [(c, c.minutes) for c in sample])
    ours.disagree = sum(r != t for r, t in zip(results, truths, strict=True))
    rows = [ours]
    rows.append(
        run_library(
            "pandas CustomBusinessHour (whole hours)",
            all_setups,
            sample[: args.pandas_cases],
            pandas_minutes,
            pandas_offset,
            pandas_add,
        )
    )
    rows.append(
        run_library(
            "businesstimedelta",
            all_setups,
            sample[: args.btd_cases],
            lambda c: c.minutes,
            businesstimedelta_rules,
            btd_add,
        )
    )

    print(f"completion targets, {args.cases:,} cases over {len(all_setups)} calendars")
    print(
        f"{'implementation':42} {'cases':>7} {'median us':>10} {'p99 us':>9} "
        f"{'x ours (median)':>16} {'disagree':>9}  conventions"
    )
    for row in rows:
        print(
            f"{row.name:42} {row.cases:>7} {row.median:>10.1f} {row.p99:>9.1f} "
            f"{row.median / ours.median:>15.1f}x {row.disagree:>9}  {row.conventions}"
        )

    flat = []
    starts = [c.start for c in cases(all_setups, 10_000, rng)]
    for minutes in (60, MAX_MINUTES):
        micros = []
        for i, start in enumerate(starts):
            calendar = all_setups[i % len(all_setups)].calendar
            spent, _ = timed(lambda s=start, c=calendar, m=minutes: c.add_service_minutes(s, m))
            micros.append(spent)
        flat.append((minutes, *summary(micros)))
    print("\ncost against duration (ours, 10,000 starts)")
    for minutes, median, p99 in flat:
        print(
            f"  {minutes:>7} minutes: median {median:.1f} us, p99 {p99:.1f} us, "
            f"{median / flat[0][1]:.2f}x the 60-minute median"
        )
    print(
        f"  building a calendar's timeline (12 calendars, ~6-12 years each): "
        f"median {statistics.median(build) / 1000:.1f} ms, max {max(build) / 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
