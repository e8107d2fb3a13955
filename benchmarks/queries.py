"""List latency through the REST API on a million tasks (PostgreSQL).

    python -m benchmarks.queries [--tasks 1000000] [--repeat 30] [--database-url URL]
        [--observability compare|paired [--rounds 2]]

Fills a fresh PostgreSQL database with ``benchmarks.dataset`` (1,000,000 tasks, 50
accounts of skewed sizes, 2,000 people, 200 teams), starts a real ``tasks-service web``
(gunicorn, 2 workers x 8 threads) and times, one request at a time over real HTTP:

- the six predefined task filters, as the person with the most tasks of the largest
  account (about a fifth of all tasks);
- ten representative filter + sort combinations in that account;
- page 1 and page 5,000 (20 per page: rows 99,981-100,000) of two large results, by
  page number (offset, the baseline: it reads every row before the page) and by cursor.
  The cursor for page 5,000 is the one the ``next`` link of page 4,999 carries; the run
  checks that both ways return the same rows.

Prints p50 / p95 per query, p95 against the 50 ms aim, and deep page / page 1.

``--observability compare``: the database filled once, then every query above timed
with logs and metrics off and on, each run with a web started anew; the overhead per
group of queries and for all of them (method: ``benchmarks.overhead``). The requests go
through the web, so its request lines and HTTP metrics are what is measured (no
worker: lists do not reach one). ``--observability paired``: an off web and an on web
up at once on the same database, every query's timed requests taking turns between
them, ``--rounds`` times; the median on/off ratio of the rounds per group (mean
latency, p99, the web's CPU per request: ``benchmarks.paired`` says why).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests
import sqlalchemy
from sqlmodel import Session

from benchmarks import overhead
from benchmarks.common import OFF, free_port, process_env, spawn, stack, stop, wait_http
from benchmarks.cpu import tree_seconds
from benchmarks.dataset import fill
from benchmarks.overhead import SIDES
from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_token
from tasks_service.querying.lists import task_list_conditions
from tasks_service.querying.paging import encode_cursor, list_statements, parse_list
from tasks_service.querying.resources import TASK_QUERY
from tasks_service.store import migrate
from tasks_service.store.models import Task

AIM_MS = 50.0
DEEP_PAGE = 5_000
PER_PAGE = 20


@dataclass
class Timing:
    group: str
    name: str
    total: int
    latencies: list[float]
    #: CPU seconds the web spent on them (``benchmarks.cpu``; None: not measured)
    cpu_seconds: float | None = None

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000


def _time(
    session: requests.Session,
    urls: list[str],
    params: dict[str, str],
    headers: dict[str, str],
    n: int,
) -> tuple[list[list[float]], requests.Response]:
    """``n`` timed GETs of each of ``urls`` (one web's, or a paired run's two), taking
    turns: on odd turns the last one goes first. Each url's latencies, a response."""
    response = None
    for url in urls:
        for _ in range(3):  # warm: this worker's connection pool, caches, prepared plans
            response = session.get(url, params=params, headers=headers, timeout=60)
            if response.status_code != 200:
                raise RuntimeError(f"{url} {params}: {response.status_code} {response.text[:300]}")
    latencies: list[list[float]] = [[] for _ in urls]
    for turn in range(n):
        order = range(len(urls)) if turn % 2 == 0 else reversed(range(len(urls)))
        for k in order:
            started = time.perf_counter()
            response = session.get(urls[k], params=params, headers=headers, timeout=60)
            latencies[k].append(time.perf_counter() - started)
            assert response.status_code == 200, response.text[:300]
    assert response is not None
    return latencies, response


