"""Create-task throughput and latency through the REST API, against a bare baseline;
and an approver's decision on a task with 50 approvers, against a plain status PATCH.

    python -m benchmarks.commands [--requests 1000] [--concurrency 16]
        [--backends postgres,sqlite] [--parts create,decide]
        [--observability compare|paired [--rounds 2]]

For each backend (PostgreSQL + Redis, and the embedded SQLite default) it starts real
processes: ``tasks-service web`` (gunicorn), ``tasks-service worker -c 2``, and the
baseline (``benchmarks/baseline_app.py`` under the same gunicorn settings, inserting the
same task row synchronously into the same database). Then it sends the same number of
create requests over HTTP to each: the baseline, the API waiting for the outcome, and
the API with ``Prefer: respond-async`` (plus the time the workers need to drain those).

``decide`` (issue 16): tasks of 50 approvers each (made in-process), every approver
deciding every one of them with ``PATCH /v1/tasks/:id {"status": "approved"}`` under
their own token (the request the Xurrent SDK's ``approve()`` sends: it records that
approver's decision; the 50th approves the task), against the same number of plain
status PATCHes (``in_progress``) on tasks with a member, in the same run.

``--observability compare``: every part above measured with logs and metrics off and on,
in alternating runs on the same stack; the overhead of on against off, the baseline as
the noise floor (method: ``benchmarks.overhead``). ``--observability paired``: the same
parts on two stacks at once, one off and one on, every client's requests alternating
between them, so that the machine's moments weigh on both alike (``benchmarks.paired``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import requests
from sqlmodel import func, select

from benchmarks import overhead
from benchmarks.common import free_port, process_env, spawn, stack, stop, wait_http
from benchmarks.cpu import tree_seconds
from tasks_service.commands import assignments, task_commands
from tasks_service.core.clock import utcnow
from tasks_service.core.settings import Settings
from tasks_service.identity import directory
from tasks_service.identity.accounts import do_create_account, do_create_token
from tasks_service.notify.outbox import Outbox
from tasks_service.store import heartbeats, migrate
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation
from tasks_service.store.schemas.directory import PersonCreate
from tasks_service.store.schemas.tasks import TaskCreate

APPROVERS = 50
BASELINE = "baseline: Flask+SQLAlchemy insert"


@dataclass
class Result:
    backend: str
    mode: str
    requests: int
    seconds: float
    latencies: list[float]
    note: str = ""
    #: CPU milliseconds per request of the processes serving it (``benchmarks.cpu``):
    #: the web and the workers (the baseline's own for the baseline), until every
    #: request's command is applied
    cpu_ms: float | None = None

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _load(
    url: str, bodies: list[dict[str, Any]], headers: dict[str, str], concurrency: int, expect: int
) -> tuple[float, list[float]]:
    """POST each body to ``url``, ``concurrency`` at a time."""
    return _send([(url, body, headers) for body in bodies], concurrency, expect, "POST")


def _send(
    calls: list[tuple[str, dict[str, Any], dict[str, str]]],
    concurrency: int,
    expect: int,
    method: str = "PATCH",
) -> tuple[float, list[float]]:
    """Send each ``(url, body, headers)``, ``concurrency`` at a time: the whole time,
    and each request's latency."""
    local: dict[int, requests.Session] = {}

    def one(call: tuple[str, dict[str, Any], dict[str, str]]) -> float:
        import threading

        url, body, headers = call
        session = local.setdefault(threading.get_ident(), requests.Session())
        started = time.perf_counter()
        response = session.request(method, url, json=body, headers=headers, timeout=30)
        elapsed = time.perf_counter() - started
        if response.status_code != expect:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, calls))
    return time.perf_counter() - started, latencies


