"""What logs and metrics cost: a benchmark's measurement with them off and on, side by
side (``--observability compare`` of ``benchmarks.commands`` and ``benchmarks.queries``).

Off: ``TASKS_METRICS=false``, ``TASKS_LOG_LEVEL=WARNING`` (no line per request or per
operation). On: ``TASKS_METRICS=true``, ``TASKS_LOG_LEVEL=INFO``,
``TASKS_LOG_FORMAT=json``, the worker's metrics endpoint on a free port. In both the
roles' stdout and stderr are appended to a file, as a supervisor in production keeps
them (not a pipe nobody reads, which would block, nor /dev/null, which costs nothing).
``benchmarks.common.observability_env`` is the one place these are set.

Method: on the same stack (same database, same data), each run starts the roles anew
with the run's environment, checks that the environment took (``/metrics`` answers
when on, 404 when off; the worker's endpoint answers when on), warms up, measures,
stops them. Runs alternate in ABBA order, ``--rounds`` pairs: off, on, on, off, off,
on, ... so that a drift of the machine (other users of its 2 CPUs, the tables
growing) weighs on both sides alike instead of passing for overhead. Each side's
figure is its best run: the highest throughput and the lowest p99 of its runs (noise
on a shared machine only ever slows a run down; the best run is the closest to what
the code costs). Every run's figures are printed under the table, so the spread is
there to judge. Pass: throughput on/off >= 0.95 and p99 on/off <= 1.05 (the 5% aim).

Rows marked ``control`` (the bare baseline app of ``benchmarks.commands``, which has no
logs nor metrics of ours) are the noise floor: their ratio is what the machine alone
moves between runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import requests

from benchmarks.common import OFF, ON

AIM = 0.05
#: the two sides of a paired measurement
SIDES = (OFF, ON)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--observability",
        choices=["compare", "paired"],
        help="measure with logs and metrics off and on, print the overhead: in alternating"
        " runs (compare), or on two stacks at once, requests interleaved (paired:"
        " benchmarks.paired)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="with --observability: pairs of runs (off+on) in ABBA order (compare), or"
        " rounds of every part (paired)",
    )


def schedule(rounds: int) -> list[str]:
    """The modes of the runs: off, on, then on, off, and so on (ABBA)."""
    order: list[str] = []
    for n in range(rounds):
        order += [OFF, ON] if n % 2 == 0 else [ON, OFF]
    return order


@dataclass
class Sample:
    """One part of one run: ``requests`` in ``seconds``, each request's latency."""

    backend: str
    part: str
    mode: str
    requests: int
    seconds: float
    latencies: list[float]
    control: bool = False
    #: CPU milliseconds per request of the processes serving the part (``benchmarks.cpu``)
    cpu_ms: float | None = None

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000


def check_mode(mode: str, api: str, admin_token: str, worker_port: str | None = None) -> None:
    """Refuse a run whose roles are not in ``mode``: web's ``/metrics`` answers (on) or
    is 404 (off); the worker's endpoint answers, with operations counted (on)."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    status = requests.get(f"{api}/metrics", headers=auth, timeout=30).status_code
    if status != (200 if mode == ON else 404):
        raise RuntimeError(f"observability {mode}: GET /metrics answered {status}")
    if mode == ON and worker_port:
        page = requests.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=30).text
        if "tasks_operations_total" not in page:
            raise RuntimeError("observability on: the worker's metrics count no operation")


def log_size(paths: list[Path]) -> str:
    lines = size = 0
    for path in paths:
        if path.exists():
            data = path.read_bytes()
            lines, size = lines + data.count(b"\n"), size + len(data)
    return f"{lines} log lines ({size / 1024:.0f} KiB)"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _best(samples: list[Sample]) -> tuple[float, float]:
    return max(s.throughput for s in samples), min(s.p99 for s in samples)


def _cpu(samples: list[Sample]) -> float | None:
    """The median of the runs' CPU per request (None: not measured)."""
    spent = [s.cpu_ms for s in samples if s.cpu_ms is not None]
    return statistics.median(spent) if spent else None


def _cpu_columns(off: float | None, on: float | None) -> str:
    if off is None or on is None:
        return f"{'-':>7} {'-':>7} {'-':>6}"
    return f"{off:7.2f} {on:7.2f} {on / off:6.3f}"


