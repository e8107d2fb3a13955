"""The README's examples, run as written and in order on a fresh ``tasks-service run``
(the embedded default), so that they cannot drift from what the service does.

Every fenced ``bash`` and ``python`` block runs, except one preceded by a
``<!-- not run by tests/test_readme.py: why -->`` line. A user's own steps are the only
changes: the ``export TOKEN=tsk_...`` line is the one ``run`` printed, and the port is a
free one instead of 8000. Shell blocks run under ``set -euo pipefail`` and share the
variables they set (``TOKEN``, ``H``), as one terminal would; ``curl --fail-with-body``
(in ``H``) makes a refused request fail its block.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import CLI, ROOT, free_port, http_ready, wait_for

README = ROOT / "README.md"
NOT_RUN = "<!-- not run by tests/test_readme.py"
TOKEN_PLACEHOLDER = re.compile(r"^export TOKEN=tsk_\.\.\..*$", re.M)


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    code: str
    run: bool


def blocks(text: str) -> list[Block]:
    found = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append(
            Block(
                line=text.count("\n", 0, match.start()) + 1,
                language=match.group(1),
                code=match.group(2),
                run=match.group(1) in ("bash", "python") and not before.startswith(NOT_RUN),
            )
        )
    return found


def test_the_readme_marks_what_it_does_not_run() -> None:
    found = blocks(README.read_text(encoding="utf-8"))
    skipped = [b for b in found if b.language in ("bash", "python") and not b.run]
    assert len(skipped) == 2  # the fresh-machine commands, and a run on servers
    assert sum(b.run and b.language == "bash" for b in found) >= 4
    assert sum(b.run and b.language == "python" for b in found) >= 3


class Service:
    """``tasks-service run`` in a data dir, on a free port, its output kept."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.base = f"http://127.0.0.1:{port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TASKS_")}
        self.env["TASKS_DATA_DIR"] = str(data_dir)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> str:
        """Start it; its stdout up to the moment it serves."""
        self.starts += 1
        out = self.data_dir.parent / f"run-{self.starts}.out"
        with out.open("wb") as stdout, (self.data_dir.parent / "run.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*CLI, "run", "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=stdout,
                stderr=log,
            )

        def serving() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.data_dir.parent / "run.log").read_text()
                raise AssertionError(f"run exited with {self.process.returncode}:\n{log}")
            return http_ready(self.base)

        wait_for(serving, timeout=90, interval=0.2, what="the service")
        return out.read_text()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            assert self.process.wait(60) == 0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path / "var", free_port())
    yield running
    running.stop()


def _run_block(block: Block, service: Service, token_line: str, state: Path) -> None:
    code = block.code.replace("127.0.0.1:8000", f"127.0.0.1:{service.port}")
    if block.language == "bash":
        code = TOKEN_PLACEHOLDER.sub(token_line, code)
        script = f"set -euo pipefail\n[ -f {state} ] && source {state}\n{code}\n"
        script += f"declare -p TOKEN H > {state} 2>/dev/null || true\n"
        argv = ["bash", "-c", script]
    else:
        argv = [sys.executable, "-c", code]
    result = subprocess.run(
        argv,
        env=service.env,
        cwd=service.data_dir.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"README.md line {block.line} ({block.language}) failed:\n{code}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


def test_the_readme_examples_run_in_order_on_a_fresh_run(service: Service) -> None:
    first = service.start()
    token_lines = [line for line in first.splitlines() if line.startswith("export TOKEN=tsk_")]
    assert len(token_lines) == 1, first
    state = service.data_dir.parent / "shell-state"
    for block in blocks(README.read_text(encoding="utf-8")):
        if block.run:
            _run_block(block, service, token_lines[0], state)

    # a restart on the same data dir shows no token, and says how to make one
    service.stop()
    again = service.start()
    assert "tsk_" not in again
    assert "tasks-service token create demo --email admin@demo.example" in again
    token = subprocess.run(
        [*CLI, "token", "create", "demo", "--email", "admin@demo.example"],
        env=service.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert token.startswith("tsk_")