def _decision_world(
    settings: Settings, account_id: int, admin_id: int, decisions: int
) -> tuple[list[int], list[str], list[int]]:
    """In-process: ``APPROVERS`` people with a token each, ``decisions / APPROVERS``
    approval tasks with every one of them as an approver (all must approve), and as
    many plain tasks with a member as there are decisions."""
    tasks_count = max(decisions // APPROVERS, 1)
    run = uuid.uuid4().hex[:6]  # emails unique per run (compare makes a world per run)
    with session_scope(settings) as session:
        people = [
            directory.do_create_person(
                session,
                account_id,
                PersonCreate(name=f"A{n}", primary_email=f"a{n}-{run}@b.example"),
            ).id
            or 0
            for n in range(APPROVERS)
        ]
        tokens = [do_create_token(session, account_id, person) for person in people]
    approval_tasks = []
    for _ in range(tasks_count):
        with session_scope(settings) as session:
            outbox = Outbox(settings)
            data = TaskCreate(subject="CAB", category="approval", required_approvals=APPROVERS)
            task = task_commands.do_create_task(session, outbox, account_id, admin_id, data)
            for person in people:
                assignments.do_add_assignment(
                    session,
                    outbox,
                    account_id,
                    admin_id,
                    task.id or 0,
                    assignments.Assignee(person),
                )
            approval_tasks.append(task.id or 0)
    plain = []
    with session_scope(settings) as session:
        for _ in range(tasks_count * APPROVERS):
            data = TaskCreate(subject="Plain", category="implementation", member_id=admin_id)
            plain.append(
                task_commands.do_create_task(
                    session, Outbox(settings), account_id, admin_id, data
                ).id
                or 0
            )
    return approval_tasks, tokens, plain


def _writable(path: str) -> bool:
    """Whether a write transaction of the SQLite file can begin now."""
    connection = sqlite3.connect(path, timeout=0.2)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.rollback()
        return True
    except sqlite3.OperationalError:  # locked
        return False
    finally:
        connection.close()


def _pause(group: int, settings: Settings, attempts: int = 100) -> None:
    """Stop the workers' process group at a moment when none of them holds a write lock
    of the embedded SQLite files: the web's writes would wait for it (up to its busy
    timeout, then a 503), which would measure the lock, not the accept path."""
    files = [
        url.removeprefix("sqlite:///")
        for url in (settings.effective_database_url, settings.effective_broker_url)
        if url.startswith("sqlite:///")
    ]
    for _ in range(attempts):
        os.killpg(group, signal.SIGSTOP)
        if all(_writable(path) for path in files):
            return
        os.killpg(group, signal.SIGCONT)
        time.sleep(0.05)
    raise RuntimeError("the workers held a write lock of SQLite at every try")


def _cpu_ms(tree: list[int], since: float, requests: int) -> float:
    """CPU milliseconds per request that ``tree`` spent since it had spent ``since`` s."""
    return (tree_seconds(tree) - since) / requests * 1000


def _decide(
    backend: str,
    settings: Settings,
    api: str,
    auth: dict[str, str],
    ids: tuple[int, int],
    n: int,
    concurrency: int,
    service: list[int],
) -> list[Result]:
    account_id, admin_id = ids
    approval_tasks, tokens, plain = _decision_world(settings, account_id, admin_id, n)
    # On SQLite, making the world in-process held the database's write lock for long
    # enough that the workers' heartbeats could go stale, and the API answers 202 at
    # once while no worker is seen alive: measure once they are seen again.
    _wait_heartbeat(settings)
    account = {"X-Xurrent-Account": auth["X-Xurrent-Account"]}
    # approver by approver, each over all the tasks: concurrent requests mostly hit
    # different tasks (one task's decisions take turns on its row lock)
    decisions = [
        (
            f"{api}/v1/tasks/{task}",
            {"status": "approved"},
            {**account, "Authorization": f"Bearer {token}"},
        )
        for token in tokens
        for task in approval_tasks
    ]
    patches = [(f"{api}/v1/tasks/{task}", {"status": "in_progress"}, auth) for task in plain]
    spent = tree_seconds(service)
    seconds, lat = _send(patches, concurrency, 200)
    cpu = _cpu_ms(service, spent, len(patches))
    results = [Result(backend, "plain status PATCH", len(patches), seconds, lat, cpu_ms=cpu)]
    spent = tree_seconds(service)
    seconds, lat = _send(decisions, concurrency, 200)
    cpu = _cpu_ms(service, spent, len(decisions))
    part = f"decision, {APPROVERS} approvers"
    results.append(Result(backend, part, len(decisions), seconds, lat, cpu_ms=cpu))
    return results


def _wait_heartbeat(settings: Settings, timeout: float = 60) -> None:
    """Block until a worker's heartbeat is fresh (half ``worker_stale_after`` at most)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(settings, write=False) as session:
            since = heartbeats.age(session, settings, heartbeats.WORKER, utcnow())
        if since is not None and since.total_seconds() < settings.worker_stale_after / 2:
            return
        time.sleep(0.2)
    raise RuntimeError("no worker heartbeat")


def _wait_worker(api: str, auth: dict[str, str], timeout: float = 90) -> None:
    """Block until the worker applies a command (it takes seconds to boot)."""
    body = {"subject": "ping", "category": "implementation"}
    accepted = requests.post(
        f"{api}/v1/tasks", json=body, headers={**auth, "Prefer": "respond-async"}, timeout=10
    )
    location = f"{api}{accepted.headers['Location']}"
    deadline = time.monotonic() + timeout
    while requests.get(location, headers=auth, timeout=10).json()["status"] == "pending":
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not apply a command in time")
        time.sleep(0.2)


def _pending(settings: Settings) -> int:
    with session_scope(settings, write=False) as session:
        return session.exec(
            select(func.count()).select_from(Operation).where(Operation.status == "pending")
        ).one()


@dataclass
class Bench:
    """A backend's stack, made once, and its account (the benchmark's admin)."""

    backend: str
    settings: Settings
    workdir: Path
    account_id: int
    admin_id: int
    token: str


def _prepare(backend: str) -> tuple[Bench, Callable[[], None]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{backend}-"))
    settings, cleanup = stack(backend, workdir)
    migrate.upgrade(settings)
    with session_scope(settings) as session:
        account, admin, token = do_create_account(
            session, "bench", "Bench", "Bench", "bench@bench.example"
        )
        ids = account.id or 0, admin.id or 0
    return Bench(backend, settings, workdir, *ids, token), cleanup


def _start(
    bench: Bench, env: dict[str, str], logs: Path | None
) -> tuple[list[Popen[bytes]], str, str]:
    """The worker, the web and the baseline (their lines into files under ``logs``)."""
    api_port, base_port = free_port(), free_port()
    cli = [sys.executable, "-m", "tasks_service.cli"]
    gunicorn = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread"]
    gunicorn += ["--workers", str(bench.settings.web_workers), "--log-level", "warning"]
    gunicorn += ["--threads", str(bench.settings.web_threads)]

    def log(role: str) -> Path | None:
        return None if logs is None else logs / f"{role}.log"

    processes = [
        # its own process group, to pause it whole
        spawn([*cli, "worker", "--concurrency", "2"], env, log("worker"), start_new_session=True),
        spawn([*cli, "web", "--port", str(api_port)], env, log("web")),
        spawn(
            [*gunicorn, "--bind", f"127.0.0.1:{base_port}", "benchmarks.baseline_app:app"],
            env,
            log("baseline"),
        ),
    ]
    return processes, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{base_port}"


def _measure(
    bench: Bench,
    processes: list[Popen[bytes]],
    urls: tuple[str, str],
    n: int,
    concurrency: int,
    parts: set[str],
) -> list[Result]:
    backend, settings, account_id = bench.backend, bench.settings, bench.account_id
    api, base = urls
    results: list[Result] = []
    auth = {"Authorization": f"Bearer {bench.token}", "X-Xurrent-Account": "bench"}
    body = {"subject": "Benchmark task", "category": "implementation"}
    bodies = [dict(body) for _ in range(n)]
    service, baseline = [p.pid for p in processes[:2]], [processes[2].pid]
    # Warm up every process (imports, pools, prepared statements).
    _load(f"{base}/tasks", [{**body, "account_id": account_id}] * 50, {}, concurrency, 201)
    _load(f"{api}/v1/tasks", bodies[:50], auth, concurrency, 201)
    if "decide" in parts:
        ids = account_id, bench.admin_id
        results += _decide(backend, settings, api, auth, ids, n, concurrency, service)
    if "create" not in parts:
        return results
    spent = tree_seconds(baseline)
    seconds, lat = _load(
        f"{base}/tasks", [{**b, "account_id": account_id} for b in bodies], {}, concurrency, 201
    )
    results.append(Result(backend, BASELINE, n, seconds, lat, cpu_ms=_cpu_ms(baseline, spent, n)))
    spent = tree_seconds(service)
    seconds, lat = _load(f"{api}/v1/tasks", bodies, auth, concurrency, 201)
    cpu = _cpu_ms(service, spent, n)
    results.append(Result(backend, "(a) API, waits for outcome", n, seconds, lat, cpu_ms=cpu))
    spent = tree_seconds(service)
    seconds, lat = _load(
        f"{api}/v1/tasks", bodies, {**auth, "Prefer": "respond-async"}, concurrency, 202
    )
    drain_start = time.perf_counter()
    while _pending(settings):
        time.sleep(0.05)
    drained = time.perf_counter() - drain_start
    cpu = _cpu_ms(service, spent, n)
    results.append(
        Result(
            backend,
            "(b) API, Prefer: respond-async",
            n,
            seconds,
            lat,
            note=f"workers applied all {n} within {seconds + drained:.1f}s of the first request",
            cpu_ms=cpu,
        )
    )
    # The accept path alone: as (b), with the workers paused so that they take no
    # CPU from the web; then they drain what was accepted.
    spent = tree_seconds(service)
    _pause(processes[0].pid, settings)
    try:
        seconds, lat = _load(
            f"{api}/v1/tasks", bodies, {**auth, "Prefer": "respond-async"}, concurrency, 202
        )
    finally:
        os.killpg(processes[0].pid, signal.SIGCONT)
    while _pending(settings):
        time.sleep(0.05)
    cpu = _cpu_ms(service, spent, n)
    results.append(
        Result(backend, "(b') respond-async, workers paused", n, seconds, lat, cpu_ms=cpu)
    )
    return results


def _run(
    bench: Bench, mode: str | None, logs: Path | None, n: int, concurrency: int, parts: set[str]
) -> list[Result]:
    """Start the roles (logs and metrics as ``mode`` says), measure, stop them."""
    env = process_env(bench.settings, mode)
    processes, api, base = _start(bench, env, logs)
    try:
        wait_http(f"{api}/healthz")
        wait_http(f"{base}/")
        auth = {"Authorization": f"Bearer {bench.token}", "X-Xurrent-Account": "bench"}
        _wait_worker(api, auth)
        if mode is not None:
            overhead.check_mode(mode, api, bench.token, env.get("TASKS_WORKER_METRICS_PORT"))
        return _measure(bench, processes, (api, base), n, concurrency, parts)
    finally:
        stop(processes)


def run_backend(backend: str, n: int, concurrency: int, parts: set[str]) -> list[Result]:
    bench, cleanup = _prepare(backend)
    try:
        return _run(bench, None, None, n, concurrency, parts)
    finally:
        cleanup()


def compare_backend(
    backend: str, n: int, concurrency: int, parts: set[str], rounds: int
) -> list[overhead.Sample]:
    """The runs of ``overhead.schedule`` on one stack: off and on, alternately."""
    bench, cleanup = _prepare(backend)
    samples = []
    try:
        for number, mode in enumerate(overhead.schedule(rounds), 1):
            logs = bench.workdir / "logs" / f"{number:02}-{mode}"
            results = _run(bench, mode, logs, n, concurrency, parts)
            written = overhead.log_size(sorted(logs.glob("*.log")))
            overhead.progress(f"[{backend} run {number}, {mode}] done: {written} in {logs}")
            samples += [
                overhead.Sample(
                    backend,
                    r.mode,
                    mode,
                    r.requests,
                    r.seconds,
                    r.latencies,
                    r.mode == BASELINE,
                    r.cpu_ms,
                )
                for r in results
            ]
    finally:
        cleanup()
    return samples


def print_table(results: list[Result]) -> None:
    if any(r.mode.startswith("baseline") for r in results):
        _print_creates(results)
    _print_patches(results)


def _print_creates(results: list[Result]) -> None:
    header = (
        f"{'backend':9} {'mode':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x baseline':>10}"
    )
    print(header)
    print("-" * len(header))
    baseline = {r.backend: r.throughput for r in results if r.mode.startswith("baseline")}
    for r in results:
        if r.mode.startswith(("plain", "decision")):
            continue
        ratio = r.throughput / baseline[r.backend]
        print(
            f"{r.backend:9} {r.mode:38} {r.throughput:8.1f} {r.pct(0.5):8.1f} {r.pct(0.99):8.1f} {ratio:10.2f}"
        )
    for r in results:
        if r.note:
            print(f"  {r.backend}: {r.note}")


def _print_patches(results: list[Result]) -> None:
    plain = {r.backend: r for r in results if r.mode == "plain status PATCH"}
    if plain:
        header = f"{'backend':9} {'PATCH':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x time':>7} {'x p99':>7}"
        print(f"\n{header}\n{'-' * len(header)}")
        for r in results:
            if r.mode.startswith(("plain", "decision")):
                base = plain[r.backend]
                slower = base.throughput / r.throughput
                tail = r.pct(0.99) / base.pct(0.99)
                print(
                    f"{r.backend:9} {r.mode:38} {r.throughput:8.1f} {r.pct(0.5):8.1f} {r.pct(0.99):8.1f} {slower:7.2f} {tail:7.2f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--parts", default="create,decide")
    overhead.add_arguments(parser)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    backends = [b.strip() for b in args.backends.split(",")]
    if args.observability:
        from benchmarks import paired  # (it builds on this module's stack)

        methods: dict[str, tuple[Callable[..., list[Any]], Callable[..., bool]]] = {
            "compare": (compare_backend, overhead.print_table),
            "paired": (paired.paired_backend, overhead.print_paired_table),
        }
        measure, table = methods[args.observability]
        found: list[Any] = []
        for number, backend in enumerate(backends, 1):
            found += measure(backend, args.requests, args.concurrency, parts, args.rounds)
            if number < len(backends):  # so far (a later backend's failure loses nothing)
                table(found, args.rounds, file=sys.stderr)
        each = " a side" if args.observability == "paired" else ""
        print(
            f"\nover HTTP: {args.requests} requests{each}, {args.concurrency} concurrent"
            f" clients, {os.cpu_count()} cores"
        )
        table(found, args.rounds)
        return
    results: list[Result] = []
    for backend in backends:
        results += run_backend(backend, args.requests, args.concurrency, parts)
    print(
        f"\nover HTTP: {args.requests} requests, {args.concurrency} concurrent clients, "
        f"2 gunicorn workers x 8 threads, 2 Celery worker processes, {os.cpu_count()} cores"
    )
    print_table(results)


if __name__ == "__main__":
    main()
