"""Timed alerts on PostgreSQL + Redis: the service's timers against apply_async(eta=...).

Part 1. N tasks whose ``alert_at`` fall within the same minute, delivered as signed
webhooks to a local sink (another process): lag from ``alert_at`` to receipt (p50, p99,
max), deliveries per second, and the peak memory of the worker processes. The same run
then measures the baseline many Celery users write (``benchmarks/timers_baseline.py``:
one ``apply_async(eta=alert_at)`` per alert, a task that loads the task and posts the
same webhook), on the same broker server, sink and number of worker processes.

Part 2. The cost of the one-second sweep when few timers are due: claiming 100 due
timers among 1,000,000 future ones versus among 10,000 (median of repeated claims).

    python3 -m uv run --locked python -m benchmarks.timers [--alerts 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Process
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.common import ROOT, free_port, process_env, stack
from tasks_service.core.settings import Settings

WORKER_PROCESSES = 2


# --- the sink: another process, recording (id, alert moment, receipt) per POST ---------


def _serve(port: int, out: str) -> None:
    lock = threading.Lock()
    sink = open(out, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received = time.time()
            moment = json.loads(body)["timestamp"]
            with lock:
                sink.write(f"{self.headers['webhook-id']} {moment} {received}\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 1024
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _received(out: Path, prefix: str) -> list[tuple[str, float, float]]:
    rows = []
    for line in out.read_text().splitlines():
        ident, moment, received = line.split(" ")
        if ident.startswith(prefix):
            alert_at = datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
            rows.append((ident, alert_at, float(received)))
    return rows


# --- memory of a process tree ---------------------------------------------------------------


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (MB), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in (Path("/proc") / str(current) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class PeakMemory:
    def __init__(self, pids: list[int]) -> None:
        self.pids, self.peak, self._stop = pids, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, sum(_tree_rss_mb(pid) for pid in self.pids))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


# --- part 1 ---------------------------------------------------------------------------------


def _setup_alerts(settings: Settings, n: int, first: datetime, with_timers: bool) -> list[int]:
    """N tasks with alert_at spread over one minute from ``first``; with their alert
    timers (the service) or without (the baseline schedules its own)."""
    from tasks_service.store.db import session_scope

    with session_scope(settings) as session:
        ids = session.execute(
            text(
                "INSERT INTO task (account_id, subject, category, status, urgent,"
                " work_hours_are_24x7, clock_stopped_seconds, overdue, alert_at,"
                " created_at, updated_at) "
                "SELECT 1, 'Alert ' || g, 'implementation', 'registered', false, false, 0,"
                " false, :first + (g * 60.0 / :n) * interval '1 second', now(), now() "
                "FROM generate_series(0, :n - 1) AS g RETURNING id"
            ),
            {"first": first, "n": n},
        ).scalars()
        task_ids = list(ids)
        if with_timers:
            session.execute(
                text(
                    "INSERT INTO timer (account_id, task_id, kind, level, fire_at, state,"
                    " attempts, late, created_at) "
                    "SELECT account_id, id, 'alert', 0, alert_at, 'pending', 0, false, now() "
                    "FROM task WHERE id = ANY(:ids)"
                ),
                {"ids": task_ids},
            )
    return task_ids


def _wait_all(out: Path, prefix: str, n: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if len(_received(out, prefix)) >= n:
            return
        time.sleep(1)


def _summary(rows: list[tuple[str, float, float]], n: int) -> dict[str, float]:
    lags = sorted(received - alert_at for _id, alert_at, received in rows)
    unique = len({ident for ident, _a, _r in rows})
    span = max(r for _i, _a, r in rows) - min(a for _i, a, _r in rows) if rows else 0.0
    return {
        "received": unique,
        "duplicates": len(rows) - unique,
        "missing": n - unique,
        "early": sum(1 for lag in lags if lag < 0),
        "p50": lags[len(lags) // 2] if lags else float("nan"),
        "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else float("nan"),
        "max": lags[-1] if lags else float("nan"),
        "per_s": unique / span if span else 0.0,
    }


def delivery_lag(n: int, lead: float, timeout: float) -> list[tuple[str, dict[str, float]]]:
    from tasks_service.identity.accounts import do_create_account
    from tasks_service.notify.transport.signing import new_secret
    from tasks_service.store import migrate
    from tasks_service.store.db import session_scope
    from tasks_service.store.models import Webhook

    workdir = Path(tempfile.mkdtemp(prefix="bench-timers-"))
    settings, drop = stack("postgres", workdir)
    settings = settings.model_copy(update={"webhook_allow_private": True})
    port, out = free_port(), workdir / "sink.log"
    out.touch()
    sink = Process(target=_serve, args=(port, str(out)), daemon=True)
    sink.start()
    procs: list[subprocess.Popen[bytes]] = []
    rows: list[tuple[str, dict[str, float]]] = []
    try:
        migrate.upgrade(settings)
        with session_scope(settings) as session:
            account, _admin, _token = do_create_account(
                session, "bench", "Bench", "Bench", "b@bench.example"
            )
            hook = Webhook(
                account_id=account.id or 0,
                uri=f"http://127.0.0.1:{port}/hooks",
                events=["task.alert"],
                secret=new_secret(),
            )
            session.add(hook)
            session.flush()
            hook_id = hook.id or 0
        env = process_env(settings)
        env["TASKS_WEBHOOK_ALLOW_PRIVATE"] = "true"

        # -- the service: timers swept by beat, fired and delivered by the workers
        first = datetime.now(UTC) + timedelta(seconds=lead)
        _setup_alerts(settings, n, first, with_timers=True)
        cli = [sys.executable, "-m", "tasks_service.cli"]
        quiet = {"cwd": ROOT, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        worker = subprocess.Popen(
            [*cli, "worker", "--concurrency", str(WORKER_PROCESSES)], env=env, **quiet
        )
        beat = subprocess.Popen(
            [*cli, "beat"], env={**env, "TASKS_DATA_DIR": str(workdir)}, **quiet
        )
        procs += [worker, beat]
        memory = PeakMemory([worker.pid])
        _wait_all(out, "msg_", n, time.monotonic() + lead + 60 + timeout)
        peak = memory.stop()
        for proc in (worker, beat):
            proc.terminate()
            proc.wait(60)
        rows.append(
            ("timers table + 1 s sweep", {**_summary(_received(out, "msg_"), n), "rss": peak})
        )

        # -- the baseline: one apply_async(eta=alert_at) per alert, same workers' count
        from benchmarks import timers_baseline

        broker = settings.effective_broker_url.rsplit("/", 1)[0] + "/14"
        timers_baseline.app.conf.broker_url = broker
        env_base = {**env, "BENCH_BROKER": broker}
        first = datetime.now(UTC) + timedelta(seconds=lead)
        ids = _setup_alerts(settings, n, first, with_timers=False)
        base_worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "benchmarks.timers_baseline",
                "worker",
                "--concurrency",
                str(WORKER_PROCESSES),
                "--loglevel",
                "WARNING",
            ],
            env=env_base,
            **quiet,
        )
        procs.append(base_worker)
        memory = PeakMemory([base_worker.pid])
        for i, task_id in enumerate(ids):
            alert_at = first + timedelta(seconds=i * 60.0 / n)
            timers_baseline.send_alert.apply_async(
                (task_id, hook_id, alert_at.isoformat().replace("+00:00", "Z")), eta=alert_at
            )
        _wait_all(out, "base_", n, time.monotonic() + lead + 60 + timeout)
        peak = memory.stop()
        rows.append(
            ("apply_async(eta=alert_at)", {**_summary(_received(out, "base_"), n), "rss": peak})
        )
        return rows
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)
        sink.terminate()
        drop()


# --- part 2 ---------------------------------------------------------------------------------


def sweep_cost(future_counts: list[int], due: int, repeats: int) -> list[tuple[int, float, float]]:
    from tasks_service.identity.accounts import do_create_account
    from tasks_service.store import migrate, timers
    from tasks_service.store.db import session_scope

    out = []
    for future in future_counts:
        workdir = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
        settings, drop = stack("postgres", workdir)
        try:
            migrate.upgrade(settings)
            with session_scope(settings) as session:
                do_create_account(session, "bench", "Bench", "Bench", "b@bench.example")
                session.execute(
                    text(
                        "INSERT INTO task (account_id, subject, category, status, urgent,"
                        " work_hours_are_24x7, clock_stopped_seconds, overdue, created_at,"
                        " updated_at) VALUES (1, 'Holder', 'implementation', 'registered',"
                        " false, false, 0, false, now(), now())"
                    )
                )
                # one row per (task, kind, level): levels number the timers
                session.execute(
                    text(
                        "INSERT INTO timer (account_id, task_id, kind, level, fire_at, state,"
                        " attempts, late, created_at) "
                        "SELECT 1, 1, 'escalation', g,"
                        " now() + interval '1 day' + (g % 100000) * interval '1 minute',"
                        " 'pending', 0, false, now() FROM generate_series(1, :n) AS g"
                    ),
                    {"n": future},
                )
                session.execute(
                    text(
                        "INSERT INTO timer (account_id, task_id, kind, level, fire_at, state,"
                        " attempts, late, created_at) "
                        "SELECT 1, 1, 'escalation', -g, now() - interval '1 second',"
                        " 'pending', 0, false, now() FROM generate_series(1, :n) AS g"
                    ),
                    {"n": due},
                )
            with session_scope(settings) as session:
                session.execute(text("ANALYZE timer"))
            samples, probes = [], []
            for _ in range(repeats):
                with session_scope(settings) as session:
                    now = datetime.now(UTC)
                    begin = time.perf_counter()
                    assert timers.any_due(session, now)  # what beat asks every second
                    probes.append(time.perf_counter() - begin)
                    begin = time.perf_counter()
                    claimed = timers.do_claim_due(session, now, limit=500)
                    samples.append(time.perf_counter() - begin)
                    assert len(claimed) == due, len(claimed)
                with session_scope(settings) as session:  # due again for the next round
                    session.execute(
                        text("UPDATE timer SET state = 'pending' WHERE id = ANY(:ids)"),
                        {"ids": claimed},
                    )
            out.append(
                (future, statistics.median(probes) * 1000, statistics.median(samples) * 1000)
            )
        finally:
            drop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--lead", type=float, default=30.0, help="seconds before the first alert")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds to wait past the minute"
    )
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--parts", default="lag,sweep")
    args = parser.parse_args()
    os.environ.setdefault("TASKS_LOG_LEVEL", "WARNING")
    parts = set(args.parts.split(","))
    if "lag" in parts:
        rows = delivery_lag(args.alerts, args.lead, args.timeout)
        print(
            f"\n{args.alerts:,} alerts due within one minute, {WORKER_PROCESSES} worker processes"
        )
        header = (
            f"{'mode':28} {'received':>9} {'dup':>5} {'early':>5} {'p50 s':>7} {'p99 s':>7}"
            f" {'max s':>7} {'deliv/s':>8} {'RSS MB':>7} {'p99 x base':>10}"
        )
        print(header)
        base_p99 = rows[-1][1]["p99"]
        for name, r in rows:
            print(
                f"{name:28} {r['received']:>9,.0f} {r['duplicates']:>5.0f} {r['early']:>5.0f}"
                f" {r['p50']:>7.2f} {r['p99']:>7.2f} {r['max']:>7.2f} {r['per_s']:>8.1f}"
                f" {r['rss']:>7.0f} {r['p99'] / base_p99 if base_p99 else float('nan'):>10.2f}"
            )
    if "sweep" in parts:
        costs = sweep_cost([10_000, 1_000_000], 100, args.repeats)
        print(f"\nsweep with 100 timers due (median of {args.repeats}): beat's probe, a claim")
        print(f"{'future timers':>14} {'probe ms':>9} {'x 10k':>7} {'claim ms':>9} {'x 10k':>7}")
        for future, probe, claim in costs:
            print(
                f"{future:>14,} {probe:>9.2f} {probe / costs[0][1]:>7.2f}"
                f" {claim:>9.2f} {claim / costs[0][2]:>7.2f}"
            )


if __name__ == "__main__":
    main()
