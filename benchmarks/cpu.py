"""CPU time that processes and their descendants have spent (user + system, read from
``/proc``): the cost of a benchmark's part per request. Unlike a wall-clock rate it
hardly moves when something else on the machine takes the CPU for a while (on a shared
2-core machine the control's throughput moved by up to 30% between runs), so it shows
a difference of a few percent that throughput alone cannot.

Linux only; the processes must still be running when read (a process that has ended is
counted in its parent only once reaped).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _read(stat: Path) -> tuple[int, int, float] | None:
    """(pid, parent pid, CPU seconds) of one ``/proc/<pid>/stat``."""
    try:
        text = stat.read_text()
    except OSError:  # it ended meanwhile
        return None
    # the command name, in parentheses, may hold spaces: the fields follow the last ")"
    pid, _, rest = text.partition(" (")
    fields = rest.rpartition(")")[2].split()
    # fields[0] is the state (field 3 of proc(5)): ppid is field 4, utime 14, stime 15
    return int(pid), int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def tree_seconds(roots: Iterable[int]) -> float:
    """CPU seconds spent so far by ``roots`` and every process below them."""
    children: dict[int, list[int]] = {}
    spent: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        read = _read(stat)
        if read is not None:
            pid, parent, seconds = read
            children.setdefault(parent, []).append(pid)
            spent[pid] = seconds
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += spent.get(pid, 0.0)
        todo += children.get(pid, [])
    return total
