"""Logs and metrics off against on, side by side: two stacks up at once, one with them
off and one with them on, and every part's requests interleaved between the two
(``--observability paired`` of ``benchmarks.commands``).

Why beside ``--observability compare``: compare runs off and on one after the other,
and on a shared 2-core machine the machine itself moves between two runs by more than
the 5% aim (its control, the bare baseline app, moved 22% and 38% between runs in the
same hour), so its verdicts read the machine, not the code. Here each of the clients
sends its requests alternately to the off stack and to the on stack, so whatever the
machine does at a moment weighs on both alike; what differs is only the settings.

Each stack is its own database (a PostgreSQL database, or SQLite files of its own) with
its own web, worker and baseline, started with ``common.observability_env`` of its
side. The clients are shared, so the two sides' throughputs are tied together: the
table gives each request's mean latency instead (with a fixed number of clients, a
side's throughput is the clients' share over that mean), its p99, and the CPU per
request of each side's own processes (``benchmarks.cpu``). Each round measures every
part once, the side sent first alternating between rounds; the table gives the median
of the rounds' on/off ratios and their range. Pass: mean and p99 on/off <= 1.05 (the
5% aim). The baselines of the two sides run the same code (no logs nor metrics of
ours), so their row is the noise this method leaves.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

import requests

from benchmarks import overhead
from benchmarks.commands import (
    APPROVERS,
    BASELINE,
    Bench,
    _decision_world,
    _pause,
    _pending,
    _prepare,
    _start,
    _wait_heartbeat,
    _wait_worker,
)
from benchmarks.common import OFF, ON, process_env, stop, wait_http
from benchmarks.cpu import tree_seconds
from benchmarks.overhead import SIDES

#: ``(method, url, body, headers)`` of one request
Call = tuple[str, str, dict[str, Any], dict[str, str]]


@dataclass
class Side:
    """One side's stack, running."""

    mode: str
    bench: Bench
    processes: list[Popen[bytes]]
    api: str
    base: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bench.token}", "X-Xurrent-Account": "bench"}

    @property
    def service(self) -> list[int]:
        """The web's and the worker's process trees (the baseline's is apart)."""
        return [p.pid for p in self.processes[:2]]

    @property
    def baseline(self) -> list[int]:
        return [self.processes[2].pid]


@dataclass
class _Sent:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {OFF: [], ON: []})
    lock: threading.Lock = field(default_factory=threading.Lock)


def send_interleaved(
    calls: dict[str, list[Call]], concurrency: int, expect: int, first: str
) -> dict[str, list[float]]:
    """Send both sides' calls, ``concurrency`` at a time, alternating between the sides
    (``first``'s call first): each side's latencies."""
    second = ON if first == OFF else OFF
    tagged = [
        (side, call)
        for pair in zip(calls[first], calls[second], strict=True)
        for side, call in zip((first, second), pair, strict=True)
    ]
    sent, local = _Sent(), threading.local()

    def one(item: tuple[str, Call]) -> None:
        side, (method, url, body, headers) = item
        if not hasattr(local, "session"):
            local.session = requests.Session()
        started = time.perf_counter()
        response = local.session.request(method, url, json=body, headers=headers, timeout=60)
        elapsed = time.perf_counter() - started
        if response.status_code != expect:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
        with sent.lock:
            sent.latencies[side].append(elapsed)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, tagged))
    return sent.latencies


def _cpu_since(trees: dict[str, list[int]], spent: dict[str, float], n: int) -> dict[str, float]:
    return {mode: (tree_seconds(trees[mode]) - spent[mode]) / n * 1000 for mode in SIDES}


