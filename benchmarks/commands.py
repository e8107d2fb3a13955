"""Create-task throughput and latency through the REST API, against a bare baseline.

    python -m benchmarks.commands [--requests 1000] [--concurrency 16] [--backends postgres,sqlite]

For each backend (PostgreSQL + Redis, and the embedded SQLite default) it starts real
processes: ``tasks-service web`` (gunicorn), ``tasks-service worker -c 2``, and the
baseline (``benchmarks/baseline_app.py`` under the same gunicorn settings, inserting the
same task row synchronously into the same database). Then it sends the same number of
create requests over HTTP to each: the baseline, the API waiting for the outcome, and
the API with ``Prefer: respond-async`` (plus the time the workers need to drain those).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlmodel import func, select

from benchmarks.common import free_port, process_env, stack, stop, wait_http
from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_account
from tasks_service.store import migrate
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    backend: str
    mode: str
    requests: int
    seconds: float
    latencies: list[float]
    note: str = ""

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _load(
    url: str, bodies: list[dict], headers: dict[str, str], concurrency: int, expect: int
) -> tuple[float, list[float]]:
    local = {}

    def one(body: dict) -> float:
        import threading

        session = local.setdefault(threading.get_ident(), requests.Session())
        started = time.perf_counter()
        response = session.post(url, json=body, headers=headers, timeout=30)
        elapsed = time.perf_counter() - started
        if response.status_code != expect:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, bodies))
    return time.perf_counter() - started, latencies


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


def run_backend(backend: str, n: int, concurrency: int) -> list[Result]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{backend}-"))
    settings, cleanup = stack(backend, workdir)
    migrate.upgrade(settings)
    with session_scope(settings) as session:
        account, _admin, token = do_create_account(
            session, "bench", "Bench", "Bench", "bench@bench.example"
        )
        account_id = account.id
    env = process_env(settings)
    api_port, base_port = free_port(), free_port()
    cli = [sys.executable, "-m", "tasks_service.cli"]
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(settings.web_workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(settings.web_threads),
        "--log-level",
        "warning",
    ]
    processes = [
        subprocess.Popen(
            [*cli, "worker", "--concurrency", "2"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, to pause it whole
        ),
        subprocess.Popen(
            [*cli, "web", "--port", str(api_port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*gunicorn, "--bind", f"127.0.0.1:{base_port}", "benchmarks.baseline_app:app"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    results: list[Result] = []
    try:
        api, base = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{base_port}"
        wait_http(f"{api}/healthz")
        wait_http(f"{base}/")
        auth = {"Authorization": f"Bearer {token}", "X-Xurrent-Account": "bench"}
        body = {"subject": "Benchmark task", "category": "implementation"}
        bodies = [dict(body) for _ in range(n)]
        _wait_worker(api, auth)
        # Warm up every process (imports, pools, prepared statements).
        _load(f"{base}/tasks", [{**body, "account_id": account_id}] * 50, {}, concurrency, 201)
        _load(f"{api}/v1/tasks", bodies[:50], auth, concurrency, 201)
        seconds, lat = _load(
            f"{base}/tasks", [{**b, "account_id": account_id} for b in bodies], {}, concurrency, 201
        )
        results.append(Result(backend, "baseline: Flask+SQLAlchemy insert", n, seconds, lat))
        seconds, lat = _load(f"{api}/v1/tasks", bodies, auth, concurrency, 201)
        results.append(Result(backend, "(a) API, waits for outcome", n, seconds, lat))
        seconds, lat = _load(
            f"{api}/v1/tasks", bodies, {**auth, "Prefer": "respond-async"}, concurrency, 202
        )
        drain_start = time.perf_counter()
        while _pending(settings):
            time.sleep(0.05)
        drained = time.perf_counter() - drain_start
        results.append(
            Result(
                backend,
                "(b) API, Prefer: respond-async",
                n,
                seconds,
                lat,
                note=f"workers applied all {n} within {seconds + drained:.1f}s of the first request",
            )
        )
        # The accept path alone: as (b), with the workers paused so that they take no
        # CPU from the web; then they drain what was accepted.
        os.killpg(processes[0].pid, signal.SIGSTOP)
        try:
            seconds, lat = _load(
                f"{api}/v1/tasks", bodies, {**auth, "Prefer": "respond-async"}, concurrency, 202
            )
        finally:
            os.killpg(processes[0].pid, signal.SIGCONT)
        results.append(Result(backend, "(b') respond-async, workers paused", n, seconds, lat))
        while _pending(settings):
            time.sleep(0.05)
    finally:
        stop(processes)
        cleanup()
    return results


def print_table(results: list[Result]) -> None:
    header = (
        f"{'backend':9} {'mode':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x baseline':>10}"
    )
    print(header)
    print("-" * len(header))
    baseline = {r.backend: r.throughput for r in results if r.mode.startswith("baseline")}
    for r in results:
        ratio = r.throughput / baseline[r.backend]
        print(
            f"{r.backend:9} {r.mode:38} {r.throughput:8.1f} {r.pct(0.5):8.1f} {r.pct(0.99):8.1f} {ratio:10.2f}"
        )
    for r in results:
        if r.note:
            print(f"  {r.backend}: {r.note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backends", default="postgres,sqlite")
    args = parser.parse_args()
    results: list[Result] = []
    for backend in args.backends.split(","):
        results += run_backend(backend.strip(), args.requests, args.concurrency)
    print(
        f"\ncreate-task over HTTP: {args.requests} requests, {args.concurrency} concurrent clients, "
        f"2 gunicorn workers x 8 threads, 2 Celery worker processes, {os.cpu_count()} cores"
    )
    print_table(results)


if __name__ == "__main__":
    main()
