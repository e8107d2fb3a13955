"""Workflows that run themselves, through the REST API, against baselines measured in
the same run.

    python -m benchmarks.workflows [--backends sqlite,postgres] [--repeat 3]
                                   [--parts completion,instantiate]

For each backend it starts real processes (``tasks-service web`` and ``tasks-service
worker -c 2``) on a fresh database, makes task templates and workflow templates
in-process, then times over HTTP:

- completing the last predecessor of a workflow made from a template: a chain of 10
  and of 1,000 tasks (the last but one completes, the last is assigned), a fan of 10
  and of 1,000 tasks into one (the last of the predecessors completes, the one they
  fan into is assigned). The other tasks are completed beforehand in-process. The
  time covers the whole operation: the cascade and the anticipated-assignment pass.
  Against it: the same workflow's whole plan recomputed from scratch in-process
  (``schedule.anticipation.anticipate`` with nothing known unchanged).
- instantiating a 200-task template (chain and fan) with ``POST /v1/workflows``,
  against creating one task with ``POST /v1/tasks``.

Aims (issue 15): a completion in a 1,000-task workflow costs at most 3x one in a
10-task workflow; instantiating a 200-task template at most 20x creating one task.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlmodel import col, select

from benchmarks.common import ROOT, free_port, process_env, stack, stop, wait_http
from tasks_service.commands import task_commands, templates
from tasks_service.core.clock import utcnow
from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_account
from tasks_service.notify.outbox import Outbox
from tasks_service.schedule.anticipation import anticipate
from tasks_service.store import migrate
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task
from tasks_service.store.schemas.tasks import TaskUpdate
from tasks_service.store.schemas.templates import TaskTemplateCreate, WorkflowTemplateCreate


@dataclass
class Row:
    backend: str
    what: str
    ms: float
    baseline: str
    baseline_ms: float
    aim: str

    @property
    def ratio(self) -> float:
        return self.ms / self.baseline_ms


@dataclass
class Bench:
    settings: Settings
    api: str
    auth: dict[str, str]
    account_id: int
    admin_id: int

    def post(self, path: str, body: dict) -> dict:
        response = requests.post(f"{self.api}{path}", json=body, headers=self.auth, timeout=600)
        return self._outcome(response)

    def patch(self, path: str, body: dict) -> dict:
        response = requests.patch(f"{self.api}{path}", json=body, headers=self.auth, timeout=600)
        return self._outcome(response)

    def _outcome(self, response: requests.Response) -> dict:
        """The result, waited for past a 202 (the operation followed to its end)."""
        if response.status_code == 202:
            location = response.headers["Location"]
            while True:
                op = requests.get(f"{self.api}{location}", headers=self.auth, timeout=60).json()
                if op["status"] != "pending":
                    assert op["status"] == "succeeded", op
                    return dict(op["result"])
                time.sleep(0.005)
        assert response.status_code in (200, 201), response.text[:500]
        return dict(response.json())

    def template(self, shape: str, size: int) -> int:
        """A workflow template of ``size`` tasks: a chain, or a fan of size-1 into one."""
        with session_scope(self.settings) as session:
            ids = []
            for i in range(size):
                data = TaskTemplateCreate(
                    subject=f"{shape} {size} #{i}",
                    category="implementation",
                    member_id=self.admin_id,
                    planned_duration=30,
                )
                made = templates.do_create_task_template(session, self.account_id, data)
                ids.append(made.id or 0)
            relations = []
            for i, template_id in enumerate(ids):
                if shape == "chain":
                    before = [ids[i - 1]] if i else []
                else:
                    before = ids[:-1] if i == size - 1 else []
                relations.append(
                    {"task_template_id": template_id, "predecessor_task_template_ids": before}
                )
            data = WorkflowTemplateCreate.model_validate(
                {"subject": f"{shape} of {size}", "task_template_relations": relations}
            )
            plan = templates.do_create_workflow_template(session, self.account_id, data)
            return plan.id or 0

    def complete_in_process(self, task_ids: list[int]) -> None:
        for task_id in task_ids:
            with session_scope(self.settings) as session:
                task_commands.do_update_task(
                    session,
                    Outbox(self.settings),
                    self.account_id,
                    self.admin_id,
                    task_id,
                    TaskUpdate(status="completed"),
                )

    def task_ids(self, workflow_id: int) -> list[int]:
        with session_scope(self.settings, write=False) as session:
            query = select(Task.id).where(Task.workflow_id == workflow_id).order_by(col(Task.id))
            return [task_id or 0 for task_id in session.exec(query)]

    def from_scratch(self, workflow_id: int) -> float:
        """The whole plan's forward pass recomputed in-process, nothing reused (s)."""
        with session_scope(self.settings) as session:
            started = time.perf_counter()
            anticipate(session, workflow_id, utcnow(), changed=None)
            return time.perf_counter() - started


