"""What logs and metrics add to one write, timed in-process: the lines and counts a
create writes with them on, against the same calls with them off.

    python -m benchmarks.logcost [--writes 20000] [--rounds 5] [--write-cpu-ms MS]

A create through the API, with ``TASKS_LOG_LEVEL=INFO`` and ``TASKS_METRICS=true``,
writes three lines (the web's ``operation.accepted`` and ``request``, the worker's
``operation.applied``), counts one request and one operation and observes their two
latencies (``core.metrics``, in prometheus-client's multiprocess mode as the roles run
it). This times exactly those calls, through ``core.logs``' configuration, with the
lines appended to a file as a supervisor keeps them. The baseline is the same loop
with logs at WARNING (each call returns at the level check) and no counting: the
cost that ``--observability compare`` of ``benchmarks.commands`` measures through the
whole stack, without the machine's noise. ``--write-cpu-ms``: the CPU a create costs
the web and the workers with logs and metrics off (the ``cpu off`` column of that
benchmark's "(a)" row); the share of it that logs and metrics add is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def _time_writes(writes: int, on: bool, sink: Path) -> float:
    """Microseconds per write of the calls a create makes (``on``), or of the same
    calls filtered out."""
    import structlog

    from tasks_service.core import metrics
    from tasks_service.core.logs import configure_logging
    from tasks_service.core.settings import Settings

    settings = Settings(log_format="json", log_level="INFO" if on else "WARNING")
    with sink.open("a") as out:
        sys.stderr = out  # core.logs writes to sys.stderr as it is at each write
        try:
            configure_logging(settings)
            log = structlog.get_logger("benchmarks.logcost")
            structlog.contextvars.bind_contextvars(request_id="7f3a9c0d" * 4)
            started = time.perf_counter()
            for n in range(writes):
                log.info("operation.accepted", operation_id=n, kind="task.create", account=1)
                log.info(
                    "request",
                    method="POST",
                    path="/v1/tasks",
                    route="/v1/tasks",
                    status=201,
                    duration_ms=38.2,
                    account=1,
                )
                log.info(
                    "operation.applied",
                    operation_id=n,
                    kind="task.create",
                    account=1,
                    latency_ms=30.1,
                    task_id=n,
                )
                if on:
                    metrics.HTTP_REQUESTS.labels("/v1/tasks", "POST", "201").inc()
                    metrics.HTTP_LATENCY.labels("/v1/tasks", "POST").observe(0.038)
                    metrics.OPERATIONS.labels("task.create", "succeeded").inc()
                    metrics.OPERATION_LATENCY.labels("task.create").observe(0.030)
            return (time.perf_counter() - started) / writes * 1e6
        finally:
            sys.stderr = sys.__stderr__
            structlog.contextvars.clear_contextvars()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="alternating off/on, best of each")
    parser.add_argument(
        "--write-cpu-ms",
        type=float,
        help="CPU ms per create with logs and metrics off, as benchmarks.commands measured it",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-logcost-"))
    # multiprocess mode, as the roles run: set before prometheus-client is imported
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "metrics")
    (workdir / "metrics").mkdir()
    sink = workdir / "role.log"
    off, on = [], []
    for _ in range(args.rounds):
        off.append(_time_writes(args.writes, False, sink))
        on.append(_time_writes(args.writes, True, sink))
    lines = sink.read_text().count("\n")
    best_off, best_on = min(off), min(on)
    print(f"\n{args.writes} writes a run, {args.rounds} runs each (best), {lines} lines written")
    header = f"{'what a create does':44} {'us/write':>9}"
    print(header)
    print("-" * len(header))
    print(f"{'baseline: logs at WARNING, no metrics':44} {best_off:9.1f}")
    print(f"{'logs (3 JSON lines) and metrics (4 values)':44} {best_on:9.1f}")
    print(f"{'added by logs and metrics':44} {best_on - best_off:9.1f}")
    if args.write_cpu_ms:
        share = (best_on - best_off) / (args.write_cpu_ms * 1000)
        print(
            f"\nof a create's {args.write_cpu_ms:.2f} ms of CPU (logs and metrics off):"
            f" {share:.2%} added, on/off {1 + share:.3f}"
        )
    print(f"\nevery run (us/write): off {', '.join(f'{t:.1f}' for t in off)}")
    print(f"                      on  {', '.join(f'{t:.1f}' for t in on)}")


if __name__ == "__main__":
    main()
