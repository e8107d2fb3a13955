"""The operator page's two small charts as geometry for inline SVG (no script, no
library): queue depths as horizontal bars, timer lag as one bar per fired timer."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tasks_service.ops.overview import QueueDepth, TimerLag

WIDTH = 420
#: A timer that fired this much after its moment is drawn as late (the sweep runs each
#: second: a few seconds is a backlog, not the sweep's rhythm).
LATE_SECONDS = 5.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str
    late: bool = False


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...] = ()
    baseline: float = 0.0
    plot_left: float = 0.0


def queue_chart(queues: tuple[QueueDepth, ...]) -> Chart:
    """One row per queue: its name, a bar as long as its depth (against the deepest)."""
    label_width, value_width, row = 110.0, 60.0, 24.0
    room = WIDTH - label_width - value_width
    deepest = max((q.depth for q in queues), default=0) or 1
    bars = tuple(
        Bar(
            x=label_width,
            y=index * row + 5,
            # an empty queue keeps a sliver, so that the row reads as a bar of 0
            width=max(2.0, room * q.depth / deepest),
            height=14.0,
            label=q.name,
            title=f"{q.name}: {q.depth} message{'s' if q.depth != 1 else ''} waiting",
        )
        for index, q in enumerate(queues)
    )
    return Chart(width=WIDTH, height=int(len(queues) * row + 6), bars=bars, plot_left=label_width)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(float(step * power) for step in (1, 2, 5, 10) if step * power >= value)


def seconds_label(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    if seconds >= 10 or seconds == int(seconds):
        return f"{seconds:.0f} s"
    return f"{seconds:.1f} s"


def lag_chart(lags: tuple[TimerLag, ...]) -> Chart:
    """One bar per fired timer, oldest on the left, as tall as its lag."""
    height, left, top, bottom = 140, 48.0, 10.0, 20.0
    plot_height = height - top - bottom
    top_value = nice_ceiling(max((lag.lag_seconds for lag in lags), default=0.0))
    slot = min(24.0, (WIDTH - left - 4) / max(1, len(lags)))
    baseline = top + plot_height
    bars = []
    for index, lag in enumerate(lags):
        tall = plot_height * lag.lag_seconds / top_value
        bars.append(
            Bar(
                x=left + index * slot + slot * 0.15,
                y=baseline - max(1.0, tall),
                width=max(1.0, slot * 0.7),
                height=max(1.0, tall),
                label=str(lag.timer_id),
                title=(
                    f"timer {lag.timer_id} ({lag.kind}, task {lag.task_id}) fired "
                    f"{lag.lag_seconds:.2f} s after its moment"
                ),
                late=lag.lag_seconds > LATE_SECONDS,
            )
        )
    ticks = tuple(
        Tick(y=baseline - plot_height * share, label=seconds_label(top_value * share))
        for share in (0.0, 0.5, 1.0)
    )
    return Chart(
        width=WIDTH, height=height, bars=tuple(bars), ticks=ticks, baseline=baseline, plot_left=left
    )