def _last_completion(bench: Bench, template_id: int, shape: str) -> tuple[float, float]:
    """(the API completion of the last predecessor, the from-scratch recompute) in s."""
    workflow = bench.post("/v1/workflows", {"template_id": template_id})
    ids = bench.task_ids(workflow["id"])  # made in the plan's order: the joined one last
    last, rest = ids[-2], ids[:-2]
    bench.complete_in_process(rest)
    started = time.perf_counter()
    bench.patch(f"/v1/tasks/{last}", {"status": "completed"})
    completed = time.perf_counter() - started
    joined = requests.get(f"{bench.api}/v1/tasks/{ids[-1]}", headers=bench.auth, timeout=60)
    assert joined.json()["status"] == "assigned", (shape, joined.json()["status"])
    return completed, bench.from_scratch(workflow["id"])


def _median(values: list[float]) -> float:
    return statistics.median(values) * 1000


def _completions(bench: Bench, backend: str, shape: str, repeat: int) -> list[Row]:
    """The last predecessor's completion in plans of 10 and of 1,000 tasks, and the
    1,000-task plan recomputed from scratch."""
    small, large = bench.template(shape, 10), bench.template(shape, 1000)
    times = {
        size: [_last_completion(bench, t, shape) for _ in range(repeat)]
        for size, t in ((10, small), (1000, large))
    }
    small_ms = _median([c for c, _ in times[10]])
    large_ms = _median([c for c, _ in times[1000]])
    scratch_ms = _median([s for _, s in times[1000]])
    last = f"complete last predecessor, {shape} of 1,000"
    return [
        Row(backend, last, large_ms, f"same, {shape} of 10", small_ms, "<= 3x"),
        Row(
            backend,
            f"  recompute {shape} of 1,000 from scratch (in-process)",
            scratch_ms,
            last,
            large_ms,
            "",
        ),
    ]


def _instantiation(bench: Bench, backend: str, shape: str, repeat: int, create_ms: float) -> Row:
    """``POST /v1/workflows`` of a 200-task template, against one ``POST /v1/tasks``."""
    plan = bench.template(shape, 200)
    bench.post("/v1/workflows", {"template_id": plan})  # warm
    made = []
    for _ in range(repeat):
        started = time.perf_counter()
        bench.post("/v1/workflows", {"template_id": plan})
        made.append(time.perf_counter() - started)
    what = f"instantiate a 200-task template ({shape})"
    return Row(backend, what, _median(made), "create one task", create_ms, "<= 20x")


def run_backend(backend: str, repeat: int, parts: set[str]) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-workflows-{backend}-"))
    settings, cleanup = stack(backend, workdir)
    migrate.upgrade(settings)
    with session_scope(settings) as session:
        account, admin, token = do_create_account(
            session, "bench", "Bench", "Bench", "bench@bench.example"
        )
        account_id, admin_id = account.id or 0, admin.id or 0
    env = {**process_env(settings), "TASKS_COMMAND_WAIT": "60"}
    port = free_port()
    cli = [sys.executable, "-m", "tasks_service.cli"]
    logs = open(workdir / "processes.log", "w")  # noqa: SIM115  (closed after the processes)
    quiet = {"env": env, "cwd": ROOT, "stdout": logs, "stderr": subprocess.STDOUT}
    processes = [
        subprocess.Popen([*cli, "worker", "--concurrency", "2"], **quiet),
        subprocess.Popen([*cli, "web", "--port", str(port)], **quiet),
    ]
    rows: list[Row] = []
    try:
        api = f"http://127.0.0.1:{port}"
        wait_http(f"{api}/healthz")
        auth = {"Authorization": f"Bearer {token}", "X-Xurrent-Account": "bench"}
        bench = Bench(settings, api, auth, account_id, admin_id)
        one = {"subject": "One task", "category": "implementation", "member_id": admin_id}
        one["planned_duration"] = 30
        for _ in range(20):  # warm every process (imports, pools, prepared statements)
            bench.post("/v1/tasks", one)
        creates = []
        for _ in range(30):
            started = time.perf_counter()
            bench.post("/v1/tasks", one)
            creates.append(time.perf_counter() - started)
        create_ms = _median(creates)
        for shape in ("chain", "fan"):
            if "completion" in parts:
                rows += _completions(bench, backend, shape, repeat)
            if "instantiate" in parts:
                rows.append(_instantiation(bench, backend, shape, repeat, create_ms))
    finally:
        stop(processes)
        logs.close()
        cleanup()
    return rows


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'backend':9} {'measured':55} {'ms':>9} {'baseline':44} {'ms':>8} {'ratio':>7} {'aim':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.backend:9} {r.what:55} {r.ms:9.1f} {r.baseline:44} {r.baseline_ms:8.1f}"
            f" {r.ratio:7.2f} {r.aim:>6}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parts", default="completion,instantiate")
    args = parser.parse_args()
    rows: list[Row] = []
    for backend in args.backends.split(","):
        rows += run_backend(backend, args.repeat, set(args.parts.split(",")))
    print_table(rows)


if __name__ == "__main__":
    main()