def _references(engine: sqlalchemy.Engine) -> dict[str, object]:
    """The largest account, its admin, its busiest member, one of that member's teams."""
    with engine.connect() as conn:
        account_id, slug = conn.exec_driver_sql(
            "SELECT a.id, a.slug FROM account a JOIN task t ON t.account_id = a.id"
            " GROUP BY a.id ORDER BY count(*) DESC LIMIT 1"
        ).one()
        admin = conn.exec_driver_sql(
            "SELECT min(id) FROM person WHERE account_id = %s AND admin", (account_id,)
        ).scalar_one()
        me = conn.exec_driver_sql(
            "SELECT member_id FROM task WHERE account_id = %s AND member_id IS NOT NULL"
            " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
            (account_id,),
        ).scalar_one()
        team = conn.exec_driver_sql(
            "SELECT team_id FROM team_membership WHERE person_id = %s LIMIT 1", (me,)
        ).scalar_one()
    return {"account_id": account_id, "slug": slug, "admin": admin, "me": me, "team": team}


def _cursor_for_page(engine: sqlalchemy.Engine, account_id: int, sort: str, page: int) -> str:
    """The cursor that page ``page - 1``'s ``next`` link carries: the keys of its last row."""
    before = parse_list(TASK_QUERY, [("sort", sort)], page=page - 1, per_page=PER_PAGE)
    _count, statement = list_statements(Task, task_list_conditions(account_id), before)
    with Session(engine) as session:
        last = session.exec(statement).all()[PER_PAGE - 1]
    return encode_cursor(before.sort_text, tuple(last[1:]), page)


@dataclass
class World:
    """The filled database, the people the queries are made as."""

    engine: sqlalchemy.Engine
    refs: dict[str, object]
    admin_token: str
    my_token: str