def _timed(
    sides: dict[str, Side],
    calls: dict[str, list[Call]],
    concurrency: int,
    expect: int,
    first: str,
    baseline: bool = False,
    drain: bool = False,
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Send ``calls`` interleaved: each side's latencies, and its CPU per request until
    (``drain``) its workers applied every command."""
    trees = {m: (s.baseline if baseline else s.service) for m, s in sides.items()}
    spent = {mode: tree_seconds(trees[mode]) for mode in SIDES}
    latencies = send_interleaved(calls, concurrency, expect, first)
    if drain:
        for side in sides.values():
            while _pending(side.bench.settings):
                time.sleep(0.05)
    return latencies, _cpu_since(trees, spent, len(calls[OFF]))


@contextmanager
def _workers_paused(sides: dict[str, Side]) -> Iterator[None]:
    paused: list[int] = []
    try:
        for side in sides.values():
            _pause(side.processes[0].pid, side.bench.settings)
            paused.append(side.processes[0].pid)
        yield
    finally:
        for group in paused:
            os.killpg(group, signal.SIGCONT)


def _creates(
    backend: str, sides: dict[str, Side], n: int, concurrency: int, first: str
) -> list[overhead.Pair]:
    body: dict[str, Any] = {"subject": "Benchmark task", "category": "implementation"}

    def calls(path: str, extra: dict[str, str] | None = None) -> dict[str, list[Call]]:
        made: dict[str, list[Call]] = {}
        for mode, side in sides.items():
            if path == "/tasks":  # the baseline's
                url, sent = f"{side.base}/tasks", {**body, "account_id": side.bench.account_id}
                made[mode] = [("POST", url, sent, {})] * n
            else:
                headers = {**side.auth, **(extra or {})}
                made[mode] = [("POST", f"{side.api}{path}", body, headers)] * n
        return made

    async_ = {"Prefer": "respond-async"}
    pairs = [
        overhead.Pair(
            backend, BASELINE, *_timed(sides, calls("/tasks"), concurrency, 201, first, True), True
        ),
        overhead.Pair(
            backend,
            "(a) API, waits for outcome",
            *_timed(sides, calls("/v1/tasks"), concurrency, 201, first),
        ),
        overhead.Pair(
            backend,
            "(b) API, Prefer: respond-async",
            *_timed(sides, calls("/v1/tasks", async_), concurrency, 202, first, drain=True),
        ),
    ]
    # the accept path alone: the workers of both sides paused, then drained
    trees = {mode: side.service for mode, side in sides.items()}
    spent = {mode: tree_seconds(trees[mode]) for mode in SIDES}
    with _workers_paused(sides):
        latencies = send_interleaved(calls("/v1/tasks", async_), concurrency, 202, first)
    for side in sides.values():
        while _pending(side.bench.settings):
            time.sleep(0.05)
    part = "(b') respond-async, workers paused"
    pairs.append(overhead.Pair(backend, part, latencies, _cpu_since(trees, spent, n)))
    return pairs


def _decisions(
    backend: str, sides: dict[str, Side], n: int, concurrency: int, first: str
) -> list[overhead.Pair]:
    patches: dict[str, list[Call]] = {}
    decisions: dict[str, list[Call]] = {}
    for mode, side in sides.items():
        bench = side.bench
        approval, tokens, plain = _decision_world(
            bench.settings, bench.account_id, bench.admin_id, n
        )
        _wait_heartbeat(bench.settings)  # (making the world can hold SQLite's lock)
        account = {"X-Xurrent-Account": "bench"}
        patches[mode] = [
            ("PATCH", f"{side.api}/v1/tasks/{task}", {"status": "in_progress"}, side.auth)
            for task in plain
        ]
        decisions[mode] = [
            (
                "PATCH",
                f"{side.api}/v1/tasks/{task}",
                {"status": "approved"},
                {**account, "Authorization": f"Bearer {token}"},
            )
            for token in tokens
            for task in approval
        ]
    return [
        overhead.Pair(
            backend, "plain status PATCH", *_timed(sides, patches, concurrency, 200, first)
        ),
        overhead.Pair(
            backend,
            f"decision, {APPROVERS} approvers",
            *_timed(sides, decisions, concurrency, 200, first),
        ),
    ]


def _up(bench: Bench, mode: str, logs: Path) -> Side:
    env = process_env(bench.settings, mode)
    processes, api, base = _start(bench, env, logs)
    side = Side(mode, bench, processes, api, base)
    try:
        wait_http(f"{api}/healthz")
        wait_http(f"{base}/")
        _wait_worker(api, side.auth)
        overhead.check_mode(mode, api, bench.token, env.get("TASKS_WORKER_METRICS_PORT"))
    except BaseException:
        stop(processes)
        raise
    return side


def paired_backend(
    backend: str, n: int, concurrency: int, parts: set[str], rounds: int
) -> list[overhead.Pair]:
    """``rounds`` rounds of every part on two stacks of ``backend``, off and on."""
    pairs: list[overhead.Pair] = []
    with ExitStack() as cleanup:
        sides = {}
        for mode in SIDES:
            bench, drop = _prepare(backend)
            cleanup.callback(drop)
            side = _up(bench, mode, bench.workdir / "logs" / mode)
            cleanup.callback(stop, side.processes)
            sides[mode] = side
        for side in sides.values():  # warm up every process (imports, pools, statements)
            body = {"subject": "warm-up", "category": "implementation"}
            requests.post(
                f"{side.base}/tasks", json={**body, "account_id": side.bench.account_id}, timeout=30
            )
            for _ in range(20):
                requests.post(f"{side.api}/v1/tasks", json=body, headers=side.auth, timeout=60)
        for number in range(rounds):
            first = OFF if number % 2 == 0 else ON
            if "create" in parts:
                pairs += _creates(backend, sides, n, concurrency, first)
            if "decide" in parts:
                pairs += _decisions(backend, sides, n, concurrency, first)
            overhead.progress(f"[{backend} paired round {number + 1}/{rounds}] done")
        for mode, side in sides.items():
            logs = sorted((side.bench.workdir / "logs" / mode).glob("*.log"))
            overhead.progress(f"[{backend} {mode}] {overhead.log_size(logs)}")
    return pairs
