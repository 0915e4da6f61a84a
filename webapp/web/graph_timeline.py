"""A workflow run's timeline (Gantt): one bar per member from its queueing to its end, the
queued part told apart from the run, and the critical path (the chain of members, each
waiting on the parent that finished last, that ends with the last member to finish). No
Flask here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ROW_H, BAR_H, LABEL_W, CHART_W = 22, 14, 160, 720


@dataclass(frozen=True)
class Bar:
    task: object
    queued_x: float
    start_x: float | None
    end_x: float | None
    y: float
    critical: bool


def critical_path(graph) -> set[str]:
    """Task IDs on the critical path of a run (empty before any member finished)."""
    by_id = {m.task_id: m for m in graph.members}
    finished = [m for m in graph.members if m.finished_at is not None]
    if not finished:
        return set()
    current = max(finished, key=lambda m: m.finished_at)
    path = {current.task_id}
    while True:
        parents = [by_id[p] for p in graph.dependencies.get(current.task_id, ()) if p in by_id]
        parents = [p for p in parents if p.finished_at is not None and p.task_id not in path]
        if not parents:
            return path
        current = max(parents, key=lambda m: m.finished_at)
        path.add(current.task_id)


def timeline(graph, order: list[str], now: datetime) -> dict:
    """Bars in ``order`` with x positions in the chart's pixels, and the chart's size."""
    by_id = {m.task_id: m for m in graph.members}
    members = [by_id[t] for t in order if t in by_id]
    starts = [m.queued_at for m in members if m.queued_at is not None]
    if not starts:
        return {"bars": [], "width": LABEL_W + CHART_W, "height": ROW_H, "span": 0.0}
    origin = min(starts)
    ends = [m.finished_at or (now if m.started_at else m.queued_at) for m in members]
    end = max(e for e in ends if e is not None)
    span = max((end - origin).total_seconds(), 0.001)

    def x(when: datetime | None) -> float | None:
        if when is None:
            return None
        return LABEL_W + CHART_W * max(0.0, (when - origin).total_seconds()) / span

    critical = critical_path(graph)
    bars = []
    for row, m in enumerate(members):
        finish = m.finished_at or (now if m.started_at else None)
        bars.append(Bar(m, x(m.queued_at), x(m.started_at), x(finish),
                        row * ROW_H + ROW_H, m.task_id in critical))  # fmt: skip
    return {"bars": bars, "width": LABEL_W + CHART_W + 10,
            "height": (len(bars) + 1) * ROW_H + 10, "span": span}  # fmt: skip
