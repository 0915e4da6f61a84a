"""How a workflow is shown: members in dependency order with what each runs after and, for a
blocked member, which of its parents blocked it; counts of member statuses. No Flask here.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from webapp.web.display import STATUSES

#: A parent in one of these states blocks the members that run after it.
BLOCKING_STATUSES = frozenset({"failed", "cancelled", "blocked", "lost"})


@dataclass(frozen=True)
class Member:
    """One member task of a graph as its page shows it."""

    task: object
    """The member's TaskMeta."""
    after: list
    """TaskMetas of the members it runs after (definition order)."""
    blocked_by: list
    """While blocked: the parents that are failed, cancelled, blocked or lost."""
    is_finally: bool
    is_optional: bool


def dependency_order(graph) -> list[str]:
    """Member task IDs so that each comes after what it runs after; ties keep the
    definition order. Members whose parents are gone (deleted) count as ready."""
    position = {task.task_id: index for index, task in enumerate(graph.members)}
    waiting = {
        task_id: {d for d in graph.dependencies.get(task_id, ()) if d in position}
        for task_id in position
    }
    children: dict[str, list[str]] = {task_id: [] for task_id in position}
    for task_id, parents in waiting.items():
        for parent in parents:
            children[parent].append(task_id)
    ready = [(position[t], t) for t, parents in waiting.items() if not parents]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, task_id = heapq.heappop(ready)
        order.append(task_id)
        for child in children[task_id]:
            waiting[child].discard(task_id)
            if not waiting[child]:
                heapq.heappush(ready, (position[child], child))
    leftover = [t for t in position if t not in set(order)]  # only if stored data had a cycle
    return order + leftover


def members(graph) -> list[Member]:
    """The graph's members in dependency order, each with its parents and blockers."""
    by_id = {task.task_id: task for task in graph.members}
    finally_tasks, optional = set(graph.finally_tasks), set(graph.optional_tasks)
    out = []
    for task_id in dependency_order(graph):
        task = by_id[task_id]
        after = [by_id[d] for d in graph.dependencies.get(task_id, ()) if d in by_id]
        blocked_by = []
        if task.status == "blocked":
            blocked_by = [parent for parent in after if parent.status in BLOCKING_STATUSES]
        out.append(Member(task, after, blocked_by, task_id in finally_tasks, task_id in optional))
    return out


def status_counts(tasks) -> dict[str, int]:
    """How many of ``tasks`` are in each status, in the dashboard's status order."""
    counts = dict.fromkeys(STATUSES, 0)
    for task in tasks:
        counts[task.status] = counts.get(task.status, 0) + 1
    return {status: n for status, n in counts.items() if n}