def _measure(
    apis: list[str], world: World, repeat: int, webs: list[int] | None = None
) -> list[list[Timing]]:
    """Every query of the module docstring against the web at each of ``apis`` (a paired
    run's two in turns), with the CPU of each one's process tree in ``webs``: each web's
    timings."""
    engine, refs = world.engine, world.refs
    timings: list[list[Timing]] = [[] for _ in apis]
    slug = str(refs["slug"])
    as_admin = {"Authorization": f"Bearer {world.admin_token}", "X-Xurrent-Account": slug}
    as_me = {"Authorization": f"Bearer {world.my_token}", "X-Xurrent-Account": slug}
    http = requests.Session()

    def measure(
        group: str, name: str, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> requests.Response:
        before = [tree_seconds([pid]) for pid in webs or []]
        urls = [f"{api}{path}" for api in apis]
        latencies, response = _time(http, urls, params, headers, repeat)
        total = int(response.headers["X-Pagination-Total-Entries"])
        for k, web_latencies in enumerate(latencies):
            used = tree_seconds([webs[k]]) - before[k] if webs else None
            timings[k].append(Timing(group, name, total, web_latencies, used))
        return response

    for view in (
        "finished",
        "open",
        "managed_by_me",
        "assigned_to_my_team",
        "assigned_to_me",
        "approval_by_me",
    ):
        measure("predefined", f"/tasks/{view}", f"/v1/tasks/{view}", {}, as_me)

    me, team = str(refs["me"]), str(refs["team"])
    combos = [
        {"status": "assigned,accepted,in_progress", "sort": "completion_target_at"},
        {"impact": "high,top", "status!": "completed,canceled", "sort": "-updated_at"},
        {"team": team, "sort": "-created_at"},
        {"member": me, "status": "in_progress"},
        {"finished_at": ">=2026-01-01<2026-02-01", "sort": "-finished_at"},
        {"due_at": "<2026-06-01", "status": "assigned,accepted"},
        {"labels": "security", "impact": "top"},
        {"created_from": "2026-06-01", "created_to": "2026-06-15", "sort": "created_at"},
        {"title": "backup", "status": "waiting_for"},
        {"category": "approval", "sort": "-status,impact", "fields": "subject,status,member"},
    ]
    for params in combos:
        name = "&".join(f"{k}={v}" for k, v in params.items())
        measure("filter+sort", name, "/v1/tasks", params, as_admin)

    for sort in ("-id", "created_at"):
        first = measure("deep", f"sort={sort} page 1", "/v1/tasks", {"sort": sort}, as_admin)
        # Page 5,000 when the list is that long (it is at 1M tasks), else near its end.
        deep = min(DEEP_PAGE, int(first.headers["X-Pagination-Total-Pages"]) - 1)
        offset = measure(
            "deep",
            f"sort={sort} page {deep} by offset",
            "/v1/tasks",
            {"sort": sort, "page": str(deep)},
            as_admin,
        )
        cursor = _cursor_for_page(engine, _int(refs["account_id"]), sort, deep)
        by_cursor = measure(
            "deep",
            f"sort={sort} page {deep} by cursor",
            "/v1/tasks",
            {"sort": sort, "search_after": cursor},
            as_admin,
        )
        same = [t["id"] for t in by_cursor.json()] == [t["id"] for t in offset.json()]
        if not same:
            raise RuntimeError(f"sort={sort}: page {deep} differs by cursor and offset")
        # The next link of a deep offset page carries a cursor (past the threshold).
        following = by_cursor.links["next"]["url"]
        assert "search_after" in dict(parse_qsl(urlsplit(following).query))
    return timings


def _serve(
    world: World,
    settings: Settings,
    modes: Sequence[str | None],
    logs: Sequence[Path | None],
    repeat: int,
    rounds: int = 1,
) -> list[list[list[Timing]]]:
    """Start a web for each of ``modes`` (logs and metrics as it says; two at once for
    a paired run), measure ``rounds`` times, stop them: each round's timings per web."""
    ports = [free_port() for _ in modes]
    webs = []
    try:
        for mode, log, port in zip(modes, logs, ports, strict=True):
            cli = [sys.executable, "-m", "tasks_service.cli", "web", "--port", str(port)]
            webs.append(spawn(cli, process_env(settings, mode), log))
        apis = [f"http://127.0.0.1:{port}" for port in ports]
        for api, mode in zip(apis, modes, strict=True):
            wait_http(f"{api}/healthz")
            if mode is not None:
                overhead.check_mode(mode, api, world.admin_token)
        pids = [web.pid for web in webs]
        return [_measure(apis, world, repeat, pids) for _ in range(rounds)]
    finally:
        stop(webs)


def run(
    tasks: int,
    repeat: int,
    database_url: str | None,
    modes: list[str | None],
    paired_rounds: int = 0,
) -> tuple[list[tuple[str | None, list[Timing]]], list[overhead.Pair], dict[str, float]]:
    """Fill the database once, then one run per mode of ``modes`` (``None``: logs at
    WARNING, metrics as their default), each with a web started anew; or, with
    ``paired_rounds``, that many rounds with an off and an on web at once."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-queries-"))
    settings, cleanup = stack("postgres", workdir)
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    runs: list[tuple[str | None, list[Timing]]] = []
    pairs: list[overhead.Pair] = []
    facts: dict[str, float] = {}
    try:
        migrate.upgrade(settings)
        engine = sqlalchemy.create_engine(settings.effective_database_url)
        facts["fill_seconds"] = fill(engine, tasks=tasks)
        refs = _references(engine)
        account_id = _int(refs["account_id"])
        with Session(engine) as session:
            admin_token = do_create_token(session, account_id, _int(refs["admin"]))
            my_token = do_create_token(session, account_id, _int(refs["me"]))
            session.commit()
        world = World(engine, refs, admin_token, my_token)
        if paired_rounds:
            side_logs = [workdir / "logs" / f"paired-{side}-web.log" for side in SIDES]
            for timings in _serve(world, settings, SIDES, side_logs, repeat, paired_rounds):
                pairs += paired_samples(timings)
            for side, side_log in zip(SIDES, side_logs, strict=True):
                written = overhead.log_size([side_log])
                overhead.progress(f"[paired, {side}] {written} in {side_log}")
        for number, mode in enumerate(modes, 1):
            log = None if mode is None else workdir / "logs" / f"{number:02}-{mode}-web.log"
            runs.append((mode, _serve(world, settings, [mode], [log], repeat)[0][0]))
            if log is not None:
                written = overhead.log_size([log])
                overhead.progress(f"[run {number}, {mode}] done: {written} in {log}")
        engine.dispose()
    finally:
        if not database_url:
            cleanup()
    return runs, pairs, facts


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _groups(timings: list[Timing]) -> dict[str, list[Timing]]:
    """The timings by group, and all of them as ``all``."""
    groups: dict[str, list[Timing]] = {}
    for t in timings:
        groups.setdefault(t.group, []).append(t)
    groups["all"] = timings
    return groups


def paired_samples(timings: list[list[Timing]]) -> list[overhead.Pair]:
    """One paired round's figures by group: the off web's and the on web's latencies,
    and the CPU per request of each."""
    sides = dict(zip(SIDES, (_groups(t) for t in timings), strict=True))
    found = []
    for group in sides[OFF]:
        latencies = {m: [x for t in sides[m][group] for x in t.latencies] for m in SIDES}
        cpu_ms = {
            m: sum(t.cpu_seconds or 0.0 for t in sides[m][group]) / len(latencies[m]) * 1000
            for m in SIDES
        }
        found.append(overhead.Pair("postgres", f"{group} (one at a time)", latencies, cpu_ms))
    return found


def samples(runs: list[tuple[str | None, list[Timing]]]) -> list[overhead.Sample]:
    """Each run's requests by group and all together: one at a time, so a group's
    throughput is its requests over the sum of their times."""
    found = []
    for mode, timings in runs:
        groups: dict[str, list[float]] = {}
        for t in timings:
            groups.setdefault(t.group, []).extend(t.latencies)
        groups["all"] = [latency for t in timings for latency in t.latencies]
        for group, lat in groups.items():
            part = f"{group} (one at a time)"
            found.append(overhead.Sample("postgres", part, str(mode), len(lat), sum(lat), lat))
    return found


def print_table(timings: list[Timing], facts: dict[str, float], tasks: int, repeat: int) -> None:
    print(
        f"\nlists over HTTP: {tasks:,} tasks loaded in {facts['fill_seconds']:.0f} s, "
        f"{repeat} timed requests each, one at a time, {os.cpu_count()} cores"
    )
    header = f"{'group':12} {'query':72} {'entries':>8} {'p50 ms':>7} {'p95 ms':>7} {'ratio':>12}"
    print(header)
    print("-" * len(header))
    page_one: dict[str, float] = {}
    for t in timings:
        if t.group == "deep" and t.name.endswith("page 1"):
            page_one[t.name.split(" ")[0]] = t.p50
        if t.group == "deep" and not t.name.endswith("page 1"):
            ratio = f"{t.p50 / page_one[t.name.split(' ')[0]]:.2f}x page 1"
        else:
            ratio = f"{t.pct(0.95) / AIM_MS:.2f}x aim"
        print(
            f"{t.group:12} {t.name[:72]:72} {t.total:8} {t.p50:7.1f} {t.pct(0.95):7.1f} {ratio:>12}"
        )
    print(
        f"ratio: p95 / the {AIM_MS:.0f} ms aim for page-1 queries; for deep pages, p50 of "
        "the deep page / p50 of page 1 of the same list (aim for cursors: within 2x)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--database-url", help="an existing, empty database to fill (kept afterwards)"
    )
    overhead.add_arguments(parser)
    args = parser.parse_args()
    compare, paired = args.observability == "compare", args.observability == "paired"
    modes: list[str | None] = list(overhead.schedule(args.rounds)) if compare else [None]
    if paired:
        modes = []
    rounds = args.rounds if paired else 0
    runs, pairs, facts = run(args.tasks, args.repeat, args.database_url, modes, rounds)
    if paired:
        print(
            f"\nlists over HTTP: {args.tasks:,} tasks, {args.repeat} timed requests per query"
            f" a web a round, one at a time, {os.cpu_count()} cores"
        )
        overhead.print_paired_table(pairs, args.rounds)
        return
    if not compare:
        print_table(runs[0][1], facts, args.tasks, args.repeat)
        return
    print(
        f"\nlists over HTTP: {args.tasks:,} tasks, {args.repeat} timed requests per query, "
        f"one at a time, {os.cpu_count()} cores"
    )
    overhead.print_table(samples(runs), args.rounds)


if __name__ == "__main__":
    main()