def print_table(samples: list[Sample], rounds: int, file: TextIO = sys.stdout) -> bool:
    """The table of on against off, each side's best run; every run below it. True
    when every part (not the controls) is within the aim."""
    runs: dict[tuple[str, str], dict[str, list[Sample]]] = defaultdict(lambda: defaultdict(list))
    control: dict[tuple[str, str], bool] = {}
    for s in samples:
        runs[s.backend, s.part][s.mode].append(s)
        control[s.backend, s.part] = s.control
    print(
        f"\nlogs and metrics off vs on: {rounds} runs each, alternating (ABBA), "
        "best run of each side; aim: throughput on/off >= 0.95, p99 on/off <= 1.05;"
        " CPU ms per request of the serving processes, each side's median run",
        file=file,
    )
    header = (
        f"{'backend':9} {'part':38} {'req/s off':>9} {'req/s on':>9} {'ratio':>6}"
        f" {'p99 off':>8} {'p99 on':>8} {'ratio':>6}"
        f" {'cpu off':>7} {'cpu on':>7} {'ratio':>6}  verdict"
    )
    print(header, file=file)
    print("-" * len(header), file=file)
    ok = True
    for (backend, part), modes in runs.items():
        (t_off, p_off), (t_on, p_on) = _best(modes[OFF]), _best(modes[ON])
        t_ratio, p_ratio = t_on / t_off, p_on / p_off
        within = t_ratio >= 1 - AIM and p_ratio <= 1 + AIM
        if control[backend, part]:
            verdict = "control (noise)"
        else:
            verdict = "pass" if within else "FAIL"
            ok = ok and within
        print(
            f"{backend:9} {part[:38]:38} {t_off:9.1f} {t_on:9.1f} {t_ratio:6.3f}"
            f" {p_off:8.1f} {p_on:8.1f} {p_ratio:6.3f}"
            f" {_cpu_columns(_cpu(modes[OFF]), _cpu(modes[ON]))}  {verdict}",
            file=file,
        )
    print("(p99 and cpu in ms)", file=file)
    print("\nevery run, in run order (req/s, p99 ms, cpu ms per request):", file=file)
    for (backend, part), modes in runs.items():
        for mode in (OFF, ON):
            figures = ", ".join(
                f"{s.throughput:.1f}/{s.p99:.1f}" + (f"/{s.cpu_ms:.2f}" if s.cpu_ms else "")
                for s in modes[mode]
            )
            print(f"  {backend:9} {part[:38]:38} {mode:3}  {figures}", file=file)
    for (backend, part), modes in runs.items():
        (t_off, p_off), (t_on, p_on) = _best(modes[OFF]), _best(modes[ON])
        moved = max(abs(t_on / t_off - 1), abs(p_on / p_off - 1))
        if control[backend, part] and moved > AIM:
            print(
                f"\nnote: {backend}'s control moved {moved:.0%} between its off and on runs"
                f" (more than the {AIM:.0%} aim): the machine's noise, not the code's; run"
                " again on a quiet machine or with more --rounds before reading the verdicts",
                file=file,
            )
    print(f"\noverall: {'pass' if ok else 'FAIL'} (aim {AIM:.0%})", file=file)
    costs = [
        (cpu_on / cpu_off, backend, part)
        for (backend, part), modes in runs.items()
        if not control[backend, part]
        and (cpu_off := _cpu(modes[OFF])) is not None
        and (cpu_on := _cpu(modes[ON])) is not None
    ]
    if costs:
        ratio, backend, part = max(costs)
        print(
            f"CPU per request, on/off: at most {ratio:.3f} ({backend}, {part})"
            f" {'within' if ratio <= 1 + AIM else 'past'} the {AIM:.0%} aim",
            file=file,
        )
    return ok


@dataclass
class Pair:
    """One part of one round of a paired measurement (``benchmarks.paired``): each
    side's latencies, and its CPU per request."""

    backend: str
    part: str
    latencies: dict[str, list[float]]
    cpu_ms: dict[str, float]
    control: bool = False

    def ratio(self, figure: str) -> float:
        def of(mode: str) -> float:
            lat = self.latencies[mode]
            if figure == "mean":
                return statistics.fmean(lat)
            if figure == "p99":
                return sorted(lat)[min(len(lat) - 1, int(0.99 * len(lat)))]
            return self.cpu_ms[mode]

        return of(ON) / of(OFF)


def _cell(ratios: list[float]) -> str:
    """The median of sorted ``ratios`` and their range."""
    return f"{statistics.median(ratios):.3f} [{ratios[0]:.3f}-{ratios[-1]:.3f}]"


def print_paired_table(pairs: list[Pair], rounds: int, file: TextIO = sys.stdout) -> bool:
    """Median on/off ratios of the rounds, with their range; True when every part (not
    the controls) is within the aim."""
    grouped: dict[tuple[str, str], list[Pair]] = {}
    for pair in pairs:
        grouped.setdefault((pair.backend, pair.part), []).append(pair)
    print(
        f"\nlogs and metrics off vs on, side by side, requests taking turns: {rounds}"
        " rounds, median on/off ratio [min-max]; aim: mean latency and p99 on/off <= 1.05",
        file=file,
    )
    header = (
        f"{'backend':9} {'part':36} {'mean ms off':>11} {'on':>7} {'on/off':>19}"
        f" {'p99 on/off':>19} {'cpu ms off':>10} {'on':>6} {'on/off':>19}  verdict"
    )
    print(header, file=file)
    print("-" * len(header), file=file)
    ok = True
    for (backend, part), rounds_of in grouped.items():
        ratios = {f: sorted(p.ratio(f) for p in rounds_of) for f in ("mean", "p99", "cpu")}

        within = all(statistics.median(ratios[f]) <= 1 + AIM for f in ("mean", "p99"))
        if rounds_of[0].control:
            verdict = "control (noise)"
        else:
            verdict = "pass" if within else "FAIL"
            ok = ok and within
        mean = {
            m: statistics.median(statistics.fmean(p.latencies[m]) * 1000 for p in rounds_of)
            for m in SIDES
        }
        cpu = {m: statistics.median(p.cpu_ms[m] for p in rounds_of) for m in SIDES}
        print(
            f"{backend:9} {part[:36]:36} {mean[OFF]:11.1f} {mean[ON]:7.1f} {_cell(ratios['mean']):>19}"
            f" {_cell(ratios['p99']):>19} {cpu[OFF]:10.2f} {cpu[ON]:6.2f} {_cell(ratios['cpu']):>19}  {verdict}",
            file=file,
        )
    print(f"\noverall: {'pass' if ok else 'FAIL'} (aim {AIM:.0%})", file=file)
    return ok
